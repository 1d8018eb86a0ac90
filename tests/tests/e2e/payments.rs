//! Payments in the chat through the real binaries: the bot against the fake Bot API (invoice,
//! pre-checkout, successful payment) and `storebot-admin orders` (payment state, refunds).
//! Every bad input and fault of docs/RELIABILITY.md's payment rows: pre-checkouts for another
//! shopper's, an expired or a cancelled order, with a changed total or currency, a forged
//! payload; a payment delivered twice; kill -9 between taking a payment and recording it; a
//! payment after expiry; stock held while the invoice is open; two webhook instances receiving
//! one payment. SQLite, or PostgreSQL with `STOREBOT_TEST_DATABASE_URL`.

use std::time::Duration;

use chrono::Utc;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use storebot::store::operations::demo;
use storebot::store::orders::cart;
use storebot::testing::TestDb;
use storebot_entity::{customer, order, payment, variant};
use storebot_tests::admin::AdminTool;
use storebot_tests::bot::BotProcess;
use storebot_tests::fake_telegram::{FakeTelegram, SentInvoice, SentMessage, TEST_TOKEN, TestUser};

const WAIT: Duration = Duration::from_secs(20);
const MERCHANT_CHAT: i64 = -100_777;
const PROVIDER_TOKEN: &str = "284685063:TEST:shop";
/// Telegram's limit for answering a pre-checkout query.
const TELEGRAM_LIMIT: Duration = Duration::from_secs(10);

struct Shop {
    test: TestDb,
    demo: demo::Demo,
    tool: AdminTool,
    fake: FakeTelegram,
}

impl Shop {
    async fn new() -> Self {
        let test = TestDb::new().await.unwrap();
        let demo = demo::seed(&test.db, Utc::now() - chrono::Duration::days(30))
            .await
            .unwrap();
        let tool = AdminTool::new(test.url());
        let fake = FakeTelegram::start().await.unwrap();
        Self {
            test,
            demo,
            tool,
            fake,
        }
    }

    fn telegram_env(&self) -> Vec<(String, String)> {
        vec![
            ("STOREBOT_TELEGRAM__TOKEN".into(), TEST_TOKEN.into()),
            ("STOREBOT_TELEGRAM__API_URL".into(), self.fake.url()),
            ("STOREBOT_DATABASE__URL".into(), self.test.url().into()),
            (
                "STOREBOT_TELEGRAM__MERCHANT_CHATS".into(),
                MERCHANT_CHAT.to_string(),
            ),
            ("STOREBOT_CHECKOUT__ASK_CONTACT".into(), "false".into()),
            ("STOREBOT_CHECKOUT__ASK_ADDRESS".into(), "false".into()),
            ("STOREBOT_MESSAGES__POLL_INTERVAL".into(), "100ms".into()),
        ]
    }

    /// The bot binary by long polling, with `payments` settings on top.
    async fn start(&self, payments: &[(&str, &str)]) -> BotProcess {
        let mut env = self.telegram_env();
        env.extend(
            payments
                .iter()
                .map(|(key, value)| ((*key).to_owned(), (*value).to_owned())),
        );
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut bot = BotProcess::start(self.tool.dir(), &env).unwrap();
        bot.wait_for_log("receiving updates by long polling", WAIT)
            .await
            .unwrap();
        bot
    }

    /// `user`, registered, with `quantity` of the small green tea in the cart.
    async fn shopper(&self, user: &TestUser, quantity: i32) -> customer::Model {
        use storebot::store::shoppers::{answers, customers};
        let now = Utc::now();
        let mut telegram_user = customers::TelegramUser::new(user.id, &user.first_name);
        telegram_user.chat_id = user.chat_id();
        telegram_user.language_code = Some("en".into());
        let shopper = customers::record_interaction(&self.test.db, &telegram_user, now)
            .await
            .unwrap();
        for question in [&self.demo.age, &self.demo.likes, &self.demo.diet] {
            answers::replace_answer(
                &self.test.db,
                shopper.id,
                question.question.id,
                &[question.options[0].id],
                now,
            )
            .await
            .unwrap();
        }
        cart::set_quantity(
            &self.test.db,
            shopper.id,
            self.demo.green_small,
            quantity,
            now,
        )
        .await
        .unwrap();
        shopper
    }

