//! The shopper's journey through the real `storebot` binary: the real dialogue, the real
//! Telegram adapter and the real database (SQLite, or PostgreSQL with
//! `STOREBOT_TEST_DATABASE_URL`), with the fake Bot API playing Telegram and the shoppers.
//!
//! Each test seeds the demo shop (`store::operations::demo::seed`), starts the binary against it, and talks
//! to it as shoppers do: commands, button presses on the messages the bot sent, a shared
//! contact. What a test waits for is always a reply or a callback answer from the bot, never
//! a pause. The database is read directly to check what the bot wrote.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use storebot::store::{
    operations::demo, shoppers::answers, shoppers::customers, shoppers::questions,
};
use storebot::testing::TestDb;
use storebot_entity::{cart_item, customer, order, order_item, variant};
use storebot_tests::bot::BotProcess;
use storebot_tests::fake_telegram::{
    FakeTelegram, ReplyKeyboard, SentMessage, TEST_TOKEN, TestUser,
};

pub(crate) const WAIT: Duration = Duration::from_secs(20);
/// The merchants' group chats that hear about new orders.
pub(crate) const MERCHANT_CHAT: i64 = -100_777;
pub(crate) const OTHER_MERCHANT_CHAT: i64 = -100_778;

/// The demo shop in a fresh database, the fake Telegram, and the bot binary serving both.
pub(crate) struct Shop {
    pub(crate) test: TestDb,
    pub(crate) demo: demo::Demo,
    pub(crate) fake: FakeTelegram,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) bot: Option<BotProcess>,
    /// More environment for the bot binary (order-update tests set the merchant users).
    extra_env: Vec<(String, String)>,
}

impl Shop {
    pub(crate) async fn open() -> Self {
        Self::open_with(&[]).await
    }

    /// The demo shop with the bot binary given `extra` environment too.
    pub(crate) async fn open_with(extra: &[(&str, &str)]) -> Self {
        let test = TestDb::new().await.unwrap();
        let demo = demo::seed(&test.db, Utc::now() - chrono::Duration::days(60))
            .await
            .unwrap();
        let mut shop = Self {
            test,
            demo,
            fake: FakeTelegram::start().await.unwrap(),
            dir: tempfile::tempdir().unwrap(),
            bot: None,
            extra_env: extra
                .iter()
                .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
                .collect(),
        };
        shop.start_bot().await;
        shop
    }

    pub(crate) async fn start_bot(&mut self) {
        let api_url = self.fake.url();
        // Two chats: the environment can't give a list of one number (config reads it as a
        // number, not a list), and both must hear of each order.
        let merchant_chats = format!("{MERCHANT_CHAT},{OTHER_MERCHANT_CHAT}");
        let mut env = vec![
            ("STOREBOT_TELEGRAM__TOKEN", TEST_TOKEN),
            ("STOREBOT_TELEGRAM__API_URL", api_url.as_str()),
            ("STOREBOT_DATABASE__URL", self.test.url()),
            ("STOREBOT_TELEGRAM__MERCHANT_CHATS", merchant_chats.as_str()),
        ];
        env.extend(
            self.extra_env
                .iter()
                .map(|(key, value)| (key.as_str(), value.as_str())),
        );
        let mut bot = BotProcess::start(self.dir.path(), &env).unwrap();
        bot.wait_for_log("receiving updates by long polling", WAIT)
            .await
            .unwrap();
        self.bot = Some(bot);
    }

    /// SIGTERM, as a service manager stops the bot; it must exit cleanly with nothing left
    /// unconfirmed.
    pub(crate) async fn stop_bot(&mut self) {
        let Some(bot) = self.bot.take() else { return };
        let (status, log) = bot.terminate().await.unwrap();
        let log = log.join("\n");
        assert!(status.success(), "{status:?}: {log}");
        assert!(!log.contains("panicked"), "{log}");
        assert_eq!(self.fake.pending_updates(), 0, "{log}");
    }

