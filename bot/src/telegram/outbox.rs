//! The outbox sender: a task in the bot process that sends the join messages and broadcasts
//! waiting in `store::messaging::outbox`, within Telegram's limits (`[messages]`: so many a second from
//! this instance, a gap between two messages to one chat, and a few sends in flight at once).
//!
//! Each message is claimed (committed) before it is sent and confirmed after, so a crash in
//! between never sends it twice (it becomes `unknown` after `messages.claim_timeout`). A send
//! is tried once per claim: Telegram's "retry after" (429) and server errors (an answer that is
//! not JSON, such as a proxy's error page, counts as one) put it back in the queue for later, 403 marks the shopper blocked, a connection that broke after the
//! request went out makes it `unknown`, anything else fails it. Asked to stop, the sender
//! starts no new send and waits for those in flight, so a clean shutdown leaves no message
//! half-sent.

use std::sync::Arc;
use std::time::Duration;

use crate::store::DatabaseConnection;
use chrono::{TimeDelta, Utc};
use teloxide::prelude::*;
use teloxide::requests::Request;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup, ParseMode};
use teloxide::{ApiError, RequestError};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

use crate::conversation::callback::Callback;
use crate::conversation::texts::Texts;
use crate::store::messaging::joins::CATALOG_BUTTON;
use crate::store::messaging::outbox::{self, Claimed};
use storebot_config::Settings;

/// How long the sender waits after a database error before it looks again.
const DATABASE_PAUSE: Duration = Duration::from_secs(5);

/// How often stale claims are looked for: a write, so not once per message (on SQLite every
/// write waits for the one write lock the shoppers' updates need too).
const EXPIRY_INTERVAL: Duration = Duration::from_secs(1);

