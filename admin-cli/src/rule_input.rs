//! Segment rules as the merchant gives them (`--where TEXT`, or `--rule FILE` in the rule
//! language or the stored JSON) and as every command shows them: in words, made from the stored
//! rule and the store's current names.
//!
//! A rule in words is checked here against the store before anything is saved, so a mistake is
//! said in the merchant's own words with a caret under it; JSON of ids keeps its id-based
//! messages, since ids are what its author wrote.

use std::path::Path;

use anyhow::{Result, anyhow, bail};
use storebot::segments::{self, Rule, language};
use storebot::store::membership::{definitions, names::rule_names};

use crate::context::Context;

/// The store's names for writing and reading rules.
pub async fn names(cx: &Context) -> Result<language::RuleNames> {
    Ok(rule_names(&cx.db, &cx.settings.store.currency).await?)
}

/// The rule of `--where` or `--rule`, checked against the store; `None` when neither is given.
/// `segment_id` is the segment being edited, so that a reference back to it is a cycle.
pub async fn read(
    cx: &Context,
    where_text: Option<&str>,
    file: Option<&Path>,
    segment_id: Option<i64>,
) -> Result<Option<Rule>> {
    match (where_text, file) {
        (Some(_), Some(_)) => bail!("give the rule once: --where TEXT or --rule FILE"),
        (Some(text), None) => Ok(Some(from_words(cx, text, None, segment_id).await?)),
        (None, Some(path)) => {
            let text = crate::files::read_text(path)?;
            if text.trim_start().starts_with('{') {
                let rule = segments::from_json(&text)
                    .map_err(|error| anyhow!("{}: {error}", path.display()))?;
                Ok(Some(rule))
            } else {
                Ok(Some(from_words(cx, &text, Some(path), segment_id).await?))
            }
        }
        (None, None) => Ok(None),
    }
}

async fn from_words(
    cx: &Context,
    text: &str,
    path: Option<&Path>,
    segment_id: Option<i64>,
) -> Result<Rule> {
    let names = names(cx).await?;
    let file = path.map_or_else(String::new, |path| format!("{}: ", path.display()));
    let rule = language::parse(text, &names).map_err(|error| {
        let (line, column) = error.position(text);
        RuleTextError {
            shown: format!("{file}{}", error.show(text)),
            message: error.message,
            line,
            column,
        }
    })?;
    let facts = definitions::validation_facts(&cx.db, segment_id).await?;
    segments::validate(&rule, &facts)
        .map_err(|error| anyhow!("{file}{}", language::error_in_words(&error, &rule, &names)))?;
    Ok(rule)
}

/// A rule in words that does not read: shown with its caret, and kept apart so that `--json`
/// can report the place as a line and column.
#[derive(Debug, thiserror::Error)]
#[error("{shown}")]
pub struct RuleTextError {
    /// The sentence with the line and the caret under the place.
    pub shown: String,
    /// The sentence alone.
    pub message: String,
    pub line: usize,
    pub column: usize,
}
