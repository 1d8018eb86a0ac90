//! Coupons: the merchant's side (create with its ties, list, show usage, disable) and the
//! checkout's side (check codes against a shopper's cart, claim a use inside the order's
//! transaction, record what each coupon took off which line).
//!
//! Decisions the issue left open, as this module implements them:
//! - A coupon must be tied to at least one segment or user group: an untied coupon could be
//!   used by nobody (or, worse, by everybody), so `create` refuses it.
//! - A shopper may use a coupon when they are a member of a tied segment that is in force, or
//!   have a tied user group (hand-set or inherited from a segment in force).
//! - Through a segment, a coupon covers the variants that segment gives access to
//!   ([`variants_granted_by`]); a segment that restricts nothing (grants no product or
//!   variant) covers everything. Through a user group it covers everything: a group is a
//!   label on shoppers, not a grant of products.
//! - A line is discounted by at most one coupon: the first code entered that covers it. A
//!   later code that would discount nothing new is refused ("already discounted"), so that the
//!   shopper never believes two coupons stack on one item.
//! - A disabled coupon reads to the shopper like an expired one.
//! - Usage counts only placed orders: `coupon.used_count` rises in the order's transaction, with
//!   a conditional update that only succeeds below the limit, and the per-shopper count is
//!   read after that update, while the coupon row is locked. Two shoppers racing for the last
//!   use can't both get it, on SQLite (one writer at a time) and on PostgreSQL (row lock).
//!
//! `merchant` holds the merchant's side, `checkout` the checkout's; both are re-exported here.

mod checkout;
mod merchant;

pub use checkout::{
    AppliedCoupon, Coverage, Refusal, Shopper, Verdicts, check_codes, claim, of_orders, record,
    variants_granted_by,
};
pub use merchant::{
    CouponUsage, CouponView, NewCoupon, SegmentRef, ShopperUsage, create, disable, find, list,
    replace, usage,
};

#[cfg(test)]
mod tests;
