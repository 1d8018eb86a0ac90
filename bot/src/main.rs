//! The `storebot` binary: parses arguments, loads settings, starts logging, opens and migrates
//! the database, and hands over to the library.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use storebot::Settings;
use storebot::conversation::Conversation;

/// A Telegram store-bot with customer segmentation.
#[derive(Debug, Parser)]
#[command(name = "storebot", version, about)]
struct Cli {
    /// A TOML configuration file layered over the built-in defaults (or set STOREBOT_CONFIG).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the bot on Telegram (the default): long polling, or webhook per `telegram.mode`.
    /// Without a token, in a terminal, it runs the terminal chat instead.
    Run,
    /// Chat with the bot in this terminal, as a shopper, on the configured database.
    Chat {
        /// Use a fresh demo store (questions, catalog, segments, customers, orders) instead.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("storebot: can't start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One sentence, each cause once (teloxide and reqwest repeat their sources).
            eprintln!(
                "storebot: {}",
                storebot::telemetry::one_sentence(error.as_ref())
            );
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(cli.config.as_deref())?;
    match cli.command.unwrap_or(Command::Run) {
        Command::Migrate => {
            storebot::telemetry::init("info");
            storebot::store::connect_and_migrate(&settings.database).await?;
            tracing::info!(database = %settings.database.url, "migrations applied");
            Ok(())
        }
        Command::Chat { demo } => chat(settings, demo).await,
        Command::Run => {
            // Checked before touching the database, so a newcomer learns what to do first. A
            // person at a terminal gets the chat instead; a service without a token fails.
            if settings.require_token().is_err() && std::io::stdin().is_terminal() {
                eprintln!(
                    "storebot: no Telegram token is set (STOREBOT_TELEGRAM__TOKEN), so this is \
                     the terminal chat; `storebot chat --demo` opens a demo store."
                );
                return chat(settings, false).await;
            }
            settings.require_token()?;
            storebot::telemetry::init("info");
            // A signal while the database is still being waited for ends the wait cleanly.
            let mut shutdown = Box::pin(shutdown_signal());
            let db = tokio::select! {
                db = storebot::store::connect_and_migrate_patiently(&settings.database) => db?,
                () = &mut shutdown => {
                    tracing::info!("shutting down before the database could be reached");
                    return Ok(());
                }
            };
            storebot::run(settings, db, shutdown).await
        }
    }
}

/// Where `storebot chat --demo` keeps its shop: recreated in the working directory each time.
const DEMO_DATABASE: &str = "storebot-demo.db";

async fn chat(mut settings: Settings, demo: bool) -> anyhow::Result<()> {
    // The terminal is the chat: only warnings go to standard error, and not sqlx's notes on
    // slow connections, which say nothing a shopper can act on.
    storebot::telemetry::init("warn,sqlx=error");
    if demo {
        for suffix in ["", "-wal", "-shm"] {
            let path = format!("{DEMO_DATABASE}{suffix}");
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => {
                    return Err(anyhow::anyhow!(
                        "can't remove the old demo store {path}: {error}"
                    ));
                }
            }
        }
        settings.database.url =
            storebot_config::DatabaseUrl::new(format!("sqlite://{DEMO_DATABASE}?mode=rwc"));
    }
    let db = storebot::store::connect_and_migrate(&settings.database).await?;
    if demo {
        storebot::store::operations::demo::seed(&db, chrono::Utc::now())
            .await
            .context("can't fill the demo store")?;
    }
    let settings = Arc::new(settings);
    storebot::console::chat(settings.clone(), Conversation::new(db, settings)).await
}

/// Resolves on Ctrl-C or SIGTERM. The handlers are installed here, before the bot starts,
/// not when the future is first polled: a signal that arrives early is then kept for the
/// future instead of killing the process outright.
#[cfg(unix)]
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let interrupt = signal(SignalKind::interrupt());
    let terminate = signal(SignalKind::terminate());
    async move {
        let wait = |installed: std::io::Result<tokio::signal::unix::Signal>| async move {
            match installed {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = wait(interrupt) => {}
            () = wait(terminate) => {}
        }
    }
}

/// Resolves on Ctrl-C.
#[cfg(not(unix))]
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
