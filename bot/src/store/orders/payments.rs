//! Payments in the chat: the invoice of an order awaiting payment, the pre-checkout check,
//! recording what Telegram reports as paid, expiry, the shopper's cancel, and refunds.
//!
//! Money is never lost and never counted twice: a payment is one row unique on Telegram's
//! charge id, written with the order's move to `paid` and the shopper's outbox message in one
//! transaction, so a redelivered payment records nothing new. An order leaves
//! `awaiting_payment` only by a conditional update (`WHERE status = 'awaiting_payment'`), so
//! of two instances (or the expiry job and a payment) exactly one moves it, and stock returns
//! once. This module never talks to Telegram and never reads the clock: `now` is a parameter.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::Serialize;
use storebot_entity::{customer, invoice, order, order_item, payment};

use crate::store::bulk::in_chunks;
use crate::store::messaging::outbox;
use crate::store::orders::stock::return_stock;
use crate::store::{StoreError, begin_write};

/// The statuses of an order paid in the chat (`paid` and `cancelled` spelt as in `status`,
/// which imports this module's neighbours and so can't be imported here).
pub const AWAITING_PAYMENT: &str = "awaiting_payment";
pub const PAID: &str = "paid";
pub const CANCELLED: &str = "cancelled";
pub const EXPIRED: &str = "expired";
pub const REFUNDED: &str = "refunded";

/// The statuses only this module sets; the merchant may list them, not set them by hand.
pub const PAYMENT_STATUSES: [&str; 3] = [AWAITING_PAYMENT, EXPIRED, REFUNDED];

/// Telegram Stars' currency code.
pub const STARS: &str = "XTR";

/// Telegram allows 128 bytes of payload; ours is 32 hex digits of randomness, never the id.
const PAYLOAD_BYTES: usize = 16;

/// How many due orders one expiry pass takes; the next pass takes the rest.
const EXPIRY_BATCH: u64 = 100;

/// Who takes the money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// Telegram Payments through the merchant's provider, in the store's currency.
    Telegram,
    /// Telegram Stars: each line converted at `stars_per_unit` Stars for one major unit.
    Stars { stars_per_unit: u32 },
}

impl Provider {
    fn name(self) -> &'static str {
        match self {
            Self::Telegram => "telegram",
            Self::Stars { .. } => "stars",
        }
    }
}

/// What an order placed for payment in the chat gets.
#[derive(Debug, Clone, Copy)]
pub struct Terms {
    pub provider: Provider,
    pub expire_after: TimeDelta,
    /// The shopper's chat, where the invoice goes.
    pub chat_id: i64,
}

/// One price line of an invoice, in the smallest units of the invoice's currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceLine {
    pub label: String,
    pub amount: i64,
}

/// An invoice as the adapter sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceView {
    pub order_id: i64,
    pub payload: String,
    pub currency: String,
    pub amount: i64,
    pub lines: Vec<InvoiceLine>,
    pub expires_at: DateTime<Utc>,
}

/// The invoice lines of an order: one per order line, its coupon discount folded in (Telegram
/// takes no negative prices). In the store's currency they add up to `orders.total`; in Stars
/// each line is rounded up to a whole Star, and the invoice asks for their sum.
pub fn invoice_lines(
    items: &[order_item::Model],
    provider: Provider,
    store_currency: &str,
) -> (String, Vec<InvoiceLine>) {
    let lines = items.iter().map(|item| {
        let net = item
            .unit_price
            .saturating_mul(i64::from(item.quantity))
            .saturating_sub(item.discount)
            .clamp(0, i64::MAX);
        let label = format!("{} × {}", item.title, item.quantity);
        (label, net)
    });
    match provider {
        Provider::Telegram => (
            store_currency.to_owned(),
            lines
                .map(|(label, amount)| InvoiceLine { label, amount })
                .collect(),
        ),
        Provider::Stars { stars_per_unit } => {
            let unit = 10_i64.pow(crate::money::minor_digits(store_currency));
            let rate = i64::from(stars_per_unit);
            let lines = lines
                .map(|(label, net)| InvoiceLine {
                    label,
                    // Rounded up: a Star is the smallest unit, and the merchant never gets less.
                    amount: net.saturating_mul(rate).saturating_add(unit - 1) / unit,
                })
                .collect();
            (STARS.to_owned(), lines)
        }
    }
}

