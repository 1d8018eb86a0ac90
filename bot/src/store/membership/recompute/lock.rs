//! The run's own connection and, on PostgreSQL, the advisory lock that keeps runs of several
//! instances apart.

use sea_orm::sea_query::{Alias, Func, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend};

use crate::store::StoreError;

/// The key of PostgreSQL's advisory lock that lets one bot instance recompute at a time; any
/// number works as long as every storebot process uses the same one ("RECOMPUT").
pub(crate) const RECOMPUTE_LOCK_KEY: i64 = 0x5245_434f_4d50_5554;

/// A pool of exactly one connection with the same options as `db`'s pool.
pub(super) fn dedicated_connection(
    db: &DatabaseConnection,
) -> Result<DatabaseConnection, StoreError> {
    use sea_orm::sqlx::pool::PoolOptions;
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let options = db.get_postgres_connection_pool().connect_options();
            let pool = PoolOptions::new()
                .max_connections(1)
                .connect_lazy_with((*options).clone());
            Ok(sea_orm::SqlxPostgresConnector::from_sqlx_postgres_pool(
                pool,
            ))
        }
        DbBackend::Sqlite => {
            let options = db.get_sqlite_connection_pool().connect_options();
            let pool = PoolOptions::new()
                .max_connections(1)
                .connect_lazy_with((*options).clone());
            Ok(sea_orm::SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
        }
        other => Err(StoreError::Invalid(format!(
            "segment recompute does not support {other:?}"
        ))),
    }
}

/// Calls one of PostgreSQL's advisory lock functions on the recompute key.
pub(super) async fn advisory_lock(
    db: &DatabaseConnection,
    function: &str,
) -> Result<bool, StoreError> {
    let row = db
        .query_one(Query::select().expr_as(
            Func::cust(Alias::new(function)).arg(RECOMPUTE_LOCK_KEY),
            Alias::new("locked"),
        ))
        .await?;
    Ok(match row {
        Some(row) => row.try_get::<bool>("", "locked")?,
        None => false,
    })
}
