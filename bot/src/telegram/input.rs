//! Reading updates: who sent them and what they did, as the dialogue's [`Input`]. Pure: it
//! never sends anything and never trusts callback data beyond passing it on. Every text that
//! comes in here (a message, a contact's number, the sender's names) is cleaned once with
//! [`crate::typed_text::clean`], so nothing unstorable (a NUL) reaches the dialogue's writes.

use teloxide::types::{CallbackQuery, ChatId, Message, MessageId, MessageKind, User};

use crate::conversation::{Input, TelegramUser};
use crate::typed_text::clean;

/// The shopper behind an update, with the chat the bot answers in.
pub fn sender(user: &User, chat_id: ChatId) -> Option<TelegramUser> {
    let cleaned = |text: &Option<String>| text.as_deref().map(clean);
    Some(TelegramUser {
        // Telegram user ids fit in 52 bits; a larger one would be a forged update.
        telegram_user_id: i64::try_from(user.id.0).ok()?,
        chat_id: chat_id.0,
        first_name: clean(&user.first_name),
        last_name: cleaned(&user.last_name),
        username: cleaned(&user.username),
        language_code: cleaned(&user.language_code),
    })
}

/// What a message says to the dialogue: its text (commands included), a shared contact, or
/// [`Input::Media`] for what a shopper sends that the dialogue does not read (a photo, a
/// sticker, a voice message, a location, ...). Service messages (a pinned message, a changed
/// auto-delete timer) are not the shopper talking: `None`.
pub fn message_input(message: &Message) -> Option<Input> {
    if let Some(text) = message.text() {
        return Some(Input::typed(text));
    }
    if let Some(contact) = message.contact() {
        let user_id = contact
            .user_id
            .and_then(|user_id| i64::try_from(user_id.0).ok());
        return Some(Input::contact(&contact.phone_number, user_id));
    }
    matches!(message.kind, MessageKind::Common(_)).then_some(Input::Media)
}

/// A button press, where it happened, and which message to edit for it.
pub struct Press {
    pub input: Input,
    pub chat_id: ChatId,
    /// Whether the button sits in a private chat (or under an inline-mode message, answered
    /// in the private chat): shopper screens never go to a group or channel.
    pub in_private: bool,
    /// The message carrying the button, when Telegram still lets the bot edit it.
    pub message_id: Option<MessageId>,
    /// Whether that message is a photo (its caption can't become a text screen by an edit).
    pub photo: bool,
}

/// Reads a callback query. Without data (a game button) there is nothing to tell the dialogue.
pub fn press(query: &CallbackQuery) -> Option<Press> {
    let data = query.data.clone()?;
    let (chat_id, message_id, in_private, photo) = match &query.message {
        Some(message) => (
            message.chat().id,
            // An inaccessible message (too old, or deleted) can't be edited; send anew.
            message.regular_message().map(|message| message.id),
            message.chat().is_private(),
            message
                .regular_message()
                .is_some_and(|message| message.photo().is_some()),
        ),
        // A button under an inline-mode message: answer in the private chat, whose id is
        // the user's.
        None => (
            ChatId(i64::try_from(query.from.id.0).ok()?),
            None,
            true,
            false,
        ),
    };
    Some(Press {
        input: Input::Button { data },
        chat_id,
        message_id,
        in_private,
        photo,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(content: serde_json::Value) -> Message {
        let mut message = serde_json::json!({
            "message_id": 7,
            "date": 1_700_000_000,
            "chat": {"id": 1001, "type": "private", "first_name": "Alice"},
            "from": {"id": 1001, "is_bot": false, "first_name": "Alice"},
        });
        if let (Some(message), Some(content)) = (message.as_object_mut(), content.as_object()) {
            message.extend(content.clone());
        }
        serde_json::from_value(message).unwrap()
    }

    #[test]
    fn text_and_contacts_are_cleaned_and_media_is_media() {
        assert_eq!(
            message_input(&message(serde_json::json!({"text": "sen\u{0}cha"}))),
            Some(Input::Text("sencha".into()))
        );
        let voice = serde_json::json!({"voice": {
            "file_id": "v", "file_unique_id": "v", "duration": 3, "mime_type": "audio/ogg"
        }});
        let location = serde_json::json!({"location": {"latitude": 51.5, "longitude": -0.12}});
        for media in [voice, location] {
            assert_eq!(
                message_input(&message(media.clone())),
                Some(Input::Media),
                "{media}"
            );
        }
    }
}
