//! An order's status, and the one function that changes it: the admin tool's `orders
//! status`, the merchant's buttons in their chat, a shopper's own cancellation (and payments)
//! all go through [`change_status`] or [`cancel_own`], so the rules below hold everywhere.
//!
//! Moves: `new` → `paid`, `shipped`, `cancelled`; `paid` → `shipped`, `cancelled`;
//! `shipped` → `delivered`; `delivered` and `cancelled` are final. A change to the status the
//! order already has is no change: nothing is written and nothing queued. Cancelling an order
//! whose goods have not left (`new`, `paid`) puts its stock back, once: the status update is
//! conditional on the status read, so of two changes at once only one happens.
//!
//! The shopper's message is queued through the outbox in the same transaction, as a service
//! message keyed `order:<id>:<status>`. Its wording is not chosen here (`store` knows no
//! texts): the caller passes a function that writes it from [`StatusNews`], usually
//! `conversation::order_news::status_message`, and may return `None` to send nothing.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionSession, TransactionTrait,
};
use storebot_entity::{customer, order, order_item};

use super::place::OrderView;
use crate::store::messaging::outbox;
use crate::store::orders::stock::return_stock;
use crate::store::{StoreError, begin_write};

pub const NEW: &str = "new";
pub const PAID: &str = "paid";
pub const SHIPPED: &str = "shipped";
pub const DELIVERED: &str = "delivered";
pub const CANCELLED: &str = "cancelled";

/// Statuses of orders still waiting for the merchant: the merchant chat's `/orders`.
pub const OPEN: [&str; 2] = [NEW, PAID];

/// The statuses an order in status `from` may move to, in the order buttons show them.
pub fn moves_from(from: &str) -> &'static [&'static str] {
    match from {
        NEW => &[PAID, SHIPPED, CANCELLED],
        PAID => &[SHIPPED, CANCELLED],
        SHIPPED => &[DELIVERED],
        _ => &[],
    }
}

/// Whether cancelling from `from` puts the goods back on sale: they have not left the shop.
fn cancel_returns_stock(from: &str) -> bool {
    matches!(from, NEW | PAID)
}

/// Imported history never took stock (`management::import`), so cancelling it returns none.
fn took_stock(order: &order::Model) -> bool {
    !order.idempotency_key.starts_with("import:")
}

/// What the message function gets: the order as it is after the change, its items, and the
/// shopper's language (for choosing the wording).
#[derive(Debug, Clone, Copy)]
pub struct StatusNews<'a> {
    pub order: &'a order::Model,
    pub items: &'a [order_item::Model],
    pub language_code: Option<&'a str>,
}

/// What a status change came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusChange {
    /// The status moved from `from`; `view` is the order after the change.
    Changed {
        view: OrderView,
        from: String,
        stock_returned: bool,
        message_queued: bool,
    },
    /// The order already had that status: nothing was written.
    Unchanged { view: OrderView },
    /// That move is not allowed from the order's current status (a stale button, or a second
    /// merchant who was quicker): nothing was written.
    NotAllowed { view: OrderView, to: String },
}

impl StatusChange {
    /// The order as it is now.
    pub fn view(&self) -> &OrderView {
        match self {
            Self::Changed { view, .. }
            | Self::Unchanged { view }
            | Self::NotAllowed { view, .. } => view,
        }
    }

    /// A refused move as the merchant's sentence; other outcomes as they are.
    pub fn refused_as_error(self) -> Result<Self, StoreError> {
        match self {
            Self::NotAllowed { view, to } => {
                let from = &view.order.status;
                let allowed = moves_from(from);
                let hint = if allowed.is_empty() {
                    format!("`{from}` is final")
                } else {
                    format!("from `{from}` it may become {}", allowed.join(", "))
                };
                Err(StoreError::Invalid(format!(
                    "order {} is `{from}` and can't become `{to}`: {hint}",
                    view.order.id
                )))
            }
            other => Ok(other),
        }
    }
}

/// The message function's type: the filled text for the shopper, or `None` for no message.
pub trait StatusMessage: Fn(&StatusNews<'_>) -> Option<String> + Sync {}
impl<F: Fn(&StatusNews<'_>) -> Option<String> + Sync> StatusMessage for F {}

/// Moves order `order_id` to status `to` inside the caller's transaction (open it with
/// [`begin_write`]; [`set_status`] does that for a single change). `message` writes the
/// shopper's update; it is queued as a service message iff the status changed.
///
/// Errors: an unknown status ([`StoreError::Invalid`]), a missing order
/// ([`StoreError::NotFound`]). A move the rules don't allow is `Ok(NotAllowed)`, so that a
/// caller inside a larger transaction decides what it means.
pub async fn change_status(
    db: &impl ConnectionTrait,
    order_id: i64,
    to: &str,
    message: &impl StatusMessage,
    now: DateTime<Utc>,
) -> Result<StatusChange, StoreError> {
    check_status(to)?;
    change(db, order_id, to, None, message, now)
        .await?
        .ok_or_else(|| StoreError::not_found("order", order_id))
}

/// [`change_status`] in a transaction of its own.
pub async fn set_status<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    order_id: i64,
    to: &str,
    message: &impl StatusMessage,
    now: DateTime<Utc>,
) -> Result<StatusChange, StoreError> {
    let txn = begin_write(db).await?;
    let change = change_status(&txn, order_id, to, message, now).await?;
    txn.commit().await?;
    Ok(change)
}

/// A shopper cancels their own order, allowed only while it is `new`, in a transaction of its
/// own. `None` when the order is not theirs (or does not exist): nothing is said about it.
pub async fn cancel_own<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    customer_id: i64,
    order_id: i64,
    message: &impl StatusMessage,
    now: DateTime<Utc>,
) -> Result<Option<StatusChange>, StoreError> {
    let txn = begin_write(db).await?;
    let change = change(&txn, order_id, CANCELLED, Some(customer_id), message, now).await?;
    txn.commit().await?;
    Ok(change)
}

