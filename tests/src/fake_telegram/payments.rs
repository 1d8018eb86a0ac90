//! The fake's payments: what the bot sent (`sendInvoice`), how it answered pre-checkout
//! queries, which charges exist and which were refunded; and the shopper's side of paying,
//! as Telegram's client and servers play it: [`FakeTelegram::pre_checkout`] asks the bot,
//! [`FakeTelegram::successful_payment`] reports the money taken.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::anyhow;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::{FakeTelegram, TestUser};

/// An invoice the bot sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentInvoice {
    pub chat_id: i64,
    pub message_id: i64,
    pub title: String,
    pub description: String,
    pub payload: String,
    pub currency: String,
    /// `(label, amount)` as sent.
    pub prices: Vec<(String, i64)>,
    pub provider_token: Option<String>,
    pub need_shipping_address: bool,
}

impl SentInvoice {
    /// What the shopper is asked to pay.
    pub fn total(&self) -> i64 {
        self.prices.iter().map(|(_, amount)| amount).sum()
    }
}

/// The bot's answer to a pre-checkout query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreCheckoutAnswer {
    pub query_id: String,
    pub ok: bool,
    pub error_message: Option<String>,
    /// How long after the query was queued the answer came.
    pub after: Duration,
}

#[derive(Default)]
pub(crate) struct PaymentState {
    pub(crate) invoices: Vec<SentInvoice>,
    /// Query id → when it was queued.
    pub(crate) queries: HashMap<String, Instant>,
    pub(crate) answers: Vec<PreCheckoutAnswer>,
    /// Telegram charge id → (payer, refunded).
    pub(crate) charges: HashMap<String, (i64, bool)>,
    /// `(user id, charge id)` of each accepted `refundStarPayment`.
    pub(crate) refunds: Vec<(i64, String)>,
}

impl FakeTelegram {
    /// The invoices the bot sent, oldest first.
    pub fn invoices(&self) -> Vec<SentInvoice> {
        self.shared.lock().payments.invoices.clone()
    }

    /// Waits for the `count`-th invoice to `chat_id`.
    pub async fn wait_invoice(
        &self,
        chat_id: i64,
        count: usize,
        timeout: Duration,
    ) -> anyhow::Result<SentInvoice> {
        let deadline = Instant::now() + timeout;
        self.shared
            .wait_for(deadline, |state| {
                state
                    .payments
                    .invoices
                    .iter()
                    .filter(|invoice| invoice.chat_id == chat_id)
                    .nth(count - 1)
                    .cloned()
            })
            .await
            .ok_or_else(|| anyhow!("no invoice #{count} to chat {chat_id} within {timeout:?}"))
    }

    /// The shopper presses Pay: Telegram asks the bot with a `pre_checkout_query` for
    /// `payload`, `currency` and `total`. Returns the query id.
    pub fn pre_checkout(
        &self,
        user: &TestUser,
        payload: &str,
        currency: &str,
        total: i64,
    ) -> String {
        let mut state = self.shared.lock();
        state.users.insert(user.id, user.clone());
        let update_id = state.next_update_id();
        let query_id = format!("pcq{update_id}");
        state
            .payments
            .queries
            .insert(query_id.clone(), Instant::now());
        state.push_update(json!({
            "update_id": update_id,
            "pre_checkout_query": {
                "id": query_id,
                "from": user.to_json(),
                "currency": currency,
                "total_amount": total,
                "invoice_payload": payload,
            },
        }));
        drop(state);
        self.shared.updates.notify_waiters();
        query_id
    }

    /// Waits for the bot's answer to pre-checkout query `query_id`.
    pub async fn pre_checkout_answer(
        &self,
        query_id: &str,
        timeout: Duration,
    ) -> anyhow::Result<PreCheckoutAnswer> {
        let deadline = Instant::now() + timeout;
        self.shared
            .wait_for(deadline, |state| {
                state
                    .payments
                    .answers
                    .iter()
                    .find(|answer| answer.query_id == query_id)
                    .cloned()
            })
            .await
            .ok_or_else(|| anyhow!("pre-checkout query {query_id} not answered within {timeout:?}"))
    }

    /// Telegram took the money: a `successful_payment` message from `user` with charge id
    /// `charge_id` (the provider's is derived from it; empty for Stars). Returns the update id;
    /// [`FakeTelegram::redeliver`] sends the same update again.
    pub fn successful_payment(
        &self,
        user: &TestUser,
        payload: &str,
        currency: &str,
        total: i64,
        charge_id: &str,
    ) -> i64 {
        let provider_charge = if currency == "XTR" {
            String::new()
        } else {
            format!("provider-{charge_id}")
        };
        self.shared
            .lock()
            .payments
            .charges
            .insert(charge_id.to_owned(), (user.id, false));
        let mut content = serde_json::Map::new();
        content.insert(
            "successful_payment".into(),
            json!({
                "currency": currency,
                "total_amount": total,
                "invoice_payload": payload,
                "telegram_payment_charge_id": charge_id,
                "provider_payment_charge_id": provider_charge,
            }),
        );
        self.user_message(user, content).0
    }

    /// The Stars refunds the bot made, as `(user id, charge id)`.
    pub fn star_refunds(&self) -> Vec<(i64, String)> {
        self.shared.lock().payments.refunds.clone()
    }

    /// The raw update that carried a successful payment, as Telegram would post it to a webhook.
    pub fn update_json(&self, update_id: i64) -> Option<Value> {
        self.shared.lock().history.get(&update_id).cloned()
    }
}

/// `sendInvoice`'s checks, as Telegram makes them; the invoice message's content otherwise.
pub(crate) fn check_invoice(invoice: &SentInvoice) -> Result<(), String> {
    let bad = |what: &str| Err(format!("Bad Request: {what}"));
    if invoice.payload.is_empty() || invoice.payload.len() > 128 {
        return bad("INVOICE_PAYLOAD_INVALID");
    }
    let title = invoice.title.chars().count();
    if title == 0 || title > 32 {
        return bad("INVOICE_TITLE_INVALID");
    }
    let description = invoice.description.chars().count();
    if description == 0 || description > 255 {
        return bad("INVOICE_DESCRIPTION_INVALID");
    }
    let token = invoice
        .provider_token
        .as_deref()
        .filter(|token| !token.is_empty());
    match (invoice.currency.as_str(), token) {
        ("XTR", Some(_)) => return bad("PAYMENT_PROVIDER_INVALID"),
        ("XTR", None) if invoice.prices.len() != 1 => return bad("STARS_INVOICE_INVALID"),
        ("XTR", None) => {}
        (_, None) => return bad("PAYMENT_PROVIDER_INVALID"),
        (_, Some(token)) if token.starts_with("revoked") => {
            return bad("PAYMENT_PROVIDER_INVALID");
        }
        (currency, Some(_)) if currency.len() != 3 => return bad("CURRENCY_INVALID"),
        _ => {}
    }
    if invoice.prices.is_empty() || invoice.total() <= 0 {
        return bad("CURRENCY_TOTAL_AMOUNT_INVALID");
    }
    Ok(())
}

pub(crate) fn invoice_content(invoice: &SentInvoice) -> Value {
    json!({
        "title": invoice.title,
        "description": invoice.description,
        "start_parameter": "",
        "currency": invoice.currency,
        "total_amount": invoice.total(),
    })
}
