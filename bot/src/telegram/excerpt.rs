//! The bounded excerpt a log line may quote of a body it did not expect.

/// How much of an update the bot can't read a log line quotes: enough to recognise it, not
/// the megabyte a hostile webhook post may hold (nor the personal data in it).
pub(crate) const UNREADABLE_EXCERPT_CHARS: usize = 200;

/// The first `max_chars` characters of `text` (cut on a character boundary), with `…` when
/// something was left out: what a log line may quote of a body it did not expect.
pub(crate) fn excerpt(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((at, _)) => format!("{}…", text.get(..at).unwrap_or_default()),
        None => text.to_owned(),
    }
}
