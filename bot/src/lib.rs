//! storebot: a Telegram store-bot with customer segmentation.
//!
//! The modules import one way (see ARCHITECTURE.md): `catalog` and `segments` (pure rules) ←
//! `store` (the only module that touches sea-orm) ← `conversation` (the shopper dialogue) ←
//! `telegram` and `console` (its two adapters) ← `jobs` ← [`run`]. The binaries only parse
//! arguments, load settings and call into this library.

pub mod catalog;
pub mod console;
pub mod conversation;
pub mod coupons;
pub mod jobs;
pub mod limits;
pub mod money;
pub mod product_rule;
pub mod segments;
pub mod store;
pub mod telegram;
pub mod telemetry;
pub mod testing;
pub mod typed_text;

use std::future::Future;
use std::sync::Arc;

use crate::store::DatabaseConnection;
pub use storebot_config::Settings;

use crate::conversation::Conversation;

/// Runs the bot on Telegram with its background jobs (recompute, the outbox sender) until `shutdown` resolves, then lets the
/// updates in hand finish and stops the jobs. The binary passes Ctrl-C/SIGTERM; tests pass
/// their own signal.
pub async fn run(
    settings: Settings,
    db: DatabaseConnection,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let settings = Arc::new(settings);
    let (stop_jobs, stop) = tokio::sync::watch::channel(false);
    let recompute = tokio::spawn(jobs::run_recompute(
        settings.clone(),
        db.clone(),
        stop.clone(),
    ));
    // The outbox sender stops between two messages, so shutdown leaves none half-sent.
    let sender = tokio::spawn(telegram::run_outbox_sender(
        settings.clone(),
        db.clone(),
        stop.clone(),
    ));
    let expiry = tokio::spawn(jobs::run_expiry(settings.clone(), db.clone(), stop.clone()));
    let conversation = Conversation::new(db, settings.clone());
    let served = telegram::serve(settings, conversation, shutdown).await;
    let _ = stop_jobs.send(true);
    let _ = recompute.await;
    let _ = sender.await;
    let _ = expiry.await;
    served
}
