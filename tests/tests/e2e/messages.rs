//! Join messages and broadcasts through the real binaries: the merchant sets a join message
//! and broadcasts with `storebot-admin`, the `storebot` binary's outbox sender delivers to the
//! fake Bot API. Checked: one message per join, none to blocked or opted-out shoppers, a 403
//! recorded and respected afterwards, the per-chat gap, a `kill -9` mid-broadcast that
//! neither loses nor duplicates a message, a slow send that holds up no other, a proxy's error
//! page or an empty 503 that requeues a message instead of failing it, and the join
//! message of a segment a shopper qualifies for by answering a question in the bot.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, EntityTrait};
use serde_json::Value;
use storebot::conversation::callback::Callback;
use storebot::testing::TestDb;
use storebot_entity::customer;
use storebot_tests::admin::AdminTool;
use storebot_tests::bot::BotProcess;
use storebot_tests::fake_telegram::{FakeFailure, FakeTelegram, TEST_TOKEN, TestUser};
use storebot_tests::shopper::{JOURNEY, play_step};
use tokio::time::Instant;

const WAIT: Duration = Duration::from_secs(20);

struct Shop {
    test: TestDb,
    fake: FakeTelegram,
    tool: AdminTool,
}

impl Shop {
    async fn open() -> Self {
        let test = TestDb::new().await.unwrap();
        let tool = AdminTool::new(test.url());
        Self {
            test,
            fake: FakeTelegram::start().await.unwrap(),
            tool,
        }
    }

    /// The bot binary with the outbox's limits in `extra`.
    async fn start_bot(&self, extra: &[(&str, &str)]) -> BotProcess {
        let api_url = self.fake.url();
        let mut env = vec![
            ("STOREBOT_TELEGRAM__TOKEN", TEST_TOKEN),
            ("STOREBOT_TELEGRAM__API_URL", api_url.as_str()),
            ("STOREBOT_DATABASE__URL", self.test.url()),
            ("STOREBOT_MESSAGES__POLL_INTERVAL", "100ms"),
        ];
        env.extend_from_slice(extra);
        let mut bot = BotProcess::start(self.dir(), &env).unwrap();
        bot.wait_for_log("outbox sender started", WAIT)
            .await
            .unwrap();
        bot
    }

    /// `count` shoppers from Telegram id `first_id` on, all members of a recomputed segment
    /// `all` whose rule takes everyone.
    async fn everyone_in_segment_all(&self, first_id: i64, count: i64) {
        for n in 0..count {
            self.shopper(first_id + n, |_| {}).await;
        }
        let rule = rule_everyone(self);
        self.ok(&["segments", "create", "--name", "all", "--rule", &rule]);
        self.ok(&["segments", "recompute"]);
    }

    /// A shopper who has talked to the bot (chat id = user id), returning their id.
    async fn shopper(&self, user_id: i64, edit: impl FnOnce(&mut customer::ActiveModel)) -> i64 {
        let now = Utc::now();
        let mut row = customer::ActiveModel {
            telegram_user_id: Set(user_id),
            chat_id: Set(user_id),
            first_name: Set(format!("Shopper {user_id}")),
            last_name: Set(None),
            username: Set(None),
            language_code: Set(Some("en".into())),
            first_interaction_at: Set(now),
            last_interaction_at: Set(now),
            registered_at: Set(Some(now)),
            messages_opt_out: Set(false),
            blocked_at: Set(None),
            ..Default::default()
        };
        edit(&mut row);
        row.insert(&self.test.db).await.unwrap().id
    }

    async fn customer(&self, id: i64) -> customer::Model {
        customer::Entity::find_by_id(id)
            .one(&self.test.db)
            .await
            .unwrap()
            .unwrap()
    }

    /// The `sendMessage` calls to each chat whose text is `text`, with their arrival times.
    fn sends_of(&self, text: &str) -> BTreeMap<i64, Vec<std::time::Instant>> {
        let mut sends: BTreeMap<i64, Vec<std::time::Instant>> = BTreeMap::new();
        for call in self.fake.calls("sendMessage") {
            if call.body["text"].as_str() == Some(text) {
                let chat = call.body["chat_id"].as_i64().unwrap_or_default();
                sends.entry(chat).or_default().push(call.at);
            }
        }
        sends
    }

