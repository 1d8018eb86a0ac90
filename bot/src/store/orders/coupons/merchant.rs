//! The merchant's side of coupons: create one with its ties in one transaction, replace, find,
//! list, show usage, disable.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    TransactionSession, TransactionTrait,
};
use serde::Serialize;
use storebot_entity::{
    coupon, coupon_redemption, coupon_segment, coupon_user_group, customer, segment,
};

use crate::coupons::{CouponCode, Discount};
use crate::store::{StoreError, begin_write, membership::definitions};

/// A coupon as the merchant asks for it.
#[derive(Debug, Clone)]
pub struct NewCoupon {
    pub code: String,
    pub discount: Discount,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub usage_limit: Option<i32>,
    pub per_customer_limit: Option<i32>,
    /// Segment names (or ids).
    pub segments: Vec<String>,
    pub user_groups: Vec<String>,
}

/// A tied segment, by id and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SegmentRef {
    pub id: i64,
    pub name: String,
}

/// A coupon with its ties.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CouponView {
    pub coupon: coupon::Model,
    pub segments: Vec<SegmentRef>,
    pub user_groups: Vec<String>,
}

/// How one shopper used a coupon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShopperUsage {
    pub customer_id: i64,
    pub name: String,
    pub uses: u64,
    pub discount: i64,
}

/// A coupon with its usage: redemptions in all, the discount given, and per shopper.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CouponUsage {
    #[serde(flatten)]
    pub view: CouponView,
    pub redemptions: u64,
    pub total_discount: i64,
    pub shoppers: Vec<ShopperUsage>,
}

/// Creates a coupon and its ties in one transaction; bad input writes nothing.
pub async fn create<C>(
    db: &C,
    new: &NewCoupon,
    now: DateTime<Utc>,
) -> Result<CouponView, StoreError>
where
    C: ConnectionTrait + TransactionTrait,
{
    let (code, groups) = checked(new)?;
    let txn = begin_write(db).await?;
    let segment_ids = segment_ids(&txn, &new.segments).await?;
    if find_model(&txn, code.as_str()).await?.is_some() {
        return Err(StoreError::Conflict(format!(
            "a coupon with the code {code} already exists"
        )));
    }
    let created = coupon::ActiveModel {
        code: Set(code.to_string()),
        created_at: Set(now),
        used_count: Set(0),
        ..settings(new, true)
    }
    .insert(&txn)
    .await?;
    insert_ties(&txn, created.id, &segment_ids, &groups).await?;
    let view = view_of(&txn, created).await?;
    txn.commit().await?;
    Ok(view)
}

/// The coupon's code and trimmed user groups, once its fields pass the checks every coupon
/// must pass.
fn checked(new: &NewCoupon) -> Result<(CouponCode, BTreeSet<String>), StoreError> {
    let code = CouponCode::parse(&new.code).map_err(|e| StoreError::Invalid(e.to_string()))?;
    if let (Some(starts), Some(ends)) = (new.starts_at, new.ends_at)
        && ends <= starts
    {
        return Err(StoreError::Invalid(
            "the coupon's end must come after its start".into(),
        ));
    }
    for (name, limit) in [
        ("usage limit", new.usage_limit),
        ("per-shopper limit", new.per_customer_limit),
    ] {
        if limit.is_some_and(|limit| limit < 1) {
            return Err(StoreError::Invalid(format!(
                "the {name} must be at least 1"
            )));
        }
    }
    let groups: BTreeSet<String> = new
        .user_groups
        .iter()
        .map(|group| group.trim().to_owned())
        .collect();
    if groups.iter().any(String::is_empty) {
        return Err(StoreError::Invalid("a user group can't be empty".into()));
    }
    if new.segments.is_empty() && groups.is_empty() {
        return Err(StoreError::Invalid(
            "a coupon needs at least one segment or user group: nobody could use it otherwise"
                .into(),
        ));
    }
    Ok((code, groups))
}

/// The columns a merchant sets: discount, window, limits and the active flag.
fn settings(new: &NewCoupon, active: bool) -> coupon::ActiveModel {
    coupon::ActiveModel {
        kind: Set(new.discount.kind().to_owned()),
        amount: Set(new.discount.amount()),
        starts_at: Set(new.starts_at),
        ends_at: Set(new.ends_at),
        usage_limit: Set(new.usage_limit),
        per_customer_limit: Set(new.per_customer_limit),
        active: Set(active),
        ..Default::default()
    }
}

/// The ids of the segments named (or numbered) in `keys`; `NotFound` for an unknown one.
async fn segment_ids(
    db: &impl ConnectionTrait,
    keys: &[String],
) -> Result<BTreeSet<i64>, StoreError> {
    let found = definitions::find_each(db, keys).await?;
    Ok(found.into_iter().map(|segment| segment.id).collect())
}

