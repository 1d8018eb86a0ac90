//! `storebot-admin segments`: segment definitions (list, show, create, edit, delete).
//!
//! Membership (preview, recompute, members, runs) belongs to the recompute engine and is not
//! here. A rule comes from `--rule FILE.json` (the stored rule format) or, in a terminal, from
//! a wizard that walks through the conditions.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Subcommand, ValueEnum};
use storebot::segments::{self, DateRange, Item, OrderBounds, Rule, TimeFrame, When};
use storebot::store::membership::definitions::{self, SegmentDraft, SegmentEdit, SegmentKind};
use storebot::store::membership::in_force;
use storebot::store::{catalog::editing, shoppers::questions};

use crate::context::Context;
use crate::format::{parse_instant, parse_money};
use crate::table::Table;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Every segment: kind, in force, members, last recompute.
    List,
    /// One segment with its rule and where it is used.
    Show { segment: String },
    /// Create a segment (a wizard in a terminal for what is missing).
    Create {
        #[arg(long)]
        name: Option<String>,
        #[arg(long, value_enum)]
        kind: Option<Kind>,
        /// The rule as JSON in the stored format (auto segments).
        #[arg(long, value_name = "FILE.json")]
        rule: Option<PathBuf>,
        #[arg(long, default_value = "")]
        description: String,
        /// Create it switched off.
        #[arg(long)]
        inactive: bool,
        /// When it starts granting (a date in the store's time zone, or RFC 3339).
        #[arg(long)]
        starts: Option<String>,
        /// When it stops granting.
        #[arg(long)]
        expires: Option<String>,
        /// A user-group tag its members inherit.
        #[arg(long)]
        user_group: Option<String>,
    },
    /// Change a segment.
    Edit {
        segment: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long, value_name = "FILE.json")]
        rule: Option<PathBuf>,
        /// `yes` or `no`.
        #[arg(long, value_parser = crate::format::parse_flag)]
        active: Option<bool>,
        /// A date, or `none` to clear.
        #[arg(long)]
        starts: Option<String>,
        /// A date, or `none` to clear.
        #[arg(long)]
        expires: Option<String>,
        /// A tag, or `none` to clear.
        #[arg(long)]
        user_group: Option<String>,
        /// The message a shopper gets on joining through the rule, or `none` to clear.
        /// `{count}` and `{new_items}` are the items the segment unlocks.
        #[arg(long, value_name = "TEXT")]
        join_message: Option<String>,
    },
    /// Delete a segment; one in use needs --force (its grants go with it).
    Delete {
        segment: String,
        #[arg(long)]
        force: bool,
    },
    /// Members, share of shoppers, revenue share and average check; with a segment, also its
    /// joins and leaves per day.
    Stats {
        segment: Option<String>,
        /// Days of joins and leaves to show, up to today.
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=366))]
        days: u32,
    },
    #[command(flatten)]
    Engine(crate::segment_engine::Command),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    Auto,
    Manual,
}

