//! Recompute, re-evaluation and the metric definitions, on the test database (SQLite, or
//! PostgreSQL with `STOREBOT_TEST_DATABASE_URL`).

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use sea_orm::ActiveValue::Set;
use sea_orm::DatabaseConnection;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use storebot_entity::{
    answer_option, customer, customer_answer, membership_event, order, order_item, product,
    question, recompute_run, segment, segment_member, variant,
};

use super::recompute::*;
use crate::segments::compile::CUSTOMER_ID;
use crate::segments::evaluate;
use crate::segments::matching_customers;
use crate::segments::{Context, Rule};
use crate::store::StoreError;
use crate::store::begin_write;
use crate::store::membership::explain::explain;
use crate::store::membership::facts::load_facts;
use crate::store::membership::ledger::MembershipChange;
use crate::store::membership::ledger::OverrideMode;
use crate::store::membership::manual::{add_member, clear_override, remove_member, set_override};
use crate::store::membership::preview::Preview;
use crate::store::membership::preview::preview;
use crate::store::membership::preview::preview_diff;
use crate::store::membership::refresh::refresh_customer;
use crate::store::membership::runs::runs;
use crate::store::membership::tests::lock::RECOMPUTE_LOCK_KEY;
use crate::store::membership::user_groups::{
    add_hand_set_group, remove_hand_set_group, user_groups,
};
use crate::testing::TestDb;
use sea_orm::ConnectionTrait;
use sea_orm::TransactionTrait;

mod agreement;
mod join_messages;

pub(super) fn instant(text: &str) -> DateTime<Utc> {
    text.parse().expect("an RFC 3339 instant")
}

/// Noon UTC on 2024-06-10, the moment every test evaluates at.
pub(super) fn now() -> DateTime<Utc> {
    instant("2024-06-10T12:00:00Z")
}

pub(super) fn context_in(time_zone: Tz) -> Context {
    Context {
        now: now(),
        time_zone,
        counted_statuses: ["new", "paid", "shipped", "delivered"]
            .map(String::from)
            .into(),
    }
}

fn context() -> Context {
    context_in(chrono_tz::UTC)
}

fn rule(json: Value) -> Rule {
    serde_json::from_value(json).expect("a rule")
}

/// The rule "not a member of `segment`".
fn not_in(segment: i64) -> Rule {
    rule(json!({"type": "segment", "segment": segment, "member": false}))
}

/// Builds rows with sensible defaults, so each test states only what it is about.
pub(super) struct Shop<'a> {
    pub db: &'a DatabaseConnection,
    next_user: i64,
    next_order: u64,
}

impl<'a> Shop<'a> {
    pub fn new(db: &'a DatabaseConnection) -> Self {
        Self {
            db,
            next_user: 1000,
            next_order: 0,
        }
    }

    pub async fn customer_at(
        &mut self,
        first: DateTime<Utc>,
        last: DateTime<Utc>,
        language: Option<&str>,
    ) -> i64 {
        self.next_user += 1;
        customer::ActiveModel {
            telegram_user_id: Set(self.next_user),
            chat_id: Set(self.next_user),
            first_name: Set(format!("Shopper {}", self.next_user)),
            last_name: Set(None),
            username: Set(None),
            language_code: Set(language.map(str::to_owned)),
            first_interaction_at: Set(first),
            last_interaction_at: Set(last),
            registered_at: Set(None),
            messages_opt_out: Set(false),
            blocked_at: Set(None),
            ..Default::default()
        }
        .insert(self.db)
        .await
        .expect("customer")
        .id
    }

    pub async fn customer(&mut self) -> i64 {
        self.customer_at(now(), now(), Some("en")).await
    }

    /// A question with `options` options; returns its id and the options' ids.
    pub async fn question(&mut self, options: usize) -> (i64, Vec<i64>) {
        let question = question::ActiveModel {
            position: Set(1),
            text: Set("Which?".into()),
            kind: Set("multiple".into()),
            required: Set(false),
            archived: Set(false),
            created_at: Set(now()),
            ..Default::default()
        }
        .insert(self.db)
        .await
        .expect("question")
        .id;
        let mut ids = Vec::new();
        for position in 0..options {
            ids.push(
                answer_option::ActiveModel {
                    question_id: Set(question),
                    position: Set(i32::try_from(position).expect("small")),
                    text: Set(format!("option {position}")),
                    archived: Set(false),
                    ..Default::default()
                }
                .insert(self.db)
                .await
                .expect("option")
                .id,
            );
        }
        (question, ids)
    }

    /// Records an answer; `None` is a skipped optional question.
    pub async fn answer(&mut self, customer: i64, question: i64, option: Option<i64>) {
        customer_answer::ActiveModel {
            customer_id: Set(customer),
            question_id: Set(question),
            option_id: Set(option),
            answered_at: Set(now()),
            ..Default::default()
        }
        .insert(self.db)
        .await
        .expect("answer");
    }

    /// A product with `variants` variants; returns its id and the variants' ids.
    pub async fn product(&mut self, variants: usize) -> (i64, Vec<i64>) {
        let product = product::ActiveModel {
            title: Set("Thing".into()),
            description: Set(String::new()),
            category_id: Set(None),
            brand: Set(None),
            active: Set(true),
            all_segments: Set(true),
            by_variant: Set(false),
            created_at: Set(now()),
            updated_at: Set(now()),
            ..Default::default()
        }
        .insert(self.db)
        .await
        .expect("product")
        .id;
        let mut ids = Vec::new();
        for _ in 0..variants {
            self.next_order += 1;
            ids.push(
                variant::ActiveModel {
                    product_id: Set(product),
                    sku: Set(format!("SKU-{product}-{}", self.next_order)),
                    title: Set("size".into()),
                    price: Set(100),
                    stock: Set(10),
                    active: Set(true),
                    all_segments: Set(true),
                    ..Default::default()
                }
                .insert(self.db)
                .await
                .expect("variant")
                .id,
            );
        }
        (product, ids)
    }

