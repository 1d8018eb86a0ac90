//! One segment's recompute: its rule's members gathered in a scratch table, compared with the
//! stored membership, and the difference applied with its ledger rows in one transaction.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Cond, Expr, ExprTrait, InsertStatement, Query, SelectStatement};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter,
};
use storebot_entity::{membership_event, segment_member, segment_override};

use crate::segments::compile::{CUSTOMER_ID, matching_customers_over};
use crate::segments::{Context, TimeFrame};
use crate::store::membership::ledger::{Cause, OverrideMode, Source};
use crate::store::membership::rules::AutoSegment;
use crate::store::{StoreError, begin_write, messaging::joins};

/// The scratch table a segment's new membership is gathered in before it is compared with the
/// old, so the rule is evaluated once per segment. Temporary, so private to the connection.
pub(super) const TARGET: &str = "recompute_target";

/// Brings one segment's rule members up to date in one transaction; returns (joined, left).
pub(super) async fn recompute_segment(
    db: &DatabaseConnection,
    context: &Context,
    segment: &AutoSegment,
    run_id: i64,
    materialized: &BTreeMap<TimeFrame, String>,
    has_overrides: bool,
) -> Result<(u64, u64), StoreError> {
    let txn = begin_write(db).await?;
    gather_target(&txn, context, segment, materialized, has_overrides).await?;
    let cause = if segment.in_force {
        Cause::Rule
    } else {
        Cause::Expiry
    };
    let left = apply_leaves(&txn, segment.id, cause, run_id, context.now).await?;
    let joined = apply_joins(&txn, segment.id, cause, run_id, context.now).await?;
    txn.commit().await?;
    Ok((joined, left))
}

/// The scratch table's customer ids.
fn target_ids() -> SelectStatement {
    Query::select()
        .column((Alias::new(TARGET), Alias::new(CUSTOMER_ID)))
        .from(Alias::new(TARGET))
        .to_owned()
}

/// "`customer` is not in the scratch table". Anti-joins are written NOT EXISTS rather than
/// NOT IN: PostgreSQL plans NOT IN over a large subquery as a per-row scan, NOT EXISTS as a
/// hash anti-join.
fn not_in_target(customer: Expr) -> Expr {
    Expr::exists(
        Query::select()
            .expr(Expr::val(1))
            .from(Alias::new(TARGET))
            .and_where(Expr::col((Alias::new(TARGET), Alias::new(CUSTOMER_ID))).eq(customer))
            .to_owned(),
    )
    .not()
}

/// Fills the scratch table with who should be a rule member now: the rule's selection (none
/// when the segment is out of force), with the merchant's includes added and excludes taken
/// out.
async fn gather_target(
    txn: &impl ConnectionTrait,
    context: &Context,
    segment: &AutoSegment,
    materialized: &BTreeMap<TimeFrame, String>,
    has_overrides: bool,
) -> Result<(), StoreError> {
    txn.execute(&Query::delete().from_table(Alias::new(TARGET)).to_owned())
        .await?;
    if segment.in_force {
        txn.execute(
            &Query::insert()
                .into_table(Alias::new(TARGET))
                .columns([Alias::new(CUSTOMER_ID)])
                .select_from(matching_customers_over(
                    &segment.rule,
                    context,
                    materialized,
                ))
                .map_err(|error| StoreError::Invalid(error.to_string()))?
                .to_owned(),
        )
        .await?;
    }
    if segment.in_force && txn.get_database_backend() == DbBackend::Postgres {
        // Without statistics the planner takes the scratch table for a small one and may
        // join it with the members by a nested loop over a scan that the joins' own inserts
        // keep lengthening (minutes for one segment at a million customers).
        txn.execute_unprepared(&format!("ANALYZE {TARGET}")).await?;
    }
    // Most segments have no overrides: skip their two statements (round trips count on
    // PostgreSQL, where the job spends most of its time in them).
    if segment.in_force && has_overrides {
        txn.execute(
            &Query::insert()
                .into_table(Alias::new(TARGET))
                .columns([Alias::new(CUSTOMER_ID)])
                .select_from(
                    overrides(segment.id, OverrideMode::Include)
                        .and_where(not_in_target(Expr::col((
                            segment_override::Entity,
                            segment_override::Column::CustomerId,
                        ))))
                        .to_owned(),
                )
                .map_err(|error| StoreError::Invalid(error.to_string()))?
                .to_owned(),
        )
        .await?;
        txn.execute(
            &Query::delete()
                .from_table(Alias::new(TARGET))
                .and_where(
                    Expr::col(Alias::new(CUSTOMER_ID))
                        .in_subquery(overrides(segment.id, OverrideMode::Exclude)),
                )
                .to_owned(),
        )
        .await?;
    }
    Ok(())
}

