//! Orders: placing one from the cart in a single transaction, and reading a shopper's history.
//!
//! Placing is idempotent: the caller supplies a key (the dialogue derives it from the token
//! on the Confirm button), the key is unique in the table, and a second attempt with the same
//! key returns the order the first one made. Stock is decremented only where enough remains;
//! otherwise nothing at all is written. Past orders are never changed here.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use storebot_entity::{customer, order, order_item, variant};

use crate::store::StoreError;
pub use crate::store::orders::cart::line_title;
use crate::store::orders::cart::{self, CartLine, LineStatus};
use crate::store::orders::coupons::{self, Refusal, Shopper};
use crate::store::orders::payments;
use crate::store::orders::quote::{self, Change, Quote};

/// Everything needed to turn a cart into an order.
#[derive(Debug, Clone)]
pub struct NewOrder<'a> {
    pub customer_id: i64,
    /// At most 64 characters; the same key never makes two orders.
    pub idempotency_key: &'a str,
    pub segments_in_force: &'a [i64],
    pub contact_phone: Option<String>,
    pub address: Option<String>,
    pub currency: &'a str,
    pub now: DateTime<Utc>,
    /// Coupon codes the shopper entered, in the order entered; each is re-checked and its use
    /// claimed inside the order's transaction.
    pub coupons: &'a [String],
    /// What the confirmation showed: the order is placed only if it comes out exactly so.
    pub confirmed: &'a Quote,
    /// Paid in the chat: the order waits in `awaiting_payment`, its stock held, with an
    /// invoice written in the same transaction. `None`: pay on delivery (`new`).
    pub payment: Option<payments::Terms>,
}

/// An order with its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderView {
    pub order: order::Model,
    pub items: Vec<order_item::Model>,
}

/// What an attempt to place an order came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// A new order; `left_out` are cart lines that could not be ordered (hidden or sold out)
    /// and stay in the cart.
    Placed {
        order: OrderView,
        left_out: Vec<CartLine>,
        /// The coupons applied, as `(code, discount)`.
        coupons: Vec<(String, i64)>,
    },
    /// The key had already made this order: nothing new was written.
    AlreadyPlaced(order::Model),
    /// No line of the cart can be ordered: nothing was written.
    NothingAvailable,
    /// Between the confirmation and now, stock ran short for these product titles: nothing
    /// was written.
    NotEnoughStock(Vec<String>),
    /// A coupon can no longer be used (expired, used up, or the shopper left its segment since
    /// the confirmation): nothing was written.
    CouponRefused { code: String, reason: Refusal },
    /// The order would differ from the confirmed quote (stock, a price, visibility, the cart,
    /// a coupon's discount): nothing was written.
    Changed(Vec<Change>),
}

/// Places the customer's cart as one order, in one write transaction, exactly as
/// `new.confirmed` quoted it: the available lines become order items at the quoted prices,
/// their stock is decremented, and they leave the cart. If anything would come out otherwise,
/// nothing is written and [`Placement::Changed`] says what differs.
///
/// Takes the connection itself rather than `impl ConnectionTrait` because it owns its
/// transaction: a duplicate key must roll everything back and then look the first order up.
pub async fn place(db: &DatabaseConnection, new: &NewOrder<'_>) -> Result<Placement, StoreError> {
    if let Some(existing) = find_by_key(db, new.idempotency_key).await? {
        return Ok(Placement::AlreadyPlaced(existing));
    }
    let txn = crate::store::begin_write(db).await?;
    match place_in(&txn, new).await {
        Ok(placement @ Placement::Placed { .. }) => match txn.commit().await {
            Ok(()) => Ok(placement),
            Err(error) => already_placed_or(db, new.idempotency_key, error.into()).await,
        },
        Ok(other) => {
            txn.rollback().await?;
            Ok(other)
        }
        Err(error) => {
            let _ = txn.rollback().await;
            already_placed_or(db, new.idempotency_key, error).await
        }
    }
}

/// A unique-key conflict means another attempt with the same key won the race.
async fn already_placed_or(
    db: &DatabaseConnection,
    key: &str,
    error: StoreError,
) -> Result<Placement, StoreError> {
    if matches!(error, StoreError::Conflict(_))
        && let Some(existing) = find_by_key(db, key).await?
    {
        return Ok(Placement::AlreadyPlaced(existing));
    }
    Err(error)
}

