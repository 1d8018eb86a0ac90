//! A fake Telegram Bot API server on loopback, for end-to-end tests of the real bot binary.
//!
//! The bot (teloxide) is pointed at [`FakeTelegram::url`] with `Bot::set_api_url`
//! (`STOREBOT_TELEGRAM__API_URL`) and any token (`STOREBOT_TELEGRAM__TOKEN=123456:TEST`; the
//! part before `:` becomes the bot's user id, as with real tokens). The test then plays the
//! users: it pushes updates ([`FakeTelegram::send_text`], [`FakeTelegram::press`], …), which
//! the bot receives by long polling, and it awaits what the bot sends
//! ([`FakeTelegram::next_reply`]).
//!
//! What is faked, with Telegram's answers and errors:
//! - `getUpdates` long polling: `offset` confirms, `timeout` waits and wakes as soon as an
//!   update is pushed, `limit`; a newer poll ends an older one with 409, as when two bot
//!   instances run; 409 too while a webhook is set.
//! - `getMe`, `deleteWebhook`/`setWebhook`/`getWebhookInfo`, `set`/`get`/`deleteMyCommands`.
//! - `sendMessage` and other `send*` methods (photo, document; the rest as text messages),
//!   `editMessageText`/`Caption`/`ReplyMarkup`/`Media`, `deleteMessage`, `answerCallbackQuery`,
//!   `sendChatAction`. Message ids are per chat. Telegram's checks that catch real bugs are
//!   made: HTML/MarkdownV2 that Telegram cannot parse, empty or over-long text, `callback_data`
//!   over 64 bytes, "message is not modified", editing or deleting an unknown message, an
//!   unknown callback query id. `sendPhoto` takes an upload, an `https://` URL or a `file_id`
//!   it handed out (any other is refused, as are URLs given to
//!   [`FakeTelegram::refuse_photo_url`]), captions over 1,024 characters are refused, a text
//!   message can't get media by `editMessageMedia` nor a photo new text by `editMessageText`.
//! - Payments: `sendInvoice` (Telegram's checks: payload 1–128 bytes, a provider token for
//!   every currency but Stars' `XTR` and none for it, exactly one price for Stars, title and
//!   description lengths), `answerPreCheckoutQuery`, `refundStarPayment` (unknown or refunded
//!   charges refused); the shopper's side is [`FakeTelegram::pre_checkout`] and
//!   [`FakeTelegram::successful_payment`] (see `payments`).
//! - Any other method is recorded and answered `true`, so a harmless call never breaks the bot.
//! - Faults on demand: [`FakeFailure`] for the next call of a method (Telegram's own errors,
//!   and a proxy's HTML page or an empty body with a 5xx), blocked chats (403), and a revoked
//!   token (401 for every call).
//!
//! What is not faked: the fake never posts to a webhook (webhook tests post updates to the bot
//! themselves, see `crate::bot::http`); files cannot be
//! downloaded; groups, channels, inline mode, shipping queries and entities computed from formatted
//! text are absent; there is no flood control unless injected; the bot may message any chat.
//!
//! Every call is recorded ([`FakeFailure`] or not) and can be inspected with
//! [`FakeTelegram::calls`].

mod markup;
mod model;
mod payments;
mod server;
mod state;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use serde_json::{Map, Value, json};
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use model::{
    Button, CallbackAnswer, FakeFailure, RecordedCall, ReplyButton, ReplyKeyboard, SentMessage,
    TestUser,
};
pub use payments::{PreCheckoutAnswer, SentInvoice};
use state::{Shared, StoredMessage};

/// A token to give the bot; any `<digits>:<anything>` works.
pub const TEST_TOKEN: &str = "123456:TEST";
/// The bot's username, as `getMe` reports it (deep links are `https://t.me/<it>?start=…`).
pub const BOT_USERNAME: &str = "storebot_test_bot";
/// The bot's display name.
pub const BOT_FIRST_NAME: &str = "Test Store";

/// A running fake. The server stops when this is dropped.
pub struct FakeTelegram {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: JoinHandle<()>,
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeTelegram {
    /// Starts the server on `127.0.0.1` and a free port.
    pub async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the fake Telegram server")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let app = server::router(shared.clone());
        let server = tokio::spawn(async move {
            // Serving ends only with an I/O error on the listener; tests then see timeouts.
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            shared,
            addr,
            server,
        })
    }