/// Removes the rule members the scratch table no longer holds, with their ledger rows.
async fn apply_leaves(
    txn: &impl ConnectionTrait,
    segment_id: i64,
    cause: Cause,
    run_id: i64,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let leaving = Cond::all()
        .add(segment_member::Column::SegmentId.eq(segment_id))
        .add(segment_member::Column::Source.eq(Source::Rule.as_str()))
        .add(not_in_target(Expr::col((
            segment_member::Entity,
            segment_member::Column::CustomerId,
        ))));
    let left = txn
        .execute(&ledger_from(
            Query::select()
                .column(segment_member::Column::CustomerId)
                .from(segment_member::Entity)
                .cond_where(leaving.clone())
                .to_owned(),
            segment_id,
            false,
            cause,
            Some(run_id),
            now,
        )?)
        .await?
        .rows_affected();
    // The ledger rows and the membership change select the same rows in one transaction,
    // so when the ledger found nobody there is nothing to change.
    if left > 0 {
        segment_member::Entity::delete_many()
            .filter(leaving)
            .exec(txn)
            .await?;
    }

    Ok(left)
}

/// Adds who the scratch table holds and is not yet a member, with their ledger rows and their
/// join messages (which commit with the joins, or neither does).
async fn apply_joins(
    txn: &impl ConnectionTrait,
    segment_id: i64,
    cause: Cause,
    run_id: i64,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    // Who is already a member leaves the scratch table, so that what remains is who joins. The
    // insert into `segment_member` below then never reads the table it writes: PostgreSQL,
    // planning with the statistics of a table that was empty, may scan it once per inserted
    // row, which is quadratic in the joins (minutes for one segment at a million customers).
    txn.execute(
        &Query::delete()
            .from_table(Alias::new(TARGET))
            .and_where(Expr::exists(
                Query::select()
                    .expr(Expr::val(1))
                    .from(segment_member::Entity)
                    .and_where(segment_member::Column::SegmentId.eq(segment_id))
                    .and_where(
                        Expr::col((segment_member::Entity, segment_member::Column::CustomerId))
                            .equals((Alias::new(TARGET), Alias::new(CUSTOMER_ID))),
                    )
                    .to_owned(),
            ))
            .to_owned(),
    )
    .await?;
    let joined = txn
        .execute(&ledger_from(
            target_ids(),
            segment_id,
            true,
            cause,
            Some(run_id),
            now,
        )?)
        .await?
        .rows_affected();
    if joined == 0 {
        return Ok(0);
    }
    let members = Query::select()
        .expr(Expr::val(segment_id))
        .column((Alias::new(TARGET), Alias::new(CUSTOMER_ID)))
        .expr(Expr::val(Source::Rule.as_str()))
        .expr(Expr::val(now))
        .from(Alias::new(TARGET))
        .to_owned();
    txn.execute(
        &Query::insert()
            .into_table(segment_member::Entity)
            .columns([
                segment_member::Column::SegmentId,
                segment_member::Column::CustomerId,
                segment_member::Column::Source,
                segment_member::Column::Since,
            ])
            .select_from(members)
            .map_err(|error| StoreError::Invalid(error.to_string()))?
            .to_owned(),
    )
    .await?;
    joins::enqueue_run_joins(txn, segment_id, run_id, now).await?;
    Ok(joined)
}

