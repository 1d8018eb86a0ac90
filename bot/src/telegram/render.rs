//! Turning the dialogue's replies into what the Bot API accepts: texts cut to Telegram's
//! length limit and keyboards in teloxide's types. Pure: it sends nothing.

use teloxide::types::{
    ButtonRequest, InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, KeyboardMarkup,
    KeyboardRemove, ReplyMarkup,
};

use crate::conversation::Markup;

/// Telegram refuses messages longer than this, counted in UTF-16 code units.
pub use crate::limits::MAX_MESSAGE_LENGTH;

/// Cuts `text` into parts of at most `limit` UTF-16 code units, at line boundaries where it
/// can, and inside a line only when the line alone is too long. Parts that would be blank are
/// dropped, because Telegram refuses empty messages; blank text yields no part at all.
pub fn split_text(text: &str, limit: usize) -> Vec<String> {
    let limit = limit.max(1);
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut current_len = 0;
    for line in text.split_inclusive('\n') {
        let line_len = line.encode_utf16().count();
        if current_len + line_len > limit && current_len > 0 {
            push_part(&mut parts, std::mem::take(&mut current));
            current_len = 0;
        }
        if line_len <= limit {
            current.push_str(line);
            current_len += line_len;
            continue;
        }
        // One line longer than a whole message: cut it between characters (never inside a
        // surrogate pair), as a person would have to.
        for character in line.chars() {
            let character_len = character.len_utf16();
            if current_len + character_len > limit {
                push_part(&mut parts, std::mem::take(&mut current));
                current_len = 0;
            }
            current.push(character);
            current_len += character_len;
        }
    }
    push_part(&mut parts, current);
    parts
}

fn push_part(parts: &mut Vec<String>, part: String) {
    // The newline that separated two parts is not worth a character of either.
    let part = part.trim_end_matches(['\n', '\r']);
    if !part.trim().is_empty() {
        parts.push(part.to_owned());
    }
}

/// The inline keyboard of `markup`, if it is one (the only kind an edit may carry).
pub fn inline_keyboard(markup: &Markup) -> Option<InlineKeyboardMarkup> {
    match markup {
        Markup::Inline(rows) => Some(InlineKeyboardMarkup::new(rows.iter().map(|row| {
            row.iter()
                .map(|button| InlineKeyboardButton::callback(&button.label, &button.data))
                .collect::<Vec<_>>()
        }))),
        Markup::None | Markup::RequestContact { .. } | Markup::RemoveKeyboard => None,
    }
}

/// `markup` as a `reply_markup` for `sendMessage`; `None` for no keyboard.
pub fn reply_markup(markup: &Markup) -> Option<ReplyMarkup> {
    match markup {
        Markup::None => None,
        Markup::Inline(_) => inline_keyboard(markup).map(ReplyMarkup::InlineKeyboard),
        Markup::RequestContact { label } => Some(ReplyMarkup::Keyboard(
            KeyboardMarkup::new([[KeyboardButton::new(label).request(ButtonRequest::Contact)]])
                .one_time_keyboard()
                .resize_keyboard(),
        )),
        Markup::RemoveKeyboard => Some(ReplyMarkup::KeyboardRemove(KeyboardRemove::new())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::Button;

    fn utf16_len(text: &str) -> usize {
        text.encode_utf16().count()
    }

    #[test]
    fn short_text_is_one_part_unchanged() {
        assert_eq!(split_text("Hello\nworld", 4096), vec!["Hello\nworld"]);
    }

    #[test]
    fn blank_text_yields_no_part() {
        assert!(split_text("", 4096).is_empty());
        assert!(split_text(" \n\n ", 4096).is_empty());
    }

    #[test]
    fn long_text_is_split_on_line_boundaries() {
        let line = "x".repeat(1000);
        let text = [line.as_str(); 9].join("\n");
        let parts = split_text(&text, 4096);
        assert_eq!(parts.len(), 3);
        for part in &parts {
            assert!(utf16_len(part) <= 4096);
            assert!(part.split('\n').all(|piece| piece == line), "{part}");
        }
        assert_eq!(parts.join("\n"), text);
    }

    #[test]
    fn a_line_longer_than_the_limit_is_cut_between_characters() {
        // 🍵 takes two UTF-16 code units: an odd limit would cut a pair if counted in chars.
        let text = "🍵".repeat(10);
        let parts = split_text(&text, 5);
        assert_eq!(parts, vec!["🍵🍵", "🍵🍵", "🍵🍵", "🍵🍵", "🍵🍵"]);
    }

    #[test]
    fn splitting_keeps_every_character_of_a_mixed_text() {
        let text = format!("{}\n{}\nend", "a".repeat(5000), "ü".repeat(300));
        let parts = split_text(&text, 4096);
        assert!(parts.iter().all(|part| utf16_len(part) <= 4096));
        let rejoined: String = parts.concat();
        assert_eq!(rejoined.replace('\n', ""), text.replace('\n', ""));
    }

    #[test]
    fn request_contact_is_a_one_time_reply_keyboard() {
        let markup = reply_markup(&Markup::RequestContact {
            label: "Share my phone".into(),
        });
        let Some(ReplyMarkup::Keyboard(keyboard)) = markup else {
            panic!("expected a reply keyboard, got {markup:?}");
        };
        assert!(keyboard.one_time_keyboard);
        let button = &keyboard.keyboard[0][0];
        assert_eq!(button.text, "Share my phone");
        assert_eq!(button.request, Some(ButtonRequest::Contact));
    }

    #[test]
    fn inline_buttons_keep_their_rows_and_data() {
        let markup = Markup::Inline(vec![
            vec![Button {
                label: "A".into(),
                data: "a".into(),
            }],
            vec![
                Button {
                    label: "B".into(),
                    data: "b".into(),
                },
                Button {
                    label: "C".into(),
                    data: "c".into(),
                },
            ],
        ]);
        let keyboard = inline_keyboard(&markup).map(|keyboard| keyboard.inline_keyboard);
        let shape: Option<Vec<usize>> = keyboard.map(|rows| rows.iter().map(Vec::len).collect());
        assert_eq!(shape, Some(vec![1, 2]));
        assert!(inline_keyboard(&Markup::None).is_none());
        assert!(reply_markup(&Markup::None).is_none());
    }
}
