//! Backup and restore of a SQLite database, for `storebot-admin backup` and `restore`.
//!
//! A backup is `VACUUM INTO` a temporary file beside the target, renamed into place when
//! complete: SQLite writes it from one read transaction, so it is a consistent copy even while
//! the bot writes (WAL mode lets readers and the writer proceed together), and a crash never
//! leaves a half-written file under the target's name.
//!
//! A restore checks the file first (SQLite's `integrity_check`; a `seaql_migrations` table
//! whose every version this storebot knows; the `customer` table), refuses while any other
//! process has the database open, then moves the current database aside (kept as
//! `<file>.before-restore`) and moves a verified copy of the backup into its place. PostgreSQL
//! has its own tools (`pg_dump`, `pg_restore`); these functions refuse it.
//!
//! Both report their progress in bytes of the file they write: a restore copies the file
//! itself; a backup's `VACUUM INTO` is one statement, so the growing file is measured while it
//! runs, against the database's pages in use (an estimate: the copy leaves free pages out and
//! may pack its pages tighter).
//!
//! This module never touches the database the bot is serving except to read it (backup) or to
//! probe that nobody else has it open (restore).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};
use storebot_config::DatabaseUrl;

use crate::store::{Backend, StoreError};

/// The message for PostgreSQL, whose own tools do this better.
pub const POSTGRES_HINT: &str = "backup and restore here are for SQLite; on PostgreSQL use \
    `pg_dump --format=custom --file=storebot.dump DATABASE_URL` and \
    `pg_restore --clean --if-exists --no-owner --dbname=DATABASE_URL storebot.dump` (see README)";

/// The file of a `sqlite://PATH?…` URL; refused for PostgreSQL and for in-memory databases.
pub fn sqlite_file(url: &DatabaseUrl) -> Result<PathBuf, StoreError> {
    if Backend::of_url(url)? != Backend::Sqlite {
        return Err(StoreError::Invalid(POSTGRES_HINT.to_owned()));
    }
    let raw = url.expose();
    let rest = raw
        .strip_prefix("sqlite://")
        .or_else(|| raw.strip_prefix("sqlite:"))
        .unwrap_or(raw);
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" || rest.contains("mode=memory") {
        return Err(StoreError::Invalid(
            "the configured database is in memory: there is no file to back up or restore"
                .to_owned(),
        ));
    }
    Ok(PathBuf::from(path))
}

/// A temporary name beside `target`, in the same directory so that the rename is atomic.
fn beside(target: &Path, suffix: &str) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{suffix}-{}", std::process::id()));
    target.with_file_name(name)
}

fn io_error(what: &str, path: &Path, error: std::io::Error) -> StoreError {
    StoreError::Invalid(format!("can't {what} {}: {error}", path.display()))
}

/// How far a backup or a restore has come, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// `bytes` of the new file are written, of about `total` (exactly, once it is complete).
    Copied { bytes: u64, total: u64 },
    /// SQLite checks a file (a restore checks the backup, then the copy it made).
    Checking,
}

/// How often a backup measures the file `VACUUM INTO` is writing.
const MEASURE_EVERY: Duration = Duration::from_millis(100);

/// The size of `path` now, 0 while it does not exist.
fn size_of(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |meta| meta.len())
}

/// The bytes of the pages in use in the SQLite database `db`: about what `VACUUM INTO` writes.
async fn bytes_in_use(db: &impl ConnectionTrait) -> u64 {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT (page_count - freelist_count) * page_size \
             FROM pragma_page_count(), pragma_freelist_count(), pragma_page_size()",
        ))
        .await;
    // Only the bar's length depends on it: unknown, the bar learns the size as it grows.
    match row {
        Ok(Some(row)) => row
            .try_get_by_index::<i64>(0)
            .map_or(0, |bytes| u64::try_from(bytes).unwrap_or(0)),
        _ => 0,
    }
}