    pub(crate) fn shopper(&self, user: TestUser) -> Shopper<'_> {
        Shopper {
            fake: &self.fake,
            user,
        }
    }

    pub(crate) async fn customer(&self, user: &TestUser) -> customer::Model {
        customers::find_by_telegram_id(&self.test.db, user.id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no customer for {}", user.first_name))
    }

    pub(crate) async fn orders_of(&self, user: &TestUser) -> Vec<order::Model> {
        let customer = self.customer(user).await;
        order::Entity::find()
            .filter(order::Column::CustomerId.eq(customer.id))
            .order_by_asc(order::Column::Id)
            .all(&self.test.db)
            .await
            .unwrap()
    }

    pub(crate) async fn cart_of(&self, user: &TestUser) -> Vec<cart_item::Model> {
        let customer = self.customer(user).await;
        cart_item::Entity::find()
            .filter(cart_item::Column::CustomerId.eq(customer.id))
            .all(&self.test.db)
            .await
            .unwrap()
    }

    pub(crate) async fn stock_of(&self, variant_id: i64) -> i32 {
        variant::Entity::find_by_id(variant_id)
            .one(&self.test.db)
            .await
            .unwrap()
            .unwrap()
            .stock
    }

    pub(crate) async fn variant_by_sku(&self, sku: &str) -> i64 {
        variant::Entity::find()
            .filter(variant::Column::Sku.eq(sku))
            .one(&self.test.db)
            .await
            .unwrap()
            .unwrap()
            .id
    }
}

/// One shopper's side of the chat.
pub(crate) struct Shopper<'a> {
    pub(crate) fake: &'a FakeTelegram,
    pub(crate) user: TestUser,
}

impl Shopper<'_> {
    pub(crate) fn send(&self, text: &str) -> i64 {
        self.fake.send_text(&self.user, text)
    }

    pub(crate) fn press(&self, message: &SentMessage, label: &str) -> i64 {
        self.fake.press(&self.user, message, label).unwrap()
    }

    /// Reads the bot's messages and edits in this chat until one matches, and returns it.
    /// Updates of one chat are handled in order, so what comes before belongs to earlier
    /// updates or to the same one.
    pub(crate) async fn until(
        &self,
        what: &str,
        matches: impl Fn(&SentMessage) -> bool,
    ) -> SentMessage {
        let mut skipped = Vec::new();
        loop {
            match self.fake.next_reply(self.user.chat_id(), WAIT).await {
                Ok(reply) if matches(&reply) => return reply,
                Ok(reply) => skipped.push(reply.visible_text()),
                Err(error) => panic!("waiting for {what}; skipped {skipped:#?}: {error:#}"),
            }
        }
    }

    /// The next message whose text contains `part`.
    pub(crate) async fn screen(&self, part: &str) -> SentMessage {
        self.until(part, |reply| reply.visible_text().contains(part))
            .await
    }

    /// The next message with a button labelled `label`.
    pub(crate) async fn with_button(&self, label: &str) -> SentMessage {
        self.until(&format!("a button {label:?}"), |reply| {
            reply.button(label).is_some()
        })
        .await
    }

    /// The bot's answer to the button press of update `update_id` (the notice on the button).
    pub(crate) async fn notice(&self, update_id: i64) -> Option<String> {
        self.fake
            .callback_answer(update_id, WAIT)
            .await
            .unwrap()
            .text
    }

    /// `/start` and the demo's three questions: single choice, multiple choice with Done, and
    /// the optional one skipped. Returns the main menu.
    pub(crate) async fn register(&self, drink: &str) -> SentMessage {
        self.send("/start");
        let welcome = self.screen("Welcome to").await;
        assert!(welcome.buttons.is_empty());
        let age = self.screen("How old are you?").await;
        assert_eq!(age.labels(), ["18–25", "26–40", "41+"]);
        self.press(&age, "18–25");
        let likes = self.screen("What do you like to drink?").await;
        assert!(
            likes.edited,
            "the answered question is replaced by the next"
        );
        assert_eq!(likes.labels(), ["Tea", "Coffee", "Cocoa", "Done"]);
        self.press(&likes, drink);
        let ticked = self.with_button(&format!("✓ {drink}")).await;
        self.press(&ticked, "Done");
        let diet = self.screen("Do you follow a diet?").await;
        assert_eq!(diet.labels(), ["Vegan", "Sugar-free", "Skip"]);
        self.press(&diet, "Skip");
        self.screen("you're all set").await;
        let menu = self.screen("Main menu").await;
        assert_eq!(
            menu.labels(),
            ["Catalog", "Search", "Cart", "Orders", "Profile"]
        );
        menu
    }

    /// From the main menu to the cart, ready to check out: `quantity` of the 100 g green tea.
    pub(crate) async fn fill_cart(&self, green_tea: i64, quantity: &str) -> SentMessage {
        self.send(&format!("/start p_{green_tea}"));
        let product = self.screen("Green tea").await;
        self.press(&product, "100 g · 4.50 EUR");
        let how_many = self.screen("How many?").await;
        self.press(&how_many, quantity);
        self.screen(&format!("Added {quantity} × Green tea, 100 g"))
            .await;
        self.send("/cart");
        self.screen("Your cart:").await
    }
}

