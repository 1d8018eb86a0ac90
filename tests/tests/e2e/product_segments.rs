//! Product segments end to end: `storebot-admin product-segments` through its flags (create,
//! see products, grant, see uses, delete with and without `--force`, bad input changing
//! nothing), and the real bot binary showing a granted shopper a restricted variant that
//! another shopper does not see.

use std::time::Duration;

use chrono::Utc;
use serde_json::Value;
use storebot::product_rule::ProductRule;
use storebot::store::{catalog::product_segments, operations::demo};
use storebot::testing::TestDb;
use storebot_tests::admin::AdminTool;
use storebot_tests::bot::BotProcess;
use storebot_tests::fake_telegram::{FakeTelegram, SentMessage, TEST_TOKEN, TestUser};

const WAIT: Duration = Duration::from_secs(20);

struct Admin {
    _test: TestDb,
    tool: AdminTool,
}

impl Admin {
    /// Fails with a sentence containing `expected` and leaves product segments as they were.
    fn refused(&self, args: &[&str], expected: &str) {
        self.tool.refused(args, expected, |tool| {
            tool.json(&["product-segments", "list"])
        });
    }

    fn skus(&self, product_segment: &str) -> Vec<String> {
        let rows = self.json(&["product-segments", "products", product_segment]);
        let mut skus: Vec<String> = rows
            .as_array()
            .expect("array")
            .iter()
            .map(|row| row["variant"]["sku"].as_str().expect("sku").to_owned())
            .collect();
        skus.sort();
        skus
    }
}

impl std::ops::Deref for Admin {
    type Target = AdminTool;

    fn deref(&self) -> &AdminTool {
        &self.tool
    }
}

#[tokio::test]
async fn product_segments_are_created_previewed_granted_and_deleted_through_the_admin_tool() {
    let test = TestDb::new().await.expect("test db");
    demo::seed(&test.db, Utc::now()).await.expect("demo");
    let tool = AdminTool::new(test.url());
    let admin = Admin { _test: test, tool };
    let created = admin.json(&[
        "product-segments",
        "create",
        "--name",
        "premium tea",
        "--category",
        "Tea",
        "--min-price",
        "10.00",
    ]);
    assert_eq!(created["variants"], 2, "{created}");
    assert_eq!(admin.skus("premium tea"), ["GT-500", "OO-RES"]);
    // In stock only: the sold-out 500 g green tea leaves; the rule follows an edit of it.
    admin.ok(&[
        "product-segments",
        "edit",
        "premium tea",
        "--in-stock",
        "yes",
    ]);
    assert_eq!(admin.skus("premium tea"), ["OO-RES"]);
    admin.ok(&["catalog", "variant", "edit", "GT-500", "--stock", "4"]);
    assert_eq!(admin.skus("premium tea"), ["GT-500", "OO-RES"]);

    admin.refused(
        &["product-segments", "create", "--name", "x"],
        "missing a condition",
    );
    admin.refused(
        &[
            "product-segments",
            "create",
            "--name",
            "x",
            "--min-price",
            "5",
            "--max-price",
            "2",
        ],
        "the price range is inverted",
    );
    admin.refused(
        &[
            "product-segments",
            "create",
            "--name",
            "premium tea",
            "--in-stock",
            "yes",
        ],
        "already exists",
    );
    admin.refused(
        &[
            "product-segments",
            "create",
            "--name",
            "x",
            "--category",
            "Nope",
        ],
        "there is no category `Nope`",
    );
    admin.refused(
        &[
            "product-segments",
            "grant",
            "premium tea",
            "--segment",
            "Nobody",
        ],
        "segment `Nobody` does not exist",
    );

    let granted = admin.json(&[
        "product-segments",
        "grant",
        "premium tea",
        "--segment",
        "Coffee lovers",
    ]);
    assert_eq!(granted["added"], true);
    let uses = admin.json(&["product-segments", "uses", "premium tea"]);
    assert_eq!(uses[0]["name"], "Coffee lovers");
    let shown = admin.ok(&["product-segments", "show", "premium tea"]);
    assert!(shown.contains("granted to: Coffee lovers"), "{shown}");
    assert!(shown.contains("in stock"), "{shown}");
    // Categories by name, not by id.
    assert!(shown.contains("category `Tea`"), "{shown}");
    let listed = admin.ok(&["product-segments", "list"]);
    assert!(listed.contains("category `Tea`"), "{listed}");
    let segment = admin.json(&["segments", "show", "Coffee lovers"]);
    assert_eq!(segment["uses"]["product_segments"][0], "premium tea");

    // Export names categories and segments; the TOML file applies back with no change.
    let exported = admin.json(&["export", "--format", "json"]);
    let listed = &exported["product_segments"][0];
    assert_eq!(listed["name"], "premium tea");
    assert_eq!(listed["categories"][0], "Tea");
    assert_eq!(listed["price_min"], 1000);
    assert_eq!(listed["granted_to"][0], "Coffee lovers");
    let file = admin.dir().join("store.toml");
    let file = file.to_str().expect("utf-8 path");
    admin.ok(&["export", "-o", file]);
    let again = admin.json(&["apply", file, "--dry-run"]);
    assert_eq!(again["changes"], Value::Array(vec![]), "{again}");

    admin.refused(
        &["product-segments", "delete", "premium tea"],
        "is granted to segments `Coffee lovers`: delete it anyway with --force",
    );
    let deleted = admin.json(&["product-segments", "delete", "premium tea", "--force"]);
    assert_eq!(deleted["grants_removed"][0], "Coffee lovers");
    assert_eq!(
        admin.json(&["product-segments", "list"]),
        Value::Array(vec![])
    );
}