    /// An order with one item per (product, variant).
    pub async fn order(
        &mut self,
        customer: i64,
        status: &str,
        total: i64,
        placed_at: DateTime<Utc>,
        items: &[(i64, i64)],
    ) -> i64 {
        self.next_order += 1;
        let id = order::ActiveModel {
            customer_id: Set(customer),
            status: Set(status.into()),
            total: Set(total),
            discount_total: Set(0),
            currency: Set("EUR".into()),
            placed_at: Set(placed_at),
            contact_phone: Set(None),
            address: Set(None),
            idempotency_key: Set(format!("order-{customer}-{}", self.next_order)),
            ..Default::default()
        }
        .insert(self.db)
        .await
        .expect("order")
        .id;
        for (product, variant) in items {
            order_item::ActiveModel {
                order_id: Set(id),
                variant_id: Set(Some(*variant)),
                product_id: Set(Some(*product)),
                sku: Set("SKU".into()),
                title: Set("Thing".into()),
                quantity: Set(1),
                unit_price: Set(total),
                discount: Set(0),
                ..Default::default()
            }
            .insert(self.db)
            .await
            .expect("item");
        }
        id
    }

    /// The automatic segment `big`: a total check of at least 10,000.
    pub async fn big_spenders(&mut self) -> i64 {
        let rule = rule(serde_json::json!({"type": "total_check", "min": 10_000}));
        self.segment("big", Some(&rule)).await
    }

    pub async fn segment(&mut self, name: &str, rule: Option<&Rule>) -> i64 {
        segment::ActiveModel {
            name: Set(name.into()),
            description: Set(String::new()),
            kind: Set(if rule.is_some() { "auto" } else { "manual" }.into()),
            rule: Set(rule.map(|rule| crate::segments::to_json(rule).expect("json"))),
            active: Set(true),
            starts_at: Set(None),
            expires_at: Set(None),
            user_group: Set(None),
            join_message: Set(None),
            created_at: Set(now()),
            updated_at: Set(now()),
            ..Default::default()
        }
        .insert(self.db)
        .await
        .expect("segment")
        .id
    }

    pub async fn edit_segment(&self, id: i64, edit: impl FnOnce(&mut segment::ActiveModel)) {
        let mut row: segment::ActiveModel = segment::Entity::find_by_id(id)
            .one(self.db)
            .await
            .expect("query")
            .expect("segment")
            .into();
        edit(&mut row);
        row.update(self.db).await.expect("update");
    }
}

/// The ids the compiled rule selects.
pub(super) async fn selected(db: &DatabaseConnection, rule: &Rule, context: &Context) -> Vec<i64> {
    let mut ids: Vec<i64> = db
        .query_all(&matching_customers(rule, context))
        .await
        .expect("compiled rule runs")
        .into_iter()
        .map(|row| row.try_get::<i64>("", CUSTOMER_ID).expect("id"))
        .collect();
    ids.sort_unstable();
    ids
}

/// The ids the in-memory evaluation selects among `customers`.
pub(super) async fn evaluated(
    db: &DatabaseConnection,
    rule: &Rule,
    context: &Context,
    customers: &[i64],
) -> Vec<i64> {
    let mut ids = Vec::new();
    for id in customers {
        let facts = load_facts(db, *id).await.expect("facts");
        if evaluate(rule, &facts, context) {
            ids.push(*id);
        }
    }
    ids.sort_unstable();
    ids
}

/// Asserts that SQL and memory both select exactly `expected` (as indices into `customers`).
async fn assert_selects(
    db: &DatabaseConnection,
    rule_json: Value,
    context: &Context,
    customers: &[i64],
    expected: &[usize],
) {
    let rule = rule(rule_json.clone());
    let expected: Vec<i64> = expected.iter().map(|index| customers[*index]).collect();
    assert_eq!(
        selected(db, &rule, context).await,
        expected,
        "SQL: {rule_json}"
    );
    assert_eq!(
        evaluated(db, &rule, context, customers).await,
        expected,
        "memory: {rule_json}"
    );
}

async fn members(db: &DatabaseConnection, segment_id: i64) -> Vec<(i64, String)> {
    segment_member::Entity::find()
        .filter(segment_member::Column::SegmentId.eq(segment_id))
        .order_by_asc(segment_member::Column::CustomerId)
        .all(db)
        .await
        .expect("members")
        .into_iter()
        .map(|row| (row.customer_id, row.source))
        .collect()
}

async fn ledger(db: &DatabaseConnection, segment_id: i64) -> Vec<(i64, String, String)> {
    membership_event::Entity::find()
        .filter(membership_event::Column::SegmentId.eq(segment_id))
        .order_by_asc(membership_event::Column::Id)
        .all(db)
        .await
        .expect("ledger")
        .into_iter()
        .map(|row| (row.customer_id, row.kind, row.cause))
        .collect()
}

fn rule_members(ids: &[i64]) -> Vec<(i64, String)> {
    ids.iter().map(|id| (*id, "rule".to_owned())).collect()
}

// ---- Metric definitions (README "Segment rules and metrics") ----

#[tokio::test]
async fn shoppers_without_counted_orders_have_total_zero_and_no_average() {
    let test = TestDb::new().await.expect("test db");
    let mut shop = Shop::new(&test.db);
    let without_orders = shop.customer().await;
    let only_cancelled = shop.customer().await;
    let buyer = shop.customer().await;
    let day = now() - TimeDelta::days(1);
    shop.order(only_cancelled, "cancelled", 5_000, day, &[])
        .await;
    shop.order(buyer, "paid", 5_000, day, &[]).await;
    let customers = [without_orders, only_cancelled, buyer];
    let context = context();
    for (rule, expected) in [
        (json!({"type": "total_check", "max": 100}), vec![0, 1]),
        (json!({"type": "total_check", "min": 0}), vec![0, 1, 2]),
        (json!({"type": "total_check", "min": 1}), vec![2]),
        (json!({"type": "average_check", "max": 100_000}), vec![2]),
        (json!({"type": "average_check", "min": 0}), vec![2]),
        (json!({"type": "order_count", "max": 0}), vec![0, 1]),
        (
            json!({"type": "none", "rules": [{"type": "average_check", "min": 0}]}),
            vec![0, 1],
        ),
    ] {
        assert_selects(&test.db, rule, &context, &customers, &expected).await;
    }
}

