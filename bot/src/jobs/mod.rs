//! Background jobs inside the bot process: the periodic segment recompute, pruning the
//! record of handled updates on the same tick, and expiring unpaid orders (`expiry`).
//!
//! A job logs what it did and records failures where the merchant can see them; it must never
//! panic or return early on an error, because a dead job would silently freeze every
//! automatic segment.

mod expiry;

pub use expiry::{expire_once, run_expiry};

use std::sync::Arc;

use crate::store::DatabaseConnection;
use chrono::Utc;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use crate::store::membership::{recompute, rules};
use storebot_config::Settings;

/// Recomputes the automatic segments every `segments.refresh_interval` until `stop` turns
/// true. With several bot instances on one PostgreSQL, only one runs each tick (the others
/// find the lock taken, or the tick's run already done, and skip).
pub async fn run_recompute(
    settings: Arc<Settings>,
    db: DatabaseConnection,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(settings.segments.refresh_interval);
    // A run longer than the interval is followed by one run, not by a burst of catch-ups.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.wait_for(|stop| *stop) => return,
            _ = ticks.tick() => {}
        }
        if *stop.borrow() {
            return;
        }
        recompute_once(&settings, &db).await;
        forget_old_updates(&db).await;
    }
}

/// Prunes the record of handled updates (kept only while Telegram might redeliver them).
async fn forget_old_updates(db: &DatabaseConnection) {
    match crate::store::shoppers::processed_updates::prune(db, Utc::now()).await {
        Ok(0) => {}
        Ok(pruned) => tracing::debug!(pruned, "forgot old handled updates"),
        Err(error) => tracing::warn!(%error, "could not prune the handled updates"),
    }
}

/// One scheduled run, logged. Errors are logged here; the run's own errors (a segment that
/// could not be recomputed) are also in `recompute_run.error`.
pub async fn recompute_once(settings: &Settings, db: &DatabaseConnection) {
    let context = rules::context(settings, Utc::now());
    let interval = settings.segments.refresh_interval;
    match recompute::recompute_scheduled(db, &context, interval).await {
        Ok(summary) if summary.skipped => {
            tracing::debug!("segment recompute skipped: another instance ran or is running it");
        }
        Ok(summary) => {
            tracing::info!(
                run = summary.run_id,
                segments = summary.segments,
                joined = summary.joined,
                left = summary.left,
                "segments recomputed"
            );
            for error in &summary.errors {
                tracing::warn!(run = summary.run_id, "{error}");
            }
        }
        Err(error) => tracing::error!("segment recompute failed: {error}"),
    }
}