/// One shopper's side of the chat with the running bot.
struct Shopper<'a> {
    fake: &'a FakeTelegram,
    user: TestUser,
}

impl Shopper<'_> {
    async fn screen(&self, part: &str) -> SentMessage {
        let mut skipped = Vec::new();
        loop {
            match self.fake.next_reply(self.user.chat_id(), WAIT).await {
                Ok(reply) if reply.visible_text().contains(part) => return reply,
                Ok(reply) => skipped.push(reply.visible_text()),
                Err(error) => panic!("waiting for {part}; skipped {skipped:#?}: {error:#}"),
            }
        }
    }

    async fn with_button(&self, label: &str) -> SentMessage {
        loop {
            let reply = self
                .fake
                .next_reply(self.user.chat_id(), WAIT)
                .await
                .expect("reply");
            if reply.button(label).is_some() {
                return reply;
            }
        }
    }

    /// `/start` and the demo's questions, liking `drink`.
    async fn register(&self, drink: &str) {
        self.fake.send_text(&self.user, "/start");
        let age = self.screen("How old are you?").await;
        self.fake.press(&self.user, &age, "18–25").expect("press");
        let likes = self.screen("What do you like to drink?").await;
        self.fake.press(&self.user, &likes, drink).expect("press");
        let ticked = self.with_button(&format!("✓ {drink}")).await;
        self.fake.press(&self.user, &ticked, "Done").expect("press");
        let diet = self.screen("Do you follow a diet?").await;
        self.fake.press(&self.user, &diet, "Skip").expect("press");
        self.screen("Main menu").await;
    }
}

#[tokio::test]
async fn a_shopper_in_a_granted_segment_sees_a_restricted_variant_another_does_not() {
    let test = TestDb::new().await.expect("test db");
    let demo = demo::seed(&test.db, Utc::now() - chrono::Duration::days(60))
        .await
        .expect("demo");
    // The reserve oolong is restricted to VIPs; the product segment "reserve" opens it to
    // coffee lovers.
    product_segments::create(
        &test.db,
        &product_segments::ProductSegmentDraft {
            name: "reserve".into(),
            description: String::new(),
            rule: ProductRule {
                contains: Some("reserve lot".into()),
                ..Default::default()
            },
        },
        Utc::now(),
    )
    .await
    .expect("product segment");
    product_segments::grant(&test.db, "reserve", "Coffee lovers")
        .await
        .expect("grant");

    let fake = FakeTelegram::start().await.expect("fake telegram");
    let dir = tempfile::tempdir().expect("dir");
    let api_url = fake.url();
    let mut bot = BotProcess::start(
        dir.path(),
        &[
            ("STOREBOT_TELEGRAM__TOKEN", TEST_TOKEN),
            ("STOREBOT_TELEGRAM__API_URL", &api_url),
            ("STOREBOT_DATABASE__URL", test.url()),
        ],
    )
    .expect("bot");
    bot.wait_for_log("receiving updates by long polling", WAIT)
        .await
        .expect("polling");

    let alice = Shopper {
        fake: &fake,
        user: TestUser::alice(),
    };
    let bob = Shopper {
        fake: &fake,
        user: TestUser::bob(),
    };
    alice.register("Tea").await;
    bob.register("Coffee").await;
    let oolong = format!("/start p_{}", demo.oolong);
    let reserve = "Reserve lot 50 g · 25.00 EUR";

    fake.send_text(&bob.user, &oolong);
    let for_bob = bob.screen("Milky oolong").await;
    assert!(for_bob.button(reserve).is_some(), "{:?}", for_bob.labels());
    fake.press(&bob.user, &for_bob, reserve).expect("press");
    let how_many = bob.screen("How many?").await;
    fake.press(&bob.user, &how_many, "1").expect("press");
    bob.screen("Added 1 × Oolong, Reserve lot 50 g").await;

    fake.send_text(&alice.user, &oolong);
    let for_alice = alice.screen("Milky oolong").await;
    assert!(for_alice.button("100 g · 7.00 EUR").is_some());
    assert!(
        for_alice.button(reserve).is_none(),
        "{:?}",
        for_alice.labels()
    );
    // A forged press on the reserve lot is refused for Alice, and her cart stays empty.
    let pressed = fake.press_data(
        &alice.user,
        for_alice.message_id,
        &format!("a:{}:1", demo.reserve_vip),
    );
    let notice = fake
        .callback_answer(pressed, WAIT)
        .await
        .expect("answer")
        .text
        .unwrap_or_default();
    assert!(
        notice.contains("not available") || notice.contains("out of date"),
        "{notice}"
    );
    fake.send_text(&alice.user, "/cart");
    alice.screen("Your cart is empty").await;

    let (status, log) = bot.terminate().await.expect("stop");
    assert!(status.success(), "{}", log.join("\n"));
}
