//! Orders: the cart, placing an order, coupons, and the merchant's order list.
//!
//! An order is created only by `place::place`, in one transaction with its idempotency key,
//! its stock decrements and its coupon claims. Never changes a segment directly: the placed
//! order only becomes a fact that the next evaluation reads.

pub mod cart;
pub mod coupons;
pub mod management;
pub mod payments;
pub mod place;
pub mod quote;
pub mod status;
mod stock;
