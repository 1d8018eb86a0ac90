//! `storebot-admin segments preview|members|recompute|runs`: the membership side of segments,
//! on top of the recompute engine (`storebot::store::membership::recompute`) and the merchant's hand on
//! membership (`storebot::store::membership::members`).
//!
//! Preview never writes. Members changes go through the store's own functions, so each one
//! writes its ledger entry in the same transaction, and an imported list (`member_list`) goes
//! in whole or not at all. A manual member is never removed here except by name.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Result, anyhow, bail};
use clap::{ArgGroup, Args, Subcommand};
use serde::Serialize;
use storebot::segments;
use storebot::store::membership::ledger::OverrideMode;
use storebot::store::membership::recompute::{self, Trigger};
use storebot::store::membership::{in_force, manual, preview, rules, runs};
use storebot::store::{
    catalog::simulate, membership::definitions, membership::roster, shoppers::records,
};

use crate::context::Context;
use crate::table::Table;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Who a rule selects now (count and a sample), and for an existing auto segment who would
    /// join or leave and which variants they would gain or lose. Changes nothing.
    Preview {
        /// An existing segment (name or id): its own rule, or the diff to `--rule`.
        segment: Option<String>,
        /// A rule in words, e.g. `average check >= 20.00 during last 90 days` (see README,
        /// "The rule language").
        #[arg(long = "where", value_name = "TEXT", conflicts_with = "rule")]
        where_text: Option<String>,
        /// A file holding a rule in words, or in the stored JSON form.
        #[arg(long, value_name = "FILE")]
        rule: Option<PathBuf>,
        /// How many shoppers to show of each list.
        #[arg(long, default_value_t = 10)]
        sample: u64,
    },
    /// List a segment's members, or change them: manual members of a manual segment,
    /// include/exclude overrides of an auto segment.
    Members(MembersArgs),
    /// Recompute every automatic segment now and print what changed.
    Recompute,
    /// The recompute history, newest first.
    Runs {
        /// How many runs to show.
        #[arg(long, default_value_t = 20)]
        limit: u64,
    },
}

#[derive(Debug, Args)]
#[group(skip)]
#[command(group(ArgGroup::new("change").multiple(false)))]
pub struct MembersArgs {
    /// The segment (name or id).
    segment: String,
    /// Put a customer in (Telegram id, `#id`, `@username` or a name): a manual member, or an include
    /// override on an auto segment.
    #[arg(long, value_name = "CUSTOMER", group = "change")]
    add: Option<String>,
    /// Take a customer out: a manual member, or an exclude override on an auto segment.
    #[arg(long, value_name = "CUSTOMER", group = "change")]
    remove: Option<String>,
    /// Drop the override on an auto segment, so its rule decides again.
    #[arg(long, value_name = "CUSTOMER", group = "change")]
    clear: Option<String>,
    /// Add every customer of a CSV file with a `customer` column, all or nothing.
    #[arg(long, value_name = "FILE.csv", group = "change")]
    import: Option<PathBuf>,
    /// Show at most this many members in the table (default 50); the rest are counted below
    /// it. `--json` lists every one.
    #[arg(long)]
    limit: Option<u64>,
    /// Show every member in the table.
    #[arg(long, conflicts_with = "limit")]
    all: bool,
}

pub async fn run(cx: &Context, command: Command) -> Result<()> {
    match command {
        Command::Preview {
            segment,
            where_text,
            rule,
            sample,
        } => preview(cx, segment, where_text, rule, sample).await,
        Command::Members(args) => members(cx, args).await,
        Command::Recompute => recompute_now(cx).await,
        Command::Runs { limit } => runs(cx, limit).await,
    }
}

/// A shopper in a preview, with the variants a change would show or hide to them.
#[derive(Debug, Serialize)]
struct Shopper {
    customer_id: i64,
    telegram_user_id: i64,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    variants: Option<Vec<String>>,
}

#[derive(Debug, Serialize)]
struct Selection {
    count: u64,
    sample: Vec<Shopper>,
}

