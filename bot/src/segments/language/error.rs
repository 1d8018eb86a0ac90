//! A mistake in a rule's text: one sentence and the place it is about, shown with a caret.

use std::fmt;

/// One sentence and the byte range of the text it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanguageError {
    pub message: String,
    pub start: usize,
    pub end: usize,
}

impl LanguageError {
    pub(super) fn new(message: impl Into<String>, start: usize, end: usize) -> Self {
        Self {
            message: message.into(),
            start,
            end,
        }
    }

    /// The 1-based line and column (in characters) of the place in `text`.
    pub fn position(&self, text: &str) -> (usize, usize) {
        let start = self.start.min(text.len());
        let before = text.get(..start).unwrap_or(text);
        let line_start = before.rfind('\n').map_or(0, |at| at + 1);
        (
            before.matches('\n').count() + 1,
            before[line_start..].chars().count() + 1,
        )
    }

    /// The sentence, then the line of `text` it is about with carets under the place:
    ///
    /// ```text
    /// no question is called "What do you drnk?"; the closest is "What do you drink?".
    ///   answer "What do you drnk?" is "Coffee"
    ///          ^^^^^^^^^^^^^^^^^^^
    /// ```
    pub fn show(&self, text: &str) -> String {
        let start = self.start.min(text.len());
        let line_start = text[..start].rfind('\n').map_or(0, |at| at + 1);
        let line_end = text[start..].find('\n').map_or(text.len(), |at| start + at);
        let line = &text[line_start..line_end];
        let column = text[line_start..start].chars().count();
        let end = self.end.clamp(start, line_end);
        let width = text[start..end].chars().count().max(1);
        let place = if text[..line_start].is_empty() {
            String::new()
        } else {
            format!(" (line {})", text[..line_start].matches('\n').count() + 1)
        };
        format!(
            "{}{place}\n  {line}\n  {}{}",
            self.message,
            " ".repeat(column),
            "^".repeat(width)
        )
    }
}

impl fmt::Display for LanguageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for LanguageError {}