pub(crate) fn visible(message: &SentMessage) -> String {
    message.visible_text()
}

#[tokio::test]
async fn the_whole_journey_from_start_to_orders_through_the_binary() {
    let mut shop = Shop::open().await;
    let alice = shop.shopper(TestUser::alice());
    let menu = alice.register("Tea").await;

    // Catalog → category → product → variant → quantity.
    alice.press(&menu, "Catalog");
    let catalog = alice.screen("Categories:").await;
    assert!(catalog.edited, "browsing replaces the menu");
    // The members-only category is empty for Alice and the coming-soon one is empty for all.
    assert_eq!(catalog.labels(), ["Tea (2)", "Coffee (1)", "« Back"]);
    alice.press(&catalog, "Tea (2)");
    let tea = alice.screen("Tea:").await;
    alice.press(&tea, "Green tea");
    let product = alice.screen("Sencha from Shizuoka").await;
    assert!(
        visible(&product).contains("500 g: 18.00 EUR (sold out)"),
        "{}",
        visible(&product)
    );
    alice.press(&product, "100 g · 4.50 EUR");
    let how_many = alice.screen("How many?").await;
    alice.press(&how_many, "2");
    alice.screen("Added 2 × Green tea, 100 g").await;

    // Search, case-insensitive and over descriptions.
    alice.send("/search");
    alice.screen("What are you looking for?").await;
    alice.send("SENCHA");
    let found = alice.screen("Found for “SENCHA”").await;
    assert_eq!(found.labels().first(), Some(&"Green tea"));

    // Cart → checkout: the contact button, then a typed address.
    alice.send("/cart");
    let cart = alice.screen("Your cart:").await;
    let text = visible(&cart);
    assert!(
        text.contains("Green tea, 100 g: 2 × 4.50 EUR = 9.00 EUR"),
        "{text}"
    );
    assert!(text.contains("Total: 9.00 EUR"), "{text}");
    alice.press(&cart, "Checkout");
    let ask_phone = alice.screen("share your phone number").await;
    let Some(ReplyKeyboard::Show { rows, one_time, .. }) = &ask_phone.reply_keyboard else {
        panic!("no contact keyboard: {ask_phone:#?}");
    };
    assert!(*one_time);
    assert!(
        rows.iter().flatten().any(|button| button.request_contact),
        "{rows:?}"
    );
    shop.fake.send_contact(&alice.user, "+49 30 1234567");
    let got_it = alice.screen("got your number").await;
    assert_eq!(got_it.reply_keyboard, Some(ReplyKeyboard::Remove));
    alice.screen("Where should we deliver?").await;
    alice.send("Main street 1, Berlin");
    let confirm = alice.screen("Please check your order").await;
    let text = visible(&confirm);
    assert!(text.contains("Phone: +49301234567"), "{text}");
    assert!(text.contains("Address: Main street 1, Berlin"), "{text}");
    let pressed = alice.press(&confirm, "Confirm order");
    let notice = alice.notice(pressed).await.unwrap_or_default();
    assert!(notice.contains("is placed"), "{notice}");
    let placed = alice.screen("is placed").await;
    assert!(
        visible(&placed).contains("9.00 EUR"),
        "{}",
        visible(&placed)
    );

    // The merchants hear of it.
    let merchant = shop.fake.next_reply(MERCHANT_CHAT, WAIT).await.unwrap();
    let text = visible(&merchant);
    assert!(text.contains("New order #"), "{text}");
    assert!(text.contains("Alice (@alice)"), "{text}");
    assert!(text.contains("2 × Green tea, 100 g (GT-100)"), "{text}");
    let other = shop
        .fake
        .next_reply(OTHER_MERCHANT_CHAT, WAIT)
        .await
        .unwrap();
    assert_eq!(other.text, merchant.text);

    // The database: one order with its item and phone and address, stock taken, cart empty.
    let orders = shop.orders_of(&alice.user).await;
    assert_eq!(orders.len(), 1);
    let order = &orders[0];
    assert_eq!(order.status, "new");
    assert_eq!(order.total, 900);
    assert_eq!(order.currency, "EUR");
    assert_eq!(order.contact_phone.as_deref(), Some("+49301234567"));
    assert_eq!(order.address.as_deref(), Some("Main street 1, Berlin"));
    let items = order_item::Entity::find()
        .filter(order_item::Column::OrderId.eq(order.id))
        .all(&shop.test.db)
        .await
        .unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].variant_id, Some(shop.demo.green_small));
    assert_eq!(items[0].sku, "GT-100");
    assert_eq!((items[0].quantity, items[0].unit_price), (2, 450));
    assert_eq!(shop.stock_of(shop.demo.green_small).await, 10 - 2);
    assert!(shop.cart_of(&alice.user).await.is_empty());

    // /orders shows it.
    alice.send("/orders");
    let history = alice.screen("Your orders:").await;
    let text = visible(&history);
    assert!(text.contains(&format!("#{}", order.id)), "{text}");
    assert!(text.contains("· new · 9.00 EUR"), "{text}");
    assert!(text.contains("2 × Green tea, 100 g"), "{text}");

    shop.stop_bot().await;
}

