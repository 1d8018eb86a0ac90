//! `storebot-admin broadcast`: send a text to every member of a segment through the outbox,
//! and watch how far the running bot has got with it.
//!
//! This tool only queues (one transaction); the bot's sender delivers, within Telegram's
//! limits. A segment literally named `list` or `status` is reached through its id.

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use storebot::store::membership::definitions;
use storebot::store::messaging::broadcasts::{self, BroadcastProgress};
use storebot::store::messaging::outbox::State;

use crate::context::Context;
use crate::table::Table;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Broadcast {
    #[command(subcommand)]
    command: Option<Command>,
    /// The segment (name or id) whose members get the message.
    segment: Option<String>,
    /// The message, as plain text (one Telegram message, at most 4096 characters).
    #[arg(long)]
    text: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The latest broadcasts with their progress.
    List {
        /// How many broadcasts to show.
        #[arg(long, default_value_t = 20)]
        limit: u64,
    },
    /// One broadcast's progress: queued, sending, sent, failed, skipped, unknown.
    Status {
        /// The broadcast's id (`broadcast list`).
        id: i64,
    },
}

pub async fn run(cx: &Context, args: Broadcast) -> Result<()> {
    let db = &cx.db;
    match (args.command, args.segment, args.text) {
        (Some(Command::List { limit }), _, _) => {
            let list = broadcasts::broadcasts(db, limit).await?;
            if !cx.json_out(&list)? {
                let mut table = Table::new([
                    "id", "segment", "created", "queued", "sent", "failed", "skipped", "unknown",
                    "text",
                ]);
                for progress in &list {
                    let b = &progress.broadcast;
                    table.row(vec![
                        b.id.to_string(),
                        b.segment_name.clone(),
                        cx.time(b.created_at),
                        (progress.count(State::Queued) + progress.count(State::Sending))
                            .to_string(),
                        progress.count(State::Sent).to_string(),
                        progress.count(State::Failed).to_string(),
                        skipped(progress).to_string(),
                        progress.count(State::Unknown).to_string(),
                        b.text.chars().take(40).collect(),
                    ]);
                }
                table.print("No broadcasts yet: `storebot-admin broadcast SEGMENT --text TEXT`.");
            }
        }
        (Some(Command::Status { id }), _, _) => {
            let progress = broadcasts::broadcast_progress(db, id).await?;
            if !cx.json_out(&progress)? {
                print_status(cx, &progress);
            }
        }
        (None, Some(segment), Some(text)) => {
            let segment = definitions::find(db, &segment).await?;
            cx.prompt.confirm(
                cx.yes,
                &format!("Send this message to the members of `{}`", segment.name),
            )?;
            let record = broadcasts::broadcast(db, segment.id, &text, cx.now()).await?;
            let progress = broadcasts::broadcast_progress(db, record.id).await?;
            if !cx.json_out(&progress)? {
                println!(
                    "Broadcast {} to `{}`: {} messages queued ({} members turned messages off, {} blocked the bot).",
                    record.id,
                    record.segment_name,
                    record.recipients,
                    record.skipped_opt_out,
                    record.skipped_blocked
                );
                println!(
                    "The running bot sends them; follow with `storebot-admin broadcast status {}`.",
                    record.id
                );
            }
        }
        (None, Some(_), None) => bail!("give the message with --text TEXT"),
        (None, None, _) => bail!(
            "give a segment and --text, or `list` / `status ID`: storebot-admin broadcast SEGMENT --text TEXT"
        ),
    }
    Ok(())
}

/// Left out at queueing time plus skipped at send time.
fn skipped(progress: &BroadcastProgress) -> u64 {
    let b = &progress.broadcast;
    progress.count(State::Skipped)
        + u64::try_from(b.skipped_opt_out).unwrap_or(0)
        + u64::try_from(b.skipped_blocked).unwrap_or(0)
}

fn print_status(cx: &Context, progress: &BroadcastProgress) {
    let b = &progress.broadcast;
    println!(
        "Broadcast {} to `{}`, {}: {}",
        b.id,
        b.segment_name,
        cx.time(b.created_at),
        if progress.done() { "done" } else { "sending" }
    );
    println!("  {}", b.text);
    println!(
        "  left out when queued: {} turned messages off, {} blocked the bot",
        b.skipped_opt_out, b.skipped_blocked
    );
    for state in State::ALL {
        println!("  {:<8} {}", state.as_str(), progress.count(state));
    }
}
