//! Benchmark of the segment recompute: generates a shop with bulk inserts, then times a full
//! recompute of a mix of automatic segments beside the floor (one plain aggregate of the
//! orders per distinct time frame those segments use, on the same database in the same run),
//! one shopper's re-evaluation (p50/p99), and the recompute's peak resident memory.
//!
//! ```sh
//! cargo run --release -p storebot-tests --bin bench_recompute -- \
//!     --customers 100000 --orders 1000000 --segments 50 --database both
//! ```
//!
//! PostgreSQL: a fresh database is created next to `STOREBOT_BENCH_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and dropped at the end. It prints a table;
//! it asserts nothing, so it never fails a build on a slow machine.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait};
use serde_json::json;
use storebot::segments::{Context, Rule, TimeFrame};
use storebot::store::{self, recompute};
use storebot_config::{DatabaseSettings, DatabaseUrl};
use storebot_entity::{
    answer_option, customer, customer_answer, order, order_item, product, question, segment,
    variant,
};

struct Options {
    customers: u64,
    orders: u64,
    segments: usize,
    refreshes: usize,
    databases: Vec<&'static str>,
}

fn parse_options() -> anyhow::Result<Options> {
    let mut options = Options {
        customers: 100_000,
        orders: 1_000_000,
        segments: 50,
        refreshes: 300,
        databases: vec!["sqlite", "postgres"],
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--customers" => options.customers = value.parse()?,
            "--orders" => options.orders = value.parse()?,
            "--segments" => options.segments = value.parse()?,
            "--refreshes" => options.refreshes = value.parse()?,
            "--database" => {
                options.databases = match value.as_str() {
                    "sqlite" => vec!["sqlite"],
                    "postgres" => vec!["postgres"],
                    "both" => vec!["sqlite", "postgres"],
                    other => bail!("--database takes sqlite, postgres or both, not {other}"),
                }
            }
            other => bail!(
                "unknown flag {other}: use --customers, --orders, --segments, --refreshes, --database"
            ),
        }
    }
    if options.customers == 0 {
        bail!("--customers must be at least 1");
    }
    Ok(options)
}

/// A small deterministic generator, so runs are comparable without a dependency.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % Ord::max(bound, 1)
    }
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_782_907_200, 0).unwrap_or_default() // 2026-07-01T12:00:00Z
}

fn settings(url: &str) -> DatabaseSettings {
    DatabaseSettings {
        url: DatabaseUrl::new(url),
        max_connections: 4,
        busy_timeout: Duration::from_secs(30),
        connect_timeout: Duration::from_secs(10),
        retry_initial: Duration::from_secs(1),
        retry_max: Duration::from_secs(30),
        retry_for: Duration::ZERO,
    }
}

struct Shop {
    options: Vec<i64>,
    second_options: Vec<i64>,
    questions: (i64, i64),
    products: Vec<i64>,
}

