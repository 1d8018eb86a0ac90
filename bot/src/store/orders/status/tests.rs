//! Status changes on a real database (SQLite, or PostgreSQL with
//! `STOREBOT_TEST_DATABASE_URL`): the moves, the stock put back once, the shopper's message
//! queued once, and two changes at once.

use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, DatabaseConnection, ExprTrait};
use storebot_entity::{outbox_message, variant};

use super::*;
use crate::store::operations::demo::fixtures::Shop;
use crate::testing::TestDb;

/// An order of `quantity` of the shop's 100 g green tea, as `place` leaves it (stock taken).
async fn order_of(db: &DatabaseConnection, shop: &Shop, key: &str, quantity: i32) -> i64 {
    let order = order::ActiveModel {
        customer_id: Set(shop.shopper),
        status: Set(NEW.into()),
        total: Set(450 * i64::from(quantity)),
        discount_total: Set(0),
        currency: Set("EUR".into()),
        placed_at: Set(shop.now),
        contact_phone: Set(None),
        address: Set(None),
        idempotency_key: Set(key.into()),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("order");
    order_item::ActiveModel {
        order_id: Set(order.id),
        variant_id: Set(Some(shop.green_small)),
        product_id: Set(None),
        sku: Set("GT-100".into()),
        title: Set("Green tea, 100 g".into()),
        quantity: Set(quantity),
        unit_price: Set(450),
        discount: Set(0),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("item");
    variant::Entity::update_many()
        .col_expr(
            variant::Column::Stock,
            Expr::col(variant::Column::Stock).sub(quantity),
        )
        .filter(variant::Column::Id.eq(shop.green_small))
        .exec(db)
        .await
        .expect("stock");
    order.id
}

async fn stock(db: &DatabaseConnection, shop: &Shop) -> i32 {
    variant::Entity::find_by_id(shop.green_small)
        .one(db)
        .await
        .expect("q")
        .expect("variant")
        .stock
}

async fn messages(db: &DatabaseConnection) -> Vec<(String, String)> {
    outbox_message::Entity::find()
        .order_by_asc(outbox_message::Column::Id)
        .all(db)
        .await
        .expect("outbox")
        .into_iter()
        .map(|message| (message.dedupe_key, message.text))
        .collect()
}

fn news(news: &StatusNews<'_>) -> Option<String> {
    let items: Vec<String> = news
        .items
        .iter()
        .map(|item| format!("{} × {}", item.quantity, item.title))
        .collect();
    Some(format!(
        "#{} {}: {}",
        news.order.id,
        news.order.status,
        items.join("; ")
    ))
}

#[test]
fn moves_go_forward_and_final_statuses_have_none() {
    assert_eq!(moves_from(NEW), [PAID, SHIPPED, CANCELLED]);
    assert_eq!(moves_from(PAID), [SHIPPED, CANCELLED]);
    assert_eq!(moves_from(SHIPPED), [DELIVERED]);
    assert!(moves_from(DELIVERED).is_empty());
    assert!(moves_from(CANCELLED).is_empty());
    assert!(moves_from("lost").is_empty());
}

#[tokio::test]
async fn each_change_queues_the_shoppers_message_once_and_a_repeat_changes_nothing() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let shop = Shop::new(db).await;
    let id = order_of(db, &shop, "k1", 2).await;
    let later = shop.now + chrono::Duration::hours(1);

    let paid = set_status(db, id, PAID, &news, later).await.expect("paid");
    let StatusChange::Changed {
        from,
        stock_returned,
        message_queued,
        view,
    } = &paid
    else {
        panic!("{paid:?}");
    };
    assert_eq!(
        (from.as_str(), *stock_returned, *message_queued),
        ("new", false, true)
    );
    assert_eq!(view.order.status, PAID);
    let again = set_status(db, id, PAID, &news, later).await.expect("again");
    assert!(matches!(again, StatusChange::Unchanged { .. }), "{again:?}");
    assert_eq!(
        messages(db).await,
        [(
            format!("order:{id}:paid"),
            format!("#{id} paid: 2 × Green tea, 100 g")
        )]
    );

    // Backwards and unknown moves are refused with nothing written.
    let back = set_status(db, id, NEW, &news, later).await.expect("back");
    assert!(matches!(back, StatusChange::NotAllowed { .. }), "{back:?}");
    let error = back.refused_as_error().expect_err("refused");
    assert_eq!(
        error.to_string(),
        format!(
            "order {id} is `paid` and can't become `new`: from `paid` it may become shipped, cancelled"
        )
    );
    assert!(matches!(
        set_status(db, id + 1000, PAID, &news, later).await,
        Err(StoreError::NotFound { .. })
    ));
    set_status(db, id, SHIPPED, &news, later)
        .await
        .expect("shipped");
    set_status(db, id, DELIVERED, &news, later)
        .await
        .expect("delivered");
    let keys: Vec<String> = messages(db).await.into_iter().map(|(key, _)| key).collect();
    assert_eq!(
        keys,
        [
            format!("order:{id}:paid"),
            format!("order:{id}:shipped"),
            format!("order:{id}:delivered")
        ]
    );
    let order = order_view(db, id).await.expect("q").expect("order");
    assert_eq!(order.order.status, DELIVERED);
}

#[tokio::test]
async fn cancelling_before_shipping_returns_stock_once_and_after_shipping_never() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let shop = Shop::new(db).await;
    let before = stock(db, &shop).await;
    let id = order_of(db, &shop, "k1", 3).await;
    assert_eq!(stock(db, &shop).await, before - 3);
    let change = set_status(db, id, CANCELLED, &news, shop.now)
        .await
        .expect("cancel");
    assert!(
        matches!(
            change,
            StatusChange::Changed {
                stock_returned: true,
                ..
            }
        ),
        "{change:?}"
    );
    assert_eq!(stock(db, &shop).await, before);
    let again = set_status(db, id, CANCELLED, &news, shop.now)
        .await
        .expect("again");
    assert!(matches!(again, StatusChange::Unchanged { .. }));
    assert_eq!(stock(db, &shop).await, before);

    // Shipped goods have left: a cancellation is not allowed, the stock stays.
    let shipped = order_of(db, &shop, "k2", 1).await;
    set_status(db, shipped, SHIPPED, &news, shop.now)
        .await
        .expect("shipped");
    let refused = set_status(db, shipped, CANCELLED, &news, shop.now)
        .await
        .expect("refused");
    assert!(matches!(refused, StatusChange::NotAllowed { .. }));
    assert_eq!(stock(db, &shop).await, before - 1);
}