    /// Polls `broadcast status ID` until nothing is queued or being sent.
    async fn wait_broadcast_done(&self, id: i64, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let status = self.json(&["broadcast", "status", &id.to_string()]);
            let pending = status["states"]["queued"].as_u64().unwrap_or(0)
                + status["states"]["sending"].as_u64().unwrap_or(0);
            if pending == 0 {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "broadcast {id} not done: {status}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl std::ops::Deref for Shop {
    type Target = AdminTool;

    fn deref(&self) -> &AdminTool {
        &self.tool
    }
}

fn rule_everyone(shop: &Shop) -> String {
    shop.write(
        "recent.json",
        r#"{"version": 1, "rule": {"type": "last_interaction", "when": {"within_last_days": 7}}}"#,
    )
}

async fn poll<T>(what: &str, within: Duration, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not happen in {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn join_messages_go_once_per_join_and_a_403_blocks_later_broadcasts() {
    let shop = Shop::open().await;
    let reader = shop.shopper(9_001, |_| {}).await;
    let already_blocked = shop
        .shopper(9_002, |row| row.blocked_at = Set(Some(Utc::now())))
        .await;
    let opted_out = shop
        .shopper(9_003, |row| row.messages_opt_out = Set(true))
        .await;
    let blocker = shop.shopper(9_004, |_| {}).await;
    shop.fake.block_chat(9_004);

    let rule = rule_everyone(&shop);
    shop.ok(&["segments", "create", "--name", "regulars", "--rule", &rule]);
    let text = "Welcome, regular! {count} new items: {new_items}";
    shop.ok(&["segments", "edit", "regulars", "--join-message", text]);
    let shown = shop.ok(&["segments", "show", "regulars"]);
    assert!(shown.contains(&format!("join message: {text}")), "{shown}");
    // Two recomputes: the second changes nothing and so queues nothing.
    shop.ok(&["segments", "recompute"]);
    shop.ok(&["segments", "recompute"]);

    // A broadcast queued at the same time: each chat's second message must wait its turn.
    let queued = shop.json(&["broadcast", "regulars", "--text", "Sale today", "--yes"]);
    assert_eq!(queued["broadcast"]["recipients"], 2, "{queued}");
    assert_eq!(queued["broadcast"]["skipped_blocked"], 1, "{queued}");
    assert_eq!(queued["broadcast"]["skipped_opt_out"], 1, "{queued}");
    let id = queued["broadcast"]["id"].as_i64().unwrap();

    let bot = shop.start_bot(&[]).await;
    let expected = "Welcome, regular! 0 new items: ";
    let message = shop.fake.next_reply(9_001, WAIT).await.unwrap();
    assert_eq!(message.text, expected);
    let button = &message.buttons[0][0];
    assert_eq!(button.label, "Open the catalog");
    assert_eq!(
        button.callback_data.as_deref().map(str::parse::<Callback>),
        Some(Ok(Callback::Catalog { page: 0 }))
    );
    // The 403 on the join message is recorded on the shopper, and their broadcast skipped.
    poll("the block to be recorded", WAIT, async || {
        shop.customer(blocker).await.blocked_at
    })
    .await;
    let status = shop.wait_broadcast_done(id, WAIT).await;
    assert_eq!(status["states"]["sent"], 1, "{status}");
    assert_eq!(status["states"]["skipped"], 1, "{status}");
    let listed = shop.ok(&["broadcast", "list"]);
    assert!(listed.contains("Sale today"), "{listed}");

    let (status, log) = bot.terminate().await.unwrap();
    let log = log.join("\n");
    assert!(status.success(), "{log}");
    assert!(!log.contains("panicked"), "{log}");

    // Exactly one join message and one broadcast, to the reader alone.
    let joins = shop.sends_of(expected);
    assert_eq!(joins.keys().copied().collect::<Vec<_>>(), [9_001, 9_004]);
    assert_eq!(joins[&9_001].len(), 1);
    assert_eq!(joins[&9_004].len(), 1, "tried once, answered 403");
    let sales = shop.sends_of("Sale today");
    assert_eq!(sales.keys().copied().collect::<Vec<_>>(), [9_001]);
    for silent in [already_blocked, opted_out] {
        let chat = shop.customer(silent).await.chat_id;
        assert!(shop.fake.take_replies(chat).is_empty());
    }
    // Telegram's one message a second per chat: the broadcast waited after the join message.
    let gap = sales[&9_001][0].duration_since(joins[&9_001][0]);
    assert!(gap >= Duration::from_millis(950), "{gap:?}");
    assert!(shop.customer(reader).await.blocked_at.is_none());
}

#[tokio::test]
async fn a_broadcast_resumes_after_kill_9_without_sending_anyone_twice() {
    const MEMBERS: i64 = 60;
    let shop = Shop::open().await;
    shop.everyone_in_segment_all(20_000, MEMBERS).await;
    // One send in flight at a time, so that a kill leaves at most one message of unknown fate.
    let limits = [
        ("STOREBOT_MESSAGES__PER_SECOND", "30"),
        ("STOREBOT_MESSAGES__CLAIM_TIMEOUT", "1s"),
        ("STOREBOT_MESSAGES__IN_FLIGHT", "1"),
    ];
    let bot = shop.start_bot(&limits).await;
    let queued = shop.json(&["broadcast", "all", "--text", "Big news", "--yes"]);
    assert_eq!(queued["broadcast"]["recipients"], MEMBERS, "{queued}");
    let id = queued["broadcast"]["id"].as_i64().unwrap();

    // Kill it a third of the way through.
    shop.fake
        .wait_for_calls("sendMessage", 20, WAIT)
        .await
        .unwrap();
    let log = bot.kill_9().await.unwrap();
    let before_restart = shop.sends_of("Big news");
    assert!(
        before_restart.len() < usize::try_from(MEMBERS).unwrap(),
        "the broadcast finished before the kill: {log:#?}"
    );

    let bot = shop.start_bot(&limits).await;
    let status = shop.wait_broadcast_done(id, WAIT).await;
    let (exit, log) = bot.terminate().await.unwrap();
    assert!(exit.success(), "{log:#?}");

    let sends = shop.sends_of("Big news");
    let twice: Vec<_> = sends.iter().filter(|(_, at)| at.len() > 1).collect();
    assert!(twice.is_empty(), "sent twice: {twice:?}");
    let sent = status["states"]["sent"].as_u64().unwrap_or(0);
    let unknown = status["states"]["unknown"].as_u64().unwrap_or(0);
    // One message in flight at a time (the setting), so a kill leaves at most one unknown.
    assert!(unknown <= 1, "{status}");
    assert_eq!(sent + unknown, u64::try_from(MEMBERS).unwrap(), "{status}");
    assert!(sends.len() as u64 >= sent, "{status}");
    assert!(sends.len() as u64 <= sent + unknown, "{status}");
    // At most 30 a second (the setting): 31 sends fit in one second at exact spacing (30
    // gaps), and one more of slack for network jitter between the sender and the fake.
    let mut times: Vec<std::time::Instant> = sends.values().flatten().copied().collect();
    times.sort();
    let busiest = times
        .iter()
        .enumerate()
        .map(|(i, start)| {
            times[i..]
                .iter()
                .take_while(|at| at.duration_since(*start) < Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap_or(0);
    assert!(busiest <= 32, "{busiest} sends within one second");
    eprintln!(
        "kill -9 mid-broadcast: {} sent before the kill, {sent} sent, {unknown} unknown, \
         busiest second {busiest}",
        before_restart.len()
    );
}

#[tokio::test]
async fn a_slow_send_does_not_hold_up_the_others_and_a_stop_waits_for_it() {
    const MEMBERS: i64 = 6;
    let shop = Shop::open().await;
    shop.everyone_in_segment_all(30_000, MEMBERS).await;
    // Telegram takes 8 s to answer the first send (within teloxide's 17 s timeout).
    shop.fake
        .fail_next("sendMessage", FakeFailure::Hang(Duration::from_secs(8)));
    let bot = shop.start_bot(&[]).await;
    let queued = shop.json(&["broadcast", "all", "--text", "Flash sale", "--yes"]);
    let id = queued["broadcast"]["id"].as_i64().unwrap();

    // The others are delivered and recorded while the first is still waiting for its answer.
    let status = poll("the other sends to be recorded", WAIT, async || {
        let status = shop.json(&["broadcast", "status", &id.to_string()]);
        (status["states"]["sent"] == MEMBERS - 1).then_some(status)
    })
    .await;
    assert_eq!(status["states"]["sending"], 1, "{status}");
    let calls = shop.fake.calls("sendMessage");
    let slow_chat = calls[0].body["chat_id"].as_i64().unwrap();
    assert!(
        shop.fake.take_replies(slow_chat).is_empty(),
        "the first send, still waiting for its answer, is the one left `sending`"
    );

    // A stop now waits for the slow send and records it: nothing is left `sending`.
    let (exit, log) = bot.terminate().await.unwrap();
    assert!(exit.success(), "{log:#?}");
    let status = shop.json(&["broadcast", "status", &id.to_string()]);
    assert_eq!(status["states"]["sent"], MEMBERS, "{status}");
    let sends = shop.sends_of("Flash sale");
    assert_eq!(sends.len(), usize::try_from(MEMBERS).unwrap());
    assert!(sends.values().all(|at| at.len() == 1), "{sends:?}");
}

#[tokio::test]
async fn answering_a_question_that_qualifies_a_shopper_sends_the_join_message_at_once() {
    let shop = Shop::open().await;
    storebot_tests::shopper::demo_shop(&shop.test.db)
        .await
        .unwrap();
    let questions = storebot::store::shoppers::questions::list(&shop.test.db, false)
        .await
        .unwrap();
    let drinks = questions
        .iter()
        .find(|view| view.question.text == "What do you like to drink?")
        .unwrap();
    let tea = drinks.options.iter().find(|o| o.text == "Tea").unwrap();
    let rule = shop.write(
        "tea.json",
        &serde_json::json!({"version": 1, "rule": {
            "type": "answer", "question": drinks.question.id, "options": [tea.id]
        }})
        .to_string(),
    );
    shop.ok(&[
        "segments",
        "create",
        "--name",
        "tea people",
        "--rule",
        &rule,
    ]);
    shop.ok(&[
        "segments",
        "edit",
        "tea people",
        "--join-message",
        "Tea time!",
    ]);
    let bot = shop.start_bot(&[]).await;
    // The scheduled run the bot starts with must be over before the shopper answers, or it
    // could be the one that finds them in the segment.
    poll("the bot's first scheduled recompute", WAIT, async || {
        let runs = storebot_entity::recompute_run::Entity::find()
            .all(&shop.test.db)
            .await
            .unwrap();
        runs.iter()
            .any(|run| run.trigger == "schedule" && run.finished_at.is_some())
            .then_some(())
    })
    .await;

    // Registration through the bot: the answer "Tea" re-evaluates the shopper's segments.
    let user = TestUser::new(40_001, "Tess").language("en");
    let mut last = None;
    for &step in &JOURNEY[..5] {
        play_step(&shop.fake, &user, step, &mut last, None, WAIT)
            .await
            .unwrap();
    }
    // Read from the calls the fake recorded: the registration steps above read the chat's
    // replies, and may have passed over the greeting if it came before the main menu.
    let greeting = poll("the join message", WAIT, async || {
        shop.fake.calls("sendMessage").into_iter().find(|call| {
            call.body["text"].as_str() == Some("Tea time!")
                && call.body["chat_id"].as_i64() == Some(user.chat_id())
        })
    })
    .await;
    assert!(
        greeting.body.to_string().contains("Open the catalog"),
        "{:?}",
        greeting.body
    );
    // It came from the shopper's own re-evaluation, not from a scheduled run.
    let customer =
        storebot::store::shoppers::customers::find_by_telegram_id(&shop.test.db, user.id)
            .await
            .unwrap()
            .unwrap();
    let joins = storebot_entity::membership_event::Entity::find()
        .all(&shop.test.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|event| event.customer_id == customer.id && event.kind == "joined")
        .collect::<Vec<_>>();
    assert_eq!(joins.len(), 1, "{joins:?}");
    assert_eq!((joins[0].cause.as_str(), joins[0].run_id), ("rule", None));

    let (exit, log) = bot.terminate().await.unwrap();
    assert!(exit.success(), "{log:#?}");
    assert_eq!(shop.sends_of("Tea time!").len(), 1);
}

#[tokio::test]
async fn a_broadcast_answered_by_a_proxy_page_or_an_empty_503_is_requeued_and_then_sent() {
    let shop = Shop::open().await;
    let first = shop.shopper(9_501, |_| {}).await;
    let second = shop.shopper(9_502, |_| {}).await;
    let rule = rule_everyone(&shop);
    shop.ok(&["segments", "create", "--name", "all", "--rule", &rule]);
    shop.ok(&["segments", "recompute"]);
    // Something between the bot and Telegram fails: a proxy's HTML page, then an empty 503.
    shop.fake
        .fail_next("sendMessage", FakeFailure::ProxyPage(502));
    shop.fake
        .fail_next("sendMessage", FakeFailure::EmptyBody(503));
    let queued = shop.json(&["broadcast", "all", "--text", "Through a proxy", "--yes"]);
    assert_eq!(queued["broadcast"]["recipients"], 2, "{queued}");
    let id = queued["broadcast"]["id"].as_i64().unwrap();
    let bot = shop.start_bot(&[]).await;

    // Each message is put back in the queue after its failed try, not failed for good.
    for customer in [first, second] {
        let requeued = poll("the message requeued", 2 * WAIT, async || {
            let messages = storebot::store::messaging::outbox::messages_of(&shop.test.db, customer)
                .await
                .unwrap();
            messages
                .into_iter()
                .find(|message| message.state == "queued" && message.attempts == 1)
        })
        .await;
        let error = requeued.error.unwrap_or_default();
        assert!(
            error.contains("not Telegram's JSON") || error.contains("empty body"),
            "{error}"
        );
        assert!(error.len() < 400, "the page is not kept whole: {error}");
    }
    let status = shop.wait_broadcast_done(id, 2 * WAIT).await;
    assert_eq!(status["states"]["sent"], 2, "{status}");
    assert_eq!(
        status["states"]["failed"].as_u64().unwrap_or(0),
        0,
        "{status}"
    );
    let sends = shop.sends_of("Through a proxy");
    assert_eq!(sends.len(), 2, "{sends:?}");
    assert!(
        sends.values().all(|calls| calls.len() == 2),
        "one failed try and one send per chat: {sends:?}"
    );
    let (exit, log) = bot.terminate().await.unwrap();
    assert!(exit.success(), "{log:#?}");
}