#[tokio::test]
async fn only_orders_in_a_counted_status_count() {
    let test = TestDb::new().await.expect("test db");
    let mut shop = Shop::new(&test.db);
    let (product, variants) = shop.product(1).await;
    let shopper = shop.customer().await;
    let day = now() - TimeDelta::days(2);
    shop.order(shopper, "paid", 1_000, day, &[]).await;
    shop.order(shopper, "cancelled", 9_000, day, &[(product, variants[0])])
        .await;
    let customers = [shopper];
    let mut context = context();
    for (rule, expected) in [
        (
            json!({"type": "total_check", "min": 1_000, "max": 1_000}),
            vec![0],
        ),
        (json!({"type": "order_count", "min": 2}), vec![]),
        (
            json!({"type": "bought", "item": {"product": product}}),
            vec![],
        ),
    ] {
        assert_selects(&test.db, rule, &context, &customers, &expected).await;
    }
    // Counting cancelled orders too (the setting is the merchant's) changes every figure.
    context.counted_statuses.insert("cancelled".into());
    for (rule, expected) in [
        (
            json!({"type": "total_check", "min": 10_000, "max": 10_000}),
            vec![0],
        ),
        (json!({"type": "order_count", "min": 2}), vec![0]),
        (
            json!({"type": "bought", "item": {"variant": variants[0]}}),
            vec![0],
        ),
    ] {
        assert_selects(&test.db, rule, &context, &customers, &expected).await;
    }
}

#[tokio::test]
async fn check_and_count_bounds_are_inclusive() {
    let test = TestDb::new().await.expect("test db");
    let mut shop = Shop::new(&test.db);
    let shopper = shop.customer().await;
    let day = now() - TimeDelta::days(3);
    // Two orders: total 3,001, average 1,500.5 (not a whole number of cents).
    shop.order(shopper, "paid", 1_000, day, &[]).await;
    shop.order(shopper, "delivered", 2_001, day, &[]).await;
    let customers = [shopper];
    let context = context();
    for (rule, expected) in [
        (
            json!({"type": "total_check", "min": 3_001, "max": 3_001}),
            vec![0],
        ),
        (json!({"type": "total_check", "min": 3_002}), vec![]),
        (json!({"type": "total_check", "max": 3_000}), vec![]),
        (json!({"type": "order_count", "min": 2, "max": 2}), vec![0]),
        (json!({"type": "order_count", "min": 3}), vec![]),
        (json!({"type": "order_count", "max": 1}), vec![]),
        // The exact mean 1,500.5 lies within [1,500, 1,501] but not [1,501, ...] nor [..., 1,500].
        (
            json!({"type": "average_check", "min": 1_500, "max": 1_501}),
            vec![0],
        ),
        (json!({"type": "average_check", "min": 1_501}), vec![]),
        (json!({"type": "average_check", "max": 1_500}), vec![]),
    ] {
        assert_selects(&test.db, rule, &context, &customers, &expected).await;
    }
}

#[tokio::test]
async fn date_ranges_are_whole_days_in_the_store_time_zone() {
    let test = TestDb::new().await.expect("test db");
    let mut shop = Shop::new(&test.db);
    // In Berlin (UTC+1 in January) 2024-01-15T23:00Z is the first instant of January 16.
    let late_on_15th = shop
        .customer_at(instant("2024-01-15T22:59:59Z"), now(), None)
        .await;
    let start_of_16th = shop
        .customer_at(instant("2024-01-15T23:00:00Z"), now(), None)
        .await;
    let end_of_16th = shop
        .customer_at(instant("2024-01-16T22:59:59Z"), now(), None)
        .await;
    let start_of_17th = shop
        .customer_at(instant("2024-01-16T23:00:00Z"), now(), None)
        .await;
    for (customer, at) in [
        (late_on_15th, "2024-01-15T22:59:59Z"),
        (start_of_16th, "2024-01-15T23:00:00Z"),
        (end_of_16th, "2024-01-16T22:59:59Z"),
        (start_of_17th, "2024-01-16T23:00:00Z"),
    ] {
        shop.order(customer, "paid", 100, instant(at), &[]).await;
    }
    let customers = [late_on_15th, start_of_16th, end_of_16th, start_of_17th];
    let berlin = context_in(chrono_tz::Europe::Berlin);
    let the_16th = json!({"from": "2024-01-16", "to": "2024-01-16"});
    assert_selects(
        &test.db,
        json!({"type": "first_interaction", "when": {"dates": the_16th}}),
        &berlin,
        &customers,
        &[1, 2],
    )
    .await;
    assert_selects(
        &test.db,
        json!({"type": "order_count", "min": 1, "frame": {"dates": the_16th}}),
        &berlin,
        &customers,
        &[1, 2],
    )
    .await;
    // Open-ended ranges: from the 16th on, and up to the 16th.
    assert_selects(
        &test.db,
        json!({"type": "first_interaction", "when": {"dates": {"from": "2024-01-16"}}}),
        &berlin,
        &customers,
        &[1, 2, 3],
    )
    .await;
    assert_selects(
        &test.db,
        json!({"type": "total_check", "min": 1, "frame": {"dates": {"to": "2024-01-16"}}}),
        &berlin,
        &customers,
        &[0, 1, 2],
    )
    .await;
    // The same days in UTC draw the edges at midnight UTC.
    assert_selects(
        &test.db,
        json!({"type": "first_interaction", "when": {"dates": the_16th}}),
        &context(),
        &customers,
        &[2, 3],
    )
    .await;
}

