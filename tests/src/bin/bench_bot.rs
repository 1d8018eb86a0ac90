//! Bot throughput: many simulated shoppers at once against the fake Bot API on loopback,
//! measuring updates handled per second and the latency from an update being pushed to its
//! last reply being seen, for storebot (`storebot::run`: the real dialogue on the demo shop)
//! on SQLite and on PostgreSQL and, as the framework's floor, a minimal teloxide echo bot on
//! the same fake server in the same run. Prints a table, with the CPU time the process spent
//! per update (bot, fake server and drivers alike), and a second one: the cost of the
//! cheapest statement (`SELECT 1`) through the bot's own pool on each database, the floor
//! under every statement an update sends.
//!
//! ```sh
//! cargo run -p storebot-tests --bin bench_bot -- [--shoppers 50] [--journeys 2] \
//!     [--rate 200] [--postgres postgres://postgres@127.0.0.1:5432/storebot_bench]
//! ```
//!
//! `--postgres` names a server and a base database (created when missing, through the
//! server's `postgres` database): the bench creates a fresh database next to it, fills it with
//! the demo shop, and drops it at the end. `--help` prints the options. Without it only SQLite is
//! measured. Each setup runs twice: saturated (every shopper sends its next update as soon as
//! the reply arrives) and paced at `--rate` updates per second in all. A benchmark, not a
//! test: it asserts nothing beyond the replies it waits for, and only reports.

// A bench binary: a failed set-up should stop it with the reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::ConnectionTrait;
use storebot::Settings;
use storebot_tests::bot::{RunningBot, settings, spawn_run};
use storebot_tests::fake_telegram::{FakeTelegram, SentMessage, TestUser};
use storebot_tests::shopper::{Action, JOURNEY, Until, millis, percentile, play_step};
use teloxide::dispatching::UpdateFilterExt;
use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};
use teloxide::update_listeners::Polling;

/// How long one reply may take before the bench gives up on it.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// Measures storebot's throughput and latency beside a bare teloxide echo bot, against a fake
/// Telegram Bot API on loopback.
#[derive(Debug, clap::Parser)]
#[command(name = "bench_bot")]
struct Options {
    /// Simulated shoppers at once.
    #[arg(long, default_value_t = 50)]
    shoppers: usize,
    /// Journeys each shopper makes.
    #[arg(long, default_value_t = 2)]
    journeys: usize,
    /// Updates per second in all, for the paced run.
    #[arg(long, default_value_t = 200, value_name = "UPDATES_PER_SECOND")]
    rate: u32,
    /// Also measure on PostgreSQL: a server and a base database (created when missing); the
    /// bench works in a fresh database next to it, dropped at the end.
    #[arg(long, value_name = "postgres://USER@HOST:PORT/DB")]
    postgres: Option<String>,
}

/// The options, or the usage: `--help` prints it and exits 0, an unknown or malformed flag
/// prints the error with the usage and exits 2 (clap's convention).
fn options() -> Options {
    <Options as clap::Parser>::parse()
}

/// The framework's floor: echoes texts with a "Next" button, and answers a press by editing
/// the message, with no database and no logic.
fn spawn_echo(settings: &Settings) -> RunningBot {
    let bot = storebot::telegram::bot(&settings.telegram).expect("bot");
    let handler = dptree::entry()
        .branch(
            Update::filter_message().endpoint(|bot: Bot, message: Message| async move {
                let text = message.text().unwrap_or("?").to_owned();
                bot.send_message(message.chat.id, text)
                    .reply_markup(next_button())
                    .await?;
                Ok::<(), teloxide::RequestError>(())
            }),
        )
        .branch(Update::filter_callback_query().endpoint(
            |bot: Bot, query: CallbackQuery| async move {
                bot.answer_callback_query(query.id.clone()).await?;
                if let Some(message) = &query.message {
                    // A new text each time: an unchanged edit is refused.
                    let text = format!("pressed ({})", query.id);
                    bot.edit_message_text(message.chat().id, message.id(), text)
                        .reply_markup(next_button())
                        .await?;
                }
                Ok(())
            },
        ));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let mut dispatcher = Dispatcher::builder(bot.clone(), handler).build();
        let token = dispatcher.shutdown_token();
        let listener = Polling::builder(bot)
            .timeout(Duration::from_secs(10))
            .build();
        tokio::spawn(async move {
            let _ = stopped.await;
            while token.shutdown().is_err() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        dispatcher
            .dispatch_with_listener(listener, LoggingErrorHandler::new())
            .await;
        Ok(())
    });
    RunningBot::from_parts(stop, task)
}