    /// The base URL for the bot: `http://127.0.0.1:<port>` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    // ---- Updates: the users' side -------------------------------------------------------

    /// The user sends a text message. A text starting with `/` carries a `bot_command` entity,
    /// as real clients send it. Returns the update id.
    pub fn send_text(&self, user: &TestUser, text: &str) -> i64 {
        self.send_text_in_chat(user, user.chat_id(), text)
    }

    /// The user sends a text message in chat `chat_id`, a group (negative ids are supergroups)
    /// or their private chat, as [`FakeTelegram::send_text`] does. Returns the update id.
    pub fn send_text_in_chat(&self, user: &TestUser, chat_id: i64, text: &str) -> i64 {
        let mut content = Map::new();
        content.insert("text".into(), json!(text));
        if let Some(command) = text
            .strip_prefix('/')
            .and_then(|rest| rest.split_whitespace().next())
            && !command.is_empty()
        {
            // Offsets and lengths are in UTF-16 code units in the Bot API.
            let length = 1 + command.encode_utf16().count();
            content.insert(
                "entities".into(),
                json!([{"type": "bot_command", "offset": 0, "length": length}]),
            );
        }
        self.user_message_in(user, chat_id, content).0
    }

    /// The user sends `/command args` (`args` may be empty; `command` with or without `/`).
    /// A deep link `t.me/<bot>?start=PAYLOAD` is `send_command(user, "start", "PAYLOAD")`.
    pub fn send_command(&self, user: &TestUser, command: &str, args: &str) -> i64 {
        let command = command.trim_start_matches('/');
        let text = if args.is_empty() {
            format!("/{command}")
        } else {
            format!("/{command} {args}")
        };
        self.send_text(user, &text)
    }

    /// The user shares their own phone number (a `request_contact` button).
    pub fn send_contact(&self, user: &TestUser, phone: &str) -> i64 {
        self.send_foreign_contact(user, phone, &user.first_name, Some(user.id))
    }

    /// The user sends a contact card of someone else (or forged): `user_id` is the contact's
    /// Telegram id, if any, which a bot must compare with the sender to trust the number.
    pub fn send_foreign_contact(
        &self,
        user: &TestUser,
        phone: &str,
        first_name: &str,
        user_id: Option<i64>,
    ) -> i64 {
        let mut contact = json!({"phone_number": phone, "first_name": first_name});
        if let (Some(map), Some(user_id)) = (contact.as_object_mut(), user_id) {
            map.insert("user_id".into(), json!(user_id));
        }
        let mut content = Map::new();
        content.insert("contact".into(), contact);
        self.user_message(user, content).0
    }

    /// The user presses the inline button labelled `label` on `message`: a `callback_query`
    /// with the button's `callback_data`, carrying the message as it is now. Fails, listing the
    /// labels, when there is no such button, or when it has no callback data (a URL button), or
    /// when the bot deleted the message.
    pub fn press(
        &self,
        user: &TestUser,
        message: &SentMessage,
        label: &str,
    ) -> anyhow::Result<i64> {
        let Some(button) = message.button(label) else {
            bail!(
                "no button {label:?} on message {} in chat {}; the buttons are {:?} (text: {:?})",
                message.message_id,
                message.chat_id,
                message.labels(),
                message.text
            );
        };
        let Some(data) = &button.callback_data else {
            bail!(
                "button {label:?} has no callback_data (url: {:?})",
                button.url
            );
        };
        let deleted = self
            .shared
            .lock()
            .deleted
            .contains(&(message.chat_id, message.message_id));
        if deleted {
            bail!(
                "message {} in chat {} was deleted by the bot; its buttons can't be pressed",
                message.message_id,
                message.chat_id
            );
        }
        Ok(self.callback(
            user,
            message.chat_id,
            message.message_id,
            data,
            Some(&message.raw),
        ))
    }

    /// The user's client sends a callback query with arbitrary `data` for message `message_id`
    /// of their private chat: forged or stale data that no button carries.
    pub fn press_data(&self, user: &TestUser, message_id: i64, data: &str) -> i64 {
        self.callback(user, user.chat_id(), message_id, data, None)
    }