#[tokio::test]
async fn last_n_days_includes_the_exact_cutoff() {
    let test = TestDb::new().await.expect("test db");
    let mut shop = Shop::new(&test.db);
    let cutoff = now() - TimeDelta::days(30);
    let second = TimeDelta::seconds(1);
    let before = shop.customer_at(now(), cutoff - second, None).await;
    let at = shop.customer_at(now(), cutoff, None).await;
    let after = shop.customer_at(now(), cutoff + second, None).await;
    for customer in [before, at, after] {
        let placed = customer_row(&test.db, customer).await.last_interaction_at;
        shop.order(customer, "paid", 100, placed, &[]).await;
    }
    let customers = [before, at, after];
    let context = context();
    for (rule, expected) in [
        (
            json!({"type": "last_interaction", "when": {"within_last_days": 30}}),
            vec![1, 2],
        ),
        (
            json!({"type": "last_interaction", "when": {"not_within_last_days": 30}}),
            vec![0],
        ),
        (
            json!({"type": "order_count", "min": 1, "frame": {"last_days": 30}}),
            vec![1, 2],
        ),
    ] {
        assert_selects(&test.db, rule, &context, &customers, &expected).await;
    }
}

async fn customer_row(db: &DatabaseConnection, id: i64) -> customer::Model {
    customer::Entity::find_by_id(id)
        .one(db)
        .await
        .expect("query")
        .expect("customer")
}

#[tokio::test]
async fn answers_languages_purchases_and_segments_select_as_documented() {
    let test = TestDb::new().await.expect("test db");
    let mut shop = Shop::new(&test.db);
    let (question, options) = shop.question(3).await;
    let (product, variants) = shop.product(2).await;
    let vip = shop.segment("vip", None).await;
    let british = shop.customer_at(now(), now(), Some("en-GB")).await;
    let german = shop.customer_at(now(), now(), Some("DE")).await;
    let silent = shop.customer_at(now(), now(), None).await;
    let brazilian = shop.customer_at(now(), now(), Some("pt_BR")).await;
    shop.answer(british, question, Some(options[0])).await;
    shop.answer(british, question, Some(options[1])).await;
    shop.answer(german, question, Some(options[2])).await;
    shop.answer(silent, question, None).await;
    shop.order(german, "paid", 100, now(), &[(product, variants[1])])
        .await;
    add_member(&test.db, vip, brazilian, now())
        .await
        .expect("add");
    let customers = [british, german, silent, brazilian];
    let context = context();
    for (rule, expected) in [
        (
            json!({"type": "answer", "question": question, "options": [options[1], options[2]]}),
            vec![0, 1],
        ),
        (
            json!({"type": "none", "rules": [{"type": "answer", "question": question, "options": options}]}),
            vec![2, 3],
        ),
        (
            json!({"type": "language", "codes": ["en", "de"]}),
            vec![0, 1],
        ),
        (json!({"type": "language", "codes": ["PT"]}), vec![3]),
        (json!({"type": "language", "codes": ["e"]}), vec![]),
        (
            json!({"type": "bought", "item": {"product": product}}),
            vec![1],
        ),
        (
            json!({"type": "bought", "item": {"variant": variants[0]}}),
            vec![],
        ),
        (
            json!({"type": "segment", "segment": vip, "member": true}),
            vec![3],
        ),
        (
            json!({"type": "segment", "segment": vip, "member": false}),
            vec![0, 1, 2],
        ),
        (json!({"type": "all", "rules": []}), vec![0, 1, 2, 3]),
        (json!({"type": "any", "rules": []}), vec![]),
        (json!({"type": "none", "rules": []}), vec![0, 1, 2, 3]),
    ] {
        assert_selects(&test.db, rule, &context, &customers, &expected).await;
    }
}

// ---- Recompute: diffs, ledger, overrides, in-force windows, order of segments ----

#[tokio::test]
async fn recompute_applies_joins_and_leaves_and_ledgers_them() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let mut shop = Shop::new(db);
    let big = shop.customer().await;
    let small = shop.customer().await;
    let hand_picked = shop.customer().await;
    shop.order(big, "paid", 10_000, now(), &[]).await;
    let spenders = shop
        .segment(
            "spenders",
            Some(&rule(json!({"type": "total_check", "min": 5_000}))),
        )
        .await;
    add_member(db, spenders, hand_picked, now())
        .await
        .expect("add");

    let first = recompute_all(db, &context(), Trigger::Admin)
        .await
        .expect("run");
    assert_eq!((first.segments, first.joined, first.left), (1, 1, 0));
    assert!(first.errors.is_empty(), "{:?}", first.errors);
    assert_eq!(
        members(db, spenders).await,
        [(big, "rule".to_owned()), (hand_picked, "manual".to_owned())]
    );

    // Nothing changed: a second run changes nothing.
    let again = recompute_all(db, &context(), Trigger::Schedule)
        .await
        .expect("run");
    assert_eq!((again.joined, again.left), (0, 0));

    // The big spender's order is cancelled and the small one spends: they swap places; the
    // hand-picked member, who matches no rule, stays.
    order::Entity::update_many()
        .col_expr(order::Column::Status, Expr::val("cancelled"))
        .filter(order::Column::CustomerId.eq(big))
        .exec(db)
        .await
        .expect("cancel");
    shop.order(small, "paid", 6_000, now(), &[]).await;
    let third = recompute_all(db, &context(), Trigger::Schedule)
        .await
        .expect("run");
    assert_eq!((third.joined, third.left), (1, 1));
    assert_eq!(
        members(db, spenders).await,
        [
            (small, "rule".to_owned()),
            (hand_picked, "manual".to_owned())
        ]
    );
    let rule_cause =
        |customer, kind: &str, cause: &str| (customer, kind.to_owned(), cause.to_owned());
    assert_eq!(
        ledger(db, spenders).await,
        [
            rule_cause(hand_picked, "joined", "manual"),
            rule_cause(big, "joined", "rule"),
            rule_cause(big, "left", "rule"),
            rule_cause(small, "joined", "rule"),
        ]
    );
    // Each job event names its run; the runs are listed newest first with their counts.
    let third_run = third.run_id.expect("ran");
    let events = membership_event::Entity::find()
        .filter(membership_event::Column::RunId.eq(third_run))
        .all(db)
        .await
        .expect("events");
    assert_eq!(events.len(), 2);
    let listed = runs(db, 10).await.expect("runs");
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[0].id, third_run);
    assert_eq!(
        (
            listed[0].trigger.as_str(),
            listed[0].segments,
            listed[0].joined,
            listed[0].left
        ),
        ("schedule", 1, 1, 1)
    );
    assert_eq!(listed[2].trigger, "admin");
    assert!(
        listed
            .iter()
            .all(|run| run.finished_at.is_some() && run.error.is_none())
    );
}

