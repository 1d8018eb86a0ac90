//! `storebot-admin availability`: who may see a product, or each of its variants.
//!
//! With flags it sets one thing; `availability set` in a terminal without flags walks through
//! a product: everybody, chosen segments, or variant by variant.

use std::collections::BTreeSet;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use storebot::store::catalog::availability::{self, Audience, Availability};
use storebot::store::{
    catalog::{editing, lookup},
    membership::definitions,
};

use crate::context::Context;
use crate::table::Table;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show a product's availability and its variants'.
    Show {
        /// The product: its id, its title, or a variant's SKU.
        product: String,
    },
    /// Set a product's audience (a wizard in a terminal when no audience is given).
    Set {
        /// The product: its id, its title, or a variant's SKU (chosen from a list in a
        /// terminal).
        product: Option<String>,
        #[command(flatten)]
        audience: AudienceArgs,
    },
    /// Turn per-variant availability on or off. Off discards the per-variant sets.
    ByVariant {
        /// The product: its id, its title, or a variant's SKU.
        product: String,
        /// `on` or `off`.
        #[arg(value_parser = crate::format::parse_flag, action = clap::ArgAction::Set)]
        mode: bool,
    },
    /// Set one variant's audience (its product must be in by-variant mode).
    Variant {
        /// The variant's SKU.
        sku: String,
        #[command(flatten)]
        audience: AudienceArgs,
    },
}

#[derive(Debug, Args)]
pub struct AudienceArgs {
    /// Everybody may see it.
    #[arg(long, conflicts_with_all = ["segments", "nobody"])]
    all: bool,
    /// A segment (name or id) whose members may see it; repeat for several.
    #[arg(long = "segment", value_name = "SEGMENT")]
    segments: Vec<String>,
    /// Restrict to no segment at all (nobody can see it).
    #[arg(long, conflicts_with = "segments")]
    nobody: bool,
}

impl AudienceArgs {
    fn is_given(&self) -> bool {
        self.all || self.nobody || !self.segments.is_empty()
    }
}

pub async fn run(cx: &Context, command: Command) -> Result<()> {
    let db = &cx.db;
    match command {
        Command::Show { product } => {
            let product = product_id(cx, &product).await?;
            let availability = availability::of_product(db, product).await?;
            show(cx, &availability)?;
        }
        Command::Set { product, audience } => {
            let product = match product {
                Some(key) => Some(product_id(cx, &key).await?),
                None => None,
            };
            if audience.is_given() {
                let Some(product) = product else {
                    bail!("missing the product (its id, title or a SKU)");
                };
                let audience = resolve(cx, &audience).await?;
                let availability = availability::set_product(db, product, &audience).await?;
                if availability.by_variant {
                    cx.warn("the product is in by-variant mode: its variants' own settings decide until you turn it off");
                }
                show(cx, &availability)?;
            } else {
                wizard(cx, product).await?;
            }
        }
        Command::ByVariant { product, mode } => {
            let product = product_id(cx, &product).await?;
            let current = availability::of_product(db, product).await?;
            if current.by_variant && !mode {
                let exposed = availability::exposure_when_by_variant_ends(
                    &current,
                    &current.audience,
                    &current.segment_names,
                );
                if !exposed.is_empty() {
                    cx.prompt.confirm(
                        cx.yes,
                        &format!(
                            "Turning by-variant off gives every variant of `{}` the product's \
                             audience: {}",
                            current.title,
                            exposed.join("; ")
                        ),
                    )?;
                }
            }
            let (availability, discarded) = availability::set_by_variant(db, product, mode).await?;
            if discarded > 0 {
                cx.warn(&format!(
                    "discarded {discarded} per-variant segment grant(s)"
                ));
            }
            show(cx, &availability)?;
        }
        Command::Variant { sku, audience } => {
            if !audience.is_given() {
                bail!("missing --all, --segment or --nobody");
            }
            let variant = editing::variant_by_sku(db, &sku).await?;
            let audience = resolve(cx, &audience).await?;
            let availability = availability::set_variant(db, variant.id, &audience).await?;
            show(cx, &availability)?;
        }
    }
    Ok(())
}

/// A product named by id, title or SKU.
async fn product_id(cx: &Context, key: &str) -> Result<i64> {
    Ok(lookup::find_product(&cx.db, key).await?.id)
}

async fn resolve(cx: &Context, args: &AudienceArgs) -> Result<Audience> {
    if args.all {
        return Ok(Audience::AllSegments);
    }
    let mut ids = BTreeSet::new();
    for key in &args.segments {
        ids.insert(definitions::find(&cx.db, key).await?.id);
    }
    Ok(Audience::Segments(ids))
}

