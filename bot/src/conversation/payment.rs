//! Paying in the chat (`payments.provider` = `telegram` or `stars`).
//!
//! ```text
//! shopper: [Confirm order]
//! bot:     Your order #12 for 8.10 EUR is reserved until 14:30: please pay with the invoice.
//! bot:     (invoice) Order #12 · Green tea, 100 g × 2 … 8.10 EUR            [Pay 8.10 EUR]
//! shopper: [Pay]            → Telegram asks the bot (pre-checkout): approved or refused
//! Telegram: successful_payment
//! bot:     Thank you! We received your payment for order #12.   (outbox, once)
//! merchant chats: Order #12 is paid: 8.10 EUR …
//! ```
//!
//! This module words what `store::orders::payments` decides: the invoice of a placed order,
//! the answer to a pre-checkout query, and the messages about a payment. It never talks to
//! Telegram and never reads the clock.

use chrono::{DateTime, Utc};

use super::callback::Callback;
use super::session::{Flow, Session};
use super::texts::{self, Texts};
use super::{Button, Conversation, Outcome};
use crate::store::orders::payments::{
    self, PaymentMessages, PreCheckout, PreCheckoutQuery, Provider, Recorded, ReportedPayment,
    STARS, Terms,
};
use storebot_config::{PaymentProvider, Settings};

/// Telegram's limits on an invoice's title and description, in characters.
const MAX_TITLE_CHARS: usize = 32;
const MAX_DESCRIPTION_CHARS: usize = 255;

/// An invoice for the adapter to send (`sendInvoice`) to the shopper's chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    pub order_id: i64,
    pub title: String,
    pub description: String,
    /// Opaque, at most 128 bytes: Telegram hands it back in the pre-checkout query and the
    /// payment.
    pub payload: String,
    /// `store.currency`, or `XTR` for Stars (then no provider token goes with it).
    pub currency: String,
    /// `(label, amount in the smallest units of currency)`; they add up to the total.
    pub prices: Vec<(String, i64)>,
}

/// Telegram's question before it charges (`pre_checkout_query`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreCheckoutReport {
    pub payer_telegram_user_id: i64,
    pub language_code: Option<String>,
    pub payload: String,
    pub currency: String,
    pub total_amount: i64,
}

/// A payment Telegram reports (`successful_payment`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentReport {
    pub payer_telegram_user_id: i64,
    pub language_code: Option<String>,
    pub payload: String,
    pub currency: String,
    pub total_amount: i64,
    pub telegram_charge_id: String,
    pub provider_charge_id: String,
}

/// The store's provider for `settings`, or `None` for pay on delivery.
pub fn provider(settings: &Settings) -> Option<Provider> {
    match settings.payments.provider {
        PaymentProvider::None => None,
        PaymentProvider::Telegram => Some(Provider::Telegram),
        PaymentProvider::Stars => Some(Provider::Stars {
            stars_per_unit: settings.payments.stars_per_unit.unwrap_or(1),
        }),
    }
}

/// An amount of an invoice's currency as a shopper reads it.
pub fn amount(minor: i64, currency: &str) -> String {
    if currency == STARS {
        format!("{minor} ⭐")
    } else {
        texts::money(minor, currency)
    }
}