async fn place_in(txn: &impl ConnectionTrait, new: &NewOrder<'_>) -> Result<Placement, StoreError> {
    // One shopper's orders are placed one at a time. SQLite's write transaction already
    // serialises them; on PostgreSQL the shopper's row lock makes a second press of the same
    // confirmation (a double tap handled by another instance) wait for the first to commit,
    // so the key lookup below finds its order instead of the cart it emptied.
    customer::Entity::find_by_id(new.customer_id)
        .lock_exclusive()
        .one(txn)
        .await?;
    // Read inside the write transaction, so the stock seen is the stock decremented.
    if let Some(existing) = find_by_key(txn, new.idempotency_key).await? {
        return Ok(Placement::AlreadyPlaced(existing));
    }
    let lines = cart::lines(txn, new.customer_id, new.segments_in_force).await?;
    let (available, left_out): (Vec<CartLine>, Vec<CartLine>) = lines
        .into_iter()
        .partition(|line| line.status == LineStatus::Available);
    if available.is_empty() {
        // Say why the confirmed lines dropped out, if the confirmation had any.
        let changes = quote::changes(new.confirmed, &Quote::default(), &left_out);
        return Ok(if changes.is_empty() {
            Placement::NothingAvailable
        } else {
            Placement::Changed(changes)
        });
    }
    let shopper = Shopper {
        customer_id: new.customer_id,
        segments_in_force: new.segments_in_force,
        now: new.now,
    };
    let mut applied = Vec::new();
    for (code, verdict) in coupons::check_codes(txn, &shopper, new.coupons, &available).await? {
        match verdict {
            Ok(coupon) => applied.push(coupon),
            Err(reason) => return Ok(Placement::CouponRefused { code, reason }),
        }
    }
    // Read and checked before any claim or write: the order must be what was confirmed.
    let current = Quote::of(&available, &applied);
    if current != *new.confirmed {
        let lines: Vec<CartLine> = available.iter().chain(&left_out).cloned().collect();
        return Ok(Placement::Changed(quote::changes(
            new.confirmed,
            &current,
            &lines,
        )));
    }
    // The checks above read; these claims write, and only succeed below the limits. They go
    // in coupon id order, so two orders claiming the same coupons lock them in the same order
    // and never deadlock on PostgreSQL.
    let mut claim_order: Vec<&coupons::AppliedCoupon> = applied.iter().collect();
    claim_order.sort_by_key(|coupon| coupon.coupon.id);
    for coupon in claim_order {
        if let Err(reason) = coupons::claim(txn, &coupon.coupon, new.customer_id).await? {
            return Ok(Placement::CouponRefused {
                code: coupon.coupon.code.clone(),
                reason,
            });
        }
    }
    let mut line_discounts: BTreeMap<i64, i64> = BTreeMap::new();
    for coupon in &applied {
        for &(variant_id, amount) in &coupon.lines {
            let entry = line_discounts.entry(variant_id).or_default();
            *entry = entry.saturating_add(amount);
        }
    }
    let discount_total = quote::discount_total(&applied);
    let placed = order::ActiveModel {
        customer_id: Set(new.customer_id),
        status: Set(match new.payment {
            Some(_) => payments::AWAITING_PAYMENT,
            None => "new",
        }
        .to_owned()),
        // What the shopper pays: the discount is already taken off.
        total: Set(current.total),
        discount_total: Set(discount_total),
        currency: Set(new.currency.to_owned()),
        placed_at: Set(new.now),
        contact_phone: Set(new.contact_phone.clone()),
        address: Set(new.address.clone()),
        idempotency_key: Set(new.idempotency_key.to_owned()),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    let mut short = Vec::new();
    let mut items = Vec::with_capacity(available.len());
    for line in &available {
        // Conditional decrement: it only touches the row while enough stock remains, which
        // holds even if another instance decremented it a moment ago.
        let updated = variant::Entity::update_many()
            .col_expr(
                variant::Column::Stock,
                Expr::col(variant::Column::Stock).sub(line.quantity),
            )
            .filter(variant::Column::Id.eq(line.variant.id))
            .filter(variant::Column::Stock.gte(line.quantity))
            .exec(txn)
            .await?;
        if updated.rows_affected == 0 {
            short.push(line.product.title.clone());
            continue;
        }
        items.push(
            order_item::ActiveModel {
                order_id: Set(placed.id),
                variant_id: Set(Some(line.variant.id)),
                product_id: Set(Some(line.product.id)),
                sku: Set(line.variant.sku.clone()),
                title: Set(line_title(line)),
                quantity: Set(line.quantity),
                unit_price: Set(line.variant.price),
                discount: Set(line_discounts.get(&line.variant.id).copied().unwrap_or(0)),
                ..Default::default()
            }
            .insert(txn)
            .await?,
        );
    }
    if !short.is_empty() {
        return Ok(Placement::NotEnoughStock(short));
    }
    let item_of_variant: BTreeMap<i64, i64> = items
        .iter()
        .filter_map(|item| item.variant_id.map(|variant| (variant, item.id)))
        .collect();
    for coupon in &applied {
        coupons::record(
            txn,
            placed.id,
            new.customer_id,
            coupon,
            &item_of_variant,
            new.now,
        )
        .await?;
    }
    if let Some(terms) = &new.payment {
        payments::open(txn, &placed, &items, terms, new.currency).await?;
    }
    let bought: Vec<i64> = available.iter().map(|line| line.variant.id).collect();
    cart::remove_variants(txn, new.customer_id, &bought).await?;
    // Offered at the next checkout (until the shopper forgets them in /profile), saved with
    // the order: a failure here fails the order rather than a placed one reported as failed.
    crate::store::shoppers::customers::save_details(
        txn,
        new.customer_id,
        new.contact_phone.as_deref(),
        new.address.as_deref(),
    )
    .await?;
    Ok(Placement::Placed {
        order: OrderView {
            order: placed,
            items,
        },
        left_out,
        coupons: applied
            .iter()
            .map(|coupon| (coupon.coupon.code.clone(), coupon.total))
            .collect(),
    })
}

/// The order a key made, if any.
pub async fn find_by_key(
    db: &impl ConnectionTrait,
    key: &str,
) -> Result<Option<order::Model>, StoreError> {
    Ok(order::Entity::find()
        .filter(order::Column::IdempotencyKey.eq(key))
        .one(db)
        .await?)
}

/// A page of the customer's orders, newest first, with their lines, and how many there are.
pub async fn for_customer(
    db: &impl ConnectionTrait,
    customer_id: i64,
    offset: u64,
    limit: u64,
) -> Result<(Vec<OrderView>, u64), StoreError> {
    let count = order::Entity::find()
        .filter(order::Column::CustomerId.eq(customer_id))
        .count(db)
        .await?;
    let orders = order::Entity::find()
        .filter(order::Column::CustomerId.eq(customer_id))
        .order_by_desc(order::Column::PlacedAt)
        .order_by_desc(order::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    let ids: Vec<i64> = orders.iter().map(|o| o.id).collect();
    let mut items = order_item::Entity::find()
        .filter(order_item::Column::OrderId.is_in(ids))
        .order_by_asc(order_item::Column::Id)
        .all(db)
        .await?;
    let views = orders
        .into_iter()
        .map(|order| {
            let (mine, rest) = items
                .drain(..)
                .partition(|item: &order_item::Model| item.order_id == order.id);
            items = rest;
            OrderView { order, items: mine }
        })
        .collect();
    Ok((views, count))
}

/// One of the customer's own orders with its lines; `None` for another shopper's order.
pub async fn of_customer(
    db: &impl ConnectionTrait,
    customer_id: i64,
    order_id: i64,
) -> Result<Option<OrderView>, StoreError> {
    let Some(order) = order::Entity::find_by_id(order_id)
        .filter(order::Column::CustomerId.eq(customer_id))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let items = order_item::Entity::find()
        .filter(order_item::Column::OrderId.eq(order_id))
        .order_by_asc(order_item::Column::Id)
        .all(db)
        .await?;
    Ok(Some(OrderView { order, items }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::operations::demo::fixtures::Shop;
    use crate::testing::TestDb;

    fn order<'a>(shop: &'a Shop, key: &'a str, confirmed: &'a Quote) -> NewOrder<'a> {
        NewOrder {
            customer_id: shop.shopper,
            idempotency_key: key,
            segments_in_force: &[],
            contact_phone: Some("+100".into()),
            address: None,
            currency: "EUR",
            now: shop.now,
            coupons: &[],
            confirmed,
            payment: None,
        }
    }

    /// The quote a confirmation would show the demo shopper now (no coupons, no segments).
    async fn confirmed_now(db: &DatabaseConnection, shop: &Shop) -> Quote {
        let shopper = Shopper {
            customer_id: shop.shopper,
            segments_in_force: &[],
            now: shop.now,
        };
        quote::quote(db, &shopper, &[]).await.expect("quote").quote
    }

    async fn stock_of(db: &DatabaseConnection, variant: i64) -> i32 {
        variant::Entity::find_by_id(variant)
            .one(db)
            .await
            .expect("q")
            .expect("variant")
            .stock
    }

    async fn set_variant(
        db: &DatabaseConnection,
        variant: i64,
        column: variant::Column,
        value: impl Into<sea_orm::Value>,
    ) {
        variant::Entity::update_many()
            .col_expr(column, Expr::value(value))
            .filter(variant::Column::Id.eq(variant))
            .exec(db)
            .await
            .expect("variant update");
    }

    /// Places `key` against `confirmed` and checks that it was refused as `expected` with
    /// nothing written: no order, the stock and the cart as they were.
    async fn assert_refused_as(
        db: &DatabaseConnection,
        shop: &Shop,
        key: &str,
        confirmed: &Quote,
        expected: Vec<Change>,
    ) {
        let stock = stock_of(db, shop.green_small).await;
        let cart_before = cart::lines(db, shop.shopper, &[]).await.expect("cart");
        let result = place(db, &order(shop, key, confirmed))
            .await
            .expect("placed");
        assert_eq!(result, Placement::Changed(expected));
        assert!(find_by_key(db, key).await.expect("q").is_none());
        assert_eq!(stock_of(db, shop.green_small).await, stock);
        assert_eq!(
            cart::lines(db, shop.shopper, &[]).await.expect("cart"),
            cart_before
        );
    }

    #[tokio::test]
    async fn lowered_stock_between_confirmation_and_confirm_places_nothing_and_says_how_many_left()
    {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        let shop = Shop::new(db).await;
        cart::set_quantity(db, shop.shopper, shop.green_small, 2, shop.now)
            .await
            .expect("cart");
        cart::set_quantity(db, shop.shopper, shop.demo.oolong_open, 1, shop.now)
            .await
            .expect("cart");
        let confirmed = confirmed_now(db, &shop).await;
        set_variant(db, shop.green_small, variant::Column::Stock, 1).await;
        let title = confirmed
            .lines
            .iter()
            .find(|line| line.variant_id == shop.green_small)
            .expect("the confirmed line")
            .title
            .clone();
        assert_refused_as(
            db,
            &shop,
            "pin-stock",
            &confirmed,
            vec![Change::Unavailable {
                title,
                left: Some(1),
            }],
        )
        .await;
        // Confirmed again as things are now, it places exactly that.
        let again = confirmed_now(db, &shop).await;
        let result = place(db, &order(&shop, "pin-stock-2", &again))
            .await
            .expect("placed");
        let Placement::Placed { order: placed, .. } = result else {
            panic!("expected a new order, got {result:?}");
        };
        assert_eq!(placed.order.total, again.total);
        assert_eq!(placed.items.len(), 1);
    }

    #[tokio::test]
    async fn a_price_raised_or_lowered_after_the_confirmation_places_nothing() {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        let shop = Shop::new(db).await;
        cart::set_quantity(db, shop.shopper, shop.green_small, 2, shop.now)
            .await
            .expect("cart");
        let confirmed = confirmed_now(db, &shop).await;
        let title = confirmed.lines[0].title.clone();
        for (key, price) in [("pin-up", 500_i64), ("pin-down", 400)] {
            set_variant(db, shop.green_small, variant::Column::Price, price).await;
            assert_refused_as(
                db,
                &shop,
                key,
                &confirmed,
                vec![Change::Price {
                    title: title.clone(),
                    unit_price: price,
                }],
            )
            .await;
        }
    }

    #[tokio::test]
    async fn a_line_hidden_after_the_confirmation_places_nothing() {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        let shop = Shop::new(db).await;
        cart::set_quantity(db, shop.shopper, shop.green_small, 1, shop.now)
            .await
            .expect("cart");
        let confirmed = confirmed_now(db, &shop).await;
        set_variant(db, shop.green_small, variant::Column::Active, false).await;
        let title = confirmed.lines[0].title.clone();
        assert_refused_as(
            db,
            &shop,
            "pin-hidden",
            &confirmed,
            vec![Change::Unavailable { title, left: None }],
        )
        .await;
    }

    #[tokio::test]
    async fn same_key_makes_one_order_and_stock_moves_once() {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        let shop = Shop::new(db).await;
        cart::set_quantity(db, shop.shopper, shop.green_small, 2, shop.now)
            .await
            .expect("cart");
        let confirmed = confirmed_now(db, &shop).await;
        let first = place(db, &order(&shop, "k1", &confirmed))
            .await
            .expect("placed");
        let Placement::Placed { order: placed, .. } = first else {
            panic!("expected a new order, got {first:?}");
        };
        assert_eq!(placed.order.total, 2 * 450);
        assert_eq!(placed.items.len(), 1);
        // The checkout's phone is saved with the order, in its transaction.
        let shopper = customer::Entity::find_by_id(shop.shopper)
            .one(db)
            .await
            .expect("q")
            .expect("shopper");
        assert_eq!(shopper.saved_phone.as_deref(), Some("+100"));
        let again = place(db, &order(&shop, "k1", &confirmed))
            .await
            .expect("second");
        assert_eq!(again, Placement::AlreadyPlaced(placed.order.clone()));
        let stock = variant::Entity::find_by_id(shop.green_small)
            .one(db)
            .await
            .expect("q")
            .expect("variant")
            .stock;
        assert_eq!(stock, 10 - 2);
        assert!(
            cart::lines(db, shop.shopper, &[])
                .await
                .expect("cart")
                .is_empty()
        );
    }

    #[tokio::test]
    async fn short_stock_writes_nothing() {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        let shop = Shop::new(db).await;
        cart::set_quantity(db, shop.shopper, shop.green_small, 3, shop.now)
            .await
            .expect("cart");
        // Another shopper bought most of it after this cart was filled.
        variant::Entity::update_many()
            .col_expr(variant::Column::Stock, Expr::value(1))
            .filter(variant::Column::Id.eq(shop.green_small))
            .exec(db)
            .await
            .expect("stock");
        let lines = cart::lines(db, shop.shopper, &[]).await.expect("cart");
        assert_eq!(lines[0].status, LineStatus::OutOfStock);
        let confirmed = confirmed_now(db, &shop).await;
        let result = place(db, &order(&shop, "k2", &confirmed))
            .await
            .expect("placed");
        assert_eq!(result, Placement::NothingAvailable);
        assert!(find_by_key(db, "k2").await.expect("q").is_none());
        let (orders, count) = for_customer(db, shop.shopper, 0, 10).await.expect("orders");
        assert!(orders.is_empty());
        assert_eq!(count, 0);
    }

    #[tokio::test]
    async fn hidden_lines_are_left_out_and_stay_in_the_cart() {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        let shop = Shop::new(db).await;
        cart::set_quantity(db, shop.shopper, shop.green_small, 1, shop.now)
            .await
            .expect("cart");
        cart::set_quantity(db, shop.shopper, shop.reserve_vip, 1, shop.now)
            .await
            .expect("cart");
        let confirmed = confirmed_now(db, &shop).await;
        let result = place(db, &order(&shop, "k3", &confirmed))
            .await
            .expect("placed");
        let Placement::Placed {
            order: placed,
            left_out,
            ..
        } = result
        else {
            panic!("expected a new order, got {result:?}");
        };
        assert_eq!(placed.items.len(), 1);
        assert_eq!(left_out.len(), 1);
        assert_eq!(left_out[0].status, LineStatus::Hidden);
        let remaining = cart::lines(db, shop.shopper, &[]).await.expect("cart");
        assert_eq!(remaining.len(), 1);
        assert_eq!(remaining[0].variant.id, shop.reserve_vip);
        let mine = of_customer(db, shop.shopper, placed.order.id)
            .await
            .expect("q");
        assert_eq!(mine, Some(placed.clone()));
        assert!(
            of_customer(db, shop.shopper + 1000, placed.order.id)
                .await
                .expect("q")
                .is_none()
        );
    }
}