#[tokio::test]
async fn a_shopper_cancels_only_their_own_new_order() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let shop = Shop::new(db).await;
    let before = stock(db, &shop).await;
    let id = order_of(db, &shop, "k1", 2).await;
    let quiet = |_: &StatusNews<'_>| None;
    let stranger = shop.demo.customers[0];
    assert_eq!(
        cancel_own(db, stranger, id, &quiet, shop.now)
            .await
            .expect("q"),
        None
    );
    assert_eq!(stock(db, &shop).await, before - 2);
    let change = cancel_own(db, shop.shopper, id, &quiet, shop.now)
        .await
        .expect("q")
        .expect("theirs");
    assert!(
        matches!(
            change,
            StatusChange::Changed {
                stock_returned: true,
                message_queued: false,
                ..
            }
        ),
        "{change:?}"
    );
    assert_eq!(stock(db, &shop).await, before);
    assert!(messages(db).await.is_empty());

    // Once the merchant has acted, it is theirs to cancel, not the shopper's.
    let paid = order_of(db, &shop, "k2", 1).await;
    set_status(db, paid, PAID, &quiet, shop.now)
        .await
        .expect("paid");
    let refused = cancel_own(db, shop.shopper, paid, &quiet, shop.now)
        .await
        .expect("q")
        .expect("theirs");
    assert!(matches!(refused, StatusChange::NotAllowed { .. }));
    assert_eq!(stock(db, &shop).await, before - 1);
}

#[tokio::test]
async fn imported_history_cancelled_returns_no_stock_and_a_blocked_shopper_gets_no_message() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let shop = Shop::new(db).await;
    let id = order_of(db, &shop, "import:A1", 2).await;
    let before = stock(db, &shop).await;
    customer::Entity::update_many()
        .col_expr(customer::Column::BlockedAt, Expr::value(shop.now))
        .filter(customer::Column::Id.eq(shop.shopper))
        .exec(db)
        .await
        .expect("block");
    let change = set_status(db, id, CANCELLED, &news, shop.now)
        .await
        .expect("cancel");
    assert!(
        matches!(
            change,
            StatusChange::Changed {
                stock_returned: false,
                message_queued: false,
                ..
            }
        ),
        "{change:?}"
    );
    assert_eq!(stock(db, &shop).await, before);
    assert!(messages(db).await.is_empty());
}

/// Two changes racing on separate connections: exactly one wins, the stock comes back once,
/// and one message is queued.
#[tokio::test]
async fn two_cancellations_at_once_return_the_stock_once() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let shop = Shop::new(db).await;
    let before = stock(db, &shop).await;
    let id = order_of(db, &shop, "k1", 2).await;
    let (one, two) = tokio::join!(
        set_status(db, id, CANCELLED, &news, shop.now),
        set_status(db, id, CANCELLED, &news, shop.now),
    );
    let changed = [one.expect("one"), two.expect("two")]
        .iter()
        .filter(|change| matches!(change, StatusChange::Changed { .. }))
        .count();
    assert_eq!(changed, 1);
    assert_eq!(stock(db, &shop).await, before);
    assert_eq!(messages(db).await.len(), 1);
}
