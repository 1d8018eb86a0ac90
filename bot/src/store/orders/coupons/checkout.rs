//! The checkout's side of coupons: each code checked against a shopper's cart (membership,
//! window, limits, coverage), a use claimed inside the order's transaction, and what each
//! coupon took off which line recorded.

use crate::store::bulk::in_chunks;
use crate::store::membership::user_groups;
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Condition, Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, JoinType, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, RelationDef,
};
use serde::Serialize;
use storebot_entity::{
    catalog_segment_grant, coupon, coupon_redemption, coupon_segment, coupon_user_group,
    order_item_discount, product, product_segment, variant, variant_segment,
};

use super::merchant::find_model;
use crate::coupons::{CouponCode, Discount};
use crate::store::orders::cart::{CartLine, LineStatus};
use crate::store::{StoreError, catalog::product_segments};

/// Which variants a coupon may discount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Coverage {
    /// Every item in the cart.
    Everything,
    /// Only these variants.
    Variants(BTreeSet<i64>),
}

impl Coverage {
    fn covers(&self, variant_id: i64) -> bool {
        match self {
            Self::Everything => true,
            Self::Variants(variants) => variants.contains(&variant_id),
        }
    }

    fn join(self, other: Self) -> Self {
        match (self, other) {
            (Self::Variants(mut a), Self::Variants(b)) => {
                a.extend(b);
                Self::Variants(a)
            }
            _ => Self::Everything,
        }
    }
}

fn variant_to_product() -> RelationDef {
    variant::Entity::belongs_to(product::Entity)
        .from(variant::Column::ProductId)
        .to(product::Column::Id)
        .into()
}

/// The variants a segment gives access to: those of products granted to it whole (products
/// with `by_variant` off) and the variants granted to it one by one (products with
/// `by_variant` on). A segment that grants nothing restricts nothing, so it covers
/// [`Coverage::Everything`].
///
/// Product segments granted to it count too: the variants their rules match now.
///
/// This is the one place that answers "what does this segment give access to" for coupons.
pub async fn variants_granted_by(
    db: &impl ConnectionTrait,
    segment_id: i64,
) -> Result<Coverage, StoreError> {
    let granted_products = product_segment::Entity::find()
        .filter(product_segment::Column::SegmentId.eq(segment_id))
        .count(db)
        .await?;
    let granted_variants = variant_segment::Entity::find()
        .filter(variant_segment::Column::SegmentId.eq(segment_id))
        .count(db)
        .await?;
    let granted_product_segments = catalog_segment_grant::Entity::find()
        .filter(catalog_segment_grant::Column::SegmentId.eq(segment_id))
        .count(db)
        .await?;
    if granted_products == 0 && granted_variants == 0 && granted_product_segments == 0 {
        return Ok(Coverage::Everything);
    }
    let whole_products = product::Column::Id.in_subquery(
        sea_orm::sea_query::Query::select()
            .column(product_segment::Column::ProductId)
            .from(product_segment::Entity)
            .and_where(product_segment::Column::SegmentId.eq(segment_id))
            .to_owned(),
    );
    let single_variants = variant::Column::Id.in_subquery(
        sea_orm::sea_query::Query::select()
            .column(variant_segment::Column::VariantId)
            .from(variant_segment::Entity)
            .and_where(variant_segment::Column::SegmentId.eq(segment_id))
            .to_owned(),
    );
    let variants: BTreeSet<i64> = variant::Entity::find()
        .select_only()
        .column(variant::Column::Id)
        .join(JoinType::InnerJoin, variant_to_product())
        .filter(
            Condition::any()
                .add(
                    Condition::all()
                        .add(product::Column::ByVariant.eq(false))
                        .add(whole_products),
                )
                .add(
                    Condition::all()
                        .add(product::Column::ByVariant.eq(true))
                        .add(single_variants),
                )
                .add(product_segments::granted_to(&[segment_id])),
        )
        .into_tuple::<i64>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok(Coverage::Variants(variants))
}

/// Why a code was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// No coupon has this code.
    Unknown,
    /// Its window has not opened yet.
    NotStarted,
    /// Its window has closed, or the merchant disabled it.
    Expired,
    /// The shopper is in none of its segments or user groups.
    NotForYou,
    /// Its total usage limit is reached.
    UsedUp,
    /// The shopper has used it as often as one shopper may.
    UsedUpByYou,
    /// The code is already applied to this checkout.
    AlreadyApplied,
    /// It covers no item of the cart, or only items another coupon already discounts.
    NothingToDiscount,
}