    async fn screen(&self, user: &TestUser, part: &str) -> SentMessage {
        let mut skipped = Vec::new();
        loop {
            match self.fake.next_reply(user.chat_id(), WAIT).await {
                Ok(reply) if reply.visible_text().contains(part) => return reply,
                Ok(reply) => skipped.push(reply.visible_text()),
                Err(error) => panic!("waiting for {part:?}; skipped {skipped:#?}: {error:#}"),
            }
        }
    }

    /// Checks out the cart and confirms: the invoice the bot sends (the `nth` to this chat).
    async fn checkout(&self, user: &TestUser, nth: usize) -> SentInvoice {
        self.fake.send_text(user, "/cart");
        let cart = self.screen(user, "Your cart:").await;
        self.fake.press(user, &cart, "Checkout").unwrap();
        let confirm = self.screen(user, "Please check your order").await;
        self.fake.press(user, &confirm, "Confirm order").unwrap();
        self.screen(user, "please pay with the invoice below").await;
        self.fake
            .wait_invoice(user.chat_id(), nth, WAIT)
            .await
            .unwrap()
    }

    /// Asks the bot about paying `payload`: its answer, which must come within 10 s.
    async fn pre_checkout(
        &self,
        user: &TestUser,
        payload: &str,
        currency: &str,
        total: i64,
    ) -> (bool, Option<String>) {
        let query = self.fake.pre_checkout(user, payload, currency, total);
        let answer = self
            .fake
            .pre_checkout_answer(&query, TELEGRAM_LIMIT)
            .await
            .unwrap();
        assert!(answer.after < TELEGRAM_LIMIT, "{answer:?}");
        (answer.ok, answer.error_message)
    }

    async fn order_of(&self, customer_id: i64) -> Vec<order::Model> {
        order::Entity::find()
            .filter(order::Column::CustomerId.eq(customer_id))
            .all(&self.test.db)
            .await
            .unwrap()
    }

    async fn payments(&self) -> Vec<payment::Model> {
        payment::Entity::find().all(&self.test.db).await.unwrap()
    }

    async fn stock(&self) -> i32 {
        variant::Entity::find_by_id(self.demo.green_small)
            .one(&self.test.db)
            .await
            .unwrap()
            .unwrap()
            .stock
    }

    async fn set_stock(&self, stock: i32) {
        variant::Entity::update(variant::ActiveModel {
            id: sea_orm::ActiveValue::Set(self.demo.green_small),
            stock: sea_orm::ActiveValue::Set(stock),
            ..Default::default()
        })
        .exec(&self.test.db)
        .await
        .unwrap();
    }

    /// What the admin tool's refusals must leave as it was.
    fn orders_json(&self) -> serde_json::Value {
        self.tool.json(&["orders", "list"])
    }
}

fn refusal(answer: &(bool, Option<String>)) -> String {
    assert!(!answer.0, "approved: {answer:?}");
    answer.1.clone().unwrap_or_default()
}

