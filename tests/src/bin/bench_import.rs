//! Benchmark of the admin tool's imports and of `apply`, through the real `storebot-admin`
//! binary as a merchant runs it: a catalog file (20,000 rows by default, 4 variants a product)
//! imported into an empty store, imported again unchanged, imported again with every price
//! changed, and then an order history (100,000 rows by default) over that catalog. Then the
//! store's document is exported, applied back unchanged (one pass, which finds nothing to
//! do), and a document restricting every tenth product to a segment is applied (the dry-run
//! pass and the real one). Each time is the whole command: start, reading and checking the
//! file, and the one write transaction. `storebot-admin migrate` on the same database is timed
//! too, as the floor every command pays (start and connect).
//!
//! ```sh
//! cargo run -p storebot-tests --bin bench_import -- --catalog 20000 --orders 100000 \
//!     --database both
//! ```
//!
//! `--admin PATH` (repeatable) times other builds of the admin tool in the same run, to compare
//! a change with what it replaces; by default the `storebot-admin` built beside this bench.
//! PostgreSQL: a fresh database is created next to `STOREBOT_BENCH_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) for each admin tool and dropped at the end.
//! It prints a table (for export and apply, the rows are the catalog's products); it asserts
//! that every command succeeded and that each apply found what it should to change, never a
//! speed.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use sea_orm::ConnectionTrait;
use storebot::store;
use storebot_config::{DatabaseSettings, DatabaseUrl};

struct Options {
    catalog: usize,
    orders: usize,
    databases: Vec<&'static str>,
    admins: Vec<PathBuf>,
}

fn parse_options() -> anyhow::Result<Options> {
    let mut options = Options {
        catalog: 20_000,
        orders: 100_000,
        databases: vec!["sqlite", "postgres"],
        admins: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--catalog" => options.catalog = value.parse()?,
            "--orders" => options.orders = value.parse()?,
            "--admin" => options.admins.push(PathBuf::from(value)),
            "--database" => {
                options.databases = match value.as_str() {
                    "sqlite" => vec!["sqlite"],
                    "postgres" => vec!["postgres"],
                    "both" => vec!["sqlite", "postgres"],
                    other => bail!("--database takes sqlite, postgres or both, not {other}"),
                }
            }
            other => {
                bail!("unknown flag {other}: use --catalog, --orders, --admin, --database")
            }
        }
    }
    ensure!(
        options.catalog >= 4,
        "--catalog must be at least 4 (a product has 4 variants)"
    );
    if options.admins.is_empty() {
        options
            .admins
            .push(storebot_tests::binary("storebot-admin"));
    }
    for admin in &mut options.admins {
        ensure!(
            admin.is_file(),
            "{} is not built: run `cargo build --workspace --bins` first",
            admin.display()
        );
        // The commands run in the files' directory, where a relative path would not lead.
        *admin = admin
            .canonicalize()
            .with_context(|| format!("can't find {}", admin.display()))?;
    }
    Ok(options)
}

/// The catalog: 4 variants per product, 50 categories, prices from 1.00 up; `bump` adds to
/// every price, for a re-import that changes every variant.
fn catalog_csv(rows: usize, bump: u64) -> String {
    let mut text = String::from("sku,product,variant,price,stock,category,brand,description\n");
    for row in 0..rows {
        let product = row / 4;
        let cents = 100 + (row as u64 * 37) % 5_000 + bump;
        let _ = writeln!(
            text,
            "SKU-{row:06},Product {product:05},Size {},{}.{:02},{},Category {:02},Brand {},\"Tea, \"\"loose\"\", {product}\"",
            row % 4,
            cents / 100,
            cents % 100,
            10 + row % 90,
            product % 50,
            product % 7,
        );
    }
    text
}

/// The order history: 2 items per order, one shopper for every 10 orders, over the catalog's
/// SKUs, in a year of days.
fn orders_csv(rows: usize, catalog: usize) -> String {
    let mut text = String::from("order,customer,name,placed_at,status,sku,quantity,unit_price\n");
    for row in 0..rows {
        let order = row / 2;
        let customer = 7_000_000 + order / 10;
        let day = 1 + order % 28;
        let month = 1 + (order / 28) % 12;
        let _ = writeln!(
            text,
            "H-{order:07},{customer},Shopper {customer},2025-{month:02}-{day:02}T10:{:02}:00Z,delivered,SKU-{:06},{},{}.50",
            order % 60,
            (row * 7919) % catalog,
            1 + row % 3,
            2 + row % 40,
        );
    }
    text
}

/// The document `apply` is timed with: every tenth product of the catalog restricted to the
/// segment `bench vip`, the rest open to all (as they are after the import).
fn availability_toml(products: usize) -> String {
    let mut text = String::new();
    for product in (0..products).step_by(10) {
        let _ = writeln!(
            text,
            "[[availability]]\nproduct = \"Product {product:05}\"\nsegments = [\"bench vip\"]\n"
        );
    }
    text
}

