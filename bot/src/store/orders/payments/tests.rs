//! Payments on whichever database `TestDb` gives (SQLite, or PostgreSQL when
//! `STOREBOT_TEST_DATABASE_URL` is set): an order paid once however often Telegram reports
//! it, stock back once on expiry, and every pre-checkout refusal.

use sea_orm::{EntityTrait, PaginatorTrait};
use storebot_entity::{outbox_message, payment as payment_row, variant};

use super::*;
use crate::store::operations::demo::fixtures::Shop;
use crate::store::orders::cart;
use crate::store::orders::place::{self, NewOrder, Placement};
use crate::store::orders::quote;
use crate::testing::TestDb;

const MESSAGES: fn() -> PaymentMessages = || PaymentMessages {
    paid: "paid #{order}".into(),
    late: "late #{order}".into(),
};

async fn stock_of(db: &DatabaseConnection, variant_id: i64) -> i32 {
    variant::Entity::find_by_id(variant_id)
        .one(db)
        .await
        .expect("q")
        .expect("variant")
        .stock
}

/// The demo shopper orders two of the small green tea, to be paid with `provider`.
async fn place_unpaid(db: &DatabaseConnection, shop: &Shop, provider: Provider) -> order::Model {
    cart::set_quantity(db, shop.shopper, shop.green_small, 2, shop.now)
        .await
        .expect("cart");
    let shopper = crate::store::orders::coupons::Shopper {
        customer_id: shop.shopper,
        segments_in_force: &[],
        now: shop.now,
    };
    let confirmed = quote::quote(db, &shopper, &[]).await.expect("quote").quote;
    let placed = place::place(
        db,
        &NewOrder {
            customer_id: shop.shopper,
            idempotency_key: "pay-1",
            segments_in_force: &[],
            contact_phone: None,
            address: None,
            currency: "EUR",
            now: shop.now,
            coupons: &[],
            confirmed: &confirmed,
            payment: Some(Terms {
                provider,
                expire_after: TimeDelta::minutes(30),
                chat_id: 100,
            }),
        },
    )
    .await
    .expect("place");
    let Placement::Placed { order, .. } = placed else {
        panic!("not placed: {placed:?}");
    };
    order.order
}

fn query<'a>(invoice: &'a InvoiceView, payer: i64) -> PreCheckoutQuery<'a> {
    PreCheckoutQuery {
        payload: &invoice.payload,
        payer_telegram_user_id: payer,
        currency: &invoice.currency,
        total_amount: invoice.amount,
    }
}

fn reported(invoice: &InvoiceView, charge: &str) -> ReportedPayment {
    ReportedPayment {
        payload: invoice.payload.clone(),
        payer_telegram_user_id: 100,
        currency: invoice.currency.clone(),
        total_amount: invoice.amount,
        telegram_charge_id: charge.into(),
        provider_charge_id: format!("prov-{charge}"),
    }
}

