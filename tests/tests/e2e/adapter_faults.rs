//! Faults at the Telegram adapter's edge, through the real `storebot` binary against the fake
//! Bot API (issue 15): a server error whose body is not JSON (a proxy's HTML page, an empty
//! 503), messages the dialogue can't read (a sticker, a photo, a voice message, a location),
//! a button pressed in a group, the token revoked while the bot runs, an update the bot can't
//! parse (by long polling and by webhook), a database whose schema is not this build's behind
//! `/healthz`, and how start-up errors read. SQLite and PostgreSQL.

use std::time::{Duration, Instant};

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Statement};
use serde_json::{Value, json};
use storebot::testing::TestDb;
use storebot_entity::customer;
use storebot_tests::bot::{BotProcess, free_local_addr, http, message_update};
use storebot_tests::fake_telegram::{FakeFailure, FakeTelegram, SentMessage, TEST_TOKEN, TestUser};

const WAIT: Duration = Duration::from_secs(20);
/// teloxide pauses 10 s after any 5xx before it reports it; the bot then retries.
const AFTER_A_SERVER_ERROR: Duration = Duration::from_secs(15);
const WEBHOOK_SECRET: &str = "adapter-faults-secret";

/// A bot binary on a fresh database with no registration questions (so any message reaches
/// the menu), long polling the fake.
struct Shop {
    test: TestDb,
    fake: FakeTelegram,
    bot: BotProcess,
    _dir: tempfile::TempDir,
}

impl Shop {
    async fn open() -> Self {
        let test = TestDb::new().await.unwrap();
        let fake = FakeTelegram::start().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let api = fake.url();
        let mut bot = BotProcess::start(
            dir.path(),
            &[
                ("STOREBOT_TELEGRAM__TOKEN", TEST_TOKEN),
                ("STOREBOT_TELEGRAM__API_URL", &api),
                ("STOREBOT_DATABASE__URL", test.url()),
            ],
        )
        .unwrap();
        bot.wait_for_log("receiving updates by long polling", WAIT)
            .await
            .unwrap();
        Self {
            test,
            fake,
            bot,
            _dir: dir,
        }
    }

    async fn customer(&self, user: &TestUser) -> customer::Model {
        customer::Entity::find()
            .filter(customer::Column::TelegramUserId.eq(user.id))
            .one(&self.test.db)
            .await
            .unwrap()
            .unwrap()
    }

    /// `/start`, answered with the main menu.
    async fn menu(&self, user: &TestUser) -> SentMessage {
        self.fake.send_text(user, "/start");
        let menu = self.fake.next_reply(user.chat_id(), WAIT).await.unwrap();
        assert!(menu.text.starts_with("Main menu"), "{}", menu.text);
        menu
    }

    /// SIGTERM: exits 0 without a panic, every update confirmed; returns the log.
    async fn stop(self) -> String {
        let (status, log) = self.bot.terminate().await.unwrap();
        let log = log.join("\n");
        assert!(status.success(), "{status:?}: {log}");
        assert!(!log.contains("panicked"), "{log}");
        assert_eq!(self.fake.pending_updates(), 0, "{log}");
        log
    }
}

#[tokio::test]
async fn a_reply_survives_a_proxy_page_and_an_empty_503_on_send_message() {
    let shop = Shop::open().await;
    let alice = TestUser::alice();
    shop.fake
        .fail_next("sendMessage", FakeFailure::ProxyPage(502));
    shop.fake
        .fail_next("sendMessage", FakeFailure::EmptyBody(503));
    shop.fake.send_text(&alice, "/start");
    let menu = shop
        .fake
        .next_reply(alice.chat_id(), WAIT + 2 * AFTER_A_SERVER_ERROR)
        .await
        .unwrap();
    assert!(menu.text.starts_with("Main menu"), "{}", menu.text);
    assert_eq!(
        shop.fake.calls("sendMessage").len(),
        3,
        "two failed calls, then the reply"
    );
    // The bot still serves, and sent the menu once.
    shop.fake.send_text(&alice, "/cart");
    let cart = shop.fake.next_reply(alice.chat_id(), WAIT).await.unwrap();
    assert!(cart.text.contains("cart"), "{}", cart.text);
    let log = shop.stop().await;
    assert!(!log.contains("could not send a reply"), "{log}");
    assert!(log.contains("not Telegram's JSON"), "{log}");
    assert!(log.contains("empty body"), "{log}");
}

