//! Operations through the real binaries: `storebot-admin backup`/`restore` (SQLite, with
//! writes going on; PostgreSQL is pointed at `pg_dump`), webhook mode's `/healthz` report, and
//! logs that never contain a secret. On SQLite and on PostgreSQL (`STOREBOT_TEST_DATABASE_URL`).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, JsonValue, Statement};
use serde_json::{Value, json};
use storebot::testing::TestDb;
use storebot_tests::admin::AdminTool;
use storebot_tests::bot::{BotProcess, free_local_addr, http, settings, spawn_run};
use storebot_tests::fake_telegram::{FakeTelegram, TestUser};
use storebot_tests::shopper::{JOURNEY, play_step};

const WAIT: Duration = Duration::from_secs(30);

/// A token whose secret half is easy to grep for.
const TOKEN: &str = "987654:Tok3n-SeCrEt-part_xyz";
const TOKEN_SECRET_HALF: &str = "Tok3n-SeCrEt-part_xyz";
const WEBHOOK_SECRET: &str = "Hook_SeCrEt-4242";
const DB_PASSWORD: &str = "Pg-SeCrEt-pass-77";

/// Every table's rows (bar the migration ledger), as JSON, in a stable order.
async fn dump(db: &impl ConnectionTrait) -> Vec<(String, Vec<JsonValue>)> {
    let tables = db
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' AND name <> 'seaql_migrations' ORDER BY name",
        ))
        .await
        .unwrap();
    let mut dump = Vec::new();
    for table in tables {
        let name: String = table.try_get_by_index(0).unwrap();
        let rows = JsonValue::find_by_statement(Statement::from_string(
            DbBackend::Sqlite,
            format!("SELECT * FROM \"{name}\" ORDER BY rowid"),
        ))
        .all(db)
        .await
        .unwrap();
        dump.push((name, rows));
    }
    dump
}

async fn dump_file(path: &Path) -> Vec<(String, Vec<JsonValue>)> {
    let db = sea_orm::Database::connect(format!("sqlite://{}?mode=ro", path.display()))
        .await
        .unwrap();
    let dumped = dump(&db).await;
    db.close().await.unwrap();
    dumped
}

fn rows<'a>(dump: &'a [(String, Vec<JsonValue>)], table: &str) -> &'a [JsonValue] {
    dump.iter()
        .find(|(name, _)| name == table)
        .map(|(_, rows)| rows.as_slice())
        .unwrap_or_default()
}

/// SIGTERM, as a service manager stops it: the bot must exit cleanly. Returns its whole log.
async fn stop(bot: BotProcess) -> String {
    let (status, log) = bot.terminate().await.unwrap();
    let log = log.join("\n");
    assert!(status.success(), "{status}: {log}");
    log
}

async fn play_journeys(fake: &FakeTelegram, first_id: i64, count: i64) {
    for id in first_id..first_id + count {
        let user = TestUser::new(id, "Shopper").language("en");
        let mut last = None;
        for &step in JOURNEY {
            play_step(fake, &user, step, &mut last, None, WAIT)
                .await
                .unwrap();
        }
    }
}

