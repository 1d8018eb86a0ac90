//! An order's life after "your order is placed", through the real `storebot` binary on the
//! demo shop with the fake Bot API: the merchant's buttons on the new-order card in their
//! chats (once per move, whoever presses twice or at once; only merchants, only there),
//! `/orders` in a merchant chat, the shopper's status messages through the outbox (with news
//! off too, never to a blocked shopper), a shopper cancelling their own new order (stock back
//! once, the merchants told), and `storebot-admin orders status` going the same way.

use chrono::Utc;
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use storebot_entity::{customer, order, order_item, outbox_message};
use storebot_tests::admin::AdminTool;
use storebot_tests::fake_telegram::{SentMessage, TestUser};

use super::journey::{MERCHANT_CHAT, OTHER_MERCHANT_CHAT, Shop, Shopper, WAIT, visible};

/// The merchants allowed to press; anyone else in their chats is not.
const MIA: i64 = 7001;
const MAX: i64 = 7002;

fn mia() -> TestUser {
    TestUser::new(MIA, "Mia").username("mia")
}

fn max() -> TestUser {
    TestUser::new(MAX, "Max")
}

async fn open_shop() -> Shop {
    let merchants = format!("{MIA},{MAX}");
    Shop::open_with(&[
        ("STOREBOT_TELEGRAM__MERCHANT_USERS", &merchants),
        ("STOREBOT_MESSAGES__POLL_INTERVAL", "50ms"),
        ("STOREBOT_MESSAGES__PER_CHAT_INTERVAL", "10ms"),
    ])
    .await
}

/// Registers `shopper`, orders `quantity` × 100 g green tea through checkout, and returns
/// the order's id with the card in each merchant chat.
async fn place_order(
    shop: &Shop,
    shopper: &Shopper<'_>,
    quantity: &str,
) -> (i64, SentMessage, SentMessage) {
    shopper.register("Tea").await;
    let cart = shopper.fill_cart(shop.demo.green_tea, quantity).await;
    shopper.press(&cart, "Checkout");
    shopper.screen("share your phone number").await;
    shopper.send("+44 20 7946 0000");
    shopper.screen("Where should we deliver?").await;
    shopper.send("1 High Street, London");
    let confirm = shopper.screen("Please check your order").await;
    shopper.press(&confirm, "Confirm order");
    shopper.screen("is placed").await;
    let order = shop
        .orders_of(&shopper.user)
        .await
        .last()
        .expect("an order")
        .id;
    let card = merchant_message(shop, MERCHANT_CHAT, &format!("New order #{order}")).await;
    let other = merchant_message(shop, OTHER_MERCHANT_CHAT, &format!("New order #{order}")).await;
    (order, card, other)
}

/// The next message or edit in merchant chat `chat` containing `part`.
async fn merchant_message(shop: &Shop, chat: i64, part: &str) -> SentMessage {
    let mut skipped = Vec::new();
    loop {
        match shop.fake.next_reply(chat, WAIT).await {
            Ok(reply) if visible(&reply).contains(part) => return reply,
            Ok(reply) => skipped.push(visible(&reply)),
            Err(error) => panic!("waiting for {part:?} in {chat}; skipped {skipped:#?}: {error:#}"),
        }
    }
}

async fn notice(shop: &Shop, update_id: i64) -> String {
    shop.fake
        .callback_answer(update_id, WAIT)
        .await
        .unwrap()
        .text
        .unwrap_or_default()
}

async fn status_of(shop: &Shop, order: i64) -> String {
    order::Entity::find_by_id(order)
        .one(&shop.test.db)
        .await
        .unwrap()
        .unwrap()
        .status
}

/// The service messages queued for `order`, by dedupe key.
async fn messages_of(shop: &Shop, order: i64) -> Vec<String> {
    outbox_message::Entity::find()
        .filter(outbox_message::Column::DedupeKey.starts_with(format!("order:{order}:")))
        .order_by_asc(outbox_message::Column::Id)
        .all(&shop.test.db)
        .await
        .unwrap()
        .into_iter()
        .map(|message| message.dedupe_key)
        .collect()
}

