//! Soak run: the real `storebot` binary on SQLite against the fake Bot API on loopback, under
//! mixed shopper traffic and frequent recompute ticks for `--minutes`, sampling the bot
//! process's memory (RSS from `/proc/<pid>/status`). Prints a table per minute (updates,
//! throughput, p50/p99 latency, RSS) and the totals: errors (a reply that did not come within
//! 30 s or a step that could not be played), ERROR/WARN lines in the bot's log, recompute runs
//! (and failed ones), RSS first/max/last. Exits non-zero when there was any error.
//!
//! ```sh
//! cargo build -p storebot -p storebot-tests --bin storebot --bin soak
//! target/debug/soak [--minutes 10] [--shoppers 20] [--rate 40] [--refresh 10s] [--sample 10]
//! ```
//!
//! Traffic: `--shoppers` simulated shoppers at once, paced at `--rate` updates per second in
//! all. Each shopper makes a first visit as a new Telegram user (the 17-update journey of
//! `storebot_tests::shopper::JOURNEY`: registration, catalog, cart, checkout, an order, search,
//! history) and then three returning visits (`BROWSE`: catalog, search, history, menu), then
//! starts over as another new user, so the customer and order tables grow through the run as
//! in a live shop. `segments.refresh_interval` is `--refresh`, so the full recompute runs many
//! times under traffic. Linux only (RSS from `/proc`).

// A bench binary: a failed set-up should stop it with the reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use storebot_tests::fake_telegram::{FakeTelegram, TEST_TOKEN, TestUser};
use storebot_tests::shopper::{BROWSE, JOURNEY, millis, percentile, play_step};

/// How long one reply may take before it counts as an error.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

struct Options {
    minutes: f64,
    shoppers: usize,
    rate: f64,
    refresh: String,
    sample: Duration,
}

fn options() -> Options {
    let mut options = Options {
        minutes: 10.0,
        shoppers: 20,
        rate: 40.0,
        refresh: "10s".to_owned(),
        sample: Duration::from_secs(10),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_default();
        match flag.as_str() {
            "--minutes" => options.minutes = value.parse().expect("--minutes N (may be 0.5)"),
            "--shoppers" => options.shoppers = value.parse().expect("--shoppers N"),
            "--rate" => options.rate = value.parse().expect("--rate UPDATES_PER_SECOND"),
            "--refresh" => options.refresh = value,
            "--sample" => {
                options.sample = Duration::from_secs(value.parse().expect("--sample SECONDS"));
            }
            other => panic!("unknown option {other}; see the header of soak.rs"),
        }
    }
    options
}