fn new_payload() -> Result<String, StoreError> {
    let mut bytes = [0_u8; PAYLOAD_BYTES];
    getrandom::fill(&mut bytes)
        .map_err(|error| StoreError::Invalid(format!("no randomness for a payload: {error}")))?;
    Ok(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// Writes the invoice of a just-placed order, inside the placement's transaction.
pub(crate) async fn open(
    txn: &impl ConnectionTrait,
    placed: &order::Model,
    items: &[order_item::Model],
    terms: &Terms,
    store_currency: &str,
) -> Result<invoice::Model, StoreError> {
    let (currency, lines) = invoice_lines(items, terms.provider, store_currency);
    let amount = lines.iter().map(|line| line.amount).sum();
    Ok(invoice::ActiveModel {
        order_id: Set(placed.id),
        payload: Set(new_payload()?),
        provider: Set(terms.provider.name().to_owned()),
        currency: Set(currency),
        amount: Set(amount),
        expires_at: Set(placed.placed_at + terms.expire_after),
        chat_id: Set(terms.chat_id),
        created_at: Set(placed.placed_at),
        ..Default::default()
    }
    .insert(txn)
    .await?)
}

/// The invoice of `order_id` with its lines, if the order has one. `provider` is the one
/// configured now, which made the invoice a moment ago in the same process.
pub async fn invoice_of(
    db: &impl ConnectionTrait,
    order_id: i64,
    provider: Provider,
    store_currency: &str,
) -> Result<Option<InvoiceView>, StoreError> {
    let Some(invoice) = invoice::Entity::find()
        .filter(invoice::Column::OrderId.eq(order_id))
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
    let (currency, lines) = invoice_lines(&items, provider, store_currency);
    Ok(Some(InvoiceView {
        order_id,
        payload: invoice.payload,
        currency,
        amount: invoice.amount,
        lines,
        expires_at: invoice.expires_at,
    }))
}

/// Telegram's question before it charges: may this shopper pay this much for this payload?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreCheckoutQuery<'a> {
    pub payload: &'a str,
    pub payer_telegram_user_id: i64,
    pub currency: &'a str,
    pub total_amount: i64,
}

/// The answer to a pre-checkout query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreCheckout {
    Approve,
    /// No invoice has this payload (forged, or from another shop's bot).
    Unknown,
    /// The order belongs to another shopper.
    NotYours,
    /// Paid, cancelled or refunded already.
    NotAwaiting,
    /// Expired (by the job, or past its time though the job has not run yet).
    Expired,
    /// The currency or the total differ from the invoice.
    Mismatch,
}

/// Checks a pre-checkout query against the order; reads only.
pub async fn check_pre_checkout(
    db: &impl ConnectionTrait,
    query: &PreCheckoutQuery<'_>,
    now: DateTime<Utc>,
) -> Result<PreCheckout, StoreError> {
    if query.payload.len() != PAYLOAD_BYTES * 2 {
        return Ok(PreCheckout::Unknown);
    }
    let Some(invoice) = invoice::Entity::find()
        .filter(invoice::Column::Payload.eq(query.payload))
        .one(db)
        .await?
    else {
        return Ok(PreCheckout::Unknown);
    };
    let Some(order) = order::Entity::find_by_id(invoice.order_id).one(db).await? else {
        return Ok(PreCheckout::Unknown);
    };
    let owner = customer::Entity::find_by_id(order.customer_id)
        .one(db)
        .await?
        .map(|customer| customer.telegram_user_id);
    if owner != Some(query.payer_telegram_user_id) {
        return Ok(PreCheckout::NotYours);
    }
    if order.status == EXPIRED || (order.status == AWAITING_PAYMENT && invoice.expires_at <= now) {
        return Ok(PreCheckout::Expired);
    }
    if order.status != AWAITING_PAYMENT {
        return Ok(PreCheckout::NotAwaiting);
    }
    if query.currency != invoice.currency || query.total_amount != invoice.amount {
        return Ok(PreCheckout::Mismatch);
    }
    Ok(PreCheckout::Approve)
}

/// A payment as Telegram reported it (`successful_payment`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportedPayment {
    pub payload: String,
    pub payer_telegram_user_id: i64,
    pub currency: String,
    pub total_amount: i64,
    pub telegram_charge_id: String,
    pub provider_charge_id: String,
}

