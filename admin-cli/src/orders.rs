//! `storebot-admin orders`: list orders, show one, move one on to its next status (through
//! `store::orders::status`, which also queues the shopper's message), refund a payment made in
//! the chat, import order history.
//!
//! History file columns (CSV header): `order` (your reference; rows sharing it are one order),
//! `customer` (Telegram user id), `placed_at` (RFC 3339, or a date in the store's time zone),
//! `status`, `sku`, `quantity`, `unit_price` (major units); optional `name` (the shopper's
//! first name, for shoppers the bot has not met yet).

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Result, anyhow};
use chrono::{DateTime, Utc};
use clap::Subcommand;
use storebot::conversation::order_news;
use storebot::store::StoreError;
use storebot::store::orders::coupons;
use storebot::store::orders::management::{self, OrderFilter, OrderImportRow, OrderRow};
use storebot::store::orders::payments::{self, PaymentState};
use storebot::store::orders::status::{self as order_status, StatusChange};
use storebot::store::shoppers::records;

use crate::context::Context;
use crate::csv;
use crate::format::{money, parse_instant, parse_money};
use crate::table::Table;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Orders, newest first.
    List {
        /// Only orders in this status (`new`, `paid`, `shipped`, `awaiting_payment`, ...).
        #[arg(long)]
        status: Option<String>,
        /// A Telegram user id, `@username` or `#id`.
        #[arg(long)]
        customer: Option<String>,
        /// How many orders to show.
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// One order: its lines, and its payment in the chat if it has one.
    Show {
        /// The order's number.
        order: i64,
    },
    /// Move an order on: new → paid, shipped or cancelled; paid → shipped or cancelled;
    /// shipped → delivered. The shopper gets the status's message; cancelling before shipping
    /// puts the items back in stock.
    Status {
        /// The order's number.
        order: i64,
        /// The new status: `paid`, `shipped`, `delivered` or `cancelled`.
        status: String,
    },
    /// Refund an order paid in the chat (asks first; --yes to skip). Stars go back through
    /// Telegram; a provider payment is recorded as refunded and the money must be returned
    /// in the provider's dashboard.
    Refund {
        /// The order's number.
        order: i64,
    },
    /// Import historical orders from CSV, all or nothing.
    Import {
        /// A CSV file with the header order, customer, placed_at, status, sku, quantity,
        /// unit_price (and optionally name).
        file: PathBuf,
    },
}

pub async fn run(cx: &Context, command: Command) -> Result<()> {
    let db = &cx.db;
    let currency = &cx.settings.store.currency;
    match command {
        Command::List {
            status,
            customer,
            limit,
        } => {
            let customer_id = match customer {
                Some(key) => Some(records::find(db, &key).await?.id),
                None => None,
            };
            let filter = OrderFilter {
                status,
                customer_id,
                limit: Some(limit),
            };
            let rows = management::list(db, &filter).await?;
            let listed = listed(cx, rows).await?;
            if !cx.json_out(&listed)? {
                let mut table = Table::new([
                    "order", "customer", "placed", "status", "items", "discount", "total",
                    "payment",
                ]);
                for Listed {
                    row,
                    coupon_codes,
                    payment,
                } in listed
                {
                    let items: Vec<String> = row
                        .items
                        .iter()
                        .map(|item| format!("{}×{}", item.quantity, item.sku))
                        .collect();
                    table.row(vec![
                        row.order.id.to_string(),
                        format!("#{}", row.order.customer_id),
                        cx.time(row.order.placed_at),
                        row.order.status,
                        items.join(", "),
                        discount_cell(row.order.discount_total, &row.order.currency, &coupon_codes),
                        format!(
                            "{} {}",
                            money(row.order.total, &row.order.currency),
                            row.order.currency
                        ),
                        payment_cell(payment.as_ref()),
                    ]);
                }
                table.print("No orders match.");
            }
        }
        Command::Show { order } => show(cx, order).await?,
        Command::Refund { order } => refund(cx, order).await?,
        Command::Status { order, status } => {
            let message = order_news::status_message(&cx.settings);
            let change = order_status::set_status(db, order, status.trim(), &message, Utc::now())
                .await?
                .refused_as_error()?;
            if !cx.json_out(&change.view().order)? {
                println!("{}", status_sentence(&change));
            }
        }
        Command::Import { file } => {
            let text = crate::files::read_text(&file)?;
            let reading = read_csv(
                &text,
                cx.settings.store.time_zone,
                &cx.settings.store.currency,
            )?;
            let rows = checked(cx, reading).await?;
            let bar = crate::progress::bar(cx, rows.len(), "rows");
            let report = management::import_with_progress(db, &rows, currency, &mut |done| {
                crate::progress::show(&bar, done, None);
            })
            .await;
            crate::progress::end(&bar, &report);
            let report = report?;
            if !cx.json_out(&report)? {
                println!(
                    "Imported {} orders with {} items; {} new customers.",
                    report.orders, report.items, report.customers_created
                );
            }
        }
    }
    Ok(())
}