#[tokio::test]
async fn the_merchant_moves_an_order_on_once_per_press_and_the_shopper_hears_each_step() {
    let mut shop = open_shop().await;
    let alice = shop.shopper(TestUser::alice());
    let (order, card, other_card) = place_order(&shop, &alice, "2").await;
    let id = order.to_string();
    assert!(visible(&card).contains("Status: new"), "{}", visible(&card));
    assert_eq!(card.labels(), ["Paid", "Shipped", "Cancel"]);
    let stock = shop.stock_of(shop.demo.green_small).await;

    // Mia marks it paid: the card shows who and the moves left, Alice gets her message.
    let pressed = shop.fake.press(&mia(), &card, "Paid").unwrap();
    assert_eq!(
        notice(&shop, pressed).await,
        format!("Order #{id} is now paid.")
    );
    let paid_card = merchant_message(&shop, MERCHANT_CHAT, "Status: paid").await;
    assert!(paid_card.edited);
    assert_eq!(paid_card.message_id, card.message_id);
    assert!(
        visible(&paid_card).contains("Status: paid, by Mia (@mia) at "),
        "{}",
        visible(&paid_card)
    );
    assert_eq!(paid_card.labels(), ["Shipped", "Cancel"]);
    let news = alice.screen(&format!("Your order #{id} is paid.")).await;
    assert!(
        visible(&news).contains("• 2 × Green tea, 100 g"),
        "{}",
        visible(&news)
    );

    // The same button again (a double tap on the old card): nothing more happens.
    let again = shop.fake.press(&mia(), &card, "Paid").unwrap();
    assert_eq!(
        notice(&shop, again).await,
        format!("Order #{id} is already paid.")
    );
    assert_eq!(
        messages_of(&shop, order).await,
        [format!("order:{id}:paid")]
    );

    // Someone else in the merchant group, and a stranger's chat: refused, nothing changes.
    let bystander = TestUser::new(9100, "Bystander");
    let refused = shop.fake.press(&bystander, &paid_card, "Shipped").unwrap();
    assert_eq!(
        notice(&shop, refused).await,
        "Only the shop's staff can do this."
    );
    let data = format!("ms:{id}:s");
    let elsewhere = shop.fake.press_data_in_chat(&mia(), -100_999, 1, &data);
    assert_eq!(
        notice(&shop, elsewhere).await,
        "Only the shop's staff can do this."
    );
    // The same data in Alice's own chat is a merchant's button, not hers.
    let hers = shop.fake.press_data(&alice.user, 1, &data);
    assert_eq!(
        notice(&shop, hers).await,
        "Only the shop's staff can do this."
    );
    // Forged data from a merchant names no order.
    let forged =
        shop.fake
            .press_data_in_chat(&mia(), MERCHANT_CHAT, card.message_id, "ms:999999:s");
    assert_eq!(notice(&shop, forged).await, "That button is out of date.");
    assert_eq!(status_of(&shop, order).await, "paid");

    // Alice turns news off: an order's updates still reach her.
    customer::Entity::update_many()
        .col_expr(
            customer::Column::MessagesOptOut,
            sea_orm::sea_query::Expr::value(true),
        )
        .filter(customer::Column::TelegramUserId.eq(alice.user.id))
        .exec(&shop.test.db)
        .await
        .unwrap();
    let shipped = shop.fake.press(&max(), &paid_card, "Shipped").unwrap();
    assert_eq!(
        notice(&shop, shipped).await,
        format!("Order #{id} is now shipped.")
    );
    let shipped_card = merchant_message(&shop, MERCHANT_CHAT, "Status: shipped").await;
    assert!(
        visible(&shipped_card).contains("by Max at "),
        "{}",
        visible(&shipped_card)
    );
    assert_eq!(shipped_card.labels(), ["Delivered"]);
    alice
        .screen(&format!("Your order #{id} is on its way."))
        .await;

    // Two merchants at once, each on the card in their own chat (both presses are queued
    // before the bot answers either).
    let one = shop.fake.press(&mia(), &shipped_card, "Delivered").unwrap();
    let two = shop.fake.press_data_in_chat(
        &max(),
        OTHER_MERCHANT_CHAT,
        other_card.message_id,
        &format!("ms:{id}:d"),
    );
    let answers = [notice(&shop, one).await, notice(&shop, two).await];
    let now_delivered = format!("Order #{id} is now delivered.");
    let already = format!("Order #{id} is already delivered.");
    assert_eq!(
        answers
            .iter()
            .filter(|answer| **answer == now_delivered)
            .count(),
        1,
        "{answers:?}"
    );
    assert_eq!(
        answers.iter().filter(|answer| **answer == already).count(),
        1,
        "{answers:?}"
    );
    alice
        .screen(&format!("Your order #{id} has been delivered."))
        .await;
    assert_eq!(
        messages_of(&shop, order).await,
        [
            format!("order:{id}:paid"),
            format!("order:{id}:shipped"),
            format!("order:{id}:delivered")
        ]
    );
    // A late Cancel on the first card: delivered is final.
    let late = shop.fake.press(&mia(), &card, "Cancel").unwrap();
    assert_eq!(
        notice(&shop, late).await,
        format!("Order #{id} is delivered now: that button is out of date.")
    );
    assert_eq!(status_of(&shop, order).await, "delivered");
    assert_eq!(shop.stock_of(shop.demo.green_small).await, stock);
    shop.stop_bot().await;
}

