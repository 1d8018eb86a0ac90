//! Bot throughput: many simulated shoppers at once against the fake Bot API on loopback,
//! measuring updates handled per second and the latency from an update being pushed to its
//! reply being seen, for storebot on SQLite and on PostgreSQL and, as the framework's floor,
//! a minimal teloxide echo bot on the same fake server in the same run. Prints a table.
//!
//! ```sh
//! cargo run -p storebot-tests --bin bench_bot -- [--shoppers 50] [--journeys 4] \
//!     [--rate 200] [--postgres postgres://postgres@127.0.0.1:5432/storebot_bench]
//! ```
//!
//! `--postgres` names a disposable database (it is migrated and filled with customers);
//! without it only SQLite is measured. Each setup runs twice: saturated (every shopper sends
//! its next update as soon as the reply arrives) and paced at `--rate` updates per second in
//! all. A benchmark, not a test: it asserts nothing and only reports.

// A bench binary: a failed set-up should stop it with the reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use storebot::Settings;
use storebot::conversation::{Button, Conversation, Input, Markup, Outcome, Reply, TelegramUser};
use storebot::telegram::Dialogue;
use storebot_tests::bot::{RunningBot, settings, spawn_bot};
use storebot_tests::fake_telegram::{FakeTelegram, SentMessage, TestUser};
use teloxide::dispatching::UpdateFilterExt;
use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};
use teloxide::update_listeners::Polling;