async fn generate(db: &DatabaseConnection, options: &Options) -> anyhow::Result<Shop> {
    let mut random = Random(0x5eed_5eed_5eed_5eed);
    let mut questions = Vec::new();
    let mut all_options = Vec::new();
    for position in 0..2 {
        let id = question::Entity::insert(question::ActiveModel {
            position: sea_orm::Set(position),
            text: sea_orm::Set(format!("Question {position}")),
            kind: sea_orm::Set("single".into()),
            required: sea_orm::Set(true),
            archived: sea_orm::Set(false),
            created_at: sea_orm::Set(now()),
            ..Default::default()
        })
        .exec(db)
        .await?
        .last_insert_id;
        questions.push(id);
        let mut ids = Vec::new();
        for option in 0..4 {
            ids.push(
                answer_option::Entity::insert(answer_option::ActiveModel {
                    question_id: sea_orm::Set(id),
                    position: sea_orm::Set(option),
                    text: sea_orm::Set(format!("Option {option}")),
                    archived: sea_orm::Set(false),
                    ..Default::default()
                })
                .exec(db)
                .await?
                .last_insert_id,
            );
        }
        all_options.push(ids);
    }
    let mut products = Vec::new();
    let mut variants = Vec::new();
    for index in 0..20 {
        let product = product::Entity::insert(product::ActiveModel {
            title: sea_orm::Set(format!("Product {index}")),
            description: sea_orm::Set(String::new()),
            category_id: sea_orm::Set(None),
            brand: sea_orm::Set(None),
            active: sea_orm::Set(true),
            all_segments: sea_orm::Set(true),
            by_variant: sea_orm::Set(false),
            created_at: sea_orm::Set(now()),
            updated_at: sea_orm::Set(now()),
            ..Default::default()
        })
        .exec(db)
        .await?
        .last_insert_id;
        products.push(product);
        for size in 0..3 {
            let variant = variant::Entity::insert(variant::ActiveModel {
                product_id: sea_orm::Set(product),
                sku: sea_orm::Set(format!("P{index}-{size}")),
                title: sea_orm::Set(format!("Size {size}")),
                price: sea_orm::Set(1_000),
                stock: sea_orm::Set(100),
                active: sea_orm::Set(true),
                all_segments: sea_orm::Set(true),
                ..Default::default()
            })
            .exec(db)
            .await?
            .last_insert_id;
            variants.push((product, variant));
        }
    }

    // Customers and their answers, in batches of multi-row inserts.
    const BATCH: u64 = 1_000;
    let languages = ["en", "en-GB", "de", "fr", "es", "pt-BR"];
    let mut done = 0;
    while done < options.customers {
        let size = Ord::min(BATCH, options.customers - done);
        let txn = store::begin_write(db).await?;
        let mut insert = Query::insert();
        insert.into_table(customer::Entity).columns([
            customer::Column::TelegramUserId,
            customer::Column::ChatId,
            customer::Column::FirstName,
            customer::Column::LanguageCode,
            customer::Column::FirstInteractionAt,
            customer::Column::LastInteractionAt,
            customer::Column::MessagesOptOut,
        ]);
        for offset in 0..size {
            let number = i64::try_from(done + offset + 1)?;
            let first = now() - TimeDelta::hours(i64::try_from(random.below(400 * 24))? + 1);
            let last = first
                + TimeDelta::hours(i64::try_from(
                    random.below(1 + (now() - first).num_hours().unsigned_abs()),
                )?);
            let language = languages[usize::try_from(random.below(6))?];
            insert.values([
                number.into(),
                number.into(),
                format!("Shopper {number}").into(),
                language.into(),
                first.into(),
                last.into(),
                false.into(),
            ])?;
        }
        txn.execute(&insert).await?;
        txn.commit().await?;
        done += size;
    }
    let ids: Vec<i64> = customer_ids(db).await?;
    for chunk in ids.chunks(usize::try_from(BATCH)?) {
        let txn = store::begin_write(db).await?;
        let mut insert = Query::insert();
        insert.into_table(customer_answer::Entity).columns([
            customer_answer::Column::CustomerId,
            customer_answer::Column::QuestionId,
            customer_answer::Column::OptionId,
            customer_answer::Column::AnsweredAt,
        ]);
        for id in chunk {
            let option = all_options[0][usize::try_from(random.below(4))?];
            insert.values([
                (*id).into(),
                questions[0].into(),
                option.into(),
                now().into(),
            ])?;
            if random.below(2) == 0 {
                let option = all_options[1][usize::try_from(random.below(4))?];
                insert.values([
                    (*id).into(),
                    questions[1].into(),
                    option.into(),
                    now().into(),
                ])?;
            }
        }
        txn.execute(&insert).await?;
        txn.commit().await?;
    }

    // Orders, one item each; 10% cancelled; placed over the last two years.
    let statuses = [
        "new",
        "paid",
        "shipped",
        "delivered",
        "delivered",
        "paid",
        "shipped",
        "delivered",
        "paid",
        "cancelled",
    ];
    let mut placed = 0;
    let mut next_order_id: i64 = 1;
    while placed < options.orders {
        let size = Ord::min(BATCH * 2, options.orders - placed);
        let txn = store::begin_write(db).await?;
        let mut orders = Query::insert();
        orders.into_table(order::Entity).columns([
            order::Column::Id,
            order::Column::CustomerId,
            order::Column::Status,
            order::Column::Total,
            order::Column::DiscountTotal,
            order::Column::Currency,
            order::Column::PlacedAt,
            order::Column::IdempotencyKey,
        ]);
        let mut items = Query::insert();
        items.into_table(order_item::Entity).columns([
            order_item::Column::OrderId,
            order_item::Column::VariantId,
            order_item::Column::ProductId,
            order_item::Column::Sku,
            order_item::Column::Title,
            order_item::Column::Quantity,
            order_item::Column::UnitPrice,
        ]);
        for _ in 0..size {
            let customer = ids[usize::try_from(random.below(ids.len() as u64))?];
            let total = i64::try_from(500 + random.below(50_000))?;
            let at = now() - TimeDelta::minutes(i64::try_from(random.below(730 * 24 * 60))?);
            let status = statuses[usize::try_from(random.below(10))?];
            orders.values([
                next_order_id.into(),
                customer.into(),
                status.into(),
                total.into(),
                0_i64.into(),
                "EUR".into(),
                at.into(),
                format!("bench-{next_order_id}").into(),
            ])?;
            let (product, variant) =
                variants[usize::try_from(random.below(variants.len() as u64))?];
            items.values([
                next_order_id.into(),
                variant.into(),
                product.into(),
                "SKU".into(),
                "Item".into(),
                1_i32.into(),
                total.into(),
            ])?;
            next_order_id += 1;
        }
        txn.execute(&orders).await?;
        txn.execute(&items).await?;
        txn.commit().await?;
        placed += size;
    }
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        // The explicit ids above bypassed the sequence; later inserts must not collide.
        db.execute_unprepared(
            "SELECT setval(pg_get_serial_sequence('orders', 'id'), (SELECT COALESCE(MAX(id), 1) FROM orders))",
        )
        .await?;
    }
    db.execute_unprepared("ANALYZE").await?;
    Ok(Shop {
        options: all_options[0].clone(),
        second_options: all_options[1].clone(),
        questions: (questions[0], questions[1]),
        products,
    })
}

