//! `storebot-admin customers`: find shoppers, read one shopper's record, and set user groups
//! on them by hand. `run` dispatches; each command is one function that parses, calls
//! `store`, and prints.

use anyhow::Result;
use clap::Subcommand;
use storebot::store::membership::{definitions, user_groups};
use storebot::store::shoppers::records::{self, CustomerFilter};

use crate::context::Context;
use crate::format::money;
use crate::table::Table;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Shoppers, most recently active first.
    List {
        /// Part of a name or username.
        #[arg(long)]
        search: Option<String>,
        /// Only members of this segment (name or id).
        #[arg(long)]
        segment: Option<String>,
        /// Only shoppers who answered every required question.
        #[arg(long, conflicts_with = "unregistered")]
        registered: bool,
        /// Only shoppers who have not.
        #[arg(long)]
        unregistered: bool,
        /// Show at most this many (default 50); the rest are counted below the table.
        #[arg(long)]
        limit: Option<u64>,
        /// Show every matching shopper.
        #[arg(long, conflicts_with = "limit")]
        all: bool,
    },
    /// One shopper: answers, interactions, checks, segments, user groups.
    Show {
        /// A Telegram user id, `#id` for the database id, `@username`, or a name.
        customer: String,
    },
    /// Set or remove user groups on a shopper by hand (groups inherited from segments come
    /// and go with the segment); all changes or none. Without a change, lists the groups.
    Groups {
        /// A Telegram user id, `#id` for the database id, `@username`, or a name.
        customer: String,
        /// A group to set; repeat for several.
        #[arg(long = "add", value_name = "GROUP")]
        add: Vec<String>,
        /// A hand-set group to remove; repeat for several.
        #[arg(long = "remove", value_name = "GROUP")]
        remove: Vec<String>,
    },
    #[command(flatten)]
    Insight(crate::customer_insight::Command),
}

pub async fn run(cx: &Context, command: Command) -> Result<()> {
    match command {
        Command::Insight(command) => crate::customer_insight::run(cx, command).await,
        Command::List {
            search,
            segment,
            registered,
            unregistered,
            limit,
            all,
        } => {
            let limit = crate::table::page(limit, all);
            list(cx, search, segment, registered, unregistered, limit).await
        }
        Command::Show { customer } => show(cx, &customer).await,
        Command::Groups {
            customer,
            add,
            remove,
        } => groups(cx, &customer, &add, &remove).await,
    }
}

async fn list(
    cx: &Context,
    search: Option<String>,
    segment: Option<String>,
    registered: bool,
    unregistered: bool,
    limit: Option<u64>,
) -> Result<()> {
    let db = &cx.db;
    let currency = &cx.settings.store.currency;
    let segment = match segment {
        Some(key) => Some(definitions::find(db, &key).await?.id),
        None => None,
    };
    let filter = CustomerFilter {
        text: search,
        segment,
        registered: match (registered, unregistered) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
        limit,
    };
    let rows = records::list(db, &filter, cx.counted_statuses()).await?;
    if !cx.json_out(&rows)? {
        let shown = rows.len();
        let mut table = Table::new([
            "id",
            "telegram",
            "name",
            "username",
            "lang",
            "last seen",
            "orders",
            "total",
        ]);
        for row in rows {
            let customer = row.customer;
            let name = match &customer.last_name {
                Some(last) => format!("{} {last}", customer.first_name),
                None => customer.first_name.clone(),
            };
            table.row(vec![
                format!("#{}", customer.id),
                customer.telegram_user_id.to_string(),
                name,
                customer
                    .username
                    .map(|u| format!("@{u}"))
                    .unwrap_or_default(),
                customer.language_code.unwrap_or_default(),
                cx.time(customer.last_interaction_at),
                row.orders.to_string(),
                format!("{} {currency}", money(row.total_check, currency)),
            ]);
        }
        table.print("No customers match.");
        if limit.is_some_and(|limit| shown as u64 >= limit) {
            let total = records::count(db, &filter).await?;
            crate::table::print_more(
                shown,
                usize::try_from(total).unwrap_or(usize::MAX),
                "customers",
            );
        }
    }
    Ok(())
}

async fn show(cx: &Context, customer: &str) -> Result<()> {
    let db = &cx.db;
    let currency = &cx.settings.store.currency;
    let customer = records::find(db, customer).await?;
    let record = records::show(db, customer.id, cx.counted_statuses(), cx.now()).await?;
    if cx.json_out(&record)? {
        return Ok(());
    }
    let c = &record.row.customer;
    println!(
        "Customer #{} {}{} (Telegram {})",
        c.id,
        c.first_name,
        c.last_name
            .as_deref()
            .map(|l| format!(" {l}"))
            .unwrap_or_default(),
        c.telegram_user_id
    );
    println!("  first interaction: {}", cx.time(c.first_interaction_at));
    println!("  last interaction:  {}", cx.time(c.last_interaction_at));
    println!(
        "  registered:        {}",
        c.registered_at
            .map(|at| cx.time(at))
            .unwrap_or_else(|| "not yet".into())
    );
    println!(
        "  orders: {}, total check {} {currency}, average check {}",
        record.row.orders,
        money(record.row.total_check, currency),
        record
            .average_check
            .map(|avg| format!("{} {currency}", money(avg, currency)))
            .unwrap_or_else(|| "none".into())
    );
    println!(
        "  user groups: {}",
        if record.user_groups.is_empty() {
            "none".to_owned()
        } else {
            record.user_groups.join(", ")
        }
    );
    let mut answers = Table::new(["question", "answer"]);
    for answer in &record.answers {
        answers.row(vec![
            answer.question.clone(),
            if answer.options.is_empty() {
                "(skipped)".into()
            } else {
                answer.options.join(", ")
            },
        ]);
    }
    println!();
    answers.print("No answers yet.");
    let mut segments = Table::new(["segment", "cause", "since", "in force"]);
    for line in &record.segments {
        segments.row(vec![
            line.name.clone(),
            line.source.clone(),
            cx.time(line.since),
            crate::catalog::yes_no(line.in_force),
        ]);
    }
    println!();
    segments.print("In no segment.");
    Ok(())
}

async fn groups(cx: &Context, customer: &str, add: &[String], remove: &[String]) -> Result<()> {
    let customer = records::find(&cx.db, customer).await?;
    let hand_set = if add.is_empty() && remove.is_empty() {
        user_groups::hand_set_groups(&cx.db, customer.id).await?
    } else {
        user_groups::change_hand_set_groups(&cx.db, customer.id, add, remove).await?
    };
    let all = user_groups::user_groups(&cx.db, customer.id, cx.now()).await?;
    let inherited: Vec<&String> = all.difference(&hand_set).collect();
    let report = serde_json::json!({
        "customer_id": customer.id,
        "hand_set": hand_set,
        "inherited": inherited,
    });
    if cx.json_out(&report)? {
        return Ok(());
    }
    let list = |groups: Vec<&String>| {
        if groups.is_empty() {
            "none".to_owned()
        } else {
            groups
                .iter()
                .map(|g| g.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    println!(
        "Customer #{} ({}): set by hand: {}; from segments: {}.",
        customer.id,
        customer.first_name,
        list(hand_set.iter().collect()),
        list(inherited)
    );
    Ok(())
}
