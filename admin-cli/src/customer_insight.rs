//! `storebot-admin customers explain|simulate`: why a shopper is in or out of a segment, node
//! by node with their own values, and the catalog exactly as they see it, with the reason for
//! every hidden variant.
//!
//! Read-only: these commands must never change a shopper, their membership or the catalog.
//! Explain uses the same in-memory evaluation as the bot's per-shopper refresh, and simulate the
//! same pure visibility rule the SQL filter is tested against.

use anyhow::Result;
use clap::Subcommand;
use serde::Serialize;
use storebot::segments::language;
use storebot::store::catalog::simulate;
use storebot::store::membership::ledger::{OverrideMode, Source};
use storebot::store::membership::{definitions, explain, rules};
use storebot::store::shoppers::records;

use crate::context::Context;
use crate::format::money;
use crate::table::Table;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Why a shopper is in or out of a segment, node by node, with their values.
    Explain {
        /// A Telegram user id, `#id` for the database id, `@username`, or a name.
        customer: String,
        /// The segment (name or id).
        segment: String,
    },
    /// The catalog as one shopper sees it, and each hidden variant with the reason.
    Simulate {
        /// A Telegram user id, `#id` for the database id, `@username`, or a name.
        customer: String,
        /// Show only what the shopper sees.
        #[arg(long)]
        visible_only: bool,
    },
}

#[derive(Debug, Serialize)]
struct ExplainReport {
    customer_id: i64,
    segment_id: i64,
    segment: String,
    kind: String,
    /// Whether the customer is a member now (stored membership).
    member: bool,
    /// `rule` or `manual`.
    source: Option<Source>,
    /// `include` or `exclude`.
    override_mode: Option<OverrideMode>,
    in_force: bool,
    /// The rule's verdict right now (auto segments).
    rule_matches: Option<bool>,
    /// The rule in words (auto segments).
    rule_text: Option<String>,
    /// The verdict node by node, one line each, in words with the shopper's values.
    explanation: Vec<String>,
    /// One sentence on why the customer is in or out.
    summary: String,
}

pub async fn run(cx: &Context, command: Command) -> Result<()> {
    match command {
        Command::Explain { customer, segment } => explain(cx, &customer, &segment).await,
        Command::Simulate {
            customer,
            visible_only,
        } => simulate_catalog(cx, &customer, visible_only).await,
    }
}

async fn explain(cx: &Context, customer: &str, segment: &str) -> Result<()> {
    let db = &cx.db;
    let customer = records::find(db, customer).await?;
    let segment = definitions::find(db, segment).await?;
    let context = rules::context(&cx.settings, cx.now());
    let explained = explain::explain(db, &context, customer.id, segment.id).await?;
    let explanation = explained.explanation(&context);
    let rule_matches = explanation.as_ref().map(|node| node.matched);
    let names = crate::rule_input::names(cx).await?;
    let lines: Vec<String> = explanation
        .map(|node| language::explanation_lines(&node, &names))
        .unwrap_or_default();
    let rule_text = explained
        .rule
        .as_ref()
        .map(|rule| language::to_text(rule, &names));
    let name = &explained.segment.name;
    let summary = summary(
        name,
        explained.membership,
        explained.override_mode,
        explained.in_force,
        rule_matches,
    );
    let report = ExplainReport {
        customer_id: customer.id,
        segment_id: explained.segment.id,
        segment: name.clone(),
        kind: explained.segment.kind.clone(),
        member: explained.membership.is_some(),
        source: explained.membership,
        override_mode: explained.override_mode,
        in_force: explained.in_force,
        rule_matches,
        rule_text,
        explanation: lines,
        summary,
    };
    if cx.json_out(&report)? {
        return Ok(());
    }
    println!(
        "Customer #{} ({}) and segment `{}` ({}{}):",
        customer.id,
        customer.first_name,
        report.segment,
        report.kind,
        if report.in_force {
            ", in force"
        } else {
            ", not in force"
        }
    );
    println!("{}", report.summary);
    if !report.explanation.is_empty() {
        println!();
        for line in &report.explanation {
            println!("  {line}");
        }
    }
    Ok(())
}