#[tokio::test]
async fn a_provider_payment_is_checked_recorded_once_and_refunded_by_the_merchant() {
    let shop = Shop::new().await;
    let alice = TestUser::alice();
    let bob = TestUser::bob();
    let customer = shop.shopper(&alice, 2).await;
    shop.shopper(&bob, 1).await;
    let stock = shop.stock().await;
    let bot = shop
        .start(&[
            ("STOREBOT_PAYMENTS__PROVIDER", "telegram"),
            ("STOREBOT_PAYMENTS__PROVIDER_TOKEN", PROVIDER_TOKEN),
        ])
        .await;

    let invoice = shop.checkout(&alice, 1).await;
    let placed = shop.order_of(customer.id).await;
    assert_eq!(placed.len(), 1);
    let placed = &placed[0];
    assert_eq!(placed.status, "awaiting_payment");
    // Stock is held while the invoice is open.
    assert_eq!(shop.stock().await, stock - 2);
    assert_eq!(invoice.currency, "EUR");
    assert_eq!(invoice.provider_token.as_deref(), Some(PROVIDER_TOKEN));
    assert_eq!(invoice.total(), placed.total);
    assert_eq!(invoice.prices.len(), 1);
    assert!(invoice.prices[0].0.contains("Green tea"), "{invoice:?}");
    assert_eq!(invoice.payload.len(), 32);
    assert!(
        invoice.payload.chars().all(|c| c.is_ascii_hexdigit()),
        "{invoice:?}"
    );
    // No new-order notice for an unpaid order: the merchant hears of it once it is paid.
    assert!(shop.fake.take_replies(MERCHANT_CHAT).is_empty());

    // Bad pre-checkouts, each refused with a sentence and nothing changed.
    let total = invoice.total();
    let payload = invoice.payload.as_str();
    let theirs = shop.pre_checkout(&bob, payload, "EUR", total).await;
    assert!(refusal(&theirs).contains("another customer"), "{theirs:?}");
    let more = shop.pre_checkout(&alice, payload, "EUR", total + 1).await;
    assert!(refusal(&more).contains("does not match"), "{more:?}");
    let dollars = shop.pre_checkout(&alice, payload, "USD", total).await;
    assert!(refusal(&dollars).contains("does not match"), "{dollars:?}");
    let forged = shop
        .pre_checkout(&alice, &placed.id.to_string(), "EUR", total)
        .await;
    assert!(refusal(&forged).contains("not valid"), "{forged:?}");
    let unknown = shop
        .pre_checkout(&alice, &"ab".repeat(16), "EUR", total)
        .await;
    assert!(refusal(&unknown).contains("not valid"), "{unknown:?}");
    let long = shop
        .pre_checkout(&alice, &"x".repeat(128), "EUR", total)
        .await;
    assert!(refusal(&long).contains("not valid"), "{long:?}");
    assert_eq!(
        shop.order_of(customer.id).await[0].status,
        "awaiting_payment"
    );

    assert_eq!(
        shop.pre_checkout(&alice, payload, "EUR", total).await,
        (true, None)
    );
    let paid = shop
        .fake
        .successful_payment(&alice, payload, "EUR", total, "tg-charge-1");
    shop.screen(&alice, "We received your payment").await;
    let notice = shop.fake.next_reply(MERCHANT_CHAT, WAIT).await.unwrap();
    assert!(
        notice
            .visible_text()
            .contains(&format!("Order #{} is paid", placed.id)),
        "{}",
        notice.visible_text()
    );
    assert!(notice.visible_text().contains("provider-tg-charge-1"));
    // The paid order's card comes with it: the merchant can ship or cancel it from the chat.
    assert_eq!(notice.labels(), vec!["Shipped", "Cancel"], "{notice:#?}");

    // Delivered again: recorded once, announced once.
    shop.fake.redeliver(paid).unwrap();
    shop.fake.wait_confirmed(paid, WAIT).await.unwrap();
    let second = shop
        .fake
        .successful_payment(&alice, payload, "EUR", total, "tg-charge-1");
    shop.fake.wait_confirmed(second, WAIT).await.unwrap();
    // The bot answers in order: a message after the payments proves they were handled.
    shop.fake.send_text(&alice, "/orders");
    let orders = shop.screen(&alice, "Your orders:").await;
    assert!(
        orders.visible_text().contains("paid"),
        "{}",
        orders.visible_text()
    );
    assert!(shop.fake.take_replies(MERCHANT_CHAT).is_empty());
    let payments = shop.payments().await;
    assert_eq!(payments.len(), 1, "{payments:?}");
    assert_eq!(
        (
            payments[0].telegram_charge_id.as_str(),
            payments[0].provider_charge_id.as_str(),
            payments[0].amount,
            payments[0].currency.as_str(),
            payments[0].late
        ),
        ("tg-charge-1", "provider-tg-charge-1", total, "EUR", false)
    );
    assert_eq!(shop.order_of(customer.id).await[0].status, "paid");
    assert_eq!(shop.stock().await, stock - 2);
    // Paid: another pre-checkout for it is refused.
    let again = shop.pre_checkout(&alice, payload, "EUR", total).await;
    assert!(refusal(&again).contains("no longer waiting"), "{again:?}");

    // The merchant's side.
    // Wide enough for the payment cell whole (80 columns, without a terminal, cut it).
    let listed = shop
        .tool
        .ok_with(&["orders", "list"], &[("COLUMNS", "200")]);
    assert!(listed.contains("paid (tg-charge-1)"), "{listed}");
    let shown = shop.tool.ok(&["orders", "show", &placed.id.to_string()]);
    assert!(
        shown.contains("provider charge provider-tg-charge-1"),
        "{shown}"
    );
    let order_id = placed.id.to_string();
    shop.tool
        .refused(&["orders", "refund", &order_id], "pass --yes", |_| {
            shop.orders_json()
        });
    let refunded = shop.tool.ok(&["orders", "refund", &order_id, "--yes"]);
    assert!(refunded.contains("provider's dashboard"), "{refunded}");
    assert_eq!(shop.order_of(customer.id).await[0].status, "refunded");
    assert!(shop.fake.star_refunds().is_empty());
    shop.tool.refused(
        &["orders", "refund", &order_id, "--yes"],
        "refunded already",
        |_| shop.orders_json(),
    );
    let shown = shop.tool.ok(&["orders", "show", &order_id]);
    assert!(shown.contains("refunded"), "{shown}");

    let (status, log) = bot.terminate().await.unwrap();
    assert!(status.success(), "{}", log.join("\n"));
    assert!(
        !log.iter().any(|line| line.contains("TEST:shop")),
        "the provider token was logged"
    );
}