/// An order in `orders list --json` and `orders show --json`: the codes of the coupons behind
/// its discount (in the order they were applied), and its payment in the chat if any.
#[derive(serde::Serialize)]
struct Listed {
    #[serde(flatten)]
    row: OrderRow,
    coupon_codes: Vec<String>,
    payment: Option<PaymentState>,
}

/// The orders with their coupons and payments, each read for all of them at once.
async fn listed(cx: &Context, rows: Vec<OrderRow>) -> Result<Vec<Listed>> {
    let orders: Vec<_> = rows.iter().map(|row| row.order.clone()).collect();
    let ids: Vec<i64> = orders.iter().map(|order| order.id).collect();
    let mut codes = coupons::of_orders(&cx.db, &ids).await?;
    let mut states = payments::states(&cx.db, &orders).await?;
    Ok(rows
        .into_iter()
        .map(|row| Listed {
            coupon_codes: codes
                .remove(&row.order.id)
                .unwrap_or_default()
                .into_iter()
                .map(|(code, _)| code)
                .collect(),
            payment: states.remove(&row.order.id),
            row,
        })
        .collect())
}

/// The payment state in one cell: `–` for orders paid on delivery.
fn payment_cell(state: Option<&PaymentState>) -> String {
    let Some(state) = state else {
        return "–".to_owned();
    };
    match state.payments.last() {
        Some(paid) => format!("{} ({})", state.state, paid.telegram_charge_id),
        None => state.state.clone(),
    }
}

async fn show(cx: &Context, order_id: i64) -> Result<()> {
    let row = management::order(&cx.db, order_id).await?;
    let Some(shown) = listed(cx, vec![row]).await?.pop() else {
        return Err(anyhow!("order {order_id} does not exist"));
    };
    if cx.json_out(&shown)? {
        return Ok(());
    }
    let order = &shown.row.order;
    println!(
        "Order {} · customer #{} · placed {} · {}",
        order.id,
        order.customer_id,
        cx.time(order.placed_at),
        order.status
    );
    for item in &shown.row.items {
        println!(
            "  {} × {} ({}) {} {}",
            item.quantity,
            item.title,
            item.sku,
            money(item.unit_price, &order.currency),
            order.currency
        );
    }
    if order.discount_total != 0 {
        println!(
            "  discount {}",
            discount_cell(order.discount_total, &order.currency, &shown.coupon_codes)
        );
    }
    println!(
        "  total {} {}",
        money(order.total, &order.currency),
        order.currency
    );
    match &shown.payment {
        None => println!("Payment: on delivery (not in the chat)."),
        Some(state) => {
            println!(
                "Payment: {} through {} · invoice {} {} · expires {}",
                state.state,
                state.provider,
                invoice_amount(state.amount, &state.currency),
                state.currency,
                cx.time(state.expires_at)
            );
            for paid in &state.payments {
                println!(
                    "  paid {} {} at {} · Telegram charge {} · provider charge {}{}{}",
                    invoice_amount(paid.amount, &paid.currency),
                    paid.currency,
                    cx.time(paid.paid_at),
                    paid.telegram_charge_id,
                    if paid.provider_charge_id.is_empty() {
                        "–"
                    } else {
                        &paid.provider_charge_id
                    },
                    if paid.late {
                        " · LATE: arrived after the order expired or was cancelled"
                    } else {
                        ""
                    },
                    match paid.refunded_at {
                        Some(at) => format!(" · refunded {}", cx.time(at)),
                        None => String::new(),
                    }
                );
            }
        }
    }
    Ok(())
}