/// The shopper a code is checked for.
#[derive(Debug, Clone, Copy)]
pub struct Shopper<'a> {
    pub customer_id: i64,
    pub segments_in_force: &'a [i64],
    pub now: DateTime<Utc>,
}

/// An accepted coupon and what it takes off which cart line (by variant id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedCoupon {
    pub coupon: coupon::Model,
    pub lines: Vec<(i64, i64)>,
    pub total: i64,
}

/// Each code's verdict, in the order given.
pub type Verdicts = Vec<(String, Result<AppliedCoupon, Refusal>)>;

/// Checks `codes` in order for the shopper's cart: each is accepted with its discount per
/// line, or refused with a reason. Only available lines count, and a line already discounted
/// by an earlier accepted code is not discounted again. Reads only.
pub async fn check_codes(
    db: &impl ConnectionTrait,
    shopper: &Shopper<'_>,
    codes: &[String],
    lines: &[CartLine],
) -> Result<Verdicts, StoreError> {
    let mut taken: BTreeSet<i64> = BTreeSet::new();
    let mut applied_ids: BTreeSet<i64> = BTreeSet::new();
    let mut verdicts = Vec::with_capacity(codes.len());
    for code in codes {
        let verdict = check_one(db, shopper, code, lines, &taken, &applied_ids).await?;
        if let Ok(applied) = &verdict {
            taken.extend(applied.lines.iter().map(|&(variant, _)| variant));
            applied_ids.insert(applied.coupon.id);
        }
        verdicts.push((code.clone(), verdict));
    }
    Ok(verdicts)
}

async fn check_one(
    db: &impl ConnectionTrait,
    shopper: &Shopper<'_>,
    code: &str,
    lines: &[CartLine],
    taken: &BTreeSet<i64>,
    applied_ids: &BTreeSet<i64>,
) -> Result<Result<AppliedCoupon, Refusal>, StoreError> {
    let Ok(code) = CouponCode::parse(code) else {
        return Ok(Err(Refusal::Unknown));
    };
    let Some(coupon) = find_model(db, code.as_str()).await? else {
        return Ok(Err(Refusal::Unknown));
    };
    let Some(discount) = Discount::from_stored(&coupon.kind, coupon.amount) else {
        tracing::error!(coupon = coupon.id, kind = %coupon.kind, "a coupon of unknown kind");
        return Ok(Err(Refusal::Unknown));
    };
    if applied_ids.contains(&coupon.id) {
        return Ok(Err(Refusal::AlreadyApplied));
    }
    if !coupon.active || coupon.ends_at.is_some_and(|ends| ends <= shopper.now) {
        return Ok(Err(Refusal::Expired));
    }
    if coupon.starts_at.is_some_and(|starts| starts > shopper.now) {
        return Ok(Err(Refusal::NotStarted));
    }
    let Some(coverage) = coverage_for(db, &coupon, shopper).await? else {
        return Ok(Err(Refusal::NotForYou));
    };
    if coupon
        .usage_limit
        .is_some_and(|limit| coupon.used_count >= limit)
    {
        return Ok(Err(Refusal::UsedUp));
    }
    if let Some(limit) = coupon.per_customer_limit
        && uses_by(db, coupon.id, shopper.customer_id).await? >= u64::try_from(limit).unwrap_or(0)
    {
        return Ok(Err(Refusal::UsedUpByYou));
    }
    let covered: Vec<(i64, i64)> = lines
        .iter()
        .filter(|line| line.status == LineStatus::Available)
        .filter(|line| !taken.contains(&line.variant.id) && coverage.covers(line.variant.id))
        .map(|line| (line.variant.id, line.total()))
        .collect();
    let per_line = discount.per_line(&covered);
    if per_line.is_empty() {
        return Ok(Err(Refusal::NothingToDiscount));
    }
    let total = per_line
        .iter()
        .map(|&(_, amount)| amount)
        .fold(0, i64::saturating_add);
    Ok(Ok(AppliedCoupon {
        coupon,
        lines: per_line,
        total,
    }))
}