#[tokio::test]
async fn shoppers_in_different_segments_see_different_variants_and_cannot_forge_the_others() {
    let mut shop = Shop::open().await;
    // Answering "Coffee" puts Bob in the automatic "Coffee lovers" segment at once, which may
    // see the single-origin bag; Alice, a tea drinker, may not.
    let alice = shop.shopper(TestUser::alice());
    let bob = shop.shopper(TestUser::bob());
    alice.register("Tea").await;
    bob.register("Coffee").await;
    let single_origin = shop.variant_by_sku("ES-ETH").await;

    let espresso = format!("/start p_{}", shop.demo.espresso);
    bob.send(&espresso);
    let for_bob = bob.screen("Espresso roast").await;
    assert!(
        for_bob
            .button("Ethiopia single origin 250 g · 14.90 EUR")
            .is_some(),
        "{:?}",
        for_bob.labels()
    );
    alice.send(&espresso);
    let for_alice = alice.screen("Espresso roast").await;
    assert!(for_alice.button("Beans 250 g · 9.90 EUR").is_some());
    assert!(
        !visible(&for_alice).contains("Ethiopia"),
        "{}",
        visible(&for_alice)
    );

    bob.press(&for_bob, "Ethiopia single origin 250 g · 14.90 EUR");
    let how_many = bob.screen("How many?").await;
    bob.press(&how_many, "1");
    bob.screen("Added 1 × Espresso roast, Ethiopia single origin 250 g")
        .await;

    // Alice's client forges Bob's buttons (and both forge the VIPs'): each press is answered
    // with a polite notice and changes nothing.
    let forged = [
        format!("v:{single_origin}"),
        format!("a:{single_origin}:1"),
        format!("a:{}:1", shop.demo.reserve_vip),
        format!("p:{}", shop.demo.members_blend),
        format!("a:{}:1", shop.demo.members_blend_bag),
    ];
    for data in &forged {
        let pressed = shop
            .fake
            .press_data(&alice.user, for_alice.message_id, data);
        let notice = alice.notice(pressed).await;
        assert!(
            notice
                .as_deref()
                .is_some_and(|text| text.contains("not available") || text.contains("out of date")),
            "{data}: {notice:?}"
        );
    }
    let pressed = shop.fake.press_data(
        &bob.user,
        for_bob.message_id,
        &format!("a:{}:1", shop.demo.reserve_vip),
    );
    assert!(bob.notice(pressed).await.is_some());

    assert!(shop.cart_of(&alice.user).await.is_empty());
    let bobs: Vec<(i64, i32)> = shop
        .cart_of(&bob.user)
        .await
        .into_iter()
        .map(|line| (line.variant_id, line.quantity))
        .collect();
    assert_eq!(bobs, [(single_origin, 1)]);
    alice.send("/cart");
    alice.screen("Your cart is empty").await;

    shop.stop_bot().await;
}

