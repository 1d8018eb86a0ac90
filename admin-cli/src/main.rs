//! `storebot-admin`: the merchant's terminal tool. Every command runs from flags (scriptable,
//! `--json`), and asks for what is missing with a wizard when a person is at the terminal.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use storebot::Settings;

/// Run your storebot shop: questions, catalog, segments, customers and orders.
#[derive(Debug, Parser)]
#[command(name = "storebot-admin", version, about)]
struct Cli {
    /// A TOML configuration file layered over the built-in defaults (or set STOREBOT_CONFIG).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply pending database migrations and report the schema version.
    Migrate,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("storebot-admin: can't start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("storebot-admin: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(cli.config.as_deref())?;
    storebot::telemetry::init("warn");
    match cli.command {
        Command::Migrate => {
            storebot::store::connect_and_migrate(&settings.database).await?;
            let migrations = storebot::store::known_migrations();
            if cli.json {
                println!(
                    "{}",
                    serde_json::json!({ "database": settings.database.url.redacted(), "applied": migrations })
                );
            } else {
                println!("Database {} is up to date.", settings.database.url);
            }
            Ok(())
        }
    }
}
