//! Hostile shopper input through the real binary on the demo shop: unknown commands, texts of
//! 4096 characters and odd Unicode (right-to-left marks, combining marks, emoji sequences, NUL,
//! zero-width characters) in search, phone and address and in the shopper's own name; forged,
//! truncated and oversized callback data. Each gets an answer, nothing panics, the bot keeps
//! serving, and nothing changes that should not. SQLite and PostgreSQL.

use std::time::Duration;

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use storebot::testing::TestDb;
use storebot_entity::{cart_item, customer, order};
use storebot_tests::admin::AdminTool;
use storebot_tests::bot::BotProcess;
use storebot_tests::fake_telegram::{FakeTelegram, SentMessage, TEST_TOKEN, TestUser};
use storebot_tests::shopper::{JOURNEY, play_step};

const WAIT: Duration = Duration::from_secs(30);

/// Odd texts a client can send: each is typed where a shopper types.
fn odd_texts() -> Vec<String> {
    vec![
        "x".repeat(4096),
        "🍵".repeat(4096),
        "\u{202E}ahcnes\u{202C} مرحبا بالعالم שלום".to_owned(),
        "Z\u{0351}\u{0358}\u{0300}a\u{0301}\u{0302}\u{0303}l\u{0360}g\u{0361}o".repeat(50),
        "sen\u{200B}cha\u{200D}\u{FEFF}\u{2060}".to_owned(),
        "tea\u{0}tea\u{0}".to_owned(),
        "👨‍👩‍👧‍👦🏳️‍🌈🇩🇪".to_owned(),
        "\u{7}\u{1b}[31mred\u{1b}[0m\r\n\t".to_owned(),
        "'; DROP TABLE customer; --".to_owned(),
        "%s%n{title}{{}}\\u0000".to_owned(),
    ]
}