#[tokio::test]
async fn the_same_confirm_pressed_twice_or_delivered_twice_makes_one_order() {
    let mut shop = Shop::open().await;
    let carol = shop.shopper(TestUser::carol());
    carol.register("Cocoa").await;
    let cart = carol.fill_cart(shop.demo.green_tea, "3").await;
    carol.press(&cart, "Checkout");
    carol.screen("share your phone number").await;
    carol.send("+44 20 7946 0000");
    carol.screen("Where should we deliver?").await;
    carol.send("1 High Street, London");
    let confirm = carol.screen("Please check your order").await;

    let first = carol.press(&confirm, "Confirm order");
    carol.screen("is placed").await;
    // A double tap on the same button.
    let second = carol.press(&confirm, "Confirm order");
    let notice = carol.notice(second).await.unwrap_or_default();
    assert!(notice.contains("already placed"), "{notice}");
    carol.screen("already placed").await;
    // Telegram delivering the first press again: recognised by its update id and skipped, so
    // the next thing the shopper sees is the answer to /orders.
    shop.fake.redeliver(first).unwrap();
    // Updates of one chat are handled in order: once /orders is answered, every earlier
    // update has been delivered, notifications included.
    carol.send("/orders");
    let next = shop
        .fake
        .next_reply(carol.user.chat_id(), WAIT)
        .await
        .unwrap();
    assert!(visible(&next).contains("Your orders:"), "{next:#?}");

    assert_eq!(shop.orders_of(&carol.user).await.len(), 1);
    assert_eq!(shop.stock_of(shop.demo.green_small).await, 10 - 3);
    let notices = shop.fake.take_replies(MERCHANT_CHAT);
    assert_eq!(notices.len(), 1, "{notices:#?}");
    shop.stop_bot().await;
}

#[tokio::test]
async fn an_add_to_cart_delivered_twice_adds_once() {
    let mut shop = Shop::open().await;
    let dave = shop.shopper(TestUser::new(1004, "Dave").language("en"));
    dave.register("Tea").await;
    dave.send(&format!("/start p_{}", shop.demo.green_tea));
    let product = dave.screen("Green tea").await;
    dave.press(&product, "100 g · 4.50 EUR");
    let how_many = dave.screen("How many?").await;
    let add = dave.press(&how_many, "2");
    dave.screen("Added 2 × Green tea, 100 g").await;
    // Telegram delivers the same update again (the same update id), twice.
    shop.fake.redeliver(add).unwrap();
    shop.fake.redeliver(add).unwrap();
    dave.send("/cart");
    let cart = shop
        .fake
        .next_reply(dave.user.chat_id(), WAIT)
        .await
        .unwrap();
    assert!(visible(&cart).contains("Your cart:"), "{cart:#?}");
    let items = shop.cart_of(&dave.user).await;
    assert_eq!(items.len(), 1, "{items:#?}");
    assert_eq!(items[0].quantity, 2);
    shop.stop_bot().await;
}

#[tokio::test]
async fn a_restart_mid_registration_resumes_at_the_question_the_shopper_was_on() {
    let mut shop = Shop::open().await;
    let bob = shop.shopper(TestUser::bob());
    bob.send("/start");
    let age = bob.screen("How old are you?").await;
    bob.press(&age, "26–40");
    let likes = bob.screen("What do you like to drink?").await;
    let ticked = bob.press(&likes, "Coffee");
    let ticked_message = bob.with_button("✓ Coffee").await;
    shop.fake.wait_confirmed(ticked, WAIT).await.unwrap();

    shop.stop_bot().await;
    shop.start_bot().await;
    let bob = shop.shopper(TestUser::bob());

    // A new process with nothing in memory: the question, and the ticked option, come from
    // the database.
    bob.send("/start");
    let again = bob.screen("What do you like to drink?").await;
    assert!(again.button("✓ Coffee").is_some(), "{:?}", again.labels());
    bob.press(&ticked_message, "Done");
    bob.screen("Do you follow a diet?").await;

    let customer = shop.customer(&bob.user).await;
    let chosen: Vec<Option<i64>> = answers::answers_of(&shop.test.db, customer.id)
        .await
        .unwrap()
        .into_iter()
        .map(|answer| answer.option_id)
        .collect();
    assert_eq!(
        chosen,
        [
            Some(shop.demo.age.options[1].id),
            Some(shop.demo.likes.options[1].id)
        ]
    );
    assert!(customer.registered_at.is_none());
    shop.stop_bot().await;
}

