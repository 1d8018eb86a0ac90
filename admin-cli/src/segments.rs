//! `storebot-admin segments`: segment definitions (list, show, create, edit, delete).
//!
//! Membership (preview, recompute, members, runs) belongs to the recompute engine and is not
//! here. A rule comes from `--where TEXT` or `--rule FILE` (the rule language, or the stored
//! JSON) or, in a terminal, from a wizard that walks through the conditions; every rule shown
//! is in words. `run` dispatches; each command is one function that parses, calls `store`, and
//! prints.

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::{Result, anyhow, bail};
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Subcommand, ValueEnum};
use storebot::segments::{DateRange, Item, OrderBounds, Rule, TimeFrame, When, language};
use storebot::store::membership::definitions::{self, SegmentDraft, SegmentEdit, SegmentKind};
use storebot::store::membership::recompute::{self, Trigger};
use storebot::store::membership::{in_force, rules};
use storebot::store::{catalog::editing, shoppers::questions};

use crate::context::Context;
use crate::format::{parse_instant, parse_money};
use crate::rule_input;
use crate::table::Table;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Every segment: kind, in force, members, last recompute.
    List,
    /// One segment with its rule and where it is used.
    Show {
        /// The segment's name or id.
        segment: String,
    },
    /// Create a segment (a wizard in a terminal for what is missing).
    Create(CreateArgs),
    /// Change a segment.
    Edit(EditArgs),
    /// Delete a segment; one in use needs --force (its grants go with it).
    Delete {
        /// The segment's name or id.
        segment: String,
        /// Delete it even while it is in use (its grants go with it).
        #[arg(long)]
        force: bool,
    },
    /// Members, share of shoppers, revenue share and average check; with a segment, also its
    /// joins and leaves per day.
    Stats {
        /// One segment's name or id; every segment without it.
        segment: Option<String>,
        /// Days of joins and leaves to show, up to today.
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=366))]
        days: u32,
    },
    #[command(flatten)]
    Engine(crate::segment_engine::Command),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The segment's name, unique in the shop.
    #[arg(long)]
    name: Option<String>,
    /// `auto`: members follow a rule; `manual`: you add them one by one.
    #[arg(long, value_enum)]
    kind: Option<Kind>,
    /// The rule in words, e.g. `order count >= 2 and in segment "VIP"` (see README, "The
    /// rule language"); an auto segment.
    #[arg(long = "where", value_name = "TEXT", conflicts_with = "rule")]
    where_text: Option<String>,
    /// A file holding the rule in words, or in the stored JSON form.
    #[arg(long, value_name = "FILE")]
    rule: Option<PathBuf>,
    /// A note for yourself; shoppers never see it.
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
}

#[derive(Debug, Args)]
pub struct EditArgs {
    /// The segment (name or id).
    segment: String,
    /// A new name.
    #[arg(long)]
    name: Option<String>,
    /// A new note for yourself.
    #[arg(long)]
    description: Option<String>,
    /// The new rule in words (see README, "The rule language").
    #[arg(long = "where", value_name = "TEXT", conflicts_with = "rule")]
    where_text: Option<String>,
    /// A file holding the new rule in words, or in the stored JSON form.
    #[arg(long, value_name = "FILE")]
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
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    Auto,
    Manual,
}

pub async fn run(cx: &Context, command: Command) -> Result<()> {
    match command {
        Command::Engine(command) => crate::segment_engine::run(cx, command).await,
        Command::Stats { segment, days } => crate::segment_stats::run(cx, segment, days).await,
        Command::List => list(cx).await,
        Command::Show { segment } => show(cx, &segment).await,
        Command::Create(args) => create(cx, args).await,
        Command::Edit(args) => edit(cx, args).await,
        Command::Delete { segment, force } => delete(cx, &segment, force).await,
    }
}

/// How much of a rule `segments list` shows.
const LIST_RULE_WIDTH: usize = 48;