#[tokio::test]
async fn segments_out_of_force_lose_their_rule_members_but_not_manual_ones() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let mut shop = Shop::new(db);
    let ruled = shop.customer().await;
    let manual = shop.customer().await;
    let everyone = rule(json!({"type": "language", "codes": ["en"]}));
    let seasonal = shop.segment("seasonal", Some(&everyone)).await;
    let later = shop.segment("later", Some(&everyone)).await;
    shop.edit_segment(later, |row| {
        row.starts_at = Set(Some(now() + TimeDelta::hours(1)));
    })
    .await;
    recompute_all(db, &context(), Trigger::Admin)
        .await
        .expect("run");
    remove_member(db, seasonal, manual, now())
        .await
        .expect_err("a rule member");
    // Taken in by hand: now a manual member, whom the job never removes.
    add_member(db, seasonal, manual, now()).await.expect("add");
    assert_eq!(members(db, later).await, []);
    assert_eq!(
        members(db, seasonal).await,
        [(ruled, "rule".to_owned()), (manual, "manual".to_owned())]
    );

    // It expires exactly at `now`: from then on it is out of force.
    shop.edit_segment(seasonal, |row| row.expires_at = Set(Some(now())))
        .await;
    let summary = recompute_all(db, &context(), Trigger::Admin)
        .await
        .expect("run");
    assert_eq!(summary.left, 1);
    assert_eq!(members(db, seasonal).await, [(manual, "manual".to_owned())]);
    let last = ledger(db, seasonal).await.pop().expect("an event");
    assert_eq!(last, (ruled, "left".to_owned(), "expiry".to_owned()));

    // The later segment starts: its members join.
    let mut started = context();
    started.now = now() + TimeDelta::hours(1);
    recompute_all(db, &started, Trigger::Admin)
        .await
        .expect("run");
    assert_eq!(
        members(db, later).await,
        [(ruled, "rule".to_owned()), (manual, "rule".to_owned())]
    );
}

#[tokio::test]
async fn include_and_exclude_overrides_beat_the_rule() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let mut shop = Shop::new(db);
    let english = shop.customer_at(now(), now(), Some("en")).await;
    let german = shop.customer_at(now(), now(), Some("de")).await;
    let english_rule = rule(json!({"type": "language", "codes": ["en"]}));
    let segment = shop.segment("english", Some(&english_rule)).await;
    recompute_all(db, &context(), Trigger::Admin)
        .await
        .expect("run");
    assert_eq!(members(db, segment).await, rule_members(&[english]));

    // Overrides apply at once, as the merchant's doing.
    let changes = set_override(db, &context(), segment, german, OverrideMode::Include)
        .await
        .expect("include");
    assert_eq!(
        changes,
        [MembershipChange {
            segment_id: segment,
            joined: true
        }]
    );
    set_override(db, &context(), segment, english, OverrideMode::Exclude)
        .await
        .expect("exclude");
    assert_eq!(members(db, segment).await, rule_members(&[german]));
    // ...and the job keeps them.
    let summary = recompute_all(db, &context(), Trigger::Admin)
        .await
        .expect("run");
    assert_eq!((summary.joined, summary.left), (0, 0));
    assert_eq!(members(db, segment).await, rule_members(&[german]));
    // The diff of a rule edit takes the overrides into account.
    let diff = preview_diff(
        db,
        &context(),
        segment,
        &rule(json!({"type": "language", "codes": ["de"]})),
        10,
    )
    .await
    .expect("diff");
    assert_eq!((diff.joining.count, diff.leaving.count), (0, 0));
    let everybody = rule(json!({"type": "all", "rules": []}));
    let diff = preview_diff(db, &context(), segment, &everybody, 10)
        .await
        .expect("diff");
    assert_eq!((diff.joining.count, diff.leaving.count), (0, 0));
    let nobody = rule(json!({"type": "any", "rules": []}));
    let diff = preview_diff(db, &context(), segment, &nobody, 10)
        .await
        .expect("diff");
    assert_eq!(
        (diff.joining.count, diff.leaving.count),
        (0, 0),
        "the include holds"
    );

    // Clearing the overrides hands both back to the rule.
    clear_override(db, &context(), segment, german)
        .await
        .expect("clear");
    clear_override(db, &context(), segment, english)
        .await
        .expect("clear");
    assert_eq!(members(db, segment).await, rule_members(&[english]));
    let causes: Vec<_> = ledger(db, segment)
        .await
        .into_iter()
        .map(|(_, _, cause)| cause)
        .collect();
    assert_eq!(causes, ["rule", "manual", "manual", "manual", "manual"]);
}

#[tokio::test]
async fn segments_are_recomputed_after_the_segments_they_name() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let mut shop = Shop::new(db);
    let english = shop.customer_at(now(), now(), Some("en")).await;
    let german = shop.customer_at(now(), now(), Some("de")).await;
    // Created first, so a run in id order would read the other segment before it is filled.
    let placeholder = rule(json!({"type": "any", "rules": []}));
    let not_english = shop.segment("not english", Some(&placeholder)).await;
    let english_segment = shop
        .segment(
            "english",
            Some(&rule(json!({"type": "language", "codes": ["en"]}))),
        )
        .await;
    shop.edit_segment(not_english, |row| {
        row.rule = Set(Some(
            crate::segments::to_json(&not_in(english_segment)).expect("json"),
        ));
    })
    .await;
    let summary = recompute_all(db, &context(), Trigger::Admin)
        .await
        .expect("run");
    assert_eq!(summary.joined, 2);
    assert_eq!(members(db, english_segment).await, rule_members(&[english]));
    assert_eq!(members(db, not_english).await, rule_members(&[german]));
}