#[tokio::test]
async fn a_sticker_photo_voice_or_location_records_the_interaction_and_gets_the_menu() {
    let shop = Shop::open().await;
    let alice = TestUser::alice();
    shop.menu(&alice).await;
    let file = |id: &str| json!({"file_id": id, "file_unique_id": id});
    let mut sticker = file("sticker-1");
    sticker["width"] = json!(512);
    sticker["height"] = json!(512);
    sticker["is_animated"] = json!(false);
    sticker["is_video"] = json!(false);
    sticker["type"] = json!("regular");
    let mut photo = file("photo-1");
    photo["width"] = json!(90);
    photo["height"] = json!(90);
    let mut voice = file("voice-1");
    voice["duration"] = json!(3);
    voice["mime_type"] = json!("audio/ogg");
    let messages = [
        json!({"sticker": sticker}),
        json!({"photo": [photo]}),
        json!({"voice": voice}),
        json!({"location": {"latitude": 51.5, "longitude": -0.12}}),
    ];
    for content in messages {
        let before = shop.customer(&alice).await.last_interaction_at;
        shop.fake.send_content(&alice, content.clone());
        let hint = shop.fake.next_reply(alice.chat_id(), WAIT).await.unwrap();
        assert_eq!(
            hint.text, "I can only read text messages and buttons.",
            "{content}"
        );
        let menu = shop.fake.next_reply(alice.chat_id(), WAIT).await.unwrap();
        assert!(
            menu.text.starts_with("Main menu"),
            "{content}: {}",
            menu.text
        );
        let after = shop.customer(&alice).await.last_interaction_at;
        assert!(after > before, "{content}: {before} → {after}");
    }
    shop.stop().await;
}

#[tokio::test]
async fn a_button_pressed_in_a_group_is_refused_and_changes_nothing() {
    let shop = Shop::open().await;
    let alice = TestUser::alice();
    let menu = shop.menu(&alice).await;
    let before = shop.customer(&alice).await;
    let data = menu
        .all_buttons()
        .find_map(|button| button.callback_data.clone())
        .unwrap();
    let group = -100_200_300;
    let press = shop.fake.press_data_in_chat(&alice, group, 7, &data);
    let answer = shop.fake.callback_answer(press, WAIT).await.unwrap();
    assert_eq!(
        answer.text.as_deref(),
        Some("Please use the shop in your private chat with the bot.")
    );
    shop.fake
        .expect_no_reply(group, Duration::from_secs(1))
        .await
        .unwrap();
    assert!(shop.fake.take_replies(alice.chat_id()).is_empty());
    let after = shop.customer(&alice).await;
    assert_eq!(
        after.chat_id,
        alice.chat_id(),
        "the stored chat stays private"
    );
    assert_eq!(after, before, "nothing recorded");
    // The same press in the private chat works.
    shop.fake.press_data(&alice, menu.message_id, &data);
    shop.fake.next_reply(alice.chat_id(), WAIT).await.unwrap();
    let log = shop.stop().await;
    assert!(
        log.contains("refused a button press outside the private chat"),
        "{log}"
    );
}