impl Session<'_> {
    /// The payment terms of an order confirmed now, when the shop takes payment in the chat.
    pub fn payment_terms(&self) -> Option<Terms> {
        let settings = &self.conv.settings;
        provider(settings).map(|provider| Terms {
            provider,
            expire_after: chrono::TimeDelta::from_std(settings.payments.expire_after)
                .unwrap_or(chrono::TimeDelta::MAX),
            chat_id: self.sender.chat_id,
        })
    }

    /// After Confirm placed `order` awaiting payment: says until when it is held and hands the
    /// adapter its invoice.
    pub async fn ask_for_payment(&mut self, order: i64, items: &str) -> Flow {
        let settings = &self.conv.settings;
        let Some(provider) = provider(settings) else {
            return Ok(());
        };
        let Some(invoice) =
            payments::invoice_of(self.db(), order, provider, &settings.store.currency).await?
        else {
            return Ok(());
        };
        let until = invoice
            .expires_at
            .with_timezone(&settings.store.time_zone)
            .format("%H:%M")
            .to_string();
        let number = order.to_string();
        let total = amount(invoice.amount, &invoice.currency);
        let text = self.fill(
            "order_awaiting_payment",
            &[("order", &number), ("total", &total), ("time", &until)],
        );
        self.out.notice = Some(text.clone());
        self.screen(text, Vec::new());
        let title: String = self
            .fill("invoice_title", &[("order", &number)])
            .chars()
            .take(MAX_TITLE_CHARS)
            .collect();
        let description: String = self
            .fill(
                "invoice_description",
                &[("store", &settings.store.name), ("items", items)],
            )
            .chars()
            .take(MAX_DESCRIPTION_CHARS)
            .collect();
        // Telegram takes exactly one price for Stars: the lines are in the description.
        let prices = if invoice.currency == STARS {
            vec![(title.clone(), invoice.amount)]
        } else {
            invoice
                .lines
                .into_iter()
                .map(|line| (line.label, line.amount))
                .collect()
        };
        self.out.invoice = Some(Invoice {
            order_id: order,
            title,
            description,
            payload: invoice.payload,
            currency: invoice.currency,
            prices,
        });
        Ok(())
    }

    pub fn cancel_unpaid_button(&self, order: i64) -> Button {
        Button::new(
            self.fill("order_cancel_unpaid", &[("order", &order.to_string())]),
            Callback::CancelUnpaid { order },
        )
    }

    /// The shopper lets an unpaid order go: its stock returns; nothing was charged.
    pub async fn cancel_unpaid(&mut self, order: i64) -> Flow {
        if payments::cancel_unpaid(self.db(), self.customer.id, order, self.now).await? {
            let text = self.fill("order_cancelled_unpaid", &[("order", &order.to_string())]);
            self.out.notice = Some(text.clone());
            self.say(text);
            return self.orders(0).await;
        }
        // Not theirs, paid meanwhile, or expired: said once, nothing changes.
        tracing::info!(
            telegram_user_id = self.sender.telegram_user_id,
            order,
            "an unpaid order could not be cancelled"
        );
        self.notice("order_not_cancellable");
        self.say(self.t("order_not_cancellable"));
        Ok(())
    }
}

impl Conversation {
    /// The answer to a pre-checkout query: `Ok` approves, `Err` refuses with a sentence for
    /// the shopper. Reads only.
    pub async fn pre_checkout(
        &self,
        query: &PreCheckoutReport,
        now: DateTime<Utc>,
    ) -> Result<(), String> {
        let texts = Texts::for_language(&self.settings, query.language_code.as_deref());
        let checked = payments::check_pre_checkout(
            &self.db,
            &PreCheckoutQuery {
                payload: &query.payload,
                payer_telegram_user_id: query.payer_telegram_user_id,
                currency: &query.currency,
                total_amount: query.total_amount,
            },
            now,
        )
        .await;
        let refusal = match checked {
            Ok(PreCheckout::Approve) => return Ok(()),
            Ok(PreCheckout::Unknown) => "payment_refused_unknown",
            Ok(PreCheckout::NotYours) => "payment_refused_not_yours",
            Ok(PreCheckout::NotAwaiting) => "payment_refused_not_awaiting",
            Ok(PreCheckout::Expired) => "payment_refused_expired",
            Ok(PreCheckout::Mismatch) => "payment_refused_mismatch",
            Err(error) => {
                tracing::error!(%error, "a pre-checkout query could not be checked; refused");
                "payment_refused_busy"
            }
        };
        tracing::info!(
            telegram_user_id = query.payer_telegram_user_id,
            refusal,
            "refused a pre-checkout query"
        );
        Err(texts.get(refusal).to_owned())
    }

