//! Coupons through the real binaries: `storebot-admin coupons` through its flags (each bad
//! input refused with one sentence, nothing written), and a shopper redeeming a coupon at
//! checkout through the `storebot` binary against the fake Bot API. SQLite, or PostgreSQL
//! with `STOREBOT_TEST_DATABASE_URL`.

use std::time::Duration;

use chrono::Utc;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use storebot::store::{membership::user_groups, operations::demo, shoppers::customers};
use storebot::testing::TestDb;
use storebot_entity::{coupon_redemption, order};
use storebot_tests::admin::AdminTool;
use storebot_tests::bot::BotProcess;
use storebot_tests::fake_telegram::{FakeTelegram, SentMessage, TEST_TOKEN, TestUser};

const WAIT: Duration = Duration::from_secs(20);
const MERCHANT_CHAT: i64 = -100_999;

struct Shop {
    test: TestDb,
    demo: demo::Demo,
    tool: AdminTool,
}

impl Shop {
    async fn new() -> Self {
        let test = TestDb::new().await.unwrap();
        let demo = demo::seed(&test.db, Utc::now() - chrono::Duration::days(60))
            .await
            .unwrap();
        let tool = AdminTool::new(test.url());
        Self { test, demo, tool }
    }

    /// A command that must fail with `expected` in its one sentence and write nothing.
    fn refused(&self, args: &[&str], expected: &str) {
        self.tool
            .refused(args, expected, |tool| tool.json(&["coupons", "list"]));
    }
}

impl std::ops::Deref for Shop {
    type Target = AdminTool;

    fn deref(&self) -> &AdminTool {
        &self.tool
    }
}

#[tokio::test]
async fn coupons_are_created_listed_shown_and_disabled_through_the_admin_tool() {
    let shop = Shop::new().await;
    let created = shop.json(&[
        "coupons",
        "create",
        "--code",
        "vip20",
        "--percent",
        "20",
        "--segment",
        "VIP",
        "--user-group",
        "friends",
        "--usage-limit",
        "100",
        "--per-shopper-limit",
        "1",
        "--ends",
        "2099-01-01",
    ]);
    assert_eq!(created["coupon"]["code"], "VIP20");
    assert_eq!(created["coupon"]["kind"], "percent");
    assert_eq!(created["segments"][0]["name"], "VIP");
    assert_eq!(created["user_groups"][0], "friends");
    let fixed = shop.json(&[
        "coupons",
        "create",
        "--code",
        "FIVE",
        "--fixed",
        "5.00",
        "--segment",
        "Coffee lovers",
    ]);
    assert_eq!(fixed["coupon"]["amount"], 500);

    for (args, expected) in [
        (
            &[
                "coupons",
                "create",
                "--code",
                "X1X",
                "--percent",
                "10",
                "--segment",
                "Nobody",
            ][..],
            "segment `Nobody` does not exist",
        ),
        (
            &[
                "coupons",
                "create",
                "--code",
                "X1X",
                "--percent",
                "120",
                "--segment",
                "VIP",
            ],
            "from 1 to 100",
        ),
        (
            &[
                "coupons",
                "create",
                "--code",
                "X1X",
                "--percent",
                "10",
                "--segment",
                "VIP",
                "--starts",
                "2027-02-01",
                "--ends",
                "2027-01-01",
            ],
            "end must come after its start",
        ),
        (
            &["coupons", "create", "--code", "X1X", "--percent", "10"],
            "at least one",
        ),
        (
            &[
                "coupons",
                "create",
                "--code",
                "vip20",
                "--percent",
                "5",
                "--segment",
                "VIP",
            ],
            "already exists",
        ),
        (
            &["coupons", "create", "--percent", "5", "--segment", "VIP"],
            "missing --code",
        ),
        (
            &["coupons", "disable", "NOPE"],
            "coupon `NOPE` does not exist",
        ),
    ] {
        shop.refused(args, expected);
    }

    // Wide enough for every cell whole (in 80 columns the longest are cut with "…").
    let table = shop.ok_with(&["coupons", "list"], &[("COLUMNS", "200")]);
    assert!(table.contains("VIP20") && table.contains("20%"), "{table}");
    assert!(
        table.contains("FIVE") && table.contains("5.00 EUR"),
        "{table}"
    );
    assert!(table.contains("VIP, group:friends"), "{table}");

    let shown = shop.json(&["coupons", "show", "Vip20"]);
    assert_eq!(shown["redemptions"], 0);
    assert_eq!(shown["coupon"]["active"], true);
    let disabled = shop.json(&["coupons", "disable", "vip20"]);
    assert_eq!(disabled["active"], false);
    let text = shop.ok(&["coupons", "show", "VIP20"]);
    assert!(text.contains("active: no, used 0 of 100"), "{text}");

    // Export writes the coupons with their segments named; the TOML file applies back with no
    // change, and a coupon changed in the file is rewritten by apply.
    let exported = shop.json(&["export", "--format", "json"]);
    let vip20 = &exported["coupons"][1];
    assert_eq!(vip20["code"], "VIP20", "{exported}");
    assert_eq!(
        (vip20["percent"].clone(), vip20["active"].clone()),
        (20.into(), false.into())
    );
    assert_eq!(vip20["segments"][0], "VIP");
    let file = shop.dir().join("store.toml");
    let file = file.to_str().expect("utf-8 path");
    shop.ok(&["export", "-o", file]);
    let again = shop.json(&["apply", file, "--dry-run"]);
    assert_eq!(again["changes"], serde_json::json!([]), "{again}");
    let toml = std::fs::read_to_string(file).expect("exported file");
    std::fs::write(file, toml.replace("percent = 20", "percent = 25")).expect("edit");
    let applied = shop.json(&["apply", file, "--yes"]);
    assert_eq!(
        applied["changes"],
        serde_json::json!(["change coupon `VIP20`"])
    );
    assert_eq!(
        shop.json(&["coupons", "show", "VIP20"])["coupon"]["amount"],
        25
    );
    assert!(shop.demo.vip > 0);
}

