//! `storebot-admin coupons`: create, list, show usage, disable.
//!
//! `create` runs from flags; in a terminal, a wizard asks for whatever is missing (code,
//! discount, ties) and shows the coupon before saving. Bad input (unknown segment, a percent
//! outside 1–100, an end before the start, no tie) is refused with one sentence and nothing is
//! written: every rule is checked in `storebot::store::orders::coupons::create`, in one transaction.

use anyhow::{Result, bail};
use clap::Subcommand;
use storebot::coupons::Discount;
use storebot::store::membership::definitions;
use storebot::store::orders::coupons::{self, CouponView, NewCoupon};

use crate::context::Context;
use crate::format::{money, parse_instant, parse_money};
use crate::table::Table;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Every coupon: discount, window, uses, ties, active.
    List,
    /// One coupon with its usage: redemptions, discount given, per shopper.
    Show {
        /// The coupon's code (any case).
        code: String,
    },
    /// Create a coupon (a wizard in a terminal for what is missing).
    Create {
        /// The code shoppers type (letters, digits, `-`, `_`; case does not matter).
        #[arg(long)]
        code: Option<String>,
        /// A percent off each covered item, 1–100.
        #[arg(long, conflicts_with = "fixed")]
        percent: Option<i64>,
        /// An amount off the covered items, in the store's currency (`5.00`).
        #[arg(long)]
        fixed: Option<String>,
        /// Valid from (a date in the store's time zone, or RFC 3339).
        #[arg(long)]
        starts: Option<String>,
        /// Valid until (exclusive).
        #[arg(long)]
        ends: Option<String>,
        /// How many orders may use it in all.
        #[arg(long)]
        usage_limit: Option<i32>,
        /// How many orders one shopper may use it on.
        #[arg(long)]
        per_shopper_limit: Option<i32>,
        /// A segment (name or id) whose members may use it; repeat for several.
        #[arg(long = "segment")]
        segments: Vec<String>,
        /// A user group whose shoppers may use it; repeat for several.
        #[arg(long = "user-group")]
        user_groups: Vec<String>,
    },
    /// Switch a coupon off: checkout refuses it from now on; past orders keep their discount.
    Disable {
        /// The coupon's code (any case).
        code: String,
    },
}