/// Writes a consistent copy of the SQLite database `db` to `target`. An existing `target` is
/// refused unless `overwrite`; then it is replaced only once the copy is complete.
pub async fn backup_sqlite(
    db: &impl ConnectionTrait,
    target: &Path,
    overwrite: bool,
) -> Result<(), StoreError> {
    backup_sqlite_with_progress(db, target, overwrite, &mut |_| {}).await
}

/// [`backup_sqlite`], telling `on_progress` the bytes written so far, measured every 100 ms
/// while SQLite writes, and the final size once the copy is complete.
pub async fn backup_sqlite_with_progress(
    db: &impl ConnectionTrait,
    target: &Path,
    overwrite: bool,
    on_progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<(), StoreError> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return Err(StoreError::Invalid(POSTGRES_HINT.to_owned()));
    }
    if target.exists() && !overwrite {
        return Err(StoreError::Conflict(format!(
            "{} already exists: choose another name, or pass --force to replace it",
            target.display()
        )));
    }
    let temporary = beside(target, "backup");
    let _ = std::fs::remove_file(&temporary);
    let path = temporary.to_str().ok_or_else(|| {
        StoreError::Invalid(format!("{} is not valid UTF-8", temporary.display()))
    })?;
    let total = bytes_in_use(db).await;
    let copy = db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Sqlite,
        "VACUUM INTO ?",
        [path.into()],
    ));
    tokio::pin!(copy);
    let mut measure = tokio::time::interval(MEASURE_EVERY);
    // SQLite runs the statement on its connection's own thread: the file can be measured while
    // this task waits for it.
    let copied = loop {
        tokio::select! {
            copied = &mut copy => break copied,
            _ = measure.tick() => {
                let bytes = size_of(&temporary);
                on_progress(Progress::Copied { bytes, total: total.max(bytes) });
            }
        }
    };
    if let Err(error) = copied {
        let _ = std::fs::remove_file(&temporary);
        return Err(StoreError::Invalid(format!(
            "can't write the backup to {}: {error}",
            target.display()
        )));
    }
    let bytes = size_of(&temporary);
    on_progress(Progress::Copied {
        bytes,
        total: bytes,
    });
    std::fs::rename(&temporary, target).map_err(|error| {
        let _ = std::fs::remove_file(&temporary);
        io_error("move the backup to", target, error)
    })
}

/// Copies `source` to a new file `target`, telling `on_progress` the bytes copied after each
/// chunk, and makes the copy durable before returning.
fn copy_file(
    source: &Path,
    target: &Path,
    on_progress: &mut (dyn FnMut(Progress) + Send),
) -> std::io::Result<()> {
    let mut from = std::fs::File::open(source)?;
    let total = from.metadata()?.len();
    let mut to = std::fs::File::create(target)?;
    let mut chunk = vec![0; 1 << 20];
    let mut bytes = 0u64;
    on_progress(Progress::Copied { bytes, total });
    loop {
        let read = match from.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        to.write_all(chunk.get(..read).unwrap_or_default())?;
        bytes = bytes.saturating_add(u64::try_from(read).unwrap_or(u64::MAX));
        on_progress(Progress::Copied {
            bytes,
            total: total.max(bytes),
        });
    }
    to.sync_all()
}

/// What a backup file holds, as checked by [`check_backup`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupInfo {
    /// Its applied migrations, oldest first.
    pub migrations: Vec<String>,
    pub customers: i64,
    pub orders: i64,
}

async fn open_read_only(file: &Path) -> Result<DatabaseConnection, StoreError> {
    if !file.is_file() {
        return Err(StoreError::Invalid(format!(
            "{} is not a file",
            file.display()
        )));
    }
    let url = format!("sqlite://{}?mode=ro", file.display());
    Database::connect(url).await.map_err(|error| {
        StoreError::Invalid(format!(
            "{} is not a storebot database backup: SQLite can't open it ({error})",
            file.display()
        ))
    })
}