#[tokio::test]
async fn a_token_revoked_while_running_finishes_the_update_in_hand_and_exits_1_as_at_start() {
    let shop = Shop::open().await;
    let alice = TestUser::alice();
    // The reply to this update is in hand (its send held for 2 s) when the token is revoked.
    let held = Duration::from_secs(2);
    shop.fake.fail_next("sendMessage", FakeFailure::Hang(held));
    shop.fake.send_text(&alice, "/start");
    let send = shop
        .fake
        .wait_for_calls("sendMessage", 1, WAIT)
        .await
        .unwrap()[0]
        .at;
    shop.fake.revoke_token();
    let (status, log) = shop.bot.finish().await.unwrap();
    let exited = Instant::now();
    assert_eq!(status.code(), Some(1), "{log:#?}");
    assert!(
        exited >= send + held,
        "exited before the update in hand was done: {log:#?}"
    );
    let last = log.last().cloned().unwrap_or_default();
    assert_eq!(
        last, "storebot: the Telegram Bot API refused or failed: Invalid bot token",
        "{log:#?}"
    );
    assert!(
        !log.iter()
            .any(|line| line.contains("getting updates failed")),
        "{log:#?}"
    );
    // The same sentence as a start with that token.
    let fake = FakeTelegram::start().await.unwrap();
    fake.revoke_token();
    let api = fake.url();
    let dir = tempfile::tempdir().unwrap();
    let bot = BotProcess::start(
        dir.path(),
        &[
            ("STOREBOT_TELEGRAM__TOKEN", TEST_TOKEN),
            ("STOREBOT_TELEGRAM__API_URL", &api),
            ("STOREBOT_DATABASE__URL", shop.test.url()),
        ],
    )
    .unwrap();
    let (status, log) = bot.finish().await.unwrap();
    assert_eq!(status.code(), Some(1), "{log:#?}");
    assert_eq!(log.last(), Some(&last), "{log:#?}");
}

/// A message update `teloxide` can't read (a message without its required fields) carrying a
/// text of `size` bytes.
fn unreadable_update(update_id: i64, size: usize) -> Value {
    json!({
        "update_id": update_id,
        "message": {"message_id": "not a number", "text": "é".repeat(size / 2)},
    })
}

fn assert_bounded(log: &[String], after: usize) {
    let grown: usize = log[after..].iter().map(String::len).sum();
    assert!(grown < 4_096, "the log grew by {grown} bytes: {log:#?}");
    assert!(
        log[after..]
            .iter()
            .any(|line| line.contains("can't read") && line.contains("bytes=")),
        "{log:#?}"
    );
}

#[tokio::test]
async fn an_update_the_bot_cant_read_is_logged_as_an_excerpt_by_long_polling() {
    let shop = Shop::open().await;
    let alice = TestUser::alice();
    let before = shop.bot.log().len();
    let id = shop.fake.next_update_id();
    shop.fake.push_raw_update(unreadable_update(id, 900 * 1024));
    // The next update is served: the unreadable one was skipped, not fatal.
    shop.menu(&alice).await;
    assert_bounded(&shop.bot.log(), before);
    shop.stop().await;
}

#[tokio::test]
async fn an_update_the_bot_cant_read_is_logged_as_an_excerpt_by_webhook() {
    let test = TestDb::new().await.unwrap();
    let fake = FakeTelegram::start().await.unwrap();
    let api = fake.url();
    let addr = free_local_addr().unwrap();
    let listen = addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let mut bot = BotProcess::start(
        dir.path(),
        &[
            ("STOREBOT_TELEGRAM__TOKEN", TEST_TOKEN),
            ("STOREBOT_TELEGRAM__API_URL", &api),
            ("STOREBOT_DATABASE__URL", test.url()),
            ("STOREBOT_TELEGRAM__MODE", "webhook"),
            ("STOREBOT_TELEGRAM__WEBHOOK__LISTEN", &listen),
            ("STOREBOT_TELEGRAM__WEBHOOK__SECRET_TOKEN", WEBHOOK_SECRET),
        ],
    )
    .unwrap();
    bot.wait_for_log("receiving updates by webhook", WAIT)
        .await
        .unwrap();
    let secret = [("X-Telegram-Bot-Api-Secret-Token", WEBHOOK_SECRET)];
    let before = bot.log().len();
    for body in [
        unreadable_update(1, 900 * 1024).to_string(),
        format!("{{\"not json\": {}", "x".repeat(900 * 1024)),
    ] {
        let (status, _) = http(addr, "POST", "/telegram", &secret, &body)
            .await
            .unwrap();
        assert_eq!(status, 200, "Telegram must not post it again");
    }
    // A readable update after them is served.
    let alice = TestUser::alice();
    let update = message_update(2, 1, &alice, "/start").to_string();
    let (status, _) = http(addr, "POST", "/telegram", &secret, &update)
        .await
        .unwrap();
    assert_eq!(status, 200);
    let menu = fake.next_reply(alice.chat_id(), WAIT).await.unwrap();
    assert!(menu.text.starts_with("Main menu"), "{}", menu.text);
    let log = bot.log();
    assert_bounded(&log, before);
    let (status, log) = bot.terminate().await.unwrap();
    assert!(status.success(), "{status:?}: {log:#?}");
}