/// Stars are whole; other currencies in major units.
fn invoice_amount(amount: i64, currency: &str) -> String {
    if currency == payments::STARS {
        amount.to_string()
    } else {
        money(amount, currency)
    }
}

async fn refund(cx: &Context, order_id: i64) -> Result<()> {
    let payment = payments::refundable(&cx.db, order_id).await?;
    let amount = format!(
        "{} {}",
        invoice_amount(payment.amount, &payment.currency),
        payment.currency
    );
    cx.prompt.confirm(
        cx.yes,
        &format!("Refund {amount} of order {order_id} to its payer"),
    )?;
    let stars = payment.currency == payments::STARS;
    if stars {
        let refunded = storebot::telegram::refund_star_payment(
            &cx.settings,
            payment.payer_telegram_user_id,
            &payment.telegram_charge_id,
        )
        .await
        .map_err(|error| anyhow!("{error}; nothing was recorded"))?;
        if refunded == storebot::telegram::StarRefund::AlreadyRefunded {
            cx.warn("Telegram had refunded this charge already; recording it.");
        }
    }
    let order = payments::record_refund(&cx.db, payment.id, cx.now()).await?;
    if cx.json_out(&order)? {
        return Ok(());
    }
    if stars {
        println!("Refunded {amount} of order {order_id} through Telegram; the order is refunded.");
    } else {
        println!(
            "Recorded the refund of {amount} for order {order_id} (charge {}). Telegram has no \
             refund call for provider payments: return the money in your payment provider's \
             dashboard.",
            if payment.provider_charge_id.is_empty() {
                &payment.telegram_charge_id
            } else {
                &payment.provider_charge_id
            }
        );
    }
    Ok(())
}

/// What a status change did, in one sentence for the merchant.
fn status_sentence(change: &StatusChange) -> String {
    match change {
        StatusChange::Changed {
            view,
            stock_returned,
            message_queued,
            ..
        } => {
            let mut sentence = format!("Order {} is now {}.", view.order.id, view.order.status);
            if *stock_returned {
                sentence.push_str(" Its items are back in stock.");
            }
            if *message_queued {
                sentence.push_str(" The shopper's message is queued.");
            }
            sentence
        }
        StatusChange::Unchanged { view } | StatusChange::NotAllowed { view, .. } => format!(
            "Order {} is already {}; nothing changed.",
            view.order.id, view.order.status
        ),
    }
}

/// The coupons' discount on an order with their codes (`−2.00 EUR (WELCOME10)`), or a dash
/// when none applied.
fn discount_cell(discount: i64, currency: &str, codes: &[String]) -> String {
    if discount == 0 {
        return "–".to_owned();
    }
    let amount = format!("−{} {currency}", money(discount, currency));
    if codes.is_empty() {
        amount
    } else {
        format!("{amount} ({})", codes.join(", "))
    }
}

const REQUIRED: [&str; 7] = [
    "order",
    "customer",
    "placed_at",
    "status",
    "sku",
    "quantity",
    "unit_price",
];
const OPTIONAL: [&str; 1] = ["name"];

/// An order history read as far as it goes: a row for every record and the problems met,
/// each with its line.
#[derive(Debug, Default)]
struct Reading {
    rows: Vec<OrderImportRow>,
    problems: Vec<(usize, String)>,
}

