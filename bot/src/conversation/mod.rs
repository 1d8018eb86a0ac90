//! The shopper's dialogue, free of any transport: an update from a shopper goes in, the
//! replies (and the messages for other chats) come out. Both adapters drive it: `telegram`
//! (teloxide) and `console` (a terminal). It calls `store` for everything it reads and writes
//! and never touches teloxide, a terminal or the clock: `now` arrives with every update.
//!
//! ```text
//! shopper: /start
//! bot:     Welcome to the shop! How old are you?   [18–25] [26–40] [41+]
//! shopper: [26–40]
//! bot:     What do you like?  [Tea] [Coffee] [Done]            (multiple choice)
//! ...
//! bot:     Main menu  [Catalog] [Search] [Cart] [Orders] [Profile]
//! ```
//!
//! This file fixes the contract between the dialogue and its adapters and routes each update;
//! the dialogue itself lives in the submodules. It calls `store` for every read and write and
//! must never call a transport or read the clock.

pub mod callback;
mod cart;
mod catalog;
mod checkout;
pub mod merchant;
pub mod order_news;
mod orders;
pub mod payment;
mod registration;
mod session;
pub mod state;
pub mod texts;

use std::sync::Arc;

use crate::store::DatabaseConnection;
use chrono::{DateTime, Utc};

pub use crate::store::shoppers::customers::TelegramUser;
use storebot_config::Settings;

/// What a shopper did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A text message, commands included: `/start p_12` arrives as that text.
    Text(String),
    /// A press of an inline button carrying `data`. The data is untrusted: it may be forged,
    /// truncated or stale.
    Button { data: String },
    /// A shared contact card. `user_id` is the contact's Telegram user id, if any: the number
    /// is the shopper's own only when it equals the sender's id.
    Contact { phone: String, user_id: Option<i64> },
    /// A message the dialogue can't read: a photo, sticker, voice message, location, ... It
    /// is an interaction all the same, answered with a hint.
    Media,
}

impl Input {
    /// Typed text as the dialogue takes it: cleaned of what no database should store
    /// ([`crate::typed_text::clean`]). The Telegram adapter builds text input with this; the
    /// terminal chat cleans each line as it reads it.
    pub fn typed(text: &str) -> Self {
        Self::Text(crate::typed_text::clean(text))
    }

    /// A shared contact card, its number cleaned like typed text.
    pub fn contact(phone: &str, user_id: Option<i64>) -> Self {
        Self::Contact {
            phone: crate::typed_text::clean(phone),
            user_id,
        }
    }
}

/// One message for the shopper's chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Plain text (no parse mode). It may exceed Telegram's 4096 characters: the adapter
    /// splits it, keeping the markup on the last part.
    pub text: String,
    pub markup: Markup,
    /// Replace the message whose button was pressed instead of sending a new one (only
    /// meaningful for [`Input::Button`]; adapters that can't edit send it anew).
    pub edit: bool,
    /// A photo to send with the text as its caption (at most 1,024 characters: the dialogue
    /// cuts it). An adapter that can't show photos, or whose photo is refused, sends the text
    /// alone.
    pub photo: Option<Photo>,
}

/// A product's or variant's photo as the dialogue hands it to the adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Photo {
    /// What the merchant gave, an `https://` URL or a local file's path; the adapter reports
    /// what Telegram made of it under this name (`Dialogue::image_sent`/`image_refused`).
    pub source: String,
    /// Telegram's `file_id` from an earlier send, sent instead of the bytes or the URL.
    pub file_id: Option<String>,
}

/// The keyboard under a reply.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Markup {
    #[default]
    None,
    /// Inline buttons, row by row.
    Inline(Vec<Vec<Button>>),
    /// A one-time reply keyboard with a "share my phone number" button.
    RequestContact { label: String },
    /// Take away a reply keyboard shown earlier.
    RemoveKeyboard,
}

/// An inline button: its label and the callback data it sends back (at most 64 bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    pub label: String,
    pub data: String,
}

/// Everything the dialogue wants sent in answer to one update.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    /// Messages for the shopper's chat, in order.
    pub replies: Vec<Reply>,
    /// For [`Input::Button`]: the short notice shown on the button press (answerCallbackQuery);
    /// `None` answers it silently. Adapters always answer a button press.
    pub notice: Option<String>,
    /// Messages for other chats (new-order notices to the merchant chats, with their
    /// buttons).
    pub notifications: Vec<Notification>,
    /// An invoice to send to the shopper's chat after the replies (payments in the chat).
    pub invoice: Option<payment::Invoice>,
}

/// A message for a chat other than the sender's: a merchant chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub chat_id: i64,
    pub text: String,
    pub markup: Markup,
}

impl Notification {
    /// A notification without buttons.
    pub fn text(chat_id: i64, text: impl Into<String>) -> Self {
        Self {
            chat_id,
            text: text.into(),
            markup: Markup::None,
        }
    }
}

/// The dialogue with everything it needs, shared by all updates of all shoppers.
#[derive(Clone)]
pub struct Conversation {
    pub db: DatabaseConnection,
    pub settings: Arc<Settings>,
}

impl Conversation {
    pub fn new(db: DatabaseConnection, settings: Arc<Settings>) -> Self {
        Self { db, settings }
    }

    /// Handles one update from `sender` at `now`. Never fails: a store error is logged and the
    /// shopper gets a short "please try again" reply. It records the interaction (first and
    /// last interaction times) before anything else.
    pub async fn handle(&self, sender: &TelegramUser, input: Input, now: DateTime<Utc>) -> Outcome {
        self.handle_claimed(None, sender, input, now)
            .await
            .unwrap_or_default()
    }

    /// [`Conversation::handle`] for Telegram update `update_id`, claimed in `processed_update`
    /// with the interaction's record (one statement on PostgreSQL): `None`, with nothing
    /// changed, when that update was delivered before.
    pub async fn handle_update(
        &self,
        update_id: i64,
        sender: &TelegramUser,
        input: Input,
        now: DateTime<Utc>,
    ) -> Option<Outcome> {
        self.handle_claimed(Some(update_id), sender, input, now)
            .await
    }

    async fn handle_claimed(
        &self,
        update_id: Option<i64>,
        sender: &TelegramUser,
        input: Input,
        now: DateTime<Utc>,
    ) -> Option<Outcome> {
        let pressed = matches!(input, Input::Button { .. });
        match session::handle(self, update_id, sender, input, now).await {
            Ok(outcome) => outcome,
            Err(error) => {
                tracing::error!(
                    error = %error,
                    debug = ?error,
                    telegram_user_id = sender.telegram_user_id,
                    "the update could not be handled"
                );
                let texts =
                    texts::Texts::for_language(&self.settings, sender.language_code.as_deref());
                let sorry = texts.get("try_again").to_owned();
                Some(Outcome {
                    replies: vec![Reply::text(sorry.clone())],
                    notice: pressed.then_some(sorry),
                    notifications: Vec::new(),
                    invoice: None,
                })
            }
        }
    }
}

impl Reply {
    /// A new message without buttons.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            markup: Markup::None,
            edit: false,
            photo: None,
        }
    }
}

impl Button {
    /// A button that sends back `callback`.
    pub fn new(label: impl Into<String>, callback: callback::Callback) -> Self {
        Self {
            label: label.into(),
            data: callback.to_string(),
        }
    }
}

#[cfg(test)]
mod tests;