fn next_button() -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new([[InlineKeyboardButton::callback("Next", "echo:next")]])
}

struct Measured {
    updates: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    /// The same latencies by step of [`JOURNEY`], to show where the time goes.
    by_step: Vec<Vec<Duration>>,
}

/// Which bot is driven: storebot follows [`JOURNEY`]'s labels; the echo bot has only its
/// "Next" button and answers every update with exactly one reply.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Driven {
    Storebot,
    Echo,
}

/// Runs the journey for every shopper at once; `interval` paces each shopper's updates. Each
/// journey is a new shopper (ids from `first_id`), so every one starts with registration.
async fn drive(
    fake: &Arc<FakeTelegram>,
    driven: Driven,
    shoppers: usize,
    journeys: usize,
    interval: Option<Duration>,
    first_id: i64,
) -> Measured {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for index in 0..shoppers {
        let fake = Arc::clone(fake);
        tasks.push(tokio::spawn(async move {
            let mut ticker = interval.map(|interval| {
                // Staggered starts spread the load evenly instead of in bursts of one update
                // per shopper.
                let offset = interval.mul_f64(index as f64 / shoppers as f64);
                let mut ticker =
                    tokio::time::interval_at(tokio::time::Instant::now() + offset, interval);
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                ticker
            });
            let mut latencies = Vec::new();
            for journey in 0..journeys {
                let id = first_id + (journey * shoppers + index) as i64;
                let user = TestUser::new(id, "Shopper").language("en");
                let mut last: Option<SentMessage> = None;
                for (step, &(action, until)) in JOURNEY.iter().enumerate() {
                    if let Some(ticker) = ticker.as_mut() {
                        ticker.tick().await;
                    }
                    // The echo bot has one button and answers every update once.
                    let (until, press_instead) = match driven {
                        Driven::Storebot => (until, None),
                        Driven::Echo => (Until::Any, Some("Next")),
                    };
                    let latency = play_step(
                        &fake,
                        &user,
                        (action, until),
                        &mut last,
                        press_instead,
                        REPLY_TIMEOUT,
                    )
                    .await
                    .expect("a reply");
                    latencies.push((step, latency));
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    let mut by_step = vec![Vec::new(); JOURNEY.len()];
    for task in tasks {
        for (step, latency) in task.await.expect("a shopper") {
            latencies.push(latency);
            by_step[step].push(latency);
        }
    }
    Measured {
        updates: latencies.len(),
        elapsed: started.elapsed(),
        latencies,
        by_step,
    }
}

async fn measure(
    name: &str,
    driven: Driven,
    options: &Options,
    start: impl Fn(&FakeTelegram) -> RunningBot,
    rows: &mut Vec<[String; 7]>,
) {
    let modes = [
        ("saturated".to_owned(), None),
        (
            format!("paced {}/s", options.rate),
            Some(Duration::from_secs_f64(
                options.shoppers as f64 / f64::from(options.rate.max(1)),
            )),
        ),
    ];
    for (run, (mode, interval)) in modes.into_iter().enumerate() {
        // Each run has its own shoppers, who are new to the shop (and so register).
        let run = run as i64;
        let fake = Arc::new(FakeTelegram::start().await.expect("fake"));
        let bot = start(&fake);
        // Warm-up: connections opened, the first statements prepared.
        let warm_up = options.shoppers.min(5);
        drive(&fake, driven, warm_up, 1, None, 900_000 + run * 1_000).await;
        let cpu_before = process_cpu();
        let mut measured = drive(
            &fake,
            driven,
            options.shoppers,
            options.journeys,
            interval,
            1_000_000 * (run + 1),
        )
        .await;
        let cpu = cpu_since(cpu_before);
        bot.stop().await.expect("the bot stops cleanly");
        // What each update cost in Bot API calls (warm-up included), on standard error: the
        // fake server's share of the work grows with them.
        let mut calls = std::collections::BTreeMap::<String, usize>::new();
        for call in fake.all_calls() {
            *calls.entry(call.method).or_default() += 1;
        }
        let updates = measured.updates + warm_up * JOURNEY.len();
        let per_update: Vec<String> = calls
            .iter()
            .map(|(method, count)| format!("{method} {:.2}", *count as f64 / updates as f64))
            .collect();
        eprintln!(
            "  {name}, {mode}: Bot API calls per update: {}",
            per_update.join(", ")
        );
        measured.latencies.sort();
        if driven == Driven::Storebot {
            // Where the time goes: each step's median, slowest first, on standard error.
            let mut steps: Vec<(Duration, usize)> = measured
                .by_step
                .iter_mut()
                .enumerate()
                .map(|(step, latencies)| {
                    latencies.sort();
                    (percentile(latencies, 0.50), step)
                })
                .collect();
            steps.sort_by(|a, b| b.cmp(a));
            for (median, step) in steps.iter().take(5) {
                let what = match JOURNEY[*step].0 {
                    Action::Text(text) => format!("send {text:?}"),
                    Action::Press(label) => format!("press {label:?}"),
                };
                eprintln!(
                    "  {name}, {mode}: step {step} ({what}) p50 {} ms",
                    millis(*median)
                );
            }
        }
        let rate = measured.updates as f64 / measured.elapsed.as_secs_f64();
        let row = [
            name.to_owned(),
            mode,
            format!("{rate:.0}"),
            millis(percentile(&measured.latencies, 0.50)),
            millis(percentile(&measured.latencies, 0.99)),
            millis(measured.latencies.last().copied().unwrap_or_default()),
            cpu.map_or("n/a".to_owned(), |cpu| {
                format!("{:.2}", cpu.as_secs_f64() * 1e3 / measured.updates as f64)
            }),
        ];
        eprintln!("{}", row.join(" | "));
        rows.push(row);
    }
}

#[tokio::main]
async fn main() {
    let options = options();
    println!(
        "{} shoppers × {} journeys × {} updates; fake Bot API on loopback",
        options.shoppers,
        options.journeys,
        JOURNEY.len()
    );
    let mut rows = Vec::new();
    let mut floors = Vec::new();

    measure(
        "teloxide echo",
        Driven::Echo,
        &options,
        |fake| spawn_echo(&settings(fake, &[]).expect("settings")),
        &mut rows,
    )
    .await;

    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.db").display()
    );
    let mut databases = vec![("storebot, SQLite", sqlite, None)];
    if let Some(base) = &options.postgres {
        let (url, name) = fresh_postgres_database(base).await;
        databases.push(("storebot, PostgreSQL", url, Some(name)));
    }
    for (name, url, _) in &databases {
        let probe = settings_for_db(url, None);
        let db = storebot::store::connect_and_migrate(&probe.database)
            .await
            .expect("database");
        storebot_tests::shopper::demo_shop(&db)
            .await
            .expect("the demo shop");
        measure(
            name,
            Driven::Storebot,
            &options,
            |fake| spawn_run(settings_for_db(url, Some(fake)), db.clone()),
            &mut rows,
        )
        .await;
        floors.push(statement_floor(name, &db).await);
        let _ = db.close().await;
    }
    if let (Some(base), Some((_, _, Some(database)))) = (&options.postgres, databases.get(1)) {
        drop_postgres_database(base, database).await;
    }

    println!();
    println!("| bot | load | updates/s | p50 ms | p99 ms | max ms | CPU ms/update |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    for row in rows {
        println!("| {} |", row.join(" | "));
    }
    println!();
    println!(
        "| database round trip (`SELECT 1`, {FLOOR_TASKS} at once) | statements/s | CPU µs/statement |"
    );
    println!("|---|---:|---:|");
    for row in floors {
        println!("| {} |", row.join(" | "));
    }
}

/// The CPU time this process has used so far, all threads (the bot, the fake server and the
/// drivers alike; a PostgreSQL server's own processes are not included). Linux only; the
/// clock ticks of `/proc/self/stat` are taken as the kernel's fixed 100 a second.
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name's closing parenthesis start at field 3 (the state);
    // user and system time are fields 14 and 15.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// The CPU time used since `before` (a [`process_cpu`] reading), if both readings exist.
fn cpu_since(before: Option<Duration>) -> Option<Duration> {
    process_cpu()
        .zip(before)
        .map(|(after, before)| after.saturating_sub(before))
}

const FLOOR_TASKS: usize = 50;
const FLOOR_STATEMENTS_PER_TASK: usize = 400;

/// The cost of the cheapest statement through the bot's own pool: `FLOOR_TASKS` tasks each
/// sending `SELECT 1` in turn, as many shoppers' updates would. Every statement an update
/// sends costs at least this much, so it bounds what fewer statements can buy.
async fn statement_floor(name: &str, db: &sea_orm::DatabaseConnection) -> [String; 3] {
    let select_one = || sea_orm::Statement::from_string(db.get_database_backend(), "SELECT 1");
    db.query_one_raw(select_one()).await.expect("SELECT 1");
    let cpu_before = process_cpu();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..FLOOR_TASKS {
        let db = db.clone();
        let statement = select_one();
        tasks.push(tokio::spawn(async move {
            for _ in 0..FLOOR_STATEMENTS_PER_TASK {
                db.query_one_raw(statement.clone()).await.expect("SELECT 1");
            }
        }));
    }
    for task in tasks {
        task.await.expect("a floor task");
    }
    let elapsed = started.elapsed();
    let statements = (FLOOR_TASKS * FLOOR_STATEMENTS_PER_TASK) as f64;
    let cpu = cpu_since(cpu_before);
    [
        name.to_owned(),
        format!("{:.0}", statements / elapsed.as_secs_f64()),
        cpu.map_or("n/a".to_owned(), |cpu| {
            format!("{:.0}", cpu.as_secs_f64() * 1e6 / statements)
        }),
    ]
}

/// The `postgres` database of `base`'s server: where databases are created and dropped, so
/// that `base` itself need not exist yet.
fn maintenance_url(base: &url::Url) -> String {
    let mut url = base.clone();
    url.set_path("/postgres");
    url.to_string()
}

/// Creates `<base>_bench_<pid>` on the server of `base` (and `base` itself when missing);
/// returns its URL and name.
async fn fresh_postgres_database(base: &str) -> (String, String) {
    let mut url = url::Url::parse(base).expect("--postgres takes a postgres:// URL");
    let base_name = url.path().trim_start_matches('/').to_owned();
    assert!(
        !base_name.is_empty() && !base_name.contains('"'),
        "--postgres needs a database name after the server: postgres://USER@HOST:PORT/DB"
    );
    let name = format!("{base_name}_bench_{}", std::process::id());
    let admin = storebot::store::connect(&settings_for_db(&maintenance_url(&url), None).database)
        .await
        .expect("the PostgreSQL server (its `postgres` database)");
    let exists = admin
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT 1 AS found FROM pg_database WHERE datname = $1",
            [base_name.clone().into()],
        ))
        .await
        .expect("the list of databases")
        .is_some();
    if !exists {
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{base_name}\""))
            .await
            .expect("the base database");
        println!("created the database {base_name}");
    }
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .expect("a fresh bench database");
    let _ = admin.close().await;
    url.set_path(&format!("/{name}"));
    (url.to_string(), name)
}

async fn drop_postgres_database(base: &str, name: &str) {
    let base = url::Url::parse(base).expect("--postgres takes a postgres:// URL");
    let admin = storebot::store::connect(&settings_for_db(&maintenance_url(&base), None).database)
        .await
        .expect("the PostgreSQL server");
    if let Err(error) = admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await
    {
        eprintln!("bench: could not drop {name}: {error}");
    }
    let _ = admin.close().await;
}

/// Storebot's settings on `url`: the other `STOREBOT_DATABASE__*` variables of the bench's
/// environment (the pool size, say) apply too.
fn settings_for_db(url: &str, fake: Option<&FakeTelegram>) -> Settings {
    let url_key = "STOREBOT_DATABASE__URL";
    let mut database: Vec<(String, String)> = std::env::vars()
        .filter(|(key, _)| key.starts_with("STOREBOT_DATABASE__") && key != url_key)
        .collect();
    database.push((url_key.to_owned(), url.to_owned()));
    match fake {
        Some(fake) => {
            let pairs: Vec<(&str, &str)> = database
                .iter()
                .map(|(key, value)| (key.as_str(), value.as_str()))
                .collect();
            settings(fake, &pairs).expect("settings")
        }
        None => Settings::load_from(None, database).expect("settings"),
    }
}