/// Reads every record of an order history. A cell that can't be read is a problem and stands in
/// as a value no later check objects to: a customer or time takes the one the order's other rows
/// give (so a bad cell is not also blamed as a disagreement), a quantity of 1, a price of 0.
fn read_csv(text: &str, zone: chrono_tz::Tz, currency: &str) -> Result<Reading> {
    let records = csv::records(text, &REQUIRED, &OPTIONAL)
        .map_err(|reason| anyhow!("{reason}; nothing was imported"))?;
    let mut reading = Reading::default();
    let mut read = Vec::new();
    for record in records {
        let line = record.line;
        let problems = &mut reading.problems;
        let mut cell = |name: &str, parse: &dyn Fn(&str) -> Result<()>| match record.get(name) {
            None => problems.push((line, format!("`{name}` is empty"))),
            Some(text) => {
                if let Err(error) = parse(text) {
                    problems.push((line, error.to_string()));
                }
            }
        };
        let customer = std::cell::Cell::new(None);
        cell("customer", &|text| {
            let id = text
                .parse()
                .map_err(|_| anyhow!("`{text}` is not a Telegram user id"))?;
            customer.set(Some(id));
            Ok(())
        });
        let placed = std::cell::Cell::new(None);
        cell("placed_at", &|text| {
            placed.set(Some(parse_instant(text, zone)?));
            Ok(())
        });
        let quantity = std::cell::Cell::new(1);
        cell("quantity", &|text| {
            quantity.set(
                text.parse()
                    .map_err(|_| anyhow!("`{text}` is not a whole quantity"))?,
            );
            Ok(())
        });
        let price = std::cell::Cell::new(0);
        cell("unit_price", &|text| {
            price.set(parse_money(text, currency)?);
            Ok(())
        });
        let order_ref = record.get("order").unwrap_or_default().to_owned();
        read.push((
            record,
            order_ref,
            customer.get(),
            placed.get(),
            quantity.get(),
            price.get(),
        ));
    }
    // The customer and time each order's readable rows give, for its unreadable ones.
    let mut known: HashMap<String, (Option<i64>, Option<DateTime<Utc>>)> = HashMap::new();
    for (_, order_ref, customer, placed, ..) in &read {
        let entry = known.entry(order_ref.clone()).or_default();
        entry.0 = entry.0.or(*customer);
        entry.1 = entry.1.or(*placed);
    }
    for (record, order_ref, customer, placed, quantity, unit_price) in read {
        let (order_customer, order_placed) = known.get(&order_ref).copied().unwrap_or_default();
        reading.rows.push(OrderImportRow {
            line: record.line,
            telegram_user_id: customer.or(order_customer).unwrap_or_default(),
            customer_name: record.get("name").map(str::to_owned),
            placed_at: placed.or(order_placed).unwrap_or_default(),
            status: record.get("status").unwrap_or_default().to_lowercase(),
            sku: record.get("sku").unwrap_or_default().to_owned(),
            order_ref,
            quantity,
            unit_price,
        });
    }
    Ok(reading)
}

/// The rows, or every problem met reading them (the store's checks left out: they need the
/// database).
#[cfg(test)]
fn rows_from_csv(text: &str, zone: chrono_tz::Tz, currency: &str) -> Result<Vec<OrderImportRow>> {
    let reading = read_csv(text, zone, currency)?;
    if reading.problems.is_empty() {
        Ok(reading.rows)
    } else {
        Err(StoreError::bad_lines(reading.problems).into())
    }
}