// Two workers: the shoppers keep ordering while this test's thread waits for the admin tool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_while_shoppers_order_then_restore_gives_back_that_copy() {
    let test = TestDb::new().await.unwrap();
    let admin = AdminTool::new(test.url());
    let dir = admin.dir();
    if test.is_postgres() {
        // PostgreSQL has its own tools; both commands say which, and change nothing.
        for args in [&["backup", "x.db"][..], &["restore", "x.db", "--yes"]] {
            let message = admin.refused(args, "pg_dump", |admin| {
                (
                    admin.dir().join("x.db").exists(),
                    admin.json(&["orders", "list"]),
                )
            });
            assert!(message.contains("pg_restore"), "{message}");
        }
        assert!(!dir.join("x.db").exists());
        return;
    }
    storebot_tests::shopper::demo_shop(&test.db).await.unwrap();
    let initial_orders = rows(&dump(&test.db).await, "orders").len();
    let url = test.url().to_owned();
    let live = storebot::store::operations::backup::sqlite_file(&test.settings.url).unwrap();
    let fake = Arc::new(FakeTelegram::start().await.unwrap());
    let api = fake.url();
    let bot = BotProcess::start(
        dir,
        &[
            ("STOREBOT_TELEGRAM__TOKEN", TOKEN),
            ("STOREBOT_TELEGRAM__API_URL", &api),
            ("STOREBOT_DATABASE__URL", &url),
        ],
    )
    .unwrap();
    // Shoppers order while the backups are taken.
    let shoppers = {
        let fake = Arc::clone(&fake);
        tokio::spawn(async move { play_journeys(&fake, 5_000, 3).await })
    };
    let backup = dir.join("shop-backup.db");
    let backup_arg = backup.to_str().unwrap();
    let shown = admin.ok(&["backup", backup_arg]);
    assert!(shown.contains("Backed up"), "{shown}");
    // An existing file is never overwritten by accident.
    admin.refused(&["backup", backup_arg], "--force", |_| {
        std::fs::read(&backup).unwrap()
    });
    // Restoring under a running bot is refused and leaves the backup as it was (the live
    // data moves on under the shoppers, so it is no state to compare).
    admin.refused(&["restore", backup_arg, "--yes"], "in use", |_| {
        std::fs::read(&backup).unwrap()
    });
    // Backups taken while the orders go in are each a sound, consistent database.
    let mut during = 0;
    loop {
        during += 1;
        let copy = dir.join(format!("during-{during}.db"));
        admin.ok(&["backup", copy.to_str().unwrap()]);
        storebot::store::operations::backup::check_backup(&copy)
            .await
            .unwrap();
        let db = sea_orm::Database::connect(format!("sqlite://{}?mode=ro", copy.display()))
            .await
            .unwrap();
        let dangling = db
            .query_all_raw(Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA foreign_key_check",
            ))
            .await
            .unwrap();
        assert!(
            dangling.is_empty(),
            "backup {during} has dangling references"
        );
        db.close().await.unwrap();
        if shoppers.is_finished() {
            break;
        }
    }
    shoppers.await.unwrap();
    // A second backup, with --force, replaces the first once the writes are done.
    let report = admin.json(&["backup", backup_arg, "--force"]);
    assert!(report["bytes"].as_u64().unwrap() > 0);
    stop(bot).await;
    test.db.clone().close().await.unwrap();

    let at_backup = dump_file(&backup).await;
    assert_eq!(
        dump_file(&live).await,
        at_backup,
        "the copy is the live data"
    );
    assert_eq!(rows(&at_backup, "orders").len(), initial_orders + 3);

    // Shopping goes on after the backup; then the merchant restores it.
    let fake = FakeTelegram::start().await.unwrap();
    let api = fake.url();
    let env = [
        ("STOREBOT_TELEGRAM__TOKEN", TOKEN),
        ("STOREBOT_TELEGRAM__API_URL", api.as_str()),
        ("STOREBOT_DATABASE__URL", url.as_str()),
    ];
    let bot = BotProcess::start(dir, &env).unwrap();
    play_journeys(&fake, 6_000, 1).await;
    stop(bot).await;
    let after = dump_file(&live).await;
    assert_eq!(
        rows(&after, "orders").len(),
        rows(&at_backup, "orders").len() + 1
    );
    // Without --yes and without a terminal, it asks for --yes and changes nothing.
    admin.refused(&["restore", backup_arg], "--yes", |_| {
        std::fs::read(&backup).unwrap()
    });
    assert_eq!(dump_file(&live).await, after);
    admin.ok(&["restore", backup_arg, "--yes"]);
    assert_eq!(
        dump_file(&live).await,
        at_backup,
        "the restored data is the backup"
    );
    let mut kept = live.as_os_str().to_owned();
    kept.push(".before-restore");
    assert_eq!(dump_file(Path::new(&kept)).await, after);
    // The bot starts on the restored database and serves from it.
    let bot = BotProcess::start(dir, &env).unwrap();
    play_journeys(&fake, 7_000, 1).await;
    stop(bot).await;
    assert_eq!(
        rows(&dump_file(&live).await, "orders").len(),
        rows(&at_backup, "orders").len() + 1
    );
}

