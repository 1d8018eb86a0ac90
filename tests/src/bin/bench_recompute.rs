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
//! `postgres://postgres@127.0.0.1:5432/postgres`) and dropped at the end, unless
//! `STOREBOT_BENCH_KEEP` is set (to read plans afterwards). It prints a table;
//! it asserts nothing, so it never fails a build on a slow machine.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait};
use serde_json::json;
use storebot::segments::{Context, Rule, TimeFrame};
use storebot::store;
use storebot::store::membership::{recompute, refresh};
use storebot_config::{DatabaseSettings, DatabaseUrl};
use storebot_entity::{answer_option, customer, order, product, question, segment, variant};

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

    // Customers, answers, orders and items: generated inside the database, each value a
    // deterministic function of the row's number (see `random_below`), so both databases get
    // the same shop without a row crossing the connection.
    let backend = db.get_database_backend();
    let languages = ["en", "en-GB", "de", "fr", "es", "pt-BR"];
    let language_list = values_list(
        languages
            .iter()
            .enumerate()
            .map(|(index, code)| format!("({index}, '{code}')")),
    );
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
    let status_list = values_list(
        statuses
            .iter()
            .enumerate()
            .map(|(index, status)| format!("({index}, '{status}')")),
    );
    let option_list = |options: &[i64]| {
        values_list(
            options
                .iter()
                .enumerate()
                .map(|(index, id)| format!("({index}, {id})")),
        )
    };
    let variant_list = values_list(
        variants
            .iter()
            .enumerate()
            .map(|(index, (product, variant))| format!("({index}, {product}, {variant})")),
    );
    let dropped = drop_secondary_indexes(db).await?;
    let now_seconds = now().timestamp();
    let at = |seconds: &str| timestamp(backend, &format!("{now_seconds} - ({seconds})"));
    for (low, high) in chunks(options.customers, 1_000_000) {
        let hours = format!("({} + 1)", random_below("g.i", 1, 400 * 24));
        bulk(
            db,
            &format!(
                "{with}, language(k, code) AS ({language_list}) \
             INSERT INTO customer (id, telegram_user_id, chat_id, first_name, language_code, \
             first_interaction_at, last_interaction_at, messages_opt_out) \
             SELECT g.i, g.i, g.i, 'Shopper ' || g.i, language.code, {first}, {last}, FALSE \
             FROM {from} JOIN language ON language.k = {language}",
                with = series_with(backend, low, high),
                from = series_from(backend),
                first = at(&format!("{hours} * 3600")),
                last = at(&format!(
                    "{hours} * 3600 - ({} % ({hours} + 1)) * 3600",
                    random_below("g.i", 2, 1 << 24)
                )),
                language = random_below("g.i", 3, 6),
            ),
        )
        .await?;
        for (question, list, salt, share) in [
            (questions[0], option_list(&all_options[0]), 4, 1),
            (questions[1], option_list(&all_options[1]), 6, 2),
        ] {
            bulk(
                db,
                &format!(
                    "{with}, answer_option_k(k, id) AS ({list}) \
                 INSERT INTO customer_answer (customer_id, question_id, option_id, answered_at) \
                 SELECT g.i, {question}, answer_option_k.id, {answered} \
                 FROM {from} JOIN answer_option_k ON answer_option_k.k = {option} \
                 WHERE {chosen} = 0",
                    with = series_with(backend, low, high),
                    from = series_from(backend),
                    answered = at("0"),
                    option = random_below("g.i", salt, 4),
                    chosen = random_below("g.i", salt + 1, share),
                ),
            )
            .await?;
        }
    }

    // Orders, one item each; 10% cancelled; placed over the last two years.
    for (low, high) in chunks(options.orders, 1_000_000) {
        bulk(
            db,
            &format!(
                "{with}, status_k(k, status) AS ({status_list}) \
             INSERT INTO orders (id, customer_id, status, total, discount_total, currency, \
             placed_at, idempotency_key) \
             SELECT g.i, {customer} + 1, status_k.status, 500 + {total}, 0, 'EUR', {placed}, \
             'bench-' || g.i \
             FROM {from} JOIN status_k ON status_k.k = {status}",
                with = series_with(backend, low, high),
                from = series_from(backend),
                customer = random_below("g.i", 7, options.customers),
                total = random_below("g.i", 8, 50_000),
                placed = at(&format!("{} * 60", random_below("g.i", 9, 730 * 24 * 60))),
                status = random_below("g.i", 10, 10),
            ),
        )
        .await?;
        bulk(
            db,
            &format!(
                "WITH variant_k(k, product_id, variant_id) AS ({variant_list}) \
             INSERT INTO order_item (order_id, variant_id, product_id, sku, title, quantity, \
             unit_price) \
             SELECT orders.id, variant_k.variant_id, variant_k.product_id, 'SKU', 'Item', 1, \
             orders.total \
             FROM orders JOIN variant_k ON variant_k.k = {variant} \
             WHERE orders.id BETWEEN {low} AND {high}",
                variant = random_below("orders.id", 11, 60),
            ),
        )
        .await?;
    }
    for definition in dropped {
        db.execute_unprepared(&definition).await?;
    }
    if backend == sea_orm::DbBackend::Postgres {
        // The explicit ids above bypassed the sequences; later inserts must not collide.
        for table in ["customer", "orders"] {
            db.execute_unprepared(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                 (SELECT COALESCE(MAX(id), 1) FROM {table}))"
            ))
            .await?;
        }
    }
    db.execute_unprepared("ANALYZE").await?;
    Ok(Shop {
        options: all_options[0].clone(),
        second_options: all_options[1].clone(),
        questions: (questions[0], questions[1]),
        products,
    })
}

