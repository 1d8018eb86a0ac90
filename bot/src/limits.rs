//! Telegram's size limits as plain numbers, shared by what validates text before it is stored
//! (`store`) and what sends it (`telegram`). Pure: no I/O.

/// The most characters one Telegram message holds.
pub const MAX_MESSAGE_LENGTH: usize = 4096;

/// The most characters a photo's caption holds.
pub const MAX_CAPTION_LENGTH: usize = 1024;

/// `text` cut to at most `limit` characters at a word boundary with "…" appended, and whether
/// it was cut. A text without a space in reach is cut mid-word rather than not at all.
pub fn cut_at_word(text: &str, limit: usize) -> (String, bool) {
    if text.chars().count() <= limit {
        return (text.to_owned(), false);
    }
    // Room for the ellipsis.
    let kept: String = text.chars().take(limit.saturating_sub(1)).collect();
    let at_word = kept
        .rfind(char::is_whitespace)
        .filter(|at| *at > 0)
        .map_or(kept.as_str(), |at| &kept[..at]);
    (format!("{}…", at_word.trim_end()), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_text_is_cut_at_a_word_with_an_ellipsis_within_the_limit() {
        assert_eq!(cut_at_word("short", 10), ("short".to_owned(), false));
        assert_eq!(
            cut_at_word("one two three four", 10),
            ("one two…".to_owned(), true)
        );
        let (cut, was_cut) = cut_at_word(&"wörd ".repeat(400), MAX_CAPTION_LENGTH);
        assert!(was_cut);
        assert!(cut.chars().count() <= MAX_CAPTION_LENGTH);
        assert!(cut.ends_with("wörd…"), "{cut}");
        assert_eq!(
            cut_at_word(&"x".repeat(20), 10).0,
            format!("{}…", "x".repeat(9))
        );
    }
}