async fn scalar_text(db: &impl ConnectionTrait, sql: &str) -> Result<Vec<String>, StoreError> {
    let rows = db
        .query_all_raw(Statement::from_string(DbBackend::Sqlite, sql))
        .await?;
    let mut values = Vec::new();
    for row in rows {
        values.push(row.try_get_by_index::<String>(0)?);
    }
    Ok(values)
}

/// Checks that `file` is a sound storebot SQLite database whose schema this storebot knows
/// (an older one is fine: the next start migrates it).
pub async fn check_backup(file: &Path) -> Result<BackupInfo, StoreError> {
    let db = open_read_only(file).await?;
    let checked = check_open_backup(&db, file).await;
    let _ = db.close().await;
    checked
}

async fn check_open_backup(db: &DatabaseConnection, file: &Path) -> Result<BackupInfo, StoreError> {
    let not_storebot = |why: &str| {
        StoreError::Invalid(format!(
            "{} is not a storebot database backup: {why}",
            file.display()
        ))
    };
    let integrity = scalar_text(db, "PRAGMA integrity_check")
        .await
        .map_err(|error| not_storebot(&error.to_string()))?;
    if integrity != ["ok"] {
        return Err(not_storebot(&format!(
            "SQLite's integrity check reports {}",
            integrity.join("; ")
        )));
    }
    let tables = scalar_text(
        db,
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
    )
    .await?;
    for needed in ["seaql_migrations", "customer"] {
        if !tables.iter().any(|table| table == needed) {
            return Err(not_storebot(&format!("it has no `{needed}` table")));
        }
    }
    let migrations =
        scalar_text(db, "SELECT version FROM seaql_migrations ORDER BY version").await?;
    let known = storebot_migration::known_migrations();
    let unknown: Vec<String> = migrations
        .iter()
        .filter(|version| !known.contains(version))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(StoreError::SchemaTooNew { unknown });
    }
    let count = |table: &'static str| async move {
        let row = db
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                format!("SELECT COUNT(*) FROM {table}"),
            ))
            .await?;
        Ok::<i64, StoreError>(match row {
            Some(row) => row.try_get_by_index(0)?,
            None => 0,
        })
    };
    let customers = count("customer").await?;
    let orders = if tables.iter().any(|table| table == "orders") {
        count("orders").await?
    } else {
        0
    };
    Ok(BackupInfo {
        migrations,
        customers,
        orders,
    })
}

/// Fails when another connection has `file` open. Leaving WAL mode needs every other
/// connection gone, even idle ones, so it is the probe: on success the file is left in
/// rollback-journal mode, which is harmless as it is about to be replaced (and the bot sets WAL
/// again when it opens the restored file).
async fn refuse_if_in_use(file: &Path) -> Result<(), StoreError> {
    let url = format!("sqlite://{}?mode=rw", file.display());
    let db = Database::connect(url)
        .await
        .map_err(|error| StoreError::Invalid(format!("can't open {}: {error}", file.display())))?;
    let probe = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA journal_mode = DELETE",
        ))
        .await;
    let _ = db.close().await;
    match probe {
        Ok(_) => Ok(()),
        Err(_) => Err(StoreError::Conflict(format!(
            "{} is in use (is the bot running?): stop the bot and every storebot-admin on it, \
             then restore",
            file.display()
        ))),
    }
}

/// Replaces the SQLite database `target` with the backup `source`, after [`check_backup`]
/// and only when no other process has `target` open. The replaced database is kept as
/// `<target>.before-restore` (an older one of that name is overwritten). Returns what the
/// backup holds.
pub async fn restore_sqlite(source: &Path, target: &Path) -> Result<BackupInfo, StoreError> {
    restore_sqlite_with_progress(source, target, &mut |_| {}).await
}