async fn customer_ids(db: &DatabaseConnection) -> anyhow::Result<Vec<i64>> {
    let rows = db
        .query_all(
            Query::select()
                .column(customer::Column::Id)
                .from(customer::Entity)
                .order_by(customer::Column::Id, sea_orm::Order::Asc),
        )
        .await?;
    rows.into_iter()
        .map(|row| Ok(row.try_get::<i64>("", "id")?))
        .collect()
}

/// Fifty (or `count`) segments cycling through ten shapes: every criterion, the combinators,
/// a segment reference, over four distinct order time frames.
fn rules(shop: &Shop, count: usize, first_id: i64) -> Vec<Rule> {
    let h1 = json!({"dates": {"from": "2026-01-01", "to": "2026-06-30"}});
    (0..count)
        .map(|index| {
            let step = i64::try_from(index / 10).unwrap_or(0);
            let json = match index % 10 {
                0 => json!({"type": "total_check", "min": 50_000 + step * 20_000}),
                1 => json!({"type": "average_check", "min": 10_000 + step * 2_000, "max": 40_000, "frame": {"last_days": 30}}),
                2 => json!({"type": "order_count", "min": 2 + step, "frame": {"last_days": 90}}),
                3 => json!({"type": "answer", "question": shop.questions.0, "options": [shop.options[index % 4]]}),
                4 => json!({"type": "language", "codes": ["en", "de"]}),
                5 => json!({"type": "last_interaction", "when": {"within_last_days": 30 + step * 10}}),
                6 => json!({"type": "bought", "item": {"product": shop.products[index % shop.products.len()]}, "frame": {"last_days": 90}}),
                7 => json!({"type": "all", "rules": [
                    {"type": "total_check", "min": 20_000},
                    {"type": "answer", "question": shop.questions.1, "options": [shop.second_options[index % 4]]},
                ]}),
                8 => json!({"type": "any", "rules": [
                    {"type": "order_count", "min": 3, "frame": h1},
                    {"type": "none", "rules": [{"type": "language", "codes": ["fr", "es"]}]},
                ]}),
                _ => json!({"type": "all", "rules": [
                    {"type": "segment", "segment": first_id + i64::try_from(index).unwrap_or(0) - 9, "member": true},
                    {"type": "total_check", "min": 5_000, "frame": {"last_days": 30}},
                ]}),
            };
            serde_json::from_value(json).unwrap_or(Rule::All { rules: Vec::new() })
        })
        .collect()
}

