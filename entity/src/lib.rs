//! sea-orm entities, one module per table of `storebot-migration`. No business logic lives
//! here: the `storebot` crate's `store` module is their only user.

pub mod answer_option;
pub mod broadcast;
pub mod cart_item;
pub mod catalog_segment;
pub mod catalog_segment_grant;
pub mod category;
pub mod coupon;
pub mod coupon_redemption;
pub mod coupon_segment;
pub mod coupon_user_group;
pub mod customer;
pub mod customer_answer;
pub mod customer_group;
pub mod dialogue_state;
pub mod image_file;
pub mod invoice;
pub mod membership_event;
pub mod order;
pub mod order_item;
pub mod order_item_discount;
pub mod outbox_message;
pub mod payment;
pub mod processed_update;
pub mod product;
pub mod product_segment;
pub mod question;
pub mod recompute_run;
pub mod segment;
pub mod segment_member;
pub mod segment_override;
pub mod variant;
pub mod variant_segment;