/// What the coupon covers for this shopper, or `None` when they may not use it.
async fn coverage_for(
    db: &impl ConnectionTrait,
    coupon: &coupon::Model,
    shopper: &Shopper<'_>,
) -> Result<Option<Coverage>, StoreError> {
    let tied_groups: BTreeSet<String> = coupon_user_group::Entity::find()
        .filter(coupon_user_group::Column::CouponId.eq(coupon.id))
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.user_group)
        .collect();
    if !tied_groups.is_empty() {
        let groups = user_groups::user_groups(db, shopper.customer_id, shopper.now).await?;
        if !tied_groups.is_disjoint(&groups) {
            return Ok(Some(Coverage::Everything));
        }
    }
    let qualifying: Vec<i64> = coupon_segment::Entity::find()
        .filter(coupon_segment::Column::CouponId.eq(coupon.id))
        .filter(coupon_segment::Column::SegmentId.is_in(shopper.segments_in_force.to_vec()))
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.segment_id)
        .collect();
    let mut coverage: Option<Coverage> = None;
    for segment_id in qualifying {
        let granted = variants_granted_by(db, segment_id).await?;
        coverage = Some(match coverage {
            None => granted,
            Some(so_far) => so_far.join(granted),
        });
    }
    Ok(coverage)
}

async fn uses_by(
    db: &impl ConnectionTrait,
    coupon_id: i64,
    customer_id: i64,
) -> Result<u64, StoreError> {
    Ok(coupon_redemption::Entity::find()
        .filter(coupon_redemption::Column::CouponId.eq(coupon_id))
        .filter(coupon_redemption::Column::CustomerId.eq(customer_id))
        .count(db)
        .await?)
}

/// Claims one use of an accepted coupon inside the order's write transaction: raises
/// `used_count` only while it is below the limit (and the coupon still active), then
/// re-counts the shopper's own uses with the coupon row locked by that update.
pub async fn claim(
    txn: &impl ConnectionTrait,
    coupon: &coupon::Model,
    customer_id: i64,
) -> Result<Result<(), Refusal>, StoreError> {
    let claimed = coupon::Entity::update_many()
        .col_expr(
            coupon::Column::UsedCount,
            Expr::col(coupon::Column::UsedCount).add(1),
        )
        .filter(coupon::Column::Id.eq(coupon.id))
        .filter(coupon::Column::Active.eq(true))
        .filter(
            Condition::any()
                .add(coupon::Column::UsageLimit.is_null())
                .add(
                    Expr::col(coupon::Column::UsedCount).lt(Expr::col(coupon::Column::UsageLimit)),
                ),
        )
        .exec(txn)
        .await?;
    if claimed.rows_affected == 0 {
        return Ok(Err(Refusal::UsedUp));
    }
    if let Some(limit) = coupon.per_customer_limit
        && uses_by(txn, coupon.id, customer_id).await? >= u64::try_from(limit).unwrap_or(0)
    {
        return Ok(Err(Refusal::UsedUpByYou));
    }
    Ok(Ok(()))
}

/// Records a claimed coupon on a placed order: one redemption, and its amount per order line
/// (`items` maps variant ids to the order's item ids).
pub async fn record(
    txn: &impl ConnectionTrait,
    order_id: i64,
    customer_id: i64,
    applied: &AppliedCoupon,
    items: &BTreeMap<i64, i64>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    coupon_redemption::ActiveModel {
        coupon_id: Set(applied.coupon.id),
        order_id: Set(order_id),
        customer_id: Set(customer_id),
        discount: Set(applied.total),
        redeemed_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    for &(variant_id, amount) in &applied.lines {
        let Some(&order_item_id) = items.get(&variant_id) else {
            continue;
        };
        order_item_discount::ActiveModel {
            order_item_id: Set(order_item_id),
            coupon_id: Set(applied.coupon.id),
            amount: Set(amount),
        }
        .insert(txn)
        .await?;
    }
    Ok(())
}

/// The coupons used on each of these orders, as `(code, discount)` in the order applied.
pub async fn of_orders(
    db: &impl ConnectionTrait,
    order_ids: &[i64],
) -> Result<BTreeMap<i64, Vec<(String, i64)>>, StoreError> {
    let rows = in_chunks(order_ids, |chunk| {
        coupon_redemption::Entity::find()
            .select_also(coupon::Entity)
            .join(
                JoinType::InnerJoin,
                coupon_redemption::Entity::belongs_to(coupon::Entity)
                    .from(coupon_redemption::Column::CouponId)
                    .to(coupon::Column::Id)
                    .into(),
            )
            .filter(coupon_redemption::Column::OrderId.is_in(chunk))
            .order_by_asc(coupon_redemption::Column::Id)
            .all(db)
    })
    .await?;
    let mut by_order: BTreeMap<i64, Vec<(String, i64)>> = BTreeMap::new();
    for (redemption, coupon) in rows {
        let code = coupon.map(|coupon| coupon.code).unwrap_or_default();
        by_order
            .entry(redemption.order_id)
            .or_default()
            .push((code, redemption.discount));
    }
    Ok(by_order)
}