#[tokio::test]
async fn a_shopper_cancels_their_own_new_order_once_and_the_merchants_are_told() {
    let mut shop = open_shop().await;
    let carol = shop.shopper(TestUser::carol());
    let before = shop.stock_of(shop.demo.green_small).await;
    let (order, card, _) = place_order(&shop, &carol, "3").await;
    let id = order.to_string();
    assert_eq!(shop.stock_of(shop.demo.green_small).await, before - 3);

    carol.send("/orders");
    let orders = carol.screen("Your orders:").await;
    carol.press(&orders, &format!("Cancel order #{id}"));
    let ask = carol.screen(&format!("Cancel order #{id}?")).await;
    assert!(
        visible(&ask).contains("• 3 × Green tea, 100 g"),
        "{}",
        visible(&ask)
    );
    let yes = carol.press(&ask, &format!("Yes, cancel order #{id}"));
    assert_eq!(
        notice(&shop, yes).await,
        format!("Order #{id} is cancelled.")
    );
    carol.screen(&format!("Order #{id} is cancelled.")).await;
    let told = merchant_message(&shop, MERCHANT_CHAT, &format!("Order #{id} was cancelled")).await;
    assert!(visible(&told).contains("by Carol"), "{}", visible(&told));
    merchant_message(
        &shop,
        OTHER_MERCHANT_CHAT,
        &format!("Order #{id} was cancelled"),
    )
    .await;
    assert_eq!(status_of(&shop, order).await, "cancelled");
    assert_eq!(shop.stock_of(shop.demo.green_small).await, before);

    // The old confirmation pressed again, and the same update delivered again: no second
    // return of stock, no second notice to the merchants.
    let twice = carol.press(&ask, &format!("Yes, cancel order #{id}"));
    assert_eq!(
        notice(&shop, twice).await,
        format!("Order #{id} is cancelled.")
    );
    shop.fake.redeliver(yes).unwrap();
    // Bob forges Carol's order's buttons.
    let bob = shop.shopper(TestUser::bob());
    bob.register("Tea").await;
    let forged = shop.fake.press_data(&bob.user, 1, &format!("ocy:{id}"));
    assert_eq!(notice(&shop, forged).await, "That button is out of date.");
    // A merchant's Paid on the card of the cancelled order changes nothing either.
    let late = shop.fake.press(&mia(), &card, "Paid").unwrap();
    assert_eq!(
        notice(&shop, late).await,
        format!("Order #{id} is cancelled now: that button is out of date.")
    );
    let refreshed = merchant_message(&shop, MERCHANT_CHAT, "Status: cancelled").await;
    assert!(refreshed.buttons.is_empty(), "{refreshed:#?}");
    // Carol's list no longer offers to cancel it. Once it is answered, every earlier update
    // (the redelivery included) has been handled.
    carol.send("/orders");
    let list = carol.screen("Your orders:").await;
    assert!(
        !list
            .labels()
            .iter()
            .any(|label| label.starts_with("Cancel")),
        "{list:#?}"
    );
    assert_eq!(shop.stock_of(shop.demo.green_small).await, before);
    let notices = shop.fake.take_replies(OTHER_MERCHANT_CHAT);
    assert!(notices.is_empty(), "{notices:#?}");
    assert!(messages_of(&shop, order).await.is_empty());
    shop.stop_bot().await;
}

