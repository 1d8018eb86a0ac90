//! Expiring unpaid orders: every quarter of `payments.expire_after` (at most `EXPIRY_TICK`), orders left `awaiting_payment` past
//! `payments.expire_after` become `expired`, their stock returns and the shopper is told
//! (outbox). Safe on several instances at once: `store::orders::payments::expire_due` moves
//! each order by a conditional update, so its stock returns once. It must never panic or stop
//! on an error: the next tick tries again.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use crate::conversation::texts::Texts;
use crate::store::DatabaseConnection;
use crate::store::orders::payments;
use storebot_config::{PaymentProvider, Settings};

/// At most this long between looks for due orders: an order expires at most this late.
const EXPIRY_TICK: Duration = Duration::from_secs(15);
/// At least this long between looks, however short `expire_after` is.
const MIN_TICK: Duration = Duration::from_millis(200);

/// Expires due orders until `stop` turns true; does nothing when the shop takes no payments
/// in the chat.
pub async fn run_expiry(
    settings: Arc<Settings>,
    db: DatabaseConnection,
    mut stop: watch::Receiver<bool>,
) {
    if settings.payments.provider == PaymentProvider::None {
        return;
    }
    let tick = (settings.payments.expire_after / 4).clamp(MIN_TICK, EXPIRY_TICK);
    let mut ticks = tokio::time::interval(tick);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.wait_for(|stop| *stop) => return,
            _ = ticks.tick() => {}
        }
        expire_once(&settings, &db).await;
    }
}

/// One pass, logged.
pub async fn expire_once(settings: &Settings, db: &DatabaseConnection) {
    let message = Texts::for_language(settings, None)
        .get("payment_expired")
        .to_owned();
    match payments::expire_due(db, &message, Utc::now()).await {
        Ok(expired) if expired.is_empty() => {}
        Ok(expired) => tracing::info!(?expired, "unpaid orders expired; their stock is back"),
        Err(error) => tracing::warn!(%error, "could not expire unpaid orders; next tick retries"),
    }
}