async fn insert_ties(
    db: &impl ConnectionTrait,
    coupon_id: i64,
    segment_ids: &BTreeSet<i64>,
    groups: &BTreeSet<String>,
) -> Result<(), StoreError> {
    for segment_id in segment_ids {
        coupon_segment::ActiveModel {
            coupon_id: Set(coupon_id),
            segment_id: Set(*segment_id),
        }
        .insert(db)
        .await?;
    }
    for group in groups {
        coupon_user_group::ActiveModel {
            coupon_id: Set(coupon_id),
            user_group: Set(group.clone()),
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

/// Rewrites an existing coupon (found by `new.code`) to `new` with `active`, ties included,
/// inside the caller's transaction; the same checks as [`create`]. Its usage so far stays:
/// `used_count` and past redemptions are history, not settings.
pub async fn replace(
    db: &impl ConnectionTrait,
    new: &NewCoupon,
    active: bool,
) -> Result<CouponView, StoreError> {
    let (code, groups) = checked(new)?;
    let current = find(db, code.as_str()).await?;
    let segment_ids = segment_ids(db, &new.segments).await?;
    let updated = coupon::ActiveModel {
        id: Set(current.id),
        ..settings(new, active)
    }
    .update(db)
    .await?;
    coupon_segment::Entity::delete_many()
        .filter(coupon_segment::Column::CouponId.eq(current.id))
        .exec(db)
        .await?;
    coupon_user_group::Entity::delete_many()
        .filter(coupon_user_group::Column::CouponId.eq(current.id))
        .exec(db)
        .await?;
    insert_ties(db, current.id, &segment_ids, &groups).await?;
    view_of(db, updated).await
}

pub(super) async fn find_model(
    db: &impl ConnectionTrait,
    code: &str,
) -> Result<Option<coupon::Model>, StoreError> {
    Ok(coupon::Entity::find()
        .filter(coupon::Column::Code.eq(code))
        .one(db)
        .await?)
}

/// The coupon with this code (in any case); `NotFound` otherwise.
pub async fn find(db: &impl ConnectionTrait, code: &str) -> Result<coupon::Model, StoreError> {
    let normalised = code.trim().to_uppercase();
    find_model(db, &normalised)
        .await?
        .ok_or_else(|| StoreError::not_found("coupon", format!("`{normalised}`")))
}

async fn view_of(
    db: &impl ConnectionTrait,
    coupon: coupon::Model,
) -> Result<CouponView, StoreError> {
    let segment_ids: Vec<i64> = coupon_segment::Entity::find()
        .filter(coupon_segment::Column::CouponId.eq(coupon.id))
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.segment_id)
        .collect();
    let segments = segment::Entity::find()
        .filter(segment::Column::Id.is_in(segment_ids))
        .order_by_asc(segment::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .map(|segment| SegmentRef {
            id: segment.id,
            name: segment.name,
        })
        .collect();
    let user_groups = coupon_user_group::Entity::find()
        .filter(coupon_user_group::Column::CouponId.eq(coupon.id))
        .order_by_asc(coupon_user_group::Column::UserGroup)
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.user_group)
        .collect();
    Ok(CouponView {
        coupon,
        segments,
        user_groups,
    })
}

/// Every coupon with its ties, by code.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<CouponView>, StoreError> {
    let coupons = coupon::Entity::find()
        .order_by_asc(coupon::Column::Code)
        .all(db)
        .await?;
    let mut views = Vec::with_capacity(coupons.len());
    for coupon in coupons {
        views.push(view_of(db, coupon).await?);
    }
    Ok(views)
}

/// One coupon with its ties and how it was used, per shopper (most uses first).
pub async fn usage(db: &impl ConnectionTrait, code: &str) -> Result<CouponUsage, StoreError> {
    let coupon = find(db, code).await?;
    let redemptions = coupon_redemption::Entity::find()
        .filter(coupon_redemption::Column::CouponId.eq(coupon.id))
        .all(db)
        .await?;
    let mut per_shopper: BTreeMap<i64, (u64, i64)> = BTreeMap::new();
    for redemption in &redemptions {
        let entry = per_shopper.entry(redemption.customer_id).or_default();
        entry.0 += 1;
        entry.1 = entry.1.saturating_add(redemption.discount);
    }
    let names: BTreeMap<i64, String> = customer::Entity::find()
        .filter(customer::Column::Id.is_in(per_shopper.keys().copied().collect::<Vec<_>>()))
        .all(db)
        .await?
        .into_iter()
        .map(|customer| {
            let name = match customer.username {
                Some(username) => format!("{} (@{username})", customer.first_name),
                None => customer.first_name,
            };
            (customer.id, name)
        })
        .collect();
    let mut shoppers: Vec<ShopperUsage> = per_shopper
        .into_iter()
        .map(|(customer_id, (uses, discount))| ShopperUsage {
            customer_id,
            name: names.get(&customer_id).cloned().unwrap_or_default(),
            uses,
            discount,
        })
        .collect();
    shoppers.sort_by(|a, b| b.uses.cmp(&a.uses).then(a.customer_id.cmp(&b.customer_id)));
    Ok(CouponUsage {
        view: view_of(db, coupon).await?,
        redemptions: u64::try_from(redemptions.len()).unwrap_or(u64::MAX),
        total_discount: redemptions
            .iter()
            .map(|r| r.discount)
            .fold(0, i64::saturating_add),
        shoppers,
    })
}

/// Switches a coupon off: checkout refuses it from now on; past orders keep their discount.
/// Disabling a disabled coupon is harmless.
pub async fn disable(db: &impl ConnectionTrait, code: &str) -> Result<coupon::Model, StoreError> {
    let coupon = find(db, code).await?;
    coupon::Entity::update_many()
        .col_expr(coupon::Column::Active, Expr::value(false))
        .filter(coupon::Column::Id.eq(coupon.id))
        .exec(db)
        .await?;
    Ok(coupon::Model {
        active: false,
        ..coupon
    })
}
