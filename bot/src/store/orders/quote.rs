//! What a confirmation shows, pinned: the lines with their quantities and unit prices, each
//! coupon with its discount, and the total to pay.
//!
//! The dialogue keeps the [`Quote`] of the confirmation on screen, and Confirm places an order
//! only if the quote made again inside the order's transaction is equal to it: the shopper
//! gets exactly what they confirmed, or nothing and a new confirmation that says what changed
//! ([`changes`]). Pure apart from [`quote`], which reads.

use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};

use crate::store::StoreError;
use crate::store::orders::cart::{self, CartLine, LineStatus, line_title};
use crate::store::orders::coupons::{self, AppliedCoupon, Refusal, Shopper};

/// One line as the confirmation showed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotedLine {
    pub variant_id: i64,
    pub title: String,
    pub quantity: i32,
    /// Minor units of the store's currency.
    pub unit_price: i64,
}

/// One accepted coupon as the confirmation showed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotedCoupon {
    pub code: String,
    /// What it takes off the order, in minor units.
    pub discount: i64,
}

/// Everything a confirmation promised: the order placed from it must equal it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    pub lines: Vec<QuotedLine>,
    pub coupons: Vec<QuotedCoupon>,
    /// What the shopper pays: the lines less the discounts, never below zero; equal to the
    /// placed order's `total`.
    pub total: i64,
}

impl Quote {
    /// The quote of the cart's available lines with the accepted coupons.
    pub fn of(lines: &[CartLine], applied: &[AppliedCoupon]) -> Quote {
        let available = lines
            .iter()
            .filter(|line| line.status == LineStatus::Available);
        let gross = available
            .clone()
            .map(CartLine::total)
            .fold(0_i64, i64::saturating_add);
        Quote {
            lines: available
                .map(|line| QuotedLine {
                    variant_id: line.variant.id,
                    title: line_title(line),
                    quantity: line.quantity,
                    unit_price: line.variant.price,
                })
                .collect(),
            coupons: applied
                .iter()
                .map(|coupon| QuotedCoupon {
                    code: coupon.coupon.code.clone(),
                    discount: discount_of(coupon),
                })
                .collect(),
            total: Ord::max(gross.saturating_sub(discount_total(applied)), 0),
        }
    }
}

/// What one accepted coupon takes off: the sum of its lines' discounts, as they are recorded.
fn discount_of(coupon: &AppliedCoupon) -> i64 {
    coupon
        .lines
        .iter()
        .fold(0_i64, |sum, (_, amount)| sum.saturating_add(*amount))
}

/// What all the accepted coupons take off together.
pub fn discount_total(applied: &[AppliedCoupon]) -> i64 {
    applied
        .iter()
        .map(discount_of)
        .fold(0_i64, i64::saturating_add)
}

/// A confirmation's content as it stands now.
#[derive(Debug, Clone)]
pub struct Quoted {
    pub quote: Quote,
    /// Every cart line with its status (the unavailable ones are "left out").
    pub lines: Vec<CartLine>,
    pub applied: Vec<AppliedCoupon>,
    /// The codes refused, with their reasons, in the order entered.
    pub refused: Vec<(String, Refusal)>,
}

/// The shopper's cart and `codes` quoted now: every line, and each code accepted with its
/// discount or refused. Reads only.
pub async fn quote(
    db: &impl ConnectionTrait,
    shopper: &Shopper<'_>,
    codes: &[String],
) -> Result<Quoted, StoreError> {
    let lines = cart::lines(db, shopper.customer_id, shopper.segments_in_force).await?;
    let mut applied = Vec::new();
    let mut refused = Vec::new();
    for (code, verdict) in coupons::check_codes(db, shopper, codes, &lines).await? {
        match verdict {
            Ok(coupon) => applied.push(coupon),
            Err(reason) => refused.push((code, reason)),
        }
    }
    Ok(Quoted {
        quote: Quote::of(&lines, &applied),
        lines,
        applied,
        refused,
    })
}

/// One difference between what was confirmed and what would be placed now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A confirmed line that can't be ordered now: `left` items are in stock (fewer than
    /// confirmed; 0 is sold out), or `None` when the shopper may no longer see it.
    Unavailable { title: String, left: Option<i32> },
    /// A confirmed line that is no longer in the cart.
    Removed { title: String },
    /// The unit price changed.
    Price { title: String, unit_price: i64 },
    /// The quantity in the cart changed.
    Quantity { title: String, quantity: i32 },
    /// A line that was not in the confirmation would now be ordered too.
    Added { title: String },
    /// A coupon's discount changed.
    Coupon { code: String, discount: i64 },
    /// Nothing above, yet the total differs.
    Total { total: i64 },
}