#[derive(Debug, Serialize)]
struct PreviewReport {
    segment: Option<String>,
    /// The previewed rule in words.
    rule_text: String,
    matching: Selection,
    /// Against the stored membership of an existing auto segment.
    joining: Option<Selection>,
    leaving: Option<Selection>,
    /// Whether the segment grants anything now; a segment out of force changes no variants.
    in_force: Option<bool>,
}

async fn preview(
    cx: &Context,
    segment: Option<String>,
    where_text: Option<String>,
    rule_file: Option<PathBuf>,
    sample: u64,
) -> Result<()> {
    let db = &cx.db;
    let now = cx.now();
    let context = rules::context(&cx.settings, now);
    let segment = match segment {
        Some(key) => Some(definitions::find(db, &key).await?),
        None => None,
    };
    if let Some(segment) = &segment
        && segment.kind != "auto"
    {
        bail!(
            "segment `{}` is manual: it has no rule to preview; list its members with \
             `storebot-admin segments members {}`",
            segment.name,
            segment.name
        );
    }
    let given = crate::rule_input::read(
        cx,
        where_text.as_deref(),
        rule_file.as_deref(),
        segment.as_ref().map(|s| s.id),
    )
    .await?;
    let new_rule = given.is_some();
    let rule = match (given, &segment) {
        (Some(rule), segment) => {
            if rule_file.is_some() {
                // JSON of ids was only read; it is checked against the store here.
                let facts =
                    definitions::validation_facts(db, segment.as_ref().map(|s| s.id)).await?;
                segments::validate(&rule, &facts).map_err(|error| anyhow!("{error}"))?;
            }
            rule
        }
        (None, Some(segment)) => rules::rule_of(segment)?
            .ok_or_else(|| anyhow!("segment `{}` has no rule", segment.name))?,
        (None, None) => bail!("give a SEGMENT to preview, --where TEXT or --rule FILE"),
    };
    let names = crate::rule_input::names(cx).await?;
    let rule_text = segments::language::to_text(&rule, &names);
    let matching = preview::preview(db, &context, &rule, sample).await?;
    let mut report = PreviewReport {
        segment: segment.as_ref().map(|s| s.name.clone()),
        rule_text,
        matching: Selection {
            count: matching.count,
            sample: shoppers(cx, &matching.sample).await?,
        },
        joining: None,
        leaving: None,
        in_force: None,
    };
    if let Some(segment) = &segment {
        let diff = preview::preview_diff(db, &context, segment.id, &rule, sample).await?;
        let in_force = in_force::is_in_force(segment, now);
        let catalog = simulate::catalog_access(db).await?;
        let skus: BTreeMap<i64, String> = catalog
            .iter()
            .flat_map(|product| product.variants.iter())
            .map(|(variant, _)| (variant.id, variant.sku.clone()))
            .collect();
        let grants = Grants {
            catalog: &catalog,
            skus: &skus,
            segment_id: segment.id,
            in_force,
            now,
        };
        let joining = grants
            .of(cx, shoppers(cx, &diff.joining.sample).await?)
            .await?;
        let leaving = grants
            .of(cx, shoppers(cx, &diff.leaving.sample).await?)
            .await?;
        report.joining = Some(Selection {
            count: diff.joining.count,
            sample: joining,
        });
        report.leaving = Some(Selection {
            count: diff.leaving.count,
            sample: leaving,
        });
        report.in_force = Some(in_force);
    }
    if cx.json_out(&report)? {
        return Ok(());
    }
    let what = match (&report.segment, new_rule) {
        (Some(name), true) => format!("The new rule for `{name}`"),
        (Some(name), false) => format!("The rule of `{name}`"),
        (None, _) => "The rule".to_owned(),
    };
    println!("Rule: {}", report.rule_text);
    println!(
        "{what} matches {} now.",
        counted(report.matching.count, "shopper")
    );
    print_sample(&report.matching.sample, None);
    for (label, verb, selection) in [
        ("would join", "gains", &report.joining),
        ("would leave", "loses", &report.leaving),
    ] {
        if let Some(selection) = selection {
            println!();
            println!("{} {label}.", counted(selection.count, "shopper"));
            print_sample(&selection.sample, Some(verb));
        }
    }
    if report.in_force == Some(false) {
        println!();
        println!("The segment is not in force, so nobody gains or loses a variant through it.");
    }
    Ok(())
}