/// The rows, or every problem of the reading and of the store's checks, in line order. A file
/// read without a problem goes straight to the import, which checks its rows again inside its
/// transaction anyway (and refuses them with their lines); only a file with problems already
/// needs the store's read-only check here, to report everything in one round.
async fn checked(cx: &Context, reading: Reading) -> Result<Vec<OrderImportRow>> {
    if reading.problems.is_empty() {
        return Ok(reading.rows);
    }
    let mut problems = reading.problems;
    problems.extend(management::import_problems(&cx.db, &reading.rows).await?);
    if problems.is_empty() {
        Ok(reading.rows)
    } else {
        Err(StoreError::bad_lines(problems).into())
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use proptest::prelude::*;

    use super::*;

    const HEADER: &str = "order,customer,placed_at,status,sku,quantity,unit_price,name\n";

    #[test]
    fn a_discount_names_the_coupons_behind_it() {
        let codes = |list: &[&str]| {
            list.iter()
                .map(|code| (*code).to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            discount_cell(200, "EUR", &codes(&["WELCOME10"])),
            "−2.00 EUR (WELCOME10)"
        );
        assert_eq!(
            discount_cell(1000, "EUR", &codes(&["VIP20", "FIVER"])),
            "−10.00 EUR (VIP20, FIVER)"
        );
        assert_eq!(discount_cell(0, "EUR", &[]), "–");
        assert_eq!(discount_cell(150, "JPY", &[]), "−150 JPY");
    }

    proptest! {
        #[test]
        fn order_import_parsing_never_panics(text in "\\PC*") {
            let _ = rows_from_csv(&text, chrono_tz::Europe::Berlin, "EUR");
            let _ = rows_from_csv(&format!("{HEADER}{text}"), chrono_tz::UTC, "JPY");
        }

        #[test]
        fn good_rows_round_trip_and_a_bad_one_is_named_by_its_line(
            rows in proptest::collection::vec(
                (
                    "[A-Za-z0-9-]{1,8}",
                    1_i64..10_000_000_000,
                    0_i64..20_000,
                    prop_oneof![Just("new"), Just("paid"), Just("Shipped"), Just("cancelled")],
                    "[A-Z0-9-]{1,8}",
                    1_i32..1_000,
                    0_i64..1_000_000,
                    "[^\r\n\"\\x00]{0,10}",
                ),
                1..8,
            ),
            bad in proptest::option::of((0_usize..8, prop_oneof![
                Just("customer"), Just("placed_at"), Just("quantity"), Just("unit_price"),
            ])),
        ) {
            let quote = |text: &str| format!("\"{}\"", text.replace('"', "\"\""));
            let day = |offset: i64| Utc.timestamp_opt(1_700_000_000 + offset * 3_600, 0).single().unwrap();
            let mut text = String::from(HEADER);
            let bad = bad.map(|(index, column)| (index % rows.len(), column));
            for (index, (order, customer, hours, status, sku, quantity, price, name)) in rows.iter().enumerate() {
                let broken = |column: &str| bad == Some((index, column));
                text.push_str(&format!(
                    "{},{},{},{},{},{},{},{}\n",
                    order,
                    if broken("customer") { "@someone".to_owned() } else { customer.to_string() },
                    if broken("placed_at") { "yesterday".to_owned() } else { day(*hours).to_rfc3339() },
                    status,
                    sku,
                    if broken("quantity") { "1.5".to_owned() } else { quantity.to_string() },
                    if broken("unit_price") { "12,5".to_owned() } else { money(*price, "EUR") },
                    quote(name),
                ));
            }
            let parsed = rows_from_csv(&text, chrono_tz::Europe::Berlin, "EUR");
            if let Some((index, _)) = bad {
                let error = parsed.expect_err("a bad row is refused").to_string();
                prop_assert!(error.contains(&format!("line {}:", index + 2)), "{}", error);
                prop_assert!(error.contains("nothing was imported"), "{}", error);
                return Ok(());
            }
            let parsed = parsed.expect("good rows parse");
            prop_assert_eq!(parsed.len(), rows.len());
            for (index, (row, (order, customer, hours, status, sku, quantity, price, name))) in parsed.iter().zip(&rows).enumerate() {
                prop_assert_eq!(row.line, index + 2);
                prop_assert_eq!(&row.order_ref, order);
                prop_assert_eq!(row.telegram_user_id, *customer);
                prop_assert_eq!(row.placed_at, day(*hours));
                prop_assert_eq!(&row.status, &status.to_lowercase());
                prop_assert_eq!(&row.sku, sku);
                prop_assert_eq!(row.quantity, *quantity);
                prop_assert_eq!(row.unit_price, *price);
                let name = Some(name.trim()).filter(|name| !name.is_empty()).map(str::to_owned);
                prop_assert_eq!(&row.customer_name, &name);
            }
        }
    }
}