/// What differs between the `confirmed` quote and the `current` one, line by line; `lines`
/// are the cart's lines now, which say why a confirmed line dropped out. Empty when equal.
pub fn changes(confirmed: &Quote, current: &Quote, lines: &[CartLine]) -> Vec<Change> {
    let mut found = Vec::new();
    for shown in &confirmed.lines {
        match current
            .lines
            .iter()
            .find(|line| line.variant_id == shown.variant_id)
        {
            Some(now) => {
                if now.unit_price != shown.unit_price {
                    found.push(Change::Price {
                        title: now.title.clone(),
                        unit_price: now.unit_price,
                    });
                }
                if now.quantity != shown.quantity {
                    found.push(Change::Quantity {
                        title: now.title.clone(),
                        quantity: now.quantity,
                    });
                }
            }
            None => found.push(
                match lines
                    .iter()
                    .find(|line| line.variant.id == shown.variant_id)
                {
                    Some(line) if line.status == LineStatus::OutOfStock => Change::Unavailable {
                        title: line_title(line),
                        left: Some(line.variant.stock.max(0)),
                    },
                    Some(line) => Change::Unavailable {
                        title: line_title(line),
                        left: None,
                    },
                    None => Change::Removed {
                        title: shown.title.clone(),
                    },
                },
            ),
        }
    }
    for now in &current.lines {
        if !confirmed
            .lines
            .iter()
            .any(|shown| shown.variant_id == now.variant_id)
        {
            found.push(Change::Added {
                title: now.title.clone(),
            });
        }
    }
    for shown in &confirmed.coupons {
        if let Some(now) = current.coupons.iter().find(|now| now.code == shown.code)
            && now.discount != shown.discount
        {
            found.push(Change::Coupon {
                code: now.code.clone(),
                discount: now.discount,
            });
        }
    }
    if found.is_empty() && current != confirmed {
        found.push(Change::Total {
            total: current.total,
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(variant_id: i64, title: &str, quantity: i32, unit_price: i64) -> QuotedLine {
        QuotedLine {
            variant_id,
            title: title.to_owned(),
            quantity,
            unit_price,
        }
    }

    fn quote(lines: Vec<QuotedLine>, total: i64) -> Quote {
        Quote {
            lines,
            coupons: Vec::new(),
            total,
        }
    }

    #[test]
    fn equal_quotes_have_no_changes() {
        let shown = quote(vec![line(1, "Mug", 1, 600)], 600);
        assert!(changes(&shown, &shown.clone(), &[]).is_empty());
    }

    #[test]
    fn a_raised_price_and_a_new_quantity_are_named_with_the_line() {
        let shown = quote(vec![line(1, "Mug", 1, 600), line(2, "Tea", 2, 450)], 1500);
        let now = quote(vec![line(1, "Mug", 1, 750), line(2, "Tea", 3, 450)], 2100);
        assert_eq!(
            changes(&shown, &now, &[]),
            vec![
                Change::Price {
                    title: "Mug".into(),
                    unit_price: 750
                },
                Change::Quantity {
                    title: "Tea".into(),
                    quantity: 3
                },
            ]
        );
    }

    #[test]
    fn a_line_gone_from_the_cart_and_a_line_added_are_both_named() {
        let shown = quote(vec![line(1, "Mug", 1, 600)], 600);
        let now = quote(vec![line(2, "Tea", 1, 450)], 450);
        assert_eq!(
            changes(&shown, &now, &[]),
            vec![
                Change::Removed {
                    title: "Mug".into()
                },
                Change::Added {
                    title: "Tea".into()
                },
            ]
        );
    }

    #[test]
    fn a_changed_coupon_discount_is_named_and_a_bare_total_change_is_caught() {
        let mut shown = quote(vec![line(1, "Mug", 1, 600)], 500);
        shown.coupons.push(QuotedCoupon {
            code: "TEN".into(),
            discount: 100,
        });
        let mut now = shown.clone();
        now.coupons[0].discount = 60;
        now.total = 540;
        assert_eq!(
            changes(&shown, &now, &[]),
            vec![Change::Coupon {
                code: "TEN".into(),
                discount: 60
            }]
        );
        let mut only_total = shown.clone();
        only_total.total = 499;
        assert_eq!(
            changes(&shown, &only_total, &[]),
            vec![Change::Total { total: 499 }]
        );
    }
}
