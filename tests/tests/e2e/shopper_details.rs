//! Smaller things a new shopper notices, through the real binary on the demo shop: an
//! optional question says so, cart lines are numbered and their − and + buttons name the line,
//! "sold out" instead of "only 0 in stock", stock messages name the variant, cancelling a
//! checkout takes the confirmation's buttons away.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use storebot_entity::variant;
use storebot_tests::fake_telegram::TestUser;

use super::journey::{Shop, visible};

#[tokio::test]
async fn a_new_shopper_reads_what_each_button_and_line_means() {
    let mut shop = Shop::open().await;
    let dana = shop.shopper(TestUser::new(1020, "Dana"));
    // The demo's diet question is optional, and says so.
    dana.send("/start");
    let age = dana.screen("How old are you?").await;
    dana.press(&age, "26–40");
    let likes = dana.screen("What do you like to drink?").await;
    assert!(!visible(&likes).contains("optional"), "{}", visible(&likes));
    dana.press(&likes, "Tea");
    let ticked = dana.with_button("✓ Tea").await;
    dana.press(&ticked, "Done");
    let diet = dana.screen("Do you follow a diet?").await;
    assert!(
        visible(&diet).contains("This question is optional: press Skip to leave it out."),
        "{}",
        visible(&diet)
    );
    dana.press(&diet, "Skip");
    dana.screen("Main menu").await;

    // Two lines in the cart, numbered; "+ #2" changes the second.
    let green_tea = shop.demo.green_tea;
    dana.fill_cart(green_tea, "2").await;
    dana.send(&format!("/start p_{}", shop.demo.espresso));
    let espresso = dana.screen("Espresso roast").await;
    dana.press(&espresso, "Beans 250 g · 9.90 EUR");
    let how_many = dana.screen("How many?").await;
    dana.press(&how_many, "1");
    dana.screen("Added 1 ×").await;
    dana.send("/cart");
    let cart = dana.screen("Your cart:").await;
    let text = visible(&cart);
    assert!(text.contains("#1 Green tea, 100 g: 2 × 4.50 EUR"), "{text}");
    assert!(
        text.contains("#2 Espresso roast, Beans 250 g: 1 × 9.90 EUR"),
        "{text}"
    );
    assert_eq!(
        cart.buttons[1].first().map(|b| b.label.as_str()),
        Some("− #2")
    );
    dana.press(&cart, "+ #2");
    let more = dana.screen("#2 Espresso roast, Beans 250 g: 2 ×").await;
    assert!(
        visible(&more).contains("#1 Green tea, 100 g: 2 ×"),
        "{}",
        visible(&more)
    );

    // Asking for more than there is names the variant.
    let green_small = shop.demo.green_small;
    let stock = shop.stock_of(green_small).await;
    let pressed = shop.fake.press_data(
        &dana.user,
        more.message_id,
        &format!("a:{green_small}:{}", stock - 1),
    );
    let notice = dana.notice(pressed).await.unwrap_or_default();
    assert_eq!(
        notice,
        format!("Sorry, only {} of Green tea, 100 g left.", stock - 2)
    );

    // The tea sells out meanwhile: its line says so, and checkout leaves it out.
    variant::Entity::update_many()
        .col_expr(variant::Column::Stock, sea_orm::sea_query::Expr::value(0))
        .filter(variant::Column::Id.eq(green_small))
        .exec(&shop.test.db)
        .await
        .unwrap();
    dana.send("/cart");
    let sold_out = dana.screen("Your cart:").await;
    let text = visible(&sold_out);
    assert!(
        text.contains("#1 Green tea, 100 g: sold out (left out of checkout)"),
        "{text}"
    );
    assert!(!text.contains("only 0"), "{text}");
    let pressed = dana.press(&sold_out, "+ #1");
    assert_eq!(
        dana.notice(pressed).await.as_deref(),
        Some("Sorry, Green tea, 100 g is sold out.")
    );

    // Cancelling at the confirmation replaces it: its Confirm can't be pressed afterwards.
    dana.send("/cart");
    let cart = dana.screen("Your cart:").await;
    dana.press(&cart, "Checkout");
    dana.screen("share your phone number").await;
    dana.send("+44 20 7946 0000");
    dana.screen("Where should we deliver?").await;
    dana.send("1 High Street, London");
    let confirm = dana.screen("Please check your order").await;
    dana.press(&confirm, "Cancel");
    let cancelled = dana.screen("Checkout cancelled").await;
    assert!(cancelled.edited);
    assert_eq!(cancelled.message_id, confirm.message_id);
    assert!(cancelled.buttons.is_empty(), "{cancelled:#?}");
    dana.screen("Main menu").await;
    shop.stop_bot().await;
}

