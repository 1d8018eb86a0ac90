//! Broadcasts: one message to every current member of a segment who takes news, queued in one
//! transaction with its `broadcast` row, and their progress.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, JoinType,
    QueryFilter, QueryOrder, QuerySelect, TransactionSession, TransactionTrait,
};
use storebot_entity::{broadcast, customer, outbox_message, segment, segment_member};

use crate::store::messaging::outbox::State;
use crate::store::{StoreError, begin_write};

/// Telegram refuses longer texts; a broadcast is one message.
pub const MAX_BROADCAST_LENGTH: usize = crate::limits::MAX_MESSAGE_LENGTH;

/// Queues `text` for every current member of `segment_id` who takes messages, in one
/// transaction, and records the broadcast with how many were queued and left out.
pub async fn broadcast<C>(
    db: &C,
    segment_id: i64,
    text: &str,
    now: DateTime<Utc>,
) -> Result<broadcast::Model, StoreError>
where
    C: ConnectionTrait + TransactionTrait,
{
    let text = text.trim();
    if text.is_empty() {
        return Err(StoreError::Invalid(
            "a broadcast needs a text (--text)".to_owned(),
        ));
    }
    if text.chars().count() > MAX_BROADCAST_LENGTH {
        return Err(StoreError::Invalid(format!(
            "a broadcast is one Telegram message of at most {MAX_BROADCAST_LENGTH} characters; \
             this text has {}",
            text.chars().count()
        )));
    }
    let txn = begin_write(db).await?;
    let segment = segment::Entity::find_by_id(segment_id)
        .one(&txn)
        .await?
        .ok_or_else(|| StoreError::not_found("segment", segment_id))?;
    let members = customer::Entity::find()
        .join(
            JoinType::InnerJoin,
            customer::Entity::belongs_to(segment_member::Entity)
                .from(customer::Column::Id)
                .to(segment_member::Column::CustomerId)
                .into(),
        )
        .filter(segment_member::Column::SegmentId.eq(segment_id))
        .order_by_asc(customer::Column::Id)
        .all(&txn)
        .await?;
    let opted_out = members.iter().filter(|c| c.messages_opt_out).count();
    let blocked = members
        .iter()
        .filter(|c| !c.messages_opt_out && c.blocked_at.is_some())
        .count();
    let recipients: Vec<&customer::Model> = members
        .iter()
        .filter(|c| !c.messages_opt_out && c.blocked_at.is_none())
        .collect();
    let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    let record = broadcast::ActiveModel {
        segment_id: Set(segment.id),
        segment_name: Set(segment.name.clone()),
        text: Set(text.to_owned()),
        recipients: Set(count(recipients.len())),
        skipped_opt_out: Set(count(opted_out)),
        skipped_blocked: Set(count(blocked)),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    // In chunks: one statement per member would make a large segment slow, one statement for
    // all of them could pass the database's limit on bound values.
    for chunk in recipients.chunks(500) {
        let rows = chunk.iter().map(|shopper| outbox_message::ActiveModel {
            customer_id: Set(shopper.id),
            chat_id: Set(shopper.chat_id),
            kind: Set("broadcast".to_owned()),
            segment_id: Set(Some(segment.id)),
            broadcast_id: Set(Some(record.id)),
            dedupe_key: Set(format!("broadcast:{}:{}", record.id, shopper.id)),
            text: Set(text.to_owned()),
            button: Set(None),
            state: Set(State::Queued.as_str().to_owned()),
            attempts: Set(0),
            next_attempt_at: Set(now),
            claimed_at: Set(None),
            sent_at: Set(None),
            error: Set(None),
            created_at: Set(now),
            ..Default::default()
        });
        outbox_message::Entity::insert_many(rows).exec(&txn).await?;
    }
    txn.commit().await?;
    Ok(record)
}

/// A broadcast with how many of its messages are in each state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BroadcastProgress {
    pub broadcast: broadcast::Model,
    pub states: BTreeMap<State, u64>,
}

impl BroadcastProgress {
    pub fn count(&self, state: State) -> u64 {
        self.states.get(&state).copied().unwrap_or(0)
    }

    /// Nothing left to send (a message being sent counts as not done).
    pub fn done(&self) -> bool {
        self.count(State::Queued) + self.count(State::Sending) == 0
    }
}

/// The latest broadcasts, newest first, with their progress.
pub async fn broadcasts(
    db: &impl ConnectionTrait,
    limit: u64,
) -> Result<Vec<BroadcastProgress>, StoreError> {
    let records = broadcast::Entity::find()
        .order_by_desc(broadcast::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    let ids: Vec<i64> = records.iter().map(|record| record.id).collect();
    let counts: Vec<(Option<i64>, String, i64)> = outbox_message::Entity::find()
        .select_only()
        .column(outbox_message::Column::BroadcastId)
        .column(outbox_message::Column::State)
        .column_as(outbox_message::Column::Id.count(), "n")
        .filter(outbox_message::Column::BroadcastId.is_in(ids))
        .group_by(outbox_message::Column::BroadcastId)
        .group_by(outbox_message::Column::State)
        .into_tuple()
        .all(db)
        .await?;
    let mut by_broadcast: BTreeMap<i64, BTreeMap<State, u64>> = BTreeMap::new();
    for (id, state, n) in counts {
        if let (Some(id), Some(state)) = (id, State::parse(&state)) {
            *by_broadcast
                .entry(id)
                .or_default()
                .entry(state)
                .or_default() += u64::try_from(n).unwrap_or(0);
        }
    }
    Ok(records
        .into_iter()
        .map(|broadcast| BroadcastProgress {
            states: by_broadcast.remove(&broadcast.id).unwrap_or_default(),
            broadcast,
        })
        .collect())
}

/// One broadcast's progress.
pub async fn broadcast_progress(
    db: &impl ConnectionTrait,
    broadcast_id: i64,
) -> Result<BroadcastProgress, StoreError> {
    let broadcast = broadcast::Entity::find_by_id(broadcast_id)
        .one(db)
        .await?
        .ok_or_else(|| StoreError::not_found("broadcast", broadcast_id))?;
    let counts: Vec<(String, i64)> = outbox_message::Entity::find()
        .select_only()
        .column(outbox_message::Column::State)
        .column_as(outbox_message::Column::Id.count(), "n")
        .filter(outbox_message::Column::BroadcastId.eq(broadcast_id))
        .group_by(outbox_message::Column::State)
        .into_tuple()
        .all(db)
        .await?;
    let states = counts
        .into_iter()
        .filter_map(|(state, n)| Some((State::parse(&state)?, u64::try_from(n).unwrap_or(0))))
        .collect();
    Ok(BroadcastProgress { broadcast, states })
}
