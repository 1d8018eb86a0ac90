//! [`StoreError`], the one error type of `store`: every sea-orm error is mapped into it once,
//! here, so nothing above `store` sees a `DbErr`.

use sea_orm::DbErr;

/// Everything that can go wrong below the conversation and the admin tool.
///
/// `Display` is one sentence meant for the merchant or the log; shopper-facing wording lives in
/// the conversation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{entity} {id} does not exist")]
    NotFound { entity: &'static str, id: String },
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    /// A file refused for its lines' problems, `(line, what is wrong)` in line order; nothing
    /// of it was written. Shown as one sentence and the list, one line each.
    #[error("{}", lines_message(.0))]
    BadLines(Vec<(usize, String)>),
    /// A question or option that rules still use can't be archived without force.
    #[error("{what} is used by the rule of segment {}", quoted(.segments))]
    UsedByRules { what: String, segments: Vec<String> },
    #[error(
        "the database URL scheme `{scheme}` is not supported: use sqlite://PATH?mode=rwc or \
         postgres://USER:PASSWORD@HOST/DATABASE"
    )]
    UnsupportedScheme { scheme: String },
    #[error("can't reach the database at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error(
        "the database schema is newer than this storebot (it has migrations {unknown:?} that \
         this version does not know): upgrade storebot before starting it on this database"
    )]
    SchemaTooNew { unknown: Vec<String> },
    #[error("database error: {0}")]
    Database(DatabaseError),
}

impl StoreError {
    pub fn not_found(entity: &'static str, id: impl ToString) -> Self {
        Self::NotFound {
            entity,
            id: id.to_string(),
        }
    }

    /// A file refused for its lines' problems, in line order (a stable sort keeps each line's
    /// problems in the order they were found), so problems found reading the file and problems
    /// found checking its rows read as one list.
    pub fn bad_lines(mut problems: Vec<(usize, String)>) -> Self {
        problems.sort_by_key(|(line, _)| *line);
        Self::BadLines(problems)
    }
}

/// How many of a file's problems the sentence lists: a file that is wrong throughout (a column
/// of another export, say) gives a screenful, not a line per row; the admin tool's `--json`
/// refusal lists every one.
const LISTED_PROBLEMS: usize = 50;

fn lines_message(problems: &[(usize, String)]) -> String {
    let count = problems.len();
    let mut message = format!(
        "{count} problem{} in the file, nothing was imported:",
        if count == 1 { "" } else { "s" }
    );
    for (line, reason) in problems.iter().take(LISTED_PROBLEMS) {
        message.push_str(&format!("\n  line {line}: {reason}"));
    }
    if count > LISTED_PROBLEMS {
        message.push_str(&format!(
            "\n  and {} more (--json lists them all)",
            count - LISTED_PROBLEMS
        ));
    }
    message
}

impl From<DbErr> for StoreError {
    fn from(error: DbErr) -> Self {
        match error.sql_err() {
            Some(sea_orm::SqlErr::UniqueConstraintViolation(message)) => {
                Self::Conflict(format!("already exists: {message}"))
            }
            Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(message)) => {
                Self::Conflict(format!("still referenced elsewhere: {message}"))
            }
            _ => Self::Database(DatabaseError(error)),
        }
    }
}

/// A database failure that is neither "not found" nor a constraint: opaque to callers, which
/// only log it or show its sentence; its cause stays reachable through `source()` for logs.
#[derive(Debug)]
pub struct DatabaseError(DbErr);

impl std::fmt::Display for DatabaseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for DatabaseError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// Names as a merchant reads them in a sentence: `a`, `b`.
fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
