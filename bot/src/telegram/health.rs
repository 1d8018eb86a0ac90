//! Webhook mode's `/healthz` report for the real dialogue: the database answers `SELECT 1`,
//! holds the schema this build knows (a database recreated empty answers `SELECT 1` while
//! every update fails on it), and the newest recompute run. Each read waits at most
//! [`HEALTH_DB_TIMEOUT`]; nothing here writes.

use crate::store::DatabaseConnection;

use super::webhook::{HEALTH_DB_TIMEOUT, Health, LastRecompute};
use crate::store;

/// Whether the database answers `SELECT 1` in time.
pub(super) async fn database_answers(db: &DatabaseConnection) -> bool {
    match tokio::time::timeout(HEALTH_DB_TIMEOUT, store::ping(db)).await {
        Ok(Ok(())) => true,
        Ok(Err(error)) => {
            tracing::warn!(%error, "health check: the database does not answer");
            false
        }
        Err(_) => {
            tracing::warn!(
                timeout = ?HEALTH_DB_TIMEOUT,
                "health check: the database did not answer in time"
            );
            false
        }
    }
}

/// The whole report: reachability, then the schema, then the last recompute run.
pub(super) async fn report(db: &DatabaseConnection) -> Health {
    if !database_answers(db).await {
        return Health::new(false, None);
    }
    let schema = tokio::time::timeout(
        HEALTH_DB_TIMEOUT,
        store::operations::schema_health::schema_is_current(db),
    )
    .await;
    match schema {
        Ok(Ok(true)) => {}
        Ok(Ok(false)) => {
            tracing::warn!(
                "health check: the database's migrations are not this build's (recreated \
                 empty, or another version?)"
            );
            return Health::unexpected_schema();
        }
        Ok(Err(error)) => {
            tracing::warn!(%error, "health check: can't read the applied migrations");
            return Health::unexpected_schema();
        }
        Err(_) => {
            tracing::warn!(
                timeout = ?HEALTH_DB_TIMEOUT,
                "health check: the applied migrations were not read in time"
            );
            return Health::new(false, None);
        }
    }
    let last = tokio::time::timeout(HEALTH_DB_TIMEOUT, store::membership::runs::runs(db, 1)).await;
    let last_recompute = match last {
        Ok(Ok(runs)) => runs.into_iter().next().map(|run| LastRecompute {
            trigger: run.trigger,
            started_at: run.started_at,
            finished_at: run.finished_at,
            error: run.error,
        }),
        // The database answered a moment ago; a failure here is not worth a 503.
        Ok(Err(error)) => {
            tracing::warn!(%error, "health check: can't read the last recompute run");
            None
        }
        Err(_) => None,
    };
    Health::new(true, last_recompute)
}
