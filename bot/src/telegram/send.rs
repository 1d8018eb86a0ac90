//! Sending what the dialogue decided, within Telegram's rules: replies in order, long texts
//! split, edits that fall back to new messages, flood control (429) waited out, and transient
//! failures (5xx, dropped connections) retried a bounded number of times. It never panics and
//! never logs the token (teloxide strips it from network errors).

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
        _ => false,
    }
}

/// Sends the dialogue's `outcome` for an update in `chat_id`; `pressed` is the message whose
/// button was pressed, for replies marked `edit`. Replies go in order and stop at the first
/// one that fails for good (the rest would only fail the same way or read out of order);
/// notifications to other chats are each tried regardless. Failures are logged here.
pub async fn deliver(bot: &Bot, chat_id: ChatId, pressed: Option<MessageId>, outcome: Outcome) {
    for reply in &outcome.replies {
        if let Err(error) = send_reply(bot, chat_id, pressed, reply).await {
            tracing::error!(%error, chat_id = chat_id.0, "could not send a reply");
            break;
        }
    }
    for (notified_chat, text) in outcome.notifications {
        for part in split_text(&text, MAX_MESSAGE_LENGTH) {
            if let Err(error) = with_retry(bot.send_message(ChatId(notified_chat), part)).await {
                tracing::error!(%error, chat_id = notified_chat, "could not send a notification");
                break;
            }
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
}
