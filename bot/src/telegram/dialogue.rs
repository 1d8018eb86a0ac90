//! What the adapter drives: the [`Dialogue`] trait (the shopper dialogue, the merchant's side,
//! payments, photos), implemented by the real `Conversation` and by scripted stand-ins in tests
//! and benchmarks.

use std::future::Future;

use chrono::{DateTime, Utc};

use super::health;
use super::webhook::Health;
use crate::conversation::payment::{PaymentReport, PreCheckoutReport};
use crate::conversation::{Conversation, Input, Outcome, TelegramUser};

/// What the adapter drives: the shopper dialogue, or a scripted stand-in in tests and
/// benchmarks.
pub trait Dialogue: Send + Sync + 'static {
    /// Handles one update from `sender` at `now`. It must not fail: what goes wrong is the
    /// dialogue's to log and to apologise for.
    fn handle(
        &self,
        sender: &TelegramUser,
        input: Input,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Outcome> + Send;

    /// Whether the dialogue can serve (its database answers).
    fn ready(&self) -> impl Future<Output = bool> + Send;

    /// Whether update `update_id` arrives for the first time, claiming it: a second delivery
    /// of the same id (Telegram's redelivery, or a webhook post that reached two instances)
    /// is then skipped. A dialogue without memory of updates takes them all.
    fn first_delivery(&self, update_id: i64) -> impl Future<Output = bool> + Send {
        let _ = update_id;
        async { true }
    }

    /// Handles update `update_id` unless it was delivered before (then `None`, with nothing
    /// done): by default [`Dialogue::first_delivery`], then [`Dialogue::handle`]. A dialogue
    /// may claim the update together with its own first write instead.
    fn handle_update(
        &self,
        update_id: i64,
        sender: &TelegramUser,
        input: Input,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Option<Outcome>> + Send {
        async move {
            if !self.first_delivery(update_id).await {
                return None;
            }
            Some(self.handle(sender, input, now).await)
        }
    }

    /// The answer to Telegram's pre-checkout query: `Ok` approves the payment, `Err` refuses
    /// it with a sentence for the shopper. A dialogue that takes no payments refuses.
    fn pre_checkout(
        &self,
        query: &PreCheckoutReport,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), String>> + Send {
        let _ = (query, now);
        async { Err("This shop takes no payments in the chat.".to_owned()) }
    }

    /// Records a reported payment durably before its update is confirmed to Telegram: true
    /// once it is recorded (now or before), false if it must be taken again.
    fn record_payment(
        &self,
        report: &PaymentReport,
        now: DateTime<Utc>,
    ) -> impl Future<Output = bool> + Send {
        let _ = (report, now);
        async { true }
    }

    /// The `successful_payment` message, handled after [`Dialogue::record_payment`]: what to
    /// tell the merchant chats, the first time only.
    fn paid(
        &self,
        report: &PaymentReport,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Outcome> + Send {
        let _ = (report, now);
        async { Outcome::default() }
    }

    /// Handles update `update_id` from merchant chat `chat_id` (a press on an order card,
    /// `/orders`) unless it was delivered before (then `None`). By default it is claimed and
    /// answered with nothing: a scripted dialogue has no merchant side.
    fn handle_merchant_update(
        &self,
        update_id: i64,
        chat_id: i64,
        sender: &TelegramUser,
        input: Input,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Option<Outcome>> + Send {
        let _ = (chat_id, sender, input, now);
        async move {
            if !self.first_delivery(update_id).await {
                return None;
            }
            Some(Outcome::default())
        }
    }

    /// Telegram took the photo `source` and gave it `file_id`: send that from now on. By
    /// default nothing is kept.
    fn image_sent(&self, source: &str, file_id: &str) -> impl Future<Output = ()> + Send {
        let _ = (source, file_id);
        async {}
    }

    /// Telegram refused the photo `source` (`error` in its words): show its product as text
    /// from now on. By default nothing is kept.
    fn image_refused(&self, source: &str, error: &str) -> impl Future<Output = ()> + Send {
        let _ = (source, error);
        async {}
    }

    /// Webhook mode's `/healthz` report. By default, [`Dialogue::ready`] alone, with no
    /// recompute run.
    fn health(&self) -> impl Future<Output = Health> + Send {
        async move { Health::new(self.ready().await, None) }
    }
}

impl Dialogue for Conversation {
    async fn handle(&self, sender: &TelegramUser, input: Input, now: DateTime<Utc>) -> Outcome {
        Conversation::handle(self, sender, input, now).await
    }

    /// The claim and the interaction's record in one round trip (`store::shoppers::arrival`).
    async fn handle_update(
        &self,
        update_id: i64,
        sender: &TelegramUser,
        input: Input,
        now: DateTime<Utc>,
    ) -> Option<Outcome> {
        Conversation::handle_update(self, update_id, sender, input, now).await
    }

    async fn pre_checkout(
        &self,
        query: &PreCheckoutReport,
        now: DateTime<Utc>,
    ) -> Result<(), String> {
        Conversation::pre_checkout(self, query, now).await
    }

    async fn record_payment(&self, report: &PaymentReport, now: DateTime<Utc>) -> bool {
        Conversation::record_payment(self, report, now).await
    }

    async fn paid(&self, report: &PaymentReport, now: DateTime<Utc>) -> Outcome {
        Conversation::paid(self, report, now).await
    }

    async fn handle_merchant_update(
        &self,
        update_id: i64,
        chat_id: i64,
        sender: &TelegramUser,
        input: Input,
        now: DateTime<Utc>,
    ) -> Option<Outcome> {
        Conversation::handle_merchant(self, Some(update_id), chat_id, sender, input, now).await
    }

    async fn image_sent(&self, source: &str, file_id: &str) {
        let recorded =
            crate::store::catalog::images::record_file_id(&self.db, source, file_id, Utc::now())
                .await;
        if let Err(error) = recorded {
            tracing::warn!(%error, source, "could not keep a photo's file_id; it is uploaded again next time");
        }
    }

    async fn image_refused(&self, source: &str, error: &str) {
        match crate::store::catalog::images::record_refusal(&self.db, source, error, Utc::now())
            .await
        {
            // Logged once: afterwards the product shows as text and `lint` lists it.
            Ok(true) => tracing::warn!(
                source,
                error,
                "Telegram refused a product photo; the product shows as text until it is fixed"
            ),
            Ok(false) => {}
            Err(store_error) => {
                tracing::error!(%store_error, source, error, "could not record a refused photo");
            }
        }
    }

    async fn ready(&self) -> bool {
        health::database_answers(&self.db).await
    }

    async fn first_delivery(&self, update_id: i64) -> bool {
        match crate::store::shoppers::processed_updates::claim(&self.db, update_id, Utc::now())
            .await
        {
            Ok(first) => first,
            // The handling will meet the same failure and apologise; better that than silence.
            Err(error) => {
                tracing::warn!(%error, update_id, "could not record an update; handling it");
                true
            }
        }
    }

    async fn health(&self) -> Health {
        health::report(&self.db).await
    }
}
