//! The Bot API client for the configured token and server, and the adapter's error type.

use teloxide::prelude::*;

use storebot_config::TelegramSettings;

use super::send;
use super::webhook::WebhookConfigError;

/// Why the adapter could not start or an admin call failed.
#[derive(Debug, thiserror::Error)]
pub enum TelegramError {
    #[error(transparent)]
    MissingToken(#[from] storebot_config::MissingToken),
    #[error(transparent)]
    Webhook(#[from] WebhookConfigError),
    #[error(
        "telegram.webhook.url is not set: it is the public HTTPS address Telegram posts to \
         (STOREBOT_TELEGRAM__WEBHOOK__URL)"
    )]
    MissingWebhookUrl,
    #[error("can't listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    /// Told in one sentence: Telegram's refusal as it says it, or the network failure with
    /// each cause once ([`send::describe`]), so the error has no source to repeat.
    #[error("the Telegram Bot API refused or failed: {}", send::describe(.0))]
    Api(teloxide::RequestError),
}

impl From<teloxide::RequestError> for TelegramError {
    fn from(error: teloxide::RequestError) -> Self {
        Self::Api(error)
    }
}

/// A Bot API client for the configured token and server (`telegram.api_url`).
pub fn bot(settings: &TelegramSettings) -> Result<Bot, TelegramError> {
    let token = settings
        .token
        .as_ref()
        .ok_or(storebot_config::MissingToken)?;
    let bot = Bot::new(token.expose());
    Ok(match &settings.api_url {
        Some(url) => bot.set_api_url(url.clone()),
        None => bot,
    })
}