/// Whether the rule members of a segment without overrides differ from what its rule selects
/// now: someone selected who is not a member (by rule or by hand), or a rule member no longer
/// selected (every rule member when the segment is out of force). One full outer join of the
/// selection with the segment's members, counted, so the rule is evaluated once.
pub(super) async fn membership_differs(
    db: &DatabaseConnection,
    context: &Context,
    segment: &AutoSegment,
    materialized: &BTreeMap<TimeFrame, String>,
) -> Result<bool, StoreError> {
    let mut members = Query::select()
        .column(segment_member::Column::CustomerId)
        .column(segment_member::Column::Source)
        .from(segment_member::Entity)
        .and_where(segment_member::Column::SegmentId.eq(segment.id))
        .to_owned();
    let (selected, member) = (Alias::new("selected"), Alias::new("member"));
    let query = if segment.in_force {
        Query::select()
            .expr_as(Expr::val(1).count(), Alias::new("n"))
            .from_subquery(
                matching_customers_over(&segment.rule, context, materialized),
                selected.clone(),
            )
            .join_subquery(
                sea_orm::sea_query::JoinType::FullOuterJoin,
                members,
                member.clone(),
                Expr::col((member.clone(), Alias::new(CUSTOMER_ID)))
                    .equals((selected.clone(), Alias::new(CUSTOMER_ID))),
            )
            .cond_where(
                Cond::any()
                    .add(Expr::col((member.clone(), Alias::new(CUSTOMER_ID))).is_null())
                    .add(
                        Cond::all()
                            .add(Expr::col((selected, Alias::new(CUSTOMER_ID))).is_null())
                            .add(
                                Expr::col((member, segment_member::Column::Source))
                                    .eq(Source::Rule.as_str()),
                            ),
                    ),
            )
            .to_owned()
    } else {
        Query::select()
            .expr_as(Expr::val(1).count(), Alias::new("n"))
            .from_subquery(
                members
                    .and_where(segment_member::Column::Source.eq(Source::Rule.as_str()))
                    .limit(1)
                    .to_owned(),
                member,
            )
            .to_owned()
    };
    let count = db
        .query_one(&query)
        .await?
        .map(|row| row.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0);
    Ok(count > 0)
}

pub(crate) fn overrides(segment_id: i64, mode: OverrideMode) -> SelectStatement {
    Query::select()
        .column(segment_override::Column::CustomerId)
        .from(segment_override::Entity)
        .and_where(segment_override::Column::SegmentId.eq(segment_id))
        .and_where(segment_override::Column::Mode.eq(mode.as_str()))
        .to_owned()
}

/// `INSERT INTO membership_event ... SELECT` over the `customer_id`s that `customers` selects.
fn ledger_from(
    customers: SelectStatement,
    segment_id: i64,
    joined: bool,
    cause: Cause,
    run_id: Option<i64>,
    now: DateTime<Utc>,
) -> Result<InsertStatement, StoreError> {
    let rows = Query::select()
        .expr(Expr::val(segment_id))
        .column((Alias::new("changed"), Alias::new(CUSTOMER_ID)))
        .expr(Expr::val(if joined { "joined" } else { "left" }))
        .expr(Expr::val(cause.as_str()))
        .expr(Expr::val(run_id))
        .expr(Expr::val(now))
        .from_subquery(customers, Alias::new("changed"))
        .to_owned();
    Ok(Query::insert()
        .into_table(membership_event::Entity)
        .columns([
            membership_event::Column::SegmentId,
            membership_event::Column::CustomerId,
            membership_event::Column::Kind,
            membership_event::Column::Cause,
            membership_event::Column::RunId,
            membership_event::Column::At,
        ])
        .select_from(rows)
        .map_err(|error| StoreError::Invalid(error.to_string()))?
        .to_owned())
}