#[tokio::test]
async fn a_question_added_after_registration_is_asked_at_the_next_interaction() {
    let mut shop = Shop::open().await;
    let alice = shop.shopper(TestUser::alice());
    alice.register("Tea").await;
    let city = questions::add(
        &shop.test.db,
        &questions::NewQuestion {
            text: "Which city do you live in?".into(),
            kind: questions::QuestionKind::Single,
            required: true,
            options: vec!["Berlin".into(), "Paris".into()],
        },
        Utc::now(),
    )
    .await
    .unwrap();

    alice.send("/catalog");
    alice.screen("Please answer this question first").await;
    let question = alice.screen("Which city do you live in?").await;
    alice.press(&question, "Paris");
    // The question did not swallow the command: she lands where she was going.
    let saved = alice.screen("Saved.").await;
    assert!(saved.buttons.is_empty());
    alice.screen("Categories:").await;

    let customer = shop.customer(&alice.user).await;
    let given: Vec<Option<i64>> = answers::answers_of(&shop.test.db, customer.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|answer| answer.question_id == city.question.id)
        .map(|answer| answer.option_id)
        .collect();
    assert_eq!(given, [Some(city.options[1].id)]);
    shop.stop_bot().await;
}

#[tokio::test]
async fn first_and_last_interaction_times_are_recorded() {
    let mut shop = Shop::open().await;
    let carol = shop.shopper(TestUser::carol());
    // Stored times may lose sub-microsecond digits (PostgreSQL keeps microseconds).
    let slack = chrono::Duration::milliseconds(1);
    let before_first: DateTime<Utc> = Utc::now();
    carol.send("/start");
    let age = carol.screen("How old are you?").await;
    let after_first = Utc::now();
    let customer = shop.customer(&carol.user).await;
    assert!(
        customer.first_interaction_at >= before_first - slack
            && customer.first_interaction_at <= after_first,
        "{customer:?}"
    );
    assert_eq!(customer.first_name, "Carol");
    assert_eq!(customer.username, None);
    let first = customer.first_interaction_at;

    let before_press = Utc::now();
    carol.press(&age, "41+");
    carol.screen("What do you like to drink?").await;
    // A forged press counts as an interaction too.
    let forged = shop.fake.press_data(&carol.user, age.message_id, "garbage");
    assert!(carol.notice(forged).await.is_some());
    let after_last = Utc::now();
    let customer = shop.customer(&carol.user).await;
    assert_eq!(customer.first_interaction_at, first);
    assert!(
        customer.last_interaction_at >= before_press - slack
            && customer.last_interaction_at <= after_last,
        "{customer:?}"
    );
    assert!(customer.last_interaction_at > first);
    assert!(customer.registered_at.is_none());
    shop.stop_bot().await;
}

#[tokio::test]
async fn a_deep_link_opens_the_product_after_registration() {
    let mut shop = Shop::open().await;
    let alice = shop.shopper(TestUser::alice());
    alice.send(&format!("/start p_{}", shop.demo.green_tea));
    alice.screen("Welcome to").await;
    let age = alice.screen("How old are you?").await;
    alice.press(&age, "18–25");
    let likes = alice.screen("What do you like to drink?").await;
    alice.press(&likes, "Tea");
    let ticked = alice.with_button("✓ Tea").await;
    alice.press(&ticked, "Done");
    let diet = alice.screen("Do you follow a diet?").await;
    alice.press(&diet, "Vegan");
    let product = alice.screen("Sencha from Shizuoka").await;
    assert!(product.button("100 g · 4.50 EUR").is_some());

    // Once registered, a link opens the product at once; a hidden one is refused.
    alice.send(&format!("/start p_{}", shop.demo.oolong));
    alice.screen("Milky oolong").await;
    alice.send(&format!("/start p_{}", shop.demo.members_blend));
    alice.screen("not available").await;
    shop.stop_bot().await;
}
