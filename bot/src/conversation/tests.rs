//! The dialogue end to end on a real database (SQLite, or PostgreSQL when
//! `STOREBOT_TEST_DATABASE_URL` is set): updates in, outcomes out, as the adapters see it.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, PaginatorTrait};
use storebot_entity::{customer, order, segment_member};

use super::{Conversation, Input, Markup, Outcome, TelegramUser};
use crate::store::{operations::demo, shoppers::answers, shoppers::customers, shoppers::questions};
use crate::testing::TestDb;
use storebot_config::Settings;

const MERCHANT_CHAT: i64 = -555;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 10, 0, 0)
        .single()
        .expect("time")
}

fn user(id: i64) -> TelegramUser {
    TelegramUser {
        telegram_user_id: id,
        chat_id: id,
        first_name: format!("Shopper {id}"),
        last_name: None,
        username: Some(format!("shopper{id}")),
        language_code: Some("en".into()),
    }
}

struct Shop {
    test: TestDb,
    demo: demo::Demo,
    settings: Arc<Settings>,
}

impl Shop {
    async fn new() -> Self {
        let test = TestDb::new().await.expect("test db");
        let demo = demo::seed(&test.db, start() - Duration::days(60))
            .await
            .expect("demo");
        let mut settings = Settings::defaults().expect("settings");
        settings.telegram.merchant_chats = vec![MERCHANT_CHAT];
        Self {
            test,
            demo,
            settings: Arc::new(settings),
        }
    }

    /// A new bot process on the same database, as after a restart or on another instance.
    fn conversation(&self) -> Conversation {
        Conversation::new(self.test.db.clone(), self.settings.clone())
    }

    fn shopper(&self, id: i64) -> Shopper {
        Shopper {
            conversation: self.conversation(),
            user: user(id),
            now: start(),
            last: Outcome::default(),
        }
    }
}

/// One shopper's side of the chat: what they send and the last answer they got.
struct Shopper {
    conversation: Conversation,
    user: TelegramUser,
    now: DateTime<Utc>,
    last: Outcome,
}

impl Shopper {
    async fn send_input(&mut self, input: Input) -> &Outcome {
        self.now += Duration::minutes(1);
        self.last = self.conversation.handle(&self.user, input, self.now).await;
        &self.last
    }

    async fn send(&mut self, text: &str) -> &Outcome {
        self.send_input(Input::Text(text.into())).await
    }

    async fn press_data(&mut self, data: &str) -> &Outcome {
        self.send_input(Input::Button { data: data.into() }).await
    }

    /// The data of the button labelled `label` in the last outcome.
    fn button(&self, label: &str) -> String {
        self.buttons()
            .into_iter()
            .find(|(l, _)| l == label)
            .map(|(_, data)| data)
            .unwrap_or_else(|| panic!("no button {label:?} in {:#?}", self.last))
    }

    fn buttons(&self) -> Vec<(String, String)> {
        self.last
            .replies
            .iter()
            .filter_map(|reply| match &reply.markup {
                Markup::Inline(rows) => Some(rows),
                _ => None,
            })
            .flatten()
            .flatten()
            .map(|button| (button.label.clone(), button.data.clone()))
            .collect()
    }

    async fn press(&mut self, label: &str) -> &Outcome {
        let data = self.button(label);
        self.press_data(&data).await
    }

