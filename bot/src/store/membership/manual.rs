//! The merchant's hand on membership: manual members and include/exclude overrides.
//!
//! Every change made here is one transaction that also writes its `membership_event` (cause
//! `manual`), and re-evaluates the shopper for the segments that depend on the one changed.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionSession,
    TransactionTrait,
};
use storebot_entity::{segment_member, segment_override};

use crate::segments::Context;
use crate::store::bulk::CHUNK;
use crate::store::membership::ledger::Cause;
use crate::store::membership::ledger::MembershipChange;
use crate::store::membership::ledger::OverrideMode;
use crate::store::membership::ledger::Source;
use crate::store::membership::ledger::join_many;
use crate::store::membership::ledger::leave;
use crate::store::membership::refresh::refresh_within;
use crate::store::membership::rules::get;
use crate::store::{StoreError, begin_write};

/// Puts a customer in a segment by hand. The job never removes a manual member. On an auto
/// segment this also lifts an exclude override, which would contradict it. Returns whether
/// anything changed (a customer already in the segment by hand stays as they are).
pub async fn add_member<C>(
    db: &C,
    segment_id: i64,
    customer_id: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError>
where
    C: ConnectionTrait + TransactionTrait,
{
    let txn = begin_write(db).await?;
    get(&txn, segment_id).await?;
    let added = add_members(&txn, segment_id, &[customer_id], now).await?;
    txn.commit().await?;
    Ok(added > 0)
}

/// [`add_member`] for many customers of one segment, inside the caller's transaction and a few
/// statements per [`CHUNK`] of them (a member list of thousands is one import). Returns how many
/// joined; one already in by the rule is kept in by hand from now on, and one in by hand stays
/// as they are. The caller checks the segment exists.
pub(crate) async fn add_members(
    txn: &impl ConnectionTrait,
    segment_id: i64,
    customer_ids: &[i64],
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let mut joined = 0;
    let unique: BTreeSet<i64> = customer_ids.iter().copied().collect();
    let unique: Vec<i64> = unique.into_iter().collect();
    for chunk in unique.chunks(CHUNK) {
        segment_override::Entity::delete_many()
            .filter(segment_override::Column::SegmentId.eq(segment_id))
            .filter(segment_override::Column::CustomerId.is_in(chunk.iter().copied()))
            .filter(segment_override::Column::Mode.eq(OverrideMode::Exclude.as_str()))
            .exec(txn)
            .await?;
        let present: BTreeMap<i64, String> = segment_member::Entity::find()
            .filter(segment_member::Column::SegmentId.eq(segment_id))
            .filter(segment_member::Column::CustomerId.is_in(chunk.iter().copied()))
            .all(txn)
            .await?
            .into_iter()
            .map(|row| (row.customer_id, row.source))
            .collect();
        let new: Vec<i64> = chunk
            .iter()
            .copied()
            .filter(|id| !present.contains_key(id))
            .collect();
        join_many(txn, segment_id, &new, Source::Manual, Cause::Manual, now).await?;
        joined += new.len() as u64;
        // Already in by the rule: the merchant's hand now keeps them in.
        let by_rule: Vec<i64> = present
            .iter()
            .filter(|(_, source)| source.as_str() == Source::Rule.as_str())
            .map(|(id, _)| *id)
            .collect();
        if !by_rule.is_empty() {
            segment_member::Entity::update_many()
                .col_expr(
                    segment_member::Column::Source,
                    Expr::value(Source::Manual.as_str()),
                )
                .filter(segment_member::Column::SegmentId.eq(segment_id))
                .filter(segment_member::Column::CustomerId.is_in(by_rule))
                .exec(txn)
                .await?;
        }
    }
    Ok(joined)
}

/// Takes a manual member out of a segment. A member by rule can't be removed by hand (the
/// next recompute would put them back): that needs an exclude override, and the sentence
/// says so. Returns whether the customer was a member.
pub async fn remove_member<C>(
    db: &C,
    segment_id: i64,
    customer_id: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError>
where
    C: ConnectionTrait + TransactionTrait,
{
    let txn = begin_write(db).await?;
    let segment = get(&txn, segment_id).await?;
    let Some(row) = segment_member::Entity::find_by_id((segment_id, customer_id))
        .one(&txn)
        .await?
    else {
        return Ok(false);
    };
    if row.source == Source::Rule.as_str() {
        return Err(StoreError::Invalid(format!(
            "customer {customer_id} is in segment {} ({}) by its rule: exclude them with an \
             override instead",
            segment.id, segment.name
        )));
    }
    leave(&txn, segment_id, customer_id, Cause::Manual, now).await?;
    txn.commit().await?;
    Ok(true)
}

/// Sets (or replaces) an include or exclude override on an auto segment and applies it to the
/// customer at once, with the segments that depend on it; returns the membership changes.
/// An exclude also takes out a manual member.
pub async fn set_override<C>(
    db: &C,
    context: &Context,
    segment_id: i64,
    customer_id: i64,
    mode: OverrideMode,
) -> Result<Vec<MembershipChange>, StoreError>
where
    C: ConnectionTrait + TransactionTrait,
{
    let txn = begin_write(db).await?;
    let segment = get(&txn, segment_id).await?;
    if segment.kind != "auto" {
        return Err(StoreError::Invalid(format!(
            "segment {} ({}) is manual: add or remove the member instead of overriding a rule",
            segment.id, segment.name
        )));
    }
    segment_override::Entity::insert(segment_override::ActiveModel {
        segment_id: Set(segment_id),
        customer_id: Set(customer_id),
        mode: Set(mode.as_str().to_owned()),
        created_at: Set(context.now),
    })
    .on_conflict(
        OnConflict::columns([
            segment_override::Column::SegmentId,
            segment_override::Column::CustomerId,
        ])
        .update_columns([
            segment_override::Column::Mode,
            segment_override::Column::CreatedAt,
        ])
        .to_owned(),
    )
    .exec(&txn)
    .await?;
    let mut changes = Vec::new();
    if mode == OverrideMode::Exclude
        && let Some(row) = segment_member::Entity::find_by_id((segment_id, customer_id))
            .one(&txn)
            .await?
        && row.source == Source::Manual.as_str()
    {
        leave(&txn, segment_id, customer_id, Cause::Manual, context.now).await?;
        changes.push(MembershipChange {
            segment_id,
            joined: false,
        });
    }
    changes.extend(refresh_within(&txn, context, customer_id, Some(segment_id)).await?);
    txn.commit().await?;
    Ok(changes)
}

/// Removes an override, letting the rule decide again at once; returns the membership changes.
pub async fn clear_override<C>(
    db: &C,
    context: &Context,
    segment_id: i64,
    customer_id: i64,
) -> Result<Vec<MembershipChange>, StoreError>
where
    C: ConnectionTrait + TransactionTrait,
{
    let txn = begin_write(db).await?;
    get(&txn, segment_id).await?;
    segment_override::Entity::delete_by_id((segment_id, customer_id))
        .exec(&txn)
        .await?;
    let changes = refresh_within(&txn, context, customer_id, Some(segment_id)).await?;
    txn.commit().await?;
    Ok(changes)
}