#[tokio::test]
async fn a_paid_order_is_recorded_once_however_often_telegram_reports_it() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let shop = Shop::new(db).await;
    let stock = stock_of(db, shop.green_small).await;
    let order = place_unpaid(db, &shop, Provider::Telegram).await;
    assert_eq!(order.status, AWAITING_PAYMENT);
    // Held, not sold twice.
    assert_eq!(stock_of(db, shop.green_small).await, stock - 2);
    let invoice = invoice_of(db, order.id, Provider::Telegram, "EUR")
        .await
        .expect("q")
        .expect("invoice");
    assert_eq!(invoice.amount, order.total);
    assert_eq!(
        invoice.lines.iter().map(|l| l.amount).sum::<i64>(),
        order.total
    );
    assert_eq!(invoice.payload.len(), 32);
    assert!(!invoice.payload.contains(&order.id.to_string()) || invoice.payload.len() == 32);
    assert_eq!(
        check_pre_checkout(db, &query(&invoice, 100), shop.now)
            .await
            .expect("check"),
        PreCheckout::Approve
    );
    let first = record(db, &reported(&invoice, "ch-1"), &MESSAGES(), shop.now)
        .await
        .expect("record");
    assert!(
        matches!(first, Recorded::New { late: false, .. }),
        "{first:?}"
    );
    let again = record(db, &reported(&invoice, "ch-1"), &MESSAGES(), shop.now)
        .await
        .expect("record again");
    assert!(matches!(again, Recorded::Already(_)), "{again:?}");
    assert_eq!(
        payment_row::Entity::find().count(db).await.expect("count"),
        1
    );
    let paid = order::Entity::find_by_id(order.id)
        .one(db)
        .await
        .expect("q")
        .expect("order");
    assert_eq!(paid.status, PAID);
    let queued = outbox_message::Entity::find()
        .all(db)
        .await
        .expect("outbox");
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].text, format!("paid #{}", order.id));
    // The merchant chats hear of it once.
    assert!(
        claim_announcement(db, "ch-1", shop.now)
            .await
            .expect("claim")
            .is_some()
    );
    assert!(
        claim_announcement(db, "ch-1", shop.now)
            .await
            .expect("claim")
            .is_none()
    );
    // Paid: a second pre-checkout is refused, and expiry leaves it alone.
    assert_eq!(
        check_pre_checkout(db, &query(&invoice, 100), shop.now)
            .await
            .expect("check"),
        PreCheckout::NotAwaiting
    );
    let later = shop.now + TimeDelta::hours(1);
    assert!(
        expire_due(db, "gone", later)
            .await
            .expect("expire")
            .is_empty()
    );
    assert_eq!(stock_of(db, shop.green_small).await, stock - 2);
}

async fn check(
    db: &DatabaseConnection,
    query: PreCheckoutQuery<'_>,
    at: DateTime<Utc>,
) -> PreCheckout {
    check_pre_checkout(db, &query, at).await.expect("check")
}

#[tokio::test]
async fn pre_checkout_refuses_strangers_forgeries_changed_amounts_and_expired_orders() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let shop = Shop::new(db).await;
    let order = place_unpaid(db, &shop, Provider::Stars { stars_per_unit: 50 }).await;
    let invoice = invoice_of(db, order.id, Provider::Stars { stars_per_unit: 50 }, "EUR")
        .await
        .expect("q")
        .expect("invoice");
    assert_eq!(invoice.currency, STARS);
    assert_eq!(
        check(db, query(&invoice, 100), shop.now).await,
        PreCheckout::Approve
    );
    assert_eq!(
        check(db, query(&invoice, 999), shop.now).await,
        PreCheckout::NotYours
    );
    let forged = "0".repeat(32);
    let mut unknown = query(&invoice, 100);
    unknown.payload = &forged;
    assert_eq!(
        check(db, unknown.clone(), shop.now).await,
        PreCheckout::Unknown
    );
    unknown.payload = "1";
    assert_eq!(check(db, unknown, shop.now).await, PreCheckout::Unknown);
    let mut more = query(&invoice, 100);
    more.total_amount += 1;
    assert_eq!(check(db, more, shop.now).await, PreCheckout::Mismatch);
    let mut euros = query(&invoice, 100);
    euros.currency = "EUR";
    assert_eq!(check(db, euros, shop.now).await, PreCheckout::Mismatch);
    let late = shop.now + TimeDelta::minutes(31);
    assert_eq!(
        check(db, query(&invoice, 100), late).await,
        PreCheckout::Expired
    );
}

