//! Orders as the merchant manages them: a filtered list, and importing the order history from
//! before the bot so that check criteria work from day one (status changes are
//! `super::status`).
//!
//! An import is all or nothing: every row is checked, each bad one reported with its line,
//! and only a clean file is written, in one transaction. This module must never touch carts,
//! stock or segment membership.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityName, EntityTrait, IdenStatic, QueryFilter, QueryOrder,
    QuerySelect, TransactionSession, TransactionTrait,
};
use serde::Serialize;
use storebot_entity::{customer, order, order_item, variant};

use crate::store::bulk::{CHUNK, in_chunks, update_by_id};
use crate::store::{StoreError, begin_write};

pub use super::status::ORDER_STATUSES;
use super::status::check_status;

/// How to narrow the order list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderFilter {
    pub status: Option<String>,
    pub customer_id: Option<i64>,
    pub limit: Option<u64>,
}

/// An order with its items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderRow {
    #[serde(flatten)]
    pub order: order::Model,
    pub items: Vec<order_item::Model>,
}

/// One line of a history file: an item of the order named `order_ref`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderImportRow {
    pub line: usize,
    pub order_ref: String,
    pub telegram_user_id: i64,
    pub customer_name: Option<String>,
    pub placed_at: DateTime<Utc>,
    pub status: String,
    pub sku: String,
    pub quantity: i32,
    pub unit_price: i64,
}

/// What an order import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OrderImportReport {
    pub orders: usize,
    pub items: usize,
    pub customers_created: usize,
}

/// Orders matching the filter, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &OrderFilter,
) -> Result<Vec<OrderRow>, StoreError> {
    let mut query = order::Entity::find()
        .order_by_desc(order::Column::PlacedAt)
        .order_by_desc(order::Column::Id);
    if let Some(status) = &filter.status {
        // Payment statuses are listed but never set by hand: they move with stock and money.
        if !crate::store::orders::payments::PAYMENT_STATUSES.contains(&status.as_str()) {
            check_status(status)?;
        }
        query = query.filter(order::Column::Status.eq(status.as_str()));
    }
    if let Some(customer_id) = filter.customer_id {
        query = query.filter(order::Column::CustomerId.eq(customer_id));
    }
    if let Some(limit) = filter.limit {
        query = query.limit(limit);
    }
    with_items(db, query.all(db).await?).await
}

/// One order with its items.
pub async fn order(db: &impl ConnectionTrait, id: i64) -> Result<OrderRow, StoreError> {
    let found = order::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| StoreError::not_found("order", id))?;
    let mut rows = with_items(db, vec![found]).await?;
    rows.pop().ok_or_else(|| StoreError::not_found("order", id))
}

/// The orders with their items, read a [`CHUNK`] of orders at a time: a long page (`orders list
/// --limit 40000`) or an unlimited filter would otherwise bind more ids than SQLite allows in
/// one statement.
async fn with_items(
    db: &impl ConnectionTrait,
    orders: Vec<order::Model>,
) -> Result<Vec<OrderRow>, StoreError> {
    let ids: Vec<i64> = orders.iter().map(|order| order.id).collect();
    let mut items: BTreeMap<i64, Vec<order_item::Model>> = BTreeMap::new();
    let found = in_chunks(&ids, |chunk| {
        order_item::Entity::find()
            .filter(order_item::Column::OrderId.is_in(chunk))
            .order_by_asc(order_item::Column::Id)
            .all(db)
    })
    .await?;
    for item in found {
        items.entry(item.order_id).or_default().push(item);
    }
    Ok(orders
        .into_iter()
        .map(|order| OrderRow {
            items: items.remove(&order.id).unwrap_or_default(),
            order,
        })
        .collect())
}

/// Every problem of every row of an order history, each with its line: an empty reference,
/// SKU or status, an unknown status or SKU, a quantity or price out of range, an order whose
/// rows disagree on customer, time or status, an order imported before. Read-only: the admin
/// tool merges these with what it found reading the file, so a file is fixed in one round.
pub async fn import_problems(
    db: &impl ConnectionTrait,
    rows: &[OrderImportRow],
) -> Result<Vec<(usize, String)>, StoreError> {
    Ok(check_rows(db, rows).await?.0)
}

