//! The typed view of the fake for tests: users, the messages the bot sent, recorded calls,
//! injected failures; and the Bot API JSON for users and chats.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::markup;

/// A Telegram user that talks to the bot. The private chat with the bot has the same id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestUser {
    pub id: i64,
    pub first_name: String,
    pub last_name: Option<String>,
    pub username: Option<String>,
    pub language_code: Option<String>,
}

impl TestUser {
    /// A user with only the required fields (Telegram users may have no username).
    pub fn new(id: i64, first_name: &str) -> Self {
        Self {
            id,
            first_name: first_name.to_owned(),
            last_name: None,
            username: None,
            language_code: None,
        }
    }

    /// Alice (id 1001), username `alice`, English client.
    pub fn alice() -> Self {
        Self::new(1001, "Alice").username("alice").language("en")
    }

    /// Bob (id 1002), username `bob`, English client.
    pub fn bob() -> Self {
        Self::new(1002, "Bob").username("bob").language("en")
    }

    /// Carol (id 1003): no username and no language, the sparse shape real users can have.
    pub fn carol() -> Self {
        Self::new(1003, "Carol")
    }

    pub fn username(mut self, username: &str) -> Self {
        self.username = Some(username.to_owned());
        self
    }

    pub fn last_name(mut self, last_name: &str) -> Self {
        self.last_name = Some(last_name.to_owned());
        self
    }

    /// The IETF language tag the client reports, e.g. `"ru"`.
    pub fn language(mut self, language_code: &str) -> Self {
        self.language_code = Some(language_code.to_owned());
        self
    }

    /// The id of the user's private chat with the bot, which Telegram makes equal to the user id.
    pub fn chat_id(&self) -> i64 {
        self.id
    }

    /// The Bot API `User` object.
    pub fn to_json(&self) -> Value {
        let mut user = json!({"id": self.id, "is_bot": false, "first_name": self.first_name});
        insert_opt(&mut user, "last_name", self.last_name.as_deref());
        insert_opt(&mut user, "username", self.username.as_deref());
        insert_opt(&mut user, "language_code", self.language_code.as_deref());
        user
    }

    /// The Bot API `Chat` object of the user's private chat.
    pub fn chat_json(&self) -> Value {
        let mut chat = json!({"id": self.id, "type": "private", "first_name": self.first_name});
        insert_opt(&mut chat, "last_name", self.last_name.as_deref());
        insert_opt(&mut chat, "username", self.username.as_deref());
        chat
    }
}

fn insert_opt(object: &mut Value, key: &str, value: Option<&str>) {
    if let (Some(map), Some(value)) = (object.as_object_mut(), value) {
        map.insert(key.to_owned(), Value::String(value.to_owned()));
    }
}

/// A button of an inline keyboard, as the bot sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Button {
    pub label: String,
    pub callback_data: Option<String>,
    pub url: Option<String>,
}

/// A button of a reply keyboard (the keyboard that replaces the user's text input).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyButton {
    pub label: String,
    /// Pressing it shares the user's phone number (see `FakeTelegram::send_contact`).
    pub request_contact: bool,
    pub request_location: bool,
}

/// A non-inline `reply_markup` the bot attached to a message. Telegram does not echo these
/// back in the returned `Message`, but the user's client shows them, so tests may assert them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplyKeyboard {
    Show {
        rows: Vec<Vec<ReplyButton>>,
        one_time: bool,
        resize: bool,
    },
    /// `{"remove_keyboard": true}`.
    Remove,
    /// `{"force_reply": true}`.
    ForceReply,
}

impl ReplyKeyboard {
    /// All buttons of a shown keyboard, row by row.
    pub fn buttons(&self) -> Vec<&ReplyButton> {
        match self {
            Self::Show { rows, .. } => rows.iter().flatten().collect(),
            Self::Remove | Self::ForceReply => Vec::new(),
        }
    }
}

/// A message the bot sent (or its new state after an edit), as the user would see it.
#[derive(Clone, Debug, PartialEq)]
pub struct SentMessage {
    pub message_id: i64,
    pub chat_id: i64,
    /// The text exactly as the bot sent it, markup included (see [`Self::visible_text`]).
    pub text: String,
    /// `"HTML"`, `"MarkdownV2"` or `"Markdown"` when the bot asked for formatting.
    pub parse_mode: Option<String>,
    /// The inline keyboard, row by row; empty when there is none.
    pub buttons: Vec<Vec<Button>>,
    pub reply_keyboard: Option<ReplyKeyboard>,
    /// True for the state after `editMessageText`/`editMessageReplyMarkup`/`editMessageCaption`.
    pub edited: bool,
    /// The Bot API method that produced this, e.g. `"sendMessage"`.
    pub method: String,
    /// The Bot API `Message` object the fake returned to the bot.
    pub raw: Value,
}

impl SentMessage {
    /// The text with HTML tags or Markdown markers removed and entities unescaped: what the
    /// user reads.
    pub fn visible_text(&self) -> String {
        markup::visible_text(&self.text, self.parse_mode.as_deref())
    }

    /// All inline buttons, row by row.
    pub fn all_buttons(&self) -> impl Iterator<Item = &Button> {
        self.buttons.iter().flatten()
    }