async fn create_segments(db: &DatabaseConnection, rules: &[Rule]) -> anyhow::Result<()> {
    for (index, rule) in rules.iter().enumerate() {
        segment::Entity::insert(segment::ActiveModel {
            name: sea_orm::Set(format!("bench segment {index}")),
            description: sea_orm::Set(String::new()),
            kind: sea_orm::Set("auto".into()),
            rule: sea_orm::Set(Some(storebot::segments::to_json(rule)?)),
            active: sea_orm::Set(true),
            created_at: sea_orm::Set(now()),
            updated_at: sea_orm::Set(now()),
            ..Default::default()
        })
        .exec(db)
        .await?;
    }
    Ok(())
}

/// The floor: one plain aggregate of all orders per distinct frame, rows fetched.
async fn floor(db: &DatabaseConnection, frames: usize) -> anyhow::Result<Duration> {
    let started = Instant::now();
    for _ in 0..frames {
        let rows = db
            .query_all(
                Query::select()
                    .column(order::Column::CustomerId)
                    .expr_as(
                        Func::sum(Expr::col(order::Column::Total)),
                        Alias::new("total"),
                    )
                    .expr_as(Expr::col(order::Column::Id).count(), Alias::new("n"))
                    .from(order::Entity)
                    .group_by_col(order::Column::CustomerId),
            )
            .await?;
        std::hint::black_box(rows.len());
    }
    Ok(started.elapsed())
}

/// Peak resident set size since the last reset, in MiB (Linux).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn reset_peak_rss() {
    // Writing 5 resets VmHWM to the current RSS (Linux ≥ 4.0); harmless elsewhere.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

struct Figures {
    database: &'static str,
    generate: Duration,
    floor: Duration,
    frames: usize,
    first: Duration,
    first_joined: u64,
    steady: Duration,
    refresh_p50: Duration,
    refresh_p99: Duration,
    peak_rss: Option<f64>,
}