/// On PostgreSQL every segment is checked before the run writes anything; a segment that
/// names another one changed by the same run must still be recomputed against the new
/// membership, though its check, made against the old one, found nothing to do.
#[tokio::test]
async fn a_segment_naming_one_changed_in_the_same_run_is_recomputed_against_the_change() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let mut shop = Shop::new(db);
    let english = shop.customer_at(now(), now(), Some("en")).await;
    let german = shop.customer_at(now(), now(), Some("de")).await;
    let english_segment = shop
        .segment(
            "english",
            Some(&rule(json!({"type": "language", "codes": ["en"]}))),
        )
        .await;
    let not_english = shop
        .segment("not english", Some(&not_in(english_segment)))
        .await;
    recompute_all(db, &context(), Trigger::Admin)
        .await
        .expect("first run");
    assert_eq!(members(db, not_english).await, rule_members(&[german]));
    // The German shopper switches to English: the next run moves them across.
    customer::ActiveModel {
        id: Set(german),
        language_code: Set(Some("en".into())),
        ..Default::default()
    }
    .update(db)
    .await
    .expect("language changed");
    let summary = recompute_all(db, &context(), Trigger::Admin)
        .await
        .expect("second run");
    assert_eq!((summary.joined, summary.left), (1, 1));
    assert_eq!(
        members(db, english_segment).await,
        rule_members(&[english, german])
    );
    assert_eq!(members(db, not_english).await, rule_members(&[]));
}

#[tokio::test]
async fn progress_is_reported_once_per_segment_in_the_order_they_run() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let mut shop = Shop::new(db);
    shop.customer_at(now(), now(), Some("en")).await;
    let english = rule(json!({"type": "language", "codes": ["en"]}));
    shop.segment("first", Some(&english)).await;
    shop.segment("second", Some(&english)).await;
    let mut seen = Vec::new();
    let summary = recompute_all_with_progress(db, &context(), Trigger::Admin, &mut |progress| {
        seen.push((progress.done, progress.total, progress.segment.to_owned()));
    })
    .await
    .expect("run");
    assert_eq!(summary.segments, 2);
    assert_eq!(
        seen,
        [(1, 2, "first".to_owned()), (2, 2, "second".to_owned())]
    );
}

#[tokio::test]
async fn an_unreadable_rule_is_reported_and_the_other_segments_still_recompute() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let mut shop = Shop::new(db);
    let shopper = shop.customer().await;
    let good = shop
        .segment("good", Some(&rule(json!({"type": "all", "rules": []}))))
        .await;
    let broken = shop
        .segment("broken", Some(&rule(json!({"type": "all", "rules": []}))))
        .await;
    shop.edit_segment(broken, |row| {
        row.rule = Set(Some(r#"{"version": 9, "rule": {}}"#.into()))
    })
    .await;
    let summary = recompute_all(db, &context(), Trigger::Admin)
        .await
        .expect("run");
    assert_eq!(summary.segments, 1);
    assert_eq!(members(db, good).await, rule_members(&[shopper]));
    assert_eq!(summary.errors.len(), 1);
    let run = runs(db, 1).await.expect("runs").remove(0);
    let error = run.error.expect("recorded");
    assert!(
        error.contains("broken") && error.contains("version 9"),
        "{error}"
    );
}

#[tokio::test]
async fn refreshing_one_customer_applies_their_joins_and_leaves_at_once() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let mut shop = Shop::new(db);
    let (question, options) = shop.question(2).await;
    let shopper = shop.customer().await;
    let other = shop.customer().await;
    let fans = shop
        .segment(
            "fans",
            Some(&rule(
                json!({"type": "answer", "question": question, "options": [options[0]]}),
            )),
        )
        .await;
    // Depends on `fans`, so it must see the fresh membership within the same refresh.
    let not_fans = shop.segment("not fans", Some(&not_in(fans))).await;
    recompute_all(db, &context(), Trigger::Admin)
        .await
        .expect("run");
    assert_eq!(members(db, not_fans).await, rule_members(&[shopper, other]));

    shop.answer(shopper, question, Some(options[0])).await;
    let changes = refresh_customer(db, &context(), shopper)
        .await
        .expect("refresh");
    assert_eq!(
        changes,
        [
            MembershipChange {
                segment_id: fans,
                joined: true
            },
            MembershipChange {
                segment_id: not_fans,
                joined: false
            },
        ]
    );
    assert_eq!(members(db, fans).await, rule_members(&[shopper]));
    assert_eq!(members(db, not_fans).await, rule_members(&[other]));
    // The job agrees with what the refresh did.
    let summary = recompute_all(db, &context(), Trigger::Admin)
        .await
        .expect("run");
    assert_eq!((summary.joined, summary.left), (0, 0));
    // A refresh with nothing new changes nothing.
    assert_eq!(
        refresh_customer(db, &context(), shopper)
            .await
            .expect("refresh"),
        []
    );
    let missing = refresh_customer(db, &context(), 999_999).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "{missing:?}"
    );
}

#[tokio::test]
async fn preview_counts_and_samples_without_writing() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let mut shop = Shop::new(db);
    let mut english = Vec::new();
    for _ in 0..5 {
        english.push(shop.customer_at(now(), now(), Some("en")).await);
    }
    shop.customer_at(now(), now(), Some("fr")).await;
    let rule = rule(json!({"type": "language", "codes": ["en"]}));
    let preview = preview(db, &context(), &rule, 3).await.expect("preview");
    assert_eq!(preview.count, 5);
    assert_eq!(preview.sample, english[..3]);
    assert!(runs(db, 1).await.expect("runs").is_empty());
    let segment = shop.segment("english", Some(&rule)).await;
    let diff = preview_diff(db, &context(), segment, &rule, 2)
        .await
        .expect("diff");
    assert_eq!(
        diff.joining,
        Preview {
            count: 5,
            sample: english[..2].to_vec()
        }
    );
    assert_eq!(diff.leaving.count, 0);
    assert_eq!(members(db, segment).await, []);
}