pub async fn run(cx: &Context, command: Command) -> Result<()> {
    let db = &cx.db;
    match command {
        Command::Engine(command) => return crate::segment_engine::run(cx, command).await,
        Command::Stats { segment, days } => {
            return crate::segment_stats::run(cx, segment, days).await;
        }
        Command::List => {
            let list = definitions::list(db, cx.now()).await?;
            if !cx.json_out(&list)? {
                let mut table = Table::new([
                    "id",
                    "name",
                    "kind",
                    "in force",
                    "members",
                    "group",
                    "last recompute",
                ]);
                for summary in list {
                    table.row(vec![
                        summary.segment.id.to_string(),
                        summary.segment.name,
                        summary.segment.kind,
                        crate::catalog::yes_no(summary.in_force),
                        summary.members.to_string(),
                        summary.segment.user_group.unwrap_or_default(),
                        summary
                            .last_recompute
                            .map(|at| cx.time(at))
                            .unwrap_or_else(|| "-".into()),
                    ]);
                }
                table.print("No segments yet: create one with `storebot-admin segments create`.");
            }
        }
        Command::Show { segment } => {
            let segment = definitions::find(db, &segment).await?;
            let uses = definitions::uses(db, segment.id).await?;
            let rule: Option<serde_json::Value> = segment
                .rule
                .as_deref()
                .map(serde_json::from_str)
                .transpose()?;
            let shown = serde_json::json!({ "segment": segment, "rule": rule, "uses": uses });
            if !cx.json_out(&shown)? {
                println!(
                    "Segment {} `{}` ({})",
                    segment.id, segment.name, segment.kind
                );
                if !segment.description.is_empty() {
                    println!("  {}", segment.description);
                }
                println!(
                    "  active: {}, in force now: {}",
                    crate::catalog::yes_no(segment.active),
                    crate::catalog::yes_no(in_force::is_in_force(&segment, cx.now()))
                );
                if let Some(start) = segment.starts_at {
                    println!("  starts: {}", cx.time(start));
                }
                if let Some(end) = segment.expires_at {
                    println!("  expires: {}", cx.time(end));
                }
                if let Some(group) = &segment.user_group {
                    println!("  user group: {group}");
                }
                if let Some(message) = &segment.join_message {
                    println!("  join message: {message}");
                }
                if let Some(rule) = &rule {
                    println!("  rule: {}", serde_json::to_string_pretty(&rule["rule"])?);
                }
                if uses.is_empty() {
                    println!("  used nowhere yet");
                } else {
                    println!("  used by {}", uses.describe());
                }
            }
        }
        Command::Create {
            name,
            kind,
            rule,
            description,
            inactive,
            starts,
            expires,
            user_group,
        } => {
            let wizard = name.is_none() || (kind.is_none() && rule.is_none());
            let name = cx.prompt.text(name, "--name", "Segment name")?;
            let kind = match (kind, &rule) {
                (Some(Kind::Auto), _) | (None, Some(_)) => SegmentKind::Auto,
                (Some(Kind::Manual), _) => SegmentKind::Manual,
                (None, None) => {
                    let items = [
                        "auto: members follow a rule".to_owned(),
                        "manual: you add members one by one".to_owned(),
                    ];
                    match cx.prompt.select("--kind", "Kind", &items)? {
                        0 => SegmentKind::Auto,
                        _ => SegmentKind::Manual,
                    }
                }
            };
            let rule = match (kind, rule) {
                (SegmentKind::Auto, Some(path)) => Some(read_rule(&path)?),
                (SegmentKind::Auto, None) => {
                    if !cx.prompt.is_interactive() {
                        bail!(
                            "missing --rule FILE.json for an auto segment (there is no terminal to ask in)"
                        );
                    }
                    Some(rule_wizard(cx).await?)
                }
                (SegmentKind::Manual, Some(_)) => {
                    bail!("a manual segment has no rule: drop --rule or use --kind auto")
                }
                (SegmentKind::Manual, None) => None,
            };
            let zone = cx.settings.store.time_zone;
            let draft = SegmentDraft {
                name,
                description,
                kind,
                rule,
                active: !inactive,
                starts_at: starts.map(|text| parse_instant(&text, zone)).transpose()?,
                expires_at: expires.map(|text| parse_instant(&text, zone)).transpose()?,
                user_group,
            };
            if wizard {
                eprintln!(
                    "Will create the {} segment `{}`.",
                    kind.as_str(),
                    draft.name.trim()
                );
                if let Some(rule) = &draft.rule {
                    eprintln!("Rule: {}", segments::to_json(rule)?);
                }
                cx.prompt.confirm(cx.yes, "Create it")?;
            }
            let segment = definitions::create(db, &draft, cx.now()).await?;
            if !cx.json_out(&segment)? {
                println!(
                    "Created {} segment {} `{}`.",
                    segment.kind, segment.id, segment.name
                );
                if segment.kind == "auto" {
                    println!("Members are computed at the next recompute.");
                }
            }
        }
        Command::Edit {
            segment,
            name,
            description,
            rule,
            active,
            starts,
            expires,
            user_group,
            join_message,
        } => {
            let current = definitions::find(db, &segment).await?;
            let zone = cx.settings.store.time_zone;
            let clearable_instant = |text: String| -> Result<Option<DateTime<Utc>>> {
                if text.trim() == "none" {
                    Ok(None)
                } else {
                    parse_instant(&text, zone).map(Some)
                }
            };
            let edit = SegmentEdit {
                name,
                description,
                rule: rule.map(|path| read_rule(&path)).transpose()?,
                active,
                starts_at: starts.map(clearable_instant).transpose()?,
                expires_at: expires.map(clearable_instant).transpose()?,
                user_group: user_group
                    .map(|group| Some(group).filter(|group| group.trim() != "none")),
                join_message: join_message
                    .map(|message| Some(message).filter(|message| message.trim() != "none")),
            };
            if edit == SegmentEdit::default() {
                bail!(
                    "nothing to change: give --name, --description, --rule, --active, --starts, --expires, --user-group or --join-message"
                );
            }
            let segment = definitions::edit(db, current.id, &edit, cx.now()).await?;
            if !cx.json_out(&segment)? {
                println!("Segment {} `{}` changed.", segment.id, segment.name);
            }
        }
        Command::Delete { segment, force } => {
            let current = definitions::find(db, &segment).await?;
            cx.prompt
                .confirm(cx.yes, &format!("Delete segment `{}`", current.name))?;
            let uses = definitions::delete(db, current.id, force).await?;
            if !uses.is_empty() {
                cx.warn(&format!("removed its grants: {}", uses.describe()));
            }
            if !cx.json_out(&serde_json::json!({ "deleted": current.name, "uses": uses }))? {
                println!("Deleted segment `{}`.", current.name);
            }
        }
    }
    Ok(())
}