    /// Records a reported payment durably (the order paid, the shopper's message queued):
    /// true once it is recorded (now or before), false if the database failed and the update
    /// must not be confirmed to Telegram yet.
    pub async fn record_payment(&self, report: &PaymentReport, now: DateTime<Utc>) -> bool {
        let texts = Texts::for_language(&self.settings, report.language_code.as_deref());
        let messages = PaymentMessages {
            paid: texts.get("payment_received").to_owned(),
            late: texts.get("payment_received_late").to_owned(),
        };
        match payments::record(&self.db, &reported(report), &messages, now).await {
            Ok(Recorded::New { payment, late }) => {
                tracing::info!(order = payment.order_id, late, "payment recorded");
                true
            }
            Ok(Recorded::Already(_)) => true,
            Ok(Recorded::Unmatched) => {
                // Telegram charges only after our approval of a payload we issued; a payment
                // naming none is kept in the log with its charge id for the merchant.
                tracing::error!(
                    telegram_charge_id = %report.telegram_charge_id,
                    provider_charge_id = %report.provider_charge_id,
                    amount = report.total_amount,
                    currency = %report.currency,
                    telegram_user_id = report.payer_telegram_user_id,
                    "a payment for no invoice of ours; not recorded"
                );
                true
            }
            Err(error) => {
                tracing::error!(
                    %error,
                    telegram_charge_id = %report.telegram_charge_id,
                    "a payment could not be recorded; it will be taken again"
                );
                false
            }
        }
    }

    /// The payment's message in the merchant chats, the first time this payment is handled. The
    /// adapter has recorded the payment before the update reached here
    /// ([`Conversation::record_payment`]); one that is not recorded has nothing to claim, so
    /// nothing is announced.
    pub async fn paid(&self, report: &PaymentReport, now: DateTime<Utc>) -> Outcome {
        let mut outcome = Outcome::default();
        let claimed = payments::claim_announcement(&self.db, &report.telegram_charge_id, now).await;
        let (payment, order) = match claimed {
            Ok(Some(claimed)) => claimed,
            Ok(None) => return outcome,
            Err(error) => {
                tracing::warn!(%error, "could not tell the merchant chats about a payment");
                return outcome;
            }
        };
        let texts = Texts::for_language(&self.settings, None);
        let key = if payment.late {
            "merchant_payment_late"
        } else {
            "merchant_payment"
        };
        let text = texts.fill(
            key,
            &[
                ("order", &order.id.to_string()),
                ("amount", &amount(payment.amount, &payment.currency)),
                ("charge", &payment.telegram_charge_id),
                ("provider_charge", &payment.provider_charge_id),
            ],
        );
        // A payment on time comes with the order's card, so the merchant can ship it (or cancel
        // it) from the chat at once; a late one is a matter for a refund, said in words.
        let card = if payment.late {
            None
        } else {
            self.merchant_card(order.id).await.unwrap_or_else(|error| {
                tracing::warn!(%error, order = order.id, "could not show the paid order's card");
                None
            })
        };
        for chat in &self.settings.telegram.merchant_chats {
            outcome.notifications.push(match &card {
                Some(card) => super::Notification {
                    chat_id: *chat,
                    text: format!("{text}\n\n{}", card.text),
                    markup: card.markup.clone(),
                },
                None => super::Notification::text(*chat, text.clone()),
            });
        }
        outcome
    }
}

fn reported(report: &PaymentReport) -> ReportedPayment {
    ReportedPayment {
        payload: report.payload.clone(),
        payer_telegram_user_id: report.payer_telegram_user_id,
        currency: report.currency.clone(),
        total_amount: report.total_amount,
        telegram_charge_id: report.telegram_charge_id.clone(),
        provider_charge_id: report.provider_charge_id.clone(),
    }
}