async fn bench(database: &'static str, url: &str, options: &Options) -> anyhow::Result<Figures> {
    let db = store::connect_and_migrate(&settings(url)).await?;
    let started = Instant::now();
    let shop = generate(&db, options).await?;
    let generate_time = started.elapsed();
    eprintln!(
        "{database}: data generated in {:.1} s",
        generate_time.as_secs_f64()
    );
    let first_segment_id: i64 = 1;
    let rules = rules(&shop, options.segments, first_segment_id);
    create_segments(&db, &rules).await?;
    let frames: BTreeSet<TimeFrame> = rules
        .iter()
        .flat_map(storebot::segments::compile::aggregate_frames_of)
        .collect();
    let context = Context {
        now: now(),
        time_zone: chrono_tz::Europe::Berlin,
        counted_statuses: ["new", "paid", "shipped", "delivered"]
            .map(String::from)
            .into(),
    };

    let floor_time = floor(&db, frames.len()).await?;
    reset_peak_rss();
    let started = Instant::now();
    let first = recompute::recompute_all(&db, &context, recompute::Trigger::Admin).await?;
    let first_time = started.elapsed();
    eprintln!(
        "{database}: first recompute in {:.1} s",
        first_time.as_secs_f64()
    );
    if !first.errors.is_empty() {
        bail!("recompute errors: {:?}", first.errors);
    }
    let started = Instant::now();
    let steady = recompute::recompute_all(&db, &context, recompute::Trigger::Admin).await?;
    let steady_time = started.elapsed();
    let peak_rss = peak_rss_mib();
    std::hint::black_box(steady.joined);

    let ids = customer_ids(&db).await?;
    let mut random = Random(42);
    let mut times = Vec::with_capacity(options.refreshes);
    for _ in 0..options.refreshes {
        let customer = ids[usize::try_from(random.below(ids.len() as u64))?];
        let started = Instant::now();
        recompute::refresh_customer(&db, &context, customer).await?;
        times.push(started.elapsed());
    }
    times.sort_unstable();
    db.close().await?;
    Ok(Figures {
        database,
        generate: generate_time,
        floor: floor_time,
        frames: frames.len(),
        first: first_time,
        first_joined: first.joined,
        steady: steady_time,
        refresh_p50: percentile(&times, 0.5),
        refresh_p99: percentile(&times, 0.99),
        peak_rss,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = parse_options()?;
    let mut figures = Vec::new();
    for database in options.databases.clone() {
        match database {
            "sqlite" => {
                let dir = tempfile::tempdir()?;
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("bench.db").display()
                );
                figures.push(bench("SQLite", &url, &options).await?);
            }
            _ => {
                let admin_url = std::env::var("STOREBOT_BENCH_POSTGRES_URL")
                    .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
                let mut url = url::Url::parse(&admin_url)?;
                let name = format!("storebot_bench_{}", std::process::id());
                let admin = store::connect(&settings(&admin_url)).await?;
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await?;
                if let Ok(milliseconds) = std::env::var("STOREBOT_BENCH_LOG_SLOWER_THAN_MS") {
                    // For finding slow statements in the server log.
                    let milliseconds: u32 = milliseconds.parse()?;
                    admin
                        .execute_unprepared(&format!(
                            "ALTER DATABASE \"{name}\" SET log_min_duration_statement = {milliseconds}"
                        ))
                        .await?;
                }
                url.set_path(&format!("/{name}"));
                let outcome = bench("PostgreSQL", url.as_str(), &options).await;
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\""))
                    .await?;
                figures.push(outcome?);
            }
        }
    }
    let ms = |duration: Duration| duration.as_secs_f64() * 1_000.0;
    println!(
        "{} customers, {} orders, {} segments, profile {}",
        options.customers,
        options.orders,
        options.segments,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    println!(
        "| database | data generation | floor ({} frames) | first recompute (joins) | steady recompute | steady / floor | refresh p50 | refresh p99 | peak RSS during recompute |",
        figures.first().map_or(0, |figures| figures.frames)
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for row in &figures {
        println!(
            "| {} | {:.1} s | {:.0} ms | {:.0} ms ({}) | {:.0} ms | {:.2}× | {:.2} ms | {:.2} ms | {} |",
            row.database,
            row.generate.as_secs_f64(),
            ms(row.floor),
            ms(row.first),
            row.first_joined,
            ms(row.steady),
            row.steady.as_secs_f64() / row.floor.as_secs_f64().max(f64::EPSILON),
            ms(row.refresh_p50),
            ms(row.refresh_p99),
            row.peak_rss
                .map_or_else(|| "n/a".to_owned(), |mib| format!("{mib:.0} MiB")),
        );
    }
    Ok(())
}