/// An import's orders: each order's first row with its items and their variants.
type ImportedOrders<'a> = Vec<(
    &'a OrderImportRow,
    Vec<(&'a OrderImportRow, variant::Model)>,
)>;

async fn check_rows<'a>(
    db: &impl ConnectionTrait,
    rows: &'a [OrderImportRow],
) -> Result<(Vec<(usize, String)>, ImportedOrders<'a>), StoreError> {
    let mut problems = Vec::new();
    let mut orders: ImportedOrders<'a> = Vec::new();
    let mut index_of_ref: HashMap<&str, usize> = HashMap::new();
    let (variant_of_sku, imported_keys) = known_skus_and_keys(db, rows).await?;
    for row in rows {
        let mut problem = |reason: String| problems.push((row.line, reason));
        // Columns are named as the file names them: the merchant fixes a cell.
        if row.status.trim().is_empty() {
            problem("`status` is empty".into());
        } else if let Err(error) = check_status(&row.status) {
            problem(error.to_string());
        }
        if row.quantity <= 0 {
            problem(format!("the quantity {} is not positive", row.quantity));
        }
        if row.unit_price < 0 {
            problem(format!("the unit price {} is negative", row.unit_price));
        }
        let variant = if row.sku.trim().is_empty() {
            problem("`sku` is empty".into());
            None
        } else {
            let found = variant_of_sku.get(row.sku.trim()).cloned();
            if found.is_none() {
                problem(format!("no variant has the SKU `{}`", row.sku.trim()));
            }
            found
        };
        if row.order_ref.trim().is_empty() {
            problem("`order` is empty".into());
            continue;
        }
        match index_of_ref.get(row.order_ref.trim()) {
            Some(&index) => {
                let (head, items) = &mut orders[index];
                if head.telegram_user_id != row.telegram_user_id
                    || head.placed_at != row.placed_at
                    || head.status != row.status
                {
                    problem(format!(
                        "order `{}` has a different customer, time or status on line {}",
                        row.order_ref.trim(),
                        head.line
                    ));
                }
                items.extend(variant.map(|variant| (row, variant)));
            }
            None => {
                if imported_keys.contains(&idempotency_key(&row.order_ref)) {
                    problem(format!(
                        "order `{}` was already imported",
                        row.order_ref.trim()
                    ));
                }
                index_of_ref.insert(row.order_ref.trim(), orders.len());
                orders.push((
                    row,
                    variant.map(|variant| (row, variant)).into_iter().collect(),
                ));
            }
        }
    }
    Ok((problems, orders))
}

/// The variants of every SKU the rows name, and which of their orders were imported before:
/// a few statements for the whole file rather than two per row.
async fn known_skus_and_keys(
    db: &impl ConnectionTrait,
    rows: &[OrderImportRow],
) -> Result<(HashMap<String, variant::Model>, HashSet<String>), StoreError> {
    let skus: BTreeSet<&str> = rows
        .iter()
        .map(|row| row.sku.trim())
        .filter(|sku| !sku.is_empty())
        .collect();
    let skus: Vec<&str> = skus.into_iter().collect();
    let mut variant_of_sku = HashMap::new();
    for chunk in skus.chunks(CHUNK) {
        for found in variant::Entity::find()
            .filter(variant::Column::Sku.is_in(chunk.iter().copied()))
            .all(db)
            .await?
        {
            variant_of_sku.insert(found.sku.clone(), found);
        }
    }
    let keys: BTreeSet<String> = rows
        .iter()
        .filter(|row| !row.order_ref.trim().is_empty())
        .map(|row| idempotency_key(&row.order_ref))
        .collect();
    let keys: Vec<String> = keys.into_iter().collect();
    let mut imported = HashSet::new();
    for chunk in keys.chunks(CHUNK) {
        imported.extend(
            order::Entity::find()
                .select_only()
                .column(order::Column::IdempotencyKey)
                .filter(order::Column::IdempotencyKey.is_in(chunk.iter().cloned()))
                .into_tuple::<String>()
                .all(db)
                .await?,
        );
    }
    Ok((variant_of_sku, imported))
}

