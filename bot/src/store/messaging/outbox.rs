//! The outbox: join messages and broadcasts as rows, written in the same transaction as what
//! caused them, and worked off by the bot's sender (`telegram::outbox`).
//!
//! Delivery is at most once. A sender claims a message (state `sending`, committed) before it
//! calls Telegram and confirms it afterwards, so a crash between the two never resends: a
//! claim older than `messages.claim_timeout` becomes `unknown` and stays so. Claims are
//! conditional updates (`... WHERE id = ? AND state = 'queued'`), so two bot instances never
//! both take one message. Every message has a unique `dedupe_key`: one join (its
//! `membership_event` row) or one broadcast makes at most one message per shopper.
//!
//! Kinds: `join` and `broadcast` are news, which a shopper who turned messages off never
//! gets; `service` messages (an order's updates) are what a shopper asked for by ordering, so
//! they go to everyone but a shopper who blocked the bot.
//!
//! States: `queued` → `sending` → `sent`, or `failed` (refused, blocked, out of tries),
//! `skipped` (the shopper turned news off or blocked the bot before it was sent), or
//! `unknown` (its sender died mid-send). A 429 or a server error puts it back to `queued`
//! with a later `next_attempt_at`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, TransactionSession, TransactionTrait,
};
use storebot_entity::{customer, outbox_message};

use crate::store::{StoreError, begin_write};

/// Where a message stands, as stored in `outbox_message.state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Queued,
    Sending,
    Sent,
    Failed,
    Skipped,
    Unknown,
}

impl State {
    pub const ALL: [State; 6] = [
        State::Queued,
        State::Sending,
        State::Sent,
        State::Failed,
        State::Skipped,
        State::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Sending => "sending",
            State::Sent => "sent",
            State::Failed => "failed",
            State::Skipped => "skipped",
            State::Unknown => "unknown",
        }
    }

    pub(super) fn parse(text: &str) -> Option<State> {
        State::ALL.into_iter().find(|state| state.as_str() == text)
    }
}