/// The shopper's messages about a payment; `{order}` is filled in.
#[derive(Debug, Clone)]
pub struct PaymentMessages {
    /// The order is paid.
    pub paid: String,
    /// The money came after the order expired or was cancelled: the merchant will refund or
    /// ship.
    pub late: String,
}

/// What recording a payment came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// Recorded now. `late` when the order was no longer awaiting payment (flagged for the
    /// merchant; the order keeps its status).
    New { payment: payment::Model, late: bool },
    /// This charge was recorded before (a redelivery, or another instance won).
    Already(payment::Model),
    /// No invoice has this payload: nothing can be recorded (Telegram only charges after our
    /// pre-checkout approved a payload, so this is a forgery).
    Unmatched,
}

/// Records a payment and, if its order still awaited payment, moves the order to `paid`, with
/// the shopper's message queued, all in one transaction. A charge id recorded before records
/// nothing. Owns its transaction: a unique-key conflict means another instance recorded it.
pub async fn record(
    db: &DatabaseConnection,
    reported: &ReportedPayment,
    messages: &PaymentMessages,
    now: DateTime<Utc>,
) -> Result<Recorded, StoreError> {
    if let Some(existing) = by_charge(db, &reported.telegram_charge_id).await? {
        return Ok(Recorded::Already(existing));
    }
    let txn = begin_write(db).await?;
    match record_in(&txn, reported, messages, now).await {
        Ok(Recorded::New { payment, late }) => match txn.commit().await {
            Ok(()) => Ok(Recorded::New { payment, late }),
            Err(error) => already_or(db, reported, error.into()).await,
        },
        Ok(other) => {
            txn.rollback().await?;
            Ok(other)
        }
        Err(error) => {
            let _ = txn.rollback().await;
            already_or(db, reported, error).await
        }
    }
}

async fn already_or(
    db: &DatabaseConnection,
    reported: &ReportedPayment,
    error: StoreError,
) -> Result<Recorded, StoreError> {
    if matches!(error, StoreError::Conflict(_))
        && let Some(existing) = by_charge(db, &reported.telegram_charge_id).await?
    {
        return Ok(Recorded::Already(existing));
    }
    Err(error)
}

async fn by_charge(
    db: &impl ConnectionTrait,
    charge_id: &str,
) -> Result<Option<payment::Model>, StoreError> {
    Ok(payment::Entity::find()
        .filter(payment::Column::TelegramChargeId.eq(charge_id))
        .one(db)
        .await?)
}