/// Imports historical orders, all or nothing. Rows sharing an `order_ref` are one order; its
/// customer, time and status come from its first row and must agree on the others. A shopper
/// who has not talked to the bot yet is created with their first interaction at their first
/// imported order, so that first-interaction criteria see them as the store's customer since.
pub async fn import<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    rows: &[OrderImportRow],
    currency: &str,
) -> Result<OrderImportReport, StoreError> {
    import_with_progress(db, rows, currency, &mut |_| {}).await
}

/// [`import`], telling `on_rows` how many rows are written so far (for a progress bar; the
/// transaction commits only after the last).
///
/// The write is a few statements per [`CHUNK`] orders, not several per row: shoppers
/// are found by their Telegram ids in `IN` lists, new ones inserted many to a statement,
/// existing ones' last interaction moved in one update per chunk, and orders and items
/// inserted many to a statement (each order's id read back by its unique idempotency key).
pub async fn import_with_progress<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    rows: &[OrderImportRow],
    currency: &str,
    on_rows: &mut (dyn FnMut(usize) + Send),
) -> Result<OrderImportReport, StoreError> {
    if rows.is_empty() {
        return Err(StoreError::Invalid("the file has no rows".into()));
    }
    on_rows(0);
    let txn = begin_write(db).await?;
    let (problems, orders) = check_rows(&txn, rows).await?;
    if !problems.is_empty() {
        return Err(StoreError::bad_lines(problems));
    }
    let mut report = OrderImportReport::default();
    let (customer_ids, created) = imported_customers(&txn, &orders).await?;
    report.customers_created = created;
    let mut rows_done = 0;
    for chunk in orders.chunks(CHUNK) {
        let mut heads = Vec::with_capacity(chunk.len());
        for (head, items) in chunk {
            let customer_id = *customer_ids
                .get(&head.telegram_user_id)
                .ok_or_else(|| StoreError::not_found("customer", head.telegram_user_id))?;
            let total: i64 = items
                .iter()
                .map(|(row, _)| i64::from(row.quantity).saturating_mul(row.unit_price))
                .fold(0i64, i64::saturating_add);
            heads.push(order::ActiveModel {
                customer_id: Set(customer_id),
                status: Set(head.status.clone()),
                total: Set(total),
                discount_total: Set(0),
                currency: Set(currency.to_owned()),
                placed_at: Set(head.placed_at),
                contact_phone: Set(None),
                address: Set(None),
                idempotency_key: Set(idempotency_key(&head.order_ref)),
                ..Default::default()
            });
        }
        // Each key is new and unique, so each returned order is found by its key.
        let order_of_key: HashMap<String, i64> = order::Entity::insert_many(heads)
            .exec_with_returning(&txn)
            .await?
            .into_iter()
            .map(|created| (created.idempotency_key, created.id))
            .collect();
        let mut lines = Vec::new();
        for (head, items) in chunk {
            let key = idempotency_key(&head.order_ref);
            let order_id = *order_of_key
                .get(&key)
                .ok_or_else(|| StoreError::not_found("order", &key))?;
            lines.extend(items.iter().map(|(row, variant)| order_item::ActiveModel {
                order_id: Set(order_id),
                variant_id: Set(Some(variant.id)),
                product_id: Set(Some(variant.product_id)),
                sku: Set(variant.sku.clone()),
                title: Set(variant.title.clone()),
                quantity: Set(row.quantity),
                unit_price: Set(row.unit_price),
                discount: Set(0),
                ..Default::default()
            }));
        }
        for items in lines.chunks(CHUNK) {
            order_item::Entity::insert_many(items.iter().cloned())
                .exec_without_returning(&txn)
                .await?;
        }
        report.orders += chunk.len();
        report.items += lines.len();
        rows_done += lines.len();
        on_rows(rows_done);
    }
    txn.commit().await?;
    Ok(report)
}