/// One step of a shopper's journey.
#[derive(Clone, Copy)]
enum Step {
    /// Send this text (commands included).
    Text(&'static str),
    /// Press the button with this label on the last message received.
    Press(&'static str),
}

/// The journey every shopper repeats. Today's dialogue is a stub, so this is the shape of a
/// visit (start, a search, two page turns, the cart) against the stand-in reply below; when
/// the real dialogue lands, write its labels here (e.g. `Press("18–25")`, `Press("Catalog")`)
/// and drop [`StubAware`]'s fallback.
const JOURNEY: &[Step] = &[
    Step::Text("/start"),
    Step::Text("green tea"),
    Step::Press("Next"),
    Step::Press("Next"),
    Step::Text("/cart"),
];

/// How long one reply may take before the bench gives up on it.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

struct Options {
    shoppers: usize,
    journeys: usize,
    rate: u32,
    postgres: Option<String>,
}

fn options() -> Options {
    let mut options = Options {
        shoppers: 50,
        journeys: 4,
        rate: 200,
        postgres: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_default();
        match flag.as_str() {
            "--shoppers" => options.shoppers = value.parse().expect("--shoppers N"),
            "--journeys" => options.journeys = value.parse().expect("--journeys N"),
            "--rate" => options.rate = value.parse().expect("--rate UPDATES_PER_SECOND"),
            "--postgres" => options.postgres = Some(value),
            other => panic!("unknown option {other}; see the header of bench_bot.rs"),
        }
    }
    options
}

/// The real dialogue, plus what stands in for it while it is a stub that answers nothing:
/// the least the real one will do (record the interaction in the database) and one reply
/// with a button, so that latency can be measured.
struct StubAware {
    conversation: Conversation,
    /// Numbers the stand-in replies: an edit to an unchanged text would be refused.
    replies: std::sync::atomic::AtomicU64,
}

impl Dialogue for StubAware {
    async fn handle(&self, sender: &TelegramUser, input: Input, now: DateTime<Utc>) -> Outcome {
        let outcome = Dialogue::handle(&self.conversation, sender, input.clone(), now).await;
        if !outcome.replies.is_empty() {
            return outcome;
        }
        if let Err(error) =
            storebot::store::customers::record_interaction(&self.conversation.db, sender, now).await
        {
            eprintln!("bench: recording the interaction failed: {error}");
        }
        let edit = matches!(input, Input::Button { .. });
        Outcome {
            replies: vec![Reply {
                text: format!(
                    "Reply {} to {input:?}",
                    self.replies
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                ),
                markup: Markup::Inline(vec![vec![Button {
                    label: "Next".into(),
                    data: "bench:next".into(),
                }]]),
                edit,
            }],
            notice: edit.then(|| "ok".to_owned()),
            notifications: Vec::new(),
        }
    }

    async fn ready(&self) -> bool {
        Dialogue::ready(&self.conversation).await
    }
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
}

/// Runs the journey for every shopper at once; `interval` paces each shopper's updates.
async fn drive(
    fake: &Arc<FakeTelegram>,
    shoppers: usize,
    journeys: usize,
    interval: Option<Duration>,
    first_id: i64,
) -> Measured {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for index in 0..shoppers {
        let fake = Arc::clone(fake);
        let user = TestUser::new(first_id + index as i64, "Shopper").language("en");
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
            let mut last: Option<SentMessage> = None;
            for _ in 0..journeys {
                for step in JOURNEY {
                    if let Some(ticker) = ticker.as_mut() {
                        ticker.tick().await;
                    }
                    let pushed = Instant::now();
                    match (step, &last) {
                        (Step::Text(text), _) => {
                            fake.send_text(&user, text);
                        }
                        (Step::Press(label), Some(message)) => {
                            fake.press(&user, message, label)
                                .expect("a button to press");
                        }
                        (Step::Press(label), None) => panic!("nothing to press {label:?} on"),
                    }
                    let reply = fake
                        .next_reply(user.chat_id(), REPLY_TIMEOUT)
                        .await
                        .expect("a reply");
                    latencies.push(pushed.elapsed());
                    last = Some(reply);
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("a shopper"));
    }
    Measured {
        updates: latencies.len(),
        elapsed: started.elapsed(),
        latencies,
    }
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn millis(duration: Duration) -> String {
    format!("{:.1}", duration.as_secs_f64() * 1000.0)
}

async fn measure(
    name: &str,
    options: &Options,
    start: impl Fn(&FakeTelegram) -> RunningBot,
    rows: &mut Vec<[String; 6]>,
) {
    for (mode, interval) in [
        ("saturated".to_owned(), None),
        (
            format!("paced {}/s", options.rate),
            Some(Duration::from_secs_f64(
                options.shoppers as f64 / f64::from(options.rate.max(1)),
            )),
        ),
    ] {
        let fake = Arc::new(FakeTelegram::start().await.expect("fake"));
        let bot = start(&fake);
        // Warm-up: connections opened, the first statements prepared.
        drive(&fake, options.shoppers.min(5), 1, None, 900_000).await;
        let mut measured = drive(&fake, options.shoppers, options.journeys, interval, 1_000).await;
        bot.stop().await.expect("the bot stops cleanly");
        measured.latencies.sort();
        let rate = measured.updates as f64 / measured.elapsed.as_secs_f64();
        let row = [
            name.to_owned(),
            mode,
            format!("{rate:.0}"),
            millis(percentile(&measured.latencies, 0.50)),
            millis(percentile(&measured.latencies, 0.99)),
            millis(measured.latencies.last().copied().unwrap_or_default()),
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

    measure(
        "teloxide echo",
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
    let mut databases = vec![("storebot, SQLite", sqlite)];
    if let Some(postgres) = &options.postgres {
        databases.push(("storebot, PostgreSQL", postgres.clone()));
    }
    for (name, url) in databases {
        let probe = settings_for_db(&url, None);
        let db = storebot::store::connect_and_migrate(&probe.database)
            .await
            .expect("database");
        measure(
            name,
            &options,
            |fake| {
                let settings = settings_for_db(&url, Some(fake));
                let conversation = Conversation::new(db.clone(), Arc::new(settings.clone()));
                spawn_bot(
                    settings,
                    StubAware {
                        conversation,
                        replies: Default::default(),
                    },
                )
            },
            &mut rows,
        )
        .await;
    }

    println!();
    println!("| bot | load | updates/s | p50 ms | p99 ms | max ms |");
    println!("|---|---|---:|---:|---:|---:|");
    for row in rows {
        println!("| {} |", row.join(" | "));
    }
}

fn settings_for_db(url: &str, fake: Option<&FakeTelegram>) -> Settings {
    let database = [("STOREBOT_DATABASE__URL", url)];
    match fake {
        Some(fake) => settings(fake, &database).expect("settings"),
        None => Settings::load_from(
            None,
            database.map(|(key, value)| (key.to_owned(), value.to_owned())),
        )
        .expect("settings"),
    }
}