/// One shopper talking to the bot binary.
struct Chat<'a> {
    fake: &'a FakeTelegram,
    user: TestUser,
}

impl Chat<'_> {
    async fn screen(&self, part: &str) -> SentMessage {
        let mut skipped = Vec::new();
        loop {
            match self.fake.next_reply(self.user.chat_id(), WAIT).await {
                Ok(reply) if reply.visible_text().contains(part) => return reply,
                Ok(reply) => skipped.push(reply.visible_text()),
                Err(error) => panic!("waiting for {part:?}; skipped {skipped:#?}: {error:#}"),
            }
        }
    }

    fn send(&self, text: &str) {
        self.fake.send_text(&self.user, text);
    }

    fn press(&self, message: &SentMessage, label: &str) {
        self.fake.press(&self.user, message, label).unwrap();
    }
}

#[tokio::test]
async fn a_shopper_redeems_a_coupon_at_checkout_through_the_bot_binary() {
    let shop = Shop::new().await;
    shop.json(&[
        "coupons",
        "create",
        "--code",
        "FRIENDS",
        "--percent",
        "10",
        "--user-group",
        "friends",
    ]);
    let fake = FakeTelegram::start().await.unwrap();
    let api_url = fake.url();
    let merchant = MERCHANT_CHAT.to_string();
    let mut bot = BotProcess::start(
        shop.dir(),
        &[
            ("STOREBOT_TELEGRAM__TOKEN", TEST_TOKEN),
            ("STOREBOT_TELEGRAM__API_URL", &api_url),
            ("STOREBOT_DATABASE__URL", shop.test.url()),
            ("STOREBOT_TELEGRAM__MERCHANT_CHATS", &merchant),
            ("STOREBOT_CHECKOUT__ASK_CONTACT", "false"),
            ("STOREBOT_CHECKOUT__ASK_ADDRESS", "false"),
        ],
    )
    .unwrap();
    bot.wait_for_log("receiving updates by long polling", WAIT)
        .await
        .unwrap();

    let alice = Chat {
        fake: &fake,
        user: TestUser::alice(),
    };
    alice.send("/start");
    let age = alice.screen("How old are you?").await;
    alice.press(&age, "26–40");
    let likes = alice.screen("What do you like to drink?").await;
    alice.press(&likes, "Tea");
    let ticked = alice.screen("What do you like to drink?").await;
    alice.press(&ticked, "Done");
    let diet = alice.screen("Do you follow a diet?").await;
    alice.press(&diet, "Skip");
    alice.screen("Main menu").await;
    let customer = customers::find_by_telegram_id(&shop.test.db, alice.user.id)
        .await
        .unwrap()
        .unwrap();
    user_groups::add_hand_set_group(&shop.test.db, customer.id, "friends")
        .await
        .unwrap();

    alice.send(&format!("/start p_{}", shop.demo.green_tea));
    let product = alice.screen("Green tea").await;
    alice.press(&product, "100 g · 4.50 EUR");
    let how_many = alice.screen("How many?").await;
    alice.press(&how_many, "2");
    alice.screen("Added 2 × Green tea, 100 g").await;
    alice.send("/cart");
    let cart = alice.screen("Your cart:").await;
    alice.press(&cart, "Checkout");
    let confirm = alice.screen("Please check your order").await;
    alice.press(&confirm, "Coupon");
    alice.screen("Please type your coupon code.").await;
    alice.send("bogus");
    alice.screen("There is no coupon “BOGUS”").await;
    let confirm = alice.screen("Please check your order").await;
    alice.press(&confirm, "Coupon");
    alice.screen("Please type your coupon code.").await;
    alice.send("friends");
    let confirm = alice.screen("To pay: 8.10 EUR").await;
    assert!(
        confirm.visible_text().contains("Coupon FRIENDS: −0.90 EUR"),
        "{}",
        confirm.visible_text()
    );
    alice.press(&confirm, "Confirm order");
    alice.screen("for 8.10 EUR is placed").await;
    let notice = fake.next_reply(MERCHANT_CHAT, WAIT).await.unwrap();
    assert!(
        notice.visible_text().contains("Coupon FRIENDS: −0.90 EUR"),
        "{}",
        notice.visible_text()
    );
    alice.send("/orders");
    alice.screen("Coupon FRIENDS: −0.90 EUR").await;

    let orders = order::Entity::find()
        .filter(order::Column::CustomerId.eq(customer.id))
        .all(&shop.test.db)
        .await
        .unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!((orders[0].total, orders[0].discount_total), (810, 90));
    let redemptions = coupon_redemption::Entity::find()
        .filter(coupon_redemption::Column::OrderId.eq(orders[0].id))
        .all(&shop.test.db)
        .await
        .unwrap();
    assert_eq!(redemptions.len(), 1);
    let shown = shop.json(&["coupons", "show", "friends"]);
    assert_eq!(shown["redemptions"], 1);
    assert_eq!(shown["shoppers"][0]["uses"], 1);
    let listed = shop.ok(&["orders", "list"]);
    assert!(listed.contains("−0.90 EUR"), "{listed}");
    assert!(listed.contains("8.10 EUR"), "{listed}");

    let (status, log) = bot.terminate().await.unwrap();
    assert!(status.success(), "{}", log.join("\n"));
}