/// The customer id of every shopper the orders name, by Telegram id, and how many were created.
/// Each shopper's imported orders span their first and last interaction: a new shopper is
/// created with both (and the name their first order in the file gives); an existing one's
/// last interaction moves forward to their latest imported order, never back.
async fn imported_customers(
    txn: &impl ConnectionTrait,
    orders: &ImportedOrders<'_>,
) -> Result<(HashMap<i64, i64>, usize), StoreError> {
    // In file order, so that a new shopper's name comes from their first order.
    let mut shoppers: Vec<i64> = Vec::new();
    let mut span_of: HashMap<i64, (&OrderImportRow, DateTime<Utc>, DateTime<Utc>)> = HashMap::new();
    for (head, _) in orders {
        let span = span_of.entry(head.telegram_user_id).or_insert_with(|| {
            shoppers.push(head.telegram_user_id);
            (head, head.placed_at, head.placed_at)
        });
        span.1 = span.1.min(head.placed_at);
        span.2 = span.2.max(head.placed_at);
    }
    let mut ids = HashMap::new();
    let mut moved_forward: Vec<(i64, DateTime<Utc>)> = Vec::new();
    for chunk in shoppers.chunks(CHUNK) {
        for existing in customer::Entity::find()
            .filter(customer::Column::TelegramUserId.is_in(chunk.iter().copied()))
            .all(txn)
            .await?
        {
            if let Some((_, _, last)) = span_of.get(&existing.telegram_user_id)
                && existing.last_interaction_at < *last
            {
                moved_forward.push((existing.id, *last));
            }
            ids.insert(existing.telegram_user_id, existing.id);
        }
    }
    update_by_id(
        txn,
        customer::Entity.table_name(),
        &[customer::Column::LastInteractionAt.as_str()],
        moved_forward
            .into_iter()
            .map(|(id, last)| (id, vec![last.into()]))
            .collect(),
    )
    .await?;
    let new: Vec<i64> = shoppers
        .into_iter()
        .filter(|shopper| !ids.contains_key(shopper))
        .collect();
    for chunk in new.chunks(CHUNK) {
        let models =
            chunk
                .iter()
                .filter_map(|shopper| span_of.get(shopper))
                .map(|(head, first, last)| customer::ActiveModel {
                    telegram_user_id: Set(head.telegram_user_id),
                    // A private chat's id is the user's id.
                    chat_id: Set(head.telegram_user_id),
                    first_name: Set(head.customer_name.clone().unwrap_or_default()),
                    last_name: Set(None),
                    username: Set(None),
                    language_code: Set(None),
                    first_interaction_at: Set(*first),
                    last_interaction_at: Set(*last),
                    registered_at: Set(None),
                    messages_opt_out: Set(false),
                    blocked_at: Set(None),
                    ..Default::default()
                });
        for created in customer::Entity::insert_many(models)
            .exec_with_returning(txn)
            .await?
        {
            ids.insert(created.telegram_user_id, created.id);
        }
    }
    Ok((ids, new.len()))
}