async fn wizard(cx: &Context, product: Option<i64>) -> Result<()> {
    let db = &cx.db;
    if !cx.prompt.is_interactive() {
        bail!("missing --all, --segment or --nobody (there is no terminal to ask in)");
    }
    let product = match product {
        Some(product) => product,
        None => {
            let products = editing::products(db, None).await?;
            let items: Vec<String> = products
                .iter()
                .map(|row| format!("{} {}", row.product.id, row.product.title))
                .collect();
            let index = cx
                .prompt
                .select("the product id", "Which product?", &items)?;
            products[index].product.id
        }
    };
    let current = availability::of_product(db, product).await?;
    let segments = definitions::list(db, cx.now()).await?;
    let names: Vec<String> = segments
        .iter()
        .map(|summary| {
            let state = if summary.in_force {
                ""
            } else {
                " (not in force)"
            };
            format!("{}{state}", summary.segment.name)
        })
        .collect();
    let ids: Vec<i64> = segments.iter().map(|summary| summary.segment.id).collect();
    let choose = |label: &str, current: &Audience| -> Result<Audience> {
        let choice = cx.prompt.select(
            "--all or --segment",
            label,
            &["All segments".to_owned(), "Chosen segments".to_owned()],
        )?;
        if choice == 0 {
            return Ok(Audience::AllSegments);
        }
        let checked: Vec<bool> = ids
            .iter()
            .map(|id| matches!(current, Audience::Segments(set) if set.contains(id)))
            .collect();
        let picked = cx.prompt.multi_select(
            "--segment",
            "Which segments? (space toggles)",
            &names,
            &checked,
        )?;
        Ok(Audience::Segments(
            picked.into_iter().map(|index| ids[index]).collect(),
        ))
    };

    let mode = cx.prompt.select(
        "--all or --segment",
        &format!("Availability of `{}`", current.title),
        &[
            "The whole product".to_owned(),
            "Variant by variant".to_owned(),
        ],
    )?;
    if mode == 0 {
        let audience = choose("Who may see the product?", &current.audience)?;
        // Every segment by name, the newly chosen ones included.
        let segment_names = segments
            .iter()
            .map(|summary| (summary.segment.id, summary.segment.name.clone()))
            .collect();
        let exposed =
            availability::exposure_when_by_variant_ends(&current, &audience, &segment_names);
        if current.by_variant && !exposed.is_empty() {
            cx.prompt.confirm(
                cx.yes,
                &format!("By-variant mode will be turned off: {}", exposed.join("; ")),
            )?;
        }
        eprintln!(
            "Will set `{}` to {}.",
            current.title,
            describe(&audience, &names, &ids)
        );
        cx.prompt.confirm(cx.yes, "Apply")?;
        let txn = storebot::store::begin_write(db).await?;
        if current.by_variant {
            availability::set_by_variant(&txn, product, false).await?;
        }
        let after = availability::set_product(&txn, product, &audience).await?;
        txn.commit().await?;
        return show(cx, &after);
    }
    let mut plan = Vec::new();
    for variant in &current.variants {
        let audience = choose(
            &format!("Who may see `{}` ({})?", variant.title, variant.sku),
            &variant.audience,
        )?;
        plan.push((variant.variant_id, variant.sku.clone(), audience));
    }
    eprintln!("Will set `{}` variant by variant:", current.title);
    for (_, sku, audience) in &plan {
        eprintln!("  {sku}: {}", describe(audience, &names, &ids));
    }
    cx.prompt.confirm(cx.yes, "Apply")?;
    // The whole plan is one transaction: shoppers never see the product half set.
    let txn = storebot::store::begin_write(db).await?;
    if !current.by_variant {
        availability::set_by_variant(&txn, product, true).await?;
    }
    for (variant_id, _, audience) in &plan {
        availability::set_variant(&txn, *variant_id, audience).await?;
    }
    txn.commit().await?;
    show(cx, &availability::of_product(db, product).await?)
}

fn describe(audience: &Audience, names: &[String], ids: &[i64]) -> String {
    match audience {
        Audience::AllSegments => "all segments".into(),
        Audience::Segments(set) if set.is_empty() => "no segment (nobody can see it)".into(),
        Audience::Segments(set) => ids
            .iter()
            .zip(names)
            .filter(|(id, _)| set.contains(id))
            .map(|(_, name)| name.clone())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn audience_text(audience: &Audience, availability: &Availability) -> String {
    match audience {
        Audience::AllSegments => "all segments".into(),
        Audience::Segments(set) if set.is_empty() => "nobody".into(),
        Audience::Segments(set) => {
            let mut names: Vec<String> = set
                .iter()
                .map(|id| {
                    availability
                        .segment_names
                        .get(id)
                        .cloned()
                        .unwrap_or_else(|| id.to_string())
                })
                .collect();
            names.sort();
            names.join(", ")
        }
    }
}

fn show(cx: &Context, availability: &Availability) -> Result<()> {
    for warning in &availability.warnings {
        cx.warn(warning);
    }
    if cx.json_out(availability)? {
        return Ok(());
    }
    println!(
        "Product {} `{}`: {}",
        availability.product_id,
        availability.title,
        if availability.by_variant {
            "set variant by variant".to_owned()
        } else {
            format!(
                "visible to {}",
                audience_text(&availability.audience, availability)
            )
        }
    );
    if availability.by_variant {
        let mut table = Table::new(["sku", "variant", "visible to"]);
        for variant in &availability.variants {
            table.row(vec![
                variant.sku.clone(),
                variant.title.clone(),
                audience_text(&variant.audience, availability),
            ]);
        }
        table.print("The product has no variants.");
    }
    Ok(())
}