#[tokio::test]
async fn explain_shows_the_verdict_and_the_stored_membership() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let mut shop = Shop::new(db);
    let shopper = shop.customer().await;
    shop.order(shopper, "paid", 12_400, now(), &[]).await;
    let segment = shop.big_spenders().await;
    refresh_customer(db, &context(), shopper)
        .await
        .expect("refresh");
    let explained = explain(db, &context(), shopper, segment)
        .await
        .expect("explain");
    assert_eq!(
        explained.membership,
        Some(crate::store::membership::ledger::Source::Rule)
    );
    assert!(explained.in_force);
    let explanation = explained.explanation(&context()).expect("an auto segment");
    assert!(explanation.matched);
    assert!(explanation.to_string().contains("12,400"), "{explanation}");
}

#[tokio::test]
async fn user_groups_are_hand_set_plus_inherited_from_segments_in_force() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let mut shop = Shop::new(db);
    let shopper = shop.customer().await;
    let wholesale = shop.segment("wholesale", None).await;
    let expired = shop.segment("expired", None).await;
    shop.edit_segment(wholesale, |row| row.user_group = Set(Some("b2b".into())))
        .await;
    shop.edit_segment(expired, |row| {
        row.user_group = Set(Some("old".into()));
        row.expires_at = Set(Some(now()));
    })
    .await;
    add_member(db, wholesale, shopper, now())
        .await
        .expect("add");
    add_member(db, expired, shopper, now()).await.expect("add");
    add_hand_set_group(db, shopper, "b2b").await.expect("group");
    add_hand_set_group(db, shopper, "b2b")
        .await
        .expect("twice is fine");
    add_hand_set_group(db, shopper, "staff")
        .await
        .expect("group");
    let groups = |names: &[&str]| {
        names
            .iter()
            .map(|name| name.to_string())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(
        user_groups(db, shopper, now()).await.expect("groups"),
        groups(&["b2b", "staff"])
    );
    // Removing the hand-set b2b keeps it: the wholesale segment still gives it.
    remove_hand_set_group(db, shopper, "b2b")
        .await
        .expect("remove");
    assert_eq!(
        user_groups(db, shopper, now()).await.expect("groups"),
        groups(&["b2b", "staff"])
    );
    remove_member(db, wholesale, shopper, now())
        .await
        .expect("remove");
    assert_eq!(
        user_groups(db, shopper, now()).await.expect("groups"),
        groups(&["staff"])
    );
}

#[tokio::test]
async fn only_one_instance_recomputes_at_a_time() {
    let test = TestDb::new().await.expect("test db");
    let mut shop = Shop::new(&test.db);
    let shopper = shop.customer().await;
    let everyone = shop
        .segment("everyone", Some(&rule(json!({"type": "all", "rules": []}))))
        .await;
    // A second instance: its own pool on the same database.
    let other = crate::store::connect(&test.settings)
        .await
        .expect("second pool");
    if test.is_postgres() {
        let holder = other.begin().await.expect("txn");
        holder
            .execute_unprepared(&format!(
                "SELECT pg_advisory_xact_lock({RECOMPUTE_LOCK_KEY})"
            ))
            .await
            .expect("lock");
        let skipped = recompute_all(&test.db, &context(), Trigger::Schedule)
            .await
            .expect("run");
        assert!(skipped.skipped);
        assert_eq!(skipped.run_id, None);
        assert!(runs(&test.db, 10).await.expect("runs").is_empty());
        assert_eq!(members(&test.db, everyone).await, []);
        holder.rollback().await.expect("release");
    }
    // Two instances at once: whatever the interleaving, the membership ends up right and is
    // applied once (one join in the ledger).
    let context = context();
    let (first, second) = tokio::join!(
        recompute_all(&test.db, &context, Trigger::Schedule),
        recompute_all(&other, &context, Trigger::Schedule),
    );
    let (first, second) = (first.expect("run"), second.expect("run"));
    assert_eq!(first.joined + second.joined, 1);
    assert_eq!(members(&test.db, everyone).await, rule_members(&[shopper]));
    assert_eq!(ledger(&test.db, everyone).await.len(), 1);
    if !test.is_postgres() {
        assert!(
            !first.skipped && !second.skipped,
            "SQLite serialises instead"
        );
    }
}

#[tokio::test]
async fn a_failed_run_is_recorded_and_the_job_function_logs_instead_of_failing() {
    let test = TestDb::new().await.expect("test db");
    let mut shop = Shop::new(&test.db);
    shop.customer().await;
    shop.segment("everyone", Some(&rule(json!({"type": "all", "rules": []}))))
        .await;
    let mut settings = crate::Settings::defaults().expect("defaults");
    settings.database = test.settings.clone();
    crate::jobs::recompute_once(&settings, &test.db).await;
    let run = runs(&test.db, 1).await.expect("runs").remove(0);
    assert_eq!((run.trigger.as_str(), run.joined), ("schedule", 1));
    // A job told to stop returns.
    let (stop, stopped) = tokio::sync::watch::channel(true);
    crate::jobs::run_recompute(std::sync::Arc::new(settings), test.db.clone(), stopped).await;
    drop(stop);
    let _ = recompute_run::Entity::find()
        .all(&test.db)
        .await
        .expect("still usable");
}

#[tokio::test]
async fn a_rule_edited_after_it_was_cached_is_evaluated_fresh() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let mut shop = Shop::new(db);
    let shopper = shop.customer().await;
    shop.order(shopper, "paid", 12_400, now(), &[]).await;
    let total_at_least = |min: i64| rule(json!({"type": "total_check", "min": min}));
    let big = shop.big_spenders().await;
    let joined = MembershipChange {
        segment_id: big,
        joined: true,
    };
    let left = MembershipChange {
        segment_id: big,
        joined: false,
    };
    let refresh = || async {
        refresh_customer(db, &context(), shopper)
            .await
            .expect("refresh")
    };
    // The first refresh parses the rule and keeps it; the edits change its text, so each
    // refresh after one must read the new rule, not the kept one.
    assert_eq!(refresh().await, [joined]);
    assert_eq!(refresh().await, []);
    let edit = |min: i64| {
        let json = crate::segments::to_json(&total_at_least(min)).expect("json");
        move |row: &mut segment::ActiveModel| row.rule = Set(Some(json))
    };
    shop.edit_segment(big, edit(20_000)).await;
    assert_eq!(refresh().await, [left]);
    assert_eq!(members(db, big).await, []);
    shop.edit_segment(big, edit(10_000)).await;
    assert_eq!(refresh().await, [joined]);
    assert_eq!(members(db, big).await, rule_members(&[shopper]));
}