/// Sends outbox messages until `stop` turns true. Never returns early on an error: a dead
/// sender would silently hold every join message and broadcast.
///
/// Sends are started at the paced rate, and up to `messages.in_flight` of them wait for
/// Telegram's answer at once, so that a slow round trip doesn't hold the rate down. On stop,
/// the sends in flight are finished and recorded before it returns.
pub async fn run_sender(
    settings: Arc<Settings>,
    db: DatabaseConnection,
    mut stop: watch::Receiver<bool>,
) {
    let bot = match super::client::bot(&settings.telegram) {
        Ok(bot) => bot,
        Err(error) => {
            tracing::error!(%error, "the outbox sender can't start");
            return;
        }
    };
    let limits = &settings.messages;
    let spacing = Duration::from_secs(1) / limits.per_second.max(1);
    let mut pace = tokio::time::interval(spacing);
    pace.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let per_chat = TimeDelta::from_std(limits.per_chat_interval).unwrap_or(TimeDelta::seconds(1));
    let claim_timeout = TimeDelta::from_std(limits.claim_timeout).unwrap_or(TimeDelta::seconds(60));
    let in_flight = usize::try_from(limits.in_flight.max(1)).unwrap_or(1);
    tracing::info!(
        per_second = limits.per_second,
        per_chat_ms = per_chat.num_milliseconds(),
        in_flight,
        "outbox sender started"
    );
    let mut sends: JoinSet<Step> = JoinSet::new();
    // Set by a 429: no new send starts before then.
    let mut resume_at = Instant::now();
    let mut next_expiry = Instant::now();
    loop {
        while let Some(done) = sends.try_join_next() {
            resume_at = resume_at.max(after(done));
        }
        if *stop.borrow() {
            break;
        }
        let pause = if resume_at > Instant::now() {
            Some(resume_at - Instant::now())
        } else if sends.len() >= in_flight {
            tokio::select! {
                _ = stop.wait_for(|stop| *stop) => break,
                Some(done) = sends.join_next() => resume_at = resume_at.max(after(done)),
            }
            None
        } else {
            let expire = Instant::now() >= next_expiry;
            if expire {
                next_expiry = Instant::now() + EXPIRY_INTERVAL;
            }
            match claim(&db, per_chat, claim_timeout, expire).await {
                Ok(Some(claimed)) => {
                    pace.tick().await;
                    let (bot, settings, db) = (bot.clone(), Arc::clone(&settings), db.clone());
                    sends.spawn(async move { deliver(&bot, &settings, &db, &claimed).await });
                    None
                }
                Ok(None) => Some(limits.poll_interval),
                Err(()) => Some(DATABASE_PAUSE),
            }
        };
        if let Some(pause) = pause {
            tokio::select! {
                _ = stop.wait_for(|stop| *stop) => break,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }
    // Nothing is left `sending` by a clean stop: the sends in flight end and are recorded.
    while let Some(done) = sends.join_next().await {
        after(done);
    }
    tracing::info!("outbox sender stopped");
}

/// What became of one send: carry on at once, or Telegram or the database asked for a pause.
enum Step {
    Sent,
    Wait(Duration),
}

/// When the next send may start, after one ended this way.
fn after(done: Result<Step, tokio::task::JoinError>) -> Instant {
    match done {
        Ok(Step::Sent) => Instant::now(),
        Ok(Step::Wait(wait)) => Instant::now() + wait,
        Err(error) => {
            // The message stays `sending` and expires to `unknown`: never sent twice.
            tracing::error!(%error, "an outbox send ended abnormally");
            Instant::now()
        }
    }
}

/// The next due message, claimed (after marking stale claims `unknown` when `expire`);
/// `Err` after logging a database failure.
async fn claim(
    db: &DatabaseConnection,
    per_chat: TimeDelta,
    claim_timeout: TimeDelta,
    expire: bool,
) -> Result<Option<Claimed>, ()> {
    let now = Utc::now();
    if expire {
        match outbox::expire_claims(db, now - claim_timeout).await {
            Ok(0) => {}
            Ok(expired) => tracing::warn!(
                expired,
                "outbox messages whose sender stopped mid-send are marked unknown (not resent)"
            ),
            Err(error) => {
                tracing::error!(%error, "the outbox can't be read");
                return Err(());
            }
        }
    }
    outbox::claim_next(db, now, per_chat)
        .await
        .map_err(|error| {
            tracing::error!(%error, "an outbox message can't be claimed");
        })
}

/// Sends one claimed message and records the outcome.
async fn deliver(
    bot: &Bot,
    settings: &Settings,
    db: &DatabaseConnection,
    claimed: &Claimed,
) -> Step {
    let result = send(bot, settings, claimed).await;
    match record(db, settings, claimed, result).await {
        Ok(step) => step,
        Err(error) => {
            // The claim stays `sending` and expires to `unknown`: never sent twice.
            tracing::error!(%error, id = claimed.id, "an outbox message's outcome can't be recorded");
            Step::Wait(DATABASE_PAUSE)
        }
    }
}

async fn send(bot: &Bot, settings: &Settings, claimed: &Claimed) -> Result<(), RequestError> {
    let mut request = bot.send_message(ChatId(claimed.chat_id), claimed.text.clone());
    // Plain text: the merchant's message and product titles are never read as markup.
    request.parse_mode = None::<ParseMode>;
    if claimed.button.as_deref() == Some(CATALOG_BUTTON) {
        let texts = Texts::for_language(settings, claimed.language_code.as_deref());
        request.reply_markup = Some(
            InlineKeyboardMarkup::new([[InlineKeyboardButton::callback(
                texts.get("join_message_button"),
                Callback::Catalog { page: 0 }.to_string(),
            )]])
            .into(),
        );
    }
    request.send().await.map(|_| ())
}

/// Writes what became of one send, and says what the sender does next.
async fn record(
    db: &DatabaseConnection,
    settings: &Settings,
    claimed: &Claimed,
    result: Result<(), RequestError>,
) -> Result<Step, crate::store::StoreError> {
    let now = Utc::now();
    let id = claimed.id;
    let error = match result {
        Ok(()) => {
            outbox::mark_sent(db, id, now).await?;
            return Ok(Step::Sent);
        }
        Err(error) => error,
    };
    // Bounded: a proxy's error page is not kept whole in the row or the log.
    let text = super::send::describe(&error);
    match &error {
        RequestError::RetryAfter(seconds) => {
            // Flood control is for the whole bot: the message waits, and so does the sender.
            let wait = seconds.duration();
            tracing::warn!(
                id,
                retry_after_secs = seconds.seconds(),
                "Telegram asked the outbox to slow down"
            );
            outbox::requeue(db, id, now + delta(wait), &text).await?;
            Ok(Step::Wait(wait))
        }
        RequestError::Api(
            ApiError::BotBlocked
            | ApiError::UserDeactivated
            | ApiError::CantInitiateConversation
            | ApiError::BotKicked,
        ) => {
            tracing::info!(
                id,
                chat_id = claimed.chat_id,
                "the shopper blocked the bot; no more messages to them"
            );
            outbox::mark_blocked(db, id, claimed.customer_id, &text, now).await?;
            Ok(Step::Sent)
        }
        RequestError::Api(ApiError::Unknown(description))
            if description.starts_with("Forbidden") =>
        {
            outbox::mark_blocked(db, id, claimed.customer_id, &text, now).await?;
            Ok(Step::Sent)
        }
        _ if not_delivered(&error) => {
            let attempts = u32::try_from(claimed.attempts).unwrap_or(u32::MAX);
            if attempts >= settings.messages.max_attempts {
                tracing::warn!(id, error = %text, attempts, "an outbox message failed for good");
                outbox::mark_failed(db, id, &text).await?;
            } else {
                // 2s, 4s, 8s, ... between tries.
                let backoff = Duration::from_secs(1u64 << attempts.min(10));
                tracing::warn!(id, error = %text, ?backoff, "an outbox message will be tried again");
                outbox::requeue(db, id, now + delta(backoff), &text).await?;
            }
            Ok(Step::Sent)
        }
        RequestError::Network(_) | RequestError::Io(_) => {
            tracing::warn!(id, %error, "the connection broke during a send; the message may have arrived and is not resent");
            outbox::mark_unknown(db, id, &text).await?;
            Ok(Step::Sent)
        }
        _ => {
            tracing::warn!(id, error = %text, "Telegram refused an outbox message");
            outbox::mark_failed(db, id, &text).await?;
            Ok(Step::Sent)
        }
    }
}

/// Failures after which the message surely did not arrive, so it may be tried again: the
/// connection could not be made, or Telegram answered with a server error (an answer that is
/// not JSON, such as a proxy's error page, included).
fn not_delivered(error: &RequestError) -> bool {
    match error {
        RequestError::Network(network) => network.is_connect(),
        RequestError::Api(_) | RequestError::InvalidJson { .. } => {
            super::send::is_server_error(error)
        }
        _ => false,
    }
}

fn delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::seconds(60))
}
