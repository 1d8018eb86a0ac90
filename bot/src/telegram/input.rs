//! Reading updates: who sent them and what they did, as the dialogue's [`Input`]. Pure: it
//! never sends anything and never trusts callback data beyond passing it on.

use teloxide::types::{CallbackQuery, ChatId, Message, MessageId, User};

use crate::conversation::{Input, TelegramUser};

/// The shopper behind an update, with the chat the bot answers in.
pub fn sender(user: &User, chat_id: ChatId) -> Option<TelegramUser> {
    Some(TelegramUser {
        // Telegram user ids fit in 52 bits; a larger one would be a forged update.
        telegram_user_id: i64::try_from(user.id.0).ok()?,
        chat_id: chat_id.0,
        first_name: user.first_name.clone(),
        last_name: user.last_name.clone(),
        username: user.username.clone(),
        language_code: user.language_code.clone(),
    })
}

/// What a message says to the dialogue: its text (commands included) or a shared contact.
/// Other messages (stickers, photos, ...) have nothing the dialogue reads.
pub fn message_input(message: &Message) -> Option<Input> {
    if let Some(text) = message.text() {
        return Some(Input::Text(text.to_owned()));
    }
    message.contact().map(|contact| Input::Contact {
        phone: contact.phone_number.clone(),
        user_id: contact
            .user_id
            .and_then(|user_id| i64::try_from(user_id.0).ok()),
    })
}

/// A button press, where it happened, and which message to edit for it.
pub struct Press {
    pub input: Input,
    pub chat_id: ChatId,
    /// The message carrying the button, when Telegram still lets the bot edit it.
    pub message_id: Option<MessageId>,
}

/// Reads a callback query. Without data (a game button) there is nothing to tell the dialogue.
pub fn press(query: &CallbackQuery) -> Option<Press> {
    let data = query.data.clone()?;
    let (chat_id, message_id) = match &query.message {
        Some(message) => (
            message.chat().id,
            // An inaccessible message (too old, or deleted) can't be edited; send anew.
            message.regular_message().map(|message| message.id),
        ),
        // A button under an inline-mode message: answer in the private chat, whose id is
        // the user's.
        None => (ChatId(i64::try_from(query.from.id.0).ok()?), None),
    };
    Some(Press {
        input: Input::Button { data },
        chat_id,
        message_id,
    })
}
