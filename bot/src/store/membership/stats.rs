//! Segment insight for the merchant: members, share of all shoppers, revenue share and
//! average check of members, and joins and leaves per day from the membership ledger.
//! Read-only.
//!
//! Definitions: revenue is the sum of `total` of the members' *counted* orders (status in
//! `segments.counted_statuses`, as the rules count them), over their whole history, for the
//! shoppers who are members now. Revenue share divides it by the revenue of every counted
//! order; average check divides it by the number of those orders (none when a segment's
//! members have no counted order). Joins and leaves are grouped by day in the store's time
//! zone, over the last `days` days including today.
//!
//! Every figure but the per-day buckets is one aggregate statement over all segments;
//! PostgreSQL's `SUM(bigint)` is `numeric`, so sums are cast back to `BIGINT`.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, JoinType, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::Serialize;
use storebot_entity::{customer, membership_event, order, segment, segment_member};

use crate::store::StoreError;

/// The figures of one segment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentFigures {
    pub segment_id: i64,
    pub name: String,
    pub members: u64,
    /// members / all shoppers, 0 when there are no shoppers.
    pub share_of_shoppers: f64,
    /// Sum of the members' counted orders, minor units.
    pub revenue: i64,
    pub orders: u64,
    /// revenue / all counted revenue, 0 when there is none.
    pub revenue_share: f64,
    /// revenue / orders in minor units (rounded down); None without orders.
    pub average_check: Option<i64>,
}

/// The whole store's denominators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreTotals {
    pub shoppers: u64,
    pub revenue: i64,
    pub orders: u64,
}

/// Joins and leaves on one day in the store's time zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayMoves {
    pub day: NaiveDate,
    pub joined: u64,
    pub left: u64,
}

/// Figures of every segment (by name) and the totals they are shares of.
pub async fn overview(
    db: &impl ConnectionTrait,
    counted_statuses: &[String],
) -> Result<(StoreTotals, Vec<SegmentFigures>), StoreError> {
    let shoppers = customer::Entity::find().count(db).await?;
    let sum_total = || {
        Expr::from(Func::cast_as(
            Expr::col((order::Entity, order::Column::Total)).sum(),
            Alias::new("BIGINT"),
        ))
    };
    let (revenue, orders): (Option<i64>, i64) = order::Entity::find()
        .select_only()
        .column_as(sum_total(), "revenue")
        .column_as(
            Expr::col((order::Entity, order::Column::Id)).count(),
            "orders",
        )
        .filter(order::Column::Status.is_in(counted_statuses.to_vec()))
        .into_tuple()
        .one(db)
        .await?
        .unwrap_or((None, 0));
    let totals = StoreTotals {
        shoppers,
        revenue: revenue.unwrap_or(0),
        orders: orders.unsigned_abs(),
    };
    let members: BTreeMap<i64, i64> = segment_member::Entity::find()
        .select_only()
        .column(segment_member::Column::SegmentId)
        .column_as(
            Expr::col((segment_member::Entity, segment_member::Column::CustomerId)).count(),
            "n",
        )
        .group_by(segment_member::Column::SegmentId)
        .into_tuple::<(i64, i64)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let revenue_of: BTreeMap<i64, (Option<i64>, i64)> = segment_member::Entity::find()
        .select_only()
        .column(segment_member::Column::SegmentId)
        .column_as(sum_total(), "revenue")
        .column_as(
            Expr::col((order::Entity, order::Column::Id)).count(),
            "orders",
        )
        .join(
            JoinType::InnerJoin,
            segment_member::Entity::belongs_to(order::Entity)
                .from(segment_member::Column::CustomerId)
                .to(order::Column::CustomerId)
                .into(),
        )
        .filter(order::Column::Status.is_in(counted_statuses.to_vec()))
        .group_by(segment_member::Column::SegmentId)
        .into_tuple::<(i64, Option<i64>, i64)>()
        .all(db)
        .await?
        .into_iter()
        .map(|(id, revenue, orders)| (id, (revenue, orders)))
        .collect();
    let segments = segment::Entity::find()
        .order_by_asc(segment::Column::Name)
        .all(db)
        .await?;
    let ratio = |part: f64, whole: f64| if whole > 0.0 { part / whole } else { 0.0 };
    let figures = segments
        .into_iter()
        .map(|segment| {
            let members = members
                .get(&segment.id)
                .copied()
                .unwrap_or(0)
                .unsigned_abs();
            let (revenue, orders) = revenue_of.get(&segment.id).copied().unwrap_or((None, 0));
            let revenue = revenue.unwrap_or(0);
            let orders = orders.unsigned_abs();
            SegmentFigures {
                segment_id: segment.id,
                name: segment.name,
                members,
                share_of_shoppers: ratio(members as f64, totals.shoppers as f64),
                revenue,
                orders,
                revenue_share: ratio(revenue as f64, totals.revenue as f64),
                average_check: (orders > 0)
                    .then(|| revenue.div_euclid(i64::try_from(orders).unwrap_or(i64::MAX))),
            }
        })
        .collect();
    Ok((totals, figures))
}

/// Joins and leaves of segment `segment_id` per day, for the `days` days up to and including
/// `now`'s day in `zone`, oldest first; days without moves are listed with zeros.
pub async fn moves_per_day(
    db: &impl ConnectionTrait,
    segment_id: i64,
    days: u32,
    now: DateTime<Utc>,
    zone: Tz,
) -> Result<Vec<DayMoves>, StoreError> {
    let days = Ord::max(days, 1);
    let today = now.with_timezone(&zone).date_naive();
    let first = today
        .checked_sub_days(Days::new(u64::from(days - 1)))
        .unwrap_or(today);
    // The first day's midnight in the store's zone (the earliest one, should a clock change
    // make it ambiguous).
    let since = first
        .and_hms_opt(0, 0, 0)
        .and_then(|midnight| midnight.and_local_timezone(zone).earliest())
        .map(|at| at.with_timezone(&Utc))
        .unwrap_or(now);
    let mut buckets: BTreeMap<NaiveDate, DayMoves> = first
        .iter_days()
        .take_while(|day| *day <= today)
        .map(|day| {
            (
                day,
                DayMoves {
                    day,
                    joined: 0,
                    left: 0,
                },
            )
        })
        .collect();
    let events: Vec<(String, DateTime<Utc>)> = membership_event::Entity::find()
        .select_only()
        .column(membership_event::Column::Kind)
        .column(membership_event::Column::At)
        .filter(membership_event::Column::SegmentId.eq(segment_id))
        .filter(membership_event::Column::At.gte(since))
        .filter(membership_event::Column::At.lte(now))
        .into_tuple()
        .all(db)
        .await?;
    for (kind, at) in events {
        if let Some(bucket) = buckets.get_mut(&at.with_timezone(&zone).date_naive()) {
            match kind.as_str() {
                "joined" => bucket.joined += 1,
                "left" => bucket.left += 1,
                _ => {}
            }
        }
    }
    Ok(buckets.into_values().collect())
}

#[cfg(test)]
mod tests;