#[tokio::test]
async fn a_refresh_with_nothing_to_change_takes_no_write_lock() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let mut shop = Shop::new(db);
    let shopper = shop.customer().await;
    shop.order(shopper, "paid", 12_400, now(), &[]).await;
    let big = shop.big_spenders().await;
    refresh_customer(db, &context(), shopper)
        .await
        .expect("refresh");
    let events_before = ledger(db, big).await;
    // Another writer holds the write lock (SQLite's single writer; on PostgreSQL a lock on the
    // membership tables that lets reads through but no write). A refresh that finds nothing
    // to change must neither wait for it nor fail.
    let writer = begin_write(db).await.expect("writer");
    if test.is_postgres() {
        writer
            .execute_unprepared(
                "LOCK TABLE segment_member, membership_event, outbox_message IN EXCLUSIVE MODE",
            )
            .await
            .expect("lock");
    }
    let outcome = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        refresh_customer(db, &context(), shopper),
    )
    .await;
    writer.rollback().await.expect("rollback");
    assert_eq!(
        outcome
            .expect("the refresh waited for the writer")
            .expect("refresh"),
        []
    );
    assert_eq!(ledger(db, big).await, events_before);
}

#[tokio::test]
async fn a_refresh_reads_orders_with_all_their_items() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let mut shop = Shop::new(db);
    let (tea, teas) = shop.product(2).await;
    let (mug, mugs) = shop.product(1).await;
    let (question, options) = shop.question(2).await;
    let shopper = shop.customer().await;
    shop.answer(shopper, question, Some(options[1])).await;
    // One order with three items, one with none: each order counted once, every item seen.
    shop.order(
        shopper,
        "paid",
        3_000,
        now(),
        &[(tea, teas[0]), (tea, teas[1]), (mug, mugs[0])],
    )
    .await;
    shop.order(shopper, "paid", 2_000, now(), &[]).await;
    let mut segments = Vec::new();
    for (name, json) in [
        (
            "bought tea",
            json!({"type": "bought", "item": {"product": tea}}),
        ),
        (
            "bought the second tea",
            json!({"type": "bought", "item": {"variant": teas[1]}}),
        ),
        (
            "bought a mug",
            json!({"type": "bought", "item": {"product": mug}}),
        ),
        (
            "two orders",
            json!({"type": "order_count", "min": 2, "max": 2}),
        ),
        (
            "spent 5,000",
            json!({"type": "total_check", "min": 5_000, "max": 5_000}),
        ),
        (
            "second option",
            json!({"type": "answer", "question": question, "options": [options[1]]}),
        ),
    ] {
        segments.push(shop.segment(name, Some(&rule(json))).await);
    }
    let changes = refresh_customer(db, &context(), shopper)
        .await
        .expect("refresh");
    assert_eq!(
        changes,
        segments
            .iter()
            .map(|segment_id| MembershipChange {
                segment_id: *segment_id,
                joined: true
            })
            .collect::<Vec<_>>()
    );
    // The set-based job agrees.
    let summary = recompute_all(db, &context(), Trigger::Admin)
        .await
        .expect("run");
    assert_eq!((summary.joined, summary.left), (0, 0));
}

#[tokio::test]
async fn a_steady_recompute_on_postgres_writes_no_membership() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let mut shop = Shop::new(db);
    let big_spender = shop.customer().await;
    let other = shop.customer().await;
    shop.order(big_spender, "paid", 12_400, now(), &[]).await;
    let big = shop.big_spenders().await;
    let first = recompute_all(db, &context(), Trigger::Admin)
        .await
        .expect("run");
    assert_eq!((first.joined, first.left), (1, 0));
    // A manual member the rule doesn't select is no change either.
    add_member(db, big, other, now()).await.expect("add");
    // On PostgreSQL another transaction locks the membership tables against writes (reads go
    // through), so a steady run that wrote anything would wait for it. On SQLite each segment
    // still runs its (empty) diff in a write transaction, so there is no lock to hold.
    let writer = if test.is_postgres() {
        let writer = begin_write(db).await.expect("writer");
        writer
            .execute_unprepared("LOCK TABLE segment_member, membership_event IN EXCLUSIVE MODE")
            .await
            .expect("lock");
        Some(writer)
    } else {
        None
    };
    let steady = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        recompute_all(db, &context(), Trigger::Admin),
    )
    .await;
    if let Some(writer) = writer {
        writer.rollback().await.expect("rollback");
    }
    let steady = steady
        .expect("the steady run waited for the writer")
        .expect("run");
    assert_eq!((steady.segments, steady.joined, steady.left), (1, 0, 0));
    assert_eq!(
        members(db, big).await,
        [
            (big_spender, "rule".to_owned()),
            (other, "manual".to_owned())
        ]
    );
    // Changes are still found and applied: one shopper qualifies, the first no longer does.
    let joiner = shop.customer().await;
    shop.order(joiner, "paid", 10_000, now(), &[]).await;
    order::Entity::update_many()
        .col_expr(
            order::Column::Status,
            sea_orm::sea_query::Expr::val("cancelled"),
        )
        .filter(order::Column::CustomerId.eq(big_spender))
        .exec(db)
        .await
        .expect("cancel");
    let changed = recompute_all(db, &context(), Trigger::Admin)
        .await
        .expect("run");
    assert_eq!((changed.joined, changed.left), (1, 1));
    assert_eq!(
        members(db, big).await,
        [(other, "manual".to_owned()), (joiner, "rule".to_owned())]
    );
}