// Multi-threaded: the admin binary runs synchronously while the fake answers its call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stars_invoice_expires_its_stock_returns_once_and_a_late_payment_is_kept_and_flagged() {
    let shop = Shop::new().await;
    let alice = TestUser::alice();
    let customer = shop.shopper(&alice, 2).await;
    let stock = shop.stock().await;
    let bot = shop
        .start(&[
            ("STOREBOT_PAYMENTS__PROVIDER", "stars"),
            ("STOREBOT_PAYMENTS__STARS_PER_UNIT", "50"),
            ("STOREBOT_PAYMENTS__EXPIRE_AFTER", "2s"),
        ])
        .await;
    let invoice = shop.checkout(&alice, 1).await;
    // 2 × 4.50 EUR at 50 Stars a euro, in Telegram's one price line for Stars.
    assert_eq!(invoice.currency, "XTR");
    assert_eq!(invoice.provider_token, None);
    assert_eq!(invoice.prices.len(), 1);
    assert_eq!(invoice.total(), 450);
    assert!(invoice.description.contains("Green tea"), "{invoice:?}");

    shop.screen(&alice, "has expired").await;
    let placed = shop.order_of(customer.id).await;
    assert_eq!(placed[0].status, "expired");
    assert_eq!(shop.stock().await, stock);
    let late = shop
        .pre_checkout(&alice, &invoice.payload, "XTR", invoice.total())
        .await;
    assert!(refusal(&late).contains("expired"), "{late:?}");

    // Telegram took the Stars anyway (the shopper paid as the order expired): kept, flagged.
    shop.fake
        .successful_payment(&alice, &invoice.payload, "XTR", 450, "stars-charge-1");
    shop.screen(&alice, "the order had already expired").await;
    let notice = shop.fake.next_reply(MERCHANT_CHAT, WAIT).await.unwrap();
    assert!(
        notice.visible_text().contains("arrived after it expired"),
        "{}",
        notice.visible_text()
    );
    let payments = shop.payments().await;
    assert_eq!(payments.len(), 1);
    assert!(payments[0].late);
    assert_eq!(shop.order_of(customer.id).await[0].status, "expired");
    // Stock was returned once, and a late payment does not take it again.
    assert_eq!(shop.stock().await, stock);
    let listed = shop.tool.ok_with(
        &["orders", "list", "--status", "expired"],
        &[("COLUMNS", "200")],
    );
    assert!(listed.contains("late (stars-charge-1)"), "{listed}");

    // The merchant refunds the Stars through Telegram.
    let order_id = placed[0].id.to_string();
    let env = shop.telegram_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let output = shop
        .tool
        .run_with(&["orders", "refund", &order_id, "--yes"], &env);
    let printed = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(printed.contains("through Telegram"), "{printed}");
    assert_eq!(
        shop.fake.star_refunds(),
        [(alice.id, "stars-charge-1".to_owned())]
    );
    assert_eq!(shop.order_of(customer.id).await[0].status, "refunded");
    assert!(shop.payments().await[0].refunded_at.is_some());

    let (status, log) = bot.terminate().await.unwrap();
    assert!(status.success(), "{}", log.join("\n"));
}

