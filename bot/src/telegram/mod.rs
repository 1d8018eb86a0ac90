//! The Telegram adapter: the only module that touches teloxide. It turns updates into
//! [`Input`]s for a [`Dialogue`] and the dialogue's [`Outcome`]s into Bot API calls, by long
//! polling or behind a webhook. It decides nothing about the shop, never lets a panic reach
//! teloxide's dispatcher, never logs the token, and never registers or deletes the webhook on
//! its own (that is [`set_webhook`] / [`delete_webhook`], for the admin tool).
//!
//! Each endpoint of [`schema`] is "extract → ask the dialogue → render": `input` reads
//! updates, `send` delivers outcomes (splitting, editing, retrying), `polling` guards
//! teloxide's long polling, `webhook` is the HTTP side of webhook mode and `health` its
//! `/healthz` report.
mod client;
mod dialogue;
mod excerpt;
mod handlers;
mod health;
mod input;
mod outbox;
mod payments;
mod polling;
mod render;
mod send;
mod webhook;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use teloxide::dispatching::Dispatcher;
use teloxide::error_handlers::LoggingErrorHandler;
use teloxide::prelude::*;
use teloxide::stop::StopToken;
use teloxide::update_listeners::webhooks;
use teloxide::update_listeners::{Polling, UpdateListener};

pub use client::{TelegramError, bot};
pub use dialogue::Dialogue;
pub use handlers::schema;
use handlers::take_payment;
pub use outbox::run_sender as run_outbox_sender;
pub use payments::{PRE_CHECKOUT_DEADLINE, StarRefund, refund_star_payment};
pub use render::{MAX_MESSAGE_LENGTH, split_text};
pub use webhook::{
    HEALTH_DB_TIMEOUT, HEALTH_PATH, Health, LastRecompute, MAX_BODY_BYTES, WebhookConfigError,
};

use crate::conversation::texts::Texts;
use storebot_config::Settings;
use storebot_config::{TelegramMode, TelegramSettings};

/// How long one `getUpdates` waits for news before asking again.
const POLL_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves the bot until `shutdown` resolves, then finishes the updates in hand and returns:
/// long polling by default, or the webhook server when `telegram.mode = "webhook"`.
pub async fn serve<D: Dialogue>(
    settings: Arc<Settings>,
    dialogue: D,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let telegram = &settings.telegram;
    let bot = bot(telegram)?;
    let dialogue = Arc::new(dialogue);
    // In the background: the menu of commands is a convenience, and the shop serves without it.
    tokio::spawn(register_commands(bot.clone(), Arc::clone(&settings)));
    let mut dispatcher = Dispatcher::builder(bot.clone(), schema::<D>())
        .dependencies(dptree::deps![Arc::clone(&dialogue), Arc::clone(&settings)])
        .default_handler(|update| async move {
            tracing::debug!(
                update_id = update.id.0,
                "an update the shop does not use; ignored"
            );
        })
        .error_handler(LoggingErrorHandler::with_custom_text(
            "a Telegram update failed",
        ))
        .build();
    // Shutdown stops the update listener rather than going through the dispatcher's
    // `ShutdownToken`: that token wakes the dispatcher with `Notify::notify_waiters`, which is
    // lost when it arrives while an update is being handed out, leaving the bot running after
    // SIGTERM. A stopped listener ends its stream, and the dispatcher then finishes the updates
    // in hand and returns.
    let served = match telegram.mode {
        TelegramMode::Polling => {
            tracing::info!("receiving updates by long polling");
            let (stopping, stopped) = tokio::sync::watch::channel(false);
            let intake: polling::Intake = {
                let dialogue = Arc::clone(&dialogue);
                Arc::new(move |update: Update| {
                    let dialogue = Arc::clone(&dialogue);
                    Box::pin(async move { take_payment(&*dialogue, &update).await })
                })
            };
            let mut listener = polling::GuardedPolling::new(
                Polling::builder(bot).timeout(POLL_TIMEOUT).build(),
                intake,
                stopped,
            );
            let revoked = listener.revoked();
            // Shutdown also ends a payment's patient recording, unconfirmed (see `payments`).
            let shutdown = async move {
                shutdown.await;
                let _ = stopping.send(true);
            };
            let stopper = tokio::spawn(stop_on(shutdown, listener.stop_token()));
            let dispatched = dispatcher
                .try_dispatch_with_listener(
                    listener,
                    LoggingErrorHandler::with_custom_text("getting updates failed"),
                )
                .await
                .map_err(TelegramError::from);
            stopper.abort();
            // Polling stopped because Telegram refused the token (revoked while running): the
            // updates in hand are done; the bot stops with the error it gives at start.
            let refused = revoked
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
            match refused {
                Some(error) => Err(TelegramError::from(error)),
                None => dispatched,
            }
        }
        TelegramMode::Webhook => serve_webhook(telegram, &mut dispatcher, dialogue, shutdown).await,
    };
    served?;
    tracing::info!("stopped receiving updates; the updates in hand are done");
    Ok(())
}