/// Runs one generating statement in its own transaction; on PostgreSQL with the foreign-key
/// triggers off (`session_replication_role = replica`, for this transaction only): every
/// reference the generator writes exists by construction, and checking 10M of them one row
/// at a time would dominate the generation.
async fn bulk(db: &DatabaseConnection, sql: &str) -> anyhow::Result<()> {
    let txn = store::begin_write(db).await?;
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        txn.execute_unprepared("SET LOCAL session_replication_role = replica")
            .await?;
    }
    txn.execute_unprepared(sql).await?;
    txn.commit().await?;
    Ok(())
}

/// On PostgreSQL, drops the secondary indexes of the order tables (those not backing a
/// constraint) and returns their definitions, to be created again once the rows are in:
/// building an index over 10M rows at once is far cheaper than inserting into it row by row
/// in random key order. Nothing on SQLite.
async fn drop_secondary_indexes(db: &DatabaseConnection) -> anyhow::Result<Vec<String>> {
    if db.get_database_backend() != sea_orm::DbBackend::Postgres {
        return Ok(Vec::new());
    }
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT indexname, indexdef FROM pg_indexes \
             WHERE schemaname = current_schema() AND tablename IN ('orders', 'order_item') \
             AND indexname NOT IN (SELECT conname FROM pg_constraint)",
        ))
        .await?;
    let mut definitions = Vec::new();
    for row in rows {
        let name: String = row.try_get("", "indexname")?;
        db.execute_unprepared(&format!("DROP INDEX \"{name}\""))
            .await?;
        definitions.push(row.try_get("", "indexdef")?);
    }
    Ok(definitions)
}

/// `[1, total]` in ranges of at most `size`, inclusive.
fn chunks(total: u64, size: u64) -> Vec<(u64, u64)> {
    (0..total.div_ceil(size))
        .map(|chunk| (chunk * size + 1, Ord::min((chunk + 1) * size, total)))
        .collect()
}

fn values_list(rows: impl Iterator<Item = String>) -> String {
    format!("VALUES {}", rows.collect::<Vec<_>>().join(", "))
}

/// The opening `WITH` of a generating statement: on SQLite the row numbers `g(i)` from `low`
/// to `high` as a recursive CTE, on PostgreSQL a placeholder CTE (the numbers come from
/// `generate_series` in [`series_from`]).
fn series_with(backend: sea_orm::DbBackend, low: u64, high: u64) -> String {
    match backend {
        sea_orm::DbBackend::Postgres => {
            format!("WITH RECURSIVE bounds(low, high) AS (SELECT {low}::bigint, {high}::bigint)")
        }
        _ => format!(
            "WITH RECURSIVE g(i) AS (SELECT {low} UNION ALL SELECT i + 1 FROM g WHERE i < {high})"
        ),
    }
}