#[tokio::test]
async fn stock_is_held_while_an_invoice_is_open_and_returns_once_when_the_shopper_cancels() {
    let shop = Shop::new().await;
    shop.set_stock(2).await;
    let alice = TestUser::alice();
    let bob = TestUser::bob();
    let alice_customer = shop.shopper(&alice, 2).await;
    let bob_customer = shop.shopper(&bob, 1).await;
    let bot = shop
        .start(&[
            ("STOREBOT_PAYMENTS__PROVIDER", "telegram"),
            ("STOREBOT_PAYMENTS__PROVIDER_TOKEN", PROVIDER_TOKEN),
        ])
        .await;
    let invoice = shop.checkout(&alice, 1).await;
    assert_eq!(shop.stock().await, 0);
    // Sold out while Alice's invoice is open: Bob can't order it.
    shop.fake.send_text(&bob, "/cart");
    let cart = shop.screen(&bob, "Your cart:").await;
    let sold_out = cart.visible_text().contains("sold out")
        || !cart.all_buttons().any(|button| button.label == "Checkout");
    assert!(sold_out, "{}", cart.visible_text());
    assert!(shop.order_of(bob_customer.id).await.is_empty());

    // Alice lets it go from /orders.
    shop.fake.send_text(&alice, "/orders");
    let orders = shop.screen(&alice, "Your orders:").await;
    let placed = &shop.order_of(alice_customer.id).await[0];
    let cancel = format!("Cancel unpaid order #{}", placed.id);
    shop.fake.press(&alice, &orders, &cancel).unwrap();
    shop.screen(&alice, "is cancelled; nothing was charged")
        .await;
    assert_eq!(
        shop.order_of(alice_customer.id).await[0].status,
        "cancelled"
    );
    assert_eq!(shop.stock().await, 2);
    // A second press (a stale button) changes nothing.
    shop.fake.press(&alice, &orders, &cancel).unwrap();
    shop.screen(&alice, "can no longer be cancelled").await;
    assert_eq!(shop.stock().await, 2);
    let cancelled = shop
        .pre_checkout(&alice, &invoice.payload, "EUR", invoice.total())
        .await;
    assert!(
        refusal(&cancelled).contains("no longer waiting"),
        "{cancelled:?}"
    );

    // Now Bob can buy it and pay.
    let bobs = shop.checkout(&bob, 1).await;
    assert_eq!(
        shop.pre_checkout(&bob, &bobs.payload, "EUR", bobs.total())
            .await,
        (true, None)
    );
    shop.fake
        .successful_payment(&bob, &bobs.payload, "EUR", bobs.total(), "bob-charge");
    shop.screen(&bob, "We received your payment").await;
    assert_eq!(shop.order_of(bob_customer.id).await[0].status, "paid");
    assert_eq!(shop.stock().await, 1);

    let (status, log) = bot.terminate().await.unwrap();
    assert!(status.success(), "{}", log.join("\n"));
}

/// Holds the database so that the bot can't record a payment: SQLite's write lock (the bot's
/// write waits `busy_timeout`, fails, and retries), or on PostgreSQL an exclusive lock on the
/// payment table (the bot's statement waits).
async fn hold_database(test: &TestDb) -> storebot::store::DatabaseTransaction {
    let txn = storebot::store::begin_write(&test.db).await.unwrap();
    if test.is_postgres() {
        txn.execute_unprepared("LOCK TABLE payment IN ACCESS EXCLUSIVE MODE")
            .await
            .unwrap();
    } else {
        // BEGIN IMMEDIATE holds the write lock from here on; a write makes sure of it.
        txn.execute_unprepared("UPDATE variant SET stock = stock WHERE id = 0")
            .await
            .unwrap();
    }
    txn
}