/// [`restore_sqlite`], telling `on_progress` when it checks a file and the bytes copied.
pub async fn restore_sqlite_with_progress(
    source: &Path,
    target: &Path,
    on_progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<BackupInfo, StoreError> {
    on_progress(Progress::Checking);
    let info = check_backup(source).await?;
    if target.exists() {
        refuse_if_in_use(target).await?;
    }
    // Copy first and check the copy, so a disk that corrupts the copy changes nothing.
    let temporary = beside(target, "restore");
    if let Err(error) = copy_file(source, &temporary, on_progress) {
        let _ = std::fs::remove_file(&temporary);
        return Err(io_error("copy", source, error));
    }
    on_progress(Progress::Checking);
    if let Err(error) = check_backup(&temporary).await {
        let _ = std::fs::remove_file(&temporary);
        return Err(error);
    }
    if target.exists() {
        let mut kept = target.file_name().unwrap_or_default().to_os_string();
        kept.push(".before-restore");
        let kept = target.with_file_name(kept);
        std::fs::rename(target, &kept).map_err(|error| {
            let _ = std::fs::remove_file(&temporary);
            io_error("move aside", target, error)
        })?;
    }
    // A write-ahead log or index left from the old file must never be applied to the new one.
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut name = target.file_name().unwrap_or_default().to_os_string();
        name.push(suffix);
        let _ = std::fs::remove_file(target.with_file_name(name));
    }
    std::fs::rename(&temporary, target)
        .map_err(|error| io_error("move the restored database to", target, error))?;
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> DatabaseUrl {
        DatabaseUrl::new(text)
    }

    #[test]
    fn the_file_of_a_sqlite_url_is_its_path() {
        assert_eq!(
            sqlite_file(&url("sqlite://shop.db?mode=rwc")).ok(),
            Some(PathBuf::from("shop.db"))
        );
        assert_eq!(
            sqlite_file(&url("sqlite:///var/lib/storebot/shop.db")).ok(),
            Some(PathBuf::from("/var/lib/storebot/shop.db"))
        );
    }

    #[tokio::test]
    async fn backup_and_restore_report_the_bytes_they_write() {
        let test = crate::testing::TestDb::new().await.expect("test db");
        if test.is_postgres() {
            // Both are for SQLite files; PostgreSQL is refused (tested end to end).
            return;
        }
        crate::testing::shopper(&test.db, 7, "Ann", crate::testing::noon())
            .await
            .expect("shopper");
        let dir = tempfile::tempdir().expect("dir");
        let copy = dir.path().join("copy.db");
        let mut reports = Vec::new();
        backup_sqlite_with_progress(&test.db, &copy, false, &mut |progress| {
            reports.push(progress);
        })
        .await
        .expect("backup");
        let size = std::fs::metadata(&copy).expect("copy").len();
        assert!(size > 0);
        assert_eq!(
            reports.last(),
            Some(&Progress::Copied {
                bytes: size,
                total: size
            })
        );
        for progress in &reports {
            assert!(
                matches!(progress, Progress::Copied { bytes, total } if bytes <= total),
                "{reports:?}"
            );
        }

        let restored = dir.path().join("restored.db");
        let mut reports = Vec::new();
        let info = restore_sqlite_with_progress(&copy, &restored, &mut |progress| {
            reports.push(progress);
        })
        .await
        .expect("restore");
        assert_eq!(info.customers, 1);
        assert_eq!(reports.first(), Some(&Progress::Checking));
        assert_eq!(reports.last(), Some(&Progress::Checking));
        let copied: Vec<(u64, u64)> = reports
            .iter()
            .filter_map(|progress| match progress {
                Progress::Copied { bytes, total } => Some((*bytes, *total)),
                Progress::Checking => None,
            })
            .collect();
        assert_eq!(copied.first(), Some(&(0, size)));
        assert_eq!(copied.last(), Some(&(size, size)));
        assert!(copied.windows(2).all(|pair| pair[0].0 <= pair[1].0));
        assert_eq!(std::fs::read(&restored).ok(), std::fs::read(&copy).ok());
    }

    #[test]
    fn postgres_and_memory_urls_have_no_file() {
        let error = sqlite_file(&url("postgres://u:p@localhost/shop")).unwrap_err();
        assert!(error.to_string().contains("pg_dump"), "{error}");
        assert!(sqlite_file(&url("sqlite::memory:")).is_err());
    }
}
