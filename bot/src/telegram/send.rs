//! Sending what the dialogue decided, within Telegram's rules: replies in order, long texts
//! split, edits that fall back to new messages, flood control (429) waited out, and transient
//! failures (5xx, dropped connections, an answer that is not JSON) retried a bounded number of
//! times. It never panics and never logs the token (teloxide strips it from network errors).

use std::time::Duration;

use std::future::Future;
use teloxide::prelude::*;
use teloxide::requests::{Output, Request};

use teloxide::types::{
    FileId, InputFile, InputMedia, InputMediaPhoto, Message, MessageId, ParseMode, ReplyMarkup,
};
use teloxide::{ApiError, RequestError};

use super::render::{MAX_MESSAGE_LENGTH, inline_keyboard, reply_markup, split_text};
use crate::conversation::{Markup, Outcome, Photo, Reply};

/// How many times one call is retried after Telegram's "retry after" answer.
const FLOOD_RETRIES: u32 = 5;
/// How many times one call is retried after a 5xx or a dropped connection, and the first wait.
const TRANSIENT_RETRIES: u32 = 3;
const FIRST_TRANSIENT_BACKOFF: Duration = Duration::from_millis(500);
/// A "retry after" longer than this is not waited out: the update is better dropped (and
/// logged) than held for minutes while the shopper's other updates queue behind it.
const LONGEST_FLOOD_WAIT: Duration = Duration::from_secs(120);