    fn text(&self) -> String {
        self.last
            .replies
            .iter()
            .map(|reply| reply.text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn assert_says(&self, part: &str) {
        let text = self.text();
        assert!(text.contains(part), "expected {part:?} in {text:?}");
    }

    /// /start and the demo's three questions: 18–25, Tea, skip the diet.
    async fn register(&mut self) {
        self.send("/start").await;
        self.assert_says("How old are you?");
        self.press("18–25").await;
        self.assert_says("What do you like to drink?");
        self.press("Tea").await;
        self.press("Done").await;
        self.assert_says("Do you follow a diet?");
        self.press("Skip").await;
        self.assert_says("you're all set");
        self.assert_says("Main menu");
    }

    async fn customer(&self, shop: &Shop) -> customer::Model {
        customers::find_by_telegram_id(&shop.test.db, self.user.telegram_user_id)
            .await
            .expect("query")
            .expect("customer")
    }
}

async fn order_count(shop: &Shop) -> u64 {
    order::Entity::find()
        .count(&shop.test.db)
        .await
        .expect("count")
}

#[tokio::test]
async fn the_whole_journey_from_start_to_orders() {
    let shop = Shop::new().await;
    let mut sam = shop.shopper(100);
    sam.register().await;

    sam.press("Catalog").await;
    sam.assert_says("Categories:");
    // The members-only category is empty for Sam and the coming-soon one is empty for all.
    let labels: Vec<String> = sam.buttons().into_iter().map(|(l, _)| l).collect();
    assert_eq!(labels, ["Tea (2)", "Coffee (1)", "« Back"]);
    sam.press("Tea (2)").await;
    sam.press("Green tea").await;
    sam.assert_says("500 g: 18.00 EUR (sold out)");
    sam.press("100 g · 4.50 EUR").await;
    sam.assert_says("How many?");
    sam.press("2").await;
    sam.assert_says("Added 2 × Green tea, 100 g");

    // Search: case-insensitive, over the description too.
    sam.press("Catalog").await;
    sam.press("« Back").await;
    sam.press("Search").await;
    sam.send("SENCHA").await;
    sam.assert_says("Found for “SENCHA”");
    assert_eq!(sam.buttons()[0].0, "Green tea");
    sam.send("no such thing").await;
    sam.assert_says("Nothing found");

    sam.send("/cart").await;
    sam.assert_says("Green tea, 100 g: 2 × 4.50 EUR = 9.00 EUR");
    sam.assert_says("Total: 9.00 EUR");
    sam.press("+ #1").await;
    sam.assert_says("3 × 4.50 EUR");
    sam.press("− #1").await;
    sam.assert_says("Total: 9.00 EUR");

    sam.press("Checkout").await;
    assert!(matches!(
        sam.last.replies[0].markup,
        Markup::RequestContact { .. }
    ));
    let someone_else = Input::Contact {
        phone: "+1 555 0100".into(),
        user_id: Some(999),
    };
    sam.send_input(someone_else).await;
    sam.assert_says("your own phone number");
    let own = Input::Contact {
        phone: "+49 30 1234567".into(),
        user_id: Some(100),
    };
    sam.send_input(own).await;
    assert_eq!(sam.last.replies[0].markup, Markup::RemoveKeyboard);
    sam.assert_says("Where should we deliver?");
    sam.send("x").await;
    sam.assert_says("full delivery address");
    sam.send("Main street 1, Berlin").await;
    sam.assert_says("Please check your order");
    sam.assert_says("Phone: +49301234567");
    sam.assert_says("Address: Main street 1, Berlin");
    sam.press("Confirm order").await;
    sam.assert_says("is placed");
    sam.assert_says("9.00 EUR");
    assert_eq!(sam.last.notifications.len(), 1);
    let notification = &sam.last.notifications[0];
    let notice = &notification.text;
    assert_eq!(notification.chat_id, MERCHANT_CHAT);
    assert!(notice.contains("Shopper 100 (@shopper100)"), "{notice}");
    assert!(notice.contains("2 × Green tea, 100 g (GT-100)"), "{notice}");

    sam.send("/cart").await;
    sam.assert_says("Your cart is empty");
    sam.send("/orders").await;
    sam.assert_says("Your orders:");
    sam.assert_says("· new · 9.00 EUR");
    sam.assert_says("2 × Green tea, 100 g");
    let again = sam
        .buttons()
        .into_iter()
        .find(|(label, _)| label.starts_with("Order #"))
        .expect("order again");
    sam.press_data(&again.1).await;
    sam.assert_says("Added to your cart: Green tea, 100 g");
    sam.assert_says("2 × 4.50 EUR");
}

#[tokio::test]
async fn first_and_last_interaction_times_are_recorded() {
    let shop = Shop::new().await;
    let mut ann = shop.shopper(101);
    ann.send("/start").await;
    let first = ann.now;
    ann.press("18–25").await;
    ann.press_data("garbage").await;
    let customer = ann.customer(&shop).await;
    assert_eq!(customer.first_interaction_at, first);
    assert_eq!(customer.last_interaction_at, ann.now);
    assert!(customer.registered_at.is_none());
}

#[tokio::test]
async fn shoppers_in_different_segments_see_different_variants_and_cannot_forge() {
    let shop = Shop::new().await;
    let db = &shop.test.db;
    let mut vip = shop.shopper(200);
    let mut guest = shop.shopper(201);
    vip.register().await;
    guest.register().await;
    segment_member::ActiveModel {
        segment_id: Set(shop.demo.vip),
        customer_id: Set(vip.customer(&shop).await.id),
        source: Set("manual".into()),
        since: Set(start()),
    }
    .insert(db)
    .await
    .expect("member");

    let oolong = format!("p:{}", shop.demo.oolong);
    vip.press_data(&oolong).await;
    vip.assert_says("Reserve lot 50 g");
    guest.press_data(&oolong).await;
    guest.assert_says("100 g: 7.00 EUR");
    assert!(!guest.text().contains("Reserve"), "{}", guest.text());

    // The guest forges the VIP variant's buttons: refused, logged, nothing added.
    for forged in [
        format!("v:{}", shop.demo.reserve_vip),
        format!("a:{}:1", shop.demo.reserve_vip),
        format!("ci:{}", shop.demo.reserve_vip),
        format!("p:{}", shop.demo.members_blend),
        format!("a:{}:1", shop.demo.members_blend_bag),
        "a:1:0".to_owned(),
        "v:99999".to_owned(),
        "oa:1".to_owned(),
        "q:1:99999".to_owned(),
        "x".repeat(200),
    ] {
        let outcome = guest.press_data(&forged).await;
        assert!(outcome.notice.is_some(), "{forged}: {outcome:?}");
    }
    guest.send("/cart").await;
    guest.assert_says("Your cart is empty");

    vip.press_data(&format!("a:{}:1", shop.demo.reserve_vip))
        .await;
    vip.assert_says("Added 1 × Oolong, Reserve lot 50 g");
    vip.send("/catalog").await;
    vip.assert_says("Categories:");
    assert!(vip.buttons().iter().any(|(l, _)| l == "Members only (1)"));

    // When the VIP leaves the segment, the reserve lot stays in the cart but can't be ordered.
    segment_member::Entity::delete_many()
        .exec(db)
        .await
        .expect("leave");
    vip.send("/cart").await;
    vip.assert_says("no longer available");
    assert!(!vip.buttons().iter().any(|(l, _)| l == "Checkout"));
    vip.press_data(&format!("a:{}:1", shop.demo.green_small))
        .await;
    vip.send("/cart").await;
    vip.press("Checkout").await;
    vip.send("+44 20 7946 0000").await;
    vip.send("1 High Street, London").await;
    vip.assert_says("Left out of this order: Oolong, Reserve lot 50 g.");
    vip.press("Confirm order").await;
    vip.assert_says("4.50 EUR is placed");
    vip.assert_says("Left out of this order: Oolong, Reserve lot 50 g.");
    vip.send("/cart").await;
    vip.assert_says("Oolong, Reserve lot 50 g: no longer available");
}

#[tokio::test]
async fn a_repeated_confirm_makes_one_order() {
    let shop = Shop::new().await;
    let mut sam = shop.shopper(300);
    sam.register().await;
    sam.press_data(&format!("a:{}:1", shop.demo.green_small))
        .await;
    sam.send("/cart").await;
    sam.press("Checkout").await;
    sam.send("+44 20 7946 0000").await;
    sam.send("1 High Street, London").await;
    let confirm = sam.button("Confirm order");
    sam.press_data(&confirm).await;
    sam.assert_says("is placed");
    // A double tap, and the same update redelivered to another instance.
    sam.press_data(&confirm).await;
    sam.assert_says("already placed");
    let mut other_instance = shop.shopper(300);
    other_instance.press_data(&confirm).await;
    other_instance.assert_says("already placed");
    assert_eq!(order_count(&shop).await, 3 + 1);
    // A made-up token is stale, not an order.
    sam.press_data("ok:12345").await;
    sam.assert_says("out of date");
    assert_eq!(order_count(&shop).await, 3 + 1);
}

#[tokio::test]
async fn a_restart_mid_registration_resumes_where_the_shopper_was() {
    let shop = Shop::new().await;
    let mut before = shop.shopper(400);
    before.send("/start").await;
    before.press("26–40").await;
    before.press("Coffee").await;
    let done = before.button("Done");
    let mut after = shop.shopper(400);
    after.now = before.now;
    // The new process knows nothing in memory: the ticked option comes from the database.
    after.press_data(&done).await;
    after.assert_says("Do you follow a diet?");
    let customer = after.customer(&shop).await;
    let chosen: Vec<Option<i64>> = answers::answers_of(&shop.test.db, customer.id)
        .await
        .expect("answers")
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
}

#[tokio::test]
async fn a_question_added_later_is_asked_at_the_next_interaction() {
    let shop = Shop::new().await;
    let mut sam = shop.shopper(500);
    sam.register().await;
    questions::add(
        &shop.test.db,
        &questions::NewQuestion {
            text: "Which city do you live in?".into(),
            kind: questions::QuestionKind::Single,
            required: true,
            options: vec!["Berlin".into(), "Paris".into()],
        },
        start(),
    )
    .await
    .expect("question");
    sam.send("/catalog").await;
    sam.assert_says("Please answer this question first");
    sam.assert_says("Which city do you live in?");
    // Pressing something else still asks the question first.
    sam.press_data("cart").await;
    assert!(sam.last.notice.is_some());
    sam.assert_says("Which city do you live in?");
    sam.press("Paris").await;
    // The /catalog typed before the question is carried out now.
    sam.assert_says("Saved.");
    sam.assert_says("Categories:");
    sam.send("/profile").await;
    sam.assert_says("Which city do you live in?: Paris");
    sam.assert_says("Do you follow a diet? (optional): skipped");
}

#[tokio::test]
async fn the_profile_changes_an_answer_and_the_news_setting() {
    let shop = Shop::new().await;
    let mut sam = shop.shopper(600);
    sam.register().await;
    sam.press("Profile").await;
    sam.assert_says("How old are you?: 18–25");
    sam.assert_says("News from the shop: on");
    sam.press("Change: How old are you?").await;
    sam.press("41+").await;
    sam.assert_says("How old are you?: 41+");
    sam.press("Turn news off").await;
    sam.assert_says("News from the shop: off");
    assert!(sam.customer(&shop).await.messages_opt_out);
}

#[tokio::test]
async fn a_deep_link_opens_the_product_after_registration() {
    let shop = Shop::new().await;
    let mut sam = shop.shopper(700);
    sam.send(&format!("/start p_{}", shop.demo.green_tea)).await;
    sam.assert_says("How old are you?");
    sam.press("18–25").await;
    sam.press("Tea").await;
    sam.press("Done").await;
    sam.press("Vegan").await;
    sam.assert_says("Sencha from Shizuoka");
    sam.send(&format!("/start p_{}", shop.demo.members_blend))
        .await;
    sam.assert_says("not available");
}

/// The answer that completes registration can also qualify the shopper for a segment: the
/// product they came for is shown at once with that segment's variants.
#[tokio::test]
async fn a_deep_linked_product_shows_the_variants_the_last_answer_qualified_for() {
    let shop = Shop::new().await;
    // Without the diet question, the drinks answer is the last one.
    questions::archive_question(&shop.test.db, shop.demo.diet.question.id, true)
        .await
        .expect("diet archived");
    let mut ada = shop.shopper(710);
    ada.send(&format!("/start p_{}", shop.demo.espresso)).await;
    ada.assert_says("How old are you?");
    ada.press("18–25").await;
    ada.press("Coffee").await;
    ada.press("Done").await;
    ada.assert_says("Dark roast for espresso");
    ada.assert_says("Ethiopia single origin 250 g");
}

#[tokio::test]
async fn stock_that_ran_out_before_confirming_writes_nothing() {
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, QueryFilter};
    use storebot_entity::variant;

    let shop = Shop::new().await;
    let mut sam = shop.shopper(800);
    sam.register().await;
    sam.press_data(&format!("a:{}:10", shop.demo.green_small))
        .await;
    sam.assert_says("Added 10 ×");
    sam.press_data(&format!("a:{}:1", shop.demo.green_small))
        .await;
    sam.assert_says("You already have all 10 of Green tea, 100 g in your cart.");
    sam.send("/cart").await;
    sam.press("Checkout").await;
    sam.send("+44 20 7946 0000").await;
    sam.send("1 High Street, London").await;
    variant::Entity::update_many()
        .col_expr(variant::Column::Stock, Expr::value(4))
        .filter(variant::Column::Id.eq(shop.demo.green_small))
        .exec(&shop.test.db)
        .await
        .expect("stock");
    sam.press("Confirm order").await;
    // Confirm places what was confirmed or nothing: it says what changed and confirms again.
    sam.assert_says("Green tea, 100 g: only 4 left.");
    sam.assert_says("Your order was not placed, nothing was charged");
    sam.assert_says("Please check your order");
    assert_eq!(order_count(&shop).await, 3);
}

#[tokio::test]
async fn two_instances_confirming_at_once_make_one_order() {
    let shop = Shop::new().await;
    let mut sam = shop.shopper(900);
    sam.register().await;
    sam.press_data(&format!("a:{}:3", shop.demo.green_small))
        .await;
    sam.send("/cart").await;
    sam.press("Checkout").await;
    sam.send("+44 20 7946 0000").await;
    sam.send("1 High Street, London").await;
    let confirm = Input::Button {
        data: sam.button("Confirm order"),
    };
    let (one, two) = (shop.conversation(), shop.conversation());
    let now = sam.now + Duration::minutes(1);
    let (first, second) = tokio::join!(
        one.handle(&sam.user, confirm.clone(), now),
        two.handle(&sam.user, confirm.clone(), now),
    );
    let texts: Vec<String> = [first, second]
        .iter()
        .map(|outcome| outcome.notice.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        texts.iter().filter(|t| t.contains("is placed")).count(),
        1,
        "{texts:?}"
    );
    assert_eq!(
        texts
            .iter()
            .filter(|t| t.contains("already placed"))
            .count(),
        1,
        "{texts:?}"
    );
    assert_eq!(order_count(&shop).await, 3 + 1);
    let stock = storebot_entity::variant::Entity::find_by_id(shop.demo.green_small)
        .one(&shop.test.db)
        .await
        .expect("query")
        .expect("variant")
        .stock;
    assert_eq!(stock, 10 - 3);
}

/// Every text the dialogue asks for by key is in `[texts.en]`, and every English text is used:
/// a typo in a key would otherwise show the key itself to shoppers.
#[test]
fn every_text_key_in_the_code_is_in_the_default_texts_and_back() {
    let sources = [
        include_str!("mod.rs"),
        include_str!("session.rs"),
        include_str!("registration.rs"),
        include_str!("catalog.rs"),
        include_str!("cart.rs"),
        include_str!("checkout.rs"),
        include_str!("orders.rs"),
        include_str!("payment.rs"),
        include_str!("merchant.rs"),
        include_str!("order_news.rs"),
        // The outbox sender labels the join message's button.
        include_str!("../telegram/outbox.rs"),
        // The adapter refuses a press outside the private chat with a sentence.
        include_str!("../telegram/mod.rs"),
        include_str!("../telegram/handlers.rs"),
        // The invoice's fallback and the pre-checkout deadline's refusal.
        include_str!("../telegram/payments.rs"),
        // The expiry job's message to the shopper.
        include_str!("../jobs/expiry.rs"),
    ];
    let settings = Settings::defaults().expect("settings");
    let english = &settings.texts["en"];
    // Keys asked for through the text helpers (rustfmt may break the line after the paren).
    let mut asked = std::collections::BTreeSet::new();
    // Every snake_case string literal, which covers keys chosen in a `match` or tuple too.
    let mut literals = std::collections::BTreeSet::new();
    let snake = |text: &str| -> String {
        text.chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect()
    };
    for source in sources {
        for opener in ["t(", "fill(", "notice(", "get("] {
            for (at, _) in source.match_indices(opener) {
                // `with_custom_text(` ends in `t(` too: an opener is a whole name.
                let whole = source[..at]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
                if !whole {
                    continue;
                }
                let rest = source[at + opener.len()..].trim_start();
                if let Some(rest) = rest.strip_prefix('"') {
                    asked.insert(snake(rest));
                }
            }
        }
        for (at, _) in source.match_indices('"') {
            let key = snake(&source[at + 1..]);
            if !key.is_empty() && source[at + 1 + key.len()..].starts_with('"') {
                literals.insert(key);
            }
        }
    }
    asked.remove("");
    for key in &asked {
        assert!(english.contains_key(key), "texts.en.{key} is missing");
    }
    for key in english.keys() {
        assert!(literals.contains(key), "texts.en.{key} is never used");
    }
}

#[tokio::test]
async fn checkout_asks_only_what_the_settings_require() {
    let mut shop = Shop::new().await;
    let mut settings = Settings::defaults().expect("settings");
    settings.checkout.ask_contact = false;
    settings.checkout.ask_address = false;
    shop.settings = Arc::new(settings);
    let mut sam = shop.shopper(1000);
    sam.register().await;
    sam.press_data(&format!("a:{}:1", shop.demo.oolong_open))
        .await;
    sam.send("/cart").await;
    sam.press("Checkout").await;
    sam.assert_says("Please check your order");
    assert!(!sam.text().contains("Phone:"));
    sam.press("Confirm order").await;
    sam.assert_says("Your order #4 for 7.00 EUR is placed");
    assert!(sam.last.notifications.is_empty());
}

#[tokio::test]
async fn leaving_the_phone_prompt_takes_the_contact_keyboard_away() {
    let shop = Shop::new().await;
    let mut sam = shop.shopper(1200);
    sam.register().await;
    sam.press_data(&format!("a:{}:1", shop.demo.oolong_open))
        .await;
    sam.send("/cart").await;
    let checkout = sam.button("Checkout");
    sam.press_data(&checkout).await;
    assert!(matches!(
        sam.last.replies[0].markup,
        Markup::RequestContact { .. }
    ));
    sam.send("/catalog").await;
    assert_eq!(sam.last.replies[0].markup, Markup::RemoveKeyboard);
    sam.assert_says("Categories:");
    // Typed text is now a search again, not a phone number.
    sam.send("+49 30 1234567").await;
    sam.assert_says("Nothing found");
    sam.press_data(&checkout).await;
    sam.send("+49 30 1234567").await;
    sam.assert_says("Where should we deliver?");
}

#[tokio::test]
async fn a_product_with_many_variants_pages_its_buttons() {
    use storebot_entity::variant;
    let shop = Shop::new().await;
    for n in 0..20 {
        variant::ActiveModel {
            product_id: Set(shop.demo.green_tea),
            sku: Set(format!("GT-X{n}")),
            title: Set(format!("Sample {n:02}")),
            price: Set(100 + n),
            stock: Set(1),
            active: Set(true),
            all_segments: Set(true),
            ..Default::default()
        }
        .insert(&shop.test.db)
        .await
        .expect("variant");
    }
    let mut sam = shop.shopper(1100);
    sam.register().await;
    sam.press_data(&format!("p:{}", shop.demo.green_tea)).await;
    assert_eq!(sam.buttons().len(), 8 + 2);
    sam.press("Next ›").await;
    sam.press("Next ›").await;
    // 21 variants in stock: 8 + 8 + 5, then "‹ Previous" and "« Back".
    assert_eq!(sam.buttons().len(), 5 + 2);
    sam.assert_says("Sample 19");
}

/// A coupon for the given user group, through the store as the admin tool makes it.
async fn group_coupon(shop: &Shop, code: &str, group: &str, limit: Option<i32>) {
    crate::store::orders::coupons::create(
        &shop.test.db,
        &crate::store::orders::coupons::NewCoupon {
            code: code.into(),
            discount: crate::coupons::Discount::Percent(10),
            starts_at: None,
            ends_at: None,
            usage_limit: limit,
            per_customer_limit: None,
            segments: Vec::new(),
            user_groups: vec![group.into()],
        },
        start(),
    )
    .await
    .expect("coupon");
}

fn quick_checkout(shop: &mut Shop) {
    let mut settings = Settings::defaults().expect("settings");
    settings.checkout.ask_contact = false;
    settings.checkout.ask_address = false;
    settings.telegram.merchant_chats = vec![MERCHANT_CHAT];
    shop.settings = Arc::new(settings);
}

#[tokio::test]
async fn a_coupon_entered_at_checkout_discounts_the_order() {
    let mut shop = Shop::new().await;
    quick_checkout(&mut shop);
    group_coupon(&shop, "FRIENDS", "friends", None).await;
    crate::store::orders::coupons::create(
        &shop.test.db,
        &crate::store::orders::coupons::NewCoupon {
            code: "VIP20".into(),
            discount: crate::coupons::Discount::Percent(20),
            starts_at: None,
            ends_at: Some(start() + Duration::days(30)),
            usage_limit: None,
            per_customer_limit: None,
            segments: vec!["VIP".into()],
            user_groups: Vec::new(),
        },
        start(),
    )
    .await
    .expect("coupon");
    let mut sam = shop.shopper(1100);
    sam.register().await;
    let customer = sam.customer(&shop).await;
    crate::store::membership::user_groups::add_hand_set_group(
        &shop.test.db,
        customer.id,
        "friends",
    )
    .await
    .expect("group");
    sam.press_data(&format!("a:{}:2", shop.demo.green_small))
        .await;
    sam.send("/cart").await;
    sam.press("Checkout").await;
    sam.assert_says("Total: 9.00 EUR");

    sam.press("Coupon").await;
    sam.assert_says("Please type your coupon code.");
    sam.send("nope").await;
    sam.assert_says("There is no coupon “NOPE”");
    sam.assert_says("Please check your order");
    sam.press("Coupon").await;
    sam.send("vip20").await;
    sam.assert_says("Coupon VIP20 is not available to you.");
    assert!(!sam.text().contains("To pay"));
    // Leaving the prompt with a command: the next text is a search again, not a code.
    sam.press("Coupon").await;
    sam.send("/menu").await;
    sam.send("sencha").await;
    sam.assert_says("Found for “sencha”");
    sam.send("/cart").await;
    sam.press("Checkout").await;
    sam.press("Coupon").await;
    sam.send(" friends ").await;
    sam.assert_says("Coupon FRIENDS: −0.90 EUR");
    sam.assert_says("To pay: 8.10 EUR");
    sam.press("Coupon").await;
    sam.send("FRIENDS").await;
    sam.assert_says("Coupon FRIENDS is already applied.");
    sam.assert_says("To pay: 8.10 EUR");

    sam.press("Confirm order").await;
    sam.assert_says("for 8.10 EUR is placed");
    let notice = &sam.last.notifications[0].text;
    assert!(notice.contains("Coupon FRIENDS: −0.90 EUR"), "{notice}");
    assert!(notice.contains(": 8.10 EUR"), "{notice}");
    sam.send("/orders").await;
    sam.assert_says("· new · 8.10 EUR");
    sam.assert_says("Coupon FRIENDS: −0.90 EUR");
}

#[tokio::test]
async fn a_coupon_used_up_before_confirm_places_nothing_and_says_why() {
    let mut shop = Shop::new().await;
    quick_checkout(&mut shop);
    group_coupon(&shop, "LASTONE", "friends", Some(1)).await;
    let mut shoppers = Vec::new();
    for id in [1200, 1201] {
        let mut shopper = shop.shopper(id);
        shopper.register().await;
        let customer = shopper.customer(&shop).await;
        crate::store::membership::user_groups::add_hand_set_group(
            &shop.test.db,
            customer.id,
            "friends",
        )
        .await
        .expect("group");
        shopper
            .press_data(&format!("a:{}:1", shop.demo.green_small))
            .await;
        shopper.send("/cart").await;
        shopper.press("Checkout").await;
        shopper.press("Coupon").await;
        shopper.send("lastone").await;
        shopper.assert_says("To pay: 4.05 EUR");
        shoppers.push(shopper);
    }
    let before = order_count(&shop).await;
    shoppers[0].press("Confirm order").await;
    shoppers[0].assert_says("for 4.05 EUR is placed");
    shoppers[1].press("Confirm order").await;
    shoppers[1].assert_says("Coupon LASTONE has been used up.");
    shoppers[1].assert_says("Your order was not placed");
    shoppers[1].assert_says("Total: 4.50 EUR");
    assert!(!shoppers[1].text().contains("To pay"));
    assert_eq!(order_count(&shop).await, before + 1);
    // Confirming again without the coupon places the order at full price.
    shoppers[1].press("Confirm order").await;
    shoppers[1].assert_says("for 4.50 EUR is placed");
}

#[tokio::test]
async fn only_the_newest_confirmation_places_an_order() {
    let mut shop = Shop::new().await;
    quick_checkout(&mut shop);
    group_coupon(&shop, "LASTONE", "friends", Some(1)).await;
    let mut sam = shop.shopper(1250);
    sam.register().await;
    let customer = sam.customer(&shop).await;
    crate::store::membership::user_groups::add_hand_set_group(
        &shop.test.db,
        customer.id,
        "friends",
    )
    .await
    .expect("group");
    sam.press_data(&format!("a:{}:1", shop.demo.green_small))
        .await;
    sam.send("/cart").await;
    sam.press("Checkout").await;
    let without_coupon = sam.button("Confirm order");
    sam.press("Coupon").await;
    sam.send("lastone").await;
    sam.assert_says("To pay: 4.05 EUR");
    let with_coupon = sam.button("Confirm order");
    assert_ne!(with_coupon, without_coupon);
    // Both older confirmations answer "out of date" and order nothing, whatever they showed.
    let before = order_count(&shop).await;
    sam.press_data(&without_coupon).await;
    sam.assert_says("This confirmation is out of date");
    assert_eq!(order_count(&shop).await, before);
    // The newest one places exactly what it showed; pressed again it only reports the order.
    sam.press_data(&with_coupon).await;
    sam.assert_says("for 4.05 EUR is placed");
    sam.press_data(&with_coupon).await;
    sam.assert_says("already placed");
    sam.press_data(&without_coupon).await;
    sam.assert_says("This confirmation is out of date");
    assert_eq!(order_count(&shop).await, before + 1);
}

#[tokio::test]
async fn a_message_it_cant_read_gets_a_hint_and_keeps_a_prompt_or_a_question() {
    let shop = Shop::new().await;
    let mut mia = shop.shopper(1300);
    // Before registration: the question comes first, with a sentence saying so.
    mia.send("/start").await;
    mia.send_input(Input::Media).await;
    mia.assert_says("Please answer this question first.");
    mia.assert_says("How old are you?");
    mia.register().await;
    // At the menu: the hint and the menu.
    mia.send_input(Input::Media).await;
    mia.assert_says("I can only read text messages and buttons.");
    mia.assert_says("Main menu");
    // At the phone prompt: the prompt stays, so the typed number is still taken.
    mia.press_data(&format!("a:{}:1", shop.demo.oolong_open))
        .await;
    mia.send("/cart").await;
    mia.press("Checkout").await;
    mia.send_input(Input::Media).await;
    mia.assert_says("I can only read text here: please type it.");
    mia.send("+49 30 1234567").await;
    mia.assert_says("Where should we deliver?");
}
