//! Shopping carts: one row per customer and variant, with its quantity.
//!
//! The cart keeps what the shopper put in even when a variant later becomes hidden or sold
//! out; [`lines`] marks such lines so that checkout leaves them out. This file never checks
//! visibility when writing: the dialogue re-checks it on every press before calling in.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, RelationDef,
};
use storebot_entity::{cart_item, product, variant};

use crate::store::StoreError;
use crate::store::catalog::browse::visible_to;

/// Whether a cart line can be ordered now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineStatus {
    Available,
    /// The shopper may no longer see the variant (inactive, or restricted to other segments).
    Hidden,
    /// Fewer items are in stock than the line asks for.
    OutOfStock,
}

/// A cart line with the variant and product it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartLine {
    pub variant: variant::Model,
    pub product: product::Model,
    pub quantity: i32,
    pub status: LineStatus,
}

impl CartLine {
    pub fn total(&self) -> i64 {
        self.variant.price.saturating_mul(i64::from(self.quantity))
    }
}

/// "Product, variant" as an order line and a cart line show it.
pub fn line_title(line: &CartLine) -> String {
    if line.variant.title.is_empty() {
        line.product.title.clone()
    } else {
        format!("{}, {}", line.product.title, line.variant.title)
    }
}

fn variant_to_product() -> RelationDef {
    variant::Entity::belongs_to(product::Entity)
        .from(variant::Column::ProductId)
        .to(product::Column::Id)
        .into()
}

/// The customer's cart in the order the lines were added, each marked available, hidden or
/// out of stock for a shopper in `segments_in_force`.
pub async fn lines(
    db: &impl ConnectionTrait,
    customer_id: i64,
    segments_in_force: &[i64],
) -> Result<Vec<CartLine>, StoreError> {
    let items = cart_item::Entity::find()
        .filter(cart_item::Column::CustomerId.eq(customer_id))
        .order_by_asc(cart_item::Column::AddedAt)
        .order_by_asc(cart_item::Column::VariantId)
        .all(db)
        .await?;
    let variant_ids: Vec<i64> = items.iter().map(|item| item.variant_id).collect();
    let rows = variant::Entity::find()
        .select_also(product::Entity)
        .join(JoinType::InnerJoin, variant_to_product())
        .filter(variant::Column::Id.is_in(variant_ids.clone()))
        .all(db)
        .await?;
    let visible: BTreeSet<i64> = variant::Entity::find()
        .select_only()
        .column(variant::Column::Id)
        .join(JoinType::InnerJoin, variant_to_product())
        .filter(variant::Column::Id.is_in(variant_ids))
        .filter(visible_to(segments_in_force))
        .into_tuple::<i64>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let mut lines = Vec::with_capacity(items.len());
    for item in items {
        let Some((variant, Some(product))) = rows
            .iter()
            .find(|(variant, _)| variant.id == item.variant_id)
            .cloned()
        else {
            continue;
        };
        let status = if !visible.contains(&variant.id) {
            LineStatus::Hidden
        } else if variant.stock < item.quantity {
            LineStatus::OutOfStock
        } else {
            LineStatus::Available
        };
        lines.push(CartLine {
            variant,
            product,
            quantity: item.quantity,
            status,
        });
    }
    Ok(lines)
}

/// How many of a variant the customer has in the cart (0 when none).
pub async fn quantity_of(
    db: &impl ConnectionTrait,
    customer_id: i64,
    variant_id: i64,
) -> Result<i32, StoreError> {
    Ok(cart_item::Entity::find_by_id((customer_id, variant_id))
        .one(db)
        .await?
        .map_or(0, |item| item.quantity))
}