async fn serve_webhook<D: Dialogue>(
    telegram: &TelegramSettings,
    dispatcher: &mut Dispatcher<Bot, std::convert::Infallible, teloxide::dispatching::DefaultKey>,
    dialogue: Arc<D>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), TelegramError> {
    let secret = webhook::check_secret(
        telegram
            .webhook
            .secret_token
            .as_ref()
            .map(storebot_config::Secret::expose),
    )?;
    let path = webhook::check_path(&telegram.webhook.path)?;
    let listen = telegram.webhook.listen;
    // teloxide wants the public address, though without setting the webhook it never uses it.
    let public_url = match &telegram.webhook.url {
        Some(url) => url.clone(),
        None => url::Url::parse(&format!("http://{listen}{path}"))
            .map_err(|_| WebhookConfigError::BadPath(path.to_owned()))?,
    };
    let options = webhooks::Options::new(listen, public_url)
        .path(path.to_owned())
        .secret_token(secret.to_owned());
    let (mut listener, stopped, updates) = webhooks::axum_no_setup(options);
    let health = {
        let dialogue = Arc::clone(&dialogue);
        move || {
            let dialogue = Arc::clone(&dialogue);
            async move { dialogue.health().await }
        }
    };
    // A payment is recorded before its post is answered 200; if it can't be, Telegram is
    // answered 503 and posts it again.
    let intake = move |update: Update| {
        let dialogue = Arc::clone(&dialogue);
        async move { take_payment(&*dialogue, &update).await }
    };
    let app = webhook::router(updates, secret, health, intake);
    // Bind first, so a taken port is an error at start rather than a silent bot.
    let tcp = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| TelegramError::Listen {
            addr: listen,
            source,
        })?;
    tracing::info!(%listen, path, "receiving updates by webhook");
    let server =
        tokio::spawn(async move { axum::serve(tcp, app).with_graceful_shutdown(stopped).await });
    // Stopping the listener also ends the server's graceful shutdown (`stopped`).
    let stopper = tokio::spawn(stop_on(shutdown, listener.stop_token()));
    let dispatched = dispatcher
        .try_dispatch_with_listener(
            listener,
            LoggingErrorHandler::with_custom_text("receiving a webhook update failed"),
        )
        .await;
    stopper.abort();
    if let Err(error) = dispatched {
        // The dispatcher never started (getMe failed), so nothing will stop the server.
        server.abort();
        return Err(error.into());
    }
    // The dispatcher returns only once the server has stopped and dropped its update sender.
    match server.await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::error!(%error, "the webhook server failed"),
        Err(error) => tracing::error!(%error, "the webhook server task failed"),
    }
    Ok(())
}

/// Registers the commands of the `commands` text with Telegram: the store's default language
/// for everyone, and each other configured language for its speakers. One try each; a failure
/// is logged and the bot serves on (the commands still work when typed).
async fn register_commands(bot: Bot, settings: Arc<Settings>) {
    let default = settings.store.default_language.to_lowercase();
    let mut languages: Vec<Option<String>> = vec![None];
    languages.extend(
        settings
            .texts
            .iter()
            .filter(|(code, texts)| **code != default && texts.contains_key("commands"))
            .map(|(code, _)| Some(code.clone())),
    );
    for language in languages {
        let texts = Texts::for_language(&settings, language.as_deref());
        let commands: Vec<teloxide::types::BotCommand> =
            crate::conversation::texts::commands(texts.get("commands"))
                .into_iter()
                .map(|(name, description)| teloxide::types::BotCommand::new(name, description))
                .collect();
        let mut request = bot.set_my_commands(commands);
        request.language_code = language.clone();
        if let Err(error) = request.send().await {
            let error = send::describe(&error);
            tracing::warn!(%error, language = ?language, "could not register the bot's commands");
        }
    }
}

/// Waits for `shutdown`, then stops the update listener: no new updates are taken, and the
/// dispatcher returns once the ones in hand are done.
async fn stop_on(shutdown: impl Future<Output = ()> + Send + 'static, listener: StopToken) {
    shutdown.await;
    tracing::info!("shutting down: no new updates; finishing the ones in hand");
    listener.stop();
}

/// What Telegram knows of the webhook (`getWebhookInfo`), in the shop's own terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookStatus {
    /// The registered address; `None` when the bot is on long polling.
    pub url: Option<String>,
    pub pending_update_count: u32,
    pub max_connections: Option<u32>,
    /// When and why Telegram's last delivery failed.
    pub last_error: Option<(DateTime<Utc>, String)>,
}

/// Registers `telegram.webhook.url` with Telegram, with the secret token it will send along.
/// Pending updates are kept.
pub async fn set_webhook(settings: &Settings) -> Result<(), TelegramError> {
    let telegram = &settings.telegram;
    let secret = webhook::check_secret(
        telegram
            .webhook
            .secret_token
            .as_ref()
            .map(storebot_config::Secret::expose),
    )?;
    let url = telegram
        .webhook
        .url
        .clone()
        .ok_or(TelegramError::MissingWebhookUrl)?;
    let mut request = bot(telegram)?.set_webhook(url);
    request.secret_token = Some(secret.to_owned());
    send::with_retry(request).await?;
    Ok(())
}

/// Removes the webhook, so that long polling works again. Pending updates are kept.
pub async fn delete_webhook(settings: &Settings) -> Result<(), TelegramError> {
    send::with_retry(bot(&settings.telegram)?.delete_webhook()).await?;
    Ok(())
}

/// What Telegram reports about the webhook.
pub async fn webhook_info(settings: &Settings) -> Result<WebhookStatus, TelegramError> {
    let info = send::with_retry(bot(&settings.telegram)?.get_webhook_info()).await?;
    Ok(WebhookStatus {
        url: info.url.map(|url| url.to_string()),
        pending_update_count: info.pending_update_count,
        max_connections: info.max_connections,
        last_error: info.last_error_date.zip(info.last_error_message),
    })
}