/// What one segment adds to each shopper's catalog.
struct Grants<'a> {
    catalog: &'a [simulate::ProductFacts],
    skus: &'a BTreeMap<i64, String>,
    segment_id: i64,
    in_force: bool,
    now: chrono::DateTime<chrono::Utc>,
}

impl Grants<'_> {
    /// Sets on each shopper the SKUs they see with the segment and not without it: what a
    /// joiner gains and a leaver loses. A segment out of force grants nothing.
    async fn of(&self, cx: &Context, mut shoppers: Vec<Shopper>) -> Result<Vec<Shopper>> {
        for shopper in &mut shoppers {
            let mut own: BTreeSet<i64> =
                in_force::segments_in_force_for(&cx.db, shopper.customer_id, self.now)
                    .await?
                    .into_iter()
                    .collect();
            let mut variants = Vec::new();
            if self.in_force {
                own.remove(&self.segment_id);
                let without = simulate::visible_variant_ids(self.catalog, &own);
                own.insert(self.segment_id);
                let with = simulate::visible_variant_ids(self.catalog, &own);
                variants = with
                    .difference(&without)
                    .filter_map(|id| self.skus.get(id).cloned())
                    .collect();
            }
            shopper.variants = Some(variants);
        }
        Ok(shoppers)
    }
}

fn print_sample(sample: &[Shopper], verb: Option<&str>) {
    if sample.is_empty() {
        return;
    }
    let mut table = match verb {
        Some(_) => Table::new(["customer", "telegram", "name", "variants"]),
        None => Table::new(["customer", "telegram", "name"]),
    };
    for shopper in sample {
        let mut row = vec![
            format!("#{}", shopper.customer_id),
            shopper.telegram_user_id.to_string(),
            shopper.name.clone(),
        ];
        if let Some(verb) = verb {
            row.push(match shopper.variants.as_deref() {
                Some([]) | None => "no change".to_owned(),
                Some(skus) => format!("{verb} {}", skus.join(", ")),
            });
        }
        table.row(row);
    }
    table.print("");
}

async fn shoppers(cx: &Context, ids: &[i64]) -> Result<Vec<Shopper>> {
    let mut shoppers = Vec::with_capacity(ids.len());
    for id in ids {
        let customer = records::find(&cx.db, &format!("#{id}")).await?;
        shoppers.push(Shopper {
            customer_id: customer.id,
            telegram_user_id: customer.telegram_user_id,
            name: match &customer.last_name {
                Some(last) => format!("{} {last}", customer.first_name),
                None => customer.first_name,
            },
            variants: None,
        });
    }
    Ok(shoppers)
}