fn unknown_commands() -> Vec<String> {
    [
        "/nonexistent",
        "/",
        "/start@some_other_bot",
        "/START",
        "/cart extra words",
        "/search",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Sends `text` and reads every reply up to the one that matches `until` (which the sender
/// then gets as the last message); fails if the bot says nothing that matches in time.
async fn send_until(
    fake: &FakeTelegram,
    user: &TestUser,
    text: &str,
    until: &str,
) -> (Vec<SentMessage>, SentMessage) {
    fake.send_text(user, text);
    let mut before = Vec::new();
    loop {
        let reply = fake.next_reply(user.chat_id(), WAIT).await.unwrap();
        if reply.visible_text().contains(until) {
            return (before, reply);
        }
        before.push(reply);
    }
}

/// The bot answered `text` with something, and still serves: `/menu` brings the main menu.
async fn answered_and_alive(fake: &FakeTelegram, user: &TestUser, text: &str) {
    fake.send_text(user, text);
    let first = fake.next_reply(user.chat_id(), WAIT).await.unwrap();
    assert!(!first.text.is_empty(), "{text:?}");
    assert!(
        first.text.chars().count() <= 4096,
        "a reply over Telegram's limit"
    );
    let _ = send_until(fake, user, "/menu", "Main menu").await;
}

struct Shop {
    test: TestDb,
    fake: FakeTelegram,
    bot: BotProcess,
    _dir: tempfile::TempDir,
}

async fn open_shop() -> Shop {
    let test = TestDb::new().await.unwrap();
    storebot_tests::shopper::demo_shop(&test.db).await.unwrap();
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
    Shop {
        test,
        fake,
        bot,
        _dir: dir,
    }
}

impl Shop {
    /// Registers `user` (the journey's first five steps); returns the main menu message.
    async fn register(&self, user: &TestUser) -> SentMessage {
        let mut last = None;
        for &step in &JOURNEY[..5] {
            play_step(&self.fake, user, step, &mut last, None, WAIT)
                .await
                .unwrap();
        }
        last.unwrap()
    }

    async fn customer(&self, user: &TestUser) -> customer::Model {
        customer::Entity::find()
            .filter(customer::Column::TelegramUserId.eq(user.id))
            .one(&self.test.db)
            .await
            .unwrap()
            .unwrap()
    }

    async fn counts(&self, user: &TestUser) -> (u64, u64) {
        let id = self.customer(user).await.id;
        let cart = cart_item::Entity::find()
            .filter(cart_item::Column::CustomerId.eq(id))
            .count(&self.test.db)
            .await
            .unwrap();
        let orders = order::Entity::find()
            .filter(order::Column::CustomerId.eq(id))
            .count(&self.test.db)
            .await
            .unwrap();
        (cart, orders)
    }

    async fn stop(self) {
        let (status, log) = self.bot.terminate().await.unwrap();
        let log = log.join("\n");
        assert!(status.success(), "{status:?}: {log}");
        assert!(!log.contains("panicked"), "{log}");
        assert_eq!(self.fake.pending_updates(), 0, "{log}");
    }
}

#[tokio::test]
async fn hostile_texts_commands_and_callback_data_are_answered_and_change_nothing() {
    let shop = open_shop().await;
    let user = TestUser::new(4_001, "Mallory").language("en");
    let menu = shop.register(&user).await;
    let before = shop.counts(&user).await;

    // Unknown commands and odd texts (typed at the main menu, they are searches).
    for text in unknown_commands().iter().chain(&odd_texts()) {
        answered_and_alive(&shop.fake, &user, text).await;
    }

    // Callback data no button carries: forged, a real one truncated, oversized.
    let real = menu
        .all_buttons()
        .find_map(|button| button.callback_data.clone())
        .unwrap();
    let truncated = real[..real.len() / 2].to_owned();
    let forged = [
        String::new(),
        "x".to_owned(),
        truncated,
        format!("{real}:{real}"),
        "v:99999999999999999999999999".to_owned(),
        "v:-1:q:-5".to_owned(),
        "🍵".repeat(16),
        "a".repeat(65),
        "a".repeat(4096),
        "\u{0}\u{202E}".to_owned(),
    ];
    for data in &forged {
        let press = shop.fake.press_data(&user, menu.message_id, data);
        let answer = shop.fake.callback_answer(press, WAIT).await.unwrap();
        assert!(
            answer.text.as_deref().is_some_and(|text| !text.is_empty()),
            "{data:?}: the press must be answered with a notice, got {answer:?}"
        );
    }
    let _ = send_until(&shop.fake, &user, "/menu", "Main menu").await;
    assert_eq!(shop.counts(&user).await, before, "nothing changed");
    shop.stop().await;
}

#[tokio::test]
async fn odd_unicode_reaches_the_order_as_typed_and_overlong_input_is_refused() {
    let shop = open_shop().await;
    // A name Telegram would deliver: right-to-left, emoji, combining and zero-width characters.
    let user = TestUser::new(4_002, "\u{202E}Ève\u{0301} 🍵\u{200B} אבג").language("en");
    let menu = shop.register(&user).await;
    assert_eq!(shop.customer(&user).await.first_name, user.first_name);

    // Down to checkout: the journey's steps from Catalog to Checkout.
    let mut last = Some(menu);
    for &step in &JOURNEY[5..12] {
        play_step(&shop.fake, &user, step, &mut last, None, WAIT)
            .await
            .unwrap();
    }
    // Phone numbers that are not: re-asked each time.
    for text in [
        "\u{0}\u{0}\u{0}",
        "☎️☎️☎️☎️☎️",
        &"9".repeat(4096),
        "+٤٤ ٢٠ ٧٩٤٦",
    ] {
        let (_, again) = send_until(&shop.fake, &user, text, "phone").await;
        assert!(!again.text.contains("deliver"), "{text:?} was taken");
    }
    let _ = send_until(
        &shop.fake,
        &user,
        "+44 20 7946 0000",
        "Where should we deliver?",
    )
    .await;
    // An address of 4096 characters is refused; an odd but sane one is kept exactly.
    let (_, again) = send_until(&shop.fake, &user, &"x".repeat(4096), "deliver").await;
    assert!(!again.text.contains("check your order"), "{}", again.text);
    let address = "\u{202E}1 Hi\u{0301}gh St\u{200B}reet 🏳️‍🌈, לונדון";
    let (_, confirm) = send_until(&shop.fake, &user, address, "Please check your order").await;
    assert!(confirm.visible_text().contains(address), "{}", confirm.text);
    let mut last = Some(confirm);
    play_step(&shop.fake, &user, JOURNEY[14], &mut last, None, WAIT)
        .await
        .unwrap();
    let id = shop.customer(&user).await.id;
    let orders = order::Entity::find()
        .filter(order::Column::CustomerId.eq(id))
        .all(&shop.test.db)
        .await
        .unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].address.as_deref(), Some(address));
    shop.stop().await;
}

#[tokio::test]
async fn odd_unicode_in_admin_names_and_csv_cells_is_kept_and_bad_files_name_the_place() {
    let test = TestDb::new().await.unwrap();
    let admin = AdminTool::new(test.url());
    let path = admin.dir();
    let category = "\u{202E}ꓤꓕꓶ\u{202C} 🍵‍ Te\u{0301}e\u{200B}";
    admin.json(&["catalog", "category", "add", category]);
    let listed = admin.json(&["catalog", "category", "list"]).to_string();
    assert!(
        listed.contains(&serde_json::to_string(category).unwrap()[1..]),
        "{listed}"
    );
    let segment = "VIP 👑 مميز";
    admin.json(&["segments", "create", "--name", segment, "--kind", "manual"]);
    let listed = admin.json(&["segments", "list"]).to_string();
    assert!(listed.contains(segment), "{listed}");

    // CSV cells with the same characters, and a description of 4096 characters.
    let description = "ж\u{0301}".repeat(2048);
    let product = "Té 🫖 \u{202E}שלום";
    let csv = format!(
        "sku,product,variant,price,stock,category,description\n\
         ODD-1,\"{product}\",\"50 g \u{200D}\",4.50,3,\"{category}\",\"{description}\"\n"
    );
    let file = admin.write("odd.csv", &csv);
    admin.json(&["catalog", "import", &file]);
    let products = admin.json(&["catalog", "product", "list"]).to_string();
    assert!(products.contains(product), "{products}");

    // Malformed files: a clear error naming the place, and nothing written.
    let nul = admin.write(
        "nul.csv",
        "sku,product,variant,price,stock\nN-1,Tea,50 g,1.00,1\nN-2,Te\0a,50 g,1.00,1\n",
    );
    let missing = path.join("missing.csv");
    let bad_rule = admin.write(
        "rule.json",
        "{\"version\": 1, \"rule\": {\"type\": \"all\", \"rules\": [",
    );
    let cases: [(Vec<&str>, &str); 3] = [
        (
            vec!["catalog", "import", &nul],
            "line 3: the file holds a NUL",
        ),
        (
            vec!["segments", "create", "--name", "x", "--rule", &bad_rule],
            "line 1",
        ),
        (
            vec!["catalog", "import", missing.to_str().unwrap()],
            "missing.csv",
        ),
    ];
    for (args, expected) in cases {
        admin.refused(&args, expected, |admin| {
            (
                admin.json(&["catalog", "product", "list"]),
                admin.json(&["segments", "list"]),
            )
        });
    }

    // Malformed configuration through the binary: the key and the file are named, and no
    // database is created.
    for (config, expected) in [
        (
            "[database]\nmax_connections = \"many\"\n",
            "max_connections",
        ),
        ("[database\nurl = 1\n", "bad.toml"),
        ("[segments]\nrefresh_interval = -5\n", "refresh_interval"),
    ] {
        let file = path.join("bad.toml");
        std::fs::write(&file, config).unwrap();
        let output = storebot_tests::command("storebot-admin", path)
            .args(["--config", file.to_str().unwrap(), "segments", "list"])
            .output()
            .unwrap();
        assert!(!output.status.success(), "{config}");
        let message = storebot_tests::stderr(&output);
        assert!(message.contains(expected), "{config}: {message}");
        assert!(
            !path.join("storebot.db").exists(),
            "{config} created a database"
        );
    }
}

#[tokio::test]
async fn a_nul_in_a_name_a_search_a_coupon_code_or_an_address_is_dropped_and_the_order_is_placed() {
    // PostgreSQL can't store NUL in text and SQLite can: the bot drops it where a message
    // comes in, so both databases answer as they would without it.
    let shop = open_shop().await;
    // A name with a NUL too, as a forged update could carry it.
    let user = TestUser::new(4_003, "Nu\u{0}l").language("en");
    let menu = shop.register(&user).await;
    assert_eq!(shop.customer(&user).await.first_name, "Nul");
    shop.fake.send_text(&user, "sen\u{0}cha");
    let found = shop.fake.next_reply(user.chat_id(), WAIT).await.unwrap();
    assert!(
        found.text.starts_with("Found for “sencha”"),
        "{}",
        found.text
    );

    let mut last = Some(menu);
    for &step in &JOURNEY[5..12] {
        play_step(&shop.fake, &user, step, &mut last, None, WAIT)
            .await
            .unwrap();
    }
    let _ = send_until(
        &shop.fake,
        &user,
        "+44 20 7946\u{0} 0000",
        "Where should we deliver?",
    )
    .await;
    let (_, confirm) = send_until(
        &shop.fake,
        &user,
        "1 High\u{0} Street,\u{0} London",
        "Please check your order",
    )
    .await;
    assert!(
        confirm
            .visible_text()
            .contains("Address: 1 High Street, London"),
        "{}",
        confirm.text
    );
    shop.fake.press(&user, &confirm, "Coupon").unwrap();
    let ask = shop.fake.next_reply(user.chat_id(), WAIT).await.unwrap();
    assert!(ask.text.contains("coupon code"), "{}", ask.text);
    let (before, confirm) =
        send_until(&shop.fake, &user, "no\u{0}such", "Please check your order").await;
    let said: String = before
        .iter()
        .chain([&confirm])
        .map(SentMessage::visible_text)
        .collect();
    assert!(said.contains("There is no coupon “NOSUCH”"), "{said}");
    assert!(!said.contains("try again"), "{said}");

    let mut last = Some(confirm);
    play_step(&shop.fake, &user, JOURNEY[14], &mut last, None, WAIT)
        .await
        .unwrap();
    let id = shop.customer(&user).await.id;
    let orders = order::Entity::find()
        .filter(order::Column::CustomerId.eq(id))
        .all(&shop.test.db)
        .await
        .unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].address.as_deref(), Some("1 High Street, London"));
    assert_eq!(orders[0].contact_phone.as_deref(), Some("+442079460000"));
    shop.stop().await;
}