#[tokio::test]
async fn expiry_returns_stock_once_and_a_late_payment_is_kept_and_flagged() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let shop = Shop::new(db).await;
    let stock = stock_of(db, shop.green_small).await;
    let order = place_unpaid(db, &shop, Provider::Telegram).await;
    let invoice = invoice_of(db, order.id, Provider::Telegram, "EUR")
        .await
        .expect("q")
        .expect("invoice");
    // Not due yet.
    assert!(
        expire_due(db, "gone", shop.now)
            .await
            .expect("expire")
            .is_empty()
    );
    let later = shop.now + TimeDelta::minutes(31);
    assert_eq!(
        expire_due(db, "gone #{order}", later)
            .await
            .expect("expire"),
        vec![order.id]
    );
    assert!(
        expire_due(db, "gone", later)
            .await
            .expect("expire")
            .is_empty()
    );
    assert_eq!(stock_of(db, shop.green_small).await, stock);
    assert!(
        !cancel_unpaid(db, shop.shopper, order.id, later)
            .await
            .expect("cancel")
    );
    assert_eq!(stock_of(db, shop.green_small).await, stock);
    let recorded = record(db, &reported(&invoice, "ch-late"), &MESSAGES(), later)
        .await
        .expect("record");
    assert!(
        matches!(recorded, Recorded::New { late: true, .. }),
        "{recorded:?}"
    );
    let expired = order::Entity::find_by_id(order.id)
        .one(db)
        .await
        .expect("q")
        .expect("order");
    assert_eq!(expired.status, EXPIRED);
    let state = states(db, &[expired]).await.expect("states");
    assert_eq!(state[&order.id].state, "late");
    // The shopper heard of the expiry and of the late payment.
    let texts: Vec<String> = outbox_message::Entity::find()
        .all(db)
        .await
        .expect("outbox")
        .into_iter()
        .map(|message| message.text)
        .collect();
    assert_eq!(
        texts,
        [format!("gone #{}", order.id), format!("late #{}", order.id)]
    );
    // The merchant refunds it.
    let payment = refundable(db, order.id).await.expect("refundable");
    let refunded = record_refund(db, payment.id, later).await.expect("refund");
    assert_eq!(refunded.status, REFUNDED);
    assert!(refundable(db, order.id).await.is_err());
}

#[tokio::test]
async fn a_shopper_cancels_only_their_own_unpaid_order_and_its_stock_returns_once() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let shop = Shop::new(db).await;
    let stock = stock_of(db, shop.green_small).await;
    let order = place_unpaid(db, &shop, Provider::Telegram).await;
    let stranger = shop.demo.customers[0];
    assert!(
        !cancel_unpaid(db, stranger, order.id, shop.now)
            .await
            .expect("cancel")
    );
    assert_eq!(stock_of(db, shop.green_small).await, stock - 2);
    assert!(
        cancel_unpaid(db, shop.shopper, order.id, shop.now)
            .await
            .expect("cancel")
    );
    assert!(
        !cancel_unpaid(db, shop.shopper, order.id, shop.now)
            .await
            .expect("cancel")
    );
    assert_eq!(stock_of(db, shop.green_small).await, stock);
}

#[test]
fn stars_lines_round_each_line_up_to_a_whole_star() {
    let item = |unit_price, quantity, discount| order_item::Model {
        id: 1,
        order_id: 1,
        variant_id: None,
        product_id: None,
        sku: "S".into(),
        title: "Tea".into(),
        quantity,
        unit_price,
        discount,
    };
    let items = [item(450, 2, 90), item(1, 1, 0)];
    let (currency, lines) = invoice_lines(&items, Provider::Stars { stars_per_unit: 50 }, "EUR");
    assert_eq!(currency, "XTR");
    // 8.10 EUR × 50 = 405 Stars; 0.01 EUR × 50 = 0.5, rounded up to 1.
    assert_eq!(lines.iter().map(|l| l.amount).collect::<Vec<_>>(), [405, 1]);
    let (currency, lines) = invoice_lines(&items, Provider::Telegram, "EUR");
    assert_eq!(currency, "EUR");
    assert_eq!(lines.iter().map(|l| l.amount).collect::<Vec<_>>(), [810, 1]);
}
