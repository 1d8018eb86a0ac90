//! What the fake remembers, shared by the HTTP handlers and the test's handle.
//!
//! One `std::sync::Mutex` guards everything; it is never held across an `.await`. Two
//! `Notify`s wake waiters: `updates` for long polls, `events` for the test's waits (a reply,
//! a call, a confirmation). Waiters register with `Notified::enable` before they look at the
//! state, so a wake-up between the look and the wait is not lost.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard};

use serde_json::Value;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::model::{
    CallbackAnswer, FakeFailure, RecordedCall, ReplyKeyboard, SentMessage, TestUser,
};

/// The first update id: far from message ids and user ids, so a mix-up shows.
const FIRST_UPDATE_ID: i64 = 500_000;

/// Each fake started in this process numbers its updates from a fresh million. Telegram never
/// reuses an update id for a bot, and the bot skips an id it has already handled, so a test
/// that restarts the bot against a second fake on the same database must not replay the ids
/// of the first.
static FAKES_STARTED: AtomicI64 = AtomicI64::new(0);

#[derive(Default)]
pub(crate) struct Shared {
    state: Mutex<State>,
    pub(crate) updates: Notify,
    pub(crate) events: Notify,
}

impl Shared {
    /// The state. A panic in a test thread while holding the lock must not take the server
    /// down with it, so poisoning is ignored: the state is still consistent enough for a fake.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `check` until it returns `Some`, waking on `events`, for at most until `deadline`.
    pub(crate) async fn wait_for<T>(
        &self,
        deadline: Instant,
        mut check: impl FnMut(&mut State) -> Option<T>,
    ) -> Option<T> {
        loop {
            let notified = self.events.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if let Some(found) = check(&mut self.lock()) {
                return Some(found);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return check(&mut self.lock());
            }
        }
    }
}

/// An update waiting for the bot.
pub(crate) struct Pending {
    pub(crate) id: i64,
    pub(crate) update: Value,
    /// Sent in a `getUpdates` answer at least once. Only delivered updates are confirmed by
    /// `offset`, so a raw update pushed later with an old id (a duplicate) still reaches the
    /// bot once; for updates with fresh ids this is exactly Telegram's rule.
    pub(crate) delivered: bool,
}

/// A message in a chat, kept so that edits, deletions and button presses can refer to it.
pub(crate) struct StoredMessage {
    pub(crate) json: Value,
    pub(crate) from_bot: bool,
    pub(crate) parse_mode: Option<String>,
    pub(crate) reply_keyboard: Option<ReplyKeyboard>,
}

pub(crate) struct State {
    next_update_id: i64,
    pub(crate) pending: VecDeque<Pending>,
    /// Every update ever queued, by id, so that a test can deliver one again.
    pub(crate) history: HashMap<i64, Value>,
    /// Incremented by every `getUpdates`: an older long poll that sees a newer generation
    /// answers 409, as Telegram does when two bot instances poll.
    pub(crate) poll_generation: u64,
    pub(crate) webhook_url: String,
    pub(crate) commands: HashMap<String, Value>,
    pub(crate) calls: Vec<RecordedCall>,
    /// Per chat, the last message id used; user and bot messages share the sequence, as in a
    /// real private chat.
    last_message_id: HashMap<i64, i64>,
    pub(crate) messages: HashMap<(i64, i64), StoredMessage>,
    pub(crate) deleted: Vec<(i64, i64)>,
    /// Per chat, the bot's messages and edits the test has not taken with `next_reply` yet.
    pub(crate) replies: HashMap<i64, VecDeque<SentMessage>>,
    /// Callback query id → the update that carried it.
    pub(crate) callback_queries: HashMap<String, i64>,
    pub(crate) callback_answers: Vec<CallbackAnswer>,
    pub(crate) failures: HashMap<String, VecDeque<FakeFailure>>,
    pub(crate) blocked: HashSet<i64>,
    /// Set by `revoke_token`: every call answers 401 "Unauthorized".
    pub(crate) token_revoked: bool,
    pub(crate) users: HashMap<i64, TestUser>,
    /// Payments: invoices sent, pre-checkout queries asked and answered, charges made.
    pub(crate) payments: super::payments::PaymentState,
    /// Photo URLs the fake answers as Telegram does an image it can't use.
    pub(crate) refused_photos: HashSet<String>,
    /// The photo `file_id`s handed out, so a `file_id` never handed out is refused.
    pub(crate) photo_files: HashSet<String>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            next_update_id: FIRST_UPDATE_ID
                + FAKES_STARTED.fetch_add(1, Ordering::Relaxed) * 1_000_000,
            pending: VecDeque::new(),
            history: HashMap::new(),
            poll_generation: 0,
            webhook_url: String::new(),
            commands: HashMap::new(),
            calls: Vec::new(),
            last_message_id: HashMap::new(),
            messages: HashMap::new(),
            deleted: Vec::new(),
            replies: HashMap::new(),
            callback_queries: HashMap::new(),
            callback_answers: Vec::new(),
            failures: HashMap::new(),
            blocked: HashSet::new(),
            token_revoked: false,
            users: HashMap::new(),
            payments: Default::default(),
            refused_photos: HashSet::new(),
            photo_files: HashSet::new(),
        }
    }
}

impl State {
    pub(crate) fn next_update_id(&mut self) -> i64 {
        let id = self.next_update_id;
        self.next_update_id += 1;
        id
    }

    pub(crate) fn next_message_id(&mut self, chat_id: i64) -> i64 {
        let last = self.last_message_id.entry(chat_id).or_insert(0);
        *last += 1;
        *last
    }

    /// Queues an update. Fresh ids continue after the largest id seen, so ids stay increasing
    /// even after raw updates.
    pub(crate) fn push_update(&mut self, update: Value) -> Option<i64> {
        let id = update.get("update_id").and_then(Value::as_i64);
        if let Some(id) = id {
            self.next_update_id = self.next_update_id.max(id + 1);
            self.history.insert(id, update.clone());
        }
        self.pending.push_back(Pending {
            id: id.unwrap_or_default(),
            update,
            delivered: false,
        });
        id
    }

    /// Applies `getUpdates`' `offset`: positive confirms the updates before it; negative keeps
    /// only the last `-offset` updates.
    pub(crate) fn confirm(&mut self, offset: i64) {
        if offset > 0 {
            self.pending
                .retain(|pending| !(pending.delivered && pending.id < offset));
        } else if offset < 0 {
            let keep = usize::try_from(offset.unsigned_abs()).unwrap_or(usize::MAX);
            let drop = self.pending.len().saturating_sub(keep);
            self.pending.drain(..drop);
        }
    }

    /// Up to `limit` updates, oldest first, marked delivered.
    pub(crate) fn take_batch(&mut self, limit: usize) -> Vec<Value> {
        self.pending
            .iter_mut()
            .take(limit)
            .map(|pending| {
                pending.delivered = true;
                pending.update.clone()
            })
            .collect()
    }

    /// The private chat of a user we know, or a plausible stand-in.
    pub(crate) fn chat_json(&self, chat_id: i64) -> Value {
        if let Some(user) = self.users.get(&chat_id) {
            return user.chat_json();
        }
        if chat_id < 0 {
            serde_json::json!({"id": chat_id, "type": "supergroup", "title": format!("Group {chat_id}")})
        } else {
            serde_json::json!({"id": chat_id, "type": "private", "first_name": format!("User {chat_id}")})
        }
    }
}
