//! Throwaway databases for tests: `TestDb::new()` gives each test a fresh, migrated database.
//!
//! SQLite by default, in a file of a temporary directory (a real file rather than `:memory:`,
//! so WAL, the busy timeout and several pooled connections behave as in production). When
//! `STOREBOT_TEST_DATABASE_URL` names a PostgreSQL database, each `TestDb` creates its own
//! database next to it, named after it with a unique suffix; `.ci/run` drops them all at the
//! end of the run.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::store::{ConnectionTrait, DatabaseConnection};
use storebot_config::{DatabaseSettings, DatabaseUrl};

use crate::store::{self, StoreError};

/// Names a PostgreSQL database for the test run; unset means SQLite files.
pub const TEST_DATABASE_URL_ENV: &str = "STOREBOT_TEST_DATABASE_URL";

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A fresh migrated database, removed (SQLite) or left for `.ci/run` to drop (PostgreSQL).
pub struct TestDb {
    pub db: DatabaseConnection,
    /// The settings that reach this database, for starting the binaries against it.
    pub settings: DatabaseSettings,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn new() -> Result<Self, StoreError> {
        let (settings, dir) = match std::env::var(TEST_DATABASE_URL_ENV) {
            Ok(url) if !url.is_empty() => (fresh_postgres_database(&url).await?, None),
            _ => {
                let dir = tempfile::tempdir()
                    .map_err(|error| StoreError::Invalid(format!("temp dir: {error}")))?;
                let path = dir.path().join("storebot-test.db");
                let url = format!("sqlite://{}?mode=rwc", path.display());
                (settings_for(&url), Some(dir))
            }
        };
        let db = store::connect_and_migrate(&settings).await?;
        Ok(Self {
            db,
            settings,
            _dir: dir,
        })
    }

    /// The database URL, for `STOREBOT_DATABASE__URL` of a spawned binary.
    pub fn url(&self) -> &str {
        self.settings.url.expose()
    }

    /// Whether this run is on PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.settings.url.scheme().starts_with("postgres")
    }
}

fn settings_for(url: &str) -> DatabaseSettings {
    DatabaseSettings {
        url: DatabaseUrl::new(url),
        max_connections: 4,
        // Generous: the whole suite runs in parallel on small CI machines, where creating a
        // PostgreSQL database or waiting for SQLite's write lock can take seconds under load.
        busy_timeout: Duration::from_secs(60),
        connect_timeout: Duration::from_secs(60),
        retry_initial: Duration::from_secs(1),
        retry_max: Duration::from_secs(30),
        retry_for: Duration::ZERO,
    }
}

/// Creates `<run database>_t<pid>_<n>` on the server of `run_url` and returns its settings.
async fn fresh_postgres_database(run_url: &str) -> Result<DatabaseSettings, StoreError> {
    let mut parsed = url::Url::parse(run_url)
        .map_err(|error| StoreError::Invalid(format!("{TEST_DATABASE_URL_ENV}: {error}")))?;
    let base = parsed.path().trim_start_matches('/').to_owned();
    let name = format!(
        "{base}_t{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let admin = store::connect(&settings_for(run_url)).await?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await?;
    let _ = admin.close().await;
    parsed.set_path(&format!("/{name}"));
    Ok(settings_for(parsed.as_str()))
}

/// A shopper with Telegram user id `telegram_user_id`, first seen at `now` and added by hand to
/// segment `segment_id`: a segment with a member, for tests of what members unlock.
pub async fn member_of(
    db: &DatabaseConnection,
    segment_id: i64,
    telegram_user_id: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<store::shoppers::customers::Customer, StoreError> {
    let user = store::shoppers::customers::TelegramUser::new(telegram_user_id, "Member");
    let customer = store::shoppers::customers::record_interaction(db, &user, now).await?;
    store::membership::manual::add_member(db, segment_id, customer.id, now).await?;
    Ok(customer)
}

/// The moment store tests happen at unless they need another: noon UTC, 1 November 2026.
pub fn noon() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_793_534_400, 0).unwrap_or_default()
}

/// A shopper with Telegram user id (and chat id) `telegram_user_id` and first name `name`,
/// first seen at `at`.
pub async fn shopper(
    db: &impl ConnectionTrait,
    telegram_user_id: i64,
    name: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<store::shoppers::customers::Customer, StoreError> {
    let user = store::shoppers::customers::TelegramUser::new(telegram_user_id, name);
    store::shoppers::customers::record_interaction(db, &user, at).await
}