#[tokio::test]
async fn health_answers_503_when_the_database_lost_its_schema() {
    let test = TestDb::new().await.unwrap();
    let fake = FakeTelegram::start().await.unwrap();
    let api = fake.url();
    let addr = free_local_addr().unwrap();
    let listen = addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let mut bot = BotProcess::start(
        dir.path(),
        &[
            ("STOREBOT_TELEGRAM__TOKEN", TEST_TOKEN),
            ("STOREBOT_TELEGRAM__API_URL", &api),
            ("STOREBOT_DATABASE__URL", test.url()),
            ("STOREBOT_TELEGRAM__MODE", "webhook"),
            ("STOREBOT_TELEGRAM__WEBHOOK__LISTEN", &listen),
            ("STOREBOT_TELEGRAM__WEBHOOK__SECRET_TOKEN", WEBHOOK_SECRET),
        ],
    )
    .unwrap();
    bot.wait_for_log("receiving updates by webhook", WAIT)
        .await
        .unwrap();
    let health = async || {
        let (status, body) = http(addr, "GET", "/healthz", &[], "").await.unwrap();
        let report: Value = serde_json::from_str(&body).unwrap();
        (status, report)
    };
    let (status, report) = health().await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["schema"], "current", "{report}");
    // The database emptied under the running bot, as when it is recreated: its tables go,
    // the migrations' record first. It still answers `SELECT 1`.
    let backend = test.db.get_database_backend();
    test.db
        .execute_raw(Statement::from_string(
            backend,
            "DROP TABLE seaql_migrations",
        ))
        .await
        .unwrap();
    let (status, report) = health().await;
    assert_eq!(status, 503, "{report}");
    assert_eq!(
        report,
        json!({"status": "unavailable", "database": "reachable", "schema": "unexpected",
               "last_recompute": null})
    );
    let (status, log) = bot.terminate().await.unwrap();
    assert!(status.success(), "{status:?}: {log:#?}");
}

#[tokio::test]
async fn start_up_errors_are_one_sentence_and_logs_carry_no_colour_codes() {
    let test = TestDb::new().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on a port just freed.
    let closed = format!("http://{}", free_local_addr().unwrap());
    let bot = BotProcess::start(
        dir.path(),
        &[
            ("STOREBOT_TELEGRAM__TOKEN", TEST_TOKEN),
            ("STOREBOT_TELEGRAM__API_URL", &closed),
            ("STOREBOT_DATABASE__URL", test.url()),
        ],
    )
    .unwrap();
    let (status, log) = bot.finish().await.unwrap();
    assert_eq!(status.code(), Some(1), "{log:#?}");
    let last = log.last().cloned().unwrap_or_default();
    assert!(
        last.starts_with(
            "storebot: the Telegram Bot API refused or failed: error sending request: "
        ),
        "{last}"
    );
    assert_eq!(last.matches("error sending request").count(), 1, "{last}");
    assert!(!last.contains("A network error"), "{last}");
    assert!(log.len() > 1, "the log lines before it: {log:#?}");
    assert!(
        !log.iter().any(|line| line.contains('\u{1b}')),
        "standard error is a pipe, not a terminal: {log:#?}"
    );
}