    /// Queues an update exactly as given (it should have an `update_id`; fresh ids continue
    /// after it). An update whose id the bot already confirmed is still delivered once, which
    /// is how a test simulates a duplicate delivery. Returns the update id, if it had one.
    pub fn push_raw_update(&self, update: Value) -> Option<i64> {
        let id = self.shared.lock().push_update(update);
        self.shared.updates.notify_waiters();
        id
    }

    /// Queues several updates at once, so one `getUpdates` answer carries them all.
    pub fn push_raw_updates(&self, updates: impl IntoIterator<Item = Value>) {
        let mut state = self.shared.lock();
        for update in updates {
            state.push_update(update);
        }
        drop(state);
        self.shared.updates.notify_waiters();
    }

    /// Delivers update `update_id` again, exactly as it was first queued (same id, same
    /// callback query id): Telegram's redelivery after a bot failed to confirm it, or a second
    /// instance receiving the same webhook post.
    pub fn redeliver(&self, update_id: i64) -> anyhow::Result<()> {
        let update = self
            .shared
            .lock()
            .history
            .get(&update_id)
            .cloned()
            .ok_or_else(|| anyhow!("no update {update_id} was ever queued"))?;
        self.push_raw_update(update);
        Ok(())
    }

    /// A fresh update id, for building raw updates.
    pub fn next_update_id(&self) -> i64 {
        self.shared.lock().next_update_id()
    }

    /// How many updates the bot has not confirmed yet.
    pub fn pending_updates(&self) -> usize {
        self.shared.lock().pending.len()
    }

    /// Waits until the bot has confirmed update `update_id` (polled with a higher offset),
    /// i.e. until teloxide has taken it for handling.
    pub async fn wait_confirmed(&self, update_id: i64, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        self.shared
            .wait_for(deadline, |state| {
                (!state.pending.iter().any(|pending| pending.id == update_id)).then_some(())
            })
            .await
            .ok_or_else(|| {
                anyhow!(
                    "update {update_id} not confirmed within {timeout:?}; {}",
                    self.summary()
                )
            })
    }

    // ---- What the bot did ---------------------------------------------------------------

    /// The next message sent, or edit made, in `chat_id` that the test has not taken yet.
    pub async fn next_reply(&self, chat_id: i64, timeout: Duration) -> anyhow::Result<SentMessage> {
        let deadline = Instant::now() + timeout;
        self.shared
            .wait_for(deadline, |state| {
                state
                    .replies
                    .get_mut(&chat_id)
                    .and_then(|queue| queue.pop_front())
            })
            .await
            .ok_or_else(|| {
                anyhow!(
                    "no reply in chat {chat_id} within {timeout:?}; {}",
                    self.summary()
                )
            })
    }

    /// Every reply in `chat_id` until none has come for `quiet`.
    pub async fn replies_until_quiet(&self, chat_id: i64, quiet: Duration) -> Vec<SentMessage> {
        let mut replies = Vec::new();
        while let Ok(reply) = self.next_reply(chat_id, quiet).await {
            replies.push(reply);
        }
        replies
    }

    /// Fails if the bot sends or edits anything in `chat_id` within `wait`.
    pub async fn expect_no_reply(&self, chat_id: i64, wait: Duration) -> anyhow::Result<()> {
        match self.next_reply(chat_id, wait).await {
            Ok(reply) => Err(anyhow!(
                "expected no reply in chat {chat_id}, got {reply:#?}"
            )),
            Err(_) => Ok(()),
        }
    }

    /// The replies in `chat_id` not taken yet, without waiting.
    pub fn take_replies(&self, chat_id: i64) -> Vec<SentMessage> {
        self.shared
            .lock()
            .replies
            .remove(&chat_id)
            .map(Vec::from)
            .unwrap_or_default()
    }

    /// The current state of a message in a chat (after edits), if it exists.
    pub fn message(&self, chat_id: i64, message_id: i64) -> Option<SentMessage> {
        server::stored_message(&self.shared.lock(), chat_id, message_id)
    }

