//! `storebot-admin`: the merchant's terminal tool. Every command runs from flags (scriptable,
//! `--json`), and asks for what is missing with a wizard when a person is at the terminal.
//!
//! This file only parses arguments, opens the database and dispatches; each area lives in its
//! own module, and every read and write goes through `storebot::store`.

mod availability;
mod backup;
mod broadcast;
mod catalog;
mod config_file;
mod context;
mod coupons;
mod csv;
mod customer_insight;
mod customers;
mod files;
mod format;
mod help;
mod interrupt;
mod lint;
mod member_list;
mod orders;
mod product_segments;
mod progress;
mod prompt;
mod questions;
mod rule_input;
mod segment_engine;
mod segment_stats;
mod segments;
mod table;
mod webhook;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use storebot::Settings;

use crate::context::Context;
use crate::prompt::Prompt;

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
    /// Confirm destructive steps without asking.
    #[arg(long, short = 'y', global = true)]
    yes: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply pending database migrations and report the schema version.
    Migrate,
    /// Registration questions and their answer options.
    #[command(subcommand)]
    Questions(questions::Command),
    /// Categories, products, variants, and importing a catalog from CSV or JSON.
    #[command(subcommand)]
    Catalog(catalog::Command),
    /// Who may see a product or a variant: all segments or chosen ones.
    #[command(subcommand)]
    Availability(availability::Command),
    /// Customer segments: list, show, create, edit, delete.
    #[command(subcommand)]
    Segments(segments::Command),
    /// Product segments (rules over the catalog) and their grants to customer segments.
    #[command(subcommand)]
    ProductSegments(product_segments::Command),
    /// Shoppers: list and show.
    #[command(subcommand)]
    Customers(customers::Command),
    /// Orders: list, set status, import history.
    #[command(subcommand)]
    Orders(orders::Command),
    /// Discount coupons for segments and user groups: create, list, show usage, disable.
    #[command(subcommand)]
    Coupons(coupons::Command),
    /// Report variants nobody can see, empty or unused segments, grants to segments not in
    /// force, and rules using archived questions or options.
    Lint {
        /// Exit with an error when anything is found (for CI).
        #[arg(long)]
        strict: bool,
    },
    /// Write the store's configuration (questions, segments, availability) as TOML or JSON.
    Export {
        /// A file to write (.toml or .json); standard output by default.
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
        /// `toml` or `json`; by default from the file's extension (standard output: TOML, or JSON
        /// with --json).
        #[arg(long, value_enum)]
        format: Option<config_file::Format>,
    },
    /// Make the database match a configuration file, in one transaction.
    Apply {
        /// The configuration file (as `export` writes it).
        file: PathBuf,
        /// `toml` or `json`; by default from the file's extension.
        #[arg(long, value_enum)]
        format: Option<config_file::Format>,
        /// Print the changes without making them.
        #[arg(long)]
        dry_run: bool,
    },
    /// Send a text to every member of a segment (the running bot delivers it), or follow
    /// broadcasts with `list` and `status ID`.
    Broadcast(broadcast::Broadcast),
    /// Register, remove or inspect the bot's webhook with Telegram.
    #[command(subcommand)]
    Webhook(webhook::Command),
    /// Copy the SQLite database to PATH, consistently, while the bot runs (PostgreSQL: use
    /// pg_dump).
    Backup {
        /// Where to write the copy.
        path: PathBuf,
        /// Replace PATH if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Replace the SQLite database with the backup at PATH (stop the bot first; asks, or
    /// --yes). The replaced database is kept as <file>.before-restore.
    Restore {
        /// The backup to restore.
        path: PathBuf,
    },
}

/// Whether a panic is Rust's print macros finding standard output closed, as when the output
/// is piped into `head`: the reader has all it wanted, so the tool ends quietly.
fn is_broken_pipe(message: &str) -> bool {
    message.contains("failed printing to stdout") && message.contains("Broken pipe")
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| {
            payload
                .downcast_ref::<&str>()
                .map(|text| (*text).to_owned())
        })
        .unwrap_or_default()
}

fn main() -> ExitCode {
    // `println!` panics when the reader of a pipe has gone; that is no error of ours, so the
    // panic is neither printed nor reported, and the tool exits as `head` expects.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !is_broken_pipe(&panic_message(info.payload())) {
            default_hook(info);
        }
    }));
    match std::panic::catch_unwind(admin_main) {
        Ok(code) => code,
        Err(payload) if is_broken_pipe(&panic_message(payload.as_ref())) => ExitCode::SUCCESS,
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

/// The command line, as `Cli::parse` reads it, with every command listed in the top-level help.
fn parse_cli() -> Cli {
    let mut command = help::with_every_command(Cli::command());
    let matches = command.clone().get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.format(&mut command).exit())
}