async fn members(cx: &Context, args: MembersArgs) -> Result<()> {
    let db = &cx.db;
    let now = cx.now();
    let context = rules::context(&cx.settings, now);
    let segment = definitions::find(db, &args.segment).await?;
    let auto = segment.kind == "auto";
    let name = &segment.name;
    if let Some(key) = args.add {
        let customer = records::find(db, &key).await?;
        let done = if auto {
            manual::set_override(db, &context, segment.id, customer.id, OverrideMode::Include)
                .await?;
            format!(
                "#{} is included in `{name}` whatever its rule says.",
                customer.id
            )
        } else if manual::add_member(db, segment.id, customer.id, now).await? {
            format!("#{} is now a member of `{name}`.", customer.id)
        } else {
            format!("#{} was already a member of `{name}`.", customer.id)
        };
        return changed(cx, segment.id, &done).await;
    }
    if let Some(key) = args.remove {
        let customer = records::find(db, &key).await?;
        let done = if auto {
            manual::set_override(db, &context, segment.id, customer.id, OverrideMode::Exclude)
                .await?;
            format!(
                "#{} is excluded from `{name}` whatever its rule says.",
                customer.id
            )
        } else if manual::remove_member(db, segment.id, customer.id, now).await? {
            format!("#{} is no longer a member of `{name}`.", customer.id)
        } else {
            bail!("customer #{} is not a member of `{name}`", customer.id);
        };
        return changed(cx, segment.id, &done).await;
    }
    if let Some(key) = args.clear {
        let customer = records::find(db, &key).await?;
        if !auto {
            bail!("segment `{name}` is manual: it has no overrides; use --remove instead");
        }
        let (current, excluded) = roster::members(db, segment.id).await?;
        let has_override = current
            .iter()
            .chain(&excluded)
            .any(|line| line.customer_id == customer.id && line.override_mode.is_some());
        if !has_override {
            bail!(
                "customer #{} has no override on `{name}`: nothing to clear",
                customer.id
            );
        }
        manual::clear_override(db, &context, segment.id, customer.id).await?;
        let done = format!("`{name}`'s rule decides about #{} again.", customer.id);
        return changed(cx, segment.id, &done).await;
    }
    if let Some(path) = args.import {
        let imported = crate::member_list::import(cx, &context, segment.id, &path).await?;
        let done = format!(
            "{} of {} in the file joined `{name}`{}.",
            imported.added,
            counted(imported.listed as u64, "customer"),
            if auto { " (as include overrides)" } else { "" }
        );
        return changed(cx, segment.id, &done).await;
    }
    let page = crate::table::page(args.limit, args.all);
    list_members(cx, segment.id, name, page).await
}

/// After a change: the member list as JSON, or the one sentence saying what was done.
async fn changed(cx: &Context, segment_id: i64, done: &str) -> Result<()> {
    let (members, excluded) = roster::members(&cx.db, segment_id).await?;
    let shown = serde_json::json!({ "done": done, "members": members, "excluded": excluded });
    if !cx.json_out(&shown)? {
        println!("{done}");
    }
    Ok(())
}

async fn list_members(cx: &Context, segment_id: i64, name: &str, page: Option<u64>) -> Result<()> {
    let (members, excluded) = roster::members(&cx.db, segment_id).await?;
    let shown = serde_json::json!({ "members": members, "excluded": excluded });
    if cx.json_out(&shown)? {
        return Ok(());
    }
    let mut table = Table::new(["customer", "telegram", "name", "cause", "since"]);
    let shown = page.map_or(members.len(), |page| {
        members
            .len()
            .min(usize::try_from(page).unwrap_or(usize::MAX))
    });
    for line in &members[..shown] {
        let cause = match (line.source.as_str(), line.override_mode.as_deref()) {
            ("rule", Some("include")) => "include override".to_owned(),
            (source, _) => source.to_owned(),
        };
        table.row(vec![
            format!("#{}", line.customer_id),
            line.telegram_user_id.to_string(),
            line.name.clone(),
            cause,
            cx.time(line.since),
        ]);
    }
    table.print(&format!("`{name}` has no members."));
    crate::table::print_more(shown, members.len(), "members");
    if !excluded.is_empty() {
        println!();
        let mut table = Table::new(["excluded", "telegram", "name", "since"]);
        for line in &excluded {
            table.row(vec![
                format!("#{}", line.customer_id),
                line.telegram_user_id.to_string(),
                line.name.clone(),
                cx.time(line.since),
            ]);
        }
        table.print("");
    }
    Ok(())
}

#[derive(Debug, Serialize)]
struct RecomputeReport {
    run_id: Option<i64>,
    skipped: bool,
    segments: u32,
    joined: u64,
    left: u64,
    errors: Vec<String>,
    changes: Vec<SegmentLine>,
}