/// Sets the quantity of a variant in the cart; 0 or less removes the line. A new line is
/// stamped `now`, an existing one keeps its place.
pub async fn set_quantity(
    db: &impl ConnectionTrait,
    customer_id: i64,
    variant_id: i64,
    quantity: i32,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if quantity <= 0 {
        cart_item::Entity::delete_by_id((customer_id, variant_id))
            .exec(db)
            .await?;
        return Ok(());
    }
    cart_item::Entity::insert(line(customer_id, variant_id, quantity, now))
        .on_conflict(
            same_line()
                .update_column(cart_item::Column::Quantity)
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// A new cart line, stamped `now`.
fn line(
    customer_id: i64,
    variant_id: i64,
    quantity: i32,
    now: DateTime<Utc>,
) -> cart_item::ActiveModel {
    cart_item::ActiveModel {
        customer_id: Set(customer_id),
        variant_id: Set(variant_id),
        quantity: Set(quantity),
        added_at: Set(now),
    }
}

/// An insert's conflict with the customer's line for the same variant.
fn same_line() -> OnConflict {
    OnConflict::columns([cart_item::Column::CustomerId, cart_item::Column::VariantId])
}

/// Adds `quantity` of a variant to the cart unless the line would then hold more than
/// `stock`, in one statement (an upsert whose update is conditional on the new total);
/// returns the line's new quantity, or `None` when the stock doesn't cover it, which changes
/// nothing. A new line is stamped `now`.
pub async fn add_within_stock(
    db: &impl ConnectionTrait,
    customer_id: i64,
    variant_id: i64,
    quantity: i32,
    stock: i32,
    now: DateTime<Utc>,
) -> Result<Option<i32>, StoreError> {
    if quantity <= 0 || quantity > stock {
        return Ok(None);
    }
    let total = Expr::col((cart_item::Entity, cart_item::Column::Quantity)).add(Expr::col((
        Alias::new("excluded"),
        cart_item::Column::Quantity,
    )));
    let mut upsert = cart_item::Entity::insert(line(customer_id, variant_id, quantity, now))
        .on_conflict(
            same_line()
                .value(cart_item::Column::Quantity, total.clone())
                .action_and_where(total.lte(stock))
                .to_owned(),
        )
        .into_query();
    upsert.returning_col(cart_item::Column::Quantity);
    let Some(row) = db.query_one(&upsert).await? else {
        return Ok(None);
    };
    Ok(Some(row.try_get_by_index(0)?))
}

/// Removes the given variants from the cart (what an order just bought).
pub async fn remove_variants(
    db: &impl ConnectionTrait,
    customer_id: i64,
    variant_ids: &[i64],
) -> Result<(), StoreError> {
    cart_item::Entity::delete_many()
        .filter(cart_item::Column::CustomerId.eq(customer_id))
        .filter(cart_item::Column::VariantId.is_in(variant_ids.to_vec()))
        .exec(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::operations::demo::fixtures::Shop;
    use crate::testing::TestDb;
    use chrono::Duration;

    #[tokio::test]
    async fn lines_keep_their_order_and_are_marked_by_visibility_and_stock() {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        let shop = Shop::new(db).await;
        let later = shop.now + Duration::minutes(5);
        set_quantity(db, shop.shopper, shop.reserve_vip, 1, shop.now)
            .await
            .expect("hidden line");
        set_quantity(db, shop.shopper, shop.green_small, 2, later)
            .await
            .expect("line");
        set_quantity(db, shop.shopper, shop.demo.green_large, 1, later)
            .await
            .expect("sold-out line");
        // Changing a quantity keeps the line where it was.
        set_quantity(db, shop.shopper, shop.reserve_vip, 3, later)
            .await
            .expect("update");
        let guest: Vec<(i64, i32, LineStatus)> = lines(db, shop.shopper, &[])
            .await
            .expect("lines")
            .into_iter()
            .map(|line| (line.variant.id, line.quantity, line.status))
            .collect();
        assert_eq!(
            guest,
            [
                (shop.reserve_vip, 3, LineStatus::Hidden),
                (shop.green_small, 2, LineStatus::Available),
                (shop.demo.green_large, 1, LineStatus::OutOfStock),
            ]
        );
        let vip = lines(db, shop.shopper, &[shop.demo.vip])
            .await
            .expect("lines");
        // A VIP may see it, and 3 of the 3 in stock can be ordered; a fourth can't.
        assert_eq!(vip[0].status, LineStatus::Available);
        set_quantity(db, shop.shopper, shop.reserve_vip, 4, later)
            .await
            .expect("update");
        let vip = lines(db, shop.shopper, &[shop.demo.vip])
            .await
            .expect("lines");
        assert_eq!(vip[0].status, LineStatus::OutOfStock);
        set_quantity(db, shop.shopper, shop.green_small, 0, later)
            .await
            .expect("remove");
        assert_eq!(
            quantity_of(db, shop.shopper, shop.green_small)
                .await
                .expect("q"),
            0
        );
        assert_eq!(
            quantity_of(db, shop.shopper, shop.reserve_vip)
                .await
                .expect("q"),
            4
        );
    }

    #[tokio::test]
    async fn an_add_within_stock_adds_up_and_one_beyond_it_changes_nothing() {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        let shop = Shop::new(db).await;
        let later = shop.now + Duration::minutes(5);
        let (customer, variant) = (shop.shopper, shop.green_small);
        let add =
            |quantity, stock, at| add_within_stock(db, customer, variant, quantity, stock, at);
        assert_eq!(add(2, 5, shop.now).await.expect("new line"), Some(2));
        assert_eq!(add(3, 5, later).await.expect("to the line"), Some(5));
        // One more than the stock left: refused, the line as it was.
        assert_eq!(add(1, 5, later).await.expect("refused"), None);
        assert_eq!(add(6, 5, later).await.expect("refused"), None);
        assert_eq!(add(0, 5, later).await.expect("refused"), None);
        let line = cart_item::Entity::find_by_id((customer, variant))
            .one(db)
            .await
            .expect("q")
            .expect("line");
        assert_eq!((line.quantity, line.added_at), (5, shop.now));
        // A new line beyond the stock is not made at all.
        assert_eq!(
            add_within_stock(db, customer, shop.demo.green_large, 2, 1, later)
                .await
                .expect("refused"),
            None
        );
        assert_eq!(
            quantity_of(db, customer, shop.demo.green_large)
                .await
                .expect("q"),
            0
        );
    }
}