#[tokio::test]
async fn a_nul_in_any_merchant_file_is_refused_with_its_line_and_nothing_changes() {
    let test = TestDb::new().await.unwrap();
    let admin = AdminTool::new(test.url());
    admin.json(&[
        "segments", "create", "--name", "friends", "--kind", "manual",
    ]);
    admin.ok(&[
        "questions",
        "add",
        "--text",
        "Tea or coffee?",
        "--kind",
        "single",
        "--option",
        "Tea",
        "--option",
        "Coffee",
    ]);
    let exported = admin.ok(&["export", "--format", "toml"]);
    // The apply document: an option renamed with a NUL written as TOML's escape.
    let renamed = exported.replacen("\"Coffee\"", "\"Cof\\u0000fee\"", 1);
    assert_ne!(renamed, exported, "the export names the option: {exported}");
    let line = renamed
        .lines()
        .position(|line| line.contains("\\u0000"))
        .unwrap()
        + 1;
    let document = admin.write("store.toml", &renamed);
    // A member list with a raw NUL on its third line, and a rule file with an escaped one.
    let members = admin.write("members.csv", "customer\n1001\n10\u{0}02\n");
    let rule = admin.write(
        "rule.json",
        "{\"version\": 1,\n \"rule\": {\"type\": \"language\", \"languages\": [\"e\\u0000n\"]}}",
    );
    let state = |admin: &AdminTool| {
        (
            admin.ok(&["export", "--format", "toml"]),
            admin.json(&["segments", "members", "friends"]),
        )
    };
    admin.refused(
        &["apply", &document, "--yes"],
        &format!("line {line}: the file holds a NUL character"),
        state,
    );
    admin.refused(
        &["segments", "members", "friends", "--import", &members],
        "line 3: the file holds a NUL character",
        state,
    );
    admin.refused(
        &["segments", "create", "--name", "nul", "--rule", &rule],
        "line 2: the file holds a NUL character",
        state,
    );
}
