//! The HTTP side: `POST {url}/bot{token}/{method}`, parameters in any encoding teloxide or a
//! human might use, answers in the Bot API envelope.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use super::markup;
use super::model::{
    CallbackAnswer, FakeFailure, RecordedCall, SentMessage, inline_buttons, reply_keyboard,
};
use super::payments::{PreCheckoutAnswer, SentInvoice};
use super::state::{Shared, State as FakeState, StoredMessage};
use super::{BOT_FIRST_NAME, BOT_USERNAME};

/// The bot id when the token does not start with one (`<id>:<secret>` is the real format).
const FALLBACK_BOT_ID: i64 = 123_456;
/// Telegram's own ceiling for `getUpdates`' `timeout` is not documented; this keeps a typo in
/// a test from hanging it.
const MAX_POLL_TIMEOUT_SECS: u64 = 60;
/// Telegram's limit for a text message, counted after entity parsing.
const MAX_TEXT_CHARS: usize = 4096;
const MAX_CAPTION_CHARS: usize = 1024;
/// Telegram's limit for `callback_data`, in bytes.
const MAX_CALLBACK_DATA_BYTES: usize = 64;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .fallback(handle)
        // Uploads (sendPhoto with a file) may exceed axum's 2 MB default.
        .layer(DefaultBodyLimit::max(64 * 1024 * 1024))
        .with_state(shared)
}

/// A failed call, rendered as the Bot API error envelope.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: u16,
    description: String,
    retry_after: Option<u32>,
}

impl ApiError {
    fn new(status: u16, description: impl Into<String>) -> Self {
        Self {
            status,
            description: description.into(),
            retry_after: None,
        }
    }

    fn bad_request(description: impl Into<String>) -> Self {
        Self::new(400, description)
    }
}

type Answer = Result<Value, ApiError>;