/// Waits until the bot has taken the payment and is stuck recording it.
async fn wait_until_stuck(test: &TestDb, bot: &mut BotProcess) {
    if test.is_postgres() {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            // Another connection: is some statement waiting for the payment table's lock?
            let row = test
                .db
                .query_one_raw(sea_orm::Statement::from_string(
                    sea_orm::DatabaseBackend::Postgres,
                    "SELECT count(*) AS waiting FROM pg_locks \
                     WHERE NOT granted AND relation = 'payment'::regclass",
                ))
                .await
                .unwrap()
                .unwrap();
            let waiting: i64 = row.try_get("", "waiting").unwrap();
            if waiting > 0 {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the bot never waited for the lock"
            );
            // Polling the server's lock table: there is nothing to await.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    } else {
        bot.wait_for_log("a payment could not be recorded", WAIT)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_payment_taken_by_a_bot_killed_before_recording_it_is_recorded_after_restart() {
    let shop = Shop::new().await;
    let alice = TestUser::alice();
    let customer = shop.shopper(&alice, 1).await;
    let settings = [
        ("STOREBOT_PAYMENTS__PROVIDER", "telegram"),
        ("STOREBOT_PAYMENTS__PROVIDER_TOKEN", PROVIDER_TOKEN),
        ("STOREBOT_DATABASE__BUSY_TIMEOUT", "1s"),
    ];
    let mut bot = shop.start(&settings).await;
    let invoice = shop.checkout(&alice, 1).await;
    assert_eq!(
        shop.pre_checkout(&alice, &invoice.payload, "EUR", invoice.total())
            .await,
        (true, None)
    );
    let held = hold_database(&shop.test).await;
    let paid = shop.fake.successful_payment(
        &alice,
        &invoice.payload,
        "EUR",
        invoice.total(),
        "killed-charge",
    );
    wait_until_stuck(&shop.test, &mut bot).await;
    bot.kill_9().await.unwrap();
    held.rollback().await.unwrap();
    assert!(shop.payments().await.is_empty());
    // Never confirmed to Telegram, so it is delivered again to the next start.
    assert_eq!(shop.fake.pending_updates(), 1);

    let bot = shop.start(&settings).await;
    shop.fake.wait_confirmed(paid, WAIT).await.unwrap();
    shop.screen(&alice, "We received your payment").await;
    let payments = shop.payments().await;
    assert_eq!(payments.len(), 1, "{payments:?}");
    assert_eq!(payments[0].telegram_charge_id, "killed-charge");
    assert_eq!(shop.order_of(customer.id).await[0].status, "paid");
    let (status, log) = bot.terminate().await.unwrap();
    assert!(status.success(), "{}", log.join("\n"));
}

#[tokio::test]
async fn two_webhook_instances_on_one_postgres_record_one_payment_posted_to_both() {
    use storebot_tests::bot::{free_local_addr, http};
    let shop = Shop::new().await;
    if !shop.test.is_postgres() {
        eprintln!("skipped on SQLite: several bot instances need PostgreSQL");
        return;
    }
    let alice = TestUser::alice();
    let customer = shop.shopper(&alice, 1).await;
    // Placed through a polling bot first, then served by two webhook instances.
    let polling = [
        ("STOREBOT_PAYMENTS__PROVIDER", "telegram"),
        ("STOREBOT_PAYMENTS__PROVIDER_TOKEN", PROVIDER_TOKEN),
    ];
    let bot = shop.start(&polling).await;
    let invoice = shop.checkout(&alice, 1).await;
    let (status, log) = bot.terminate().await.unwrap();
    assert!(status.success(), "{}", log.join("\n"));

    const SECRET: &str = "payments_S3cret";
    let mut instances = Vec::new();
    let mut addrs = Vec::new();
    for _ in 0..2 {
        let listen = free_local_addr().unwrap();
        let listen_text = listen.to_string();
        let mut env = shop.telegram_env();
        for (key, value) in polling.iter().chain(&[
            ("STOREBOT_TELEGRAM__MODE", "webhook"),
            ("STOREBOT_TELEGRAM__WEBHOOK__LISTEN", listen_text.as_str()),
            ("STOREBOT_TELEGRAM__WEBHOOK__SECRET_TOKEN", SECRET),
        ]) {
            env.push(((*key).to_owned(), (*value).to_owned()));
        }
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut bot = BotProcess::start(shop.tool.dir(), &env).unwrap();
        bot.wait_for_log("receiving updates by webhook", WAIT)
            .await
            .unwrap();
        instances.push(bot);
        addrs.push(listen);
    }
    // The same payment, posted to both at once (a redelivery reaching both).
    let update_id = shop.fake.successful_payment(
        &alice,
        &invoice.payload,
        "EUR",
        invoice.total(),
        "webhook-charge",
    );
    let update = shop.fake.update_json(update_id).unwrap().to_string();
    let headers = [("X-Telegram-Bot-Api-Secret-Token", SECRET)];
    let (first, second) = tokio::join!(
        http(addrs[0], "POST", "/telegram", &headers, &update),
        http(addrs[1], "POST", "/telegram", &headers, &update),
    );
    assert_eq!(first.unwrap().0, 200);
    assert_eq!(second.unwrap().0, 200);
    // Recorded before either post was answered.
    let payments = shop.payments().await;
    assert_eq!(payments.len(), 1, "{payments:?}");
    assert_eq!(shop.order_of(customer.id).await[0].status, "paid");
    // Told once: the shopper through the outbox, the merchant chat by the instance that
    // claimed the announcement.
    shop.screen(&alice, "We received your payment").await;
    shop.fake.next_reply(MERCHANT_CHAT, WAIT).await.unwrap();

    // A pre-checkout while the database does not answer is refused within Telegram's limit.
    let held = hold_invoices(&shop.test).await;
    let query = serde_json::json!({
        "update_id": shop.fake.next_update_id(),
        "pre_checkout_query": {
            "id": "pcq-held", "from": alice.to_json(), "currency": "EUR",
            "total_amount": invoice.total(), "invoice_payload": invoice.payload,
        },
    });
    let started = tokio::time::Instant::now();
    let (status, _) = http(addrs[0], "POST", "/telegram", &headers, &query.to_string())
        .await
        .unwrap();
    assert_eq!(status, 200);
    let answered = shop
        .fake
        .wait_for_calls("answerPreCheckoutQuery", 1, TELEGRAM_LIMIT)
        .await
        .unwrap();
    assert!(started.elapsed() < TELEGRAM_LIMIT);
    assert_eq!(
        answered[0].body["ok"],
        serde_json::json!(false),
        "{answered:?}"
    );
    held.rollback().await.unwrap();
    for bot in instances {
        let (status, log) = bot.terminate().await.unwrap();
        assert!(status.success(), "{}", log.join("\n"));
    }
    assert!(shop.fake.take_replies(MERCHANT_CHAT).is_empty());
}

/// PostgreSQL: no statement can read the invoices until the transaction ends.
async fn hold_invoices(test: &TestDb) -> storebot::store::DatabaseTransaction {
    let txn = storebot::store::begin_write(&test.db).await.unwrap();
    txn.execute_unprepared("LOCK TABLE invoice IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    txn
}

#[tokio::test]
async fn an_invoice_telegram_refuses_leaves_the_order_awaiting_payment_and_tells_the_shopper() {
    let shop = Shop::new().await;
    let alice = TestUser::alice();
    let customer = shop.shopper(&alice, 1).await;
    // A provider token the merchant revoked in @BotFather: Telegram refuses the invoice.
    let bot = shop
        .start(&[
            ("STOREBOT_PAYMENTS__PROVIDER", "telegram"),
            ("STOREBOT_PAYMENTS__PROVIDER_TOKEN", "revoked-token"),
        ])
        .await;
    shop.fake.send_text(&alice, "/cart");
    let cart = shop.screen(&alice, "Your cart:").await;
    shop.fake.press(&alice, &cart, "Checkout").unwrap();
    let confirm = shop.screen(&alice, "Please check your order").await;
    shop.fake.press(&alice, &confirm, "Confirm order").unwrap();
    shop.screen(&alice, "could not send the invoice").await;
    assert!(shop.fake.invoices().is_empty());
    assert_eq!(
        shop.order_of(customer.id).await[0].status,
        "awaiting_payment"
    );
    let (status, log) = bot.terminate().await.unwrap();
    assert!(status.success(), "{}", log.join("\n"));
    assert!(!log.iter().any(|line| line.contains("revoked-token")));
}