async fn record_in(
    txn: &impl ConnectionTrait,
    reported: &ReportedPayment,
    messages: &PaymentMessages,
    now: DateTime<Utc>,
) -> Result<Recorded, StoreError> {
    if let Some(existing) = by_charge(txn, &reported.telegram_charge_id).await? {
        return Ok(Recorded::Already(existing));
    }
    let Some(invoice) = invoice::Entity::find()
        .filter(invoice::Column::Payload.eq(reported.payload.as_str()))
        .one(txn)
        .await?
    else {
        return Ok(Recorded::Unmatched);
    };
    let moved = order::Entity::update_many()
        .col_expr(order::Column::Status, Expr::value(PAID))
        .filter(order::Column::Id.eq(invoice.order_id))
        .filter(order::Column::Status.eq(AWAITING_PAYMENT))
        .exec(txn)
        .await?;
    let late = moved.rows_affected == 0;
    let payment = payment::ActiveModel {
        order_id: Set(invoice.order_id),
        telegram_charge_id: Set(reported.telegram_charge_id.clone()),
        provider_charge_id: Set(reported.provider_charge_id.clone()),
        amount: Set(reported.total_amount),
        currency: Set(reported.currency.clone()),
        payer_telegram_user_id: Set(reported.payer_telegram_user_id),
        paid_at: Set(now),
        late: Set(late),
        announced_at: Set(None),
        refunded_at: Set(None),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    let order = order::Entity::find_by_id(invoice.order_id)
        .one(txn)
        .await?
        .ok_or_else(|| StoreError::not_found("order", invoice.order_id))?;
    let text = if late { &messages.late } else { &messages.paid };
    outbox::enqueue_service(
        txn,
        order.customer_id,
        &format!("payment:{}", reported.telegram_charge_id),
        &text.replace("{order}", &order.id.to_string()),
        now,
    )
    .await?;
    Ok(Recorded::New { payment, late })
}

/// Claims telling the merchant chats about a payment: the order, the first time only.
pub async fn claim_announcement(
    db: &impl ConnectionTrait,
    telegram_charge_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<(payment::Model, order::Model)>, StoreError> {
    let claimed = payment::Entity::update_many()
        .col_expr(payment::Column::AnnouncedAt, Expr::value(now))
        .filter(payment::Column::TelegramChargeId.eq(telegram_charge_id))
        .filter(payment::Column::AnnouncedAt.is_null())
        .exec(db)
        .await?;
    if claimed.rows_affected == 0 {
        return Ok(None);
    }
    let Some(payment) = by_charge(db, telegram_charge_id).await? else {
        return Ok(None);
    };
    let order = order::Entity::find_by_id(payment.order_id).one(db).await?;
    Ok(order.map(|order| (payment, order)))
}

/// Moves an unpaid order out of `awaiting_payment` to `status` (expired or cancelled) and
/// returns its stock, queueing `message` for the shopper; false if it was no longer awaiting
/// payment (paid, or moved by another instance: then nothing is written).
async fn release(
    txn: &impl ConnectionTrait,
    order_id: i64,
    status: &str,
    message: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let moved = order::Entity::update_many()
        .col_expr(order::Column::Status, Expr::value(status))
        .filter(order::Column::Id.eq(order_id))
        .filter(order::Column::Status.eq(AWAITING_PAYMENT))
        .exec(txn)
        .await?;
    if moved.rows_affected == 0 {
        return Ok(false);
    }
    let items = order_item::Entity::find()
        .filter(order_item::Column::OrderId.eq(order_id))
        .all(txn)
        .await?;
    return_stock(txn, &items).await?;
    if let Some(message) = message {
        let customer_id = order::Entity::find_by_id(order_id)
            .one(txn)
            .await?
            .map(|order| order.customer_id);
        if let Some(customer_id) = customer_id {
            outbox::enqueue_service(
                txn,
                customer_id,
                &format!("{status}:{order_id}"),
                &message.replace("{order}", &order_id.to_string()),
                now,
            )
            .await?;
        }
    }
    Ok(true)
}

/// Expires the orders whose invoice is past due at `now`, each in its own transaction; returns
/// the ids this call expired. Safe on several instances at once: each order moves once.
pub async fn expire_due(
    db: &DatabaseConnection,
    message: &str,
    now: DateTime<Utc>,
) -> Result<Vec<i64>, StoreError> {
    let due: Vec<i64> = invoice::Entity::find()
        .select_only()
        .column(invoice::Column::OrderId)
        .inner_join_orders()
        .filter(order::Column::Status.eq(AWAITING_PAYMENT))
        .filter(invoice::Column::ExpiresAt.lte(now))
        .order_by_asc(invoice::Column::ExpiresAt)
        .limit(EXPIRY_BATCH)
        .into_tuple()
        .all(db)
        .await?;
    let mut expired = Vec::new();
    for order_id in due {
        let txn = begin_write(db).await?;
        if release(&txn, order_id, EXPIRED, Some(message), now).await? {
            txn.commit().await?;
            expired.push(order_id);
        } else {
            txn.rollback().await?;
        }
    }
    Ok(expired)
}

/// The shopper cancels their own unpaid order: false if it is not theirs or no longer awaits
/// payment (nothing changes).
pub async fn cancel_unpaid(
    db: &DatabaseConnection,
    customer_id: i64,
    order_id: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let txn = begin_write(db).await?;
    let mine = order::Entity::find_by_id(order_id)
        .filter(order::Column::CustomerId.eq(customer_id))
        .one(&txn)
        .await?
        .is_some();
    if mine && release(&txn, order_id, CANCELLED, None, now).await? {
        txn.commit().await?;
        return Ok(true);
    }
    txn.rollback().await?;
    Ok(false)
}

/// What the merchant sees of an order's payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentState {
    /// `awaiting`, `paid`, `expired`, `cancelled`, `refunded`, or `late` (paid after the
    /// order expired or was cancelled: refund or ship).
    pub state: String,
    pub provider: String,
    pub currency: String,
    pub amount: i64,
    pub expires_at: DateTime<Utc>,
    pub payments: Vec<payment::Model>,
}

/// The payment state of each order that has an invoice.
pub async fn states(
    db: &impl ConnectionTrait,
    orders: &[order::Model],
) -> Result<BTreeMap<i64, PaymentState>, StoreError> {
    let ids: Vec<i64> = orders.iter().map(|order| order.id).collect();
    let invoices = in_chunks(&ids, |chunk| {
        invoice::Entity::find()
            .filter(invoice::Column::OrderId.is_in(chunk))
            .all(db)
    })
    .await?;
    let mut payments: BTreeMap<i64, Vec<payment::Model>> = BTreeMap::new();
    let found = in_chunks(&ids, |chunk| {
        payment::Entity::find()
            .filter(payment::Column::OrderId.is_in(chunk))
            .order_by_asc(payment::Column::Id)
            .all(db)
    })
    .await?;
    for payment in found {
        payments.entry(payment.order_id).or_default().push(payment);
    }
    let status: BTreeMap<i64, &str> = orders
        .iter()
        .map(|order| (order.id, order.status.as_str()))
        .collect();
    Ok(invoices
        .into_iter()
        .map(|invoice| {
            let paid = payments.remove(&invoice.order_id).unwrap_or_default();
            let order_status = status.get(&invoice.order_id).copied().unwrap_or_default();
            let state = if paid.iter().any(|p| p.late && p.refunded_at.is_none()) {
                "late"
            } else if !paid.is_empty() && paid.iter().all(|p| p.refunded_at.is_some()) {
                REFUNDED
            } else if !paid.is_empty() {
                PAID
            } else if order_status == AWAITING_PAYMENT {
                "awaiting"
            } else {
                order_status
            };
            (
                invoice.order_id,
                PaymentState {
                    state: state.to_owned(),
                    provider: invoice.provider,
                    currency: invoice.currency,
                    amount: invoice.amount,
                    expires_at: invoice.expires_at,
                    payments: paid,
                },
            )
        })
        .collect())
}

/// A payment the merchant may refund: the order's newest payment not refunded yet.
pub async fn refundable(
    db: &impl ConnectionTrait,
    order_id: i64,
) -> Result<payment::Model, StoreError> {
    order::Entity::find_by_id(order_id)
        .one(db)
        .await?
        .ok_or_else(|| StoreError::not_found("order", order_id))?;
    let payments = payment::Entity::find()
        .filter(payment::Column::OrderId.eq(order_id))
        .order_by_desc(payment::Column::Id)
        .all(db)
        .await?;
    if payments.is_empty() {
        return Err(StoreError::Invalid(format!(
            "order {order_id} has no payment to refund"
        )));
    }
    payments
        .into_iter()
        .find(|payment| payment.refunded_at.is_none())
        .ok_or_else(|| StoreError::Invalid(format!("order {order_id} is refunded already")))
}

/// Records the refund of a payment and moves its order to `refunded`, in one transaction;
/// refunding a payment recorded as refunded changes nothing.
pub async fn record_refund(
    db: &DatabaseConnection,
    payment_id: i64,
    now: DateTime<Utc>,
) -> Result<order::Model, StoreError> {
    let txn = begin_write(db).await?;
    let payment = payment::Entity::find_by_id(payment_id)
        .one(&txn)
        .await?
        .ok_or_else(|| StoreError::not_found("payment", payment_id))?;
    payment::Entity::update_many()
        .col_expr(payment::Column::RefundedAt, Expr::value(now))
        .filter(payment::Column::Id.eq(payment_id))
        .filter(payment::Column::RefundedAt.is_null())
        .exec(&txn)
        .await?;
    let mut order: order::ActiveModel = order::Entity::find_by_id(payment.order_id)
        .one(&txn)
        .await?
        .ok_or_else(|| StoreError::not_found("order", payment.order_id))?
        .into();
    order.status = Set(REFUNDED.to_owned());
    let order = order.update(&txn).await?;
    txn.commit().await?;
    Ok(order)
}

trait JoinOrders {
    fn inner_join_orders(self) -> Self;
}

impl JoinOrders for sea_orm::Select<invoice::Entity> {
    fn inner_join_orders(self) -> Self {
        self.join(
            sea_orm::JoinType::InnerJoin,
            invoice::Entity::belongs_to(order::Entity)
                .from(invoice::Column::OrderId)
                .to(order::Column::Id)
                .into(),
        )
    }
}

#[cfg(test)]
mod tests;
