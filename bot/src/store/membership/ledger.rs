//! The membership vocabulary and the ledger: why a shopper is in a segment ([`Source`]), why
//! they joined or left ([`Cause`]), the merchant's overrides ([`OverrideMode`]), and the one pair
//! of functions that add or remove a membership row together with its `membership_event`.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait};
use storebot_entity::{membership_event, segment_member};

use crate::store::StoreError;

/// Who put a member in a segment, as stored in `segment_member.source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The recompute (the rule, or an include override); the job may take it away.
    Rule,
    /// The merchant, by hand; the job never removes it.
    Manual,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Rule => "rule",
            Source::Manual => "manual",
        }
    }

    /// The source as stored in `segment_member.source`.
    pub fn parse(stored: &str) -> Option<Source> {
        [Source::Rule, Source::Manual]
            .into_iter()
            .find(|source| source.as_str() == stored)
    }
}

/// Why a member joined or left, as stored in `membership_event.cause`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    Rule,
    Manual,
    /// The segment went out of force (inactive, not started, or expired).
    Expiry,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Rule => "rule",
            Cause::Manual => "manual",
            Cause::Expiry => "expiry",
        }
    }
}

/// A merchant's override of an auto segment's rule for one customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OverrideMode {
    /// A member whatever the rule says.
    Include,
    /// Never a member, whatever the rule says.
    Exclude,
}

impl OverrideMode {
    pub fn as_str(self) -> &'static str {
        match self {
            OverrideMode::Include => "include",
            OverrideMode::Exclude => "exclude",
        }
    }

    /// The mode as stored in `segment_override.mode`.
    pub fn parse(stored: &str) -> Option<OverrideMode> {
        [OverrideMode::Include, OverrideMode::Exclude]
            .into_iter()
            .find(|mode| mode.as_str() == stored)
    }
}

/// Adds a membership row and its ledger entry (inside the caller's transaction).
pub(crate) async fn join(
    db: &impl ConnectionTrait,
    segment_id: i64,
    customer_id: i64,
    source: Source,
    cause: Cause,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    segment_member::ActiveModel {
        segment_id: Set(segment_id),
        customer_id: Set(customer_id),
        source: Set(source.as_str().to_owned()),
        since: Set(now),
    }
    .insert(db)
    .await?;
    record(db, segment_id, customer_id, true, cause, now).await
}

/// [`join`] for many customers of one segment, a few statements for the lot (inside the
/// caller's transaction): the membership rows, then their ledger entries.
pub(crate) async fn join_many(
    db: &impl ConnectionTrait,
    segment_id: i64,
    customer_ids: &[i64],
    source: Source,
    cause: Cause,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    for chunk in customer_ids.chunks(crate::store::bulk::CHUNK) {
        segment_member::Entity::insert_many(chunk.iter().map(|customer_id| {
            segment_member::ActiveModel {
                segment_id: Set(segment_id),
                customer_id: Set(*customer_id),
                source: Set(source.as_str().to_owned()),
                since: Set(now),
            }
        }))
        .exec_without_returning(db)
        .await?;
        membership_event::Entity::insert_many(chunk.iter().map(|customer_id| {
            membership_event::ActiveModel {
                segment_id: Set(segment_id),
                customer_id: Set(*customer_id),
                kind: Set("joined".to_owned()),
                cause: Set(cause.as_str().to_owned()),
                run_id: Set(None),
                at: Set(now),
                ..Default::default()
            }
        }))
        .exec_without_returning(db)
        .await?;
    }
    Ok(())
}

/// Removes a membership row and writes its ledger entry (inside the caller's transaction).
pub(crate) async fn leave(
    db: &impl ConnectionTrait,
    segment_id: i64,
    customer_id: i64,
    cause: Cause,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    segment_member::Entity::delete_by_id((segment_id, customer_id))
        .exec(db)
        .await?;
    record(db, segment_id, customer_id, false, cause, now).await
}

async fn record(
    db: &impl ConnectionTrait,
    segment_id: i64,
    customer_id: i64,
    joined: bool,
    cause: Cause,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    membership_event::ActiveModel {
        segment_id: Set(segment_id),
        customer_id: Set(customer_id),
        kind: Set(if joined { "joined" } else { "left" }.to_owned()),
        cause: Set(cause.as_str().to_owned()),
        run_id: Set(None),
        at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// One shopper joining or leaving one segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MembershipChange {
    pub segment_id: i64,
    pub joined: bool,
}