/// The one sentence that answers "why": membership, overrides, force and the rule together.
fn summary(
    segment: &str,
    source: Option<Source>,
    override_mode: Option<OverrideMode>,
    in_force: bool,
    rule_matches: Option<bool>,
) -> String {
    let verdict = match rule_matches {
        Some(true) => " The rule matches them now.",
        Some(false) => " The rule does not match them now.",
        None => "",
    };
    let force = if in_force {
        ""
    } else {
        " The segment is not in force, so it grants nothing."
    };
    let why = match (source, override_mode) {
        (Some(Source::Manual), _) => {
            format!("In `{segment}` by the merchant's hand (a manual member).")
        }
        (Some(_), Some(OverrideMode::Include)) => {
            format!("In `{segment}` by an include override, whatever the rule says.")
        }
        (Some(_), _) => format!("In `{segment}` by its rule."),
        (None, Some(OverrideMode::Exclude)) => {
            format!("Out of `{segment}` by an exclude override, whatever the rule says.")
        }
        (None, _) if rule_matches == Some(true) && in_force => {
            format!("Out of `{segment}` for now: the next recompute will add them.")
        }
        (None, _) => format!("Not in `{segment}`."),
    };
    format!("{why}{verdict}{force}")
}

async fn simulate_catalog(cx: &Context, customer: &str, visible_only: bool) -> Result<()> {
    let db = &cx.db;
    let customer = records::find(db, customer).await?;
    let mut seen = simulate::simulate(db, customer.id, cx.now()).await?;
    if visible_only {
        seen.products.retain(|product| product.visible);
        for product in &mut seen.products {
            product.variants.retain(|variant| variant.visible);
        }
    }
    if cx.json_out(&seen)? {
        return Ok(());
    }
    let names = definitions::list(db, cx.now()).await?;
    let in_force: Vec<String> = seen
        .segments_in_force
        .iter()
        .map(|id| {
            names
                .iter()
                .find(|summary| summary.segment.id == *id)
                .map_or_else(|| id.to_string(), |summary| summary.segment.name.clone())
        })
        .collect();
    println!(
        "Customer #{} ({}) is in {} and sees {}.",
        customer.id,
        customer.first_name,
        if in_force.is_empty() {
            "no segment in force".to_owned()
        } else {
            format!("the segments {}", in_force.join(", "))
        },
        match seen.visible_categories.as_slice() {
            [] => "no category".to_owned(),
            categories => format!("the categories {}", categories.join(", ")),
        }
    );
    let currency = &cx.settings.store.currency;
    let mut table = Table::new([
        "category", "product", "sku", "variant", "price", "stock", "seen",
    ]);
    for product in &seen.products {
        for variant in &product.variants {
            table.row(vec![
                product.category.clone().unwrap_or_else(|| "-".into()),
                product.title.clone(),
                variant.sku.clone(),
                variant.title.clone(),
                format!("{} {currency}", money(variant.price, currency)),
                variant.stock.to_string(),
                match &variant.hidden_because {
                    None => "yes".to_owned(),
                    Some(reason) => format!("no: {reason}"),
                },
            ]);
        }
    }
    println!();
    table.print("The catalog is empty.");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::summary;
    use storebot::store::membership::ledger::{OverrideMode, Source};

    #[test]
    fn the_summary_names_the_deciding_cause() {
        let check = |source, mode, in_force, matches, expected: &str| {
            assert_eq!(summary("vip", source, mode, in_force, matches), expected);
        };
        check(
            Some(Source::Manual),
            None,
            true,
            None,
            "In `vip` by the merchant's hand (a manual member).",
        );
        check(
            None,
            Some(OverrideMode::Exclude),
            true,
            Some(true),
            "Out of `vip` by an exclude override, whatever the rule says. The rule matches them now.",
        );
        check(
            Some(Source::Rule),
            None,
            false,
            Some(true),
            "In `vip` by its rule. The rule matches them now. The segment is not in force, so it grants nothing.",
        );
        check(
            None,
            None,
            true,
            Some(true),
            "Out of `vip` for now: the next recompute will add them. The rule matches them now.",
        );
    }
}
