//! Long polling with two faults handled that teloxide's own listener only logs: a token
//! revoked while the bot runs (`getUpdates` answering 401), which teloxide would retry and log
//! once a minute forever, ends the stream so that the bot finishes the updates in hand and
//! stops with the error; and an update teloxide cannot read is logged here as a bounded
//! excerpt and skipped, instead of at ERROR with its whole body. A payment is recorded
//! before the stream goes on (`payments::record_patiently`), so the `getUpdates` that
//! confirms it to Telegram is only sent once it is safe in the database.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::{Stream, StreamExt, future};
use teloxide::prelude::*;
use teloxide::stop::StopToken;
use teloxide::types::{AllowedUpdate, UpdateKind};
use teloxide::update_listeners::{AsUpdateStream, Polling, UpdateListener};
use teloxide::{ApiError, RequestError};
use tokio::sync::watch;

use super::payments;

/// Teloxide's polling listener, guarded. After the stream ends, [`GuardedPolling::revoked`]
/// tells whether it ended because Telegram refused the token.
pub(super) struct GuardedPolling {
    polling: Polling<Bot>,
    revoked: Arc<Mutex<Option<RequestError>>>,
    intake: Intake,
    stopping: watch::Receiver<bool>,
}

/// Records the payment an update carries, if any: true once the update may be confirmed.
pub(super) type Intake =
    Arc<dyn Fn(Update) -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

impl GuardedPolling {
    /// `intake` sees every update before the stream goes on; `stopping` turns true at
    /// shutdown, ending a payment's retries unconfirmed.
    pub(super) fn new(
        polling: Polling<Bot>,
        intake: Intake,
        stopping: watch::Receiver<bool>,
    ) -> Self {
        Self {
            polling,
            revoked: Arc::default(),
            intake,
            stopping,
        }
    }

    /// Where the token's refusal is put when polling stops on it.
    pub(super) fn revoked(&self) -> Arc<Mutex<Option<RequestError>>> {
        Arc::clone(&self.revoked)
    }
}

impl UpdateListener for GuardedPolling {
    type Err = RequestError;

    fn stop_token(&mut self) -> StopToken {
        self.polling.stop_token()
    }

    fn hint_allowed_updates(&mut self, hint: &mut dyn Iterator<Item = AllowedUpdate>) {
        self.polling.hint_allowed_updates(hint);
    }
}

impl<'a> AsUpdateStream<'a> for GuardedPolling {
    type StreamErr = RequestError;
    type Stream = Pin<Box<dyn Stream<Item = Result<Update, RequestError>> + Send + 'a>>;

    fn as_stream(&'a mut self) -> Self::Stream {
        let revoked = Arc::clone(&self.revoked);
        let intake = Arc::clone(&self.intake);
        let stopping = self.stopping.clone();
        let stream = self
            .polling
            .as_stream()
            .take_while(move |item| {
                let refused = matches!(item, Err(RequestError::Api(ApiError::InvalidToken)));
                if refused && let Err(error) = item {
                    *revoked.lock().unwrap_or_else(PoisonError::into_inner) = Some(error.clone());
                }
                future::ready(!refused)
            })
            .filter(|item| future::ready(readable(item)))
            // A payment that could not be recorded before shutdown ends the stream without
            // being passed on, so it is never confirmed and Telegram delivers it again.
            .then(move |item| {
                let intake = Arc::clone(&intake);
                let stopping = stopping.clone();
                async move {
                    let taken = match &item {
                        // Only a payment waits for the database; other updates pass as they are.
                        Ok(update) if payments::payment_in(update).is_some() => {
                            payments::record_patiently(|| intake(update.clone()), &stopping).await
                        }
                        _ => true,
                    };
                    (item, taken)
                }
            })
            .take_while(|(_, taken)| future::ready(*taken))
            .map(|(item, _)| item);
        Box::pin(stream)
    }
}

/// False for an update teloxide could not read (logged here, bounded); the dispatcher would
/// otherwise log its whole body at ERROR. Telegram has already been told it was received.
pub(super) fn readable(item: &Result<Update, RequestError>) -> bool {
    let Ok(update) = item else {
        return true;
    };
    let UpdateKind::Error(value) = &update.kind else {
        return true;
    };
    let body = value.to_string();
    tracing::warn!(
        update_id = update.id.0,
        bytes = body.len(),
        excerpt = %super::excerpt::excerpt(&body, super::excerpt::UNREADABLE_EXCERPT_CHARS),
        "an update the bot can't read; skipped"
    );
    false
}