/// Places an order of `quantity` small green teas for `customer`, with `codes` entered at the
/// confirmation, as the checkout does: the quote shown, then the order placed exactly so.
async fn place_order(shop: &Shop, customer: i64, quantity: i32, key: &str, codes: &[&str]) -> i64 {
    use storebot::store::membership::in_force;
    use storebot::store::orders::{cart, coupons, place, quote};
    let now = Utc::now();
    cart::set_quantity(
        &shop.test.db,
        customer,
        shop.demo.green_small,
        quantity,
        now,
    )
    .await
    .unwrap();
    let segments = in_force::segments_in_force_for(&shop.test.db, customer, now)
        .await
        .unwrap();
    let codes: Vec<String> = codes.iter().map(|code| (*code).to_owned()).collect();
    let shopper = coupons::Shopper {
        customer_id: customer,
        segments_in_force: &segments,
        now,
    };
    let shown = quote::quote(&shop.test.db, &shopper, &codes)
        .await
        .unwrap()
        .quote;
    let placed = place::place(
        &shop.test.db,
        &place::NewOrder {
            customer_id: customer,
            idempotency_key: key,
            segments_in_force: &segments,
            contact_phone: None,
            address: None,
            currency: "EUR",
            now,
            coupons: &codes,
            confirmed: &shown,
            payment: None,
        },
    )
    .await
    .unwrap();
    let place::Placement::Placed { order, .. } = placed else {
        panic!("expected an order, got {placed:?}");
    };
    order.order.id
}