    /// The labels of the inline buttons, row by row.
    pub fn labels(&self) -> Vec<&str> {
        self.all_buttons()
            .map(|button| button.label.as_str())
            .collect()
    }

    /// The inline button with exactly this label.
    pub fn button(&self, label: &str) -> Option<&Button> {
        self.all_buttons().find(|button| button.label == label)
    }

    /// Builds the typed view from a Bot API `Message` object and the extra knowledge that
    /// Telegram does not echo (reply keyboards, parse mode).
    pub(crate) fn from_message_json(
        raw: &Value,
        parse_mode: Option<String>,
        reply_keyboard: Option<ReplyKeyboard>,
        edited: bool,
        method: &str,
    ) -> Self {
        let text = raw
            .get("text")
            .or_else(|| raw.get("caption"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        Self {
            message_id: raw
                .get("message_id")
                .and_then(Value::as_i64)
                .unwrap_or_default(),
            chat_id: raw
                .pointer("/chat/id")
                .and_then(Value::as_i64)
                .unwrap_or_default(),
            text,
            parse_mode,
            buttons: raw
                .get("reply_markup")
                .map(inline_buttons)
                .unwrap_or_default(),
            reply_keyboard,
            edited,
            method: method.to_owned(),
            raw: raw.clone(),
        }
    }
}

/// The inline keyboard of a `reply_markup` object; empty for anything else.
pub(crate) fn inline_buttons(markup: &Value) -> Vec<Vec<Button>> {
    let Some(rows) = markup.get("inline_keyboard").and_then(Value::as_array) else {
        return Vec::new();
    };
    rows.iter()
        .map(|row| {
            row.as_array()
                .map(|buttons| {
                    buttons
                        .iter()
                        .map(|button| Button {
                            label: str_field(button, "text"),
                            callback_data: opt_str_field(button, "callback_data"),
                            url: opt_str_field(button, "url"),
                        })
                        .collect()
                })
                .unwrap_or_default()
        })
        .collect()
}

/// The non-inline keyboard of a `reply_markup` object, if it is one.
pub(crate) fn reply_keyboard(markup: &Value) -> Option<ReplyKeyboard> {
    if let Some(rows) = markup.get("keyboard").and_then(Value::as_array) {
        let rows = rows
            .iter()
            .map(|row| {
                row.as_array()
                    .map(|buttons| buttons.iter().map(reply_button).collect())
                    .unwrap_or_default()
            })
            .collect();
        return Some(ReplyKeyboard::Show {
            rows,
            one_time: bool_field(markup, "one_time_keyboard"),
            resize: bool_field(markup, "resize_keyboard"),
        });
    }
    if bool_field(markup, "remove_keyboard") {
        return Some(ReplyKeyboard::Remove);
    }
    if bool_field(markup, "force_reply") {
        return Some(ReplyKeyboard::ForceReply);
    }
    None
}

fn reply_button(button: &Value) -> ReplyButton {
    // The Bot API allows a bare string for a plain text button.
    if let Some(label) = button.as_str() {
        return ReplyButton {
            label: label.to_owned(),
            request_contact: false,
            request_location: false,
        };
    }
    ReplyButton {
        label: str_field(button, "text"),
        request_contact: bool_field(button, "request_contact"),
        request_location: bool_field(button, "request_location"),
    }
}

fn str_field(value: &Value, key: &str) -> String {
    opt_str_field(value, key).unwrap_or_default()
}

fn opt_str_field(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn bool_field(value: &Value, key: &str) -> bool {
    value.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// A failure the fake answers one call with, instead of doing what was asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FakeFailure {
    /// 429 with `parameters.retry_after`: flood control. teloxide's `Throttle` and polling
    /// loop wait that long before retrying.
    TooManyRequests { retry_after_secs: u32 },
    /// An HTTP 5xx (or any status) with an error envelope. Note that teloxide sleeps 10 s
    /// after any 5xx before it even reads the body.
    ServerError(u16),
    /// An HTTP status (a 5xx) with an HTML page for a body, as a proxy or load balancer in
    /// front of the Bot API answers when it can't reach it (nginx's "502 Bad Gateway" page).
    /// teloxide can't read it as JSON (and pauses 10 s first, as for any 5xx).
    ProxyPage(u16),
    /// An HTTP status (a 5xx) with an empty body.
    EmptyBody(u16),
    /// Waits this long, then handles the call normally. If the client gives up first and
    /// closes the connection, the call has no effect (as if it never reached Telegram), but it
    /// is still recorded.
    Hang(Duration),
}

/// One call the bot made.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedCall {
    /// The method name with a lower-case first letter, e.g. `"sendMessage"` (teloxide sends
    /// `SendMessage`; Telegram ignores case).
    pub method: String,
    /// The parameters as JSON, whatever the body encoding was (JSON, form or multipart).
    pub body: Value,
    /// When the call arrived.
    pub at: Instant,
    /// The token from the URL (`bot<token>`).
    pub token: String,
}

/// An `answerCallbackQuery` the bot made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbackAnswer {
    pub callback_query_id: String,
    /// The update that carried the callback query, for queries made by `press`/`press_data`.
    pub update_id: Option<i64>,
    pub text: Option<String>,
    pub show_alert: bool,
    pub url: Option<String>,
}
