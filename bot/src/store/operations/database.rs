//! Opening the database, applying migrations, and starting write transactions.

use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use storebot_config::DatabaseSettings;
use storebot_migration::{Migrator, MigratorTrait};

use crate::store::StoreError;

/// Which engine a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &storebot_config::DatabaseUrl) -> Result<Self, StoreError> {
        match url.scheme().as_str() {
            "sqlite" => Ok(Self::Sqlite),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            scheme => Err(StoreError::UnsupportedScheme {
                scheme: scheme.to_owned(),
            }),
        }
    }
}

/// A fixed key for PostgreSQL's advisory lock around migrations: any number works as long as
/// every storebot process uses the same one.
const MIGRATION_LOCK_KEY: i64 = 0x5354_4f52_4542_4f54; // "STOREBOT"

/// A pooled PostgreSQL connection idle this long is pinged before use.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(10);

/// Opens a pool on the configured database: SQLite in WAL mode with foreign keys and a busy
/// timeout, or PostgreSQL.
pub async fn connect(settings: &DatabaseSettings) -> Result<DatabaseConnection, StoreError> {
    let backend = Backend::of_url(&settings.url)?;
    if backend == Backend::Sqlite
        && let Some(path) = missing_sqlite_file(settings.url.expose())
    {
        // SQLite's own answer is "unable to open database file" (code 14). Creating the file
        // silently instead would turn a mistyped path into an empty store that looks real.
        return Err(StoreError::Invalid(format!(
            "the SQLite database file {path} does not exist: to create it, end the URL with \
             ?mode=rwc (sqlite://{path}?mode=rwc)"
        )));
    }
    let mut options = ConnectOptions::new(settings.url.expose());
    options
        .max_connections(settings.max_connections)
        .min_connections(0)
        .connect_timeout(settings.connect_timeout)
        .acquire_timeout(settings.connect_timeout)
        .sqlx_logging(false);
    // sqlx pings a connection before handing it out of the pool, which costs every statement
    // a second round trip (to the server, or to SQLite's worker thread). A database file does
    // not hang up; a server may, while a connection sits idle, so only those are pinged. A
    // connection that broke while busy fails its statement (the shopper is asked to try again)
    // and is dropped when it goes back to the pool, where sqlx tests it.
    match backend {
        Backend::Sqlite => options.test_before_acquire(false),
        Backend::Postgres => options.test_before_acquire_if_idle_for(PING_IF_IDLE_FOR),
    };
    if backend == Backend::Sqlite {
        let busy_timeout = settings.busy_timeout;
        options.map_sqlx_sqlite_opts(move |sqlite| {
            sqlite
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(busy_timeout)
                // A large write (an import) outgrows SQLite's default 2 MiB page cache and
                // spills pages to the WAL mid-transaction, and each multi-row statement keeps
                // its undo journal in a temporary file: up to 32 MiB of cache per connection,
                // taken only as used, and temporary data in memory, halve such a write.
                .pragma("cache_size", "-32768")
                .pragma("temp_store", "memory")
        });
    }
    Database::connect(options)
        .await
        .map_err(|error| StoreError::Unreachable {
            url: settings.url.redacted(),
            reason: first_line(&error),
        })
}

/// The path of a SQLite URL's file when it does not exist and the URL does not ask for it to
/// be created (`mode=rwc`); `None` for an in-memory database or a file that exists.
fn missing_sqlite_file(url: &str) -> Option<String> {
    let rest = url.get("sqlite:".len()..)?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let creates = query
        .split('&')
        .any(|pair| pair == "mode=rwc" || pair == "mode=memory");
    if creates || path.is_empty() || path == ":memory:" {
        return None;
    }
    (!std::path::Path::new(path).exists()).then(|| path.to_owned())
}

/// Applies every pending migration in one write transaction, refusing a database whose schema
/// is newer than this binary.
///
/// Both engines have transactional DDL, so a failed or killed migration leaves the schema as it
/// was. Concurrent starts are serialised: on SQLite by the IMMEDIATE write lock, on PostgreSQL
/// by a transaction-scoped advisory lock, released at commit or rollback (or when a dying
/// process's session ends).
pub async fn migrate(db: &DatabaseConnection) -> Result<(), StoreError> {
    let txn = begin_write(db).await?;
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared(&format!(
            "SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"
        ))
        .await?;
    }
    refuse_newer_schema(&txn).await?;
    Migrator::up(&txn, None).await?;
    txn.commit().await?;
    Ok(())
}

/// Connects and migrates: what both binaries do on start.
pub async fn connect_and_migrate(
    settings: &DatabaseSettings,
) -> Result<DatabaseConnection, StoreError> {
    let db = connect(settings).await?;
    migrate(&db).await?;
    Ok(db)
}

/// [`connect_and_migrate`] for a service that starts before its database (a reboot, a
/// database restart): while the database can't be reached, it logs one line naming it
/// (password redacted) and tries again after `retry_initial`, doubling the wait up to
/// `retry_max`, until `retry_for` has passed; then the last error is returned. Other errors
/// (a bad URL, a schema newer than this binary) are returned at once: waiting won't fix them.
pub async fn connect_and_migrate_patiently(
    settings: &DatabaseSettings,
) -> Result<DatabaseConnection, StoreError> {
    let deadline = tokio::time::Instant::now() + settings.retry_for;
    let mut wait = settings.retry_initial;
    loop {
        match connect_and_migrate(settings).await {
            Err(StoreError::Unreachable { url, reason })
                if tokio::time::Instant::now() + wait <= deadline =>
            {
                tracing::warn!("can't reach the database at {url}: {reason}; retrying in {wait:?}");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(settings.retry_max);
            }
            result => return result,
        }
    }
}

async fn refuse_newer_schema(db: &impl ConnectionTrait) -> Result<(), StoreError> {
    let exists = match db.get_database_backend() {
        DbBackend::Sqlite => {
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'seaql_migrations'"
        }
        _ => {
            "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'seaql_migrations'"
        }
    };
    let count: i64 = match db
        .query_one_raw(Statement::from_string(db.get_database_backend(), exists))
        .await?
    {
        Some(row) => row.try_get("", "n")?,
        None => 0,
    };
    if count == 0 {
        return Ok(());
    }
    let known = storebot_migration::known_migrations();
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT version FROM seaql_migrations",
        ))
        .await?;
    let mut unknown = Vec::new();
    for row in rows {
        let version: String = row.try_get("", "version")?;
        if !known.contains(&version) {
            unknown.push(version);
        }
    }
    if unknown.is_empty() {
        Ok(())
    } else {
        unknown.sort();
        Err(StoreError::SchemaTooNew { unknown })
    }
}

/// Starts a transaction that will write after reading. On SQLite it begins IMMEDIATE, taking
/// the write lock up front (waiting up to the busy timeout), so that the read it does first
/// can't be invalidated by another writer; PostgreSQL ignores the mode.
pub async fn begin_write<C: TransactionTrait>(db: &C) -> Result<C::Transaction, StoreError> {
    Ok(db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        })
        .await?)
}

/// Answers whether the database is reachable, by running `SELECT 1` (the webhook server's
/// health check).
pub async fn ping(db: &impl ConnectionTrait) -> Result<(), StoreError> {
    db.execute_unprepared("SELECT 1").await?;
    Ok(())
}

fn first_line(error: &DbErr) -> String {
    let text = error.to_string();
    text.lines().next().unwrap_or_default().to_owned()
}