    /// The ids of the messages the bot deleted in `chat_id`, in order.
    pub fn deleted_messages(&self, chat_id: i64) -> Vec<i64> {
        self.shared
            .lock()
            .deleted
            .iter()
            .filter(|(chat, _)| *chat == chat_id)
            .map(|(_, message_id)| *message_id)
            .collect()
    }

    /// Every `answerCallbackQuery` so far.
    pub fn callback_answers(&self) -> Vec<CallbackAnswer> {
        self.shared.lock().callback_answers.clone()
    }

    /// Waits for the bot's answer to the callback query of update `update_id` (the id that
    /// `press` returned).
    pub async fn callback_answer(
        &self,
        update_id: i64,
        timeout: Duration,
    ) -> anyhow::Result<CallbackAnswer> {
        let deadline = Instant::now() + timeout;
        self.shared
            .wait_for(deadline, |state| {
                state
                    .callback_answers
                    .iter()
                    .find(|answer| answer.update_id == Some(update_id))
                    .cloned()
            })
            .await
            .ok_or_else(|| {
                anyhow!(
                    "callback query of update {update_id} not answered within {timeout:?}; {}",
                    self.summary()
                )
            })
    }

    /// The calls of `method` so far (case-insensitive, as Telegram treats method names).
    pub fn calls(&self, method: &str) -> Vec<RecordedCall> {
        self.shared
            .lock()
            .calls
            .iter()
            .filter(|call| call.method.eq_ignore_ascii_case(method))
            .cloned()
            .collect()
    }

    /// Every call so far, in arrival order.
    pub fn all_calls(&self) -> Vec<RecordedCall> {
        self.shared.lock().calls.clone()
    }

    /// Waits until `method` has been called at least `count` times in all; returns those calls.
    /// `wait_for_calls("getUpdates", 1, …)` tells that the bot has started polling.
    pub async fn wait_for_calls(
        &self,
        method: &str,
        count: usize,
        timeout: Duration,
    ) -> anyhow::Result<Vec<RecordedCall>> {
        let deadline = Instant::now() + timeout;
        self.shared
            .wait_for(deadline, |state| {
                let calls: Vec<RecordedCall> = state
                    .calls
                    .iter()
                    .filter(|call| call.method.eq_ignore_ascii_case(method))
                    .cloned()
                    .collect();
                (calls.len() >= count).then_some(calls)
            })
            .await
            .ok_or_else(|| {
                anyhow!(
                    "{method} not called {count} time(s) within {timeout:?}; {}",
                    self.summary()
                )
            })
    }

    // ---- Faults -------------------------------------------------------------------------

    /// The next call of `method` (case-insensitive) fails this way; several calls queue up.
    pub fn fail_next(&self, method: &str, failure: FakeFailure) {
        self.shared
            .lock()
            .failures
            .entry(method.to_ascii_lowercase())
            .or_default()
            .push_back(failure);
    }

    /// From now on every call addressed to `chat_id` answers 403 "Forbidden: bot was blocked
    /// by the user".
    pub fn block_chat(&self, chat_id: i64) {
        self.shared.lock().blocked.insert(chat_id);
    }

    /// The merchant revokes the bot's token in @BotFather: from now on every call, a long
    /// poll already waiting included, answers 401 "Unauthorized".
    pub fn revoke_token(&self) {
        self.shared.lock().token_revoked = true;
        self.shared.updates.notify_waiters();
    }

    /// The user presses a button with `data` on message `message_id` of `chat_id`, a group or
    /// channel (negative ids are supergroups) where a shop message was forwarded or posted.
    pub fn press_data_in_chat(
        &self,
        user: &TestUser,
        chat_id: i64,
        message_id: i64,
        data: &str,
    ) -> i64 {
        let chat = self.shared.lock().chat_json(chat_id);
        let seen = json!({
            "message_id": message_id,
            "from": {"id": 123_456, "is_bot": true, "first_name": BOT_FIRST_NAME, "username": BOT_USERNAME},
            "chat": chat,
            "date": server::now(),
            "text": "Main menu",
        });
        self.callback(user, chat_id, message_id, data, Some(&seen))
    }