/// One timed command of the admin tool on `url`, with what it printed (checked, not shown).
fn time(admin: &Path, url: &str, dir: &Path, args: &[&str]) -> anyhow::Result<(Duration, String)> {
    let started = Instant::now();
    let output = Command::new(admin)
        .args(args)
        .current_dir(dir)
        .env("STOREBOT_DATABASE__URL", url)
        .env_remove("STOREBOT_CONFIG")
        .output()
        .with_context(|| format!("can't run {}", admin.display()))?;
    let elapsed = started.elapsed();
    ensure!(
        output.status.success(),
        "`storebot-admin {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok((
        elapsed,
        String::from_utf8_lossy(&output.stdout).into_owned(),
    ))
}

struct Figure {
    database: &'static str,
    admin: String,
    step: &'static str,
    rows: usize,
    took: Duration,
}

/// Every step on one fresh database.
fn bench(
    database: &'static str,
    url: &str,
    admin: &Path,
    files: &Path,
    options: &Options,
) -> anyhow::Result<Vec<Figure>> {
    let label = admin.parent().and_then(Path::file_name).map_or_else(
        || admin.display().to_string(),
        |dir| dir.to_string_lossy().into_owned(),
    );
    let mut figures = Vec::new();
    let mut step = |step: &'static str, rows: usize, args: &[&str]| -> anyhow::Result<String> {
        let (took, printed) = time(admin, url, files, args)?;
        figures.push(Figure {
            database,
            admin: label.clone(),
            step,
            rows,
            took,
        });
        Ok(printed)
    };
    // The first run migrates; the second is the floor every command pays.
    time(admin, url, files, &["migrate"])?;
    step(
        "start and connect (migrate, nothing to do)",
        0,
        &["migrate"],
    )?;
    step(
        "catalog, new",
        options.catalog,
        &["catalog", "import", "catalog.csv"],
    )?;
    step(
        "catalog, unchanged",
        options.catalog,
        &["catalog", "import", "catalog.csv"],
    )?;
    step(
        "catalog, every price changed",
        options.catalog,
        &["catalog", "import", "catalog-repriced.csv"],
    )?;
    step(
        "orders",
        options.orders,
        &["orders", "import", "orders.csv"],
    )?;
    let products = options.catalog.div_ceil(4);
    time(
        admin,
        url,
        files,
        &[
            "segments",
            "create",
            "--name",
            "bench vip",
            "--kind",
            "manual",
        ],
    )?;
    step("export", products, &["export", "--output", "config.toml"])?;
    let unchanged = step(
        "apply, unchanged",
        products,
        &["apply", "config.toml", "--yes"],
    )?;
    ensure!(
        unchanged.starts_with("Nothing to change"),
        "applying the exported document changed something: {unchanged}"
    );
    let changed = step(
        "apply, 10% restricted",
        products,
        &["apply", "availability.toml", "--yes"],
    )?;
    let expected = format!("{} change(s):", products.div_ceil(10));
    ensure!(
        changed.starts_with(&expected),
        "the availability document should make {expected}, not: {changed}"
    );
    Ok(figures)
}

fn settings(url: &str) -> DatabaseSettings {
    DatabaseSettings {
        url: DatabaseUrl::new(url),
        max_connections: 1,
        busy_timeout: Duration::from_secs(30),
        connect_timeout: Duration::from_secs(10),
        retry_initial: Duration::from_secs(1),
        retry_max: Duration::from_secs(30),
        retry_for: Duration::ZERO,
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = parse_options()?;
    let files = tempfile::tempdir()?;
    std::fs::write(
        files.path().join("catalog.csv"),
        catalog_csv(options.catalog, 0),
    )?;
    std::fs::write(
        files.path().join("catalog-repriced.csv"),
        catalog_csv(options.catalog, 1),
    )?;
    std::fs::write(
        files.path().join("orders.csv"),
        orders_csv(options.orders, options.catalog),
    )?;
    std::fs::write(
        files.path().join("availability.toml"),
        availability_toml(options.catalog.div_ceil(4)),
    )?;
    let mut figures = Vec::new();
    for (index, admin) in options.admins.iter().enumerate() {
        for &database in &options.databases {
            if database == "sqlite" {
                let dir = tempfile::tempdir()?;
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("bench.db").display()
                );
                figures.extend(bench("SQLite", &url, admin, files.path(), &options)?);
                continue;
            }
            let admin_url = std::env::var("STOREBOT_BENCH_POSTGRES_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
            let mut url = url::Url::parse(&admin_url)?;
            let name = format!("storebot_bench_import_{}_{index}", std::process::id());
            let server = store::connect(&settings(&admin_url)).await?;
            server
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await?;
            url.set_path(&format!("/{name}"));
            let outcome = bench("PostgreSQL", url.as_str(), admin, files.path(), &options);
            server
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await?;
            figures.extend(outcome?);
        }
    }
    println!(
        "{} catalog rows, {} order rows, profile {}",
        options.catalog,
        options.orders,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    println!("| database | admin tool | step | rows | seconds | rows/s |");
    println!("|---|---|---|---:|---:|---:|");
    for figure in &figures {
        let seconds = figure.took.as_secs_f64();
        let rate = if figure.rows == 0 {
            "–".to_owned()
        } else {
            format!("{:.0}", figure.rows as f64 / seconds.max(f64::EPSILON))
        };
        println!(
            "| {} | {} | {} | {} | {:.2} | {} |",
            figure.database, figure.admin, figure.step, figure.rows, seconds, rate
        );
    }
    Ok(())
}