#[tokio::test]
async fn orders_list_and_show_name_the_coupon_behind_each_discount() {
    let shop = Shop::new().await;
    shop.json(&[
        "coupons",
        "create",
        "--code",
        "welcome10",
        "--percent",
        "10",
        "--user-group",
        "friends",
    ]);
    let customer = customers::record_interaction(
        &shop.test.db,
        &customers::TelegramUser::new(4242, "Ida"),
        Utc::now(),
    )
    .await
    .unwrap()
    .id;
    user_groups::add_hand_set_group(&shop.test.db, customer, "friends")
        .await
        .unwrap();
    // 2 × 4.50 EUR, 10% off: −0.90 EUR; then an order without a coupon.
    let with_coupon = place_order(&shop, customer, 2, "k-coupon", &["welcome10"]).await;
    let without = place_order(&shop, customer, 1, "k-plain", &[]).await;

    let listed = shop.json(&["orders", "list"]);
    let order = |id: i64| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|order| order["id"] == id)
            .unwrap_or_else(|| panic!("order {id} not in {listed:#}"))
            .clone()
    };
    let discounted = order(with_coupon);
    assert_eq!(discounted["coupon_codes"], serde_json::json!(["WELCOME10"]));
    assert_eq!(discounted["discount_total"], 90);
    assert_eq!(discounted["currency"], "EUR");
    assert_eq!(order(without)["coupon_codes"], serde_json::json!([]));
    // The demo's own orders are listed too, none with a coupon.
    assert!(listed.as_array().unwrap().len() > 2);

    let table = shop.ok_with(&["orders", "list"], &[("COLUMNS", "200")]);
    let line = |id: i64| {
        table
            .lines()
            .find(|line| line.trim_start().starts_with(&format!("{id} ")))
            .unwrap_or_else(|| panic!("order {id} not in\n{table}"))
    };
    assert!(
        line(with_coupon).contains("−0.90 EUR (WELCOME10)"),
        "{table}"
    );
    assert!(!line(without).contains("WELCOME10"), "{table}");
    // At 80 columns the code may be cut, the amount never.
    let narrow = shop.ok_with(&["orders", "list"], &[("COLUMNS", "80")]);
    assert!(narrow.contains("−0.90 EUR"), "{narrow}");

    let shown = shop.ok(&["orders", "show", &with_coupon.to_string()]);
    assert!(shown.contains("discount −0.90 EUR (WELCOME10)"), "{shown}");
    let shown = shop.json(&["orders", "show", &with_coupon.to_string()]);
    assert_eq!(shown["coupon_codes"], serde_json::json!(["WELCOME10"]));
    assert_eq!(shown["id"], with_coupon);
    let plain = shop.json(&["orders", "show", &without.to_string()]);
    assert_eq!(plain["coupon_codes"], serde_json::json!([]));
}
