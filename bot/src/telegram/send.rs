//! Sending what the dialogue decided, within Telegram's rules: replies in order, long texts
//! split, edits that fall back to new messages, flood control (429) waited out, and transient
//! failures (5xx, dropped connections, an answer that is not JSON) retried a bounded number of
//! times. It never panics and never logs the token (teloxide strips it from network errors).

use std::time::Duration;

use teloxide::prelude::*;
use teloxide::requests::{Output, Request};
use teloxide::types::{MessageId, ParseMode};
use teloxide::{ApiError, RequestError};

use super::render::{MAX_MESSAGE_LENGTH, inline_keyboard, reply_markup, split_text};
use crate::conversation::{Markup, Outcome, Reply};

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

/// Sends the dialogue's `outcome` for an update in `chat_id`; `pressed` is the message whose
/// button was pressed, for replies marked `edit`. Replies go in order and stop at the first
/// one that fails for good (the rest would only fail the same way or read out of order);
/// notifications to other chats are each tried regardless. Failures are logged here.
pub async fn deliver(bot: &Bot, chat_id: ChatId, pressed: Option<MessageId>, outcome: Outcome) {
    for reply in &outcome.replies {
        if let Err(error) = send_reply(bot, chat_id, pressed, reply).await {
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
        };
        if let Err(error) = send_reply(bot, chat, None, &reply).await {
            let error = describe(&error);
            tracing::error!(%error, chat_id = chat.0, "could not send a notification");
        }
    }
}

async fn send_reply(
    bot: &Bot,
    chat_id: ChatId,
    pressed: Option<MessageId>,
    reply: &Reply,
) -> Result<(), RequestError> {
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