#[tokio::test]
async fn merchant_orders_lists_open_orders_by_page_and_the_admin_tool_moves_them_the_same_way() {
    let mut shop = open_shop().await;
    // Six open orders and a shipped one of a shopper who talked to the bot, and of one who
    // blocked it.
    let dora = shop.shopper(TestUser::new(1010, "Dora"));
    dora.register("Tea").await;
    let erin = shop.shopper(TestUser::new(1011, "Erin"));
    erin.register("Tea").await;
    let dora_id = shop.customer(&dora.user).await.id;
    // The demo's own orders are done with, so the list holds only these.
    order::Entity::update_many()
        .col_expr(
            order::Column::Status,
            sea_orm::sea_query::Expr::value("delivered"),
        )
        .exec(&shop.test.db)
        .await
        .unwrap();
    let erin_id = shop.customer(&erin.user).await.id;
    let mut ids = Vec::new();
    for n in 0..7 {
        let status = match n {
            6 => "shipped",
            n if n % 2 == 0 => "new",
            _ => "paid",
        };
        let customer = if n == 5 { erin_id } else { dora_id };
        ids.push(insert_order(&shop, customer, status, n).await);
    }

    // A stranger's /orders in the merchant group is not answered; the merchant's is, first.
    shop.fake
        .send_text_in_chat(&TestUser::new(9100, "Bystander"), MERCHANT_CHAT, "/orders");
    shop.fake
        .send_text_in_chat(&mia(), MERCHANT_CHAT, "/orders");
    let mut cards = Vec::new();
    for _ in 0..5 {
        cards.push(shop.fake.next_reply(MERCHANT_CHAT, WAIT).await.unwrap());
    }
    let summary = shop.fake.next_reply(MERCHANT_CHAT, WAIT).await.unwrap();
    assert_eq!(visible(&summary), "Open orders 1–5 of 6.");
    assert_eq!(summary.labels(), ["Next ›"]);
    for (card, id) in cards.iter().zip(&ids) {
        assert!(
            visible(card).contains(&format!("New order #{id} ")),
            "{}",
            visible(card)
        );
    }
    assert_eq!(cards[0].labels(), ["Paid", "Shipped", "Cancel"]);
    assert_eq!(cards[1].labels(), ["Shipped", "Cancel"]);
    shop.fake.press(&mia(), &summary, "Next ›").unwrap();
    let last = merchant_message(&shop, MERCHANT_CHAT, &format!("New order #{} ", ids[5])).await;
    let page = merchant_message(&shop, MERCHANT_CHAT, "Open orders 6–6 of 6.").await;
    assert_eq!(page.labels(), ["‹ Previous"]);

    // Erin blocked the bot: the order moves on, no message is queued for her.
    customer::Entity::update_many()
        .col_expr(
            customer::Column::BlockedAt,
            sea_orm::sea_query::Expr::value(Utc::now()),
        )
        .filter(customer::Column::Id.eq(erin_id))
        .exec(&shop.test.db)
        .await
        .unwrap();
    let shipped = shop.fake.press(&mia(), &last, "Shipped").unwrap();
    assert_eq!(
        notice(&shop, shipped).await,
        format!("Order #{} is now shipped.", ids[5])
    );
    assert!(messages_of(&shop, ids[5]).await.is_empty());

    // The admin tool goes through the same rules and queues the same message.
    let tool = AdminTool::new(shop.test.url());
    let first = ids[0].to_string();
    let said = tool.ok(&["orders", "status", &first, "cancelled"]);
    assert_eq!(
        said.trim(),
        format!(
            "Order {first} is now cancelled. Its items are back in stock. The shopper's message is queued."
        )
    );
    dora.screen(&format!("Your order #{first} is cancelled."))
        .await;
    let said = tool.ok(&["orders", "status", &first, "cancelled"]);
    assert_eq!(
        said.trim(),
        format!("Order {first} is already cancelled; nothing changed.")
    );
    // Refused with the moves that are allowed; the orders and the outbox as they were.
    let state = |tool: &AdminTool| tool.json(&["orders", "list"]);
    tool.refused(
        &["orders", "status", &ids[6].to_string(), "paid"],
        &format!(
            "order {} is `shipped` and can't become `paid`: from `shipped` it may become delivered",
            ids[6]
        ),
        state,
    );
    assert_eq!(
        messages_of(&shop, ids[0]).await,
        [format!("order:{first}:cancelled")]
    );
    assert!(messages_of(&shop, ids[6]).await.is_empty());
    shop.stop_bot().await;
}

/// An order of one 100 g green tea for `customer` in `status`, `n` minutes after the first.
async fn insert_order(shop: &Shop, customer: i64, status: &str, n: i64) -> i64 {
    let placed_at = Utc::now() - chrono::Duration::hours(1) + chrono::Duration::minutes(n);
    let order = order::ActiveModel {
        customer_id: Set(customer),
        status: Set(status.into()),
        total: Set(450),
        discount_total: Set(0),
        currency: Set("EUR".into()),
        placed_at: Set(placed_at),
        contact_phone: Set(None),
        address: Set(None),
        idempotency_key: Set(format!("test:{n}")),
        ..Default::default()
    }
    .insert(&shop.test.db)
    .await
    .unwrap();
    order_item::ActiveModel {
        order_id: Set(order.id),
        variant_id: Set(Some(shop.demo.green_small)),
        product_id: Set(Some(shop.demo.green_tea)),
        sku: Set("GT-100".into()),
        title: Set("Green tea, 100 g".into()),
        quantity: Set(1),
        unit_price: Set(450),
        discount: Set(0),
        ..Default::default()
    }
    .insert(&shop.test.db)
    .await
    .unwrap();
    order.id
}
