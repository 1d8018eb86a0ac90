//! `storebot-admin webhook set|delete|info`: registering the bot's webhook with Telegram once
//! for a deployment of several instances (the instances themselves never set or delete it).
//!
//! It talks to the Bot API only through `storebot::telegram`; it must never print the bot
//! token or the webhook secret.

use anyhow::Result;
use clap::Subcommand;
use serde::Serialize;
use storebot::telegram;

use crate::context::Context;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Register `telegram.webhook.url` (with `telegram.webhook.secret_token`) with Telegram.
    Set {
        /// The public HTTPS address, instead of `telegram.webhook.url`.
        #[arg(long)]
        url: Option<url::Url>,
    },
    /// Remove the webhook, so that an instance in polling mode receives updates again.
    Delete,
    /// What Telegram reports: the address, pending updates, the last delivery error.
    Info,
}

#[derive(Debug, Serialize)]
struct Info {
    url: Option<String>,
    pending_update_count: u32,
    max_connections: Option<u32>,
    last_error_at: Option<chrono::DateTime<chrono::Utc>>,
    last_error: Option<String>,
}

pub async fn run(cx: &Context, command: Command) -> Result<()> {
    match command {
        Command::Set { url } => {
            let mut settings = cx.settings.clone();
            if let Some(url) = url {
                settings.telegram.webhook.url = Some(url);
            }
            telegram::set_webhook(&settings).await?;
            let url = settings
                .telegram
                .webhook
                .url
                .map(|url| url.to_string())
                .unwrap_or_default();
            if !cx.json_out(&serde_json::json!({ "webhook": url }))? {
                println!("Telegram now posts updates to {url}.");
            }
        }
        Command::Delete => {
            cx.prompt.confirm(
                cx.yes,
                "Remove the webhook (instances in webhook mode stop receiving updates)",
            )?;
            telegram::delete_webhook(&cx.settings).await?;
            if !cx.json_out(&serde_json::json!({ "webhook": null }))? {
                println!("The webhook is removed: updates wait for long polling.");
            }
        }
        Command::Info => {
            let status = telegram::webhook_info(&cx.settings).await?;
            let (last_error_at, last_error) = status.last_error.unzip();
            let info = Info {
                url: status.url.filter(|url| !url.is_empty()),
                pending_update_count: status.pending_update_count,
                max_connections: status.max_connections,
                last_error_at,
                last_error,
            };
            if cx.json_out(&info)? {
                return Ok(());
            }
            match &info.url {
                Some(url) => println!("Webhook: {url}"),
                None => println!("No webhook is set: the bot receives updates by long polling."),
            }
            println!("Pending updates: {}", info.pending_update_count);
            if let Some(max) = info.max_connections {
                println!("Max connections: {max}");
            }
            if let (Some(at), Some(error)) = (info.last_error_at, &info.last_error) {
                println!("Last error: {} at {}", error, cx.time(at));
            }
        }
    }
    Ok(())
}