fn admin_main() -> ExitCode {
    let cli = parse_cli();
    let json = cli.json;
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("storebot-admin: can't start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    interrupt::install(&runtime, json);
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            if json {
                eprintln!("{}", refusal(&error));
            } else {
                eprintln!(
                    "storebot-admin: {}",
                    storebot::telemetry::one_sentence(error.as_ref())
                );
            }
            ExitCode::FAILURE
        }
    }
}

/// A refusal under `--json`: one object a script can read, `{"error": {"code", "message",
/// "problems"}}`, where `code` is a stable word and `problems` locates what it can.
fn refusal(error: &anyhow::Error) -> serde_json::Value {
    use storebot::store::StoreError;
    let mut code = "refused";
    let mut message = storebot::telemetry::one_sentence(error.as_ref());
    let mut problems = Vec::new();
    for cause in error.chain() {
        if let Some(rule) = cause.downcast_ref::<rule_input::RuleTextError>() {
            code = "rule";
            message = rule.message.clone();
            problems.push(serde_json::json!({
                "line": rule.line,
                "column": rule.column,
                "message": rule.message,
            }));
            break;
        }
        if let Some(StoreError::BadLines(lines)) = cause.downcast_ref::<StoreError>() {
            code = "invalid";
            // The first line ("3 problems in the file, nothing was imported"); the list follows
            // as `problems`.
            message = cause
                .to_string()
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned();
            problems.extend(
                lines
                    .iter()
                    .map(|(line, message)| serde_json::json!({ "line": line, "message": message })),
            );
            break;
        }
        if let Some(store) = cause.downcast_ref::<StoreError>() {
            code = match store {
                StoreError::NotFound { .. } => "not_found",
                StoreError::Invalid(_) => "invalid",
                StoreError::Conflict(_) => "conflict",
                StoreError::BadLines(_) => "invalid",
                StoreError::UsedByRules { .. } => "used_by_rules",
                StoreError::UnsupportedScheme { .. } => "bad_database_url",
                StoreError::Unreachable { .. } => "unreachable",
                StoreError::SchemaTooNew { .. } => "schema_too_new",
                StoreError::Database(_) => "database",
            };
            break;
        }
    }
    serde_json::json!({ "error": { "code": code, "message": message, "problems": problems } })
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(cli.config.as_deref())?;
    storebot::telemetry::init("warn");
    match &cli.command {
        Command::Backup { path, force } => {
            return backup::backup(&settings, cli.json, path, *force).await;
        }
        Command::Restore { path } => {
            return backup::restore(&settings, cli.json, cli.yes, Prompt::detect(), path).await;
        }
        _ => {}
    }
    let db = storebot::store::connect_and_migrate(&settings.database).await?;
    if let Command::Migrate = cli.command {
        let migrations = storebot::store::known_migrations();
        if cli.json {
            println!(
                "{}",
                serde_json::json!({ "database": settings.database.url.redacted(), "applied": migrations })
            );
        } else {
            println!("Database {} is up to date.", settings.database.url);
        }
        return Ok(());
    }
    let context = Context {
        db,
        settings,
        json: cli.json,
        yes: cli.yes,
        prompt: Prompt::detect(),
    };
    match cli.command {
        Command::Migrate => Ok(()),
        Command::Questions(command) => questions::run(&context, command).await,
        Command::Catalog(command) => catalog::run(&context, command).await,
        Command::Availability(command) => availability::run(&context, command).await,
        Command::Segments(command) => segments::run(&context, command).await,
        Command::ProductSegments(command) => product_segments::run(&context, command).await,
        Command::Customers(command) => customers::run(&context, command).await,
        Command::Orders(command) => orders::run(&context, command).await,
        Command::Coupons(command) => coupons::run(&context, command).await,
        Command::Lint { strict } => lint::run(&context, strict).await,
        Command::Export { output, format } => config_file::export(&context, output, format).await,
        Command::Apply {
            file,
            format,
            dry_run,
        } => config_file::apply(&context, file, format, dry_run).await,
        Command::Webhook(command) => webhook::run(&context, command).await,
        Command::Broadcast(args) => broadcast::run(&context, args).await,
        Command::Backup { .. } | Command::Restore { .. } => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::help::with_every_command(super::Cli::command()).debug_assert();
    }

    /// Every argument of every command says what it is for in `--help` (clap's own `--help`
    /// and `--version` aside).
    #[test]
    fn every_argument_has_help_text() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in command.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&super::Cli::command(), "storebot-admin", &mut missing);
        assert!(
            missing.is_empty(),
            "arguments without help text:\n{}",
            missing.join("\n")
        );
    }
}