pub async fn run(cx: &Context, command: Command) -> Result<()> {
    let db = &cx.db;
    match command {
        Command::List => {
            let list = coupons::list(db).await?;
            if !cx.json_out(&list)? {
                let mut table = Table::new([
                    "code",
                    "discount",
                    "valid",
                    "used",
                    "limit",
                    "per shopper",
                    "for",
                    "active",
                ]);
                for view in &list {
                    let coupon = &view.coupon;
                    table.row(vec![
                        coupon.code.clone(),
                        discount_text(cx, view),
                        window_text(cx, view),
                        coupon.used_count.to_string(),
                        limit_text(coupon.usage_limit),
                        limit_text(coupon.per_customer_limit),
                        ties_text(view),
                        crate::catalog::yes_no(coupon.active),
                    ]);
                }
                table.print("No coupons yet: create one with `storebot-admin coupons create`.");
            }
        }
        Command::Show { code } => {
            let usage = coupons::usage(db, &code).await?;
            if !cx.json_out(&usage)? {
                let view = &usage.view;
                let coupon = &view.coupon;
                println!("Coupon {} ({})", coupon.code, discount_text(cx, view));
                println!("  valid: {}", window_text(cx, view));
                println!("  for: {}", ties_text(&usage.view));
                println!(
                    "  active: {}, used {} of {}, per shopper {}",
                    crate::catalog::yes_no(coupon.active),
                    usage.redemptions,
                    limit_text(coupon.usage_limit),
                    limit_text(coupon.per_customer_limit)
                );
                println!(
                    "  discount given: {} {}",
                    money(usage.total_discount, currency(cx)),
                    currency(cx)
                );
                let mut table = Table::new(["customer", "name", "uses", "discount"]);
                for shopper in &usage.shoppers {
                    table.row(vec![
                        shopper.customer_id.to_string(),
                        shopper.name.clone(),
                        shopper.uses.to_string(),
                        money(shopper.discount, currency(cx)),
                    ]);
                }
                table.print("  Not used yet.");
            }
        }
        Command::Disable { code } => {
            let coupon = coupons::disable(db, &code).await?;
            if !cx.json_out(&coupon)? {
                println!("Coupon {} is disabled.", coupon.code);
            }
        }
        Command::Create {
            code,
            percent,
            fixed,
            starts,
            ends,
            usage_limit,
            per_shopper_limit,
            segments,
            user_groups,
        } => {
            let untied = segments.is_empty() && user_groups.is_empty();
            let wizard = code.is_none() || (percent.is_none() && fixed.is_none()) || untied;
            let code = cx.prompt.text(code, "--code", "Coupon code")?;
            let discount = match (percent, fixed) {
                (Some(percent), _) => Discount::percent(percent)?,
                (None, Some(fixed)) => Discount::fixed(parse_money(&fixed, currency(cx))?)?,
                (None, None) => discount_wizard(cx)?,
            };
            let (segments, user_groups) = if untied && cx.prompt.is_interactive() {
                ties_wizard(cx).await?
            } else if untied {
                bail!(
                    "missing --segment or --user-group: a coupon must be tied to at least one \
                     (there is no terminal to ask in)"
                );
            } else {
                (segments, user_groups)
            };
            let zone = cx.settings.store.time_zone;
            let new = NewCoupon {
                code,
                discount,
                starts_at: starts.map(|t| parse_instant(&t, zone)).transpose()?,
                ends_at: ends.map(|t| parse_instant(&t, zone)).transpose()?,
                usage_limit,
                per_customer_limit: per_shopper_limit,
                segments,
                user_groups,
            };
            if wizard {
                eprintln!(
                    "Will create coupon {} ({}) for {}.",
                    new.code.trim().to_uppercase(),
                    match new.discount {
                        Discount::Percent(p) => format!("{p}% off"),
                        Discount::Fixed(m) =>
                            format!("{} {} off", money(m, currency(cx)), currency(cx)),
                    },
                    new.segments
                        .iter()
                        .map(|s| format!("segment {s}"))
                        .chain(new.user_groups.iter().map(|g| format!("group {g}")))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                cx.prompt.confirm(cx.yes, "Create it")?;
            }
            let view = coupons::create(db, &new, cx.now()).await?;
            if !cx.json_out(&view)? {
                println!(
                    "Created coupon {} ({}) for {}.",
                    view.coupon.code,
                    discount_text(cx, &view),
                    ties_text(&view)
                );
            }
        }
    }
    Ok(())
}

fn discount_wizard(cx: &Context) -> Result<Discount> {
    let items = [
        "percent off each covered item".to_owned(),
        format!("fixed amount in {}", currency(cx)),
    ];
    let percent = cx
        .prompt
        .select("--percent or --fixed", "Discount", &items)?
        == 0;
    loop {
        let text = cx.prompt.text(None, "--percent or --fixed", "Amount")?;
        let parsed = if percent {
            text.trim()
                .parse::<i64>()
                .map_err(anyhow::Error::from)
                .and_then(|p| Ok(Discount::percent(p)?))
        } else {
            parse_money(&text, currency(cx)).and_then(|m| Ok(Discount::fixed(m)?))
        };
        match parsed {
            Ok(discount) => return Ok(discount),
            Err(error) => eprintln!("{error}"),
        }
    }
}

async fn ties_wizard(cx: &Context) -> Result<(Vec<String>, Vec<String>)> {
    let all = definitions::list(&cx.db, cx.now()).await?;
    loop {
        let names: Vec<String> = all.iter().map(|s| s.segment.name.clone()).collect();
        let segments = if names.is_empty() {
            Vec::new()
        } else {
            let checked = vec![false; names.len()];
            cx.prompt
                .multi_select(
                    "--segment",
                    "Segments whose members may use it",
                    &names,
                    &checked,
                )?
                .into_iter()
                .filter_map(|index| names.get(index).cloned())
                .collect()
        };
        let groups: Vec<String> = cx
            .prompt
            .optional_text("User groups, comma-separated (empty for none)")?
            .map(|text| {
                text.split(',')
                    .map(|g| g.trim().to_owned())
                    .filter(|g| !g.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if segments.is_empty() && groups.is_empty() {
            eprintln!("A coupon needs at least one segment or user group.");
            continue;
        }
        return Ok((segments, groups));
    }
}

fn discount_text(cx: &Context, view: &CouponView) -> String {
    let coupon = &view.coupon;
    match Discount::from_stored(&coupon.kind, coupon.amount) {
        Some(Discount::Percent(p)) => format!("{p}%"),
        Some(Discount::Fixed(m)) => format!("{} {}", money(m, currency(cx)), currency(cx)),
        None => format!("{} {}", coupon.kind, coupon.amount),
    }
}

fn window_text(cx: &Context, view: &CouponView) -> String {
    let coupon = &view.coupon;
    match (coupon.starts_at, coupon.ends_at) {
        (None, None) => "always".into(),
        (Some(s), None) => format!("from {}", cx.time(s)),
        (None, Some(e)) => format!("until {}", cx.time(e)),
        (Some(s), Some(e)) => format!("{} – {}", cx.time(s), cx.time(e)),
    }
}

fn limit_text(limit: Option<i32>) -> String {
    limit.map_or_else(|| "-".into(), |l| l.to_string())
}

fn ties_text(view: &CouponView) -> String {
    view.segments
        .iter()
        .map(|s| s.name.clone())
        .chain(view.user_groups.iter().map(|g| format!("group:{g}")))
        .collect::<Vec<_>>()
        .join(", ")
}

fn currency(cx: &Context) -> &str {
    &cx.settings.store.currency
}
