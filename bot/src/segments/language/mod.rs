//! The rule language: segment rules as merchants read and write them, with names instead of
//! ids and amounts in the store's currency (`answer "What do you drink?" is "Coffee" and
//! average check >= 20.00 during last 90 days and not in segment "Staff"`).
//!
//! The JSON of ids stays the stored form, so renaming a question never breaks a rule; the text
//! is always made from the stored rule and the current names ([`RuleNames`], built by `store`),
//! and parsed back into ids. Pure: no I/O. [`to_text`] and [`parse`] agree: a property test
//! prints random valid rules and reads them back to the same rule. README.md ("The rule
//! language") is the merchant's reference.

mod error;
mod explain;
mod lexer;
mod names;
mod parse;
mod print;
mod problems;
#[cfg(test)]
mod tests;

pub use error::LanguageError;
pub use explain::explanation_lines;
pub use names::{OptionName, QuestionName, RuleNames};
pub use parse::parse;
pub use print::{condition as condition_text, to_short_text, to_text};
pub use problems::error_in_words;
