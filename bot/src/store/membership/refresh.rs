//! One shopper's re-evaluation after they answer a question or place an order: their facts
//! evaluated in memory first, and written in one transaction only when a membership changes.

use std::collections::BTreeMap;

use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, TransactionSession, TransactionTrait};
use storebot_entity::{segment_member, segment_override};

use crate::segments::{Context, evaluate};
use crate::store::membership::facts::FactNeeds;
use crate::store::membership::facts::load_facts_for;
use crate::store::membership::ledger;
use crate::store::membership::ledger::MembershipChange;
use crate::store::membership::ledger::{Cause, OverrideMode, Source};
use crate::store::membership::rules::load_auto_segments;
use crate::store::{StoreError, begin_write, messaging::joins};

/// Re-evaluates every automatic segment for one shopper and applies the joins and leaves at
/// once (one transaction), so a shopper who just qualified sees the segment's variants on
/// their next tap. Returns what changed: joins are only ever to segments in force.
///
/// The evaluation runs first outside any transaction; almost always nothing changes, and then
/// nothing is written and no write lock is taken. Only when a join or leave is due does it open
/// a write transaction and evaluate again inside it (what it applies is what that second
/// evaluation finds, so a change committed in between is not lost or applied twice).
pub async fn refresh_customer<C>(
    db: &C,
    context: &Context,
    customer_id: i64,
) -> Result<Vec<MembershipChange>, StoreError>
where
    C: ConnectionTrait + TransactionTrait,
{
    if plan_refresh(db, context, customer_id, None)
        .await?
        .is_empty()
    {
        return Ok(Vec::new());
    }
    let txn = begin_write(db).await?;
    let changes = refresh_within(&txn, context, customer_id, None).await?;
    txn.commit().await?;
    Ok(changes)
}

/// The body of [`refresh_customer`], inside the caller's transaction. Changes to
/// `merchant_segment` are ledgered as the merchant's doing (an override was just set).
pub(crate) async fn refresh_within(
    db: &impl ConnectionTrait,
    context: &Context,
    customer_id: i64,
    merchant_segment: Option<i64>,
) -> Result<Vec<MembershipChange>, StoreError> {
    let planned = plan_refresh(db, context, customer_id, merchant_segment).await?;
    let mut changes = Vec::with_capacity(planned.len());
    for change in planned {
        if change.joined {
            ledger::join(
                db,
                change.segment_id,
                customer_id,
                Source::Rule,
                change.cause,
                context.now,
            )
            .await?;
            if change.greet {
                joins::enqueue_join(db, change.segment_id, customer_id, context.now).await?;
            }
        } else {
            ledger::leave(
                db,
                change.segment_id,
                customer_id,
                change.cause,
                context.now,
            )
            .await?;
        }
        changes.push(MembershipChange {
            segment_id: change.segment_id,
            joined: change.joined,
        });
    }
    Ok(changes)
}

/// One join or leave a re-evaluation found due.
struct PlannedChange {
    segment_id: i64,
    joined: bool,
    cause: Cause,
    /// Whether the join queues the segment's join message (only a join through the rule).
    greet: bool,
}

/// Evaluates every automatic segment for one shopper, in dependency order, without writing:
/// the joins and leaves due, each later segment seeing the earlier ones' outcome.
async fn plan_refresh(
    db: &impl ConnectionTrait,
    context: &Context,
    customer_id: i64,
    merchant_segment: Option<i64>,
) -> Result<Vec<PlannedChange>, StoreError> {
    // Independent reads go out together: on a pool each takes its own connection, so a
    // refresh waits for two round trips rather than five (in a transaction they queue).
    let ((segments, _unreadable), (memberships, overrides)) = tokio::try_join!(
        load_auto_segments(db, context.now),
        memberships_and_overrides(db, customer_id)
    )?;
    let mut facts = load_facts_for(db, customer_id, FactNeeds::of(&segments)).await?;
    facts.segments = memberships.keys().copied().collect();
    let mut planned = Vec::new();
    for segment in &segments {
        let source = memberships.get(&segment.id).map(String::as_str);
        let mode = overrides.get(&segment.id).map(String::as_str);
        let is_rule_member = source == Some(Source::Rule.as_str());
        let wanted = segment.in_force
            && mode != Some(OverrideMode::Exclude.as_str())
            && (mode == Some(OverrideMode::Include.as_str())
                || evaluate(&segment.rule, &facts, context));
        let cause = if merchant_segment == Some(segment.id) {
            Cause::Manual
        } else if segment.in_force {
            Cause::Rule
        } else {
            Cause::Expiry
        };
        if wanted && source.is_none() {
            facts.segments.insert(segment.id);
            planned.push(PlannedChange {
                segment_id: segment.id,
                joined: true,
                cause,
                // Only a join through the rule greets the shopper; the merchant's adds don't.
                greet: cause == Cause::Rule && mode != Some(OverrideMode::Include.as_str()),
            });
        } else if !wanted && is_rule_member {
            facts.segments.remove(&segment.id);
            planned.push(PlannedChange {
                segment_id: segment.id,
                joined: false,
                cause,
                greet: false,
            });
        }
    }
    Ok(planned)
}

/// The shopper's memberships (segment → source) and overrides (segment → mode), in one
/// round trip.
async fn memberships_and_overrides(
    db: &impl ConnectionTrait,
    customer_id: i64,
) -> Result<(BTreeMap<i64, String>, BTreeMap<i64, String>), StoreError> {
    let mut query = Query::select();
    query
        .column(segment_member::Column::SegmentId)
        .expr_as(
            Expr::col(segment_member::Column::Source),
            Alias::new("value"),
        )
        .expr_as(Expr::val("member"), Alias::new("what"))
        .from(segment_member::Entity)
        .and_where(segment_member::Column::CustomerId.eq(customer_id))
        .union(
            sea_orm::sea_query::UnionType::All,
            Query::select()
                .column(segment_override::Column::SegmentId)
                .expr_as(
                    Expr::col(segment_override::Column::Mode),
                    Alias::new("value"),
                )
                .expr_as(Expr::val("override"), Alias::new("what"))
                .from(segment_override::Entity)
                .and_where(segment_override::Column::CustomerId.eq(customer_id))
                .to_owned(),
        );
    let mut memberships = BTreeMap::new();
    let mut overrides = BTreeMap::new();
    for row in db.query_all(&query).await? {
        let segment_id: i64 = row.try_get("", "segment_id")?;
        let value: String = row.try_get("", "value")?;
        if row.try_get::<String>("", "what")? == "member" {
            memberships.insert(segment_id, value);
        } else {
            overrides.insert(segment_id, value);
        }
    }
    Ok((memberships, overrides))
}
