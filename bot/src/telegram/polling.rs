//! Long polling with two faults handled that teloxide's own listener only logs: a token
//! revoked while the bot runs (`getUpdates` answering 401), which teloxide would retry and log
//! once a minute forever, ends the stream so that the bot finishes the updates in hand and
//! stops with the error; and an update teloxide cannot read is logged here as a bounded
//! excerpt and skipped, instead of at ERROR with its whole body.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::{Stream, StreamExt, future};
use teloxide::prelude::*;
use teloxide::stop::StopToken;
use teloxide::types::{AllowedUpdate, UpdateKind};
use teloxide::update_listeners::{AsUpdateStream, Polling, UpdateListener};
use teloxide::{ApiError, RequestError};

/// Teloxide's polling listener, guarded. After the stream ends, [`GuardedPolling::revoked`]
/// tells whether it ended because Telegram refused the token.
pub(super) struct GuardedPolling {
    polling: Polling<Bot>,
    revoked: Arc<Mutex<Option<RequestError>>>,
}

impl GuardedPolling {
    pub(super) fn new(polling: Polling<Bot>) -> Self {
        Self {
            polling,
            revoked: Arc::default(),
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
            .filter(|item| future::ready(readable(item)));
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