fn idempotency_key(order_ref: &str) -> String {
    let key = format!("import:{}", order_ref.trim());
    // The column holds 64 characters; a longer reference is cut on a character boundary.
    key.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::catalog::import::tests::{now, row};
    use crate::testing::TestDb;

    fn line(line: usize, order_ref: &str, user: i64, sku: &str, quantity: i32) -> OrderImportRow {
        OrderImportRow {
            line,
            order_ref: order_ref.into(),
            telegram_user_id: user,
            customer_name: Some("Ann".into()),
            placed_at: now(),
            status: "delivered".into(),
            sku: sku.into(),
            quantity,
            unit_price: 250,
        }
    }

    #[tokio::test]
    async fn imported_orders_set_the_last_interaction_to_the_latest_and_never_move_it_back() {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        crate::store::catalog::import::import(db, &[row(2, "T-1", "Tea", 250)], now())
            .await
            .expect("catalog");
        let day = chrono::Duration::days(1);
        // A shopper who already talked to the bot after the imported orders, and one before.
        let later = now() + day * 30;
        let earlier = now() - day * 30;
        for (user, at) in [(81, later), (82, earlier)] {
            let user = crate::store::shoppers::customers::TelegramUser::new(user, "Known");
            crate::store::shoppers::customers::record_interaction(db, &user, at)
                .await
                .expect("shopper");
        }
        let at = |order: &str, user: i64, placed_at| OrderImportRow {
            placed_at,
            ..line(2, order, user, "T-1", 1)
        };
        // The new shopper's orders come in any order in the file: the latest counts.
        let rows = [
            at("N2", 80, now() - day * 2),
            at("N1", 80, now() - day * 9),
            at("N3", 80, now() - day * 5),
            at("L1", 81, now()),
            at("E1", 82, now()),
        ];
        import(db, &rows, "EUR").await.expect("import");
        let of = |user: i64| async move {
            customer::Entity::find()
                .filter(customer::Column::TelegramUserId.eq(user))
                .one(db)
                .await
                .expect("q")
                .expect("customer")
        };
        let new = of(80).await;
        assert_eq!(new.first_interaction_at, now() - day * 9);
        assert_eq!(new.last_interaction_at, now() - day * 2);
        assert_eq!(of(81).await.last_interaction_at, later);
        assert_eq!(of(82).await.last_interaction_at, now());
    }

    #[tokio::test]
    async fn a_history_of_many_statements_keeps_each_order_with_its_items_and_shopper() {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        crate::store::catalog::import::import(
            db,
            &[row(2, "T-1", "Tea", 250), row(3, "T-2", "Tea", 400)],
            now(),
        )
        .await
        .expect("catalog");
        let day = chrono::Duration::days(1);
        // A known shopper whose last interaction the history moves forward.
        let known = crate::store::shoppers::customers::TelegramUser::new(90, "Known");
        crate::store::shoppers::customers::record_interaction(db, &known, now() - day * 900)
            .await
            .expect("shopper");
        // 1,201 orders of two items each, over 601 shoppers (the known one among them).
        let rows: Vec<OrderImportRow> = (0..1201_usize)
            .flat_map(|n| {
                let placed_at = now() - day * (n as i32 % 800);
                let head = OrderImportRow {
                    placed_at,
                    ..line(2 * n + 2, &format!("O{n}"), 90 + (n as i64) / 2, "T-1", 1)
                };
                let second = OrderImportRow {
                    line: 2 * n + 3,
                    sku: "T-2".into(),
                    quantity: 1 + (n as i32) % 3,
                    ..head.clone()
                };
                [head, second]
            })
            .collect();
        let report = import(db, &rows, "EUR").await.expect("import");
        assert_eq!(
            report,
            OrderImportReport {
                orders: 1201,
                items: 2402,
                customers_created: 600,
            }
        );
        let orders = list(db, &OrderFilter::default()).await.expect("list");
        assert_eq!(orders.len(), 1201);
        for order in &orders {
            let n: usize = order.order.idempotency_key["import:O".len()..]
                .parse()
                .expect("reference");
            assert_eq!(order.items.len(), 2, "O{n}");
            assert_eq!(order.order.total, 250 + 250 * (1 + (n as i64) % 3), "O{n}");
            let shopper = customer::Entity::find_by_id(order.order.customer_id)
                .one(db)
                .await
                .expect("query")
                .expect("customer");
            assert_eq!(shopper.telegram_user_id, 90 + (n as i64) / 2, "O{n}");
        }
        let known = customer::Entity::find()
            .filter(customer::Column::TelegramUserId.eq(90))
            .one(db)
            .await
            .expect("query")
            .expect("known");
        assert_eq!(known.first_interaction_at, now() - day * 900);
        assert_eq!(known.last_interaction_at, now());
    }

    #[tokio::test]
    async fn a_whole_history_is_listed_past_the_bind_limit_of_one_statement() {
        // SQLite binds at most 32,766 values to a statement: a list of a whole store (the
        // merchant's `--all`, a long `--limit`) reads its related rows a chunk of ids at a time.
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        crate::store::catalog::import::import(db, &[row(2, "T-1", "Tea", 250)], now())
            .await
            .expect("catalog");
        let orders = 33_000_usize;
        let rows: Vec<OrderImportRow> = (0..orders)
            .map(|n| line(n + 2, &format!("W{n}"), 1_000 + n as i64, "T-1", 1))
            .collect();
        import(db, &rows, "EUR").await.expect("import");
        let listed = list(db, &OrderFilter::default()).await.expect("list");
        assert_eq!(listed.len(), orders);
        assert!(listed.iter().all(|row| row.items.len() == 1));
        let models: Vec<order::Model> = listed.into_iter().map(|row| row.order).collect();
        let states = crate::store::orders::payments::states(db, &models)
            .await
            .expect("payment states");
        assert!(states.is_empty());
        let ids: Vec<i64> = models.iter().map(|order| order.id).collect();
        let codes = crate::store::orders::coupons::of_orders(db, &ids)
            .await
            .expect("coupon codes");
        assert!(codes.is_empty());
        let shoppers = crate::store::shoppers::records::list(
            db,
            &crate::store::shoppers::records::CustomerFilter::default(),
            &["delivered".to_owned()],
        )
        .await
        .expect("customers");
        assert_eq!(shoppers.len(), orders);
        assert!(shoppers.iter().all(|shopper| shopper.orders == 1));
    }

    #[tokio::test]
    async fn history_imports_once_and_bad_rows_change_nothing() {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        crate::store::catalog::import::import(db, &[row(2, "T-1", "Tea", 250)], now())
            .await
            .expect("catalog");
        let rows = [
            line(2, "A1", 77, "T-1", 2),
            line(3, "A1", 77, "T-1", 1),
            line(4, "A2", 77, "T-1", 1),
        ];
        let report = import(db, &rows, "EUR").await.expect("import");
        assert_eq!(
            report,
            OrderImportReport {
                orders: 2,
                items: 3,
                customers_created: 1,
            }
        );
        let orders = list(db, &OrderFilter::default()).await.expect("list");
        let totals: BTreeMap<usize, i64> = orders
            .iter()
            .map(|o| (o.items.len(), o.order.total))
            .collect();
        assert_eq!(totals, BTreeMap::from([(1, 250), (2, 750)]));

        let error = import(db, &rows[..1], "EUR").await.expect_err("again");
        assert_eq!(
            error.to_string(),
            "1 problem in the file, nothing was imported:\n  line 2: order `A1` was already imported"
        );
        let bad = [
            line(2, "B1", 78, "T-1", 1),
            line(3, "B2", 78, "NOPE", 1),
            OrderImportRow {
                status: "lost".into(),
                ..line(4, "B3", 78, "T-1", 0)
            },
        ];
        let error = import(db, &bad, "EUR").await.expect_err("bad rows");
        assert_eq!(
            error.to_string(),
            "3 problems in the file, nothing was imported:\n  \
             line 3: no variant has the SKU `NOPE`\n  \
             line 4: order status `lost` is unknown: use one of new, paid, shipped, delivered, cancelled\n  \
             line 4: the quantity 0 is not positive"
        );
        assert_eq!(
            list(db, &OrderFilter::default()).await.expect("list").len(),
            2
        );

        // Imported orders are delivered: a final status, so no move is allowed from it.
        let first = orders[0].order.id;
        let quiet = |_: &super::super::status::StatusNews<'_>| None;
        let refused = super::super::status::set_status(db, first, "cancelled", &quiet, now())
            .await
            .expect("status")
            .refused_as_error()
            .expect_err("delivered is final");
        assert_eq!(
            refused.to_string(),
            format!(
                "order {first} is `delivered` and can't become `cancelled`: `delivered` is final"
            )
        );
        let error = super::super::status::set_status(db, first, "gone", &quiet, now())
            .await
            .expect_err("unknown");
        assert!(
            error
                .to_string()
                .starts_with("order status `gone` is unknown")
        );
        let delivered = list(
            db,
            &OrderFilter {
                status: Some("delivered".into()),
                ..Default::default()
            },
        )
        .await
        .expect("filtered");
        assert_eq!(delivered.len(), 2);
    }
}