/// Customers who take messages: not opted out, not blocked.
pub(super) fn reachable() -> Condition {
    Condition::all()
        .add(customer::Column::MessagesOptOut.eq(false))
        .add(customer::Column::BlockedAt.is_null())
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn queue(
    db: &impl ConnectionTrait,
    shopper: &customer::Model,
    kind: &str,
    segment_id: Option<i64>,
    broadcast_id: Option<i64>,
    dedupe_key: String,
    text: String,
    button: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    outbox_message::ActiveModel {
        customer_id: Set(shopper.id),
        chat_id: Set(shopper.chat_id),
        kind: Set(kind.to_owned()),
        segment_id: Set(segment_id),
        broadcast_id: Set(broadcast_id),
        dedupe_key: Set(dedupe_key),
        text: Set(text),
        button: Set(button.map(str::to_owned)),
        state: Set(State::Queued.as_str().to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        claimed_at: Set(None),
        sent_at: Set(None),
        error: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The kind of a message about the shopper's own business (an order's updates).
pub const SERVICE: &str = "service";

/// Queues a service message to one shopper inside the caller's transaction, so it exists iff
/// what caused it commits: sent even if they turned news off, never if they blocked the bot.
/// `dedupe_key` names its cause (say `order:12:shipped`): a second call with the same key
/// queues nothing. Returns whether a message was queued.
pub async fn enqueue_service(
    db: &impl ConnectionTrait,
    customer_id: i64,
    dedupe_key: &str,
    text: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let Some(shopper) = customer::Entity::find_by_id(customer_id)
        .filter(customer::Column::BlockedAt.is_null())
        .one(db)
        .await?
    else {
        return Ok(false);
    };
    let text: String = text
        .chars()
        .take(crate::limits::MAX_MESSAGE_LENGTH)
        .collect();
    let insert = Query::insert()
        .into_table(outbox_message::Entity)
        .columns([
            outbox_message::Column::CustomerId,
            outbox_message::Column::ChatId,
            outbox_message::Column::Kind,
            outbox_message::Column::DedupeKey,
            outbox_message::Column::Text,
            outbox_message::Column::State,
            outbox_message::Column::Attempts,
            outbox_message::Column::NextAttemptAt,
            outbox_message::Column::CreatedAt,
        ])
        .values([
            shopper.id.into(),
            shopper.chat_id.into(),
            SERVICE.into(),
            dedupe_key.into(),
            text.into(),
            State::Queued.as_str().into(),
            0.into(),
            now.into(),
            now.into(),
        ])
        .map_err(|error| StoreError::Invalid(error.to_string()))?
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(outbox_message::Column::DedupeKey)
                .do_nothing()
                .to_owned(),
        )
        .to_owned();
    Ok(db.execute(&insert).await?.rows_affected() == 1)
}

/// A message a sender has claimed and must now send (once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub id: i64,
    pub customer_id: i64,
    pub chat_id: i64,
    pub text: String,
    pub button: Option<String>,
    /// Tries so far, this one included.
    pub attempts: i32,
    pub language_code: Option<String>,
}

/// Marks messages whose sender claimed them before `stale_before` and never confirmed as
/// `unknown`: that sender died mid-send, and the message may or may not have arrived, so it
/// is never sent again. Returns how many.
pub async fn expire_claims(
    db: &impl ConnectionTrait,
    stale_before: DateTime<Utc>,
) -> Result<u64, StoreError> {
    Ok(outbox_message::Entity::update_many()
        .col_expr(
            outbox_message::Column::State,
            Expr::val(State::Unknown.as_str()),
        )
        .col_expr(
            outbox_message::Column::Error,
            Expr::val("claimed by a sender that stopped before confirming; not resent"),
        )
        .filter(outbox_message::Column::State.eq(State::Sending.as_str()))
        .filter(outbox_message::Column::ClaimedAt.lt(stale_before))
        .exec(db)
        .await?
        .rows_affected)
}

/// Claims the oldest due message whose chat had no outbox message in the last
/// `per_chat_interval`, committing the claim before returning it. Due messages of shoppers
/// who turned messages off or blocked the bot meanwhile are marked `skipped` on the way.
/// `None` when nothing can be sent now.
pub async fn claim_next(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    per_chat_interval: chrono::TimeDelta,
) -> Result<Option<Claimed>, StoreError> {
    let candidates = outbox_message::Entity::find()
        .filter(outbox_message::Column::State.eq(State::Queued.as_str()))
        .filter(outbox_message::Column::NextAttemptAt.lte(now))
        .order_by_asc(outbox_message::Column::NextAttemptAt)
        .order_by_asc(outbox_message::Column::Id)
        .limit(64)
        .all(db)
        .await?;
    if candidates.is_empty() {
        return Ok(None);
    }
    let chats: BTreeSet<i64> = candidates.iter().map(|message| message.chat_id).collect();
    let busy: BTreeSet<i64> = outbox_message::Entity::find()
        .select_only()
        .column(outbox_message::Column::ChatId)
        .distinct()
        .filter(outbox_message::Column::ChatId.is_in(chats))
        // Still being sent, or claimed or confirmed within the interval: measured from the
        // confirmation too, so the gap holds where Telegram receives the messages, however
        // long a send took.
        .filter(
            Condition::any()
                .add(outbox_message::Column::State.eq(State::Sending.as_str()))
                .add(outbox_message::Column::ClaimedAt.gt(now - per_chat_interval))
                .add(outbox_message::Column::SentAt.gt(now - per_chat_interval)),
        )
        .into_tuple::<i64>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let customer_ids: BTreeSet<i64> = candidates.iter().map(|m| m.customer_id).collect();
    let customers: BTreeMap<i64, customer::Model> = customer::Entity::find()
        .filter(customer::Column::Id.is_in(customer_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|customer| (customer.id, customer))
        .collect();
    for message in candidates {
        if busy.contains(&message.chat_id) {
            continue;
        }
        let Some(shopper) = customers.get(&message.customer_id) else {
            continue;
        };
        let still_queued = Condition::all()
            .add(outbox_message::Column::Id.eq(message.id))
            .add(outbox_message::Column::State.eq(State::Queued.as_str()));
        let news_off = shopper.messages_opt_out && message.kind != SERVICE;
        if news_off || shopper.blocked_at.is_some() {
            let reason = if news_off {
                "the shopper turned messages off"
            } else {
                "the shopper blocked the bot"
            };
            outbox_message::Entity::update_many()
                .col_expr(
                    outbox_message::Column::State,
                    Expr::val(State::Skipped.as_str()),
                )
                .col_expr(outbox_message::Column::Error, Expr::val(reason))
                .filter(still_queued)
                .exec(db)
                .await?;
            continue;
        }
        let claimed = outbox_message::Entity::update_many()
            .col_expr(
                outbox_message::Column::State,
                Expr::val(State::Sending.as_str()),
            )
            .col_expr(outbox_message::Column::ClaimedAt, Expr::val(now))
            .col_expr(
                outbox_message::Column::Attempts,
                Expr::col(outbox_message::Column::Attempts).add(1),
            )
            .filter(still_queued)
            .exec(db)
            .await?
            .rows_affected;
        if claimed == 1 {
            return Ok(Some(Claimed {
                id: message.id,
                customer_id: message.customer_id,
                chat_id: message.chat_id,
                text: message.text,
                button: message.button,
                attempts: message.attempts + 1,
                language_code: shopper.language_code.clone(),
            }));
        }
        // Another instance took it first; try the next one.
    }
    Ok(None)
}

async fn finish(
    db: &impl ConnectionTrait,
    id: i64,
    state: State,
    error: Option<String>,
    sent_at: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    outbox_message::Entity::update_many()
        .col_expr(outbox_message::Column::State, Expr::val(state.as_str()))
        .col_expr(outbox_message::Column::Error, Expr::val(error))
        .col_expr(outbox_message::Column::SentAt, Expr::val(sent_at))
        .filter(outbox_message::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Telegram took the message.
pub async fn mark_sent(
    db: &impl ConnectionTrait,
    id: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    finish(db, id, State::Sent, None, Some(now)).await
}

/// Telegram refused the message for good.
pub async fn mark_failed(
    db: &impl ConnectionTrait,
    id: i64,
    error: &str,
) -> Result<(), StoreError> {
    finish(db, id, State::Failed, Some(error.to_owned()), None).await
}

/// The send may or may not have arrived (the connection dropped mid-answer): never resent.
pub async fn mark_unknown(
    db: &impl ConnectionTrait,
    id: i64,
    error: &str,
) -> Result<(), StoreError> {
    finish(db, id, State::Unknown, Some(error.to_owned()), None).await
}

/// Telegram answered 403: the shopper blocked the bot. The message fails and the shopper is
/// marked blocked (their other queued messages are skipped when their turn comes), in one
/// transaction.
pub async fn mark_blocked<C>(
    db: &C,
    id: i64,
    customer_id: i64,
    error: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError>
where
    C: ConnectionTrait + TransactionTrait,
{
    let txn = begin_write(db).await?;
    finish(&txn, id, State::Failed, Some(error.to_owned()), None).await?;
    customer::Entity::update_many()
        .col_expr(customer::Column::BlockedAt, Expr::val(now))
        .filter(customer::Column::Id.eq(customer_id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

/// Telegram did not take the message (429, a server error): queue it again for `at`.
pub async fn requeue(
    db: &impl ConnectionTrait,
    id: i64,
    at: DateTime<Utc>,
    error: &str,
) -> Result<(), StoreError> {
    outbox_message::Entity::update_many()
        .col_expr(
            outbox_message::Column::State,
            Expr::val(State::Queued.as_str()),
        )
        .col_expr(outbox_message::Column::NextAttemptAt, Expr::val(at))
        .col_expr(outbox_message::Column::Error, Expr::val(error))
        .filter(outbox_message::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Every message to one shopper, oldest first (tests and the admin tool).
pub async fn messages_of(
    db: &impl ConnectionTrait,
    customer_id: i64,
) -> Result<Vec<outbox_message::Model>, StoreError> {
    Ok(outbox_message::Entity::find()
        .filter(outbox_message::Column::CustomerId.eq(customer_id))
        .order_by_asc(outbox_message::Column::Id)
        .all(db)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_service_message_reaches_a_shopper_with_news_off_once_and_never_a_blocked_one() {
        use crate::store::shoppers::customers::{TelegramUser, record_interaction};
        let test = crate::testing::TestDb::new().await.expect("test db");
        let db = &test.db;
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let quiet = record_interaction(db, &TelegramUser::new(501, "Quiet"), now)
            .await
            .expect("shopper");
        let gone = record_interaction(db, &TelegramUser::new(502, "Gone"), now)
            .await
            .expect("shopper");
        customer::Entity::update_many()
            .col_expr(customer::Column::MessagesOptOut, Expr::value(true))
            .filter(customer::Column::Id.eq(quiet.id))
            .exec(db)
            .await
            .expect("news off");
        customer::Entity::update_many()
            .col_expr(customer::Column::BlockedAt, Expr::value(now))
            .filter(customer::Column::Id.eq(gone.id))
            .exec(db)
            .await
            .expect("blocked");
        assert!(
            enqueue_service(db, quiet.id, "order:1:shipped", "Shipped", now)
                .await
                .expect("queue")
        );
        assert!(
            !enqueue_service(db, quiet.id, "order:1:shipped", "Shipped", now)
                .await
                .expect("queue again"),
            "one message per cause"
        );
        assert!(
            !enqueue_service(db, gone.id, "order:2:shipped", "Shipped", now)
                .await
                .expect("queue blocked")
        );
        let claimed = claim_next(db, now, chrono::TimeDelta::zero())
            .await
            .expect("claim")
            .expect("the service message is sent although news is off");
        assert_eq!(claimed.customer_id, quiet.id);
        assert_eq!(claimed.text, "Shipped");
        assert!(
            claim_next(db, now, chrono::TimeDelta::zero())
                .await
                .expect("claim")
                .is_none()
        );
    }

    #[test]
    fn states_read_back_as_written() {
        for state in State::ALL {
            assert_eq!(State::parse(state.as_str()), Some(state));
        }
        assert_eq!(State::parse("lost"), None);
    }
}