fn series_from(backend: sea_orm::DbBackend) -> &'static str {
    match backend {
        sea_orm::DbBackend::Postgres => {
            "bounds CROSS JOIN LATERAL generate_series(bounds.low, bounds.high) AS g(i)"
        }
        _ => "g",
    }
}

/// A SQL expression for a pseudo-random integer in `[0, bound)`, a deterministic function of
/// the integer expression `row` and `salt`, identical on SQLite and PostgreSQL: a Weyl step
/// then two rounds of middle-square mixing, every intermediate below 2^63 so neither
/// database overflows (row numbers up to about 10^12).
fn random_below(row: &str, salt: u64, bound: u64) -> String {
    let seed = format!(
        "(({row}) * 40503 + {}) % 2147483648",
        salt * 2_654_435 + 12_345
    );
    let round = |x: &str| format!("((({x}) * ({x})) / 32768 + ({x}) * 7 + {salt}) % 2147483648");
    format!("({} % {})", round(&round(&seed)), Ord::max(bound, 1))
}

/// A timestamp column value `seconds` (a SQL expression) after the Unix epoch, stored as the
/// store writes them: `timestamptz` on PostgreSQL, RFC 3339 text on SQLite.
fn timestamp(backend: sea_orm::DbBackend, seconds: &str) -> String {
    match backend {
        sea_orm::DbBackend::Postgres => format!("to_timestamp({seconds})"),
        _ => format!("strftime('%Y-%m-%dT%H:%M:%S+00:00', {seconds}, 'unixepoch')"),
    }
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
    status_mib("VmHWM:")
}

/// Resident set size now, in MiB (Linux).
fn rss_mib() -> Option<f64> {
    status_mib("VmRSS:")
}

fn status_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
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
    rss_before: Option<f64>,
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
    eprintln!(
        "{database}: floor ({} frames) in {:.1} s",
        frames.len(),
        floor_time.as_secs_f64()
    );
    reset_peak_rss();
    // What the process already holds (the floor's rows, freed but kept by the allocator),
    // so that the peak below shows what the recompute adds.
    let rss_before = rss_mib();
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
    eprintln!(
        "{database}: steady recompute in {:.1} s",
        steady_time.as_secs_f64()
    );
    let peak_rss = peak_rss_mib();
    std::hint::black_box(steady.joined);

    let ids = customer_ids(&db).await?;
    let mut random = Random(42);
    let mut times = Vec::with_capacity(options.refreshes);
    for _ in 0..options.refreshes {
        let customer = ids[usize::try_from(random.below(ids.len() as u64))?];
        let started = Instant::now();
        refresh::refresh_customer(&db, &context, customer).await?;
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
        rss_before,
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
                // Named after the database the URL names (unless that is `postgres`), so a
                // run killed before its cleanup leaves a database that is easy to attribute.
                let prefix = match url.path().trim_start_matches('/') {
                    "" | "postgres" => "storebot_bench",
                    named => named,
                }
                .to_owned();
                let name = format!("{prefix}_{}", std::process::id());
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
                if std::env::var_os("STOREBOT_BENCH_KEEP").is_some() {
                    // For reading plans afterwards (`EXPLAIN ANALYZE`); drop it by hand.
                    eprintln!("kept the bench database {name}");
                } else {
                    admin
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\""))
                        .await?;
                }
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
        "| database | data generation | floor ({} frames) | first recompute (joins) | steady recompute | steady / floor | refresh p50 | refresh p99 | RSS before → peak during recompute |",
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
            match (row.rss_before, row.peak_rss) {
                (Some(before), Some(peak)) => format!("{before:.0} → {peak:.0} MiB"),
                _ => "n/a".to_owned(),
            },
        );
    }
    Ok(())
}