#[derive(Debug, Serialize)]
struct SegmentLine {
    segment_id: i64,
    name: String,
    joined: u64,
    left: u64,
}

async fn recompute_now(cx: &Context) -> Result<()> {
    let db = &cx.db;
    let context = rules::context(&cx.settings, cx.now());
    let interactive = std::io::stderr().is_terminal() && !cx.json;
    let names: BTreeMap<i64, String> = definitions::list(db, context.now)
        .await?
        .into_iter()
        .map(|summary| (summary.segment.id, summary.segment.name))
        .collect();
    if interactive {
        eprintln!("Recomputing the automatic segments…");
    }
    // The number of segments is known only once the run starts: the bar learns it from the
    // first report.
    let bar = crate::progress::bar(cx, 0, "segments");
    let mut show_progress = |progress: recompute::Progress<'_>| {
        crate::progress::show(&bar, progress.done, Some(progress.total));
        bar.set_message(progress.segment.to_owned());
    };
    let summary =
        recompute::recompute_all_with_progress(db, &context, Trigger::Admin, &mut show_progress)
            .await;
    bar.finish_with_message("done");
    let summary = summary?;
    if summary.skipped {
        bail!("another storebot instance is recomputing right now: nothing was done, try again");
    }
    let mut changes = Vec::new();
    if let Some(run_id) = summary.run_id {
        for change in roster::changes_of_run(db, run_id).await? {
            let name = names
                .get(&change.segment_id)
                .cloned()
                .unwrap_or_else(|| change.segment_id.to_string());
            if interactive {
                eprintln!("  {name}: {} joined, {} left", change.joined, change.left);
            }
            changes.push(SegmentLine {
                segment_id: change.segment_id,
                name,
                joined: change.joined,
                left: change.left,
            });
        }
    }
    let report = RecomputeReport {
        run_id: summary.run_id,
        skipped: summary.skipped,
        segments: summary.segments,
        joined: summary.joined,
        left: summary.left,
        errors: summary.errors.clone(),
        changes,
    };
    if !cx.json_out(&report)? {
        let mut table = Table::new(["segment", "joined", "left"]);
        for line in &report.changes {
            table.row(vec![
                line.name.clone(),
                line.joined.to_string(),
                line.left.to_string(),
            ]);
        }
        table.print("No membership changed.");
        println!(
            "Run {}: {} recomputed, {} joined, {} left.",
            report.run_id.map(|id| format!("#{id}")).unwrap_or_default(),
            counted(u64::from(report.segments), "segment"),
            report.joined,
            report.left
        );
    }
    if !summary.errors.is_empty() {
        for error in &summary.errors {
            cx.warn(error);
        }
        bail!(
            "{} could not be recomputed (the others were)",
            counted(summary.errors.len() as u64, "segment")
        );
    }
    Ok(())
}

async fn runs(cx: &Context, limit: u64) -> Result<()> {
    let runs = runs::runs(&cx.db, limit).await?;
    if cx.json_out(&runs)? {
        return Ok(());
    }
    let mut table = Table::new([
        "run", "trigger", "started", "took", "segments", "joined", "left", "error",
    ]);
    for run in runs {
        table.row(vec![
            format!("#{}", run.id),
            run.trigger,
            cx.time(run.started_at),
            match run.finished_at {
                Some(end) => format!("{} ms", (end - run.started_at).num_milliseconds()),
                None => "running".into(),
            },
            run.segments.to_string(),
            run.joined.to_string(),
            run.left.to_string(),
            run.error
                .map(|error| error.lines().next().unwrap_or_default().to_owned())
                .unwrap_or_default(),
        ]);
    }
    table.print("No recompute has run yet: start one with `storebot-admin segments recompute`.");
    Ok(())
}

/// `1 shopper`, `3 shoppers`.
fn counted(count: u64, noun: &str) -> String {
    match count {
        1 => format!("1 {noun}"),
        count => format!("{count} {noun}s"),
    }
}
