//! Whether the database holds the schema this build knows, for webhook mode's `/healthz`: a
//! database recreated empty (or restored from another version) answers `SELECT 1` while every
//! update fails. Read-only.

use sea_orm::{ConnectionTrait, Statement};

use crate::store::StoreError;

/// Whether the migrations applied to `db` (its `seaql_migrations` rows) are exactly the ones
/// this build knows ([`crate::store::known_migrations`]). A database without that table (recreated
/// empty) is not current; a failed read is an error.
pub async fn schema_is_current(db: &impl ConnectionTrait) -> Result<bool, StoreError> {
    let backend = db.get_database_backend();
    let table = match backend {
        sea_orm::DbBackend::Sqlite => {
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'seaql_migrations'"
        }
        _ => {
            "SELECT COUNT(*) AS n FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = 'seaql_migrations'"
        }
    };
    let tables: i64 = match db
        .query_one_raw(Statement::from_string(backend, table))
        .await?
    {
        Some(row) => row.try_get("", "n")?,
        None => 0,
    };
    if tables == 0 {
        return Ok(false);
    }
    let rows = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT version FROM seaql_migrations ORDER BY version",
        ))
        .await?;
    let mut applied = rows
        .iter()
        .map(|row| row.try_get::<String>("", "version"))
        .collect::<Result<Vec<_>, _>>()?;
    applied.sort();
    let mut known = crate::store::known_migrations();
    known.sort();
    Ok(applied == known)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDb;

    #[tokio::test]
    async fn a_migrated_database_is_current_and_one_missing_a_migration_is_not() {
        let test = TestDb::new().await.unwrap();
        assert!(schema_is_current(&test.db).await.unwrap());
        let backend = test.db.get_database_backend();
        test.db
            .execute_raw(Statement::from_string(
                backend,
                "DELETE FROM seaql_migrations WHERE version = \
                 (SELECT MAX(version) FROM seaql_migrations)",
            ))
            .await
            .unwrap();
        assert!(!schema_is_current(&test.db).await.unwrap());
        test.db
            .execute_raw(Statement::from_string(
                backend,
                "DROP TABLE seaql_migrations",
            ))
            .await
            .unwrap();
        assert!(!schema_is_current(&test.db).await.unwrap());
    }
}