fn read_rule(path: &Path) -> Result<Rule> {
    let text = crate::files::read_text(path)?;
    segments::from_json(&text).map_err(|error| anyhow!("{}: {error}", path.display()))
}

const CONDITIONS: [&str; 10] = [
    "registration answer",
    "first interaction",
    "last interaction",
    "average check",
    "total check",
    "order count",
    "bought a variant (by SKU)",
    "Telegram language",
    "member of another segment",
    "not a member of another segment",
];

/// Walks the merchant through the conditions of a rule and how they combine.
async fn rule_wizard(cx: &Context) -> Result<Rule> {
    let combine = cx.prompt.select(
        "--rule",
        "Shoppers match when they meet",
        &[
            "all of the conditions".to_owned(),
            "any of the conditions".to_owned(),
            "none of the conditions".to_owned(),
        ],
    )?;
    let mut rules = Vec::new();
    loop {
        let mut items: Vec<String> = CONDITIONS.iter().map(|c| (*c).to_owned()).collect();
        if !rules.is_empty() {
            items.insert(0, "done".to_owned());
        }
        let mut choice = cx.prompt.select("--rule", "Add a condition", &items)?;
        if !rules.is_empty() {
            if choice == 0 {
                break;
            }
            choice -= 1;
        }
        match condition(cx, choice).await {
            Ok(rule) => rules.push(rule),
            Err(error) => eprintln!("{error:#}"),
        }
    }
    Ok(match combine {
        0 => Rule::All { rules },
        1 => Rule::Any { rules },
        _ => Rule::None { rules },
    })
}