async fn change(
    db: &impl ConnectionTrait,
    order_id: i64,
    to: &str,
    own: Option<i64>,
    message: &impl StatusMessage,
    now: DateTime<Utc>,
) -> Result<Option<StatusChange>, StoreError> {
    let mut query = order::Entity::find_by_id(order_id);
    if let Some(customer_id) = own {
        query = query.filter(order::Column::CustomerId.eq(customer_id));
    }
    let Some(current) = query.one(db).await? else {
        return Ok(None);
    };
    let items = items_of(db, order_id).await?;
    if current.status == to {
        let view = OrderView {
            order: current,
            items,
        };
        return Ok(Some(StatusChange::Unchanged { view }));
    }
    // A shopper may only take back an order nobody has acted on yet.
    let allowed = match own {
        Some(_) => current.status == NEW,
        None => moves_from(&current.status).contains(&to),
    };
    if !allowed {
        let view = OrderView {
            order: current,
            items,
        };
        let to = to.to_owned();
        return Ok(Some(StatusChange::NotAllowed { view, to }));
    }
    // Conditional on the status read: of two changes racing (two merchants, a merchant and
    // the shopper), the second finds the row changed, updates nothing, and is judged again
    // against what the first left.
    let updated = order::Entity::update_many()
        .col_expr(order::Column::Status, Expr::value(to))
        .filter(order::Column::Id.eq(order_id))
        .filter(order::Column::Status.eq(current.status.as_str()))
        .exec(db)
        .await?;
    if updated.rows_affected == 0 {
        let Some(now_is) = order::Entity::find_by_id(order_id).one(db).await? else {
            return Ok(None);
        };
        let view = OrderView {
            order: now_is,
            items,
        };
        return Ok(Some(if view.order.status == to {
            StatusChange::Unchanged { view }
        } else {
            StatusChange::NotAllowed {
                view,
                to: to.to_owned(),
            }
        }));
    }
    let from = current.status.clone();
    let order = order::Model {
        status: to.to_owned(),
        ..current
    };
    let stock_returned = to == CANCELLED && cancel_returns_stock(&from) && took_stock(&order);
    if stock_returned {
        return_stock(db, &items).await?;
    }
    let language_code: Option<Option<String>> = customer::Entity::find_by_id(order.customer_id)
        .select_only()
        .column(customer::Column::LanguageCode)
        .into_tuple()
        .one(db)
        .await?;
    let language_code = language_code.flatten();
    let news = StatusNews {
        order: &order,
        items: &items,
        language_code: language_code.as_deref(),
    };
    let message_queued = match message(&news) {
        Some(text) => {
            let key = format!("order:{}:{}", order.id, to);
            outbox::enqueue_service(db, order.customer_id, &key, &text, now).await?
        }
        None => false,
    };
    Ok(Some(StatusChange::Changed {
        view: OrderView { order, items },
        from,
        stock_returned,
        message_queued,
    }))
}

/// One order with its items; `None` if there is no such order.
pub async fn order_view(
    db: &impl ConnectionTrait,
    order_id: i64,
) -> Result<Option<OrderView>, StoreError> {
    let Some(order) = order::Entity::find_by_id(order_id).one(db).await? else {
        return Ok(None);
    };
    let items = items_of(db, order_id).await?;
    Ok(Some(OrderView { order, items }))
}

/// A page of the orders waiting for the merchant ([`OPEN`]), oldest first so that the
/// longest waiting come first, and how many there are.
pub async fn open_orders(
    db: &impl ConnectionTrait,
    offset: u64,
    limit: u64,
) -> Result<(Vec<OrderView>, u64), StoreError> {
    let open = || order::Entity::find().filter(order::Column::Status.is_in(OPEN));
    let count = open().count(db).await?;
    let orders = open()
        .order_by_asc(order::Column::PlacedAt)
        .order_by_asc(order::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    let mut views = Vec::with_capacity(orders.len());
    for order in orders {
        let items = items_of(db, order.id).await?;
        views.push(OrderView { order, items });
    }
    Ok((views, count))
}

async fn items_of(
    db: &impl ConnectionTrait,
    order_id: i64,
) -> Result<Vec<order_item::Model>, StoreError> {
    Ok(order_item::Entity::find()
        .filter(order_item::Column::OrderId.eq(order_id))
        .order_by_asc(order_item::Column::Id)
        .all(db)
        .await?)
}

/// Every status an order can have.
pub const ORDER_STATUSES: [&str; 5] = [NEW, PAID, SHIPPED, DELIVERED, CANCELLED];

pub(crate) fn check_status(status: &str) -> Result<(), StoreError> {
    if ORDER_STATUSES.contains(&status) {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "order status `{status}` is unknown: use one of {}",
            ORDER_STATUSES.join(", ")
        )))
    }
}

#[cfg(test)]
mod tests;