async fn list(cx: &Context) -> Result<()> {
    let list = definitions::list(&cx.db, cx.now()).await?;
    let names = rule_input::names(cx).await?;
    if cx.json {
        let rows = list
            .iter()
            .map(|summary| {
                with_rule_object(
                    serde_json::to_value(summary)?,
                    summary.segment.rule.as_deref(),
                    &names,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        cx.json_out(&rows)?;
        return Ok(());
    }
    let mut table = Table::new([
        "id",
        "name",
        "kind",
        "in force",
        "members",
        "group",
        "last recompute",
        "rule",
    ]);
    for summary in list {
        let rule = rules::rule_of(&summary.segment)?
            .map(|rule| language::to_short_text(&rule, &names, LIST_RULE_WIDTH))
            .unwrap_or_else(|| "-".into());
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
            rule,
        ]);
    }
    table.print("No segments yet: create one with `storebot-admin segments create`.");
    Ok(())
}

async fn show(cx: &Context, key: &str) -> Result<()> {
    let db = &cx.db;
    let segment = definitions::find(db, key).await?;
    let uses = definitions::uses(db, segment.id).await?;
    let stored: Option<serde_json::Value> = segment
        .rule
        .as_deref()
        .map(serde_json::from_str)
        .transpose()?;
    let names = rule_input::names(cx).await?;
    let text = rules::rule_of(&segment)?.map(|rule| language::to_text(&rule, &names));
    let shown = serde_json::json!({
        "segment": with_rule_object(serde_json::to_value(&segment)?, segment.rule.as_deref(), &names)?,
        "rule": stored,
        "rule_text": text,
        "uses": uses,
    });
    if cx.json_out(&shown)? {
        return Ok(());
    }
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
    if let Some(text) = &text {
        println!("  rule: {text}");
    }
    if uses.is_empty() {
        println!("  used nowhere yet");
    } else {
        println!("  used by {}", uses.describe());
    }
    Ok(())
}

async fn create(cx: &Context, args: CreateArgs) -> Result<()> {
    let CreateArgs {
        name,
        kind,
        rule: rule_file,
        where_text,
        description,
        inactive,
        starts,
        expires,
        user_group,
    } = args;
    let given_rule = where_text.is_some() || rule_file.is_some();
    let wizard = name.is_none() || (kind.is_none() && !given_rule);
    let name = cx.prompt.text(name, "--name", "Segment name")?;
    let kind = match (kind, given_rule) {
        (Some(Kind::Auto), _) | (None, true) => SegmentKind::Auto,
        (Some(Kind::Manual), _) => SegmentKind::Manual,
        (None, false) => {
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
    let rule = match (kind, given_rule) {
        (SegmentKind::Auto, true) => {
            rule_input::read(cx, where_text.as_deref(), rule_file.as_deref(), None).await?
        }
        (SegmentKind::Auto, false) => {
            if !cx.prompt.is_interactive() {
                bail!(
                    "missing --rule FILE or --where TEXT for an auto segment (there is no terminal to ask in)"
                );
            }
            Some(rule_wizard(cx).await?)
        }
        (SegmentKind::Manual, true) => {
            bail!("a manual segment has no rule: drop --where/--rule or use --kind auto")
        }
        (SegmentKind::Manual, false) => None,
    };
    let zone = cx.settings.store.time_zone;
    let mut starts_at = starts.map(|text| parse_instant(&text, zone)).transpose()?;
    let mut expires_at = expires.map(|text| parse_instant(&text, zone)).transpose()?;
    let mut user_group = user_group;
    if wizard {
        // The wizard asks for what the flags would have given, each checked as it is typed.
        let instant = |text: &str| parse_instant(text, zone);
        if starts_at.is_none() {
            starts_at = ask_optional(cx, "Starts granting (a date, blank for now)", &instant)?;
        }
        if expires_at.is_none() {
            expires_at = loop {
                let expires = ask_optional(cx, "Expires (a date, blank for never)", &instant)?;
                match (starts_at, expires) {
                    (Some(start), Some(end)) if end <= start => eprintln!(
                        "It must expire after it starts ({}): try again.",
                        cx.time(start)
                    ),
                    _ => break expires,
                }
            };
        }
        if user_group.is_none() {
            user_group = cx
                .prompt
                .optional_text("User group its members get (blank for none)")?;
        }
    }
    let draft = SegmentDraft {
        name,
        description,
        kind,
        rule,
        active: !inactive,
        starts_at,
        expires_at,
        user_group,
    };
    if wizard {
        eprintln!(
            "Will create the {} segment `{}`.",
            kind.as_str(),
            draft.name.trim()
        );
        if let Some(rule) = &draft.rule {
            let names = rule_input::names(cx).await?;
            eprintln!("Rule: {}", language::to_text(rule, &names));
        }
        cx.prompt.confirm(cx.yes, "Create it")?;
    }
    let segment = definitions::create(&cx.db, &draft, cx.now()).await?;
    let names = rule_input::names(cx).await?;
    if !cx.json_out(&with_rule_object(
        serde_json::to_value(&segment)?,
        segment.rule.as_deref(),
        &names,
    )?)? {
        println!(
            "Created {} segment {} `{}`.",
            segment.kind, segment.id, segment.name
        );
        if segment.kind == "auto" && wizard {
            // The wizard finishes what it starts: the new segment gets its members now.
            let context = rules::context(&cx.settings, cx.now());
            let run = recompute::recompute_all(&cx.db, &context, Trigger::Admin).await?;
            let members = definitions::list(&cx.db, cx.now())
                .await?
                .into_iter()
                .find(|summary| summary.segment.id == segment.id)
                .map_or(0, |summary| summary.members);
            if run.skipped {
                println!("Another instance is recomputing: members follow at its next run.");
            } else {
                println!("It has {members} member(s) now.");
            }
        } else if segment.kind == "auto" {
            println!(
                "Members are computed at the next recompute (or now: `storebot-admin segments recompute`)."
            );
        }
    }
    Ok(())
}

async fn edit(cx: &Context, args: EditArgs) -> Result<()> {
    let EditArgs {
        segment,
        name,
        description,
        rule: rule_file,
        where_text,
        active,
        starts,
        expires,
        user_group,
        join_message,
    } = args;
    let current = definitions::find(&cx.db, &segment).await?;
    let zone = cx.settings.store.time_zone;
    let clearable_instant = |text: String| -> Result<Option<DateTime<Utc>>> {
        if text.trim() == "none" {
            Ok(None)
        } else {
            parse_instant(&text, zone).map(Some)
        }
    };
    let rule = rule_input::read(
        cx,
        where_text.as_deref(),
        rule_file.as_deref(),
        Some(current.id),
    )
    .await?;
    let edit = SegmentEdit {
        name,
        description,
        rule,
        active,
        starts_at: starts.map(clearable_instant).transpose()?,
        expires_at: expires.map(clearable_instant).transpose()?,
        user_group: user_group.map(|group| Some(group).filter(|group| group.trim() != "none")),
        join_message: join_message
            .map(|message| Some(message).filter(|message| message.trim() != "none")),
    };
    if edit == SegmentEdit::default() {
        bail!(
            "nothing to change: give --name, --description, --where, --rule, --active, --starts, --expires, --user-group or --join-message"
        );
    }
    let segment = definitions::edit(&cx.db, current.id, &edit, cx.now()).await?;
    let names = rule_input::names(cx).await?;
    if !cx.json_out(&with_rule_object(
        serde_json::to_value(&segment)?,
        segment.rule.as_deref(),
        &names,
    )?)? {
        println!("Segment {} `{}` changed.", segment.id, segment.name);
    }
    Ok(())
}

/// A segment's JSON with its rule as an object (the stored `{"version", "rule"}`), not as an
/// escaped string, and the rule in words next to it as `rule_text`: the one style of every
/// `--json` output that shows a rule.
fn with_rule_object(
    mut value: serde_json::Value,
    rule: Option<&str>,
    names: &language::RuleNames,
) -> Result<serde_json::Value> {
    let stored: Option<serde_json::Value> = rule.map(serde_json::from_str).transpose()?;
    let text = rule
        .map(storebot::segments::from_json)
        .transpose()?
        .map(|rule| language::to_text(&rule, names));
    value["rule"] = serde_json::json!(stored);
    value["rule_text"] = serde_json::json!(text);
    Ok(value)
}

async fn delete(cx: &Context, key: &str, force: bool) -> Result<()> {
    let current = definitions::find(&cx.db, key).await?;
    cx.prompt
        .confirm(cx.yes, &format!("Delete segment `{}`", current.name))?;
    let uses = definitions::delete(&cx.db, current.id, force).await?;
    if !uses.is_empty() {
        cx.warn(&format!("removed its grants: {}", uses.describe()));
    }
    if !cx.json_out(&serde_json::json!({ "deleted": current.name, "uses": uses }))? {
        println!("Deleted segment `{}`.", current.name);
    }
    Ok(())
}

const CONDITIONS: [&str; 11] = [
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
    "a group of conditions (all, any or none of them)",
];

/// Walks the merchant through the conditions of a rule and how they combine; a group of
/// conditions walks through its own, so any/all/none nest.
async fn rule_wizard(cx: &Context) -> Result<Rule> {
    group_wizard(cx, "Shoppers match when they meet").await
}

fn group_wizard<'a>(
    cx: &'a Context,
    label: &'a str,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Rule>> + 'a>> {
    Box::pin(async move {
        let combine = cx.prompt.select(
            "--where",
            label,
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
            let mut choice = cx.prompt.select("--where", "Add a condition", &items)?;
            if !rules.is_empty() {
                if choice == 0 {
                    break;
                }
                choice -= 1;
            }
            let added = if choice == CONDITIONS.len() - 1 {
                group_wizard(cx, "The group matches when shoppers meet")
                    .await
                    .map(Some)
            } else {
                condition(cx, choice).await
            };
            match added {
                Ok(Some(rule)) => rules.push(rule),
                Ok(None) => {}
                Err(error) => eprintln!("{error:#}"),
            }
        }
        Ok(match (combine, rules.len()) {
            // One condition is the rule itself: `all of (x)` would say nothing more.
            (0 | 1, 1) => rules.remove(0),
            (0, _) => Rule::All { rules },
            (1, _) => Rule::Any { rules },
            _ => Rule::None { rules },
        })
    })
}

/// One condition; `None` when there is nothing to choose from (said in words, then back to
/// the menu).
async fn condition(cx: &Context, choice: usize) -> Result<Option<Rule>> {
    let db = &cx.db;
    Ok(Some(match choice {
        0 => {
            let live = questions::list(db, false).await?;
            if live.is_empty() {
                eprintln!(
                    "There are no questions yet: add one with `storebot-admin questions add`."
                );
                return Ok(None);
            }
            let items: Vec<String> = live.iter().map(|q| q.question.text.clone()).collect();
            let question = &live[cx.prompt.select("--where", "Which question?", &items)?];
            let options: Vec<_> = question.options.iter().filter(|o| !o.archived).collect();
            let texts: Vec<String> = options.iter().map(|o| o.text.clone()).collect();
            let picked = loop {
                let picked = cx.prompt.multi_select(
                    "--where",
                    "Which answers? (space toggles)",
                    &texts,
                    &vec![false; texts.len()],
                )?;
                if !picked.is_empty() {
                    break picked;
                }
                eprintln!("Choose at least one answer (space toggles it).");
            };
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
            let currency = cx.settings.store.currency.clone();
            let (min, max) = bounds(
                cx,
                &format!("Minimum in {currency} (blank for none)"),
                &format!("Maximum in {currency} (blank for none)"),
                |text| parse_money(text, &currency),
                |amount| crate::format::money(amount, &currency),
            )?;
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
        5 => {
            let (min, max) = bounds(
                cx,
                "At least (blank for none)",
                "At most (blank for none)",
                |text| {
                    text.parse::<u32>()
                        .map_err(|_| anyhow!("`{text}` is not a whole number"))
                },
                |count| count.to_string(),
            )?;
            Rule::OrderCount(OrderBounds {
                min,
                max,
                frame: frame(cx)?,
            })
        }
        6 => {
            // Asked again until the SKU exists, as every other field is.
            let variant = loop {
                let sku = cx.prompt.text(None, "--where", "SKU")?;
                match editing::variant_by_sku(db, &sku).await {
                    Ok(variant) => break variant.id,
                    Err(error) => eprintln!("{error}: try again."),
                }
            };
            Rule::Bought {
                item: Item::Variant(variant),
                frame: frame(cx)?,
            }
        }
        7 => {
            let codes = ask_until(cx, "Language codes, comma-separated (en, de)", |text| {
                let codes: BTreeSet<String> = text
                    .split(',')
                    .map(|code| code.trim().to_lowercase())
                    .filter(|code| !code.is_empty())
                    .collect();
                match codes.iter().find(|c| {
                    !(2..=3).contains(&c.len()) || !c.bytes().all(|b| b.is_ascii_alphabetic())
                }) {
                    Some(bad) => Err(anyhow!(
                        "`{bad}` is not a two- or three-letter code such as en"
                    )),
                    None => Ok(Some(codes)),
                }
            })?;
            Rule::Language { codes }
        }
        _ => {
            let list = definitions::list(db, cx.now()).await?;
            if list.is_empty() {
                eprintln!("There are no other segments yet.");
                return Ok(None);
            }
            let names: Vec<String> = list.iter().map(|s| s.segment.name.clone()).collect();
            let index = cx.prompt.select("--where", "Which segment?", &names)?;
            Rule::Segment {
                segment: list[index].segment.id,
                member: choice == 8,
            }
        }
    }))
}

/// Asks `label` until `read` accepts the typed text (blank counts as text here); a mistake is
/// said and the same question asked again, so nothing typed before is lost.
fn ask_until<T>(cx: &Context, label: &str, read: impl Fn(&str) -> Result<Option<T>>) -> Result<T> {
    loop {
        let text = cx.prompt.text(None, "--where", label)?;
        match read(text.trim()) {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => eprintln!("Please type a value."),
            Err(error) => eprintln!("{error:#}: try again."),
        }
    }
}

/// An optional value, asked again until it reads or is left blank.
fn ask_optional<T>(
    cx: &Context,
    label: &str,
    read: &impl Fn(&str) -> Result<T>,
) -> Result<Option<T>> {
    loop {
        match cx.prompt.optional_text(label)? {
            None => return Ok(None),
            Some(text) => match read(&text) {
                Ok(value) => return Ok(Some(value)),
                Err(error) => eprintln!("{error:#}: try again."),
            },
        }
    }
}

/// A minimum and a maximum, at least one; a maximum below the minimum is asked again at once.
fn bounds<T: PartialOrd + Copy>(
    cx: &Context,
    min_label: &str,
    max_label: &str,
    read: impl Fn(&str) -> Result<T>,
    show: impl Fn(T) -> String,
) -> Result<(Option<T>, Option<T>)> {
    loop {
        let min = ask_optional(cx, min_label, &read)?;
        loop {
            let max = ask_optional(cx, max_label, &read)?;
            match (min, max) {
                (None, None) => {
                    eprintln!("Give a minimum, a maximum or both.");
                    break;
                }
                (Some(low), Some(high)) if high < low => {
                    eprintln!(
                        "The maximum is below the minimum ({}): try again.",
                        show(low)
                    );
                }
                _ => return Ok((min, max)),
            }
        }
    }
}

fn when(cx: &Context) -> Result<When> {
    let choice = cx.prompt.select(
        "--where",
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
        "--where",
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
    ask_until(cx, "How many days", |text| match text.parse::<u32>() {
        Ok(0) => Err(anyhow!("the number of days must be at least 1")),
        Ok(days) => Ok(Some(days)),
        Err(_) => Err(anyhow!("`{text}` is not a number of days")),
    })
}

fn parse_day(text: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| anyhow!("`{}` is not a date like 2026-11-01", text.trim()))
}

/// Two days, at least one; an end before the start is asked again at once.
fn dates(cx: &Context) -> Result<DateRange> {
    loop {
        let from = ask_optional(cx, "From (YYYY-MM-DD, blank for open)", &parse_day)?;
        loop {
            let to = ask_optional(cx, "To (YYYY-MM-DD, blank for open)", &parse_day)?;
            match (from, to) {
                (None, None) => {
                    eprintln!("Give a first day, a last day or both.");
                    break;
                }
                (Some(from), Some(to)) if to < from => {
                    eprintln!("The last day is before the first ({from}): try again.");
                }
                _ => return Ok(DateRange { from, to }),
            }
        }
    }
}