/// Everything measured, shared by the shoppers and the sampler.
#[derive(Default)]
struct Record {
    /// (seconds since the start, latency) of every step played.
    steps: Vec<(f64, Duration)>,
    /// (seconds since the start, what went wrong).
    errors: Vec<(f64, String)>,
    /// (seconds since the start, RSS in KiB).
    rss: Vec<(f64, u64)>,
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = options();
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("soak.db").display());
    let settings =
        storebot::Settings::load_from(None, [("STOREBOT_DATABASE__URL".to_owned(), url.clone())])
            .expect("settings");
    let db = storebot::store::connect_and_migrate(&settings.database)
        .await
        .expect("database");
    storebot_tests::shopper::demo_shop(&db)
        .await
        .expect("the demo shop");

    let fake = Arc::new(FakeTelegram::start().await.expect("fake Bot API"));
    let log_path = dir.path().join("storebot.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let mut bot = tokio::process::Command::from(storebot_tests::command("storebot", dir.path()))
        .arg("run")
        .env("STOREBOT_TELEGRAM__TOKEN", TEST_TOKEN)
        .env("STOREBOT_TELEGRAM__API_URL", fake.url())
        .env("STOREBOT_DATABASE__URL", &url)
        .env("STOREBOT_SEGMENTS__REFRESH_INTERVAL", &options.refresh)
        .env("STOREBOT_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("the storebot binary");
    let pid = bot.id().expect("a running bot");

    // Warm-up, unmeasured: the bot is up, connections are open, statements prepared.
    let warm_up = TestUser::new(1, "Warm-up").language("en");
    let mut last = None;
    for &step in JOURNEY {
        play_step(
            &fake,
            &warm_up,
            step,
            &mut last,
            None,
            Duration::from_secs(60),
        )
        .await
        .expect("the warm-up journey");
    }

    let runs_before = storebot_entity::recompute_run::Entity::find()
        .count(&db)
        .await
        .expect("recompute runs");
    let scheduled_before = scheduled_runs(&db).await;
    println!(
        "soak: {} min, {} shoppers, {} updates/s, recompute every {}, storebot pid {pid} \
         (debug build unless built otherwise)",
        options.minutes, options.shoppers, options.rate, options.refresh
    );
    let record = Arc::new(Mutex::new(Record::default()));
    let started = Instant::now();
    let duration = Duration::from_secs_f64(options.minutes * 60.0);

    let sampler = {
        let record = Arc::clone(&record);
        let every = options.sample;
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            while started.elapsed() <= duration {
                ticker.tick().await;
                if let Some(kib) = rss_kib(pid) {
                    let at = started.elapsed().as_secs_f64();
                    record.lock().unwrap().rss.push((at, kib));
                }
            }
        })
    };

    let interval = Duration::from_secs_f64(options.shoppers as f64 / options.rate.max(0.1));
    let mut shoppers = Vec::new();
    for index in 0..options.shoppers {
        let fake = Arc::clone(&fake);
        let record = Arc::clone(&record);
        shoppers.push(tokio::spawn(async move {
            // Staggered starts spread the load evenly.
            let offset = interval.mul_f64(index as f64 / options.shoppers as f64);
            let mut ticker =
                tokio::time::interval_at(tokio::time::Instant::now() + offset, interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut visit = 0_i64;
            'visits: while started.elapsed() < duration {
                visit += 1;
                let user =
                    TestUser::new(10_000_000 * (index as i64 + 1) + visit, "Soak").language("en");
                let mut last = None;
                let steps = JOURNEY
                    .iter()
                    .chain(BROWSE.iter().cycle().take(3 * BROWSE.len()));
                for &step in steps {
                    if started.elapsed() >= duration {
                        break 'visits;
                    }
                    ticker.tick().await;
                    let result =
                        play_step(&fake, &user, step, &mut last, None, REPLY_TIMEOUT).await;
                    let at = started.elapsed().as_secs_f64();
                    let mut record = record.lock().unwrap();
                    match result {
                        Ok(latency) => record.steps.push((at, latency)),
                        Err(error) => {
                            record.errors.push((at, format!("{error:#}")));
                            // This user's dialogue is in an unknown state: start over as
                            // another one.
                            continue 'visits;
                        }
                    }
                }
            }
        }));
    }
    for shopper in shoppers {
        shopper.await.expect("a shopper");
    }
    let elapsed = started.elapsed();
    sampler.await.expect("the sampler");
    if let Some(kib) = rss_kib(pid) {
        record
            .lock()
            .unwrap()
            .rss
            .push((elapsed.as_secs_f64(), kib));
    }

    // Stop the bot as a service manager does and read what it logged.
    let _ = tokio::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await;
    let status = tokio::time::timeout(Duration::from_secs(60), bot.wait()).await;
    let exit = match status {
        Ok(Ok(status)) => status.to_string(),
        _ => {
            let _ = bot.kill().await;
            "did not stop within 60 s (killed)".to_owned()
        }
    };
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    let error_lines: Vec<&str> = log
        .lines()
        .filter(|line| line.contains(" ERROR "))
        .collect();
    let warn_lines = log.lines().filter(|line| line.contains(" WARN ")).count();
    let runs = storebot_entity::recompute_run::Entity::find()
        .count(&db)
        .await
        .expect("recompute runs")
        - runs_before;
    let scheduled = scheduled_runs(&db).await - scheduled_before;
    let failed_runs = storebot_entity::recompute_run::Entity::find()
        .filter(storebot_entity::recompute_run::Column::Error.is_not_null())
        .count(&db)
        .await
        .expect("recompute runs");
    let customers = storebot_entity::customer::Entity::find()
        .count(&db)
        .await
        .expect("customers");
    let orders = storebot_entity::order::Entity::find()
        .count(&db)
        .await
        .expect("orders");

    let record = record.lock().unwrap();
    println!();
    println!("| minute | updates | updates/s | p50 ms | p99 ms | max ms | RSS MiB (end) |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    let minutes = (elapsed.as_secs_f64() / 60.0).ceil() as usize;
    for minute in 0..minutes {
        let (from, to) = (minute as f64 * 60.0, (minute + 1) as f64 * 60.0);
        let mut latencies: Vec<Duration> = record
            .steps
            .iter()
            .filter(|(at, _)| *at >= from && *at < to)
            .map(|(_, latency)| *latency)
            .collect();
        latencies.sort();
        let span = (to.min(elapsed.as_secs_f64()) - from).max(1.0);
        let rss = record
            .rss
            .iter()
            .rfind(|(at, _)| *at < to)
            .map(|(_, kib)| format!("{:.1}", *kib as f64 / 1024.0))
            .unwrap_or_default();
        println!(
            "| {} | {} | {:.1} | {} | {} | {} | {rss} |",
            minute + 1,
            latencies.len(),
            latencies.len() as f64 / span,
            millis(percentile(&latencies, 0.50)),
            millis(percentile(&latencies, 0.99)),
            millis(latencies.last().copied().unwrap_or_default()),
        );
    }
    let mut all: Vec<Duration> = record.steps.iter().map(|(_, latency)| *latency).collect();
    all.sort();
    let rss: Vec<u64> = record.rss.iter().map(|(_, kib)| *kib).collect();
    let mib = |kib: Option<&u64>| format!("{:.1}", kib.copied().unwrap_or(0) as f64 / 1024.0);
    println!();
    println!("| total | value |");
    println!("|---|---:|");
    println!("| duration | {:.1} min |", elapsed.as_secs_f64() / 60.0);
    println!("| updates answered | {} |", all.len());
    println!(
        "| throughput | {:.1} updates/s |",
        all.len() as f64 / elapsed.as_secs_f64()
    );
    println!("| p50 latency | {} ms |", millis(percentile(&all, 0.50)));
    println!("| p99 latency | {} ms |", millis(percentile(&all, 0.99)));
    println!(
        "| max latency | {} ms |",
        millis(all.last().copied().unwrap_or_default())
    );
    println!("| errors (no or wrong reply) | {} |", record.errors.len());
    println!("| bot log ERROR lines | {} |", error_lines.len());
    println!("| bot log WARN lines | {warn_lines} |");
    println!("| recompute runs (of them scheduled) | {runs} ({scheduled}) |");
    println!("| recompute runs with an error | {failed_runs} |");
    println!("| customers / orders at the end | {customers} / {orders} |");
    println!(
        "| RSS MiB first / max / last | {} / {} / {} |",
        mib(rss.first()),
        mib(rss.iter().max()),
        mib(rss.last())
    );
    println!("| bot exit | {exit} |");
    for (at, error) in record.errors.iter().take(10) {
        eprintln!("error at {at:.1} s: {error}");
    }
    for line in error_lines.iter().take(10) {
        eprintln!("bot: {line}");
    }
    if record.errors.is_empty() && error_lines.is_empty() && failed_runs == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn scheduled_runs(db: &sea_orm::DatabaseConnection) -> u64 {
    storebot_entity::recompute_run::Entity::find()
        .filter(storebot_entity::recompute_run::Column::Trigger.eq("schedule"))
        .count(db)
        .await
        .expect("recompute runs")
}