#[tokio::test]
async fn restore_refuses_files_that_are_not_sound_storebot_databases() {
    let test = TestDb::new().await.unwrap();
    if test.is_postgres() {
        return; // PostgreSQL: see the backup test above.
    }
    storebot::store::operations::demo::seed(&test.db, chrono::Utc::now())
        .await
        .unwrap();
    test.db.clone().close().await.unwrap();
    let live = storebot::store::operations::backup::sqlite_file(&test.settings.url).unwrap();
    let before = dump_file(&live).await;
    let admin = AdminTool::new(test.url());
    let dir = admin.dir();
    let garbage = dir.join("garbage.db");
    std::fs::write(&garbage, b"SQLite format 3\0 but then nonsense, not pages").unwrap();
    let other = dir.join("other.db");
    let db = sea_orm::Database::connect(format!("sqlite://{}?mode=rwc", other.display()))
        .await
        .unwrap();
    db.execute_unprepared("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        .await
        .unwrap();
    db.close().await.unwrap();
    let cases = [
        (dir.join("missing.db"), "is not a file"),
        (garbage, "is not a storebot database backup"),
        (other, "has no `seaql_migrations` table"),
    ];
    for (file, expected) in cases {
        let message = admin.refused(
            &["restore", file.to_str().unwrap(), "--yes"],
            expected,
            |_| std::fs::read(&live).unwrap(),
        );
        assert!(message.contains(&*file.display().to_string()), "{message}");
        assert_eq!(dump_file(&live).await, before, "{}", file.display());
    }
}

/// Relays updates from the fake Bot API to the bot's webhook, as Telegram would post them:
/// long-polls the fake's `getUpdates` as a client and posts each update with the secret.
fn relay(fake: &FakeTelegram, webhook: SocketAddr) -> tokio::task::JoinHandle<()> {
    let api: SocketAddr = fake.url().trim_start_matches("http://").parse().unwrap();
    tokio::spawn(async move {
        let mut offset = 0_i64;
        loop {
            let body = json!({ "offset": offset, "timeout": 5 }).to_string();
            let (status, answer) = http(api, "POST", "/bot1:relay/getUpdates", &[], &body)
                .await
                .unwrap();
            assert_eq!(status, 200, "{answer}");
            let answer: Value = serde_json::from_str(&answer).unwrap();
            for update in answer["result"].as_array().unwrap() {
                offset = update["update_id"].as_i64().unwrap() + 1;
                let (status, body) = http(
                    webhook,
                    "POST",
                    "/telegram",
                    &[("X-Telegram-Bot-Api-Secret-Token", WEBHOOK_SECRET)],
                    &update.to_string(),
                )
                .await
                .unwrap();
                assert_eq!(status, 200, "{body}");
            }
        }
    })
}

/// The database URL with a password in it, where the engine has one (PostgreSQL here trusts
/// loopback, so any password works).
fn url_with_password(test: &TestDb) -> String {
    if !test.is_postgres() {
        return test.url().to_owned();
    }
    let mut url = url::Url::parse(test.url()).unwrap();
    url.set_password(Some(DB_PASSWORD)).unwrap();
    url.to_string()
}

async fn health(addr: SocketAddr) -> (u16, Value) {
    let (status, body) = http(addr, "GET", "/healthz", &[], "").await.unwrap();
    let body = serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    (status, body)
}

#[tokio::test]
async fn a_webhook_journey_under_debug_logs_reports_health_and_leaks_no_secret() {
    let test = TestDb::new().await.unwrap();
    storebot_tests::shopper::demo_shop(&test.db).await.unwrap();
    let url = url_with_password(&test);
    let fake = FakeTelegram::start().await.unwrap();
    let api = fake.url();
    let addr = free_local_addr().unwrap();
    let listen = addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let bot = BotProcess::start(
        dir.path(),
        &[
            ("STOREBOT_TELEGRAM__TOKEN", TOKEN),
            ("STOREBOT_TELEGRAM__API_URL", &api),
            ("STOREBOT_DATABASE__URL", &url),
            ("STOREBOT_TELEGRAM__MODE", "webhook"),
            ("STOREBOT_TELEGRAM__WEBHOOK__LISTEN", &listen),
            ("STOREBOT_TELEGRAM__WEBHOOK__SECRET_TOKEN", WEBHOOK_SECRET),
            ("STOREBOT_SEGMENTS__REFRESH_INTERVAL", "1s"),
            ("STOREBOT_LOG", "debug"),
        ],
    )
    .unwrap();
    let relay = relay(&fake, addr);
    play_journeys(&fake, 8_000, 1).await;

    // Health: the database answers, and the last recompute run is reported once one finished.
    let deadline = tokio::time::Instant::now() + WAIT;
    let report = loop {
        let (status, report) = health(addr).await;
        assert_eq!(status, 200, "{report}");
        if !report["last_recompute"]["finished_at"].is_null() {
            break report;
        }
        assert!(tokio::time::Instant::now() < deadline, "no run: {report}");
        // Polling an HTTP endpoint for a state the bot reaches by itself: nothing to await.
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(report["status"], "ok");
    assert_eq!(report["database"], "reachable");
    assert_eq!(report["last_recompute"]["error"], Value::Null);
    assert!(
        report["last_recompute"]["started_at"].is_string(),
        "{report}"
    );
    assert!(report["last_recompute"]["trigger"].is_string(), "{report}");

    // Refused requests are logged too: they must not echo the secret either.
    let (status, _) = http(
        addr,
        "POST",
        "/telegram",
        &[("X-Telegram-Bot-Api-Secret-Token", "wrong")],
        "{}",
    )
    .await
    .unwrap();
    assert_eq!(status, 401);
    relay.abort();
    let log = stop(bot).await;
    assert!(log.lines().count() > 50, "debug logging was on: {log}");
    assert!(log.contains("DEBUG"), "{log}");
    for secret in [TOKEN, TOKEN_SECRET_HALF, WEBHOOK_SECRET, DB_PASSWORD] {
        assert!(
            !log.contains(secret),
            "{secret} leaked into the log:\n{log}"
        );
    }
}

#[tokio::test]
async fn health_answers_503_when_the_database_is_gone() {
    let test = TestDb::new().await.unwrap();
    let fake = FakeTelegram::start().await.unwrap();
    let addr = free_local_addr().unwrap();
    let listen = addr.to_string();
    let settings = settings(
        &fake,
        &[
            ("STOREBOT_DATABASE__URL", test.url()),
            ("STOREBOT_TELEGRAM__MODE", "webhook"),
            ("STOREBOT_TELEGRAM__WEBHOOK__LISTEN", &listen),
            ("STOREBOT_TELEGRAM__WEBHOOK__SECRET_TOKEN", WEBHOOK_SECRET),
        ],
    )
    .unwrap();
    let bot = spawn_run(settings, test.db.clone());
    let (status, report) = health(addr).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["database"], "reachable");
    // Closing the pool the bot shares: every query now fails, as when the server is gone.
    test.db.clone().close().await.unwrap();
    let (status, report) = health(addr).await;
    assert_eq!(status, 503, "{report}");
    assert_eq!(
        report,
        json!({ "status": "unavailable", "database": "unreachable", "last_recompute": null })
    );
    let _ = bot.stop().await;
}
