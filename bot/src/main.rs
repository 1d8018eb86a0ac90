//! The `storebot` binary: parses arguments, loads settings, starts logging, opens and migrates
//! the database, and hands over to the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use storebot::Settings;

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
    Run,
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
            eprintln!("storebot: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(cli.config.as_deref())?;
    storebot::telemetry::init("info");
    match cli.command.unwrap_or(Command::Run) {
        Command::Migrate => {
            storebot::store::connect_and_migrate(&settings.database).await?;
            tracing::info!(database = %settings.database.url, "migrations applied");
            Ok(())
        }
        Command::Run => {
            // Checked before touching the database, so a newcomer learns what to do first.
            settings.require_token()?;
            let _db = storebot::store::connect_and_migrate(&settings.database).await?;
            anyhow::bail!("the Telegram adapter is not part of this build yet")
        }
    }
}