fn respond(answer: Answer) -> Response {
    match answer {
        Ok(result) => (
            StatusCode::OK,
            axum::Json(json!({"ok": true, "result": result})),
        )
            .into_response(),
        Err(error) => {
            let mut body = json!({
                "ok": false,
                "error_code": error.status,
                "description": error.description,
            });
            if let (Some(seconds), Some(map)) = (error.retry_after, body.as_object_mut()) {
                map.insert("parameters".into(), json!({"retry_after": seconds}));
            }
            let status =
                StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, axum::Json(body)).into_response()
        }
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // `{anything}/bot{token}/{method}`: the bot may be given a base URL with a path.
    let mut segments = uri.path().rsplit('/');
    let method = canonical_method(&percent_decode(segments.next().unwrap_or_default()));
    let token = segments
        .next()
        .map(percent_decode)
        .and_then(|segment| segment.strip_prefix("bot").map(str::to_owned));
    let Some(token) = token.filter(|_| !method.is_empty()) else {
        return respond(Err(ApiError::new(404, "Not Found")));
    };

    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let params = parse_params(content_type, uri.query(), &body);

    {
        let mut state = shared.lock();
        state.calls.push(RecordedCall {
            method: method.clone(),
            body: match &params {
                Ok(params) => Value::Object(params.clone()),
                Err(_) => Value::String(String::from_utf8_lossy(&body).into_owned()),
            },
            at: std::time::Instant::now(),
            token: token.clone(),
        });
    }
    shared.events.notify_waiters();

    let params = match params {
        Ok(params) => params,
        Err(description) => return respond(Err(ApiError::bad_request(description))),
    };

    let key = method.to_ascii_lowercase();
    let failure = shared
        .lock()
        .failures
        .get_mut(&key)
        .and_then(std::collections::VecDeque::pop_front);
    match failure {
        Some(FakeFailure::TooManyRequests { retry_after_secs }) => {
            return respond(Err(ApiError {
                status: 429,
                description: format!("Too Many Requests: retry after {retry_after_secs}"),
                retry_after: Some(retry_after_secs),
            }));
        }
        Some(FakeFailure::ServerError(status)) => {
            let reason = StatusCode::from_u16(status)
                .ok()
                .and_then(|status| status.canonical_reason())
                .unwrap_or("Internal Server Error");
            return respond(Err(ApiError::new(status, reason)));
        }
        Some(FakeFailure::ProxyPage(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            let page = format!(
                "<html>\r\n<head><title>{status}</title></head>\r\n<body>\r\n\
                 <center><h1>{status}</h1></center>\r\n<hr><center>nginx</center>\r\n\
                 </body>\r\n</html>\r\n"
            );
            return (status, [(header::CONTENT_TYPE, "text/html")], page).into_response();
        }
        Some(FakeFailure::EmptyBody(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            return status.into_response();
        }
        Some(FakeFailure::Hang(duration)) => tokio::time::sleep(duration).await,
        None => {}
    }
    if shared.lock().token_revoked {
        // What Telegram answers every call once the token was revoked in @BotFather.
        return respond(Err(ApiError::new(401, "Unauthorized")));
    }

    let call = Call {
        shared: &shared,
        params: &params,
        token: &token,
        method: &method,
    };
    respond(call.dispatch(&key).await)
}

/// One call being answered.
struct Call<'a> {
    shared: &'a Shared,
    params: &'a Map<String, Value>,
    token: &'a str,
    /// In the documented spelling, for `SentMessage::method`.
    method: &'a str,
}

impl Call<'_> {
    async fn dispatch(&self, key: &str) -> Answer {
        if let Some(chat_id) = self.int("chat_id")
            && self.shared.lock().blocked.contains(&chat_id)
        {
            return Err(ApiError::new(403, "Forbidden: bot was blocked by the user"));
        }
        match key {
            "getme" => Ok(self.get_me()),
            "getupdates" => self.get_updates().await,
            "deletewebhook" => {
                let mut state = self.shared.lock();
                state.webhook_url.clear();
                if self.bool("drop_pending_updates") {
                    state.pending.clear();
                }
                Ok(Value::Bool(true))
            }
            "setwebhook" => {
                let url = self.str("url").unwrap_or_default();
                self.shared.lock().webhook_url = url;
                Ok(Value::Bool(true))
            }
            "getwebhookinfo" => {
                let state = self.shared.lock();
                Ok(json!({
                    "url": state.webhook_url,
                    "has_custom_certificate": false,
                    "pending_update_count": state.pending.len(),
                }))
            }
            "setmycommands" => {
                let commands = self.json("commands").unwrap_or_else(|| json!([]));
                self.shared
                    .lock()
                    .commands
                    .insert(self.commands_key(), commands);
                Ok(Value::Bool(true))
            }
            "getmycommands" => Ok(self
                .shared
                .lock()
                .commands
                .get(&self.commands_key())
                .cloned()
                .unwrap_or_else(|| json!([]))),
            "deletemycommands" => {
                self.shared.lock().commands.remove(&self.commands_key());
                Ok(Value::Bool(true))
            }
            "sendmessage" => self.send_message(),
            "editmessagetext" => self.edit(EditKind::Text),
            "editmessagemedia" => self.edit_media(),
            "editmessagecaption" => self.edit(EditKind::Caption),
            "editmessagereplymarkup" => self.edit(EditKind::Markup),
            "answercallbackquery" => self.answer_callback_query(),
            "deletemessage" => self.delete_message(),
            "sendchataction" => Ok(Value::Bool(true)),
            "sendinvoice" => self.send_invoice(),
            "answerprecheckoutquery" => self.answer_pre_checkout_query(),
            "refundstarpayment" => self.refund_star_payment(),
            // Media, locations, invoices…: a message whose text is the caption, so a bot that
            // reads the returned `Message` gets one.
            other if other.starts_with("send") && self.params.contains_key("chat_id") => {
                self.send_other(other)
            }
            // Anything else is acknowledged, so a harmless call never breaks the bot; the
            // recording lets a test notice it.
            _ => Ok(Value::Bool(true)),
        }
    }

    fn int(&self, key: &str) -> Option<i64> {
        match self.params.get(key)? {
            Value::Number(number) => number.as_i64(),
            Value::String(text) => text.trim().parse().ok(),
            _ => None,
        }
    }

    fn str(&self, key: &str) -> Option<String> {
        match self.params.get(key)? {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            _ => None,
        }
    }

    fn bool(&self, key: &str) -> bool {
        match self.params.get(key) {
            Some(Value::Bool(value)) => *value,
            Some(Value::String(text)) => text == "true" || text == "1",
            _ => false,
        }
    }

    /// A structured parameter: JSON bodies carry it as is, forms and multipart as a JSON string.
    fn json(&self, key: &str) -> Option<Value> {
        match self.params.get(key)? {
            Value::String(text) => serde_json::from_str(text).ok(),
            Value::Null => None,
            other => Some(other.clone()),
        }
    }

    fn bot_user(&self) -> Value {
        let id = self
            .token
            .split(':')
            .next()
            .and_then(|id| id.parse::<i64>().ok())
            .unwrap_or(FALLBACK_BOT_ID);
        json!({"id": id, "is_bot": true, "first_name": BOT_FIRST_NAME, "username": BOT_USERNAME})
    }

    fn get_me(&self) -> Value {
        let mut me = self.bot_user();
        if let Some(map) = me.as_object_mut() {
            for flag in [
                "can_join_groups",
                "can_read_all_group_messages",
                "supports_inline_queries",
                "can_connect_to_business",
                "has_main_web_app",
            ] {
                map.insert(flag.into(), Value::Bool(false));
            }
        }
        me
    }

    fn commands_key(&self) -> String {
        let scope = self
            .json("scope")
            .unwrap_or_else(|| json!({"type": "default"}));
        let language = self.str("language_code").unwrap_or_default();
        format!("{scope}|{language}")
    }

    async fn get_updates(&self) -> Answer {
        let offset = self.int("offset").unwrap_or(0);
        let limit = self.int("limit").unwrap_or(100).clamp(1, 100);
        let limit = usize::try_from(limit).unwrap_or(100);
        let timeout = u64::try_from(self.int("timeout").unwrap_or(0)).unwrap_or(0);
        let deadline = Instant::now() + Duration::from_secs(timeout.min(MAX_POLL_TIMEOUT_SECS));

        let generation = {
            let mut state = self.shared.lock();
            if !state.webhook_url.is_empty() {
                return Err(ApiError::new(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
                ));
            }
            state.confirm(offset);
            state.poll_generation += 1;
            state.poll_generation
        };
        // Confirmation is an event for `wait_confirmed`; a new generation ends older polls.
        self.shared.events.notify_waiters();
        self.shared.updates.notify_waiters();

        loop {
            let notified = self.shared.updates.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            {
                let mut state = self.shared.lock();
                if state.token_revoked {
                    return Err(ApiError::new(401, "Unauthorized"));
                }
                if state.poll_generation != generation {
                    return Err(ApiError::new(
                        409,
                        "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                    ));
                }
                let batch = state.take_batch(limit);
                if !batch.is_empty() || Instant::now() >= deadline {
                    return Ok(Value::Array(batch));
                }
            }
            // On timeout the loop looks once more and then answers, empty or not.
            let _ = tokio::time::timeout_at(deadline, notified).await;
        }
    }

    fn chat_id(&self) -> Result<i64, ApiError> {
        self.int("chat_id")
            .ok_or_else(|| ApiError::bad_request("Bad Request: chat not found"))
    }

    /// Checks the text and keyboard the way Telegram does before accepting them.
    fn check_content(&self, text_key: &str, required: bool) -> Result<(), ApiError> {
        let parse_mode = self.str("parse_mode");
        if let Some(text) = self.str(text_key) {
            if let Some(problem) = markup::check(&text, parse_mode.as_deref()) {
                return Err(ApiError::bad_request(problem));
            }
            let visible = markup::visible_text(&text, parse_mode.as_deref());
            if required && visible.trim().is_empty() {
                return Err(ApiError::bad_request("Bad Request: message text is empty"));
            }
            if visible.chars().count() > MAX_TEXT_CHARS {
                return Err(ApiError::bad_request("Bad Request: message is too long"));
            }
        } else if required {
            return Err(ApiError::bad_request("Bad Request: message text is empty"));
        }
        if let Some(markup) = self.json("reply_markup") {
            let too_long = inline_buttons(&markup).iter().flatten().any(|button| {
                button
                    .callback_data
                    .as_ref()
                    .is_some_and(|data| data.is_empty() || data.len() > MAX_CALLBACK_DATA_BYTES)
            });
            if too_long {
                return Err(ApiError::bad_request("Bad Request: BUTTON_DATA_INVALID"));
            }
        }
        Ok(())
    }

    /// Stores a new bot message in the chat and hands it to the test.
    fn deliver(&self, chat_id: i64, content: Map<String, Value>) -> Answer {
        let parse_mode = self.str("parse_mode");
        let markup = self.json("reply_markup");
        let keyboard = markup.as_ref().and_then(reply_keyboard);
        let mut state = self.shared.lock();
        let message_id = state.next_message_id(chat_id);
        let mut message = json!({
            "message_id": message_id,
            "from": self.bot_user(),
            "chat": state.chat_json(chat_id),
            "date": now(),
        });
        if let Some(map) = message.as_object_mut() {
            map.extend(content);
            if let Some(entities) = self.json("entities") {
                map.insert("entities".into(), entities);
            }
            // Only an inline keyboard is part of a `Message`; teloxide fails to parse a
            // message whose `reply_markup` is anything else.
            if let Some(markup) = markup.filter(|markup| markup.get("inline_keyboard").is_some()) {
                map.insert("reply_markup".into(), markup);
            }
        }
        let sent = SentMessage::from_message_json(
            &message,
            parse_mode.clone(),
            keyboard.clone(),
            false,
            self.method,
        );
        state.messages.insert(
            (chat_id, message_id),
            StoredMessage {
                json: message.clone(),
                from_bot: true,
                parse_mode,
                reply_keyboard: keyboard,
            },
        );
        state.replies.entry(chat_id).or_default().push_back(sent);
        drop(state);
        self.shared.events.notify_waiters();
        Ok(message)
    }

    fn send_message(&self) -> Answer {
        let chat_id = self.chat_id()?;
        self.check_content("text", true)?;
        let mut content = Map::new();
        content.insert(
            "text".into(),
            Value::String(self.str("text").unwrap_or_default()),
        );
        self.deliver(chat_id, content)
    }

    fn send_other(&self, method: &str) -> Answer {
        let chat_id = self.chat_id()?;
        self.check_content("caption", false)?;
        let mut content = Map::new();
        let file_id = format!("fake-file-{}", now());
        match method {
            "sendphoto" => {
                self.check_caption()?;
                let photo = self.str("photo").unwrap_or_default();
                let file_id = self.photo_file(&photo)?;
                content.insert("photo".into(), photo_sizes(&file_id));
            }
            "senddocument" => {
                content.insert(
                    "document".into(),
                    json!({"file_id": file_id, "file_unique_id": file_id}),
                );
            }
            // Any other kind becomes a text message, which every `Message` parser accepts.
            _ => {
                let text = self
                    .str("caption")
                    .or_else(|| self.str("title"))
                    .unwrap_or_default();
                content.insert("text".into(), Value::String(text));
                return self.deliver(chat_id, content);
            }
        }
        if let Some(caption) = self.str("caption") {
            content.insert("caption".into(), Value::String(caption));
        }
        self.deliver(chat_id, content)
    }

    /// Telegram's limit on a caption, in characters.
    fn check_caption(&self) -> Result<(), ApiError> {
        let too_long = self
            .str("caption")
            .is_some_and(|caption| caption.chars().count() > MAX_CAPTION_CHARS);
        if too_long {
            return Err(ApiError::bad_request(
                "Bad Request: message caption is too long",
            ));
        }
        Ok(())
    }

    /// The `file_id` for a photo given as an upload (`<file NAME>` or `attach://NAME` in the
    /// recording), an `https://` URL, or an earlier `file_id`, refusing as Telegram does a URL
    /// it can't use and a `file_id` it never gave.
    fn photo_file(&self, photo: &str) -> Result<String, ApiError> {
        let mut state = self.shared.lock();
        let upload = photo.starts_with("<file ") || photo.starts_with("attach://");
        if photo.starts_with("https://") && state.refused_photos.contains(photo) {
            return Err(ApiError::bad_request(
                "Bad Request: wrong type of the web page content",
            ));
        }
        if upload || photo.starts_with("https://") {
            let file_id = format!("fake-photo-{}", state.photo_files.len() + 1);
            state.photo_files.insert(file_id.clone());
            return Ok(file_id);
        }
        if state.photo_files.contains(photo) {
            return Ok(photo.to_owned());
        }
        Err(ApiError::bad_request(
            "Bad Request: wrong file identifier/HTTP URL specified",
        ))
    }

    /// `editMessageMedia`: a photo message gets another photo and caption (and keyboard); a
    /// text message has no media to replace, as Telegram answers.
    fn edit_media(&self) -> Answer {
        let chat_id = self.chat_id()?;
        let message_id = self.int("message_id").ok_or_else(|| {
            ApiError::bad_request("Bad Request: message identifier is not specified")
        })?;
        let media = self
            .json("media")
            .ok_or_else(|| ApiError::bad_request("Bad Request: media is not specified"))?;
        let source = media
            .get("media")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let caption = media
            .get("caption")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if caption
            .as_ref()
            .is_some_and(|caption| caption.chars().count() > MAX_CAPTION_CHARS)
        {
            return Err(ApiError::bad_request(
                "Bad Request: message caption is too long",
            ));
        }
        {
            let state = self.shared.lock();
            let stored = state.messages.get(&(chat_id, message_id));
            match stored {
                None => {
                    return Err(ApiError::bad_request(
                        "Bad Request: message to edit not found",
                    ));
                }
                Some(stored) if stored.json.get("photo").is_none() => {
                    return Err(ApiError::bad_request(
                        "Bad Request: there is no media in the message to edit",
                    ));
                }
                Some(_) => {}
            }
        }
        let file_id = self.photo_file(&source)?;
        let new_markup = self
            .json("reply_markup")
            .filter(|markup| markup.get("inline_keyboard").is_some());
        let mut state = self.shared.lock();
        let Some(stored) = state.messages.get_mut(&(chat_id, message_id)) else {
            return Err(ApiError::bad_request(
                "Bad Request: message to edit not found",
            ));
        };
        let Some(message) = stored.json.as_object_mut() else {
            return Err(ApiError::bad_request(
                "Bad Request: message to edit not found",
            ));
        };
        message.insert("photo".into(), photo_sizes(&file_id));
        match caption {
            Some(caption) => message.insert("caption".into(), Value::String(caption)),
            None => message.remove("caption"),
        };
        match new_markup {
            Some(markup) => message.insert("reply_markup".into(), markup),
            None => message.remove("reply_markup"),
        };
        message.insert("edit_date".into(), json!(now()));
        let json = stored.json.clone();
        let sent = SentMessage::from_message_json(&json, None, None, true, self.method);
        state.replies.entry(chat_id).or_default().push_back(sent);
        drop(state);
        self.shared.events.notify_waiters();
        Ok(json)
    }

    fn edit(&self, kind: EditKind) -> Answer {
        // An inline-mode message: Telegram answers `true`, there is nothing we can show.
        if self.params.contains_key("inline_message_id") {
            return Ok(Value::Bool(true));
        }
        let chat_id = self.chat_id()?;
        let message_id = self.int("message_id").ok_or_else(|| {
            ApiError::bad_request("Bad Request: message identifier is not specified")
        })?;
        match kind {
            EditKind::Text => self.check_content("text", true)?,
            EditKind::Caption => self.check_content("caption", false)?,
            EditKind::Markup => self.check_content("text", false)?,
        }
        let new_markup = self
            .json("reply_markup")
            .filter(|markup| markup.get("inline_keyboard").is_some());

        let mut state = self.shared.lock();
        let Some(stored) = state.messages.get_mut(&(chat_id, message_id)) else {
            return Err(ApiError::bad_request(
                "Bad Request: message to edit not found",
            ));
        };
        if !stored.from_bot {
            return Err(ApiError::bad_request(
                "Bad Request: message can't be edited",
            ));
        }
        if matches!(kind, EditKind::Text) && stored.json.get("photo").is_some() {
            return Err(ApiError::bad_request(
                "Bad Request: there is no text in the message to edit",
            ));
        }
        let Some(message) = stored.json.as_object_mut() else {
            return Err(ApiError::bad_request(
                "Bad Request: message to edit not found",
            ));
        };
        let text_key = match kind {
            EditKind::Text => Some("text"),
            EditKind::Caption => Some("caption"),
            EditKind::Markup => None,
        };
        let new_text = text_key.map(|key| (key, self.str(key).unwrap_or_default()));
        let text_unchanged = new_text
            .as_ref()
            .is_none_or(|(key, text)| message.get(*key).and_then(Value::as_str) == Some(text));
        if text_unchanged && message.get("reply_markup") == new_markup.as_ref() {
            return Err(ApiError::bad_request(
                "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
            ));
        }
        if let Some((key, text)) = new_text {
            message.insert(key.into(), Value::String(text));
            message.remove("entities");
            if let Some(entities) = self.json("entities") {
                message.insert("entities".into(), entities);
            }
            stored.parse_mode = self.str("parse_mode");
        }
        // Telegram drops the keyboard when an edit does not repeat it.
        match new_markup {
            Some(markup) => message.insert("reply_markup".into(), markup),
            None => message.remove("reply_markup"),
        };
        message.insert("edit_date".into(), json!(now()));
        let json = stored.json.clone();
        let sent = SentMessage::from_message_json(
            &json,
            stored.parse_mode.clone(),
            stored.reply_keyboard.clone(),
            true,
            self.method,
        );
        state.replies.entry(chat_id).or_default().push_back(sent);
        drop(state);
        self.shared.events.notify_waiters();
        Ok(json)
    }

    fn answer_callback_query(&self) -> Answer {
        let id = self.str("callback_query_id").unwrap_or_default();
        let mut state = self.shared.lock();
        let Some(&update_id) = state.callback_queries.get(&id) else {
            return Err(ApiError::bad_request(
                "Bad Request: query is too old and response timeout expired or query id is invalid",
            ));
        };
        state.callback_answers.push(CallbackAnswer {
            callback_query_id: id,
            update_id: Some(update_id),
            text: self.str("text"),
            show_alert: self.bool("show_alert"),
            url: self.str("url"),
        });
        drop(state);
        self.shared.events.notify_waiters();
        Ok(Value::Bool(true))
    }

    fn send_invoice(&self) -> Answer {
        let chat_id = self.chat_id()?;
        let prices = self
            .json("prices")
            .and_then(|prices| prices.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .map(|price| {
                (
                    price["label"].as_str().unwrap_or_default().to_owned(),
                    price["amount"].as_i64().unwrap_or_default(),
                )
            })
            .collect();
        let mut invoice = SentInvoice {
            chat_id,
            message_id: 0,
            title: self.str("title").unwrap_or_default(),
            description: self.str("description").unwrap_or_default(),
            payload: self.str("payload").unwrap_or_default(),
            currency: self.str("currency").unwrap_or_default(),
            prices,
            provider_token: self.str("provider_token"),
            need_shipping_address: self.bool("need_shipping_address"),
        };
        super::payments::check_invoice(&invoice).map_err(ApiError::bad_request)?;
        let mut content = Map::new();
        content.insert("invoice".into(), super::payments::invoice_content(&invoice));
        let message = self.deliver(chat_id, content)?;
        invoice.message_id = message["message_id"].as_i64().unwrap_or_default();
        self.shared.lock().payments.invoices.push(invoice);
        self.shared.events.notify_waiters();
        Ok(message)
    }

    fn answer_pre_checkout_query(&self) -> Answer {
        let id = self.str("pre_checkout_query_id").unwrap_or_default();
        let ok = self.bool("ok");
        let error_message = self.str("error_message");
        if !ok && error_message.as_deref().is_none_or(str::is_empty) {
            return Err(ApiError::bad_request("Bad Request: ERROR_MESSAGE_EMPTY"));
        }
        let mut state = self.shared.lock();
        let Some(asked) = state.payments.queries.remove(&id) else {
            return Err(ApiError::bad_request(
                "Bad Request: query is too old and response timeout expired or query id is invalid",
            ));
        };
        state.payments.answers.push(PreCheckoutAnswer {
            query_id: id,
            ok,
            error_message,
            after: asked.elapsed(),
        });
        drop(state);
        self.shared.events.notify_waiters();
        Ok(Value::Bool(true))
    }

    fn refund_star_payment(&self) -> Answer {
        let user_id = self.int("user_id").unwrap_or_default();
        let charge = self.str("telegram_payment_charge_id").unwrap_or_default();
        let mut state = self.shared.lock();
        match state.payments.charges.get_mut(&charge) {
            Some((payer, refunded)) if *payer == user_id => {
                if *refunded {
                    return Err(ApiError::bad_request(
                        "Bad Request: CHARGE_ALREADY_REFUNDED",
                    ));
                }
                *refunded = true;
            }
            _ => return Err(ApiError::bad_request("Bad Request: CHARGE_NOT_FOUND")),
        }
        state.payments.refunds.push((user_id, charge));
        drop(state);
        self.shared.events.notify_waiters();
        Ok(Value::Bool(true))
    }

    fn delete_message(&self) -> Answer {
        let chat_id = self.chat_id()?;
        let message_id = self.int("message_id").unwrap_or_default();
        let mut state = self.shared.lock();
        if state.messages.remove(&(chat_id, message_id)).is_none() {
            return Err(ApiError::bad_request(
                "Bad Request: message to delete not found",
            ));
        }
        state.deleted.push((chat_id, message_id));
        drop(state);
        self.shared.events.notify_waiters();
        Ok(Value::Bool(true))
    }
}

/// A photo as Telegram describes it: its sizes, the largest last.
fn photo_sizes(file_id: &str) -> Value {
    json!([
        {"file_id": format!("{file_id}-small"), "file_unique_id": format!("{file_id}-s"), "width": 90, "height": 68},
        {"file_id": file_id, "file_unique_id": file_id, "width": 800, "height": 600}
    ])
}

#[derive(Clone, Copy)]
enum EditKind {
    Text,
    Caption,
    Markup,
}

/// Telegram treats method names case-insensitively and teloxide sends them capitalised
/// (`SendMessage`); recordings use the documented spelling (`sendMessage`).
fn canonical_method(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

pub(crate) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The call's parameters as one JSON object: the query string, then the body (JSON, form or
/// multipart). Form and multipart values that hold JSON (`reply_markup`) are parsed.
fn parse_params(
    content_type: &str,
    query: Option<&str>,
    body: &[u8],
) -> Result<Map<String, Value>, String> {
    let mut params = query.map(parse_urlencoded).unwrap_or_default();
    // The media type is case-insensitive, the boundary is not.
    let media_type = content_type.to_ascii_lowercase();
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(params);
    }
    let from_body = if media_type.starts_with("multipart/form-data") {
        let boundary = content_type
            .split(';')
            .filter_map(|part| part.trim().strip_prefix("boundary="))
            .next()
            .map(|boundary| boundary.trim_matches('"').to_owned())
            .ok_or("Bad Request: multipart body without a boundary")?;
        parse_multipart(body, &boundary)
    } else if media_type.starts_with("application/x-www-form-urlencoded") {
        parse_urlencoded(&String::from_utf8_lossy(body))
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err("Bad Request: parameters must be a JSON object".into()),
            Err(error) => return Err(format!("Bad Request: can't parse JSON body: {error}")),
        }
    };
    params.extend(from_body);
    Ok(params)
}

fn form_value(text: String) -> Value {
    let looks_structured = text.starts_with('{') || text.starts_with('[');
    if looks_structured && let Ok(value) = serde_json::from_str(&text) {
        return value;
    }
    Value::String(text)
}

fn parse_urlencoded(text: &str) -> Map<String, Value> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |part: &str| percent_decode(&part.replace('+', " "));
            (decode(key), form_value(decode(value)))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes.get(i), hex) {
            (Some(b'%'), Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (Some(&byte), _) => {
                out.push(byte);
                i += 1;
            }
            (None, _) => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Text fields of a `multipart/form-data` body; file fields become `"<file name>"`.
fn parse_multipart(body: &[u8], boundary: &str) -> Map<String, Value> {
    let delimiter = format!("--{boundary}");
    let mut fields = Map::new();
    for part in split_bytes(body, delimiter.as_bytes()) {
        let part = part.strip_prefix(b"\r\n").unwrap_or(part);
        let Some(header_end) = find_bytes(part, b"\r\n\r\n") else {
            continue;
        };
        let (head, content) = part.split_at(header_end);
        let content = content.get(4..).unwrap_or_default();
        let content = content.strip_suffix(b"\r\n").unwrap_or(content);
        let head = String::from_utf8_lossy(head);
        let Some(name) = quoted_attribute(&head, "name") else {
            continue;
        };
        let value = match quoted_attribute(&head, "filename") {
            Some(file_name) => Value::String(format!("<file {file_name}>")),
            None => form_value(String::from_utf8_lossy(content).into_owned()),
        };
        fields.insert(name, value);
    }
    fields
}

/// `name="value"` in a Content-Disposition header (` name=` so that `filename=` is not taken
/// for `name=`).
fn quoted_attribute(head: &str, attribute: &str) -> Option<String> {
    let needle = format!(" {attribute}=\"");
    let start = head.find(&needle)? + needle.len();
    let rest = head.get(start..)?;
    let end = rest.find('"')?;
    rest.get(..end).map(str::to_owned)
}

fn find_bytes(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn split_bytes<'a>(mut haystack: &'a [u8], delimiter: &[u8]) -> Vec<&'a [u8]> {
    let mut parts = Vec::new();
    while let Some(at) = find_bytes(haystack, delimiter) {
        parts.push(haystack.get(..at).unwrap_or_default());
        haystack = haystack.get(at + delimiter.len()..).unwrap_or_default();
    }
    parts.push(haystack);
    parts
}

/// Reads a recorded state without the handler plumbing, for the test handle.
pub(crate) fn stored_message(
    state: &FakeState,
    chat_id: i64,
    message_id: i64,
) -> Option<SentMessage> {
    let stored = state.messages.get(&(chat_id, message_id))?;
    let edited = stored.json.get("edit_date").is_some();
    Some(SentMessage::from_message_json(
        &stored.json,
        stored.parse_mode.clone(),
        stored.reply_keyboard.clone(),
        edited,
        if edited {
            "editMessageText"
        } else {
            "sendMessage"
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_in_every_encoding() -> anyhow::Result<()> {
        let json = parse_params("application/json", None, br#"{"chat_id":5,"text":"hi"}"#)
            .map_err(anyhow::Error::msg)?;
        assert_eq!(json.get("chat_id"), Some(&json!(5)));

        let form = parse_params(
            "application/x-www-form-urlencoded",
            Some("a=1"),
            b"chat_id=5&text=hello+w%C3%B6rld&reply_markup=%7B%22inline_keyboard%22%3A%5B%5D%7D",
        )
        .map_err(anyhow::Error::msg)?;
        assert_eq!(form.get("text"), Some(&json!("hello wörld")));
        assert_eq!(
            form.get("reply_markup"),
            Some(&json!({"inline_keyboard": []}))
        );
        assert_eq!(form.get("a"), Some(&json!("1")));

        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n5\r\n\
                     --XyZ\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"a.png\"\r\n\
                     Content-Type: image/png\r\n\r\n\x89PNG\x00\r\n--XyZ--\r\n";
        let multipart = parse_params("multipart/form-data; boundary=XyZ", None, body)
            .map_err(anyhow::Error::msg)?;
        assert_eq!(multipart.get("chat_id"), Some(&json!("5")));
        assert_eq!(multipart.get("photo"), Some(&json!("<file a.png>")));

        assert!(parse_params("application/json", None, b"[1,2]").is_err());
        assert!(parse_params("application/json", None, b"{not json").is_err());
        assert!(parse_params("", None, b"").is_ok_and(|params| params.is_empty()));
        Ok(())
    }
}