async fn condition(cx: &Context, choice: usize) -> Result<Rule> {
    let db = &cx.db;
    Ok(match choice {
        0 => {
            let live = questions::list(db, false).await?;
            let items: Vec<String> = live.iter().map(|q| q.question.text.clone()).collect();
            let question = &live[cx.prompt.select("--rule", "Which question?", &items)?];
            let options: Vec<_> = question.options.iter().filter(|o| !o.archived).collect();
            let texts: Vec<String> = options.iter().map(|o| o.text.clone()).collect();
            let picked = cx.prompt.multi_select(
                "--rule",
                "Which answers? (space toggles)",
                &texts,
                &vec![false; texts.len()],
            )?;
            Rule::Answer {
                question: question.question.id,
                options: picked.into_iter().map(|index| options[index].id).collect(),
            }
        }
        1 | 2 => {
            let when = when(cx)?;
            if choice == 1 {
                Rule::FirstInteraction { when }
            } else {
                Rule::LastInteraction { when }
            }
        }
        3 | 4 => {
            let min = optional_money(cx, "Minimum (blank for none)")?;
            let max = optional_money(cx, "Maximum (blank for none)")?;
            let bounds = OrderBounds {
                min,
                max,
                frame: frame(cx)?,
            };
            if choice == 3 {
                Rule::AverageCheck(bounds)
            } else {
                Rule::TotalCheck(bounds)
            }
        }
        5 => Rule::OrderCount(OrderBounds {
            min: optional_number(cx, "At least (blank for none)")?,
            max: optional_number(cx, "At most (blank for none)")?,
            frame: frame(cx)?,
        }),
        6 => {
            let sku = cx.prompt.text(None, "--rule", "SKU")?;
            let variant = editing::variant_by_sku(db, &sku).await?;
            Rule::Bought {
                item: Item::Variant(variant.id),
                frame: frame(cx)?,
            }
        }
        7 => {
            let text =
                cx.prompt
                    .text(None, "--rule", "Language codes, comma-separated (en, de)")?;
            Rule::Language {
                codes: text
                    .split(',')
                    .map(|code| code.trim().to_lowercase())
                    .filter(|code| !code.is_empty())
                    .collect::<BTreeSet<_>>(),
            }
        }
        _ => {
            let list = definitions::list(db, cx.now()).await?;
            let names: Vec<String> = list.iter().map(|s| s.segment.name.clone()).collect();
            let index = cx.prompt.select("--rule", "Which segment?", &names)?;
            Rule::Segment {
                segment: list[index].segment.id,
                member: choice == 8,
            }
        }
    })
}

fn when(cx: &Context) -> Result<When> {
    let choice = cx.prompt.select(
        "--rule",
        "When",
        &[
            "within the last N days".to_owned(),
            "not within the last N days".to_owned(),
            "between two dates".to_owned(),
        ],
    )?;
    Ok(match choice {
        0 => When::WithinLastDays(days(cx)?),
        1 => When::NotWithinLastDays(days(cx)?),
        _ => When::Dates(dates(cx)?),
    })
}

fn frame(cx: &Context) -> Result<TimeFrame> {
    let choice = cx.prompt.select(
        "--rule",
        "Over which orders",
        &[
            "the whole history".to_owned(),
            "the last N days".to_owned(),
            "between two dates".to_owned(),
        ],
    )?;
    Ok(match choice {
        0 => TimeFrame::WholeHistory,
        1 => TimeFrame::LastDays(days(cx)?),
        _ => TimeFrame::Dates(dates(cx)?),
    })
}

fn days(cx: &Context) -> Result<u32> {
    let text = cx.prompt.text(None, "--rule", "How many days")?;
    text.trim()
        .parse()
        .map_err(|_| anyhow!("`{}` is not a number of days", text.trim()))
}

fn dates(cx: &Context) -> Result<DateRange> {
    let date = |label: &str| -> Result<Option<NaiveDate>> {
        match cx.prompt.optional_text(label)? {
            None => Ok(None),
            Some(text) => NaiveDate::parse_from_str(&text, "%Y-%m-%d")
                .map(Some)
                .map_err(|_| anyhow!("`{text}` is not a date like 2026-11-01")),
        }
    };
    Ok(DateRange {
        from: date("From (YYYY-MM-DD, blank for open)")?,
        to: date("To (YYYY-MM-DD, blank for open)")?,
    })
}

fn optional_money(cx: &Context, label: &str) -> Result<Option<i64>> {
    cx.prompt
        .optional_text(&format!("{label}, in {}", cx.settings.store.currency))?
        .map(|text| parse_money(&text, &cx.settings.store.currency))
        .transpose()
}

fn optional_number(cx: &Context, label: &str) -> Result<Option<u32>> {
    cx.prompt
        .optional_text(label)?
        .map(|text| {
            text.parse()
                .map_err(|_| anyhow!("`{text}` is not a whole number"))
        })
        .transpose()
}