/// Sends `request`, waiting out flood control and retrying transient failures.
pub async fn with_retry<R>(request: R) -> Result<Output<R>, RequestError>
where
    R: Request<Err = RequestError>,
{
    let mut flood_retries = 0;
    let mut transient_retries = 0;
    let mut backoff = FIRST_TRANSIENT_BACKOFF;
    loop {
        match request.send_ref().await {
            Err(RequestError::RetryAfter(seconds))
                if flood_retries < FLOOD_RETRIES && seconds.duration() <= LONGEST_FLOOD_WAIT =>
            {
                flood_retries += 1;
                tracing::warn!(
                    retry_after_secs = seconds.seconds(),
                    "Telegram asked to slow down; waiting before retrying"
                );
                tokio::time::sleep(seconds.duration()).await;
            }
            Err(error) if is_transient(&error) && transient_retries < TRANSIENT_RETRIES => {
                transient_retries += 1;
                let error = describe(&error);
                tracing::warn!(%error, ?backoff, "a Telegram call failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
            result => return result,
        }
    }
}

/// Failures worth another try: the connection broke, or Telegram's side had a server error.
fn is_transient(error: &RequestError) -> bool {
    match error {
        RequestError::Network(_) | RequestError::Io(_) => true,
        _ => is_server_error(error),
    }
}

/// Telegram's side answered with a server error (5xx): the request was not carried out.
pub(super) fn is_server_error(error: &RequestError) -> bool {
    match error {
        // teloxide keeps no status code; a 5xx envelope's description is the status text.
        RequestError::Api(ApiError::Unknown(description)) => [
            "Internal Server Error",
            "Bad Gateway",
            "Service Unavailable",
            "Gateway Timeout",
        ]
        .iter()
        .any(|status| description.starts_with(status)),
        // Telegram always answers JSON, so a body that is not JSON at all (a proxy's HTML error
        // page, an empty 503) comes from something in between that failed: a server error.
        // A JSON body teloxide could not read is Telegram's own answer (a field newer than
        // teloxide, say): the call may well have been carried out, so it is not retried.
        RequestError::InvalidJson { raw, .. } => {
            serde_json::from_str::<serde::de::IgnoredAny>(raw).is_err()
        }
        _ => false,
    }
}

/// How a failed call is logged or recorded, in one sentence: Telegram's refusal as Telegram
/// words it, a network failure with each cause once, and an answer that is not JSON (a proxy's
/// whole HTML page) cut to its length and an excerpt.
pub(super) fn describe(error: &RequestError) -> String {
    match error {
        RequestError::InvalidJson { raw, .. } if raw.trim().is_empty() => {
            "the Bot API answered with an empty body (a server error on the way)".to_owned()
        }
        RequestError::InvalidJson { raw, .. } => format!(
            "the Bot API answered {} bytes that are not Telegram's JSON: {:?}",
            raw.len(),
            super::excerpt::excerpt(raw, EXCERPT_CHARS)
        ),
        // teloxide's "A Telegram's error: …" wrapper says nothing Telegram's text doesn't.
        RequestError::Api(refusal) => refusal.to_string(),
        RequestError::Network(network) => crate::telemetry::one_sentence(network),
        _ => crate::telemetry::one_sentence(error),
    }
}

/// How much of a body that is not JSON goes into a log line or an outbox message's error.
const EXCERPT_CHARS: usize = 120;

/// The message whose button was pressed.
#[derive(Debug, Clone, Copy)]
pub struct Pressed {
    pub id: MessageId,
    /// A photo's caption can't become a text screen by an edit: it is replaced instead.
    pub photo: bool,
}

/// Where delivery reports what Telegram made of a photo, so that the next shopper gets the
/// `file_id` and a refused image is not tried again (the dialogue stores both).
pub trait PhotoLog: Sync {
    fn sent(&self, source: &str, file_id: &str) -> impl Future<Output = ()> + Send;
    fn refused(&self, source: &str, error: &str) -> impl Future<Output = ()> + Send;
}

/// Sends the dialogue's `outcome` for an update in `chat_id`; `pressed` is the message whose
/// button was pressed, for replies marked `edit`. Replies go in order and stop at the first
/// one that fails for good (the rest would only fail the same way or read out of order);
/// notifications to other chats are each tried regardless. Failures are logged here.
pub async fn deliver(
    bot: &Bot,
    log: &impl PhotoLog,
    chat_id: ChatId,
    pressed: Option<Pressed>,
    outcome: Outcome,
) {
    for reply in &outcome.replies {
        if let Err(error) = send_reply(bot, log, chat_id, pressed, reply).await {
            let error = describe(&error);
            tracing::error!(%error, chat_id = chat_id.0, "could not send a reply");
            break;
        }
    }
    for notification in outcome.notifications {
        let chat = ChatId(notification.chat_id);
        let reply = Reply {
            text: notification.text,
            markup: notification.markup,
            edit: false,
            photo: None,
        };
        if let Err(error) = send_reply(bot, log, chat, None, &reply).await {
            let error = describe(&error);
            tracing::error!(%error, chat_id = chat.0, "could not send a notification");
        }
    }
}

async fn send_reply(
    bot: &Bot,
    log: &impl PhotoLog,
    chat_id: ChatId,
    pressed: Option<Pressed>,
    reply: &Reply,
) -> Result<(), RequestError> {
    if let Some(photo) = &reply.photo {
        match send_photo(bot, log, chat_id, pressed, reply, photo).await {
            Ok(true) => return Ok(()),
            // Refused: the same screen as text, in the pressed message's place.
            Ok(false) => {}
            Err(error) => return Err(error),
        }
    }
    // A photo's caption can't be edited into a text screen: the photo goes, and the text is
    // sent anew, so no stale photo stays above the new buttons.
    let pressed = match pressed {
        Some(pressed) if pressed.photo && reply.edit => {
            delete(bot, chat_id, pressed.id).await;
            None
        }
        other => other.map(|pressed| pressed.id),
    };
    let mut parts = split_text(&reply.text, MAX_MESSAGE_LENGTH);
    if parts.is_empty() {
        tracing::warn!(
            chat_id = chat_id.0,
            "the dialogue produced an empty reply; skipped"
        );
        return Ok(());
    }
    // Only an inline keyboard (or none) can go on an edited message.
    let editable = reply.edit && matches!(reply.markup, Markup::None | Markup::Inline(_));
    if let (true, Some(message_id)) = (editable, pressed) {
        let first = parts.remove(0);
        let markup = if parts.is_empty() {
            inline_keyboard(&reply.markup)
        } else {
            None
        };
        if edit(bot, chat_id, message_id, first.clone(), markup).await {
            return send_parts(bot, chat_id, parts, reply).await;
        }
        parts.insert(0, first);
    }
    send_parts(bot, chat_id, parts, reply).await
}

/// Deletes a message the bot replaces; a failure (already gone, too old) is only logged.
async fn delete(bot: &Bot, chat_id: ChatId, message_id: MessageId) {
    if let Err(error) = with_retry(bot.delete_message(chat_id, message_id)).await {
        let error = describe(&error);
        tracing::info!(%error, chat_id = chat_id.0, "could not delete a replaced message");
    }
}

/// A refusal of the image itself (a bad URL, not an image, too large, an unknown file id),
/// as opposed to a refusal of the chat or the connection.
fn is_image_refusal(error: &RequestError) -> bool {
    match error {
        RequestError::Api(
            ApiError::BotBlocked
            | ApiError::ChatNotFound
            | ApiError::UserDeactivated
            | ApiError::BotKicked
            | ApiError::BotKickedFromSupergroup
            | ApiError::MessageNotModified,
        ) => false,
        RequestError::Api(_) => !is_server_error(error),
        _ => false,
    }
}

/// What to send for a photo: its `file_id` when Telegram gave one, else the URL or the file.
/// `None` when the source can't be sent at all (a file gone from disk, a URL that does not
/// parse), which counts as a refusal.
fn photo_input(source: &str, file_id: Option<&str>) -> Option<InputFile> {
    if let Some(file_id) = file_id {
        return Some(InputFile::file_id(FileId(file_id.to_owned())));
    }
    if source.starts_with("https://") {
        return url::Url::parse(source).ok().map(InputFile::url);
    }
    let path = std::path::Path::new(source);
    path.is_file().then(|| InputFile::file(path))
}

/// Sends a photo screen: the pressed photo's media edited in place, else a new photo (the
/// pressed text message then deleted). `Ok(false)` when Telegram refused the image (recorded
/// through `log`, the caller sends the text instead). A stored `file_id` that Telegram no
/// longer takes is tried once more from the source.
async fn send_photo(
    bot: &Bot,
    log: &impl PhotoLog,
    chat_id: ChatId,
    pressed: Option<Pressed>,
    reply: &Reply,
    photo: &Photo,
) -> Result<bool, RequestError> {
    let markup = inline_keyboard(&reply.markup);
    let mut tries = vec![photo.file_id.as_deref()];
    if photo.file_id.is_some() {
        tries.push(None);
    }
    let mut last_refusal = None;
    for file_id in tries {
        let Some(input) = photo_input(&photo.source, file_id) else {
            last_refusal = Some("the file can't be read or the URL does not parse".to_owned());
            continue;
        };
        if let (true, Some(pressed)) = (reply.edit, pressed.filter(|pressed| pressed.photo)) {
            let mut media = InputMediaPhoto::new(input.clone());
            media.caption = Some(reply.text.clone());
            let mut request = bot.edit_message_media(chat_id, pressed.id, InputMedia::Photo(media));
            request.reply_markup = markup.clone();
            match with_retry(request).await {
                Ok(message) => {
                    record(log, photo, &message).await;
                    return Ok(true);
                }
                Err(RequestError::Api(ApiError::MessageNotModified)) => return Ok(true),
                Err(error) if is_image_refusal(&error) => {
                    last_refusal = Some(describe(&error));
                    continue;
                }
                Err(error) => {
                    let error = describe(&error);
                    tracing::info!(%error, chat_id = chat_id.0, "could not edit a photo; sending it anew");
                }
            }
        }
        let mut request = bot.send_photo(chat_id, input);
        request.caption = Some(reply.text.clone());
        request.reply_markup = markup.clone().map(ReplyMarkup::InlineKeyboard);
        match with_retry(request).await {
            Ok(message) => {
                record(log, photo, &message).await;
                if let (true, Some(pressed)) = (reply.edit, pressed) {
                    delete(bot, chat_id, pressed.id).await;
                }
                return Ok(true);
            }
            Err(error) if is_image_refusal(&error) => last_refusal = Some(describe(&error)),
            Err(error) => return Err(error),
        }
    }
    if let Some(error) = last_refusal {
        log.refused(&photo.source, &error).await;
    }
    Ok(false)
}

/// Reports the `file_id` of the largest size Telegram made of a sent photo.
async fn record(log: &impl PhotoLog, photo: &Photo, message: &Message) {
    let file_id = message
        .photo()
        .and_then(<[teloxide::types::PhotoSize]>::last)
        .map(|size| size.file.id.0.clone());
    if let Some(file_id) = file_id
        && photo.file_id.as_deref() != Some(file_id.as_str())
    {
        log.sent(&photo.source, &file_id).await;
    }
}

/// Edits the pressed message; false when it can't be edited and must be sent anew.
async fn edit(
    bot: &Bot,
    chat_id: ChatId,
    message_id: MessageId,
    text: String,
    markup: Option<teloxide::types::InlineKeyboardMarkup>,
) -> bool {
    let mut request = bot.edit_message_text(chat_id, message_id, text);
    request.reply_markup = markup;
    match with_retry(request).await {
        // Pressing a button that leads to the same screen is not an error.
        Ok(_) | Err(RequestError::Api(ApiError::MessageNotModified)) => true,
        Err(error) => {
            let error = describe(&error);
            tracing::info!(%error, chat_id = chat_id.0, "could not edit a message; sending it anew");
            false
        }
    }
}

/// Sends `parts` as consecutive messages, the reply's keyboard under the last one.
async fn send_parts(
    bot: &Bot,
    chat_id: ChatId,
    parts: Vec<String>,
    reply: &Reply,
) -> Result<(), RequestError> {
    let count = parts.len();
    for (index, part) in parts.into_iter().enumerate() {
        let mut request = bot.send_message(chat_id, part);
        // Plain text: a shopper's name or a product title must never be read as markup.
        request.parse_mode = None::<ParseMode>;
        if index + 1 == count {
            request.reply_markup = reply_markup(&reply.markup);
        }
        with_retry(request).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_and_broken_connections_are_retried_but_refusals_are_not() {
        let server_error = RequestError::Api(ApiError::Unknown("Bad Gateway".into()));
        let broken = RequestError::Io(std::sync::Arc::new(std::io::Error::from(
            std::io::ErrorKind::ConnectionReset,
        )));
        assert!(is_transient(&server_error));
        assert!(is_transient(&broken));
        for refusal in [
            RequestError::Api(ApiError::BotBlocked),
            RequestError::Api(ApiError::MessageNotModified),
            RequestError::Api(ApiError::Unknown("Bad Request: chat not found".into())),
        ] {
            assert!(!is_transient(&refusal), "{refusal:?}");
        }
    }

    fn answered(raw: &str) -> RequestError {
        let source = serde_json::from_str::<serde_json::Value>("{").unwrap_err();
        RequestError::InvalidJson {
            source: std::sync::Arc::new(source),
            raw: raw.into(),
        }
    }

    #[test]
    fn an_answer_that_is_not_json_is_a_server_error_but_unreadable_json_is_not() {
        let page = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>";
        assert!(is_server_error(&answered(page)));
        assert!(is_transient(&answered(page)));
        assert!(is_server_error(&answered("")));
        // Telegram's own answer in a shape teloxide doesn't know: the message may be sent.
        assert!(!is_transient(&answered(
            r#"{"ok":true,"result":{"odd":1}}"#
        )));
    }

    #[test]
    fn a_long_page_is_described_by_its_length_and_an_excerpt() {
        let page = format!("<html>{}</html>", "é".repeat(100_000));
        let described = describe(&answered(&page));
        assert!(
            described.contains(&format!("{} bytes", page.len())),
            "{described}"
        );
        assert!(described.chars().count() < 300, "{described}");
        assert!(describe(&answered("  ")).contains("empty body"));
    }
}
