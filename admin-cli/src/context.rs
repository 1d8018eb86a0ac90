//! What every command needs: the database, the settings, the output mode, and the prompt.

use chrono::{DateTime, Utc};
use serde::Serialize;
use storebot::Settings;
use storebot::store::DatabaseConnection;

use crate::prompt::Prompt;

pub struct Context {
    pub db: DatabaseConnection,
    pub settings: Settings,
    pub json: bool,
    pub yes: bool,
    pub prompt: Prompt,
}

impl Context {
    /// The clock is read here, once per command, and passed down as `now`.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    /// Prints `value` as JSON when `--json` was given; returns whether it did.
    pub fn json_out(&self, value: &impl Serialize) -> anyhow::Result<bool> {
        if self.json {
            println!("{}", serde_json::to_string_pretty(value)?);
        }
        Ok(self.json)
    }

    /// A warning goes to standard error, so that `--json` output stays parseable.
    pub fn warn(&self, text: &str) {
        eprintln!("warning: {text}");
    }

    pub fn time(&self, at: DateTime<Utc>) -> String {
        crate::format::instant(at, self.settings.store.time_zone)
    }

    pub fn counted_statuses(&self) -> &[String] {
        &self.settings.segments.counted_statuses
    }
}