    /// The user sends a message the bot can't read as text: `content` is its Bot API fields,
    /// e.g. `{"sticker": {...}}` or `{"location": {"latitude": 51.5, "longitude": -0.1}}`.
    pub fn send_content(&self, user: &TestUser, content: Value) -> i64 {
        let content = match content {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        self.user_message(user, content).0
    }

    /// From now on `sendPhoto` and `editMessageMedia` with this URL answer as Telegram does an
    /// image it can't use ("wrong type of the web page content").
    pub fn refuse_photo_url(&self, url: &str) {
        self.shared.lock().refused_photos.insert(url.to_owned());
    }

    /// The user unblocks the bot.
    pub fn unblock_chat(&self, chat_id: i64) {
        self.shared.lock().blocked.remove(&chat_id);
    }

    // ---- Internals ----------------------------------------------------------------------

    /// Queues a message from `user` in their private chat; returns (update id, message id).
    fn user_message(&self, user: &TestUser, content: Map<String, Value>) -> (i64, i64) {
        self.user_message_in(user, user.chat_id(), content)
    }

    fn user_message_in(
        &self,
        user: &TestUser,
        chat_id: i64,
        content: Map<String, Value>,
    ) -> (i64, i64) {
        let mut state = self.shared.lock();
        state.users.insert(user.id, user.clone());
        let message_id = state.next_message_id(chat_id);
        let chat = if chat_id == user.chat_id() {
            user.chat_json()
        } else {
            state.chat_json(chat_id)
        };
        let mut message = json!({
            "message_id": message_id,
            "from": user.to_json(),
            "chat": chat,
            "date": server::now(),
        });
        if let Some(map) = message.as_object_mut() {
            map.extend(content);
        }
        state.messages.insert(
            (chat_id, message_id),
            StoredMessage {
                json: message.clone(),
                from_bot: false,
                parse_mode: None,
                reply_keyboard: None,
            },
        );
        let update_id = state.next_update_id();
        state.push_update(json!({"update_id": update_id, "message": message}));
        drop(state);
        self.shared.updates.notify_waiters();
        (update_id, message_id)
    }

    /// Queues a callback query from `user` on a message in `chat_id`.
    fn callback(
        &self,
        user: &TestUser,
        chat_id: i64,
        message_id: i64,
        data: &str,
        seen: Option<&Value>,
    ) -> i64 {
        let mut state = self.shared.lock();
        state.users.insert(user.id, user.clone());
        // Telegram sends the message as it is now; a message we never stored is what the test
        // saw, or else "inaccessible" (date 0), which is how Telegram marks a message it can
        // no longer show.
        let message = state
            .messages
            .get(&(chat_id, message_id))
            .map(|stored| stored.json.clone())
            .or_else(|| seen.cloned())
            .unwrap_or_else(
                || json!({"message_id": message_id, "chat": state.chat_json(chat_id), "date": 0}),
            );
        let update_id = state.next_update_id();
        // Numeric like Telegram's; the fixed-width tail keeps (user, update) pairs distinct.
        let query_id = format!("{}{update_id:010}", user.id.unsigned_abs());
        state.callback_queries.insert(query_id.clone(), update_id);
        state.push_update(json!({
            "update_id": update_id,
            "callback_query": {
                "id": query_id,
                "from": user.to_json(),
                "message": message,
                // Stable per chat, as Telegram's opaque chat instance is.
                "chat_instance": format!("{}", chat_id.wrapping_mul(7_919).wrapping_add(13)),
                "data": data,
            },
        }));
        drop(state);
        self.shared.updates.notify_waiters();
        update_id
    }

    /// The last calls, for error messages: what the bot did instead of what was awaited.
    fn summary(&self) -> String {
        let state = self.shared.lock();
        let recent: Vec<String> = state
            .calls
            .iter()
            .rev()
            .filter(|call| !call.method.eq_ignore_ascii_case("getUpdates"))
            .take(12)
            .map(|call| format!("{} {}", call.method, truncate(&call.body.to_string(), 160)))
            .collect();
        format!(
            "{} update(s) unconfirmed; recent calls (newest first, getUpdates omitted): {recent:#?}",
            state.pending.len()
        )
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((at, _)) => format!("{}…", text.get(..at).unwrap_or(text)),
        None => text.to_owned(),
    }
}