#[tokio::test]
async fn help_lists_the_commands_the_bot_registers_with_telegram_per_language() {
    let mut shop = Shop::open_with(&[(
        "STOREBOT_TEXTS__DE__COMMANDS",
        "start: Hauptmenü\nhelp: Was der Bot kann",
    )])
    .await;
    let calls = shop
        .fake
        .wait_for_calls("setMyCommands", 2, super::journey::WAIT)
        .await
        .unwrap();
    let registered: Vec<(String, String)> = calls
        .iter()
        .map(|call| {
            let commands = match &call.body["commands"] {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            (
                call.body["language_code"].as_str().unwrap_or("").to_owned(),
                commands,
            )
        })
        .collect();
    let english = registered
        .iter()
        .find(|(language, _)| language.is_empty())
        .expect("the default commands");
    assert!(
        english
            .1
            .contains(r#""command":"orders","description":"Your orders""#),
        "{registered:#?}"
    );
    let german = registered
        .iter()
        .find(|(language, _)| language == "de")
        .expect("the German commands");
    assert!(german.1.contains("Hauptmenü"), "{registered:#?}");
    assert!(!german.1.contains("orders"), "{registered:#?}");

    let erin = shop.shopper(TestUser::new(1021, "Erin"));
    erin.register("Tea").await;
    erin.send("/help");
    let help = erin.screen("Commands:").await;
    let text = visible(&help);
    assert!(text.contains("/orders – Your orders"), "{text}");
    assert!(text.contains("/help – What the bot can do"), "{text}");
    erin.screen("Main menu").await;
    shop.stop_bot().await;
}

#[tokio::test]
async fn other_amount_takes_a_typed_quantity_within_the_stock() {
    let mut shop = Shop::open().await;
    let finn = shop.shopper(TestUser::new(1022, "Finn"));
    finn.register("Tea").await;
    let stock = shop.stock_of(shop.demo.green_small).await;
    finn.send(&format!("/start p_{}", shop.demo.green_tea));
    let product = finn.screen("Sencha from Shizuoka").await;
    finn.press(&product, "100 g · 4.50 EUR");
    let how_many = finn.screen("How many?").await;
    finn.press(&how_many, "Other amount");
    let asked = finn
        .screen(&format!(
            "How many of Green tea, 100 g? Type a number from 1 to {stock}."
        ))
        .await;
    assert_eq!(asked.labels(), ["« Back"]);
    let refused = format!("Please type a whole number from 1 to {stock} for Green tea, 100 g.");
    for typed in ["0", &(stock + 1).to_string(), "three", "-2"] {
        finn.send(typed);
        finn.screen(&refused).await;
    }
    finn.send("7");
    finn.screen("Added 7 × Green tea, 100 g").await;
    let cart = shop.cart_of(&finn.user).await;
    assert_eq!(cart.len(), 1);
    assert_eq!(cart[0].quantity, 7);
    // The prompt is over: a typed word is a search again.
    finn.send("sencha");
    finn.screen("Found for “sencha”").await;
    shop.stop_bot().await;
}

#[tokio::test]
async fn checkout_offers_last_times_phone_and_address_until_the_shopper_forgets_them() {
    let mut shop = Shop::open().await;
    let gina = shop.shopper(TestUser::new(1023, "Gina"));
    gina.register("Tea").await;
    let cart = gina.fill_cart(shop.demo.green_tea, "1").await;
    gina.press(&cart, "Checkout");
    let prompt = gina.screen("share your phone number").await;
    assert!(prompt.buttons.is_empty());
    gina.send("+44 20 7946 0000");
    gina.screen("Where should we deliver?").await;
    gina.send("1 High Street, London");
    let confirm = gina.screen("Please check your order").await;
    gina.press(&confirm, "Confirm order");
    gina.screen("is placed").await;

    // The next checkout offers both, one press each.
    let cart = gina.fill_cart(shop.demo.green_tea, "1").await;
    gina.press(&cart, "Checkout");
    let offer = gina.screen("Same as last time?").await;
    assert_eq!(offer.labels(), ["Use +442079460000", "Enter another"]);
    gina.screen("share your phone number").await;
    gina.press(&offer, "Use +442079460000");
    gina.screen("got your number").await;
    let address_offer = gina.screen("Same as last time?").await;
    assert_eq!(
        address_offer.labels(),
        ["Use 1 High Street, London", "Enter another"]
    );
    gina.press(&address_offer, "Use 1 High Street, London");
    let confirm = gina.screen("Please check your order").await;
    let text = visible(&confirm);
    assert!(text.contains("Phone: +442079460000"), "{text}");
    assert!(text.contains("Address: 1 High Street, London"), "{text}");
    // The old offer, pressed again at the confirmation: out of date, nothing changes.
    let stale = gina.press(&offer, "Use +442079460000");
    assert_eq!(
        gina.notice(stale).await.as_deref(),
        Some("That button is out of date.")
    );

    // /profile shows them, and forgets them on request.
    gina.send("/profile");
    let profile = gina.screen("Kept for your next order:").await;
    assert!(visible(&profile).contains("Address: 1 High Street, London"));
    let forget = gina.press(&profile, "Forget my details");
    assert_eq!(
        gina.notice(forget).await.as_deref(),
        Some("Your saved phone and address are deleted.")
    );
    let after = gina.screen("Your answers:").await;
    assert!(
        !visible(&after).contains("Kept for your next order"),
        "{}",
        visible(&after)
    );
    let customer = shop.customer(&gina.user).await;
    assert_eq!((customer.saved_phone, customer.saved_address), (None, None));
    // Past orders keep theirs.
    let orders = shop.orders_of(&gina.user).await;
    assert_eq!(orders[0].address.as_deref(), Some("1 High Street, London"));

    // Nothing is offered any more: the phone prompt comes straight after Checkout.
    gina.send("/cart");
    let cart = gina.screen("Your cart:").await;
    gina.press(&cart, "Checkout");
    let next = shop
        .fake
        .next_reply(gina.user.chat_id(), super::journey::WAIT)
        .await
        .unwrap();
    assert!(
        visible(&next).contains("share your phone number"),
        "{next:#?}"
    );
    shop.stop_bot().await;
}
