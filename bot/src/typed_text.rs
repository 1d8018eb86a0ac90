//! Text people type, made storable the same way on both databases: PostgreSQL can't hold NUL
//! (U+0000) in a text column while SQLite can, so a NUL reaching a write would fail on one and
//! not the other. Pure; every adapter (Telegram, the terminal chat, the admin tool's wizards)
//! cleans what a person typed with [`clean`] once, where it comes in.
//!
//! What goes: every control character (Unicode category Cc: C0, DEL and C1, which includes
//! NUL, the bell and the ESC that starts a terminal escape sequence, which would otherwise
//! reach the merchant's terminal through an order's address) except tab and line feed. A
//! carriage return ends a line: CR LF and a lone CR both become LF. Format characters
//! (right-to-left marks, zero-width joiners) are kept: they are part of how people write.

/// `text` without control characters other than tab and line feed (CR LF and CR become LF).
pub fn clean(text: &str) -> String {
    let mut cleaned = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' if chars.peek() == Some(&'\n') => {}
            '\r' => cleaned.push('\n'),
            '\n' | '\t' => cleaned.push(c),
            c if c.is_control() => {}
            c => cleaned.push(c),
        }
    }
    cleaned
}

#[cfg(test)]
mod tests {
    use super::clean;

    fn check(typed: &str, stored: &str) {
        assert_eq!(clean(typed), stored, "{typed:?}");
    }

    #[test]
    fn nul_and_other_control_characters_are_removed() {
        check("tea\0tea\0", "teatea");
        check("\u{7}\u{1b}[31mred\u{1b}[0m", "[31mred[0m");
        check("a\u{7f}b\u{9b}c", "abc");
    }

    #[test]
    fn lines_and_tabs_are_kept_and_carriage_returns_end_lines() {
        check("1 High St\r\nLondon\rUK\tE1", "1 High St\nLondon\nUK\tE1");
    }

    #[test]
    fn how_people_write_is_kept() {
        let odd = "\u{202E}Ève\u{0301} 🍵\u{200B}‍ אבג 👨‍👩‍👧";
        check(odd, odd);
    }

    proptest::proptest! {
        #[test]
        fn nothing_cleaned_holds_a_nul_and_cleaning_twice_changes_nothing(text in ".*") {
            let once = clean(&text);
            proptest::prop_assert!(!once.contains('\0'));
            proptest::prop_assert_eq!(clean(&once), once.clone());
        }
    }
}
