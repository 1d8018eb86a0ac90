//! Payments on Telegram: sending the invoice, answering `pre_checkout_query` within
//! Telegram's 10 seconds, and taking `successful_payment` so that it is never lost.
//!
//! Other updates are handled at most once (claimed, then handled). A payment may not be lost
//! to a crash, so it is recorded *before* Telegram is told the update arrived: in long polling
//! the update stream waits for [`take_payment`] before the next `getUpdates` (which confirms
//! it), and in webhook mode the post is answered 200 only after it. A redelivery records
//! nothing new (unique charge id). It never decides whether a payment is acceptable: that is
//! the dialogue's, through `store::orders::payments`.

use std::future::Future;
use std::time::Duration;

use teloxide::prelude::*;
use teloxide::types::{LabeledPrice, Message, PreCheckoutQuery, Update, UpdateKind};

use super::client::{TelegramError, bot};
use super::send;
use crate::conversation::payment::{Invoice, PaymentReport, PreCheckoutReport};
use crate::conversation::texts::Texts;
use crate::store::orders::payments::STARS;
use storebot_config::Settings;

/// Telegram cancels a payment whose pre-checkout query is not answered within 10 seconds; the
/// answer itself needs a moment, so the check gets this long.
pub const PRE_CHECKOUT_DEADLINE: Duration = Duration::from_secs(7);

/// Between tries of recording a payment while the database fails.
const RETRY_FIRST: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(30);

/// The payment a message reports, if it is a `successful_payment` from a private chat.
pub(super) fn payment_report(message: &Message) -> Option<PaymentReport> {
    let paid = message.successful_payment()?;
    let payer = message.from.as_ref()?;
    if !message.chat.is_private() {
        return None;
    }
    Some(PaymentReport {
        payer_telegram_user_id: i64::try_from(payer.id.0).ok()?,
        language_code: payer.language_code.clone(),
        payload: paid.invoice_payload.clone(),
        currency: paid.currency.clone(),
        total_amount: i64::from(paid.total_amount),
        telegram_charge_id: paid.telegram_payment_charge_id.0.clone(),
        provider_charge_id: paid.provider_payment_charge_id.clone(),
    })
}

/// The payment `update` reports, if it is a `successful_payment` message.
pub(super) fn payment_in(update: &Update) -> Option<PaymentReport> {
    match &update.kind {
        UpdateKind::Message(message) => payment_report(message),
        _ => None,
    }
}

/// `record` (the dialogue's durable record of a payment), tried again with capped backoff
/// while the database fails, until it succeeds or `stopping` says the bot is shutting down:
/// false then, and the update must not be confirmed (Telegram delivers it again to the next
/// start).
pub(super) async fn record_patiently<F, Fut>(
    record: F,
    stopping: &tokio::sync::watch::Receiver<bool>,
) -> bool
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let mut delay = RETRY_FIRST;
    loop {
        if record().await {
            return true;
        }
        let mut stopping = stopping.clone();
        tokio::select! {
            _ = stopping.wait_for(|stop| *stop) => return false,
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(RETRY_MAX);
    }
}

/// What Telegram asks before it charges, for the dialogue.
pub(super) fn pre_checkout_report(query: &PreCheckoutQuery) -> PreCheckoutReport {
    PreCheckoutReport {
        payer_telegram_user_id: i64::try_from(query.from.id.0).unwrap_or(-1),
        language_code: query.from.language_code.clone(),
        payload: query.invoice_payload.clone(),
        currency: query.currency.clone(),
        total_amount: i64::from(query.total_amount),
    }
}

/// Answers a pre-checkout query with the dialogue's verdict, `None` when it did not come in
/// time (refused then too: silence would leave the shopper's payment sheet spinning).
pub(super) async fn answer_pre_checkout(
    bot: &Bot,
    settings: &Settings,
    query: &PreCheckoutQuery,
    verdict: Option<Result<(), String>>,
) {
    let verdict = verdict.unwrap_or_else(|| {
        Err(
            Texts::for_language(settings, query.from.language_code.as_deref())
                .get("payment_refused_busy")
                .to_owned(),
        )
    });
    let mut answer = bot.answer_pre_checkout_query(query.id.clone(), verdict.is_ok());
    answer.error_message = verdict.err();
    if let Err(error) = send::with_retry(answer).await {
        let error = send::describe(&error);
        tracing::warn!(%error, "could not answer a pre-checkout query");
    }
}

/// Sends the invoice of an order awaiting payment; if Telegram refuses it (a provider token
/// revoked in @BotFather, say), the shopper is told the order waits in /orders.
pub(super) async fn send_invoice(
    bot: &Bot,
    settings: &Settings,
    chat_id: ChatId,
    invoice: Invoice,
) {
    let prices: Option<Vec<LabeledPrice>> = invoice
        .prices
        .iter()
        .map(|(label, amount)| {
            Some(LabeledPrice {
                label: label.clone(),
                amount: u32::try_from(*amount).ok()?,
            })
        })
        .collect();
    let sent = match prices {
        Some(prices) => {
            let mut request = bot.send_invoice(
                chat_id,
                invoice.title,
                invoice.description,
                invoice.payload,
                invoice.currency.clone(),
                prices,
            );
            // Stars take no provider token; every other currency goes through the provider.
            if invoice.currency != STARS {
                request.provider_token = settings
                    .payments
                    .provider_token
                    .as_ref()
                    .map(|token| token.expose().to_owned());
            }
            send::with_retry(request)
                .await
                .map(|_| ())
                .map_err(|error| send::describe(&error))
        }
        None => Err("an invoice line is beyond Telegram's amounts".to_owned()),
    };
    if let Err(error) = sent {
        tracing::error!(
            %error,
            order = invoice.order_id,
            chat_id = chat_id.0,
            "could not send an invoice; the order waits for payment until it expires"
        );
        let texts = Texts::for_language(settings, None);
        let text = texts.fill(
            "invoice_not_sent",
            &[("order", &invoice.order_id.to_string())],
        );
        if let Err(error) = send::with_retry(bot.send_message(chat_id, text)).await {
            let error = send::describe(&error);
            tracing::warn!(%error, "could not say that the invoice was not sent");
        }
    }
}

/// What `refundStarPayment` came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StarRefund {
    Refunded,
    /// Telegram had refunded this charge before (an earlier refund whose record was lost).
    AlreadyRefunded,
}

/// Returns a Stars payment to its payer through Telegram (`refundStarPayment`).
pub async fn refund_star_payment(
    settings: &Settings,
    payer_telegram_user_id: i64,
    telegram_charge_id: &str,
) -> Result<StarRefund, TelegramError> {
    let user = teloxide::types::UserId(u64::try_from(payer_telegram_user_id).unwrap_or_default());
    let request = bot(&settings.telegram)?.refund_star_payment(
        user,
        teloxide::types::TelegramTransactionId(telegram_charge_id.to_owned()),
    );
    match send::with_retry(request).await {
        Ok(_) => Ok(StarRefund::Refunded),
        Err(teloxide::RequestError::Api(refusal))
            if refusal.to_string().contains("CHARGE_ALREADY_REFUNDED") =>
        {
            Ok(StarRefund::AlreadyRefunded)
        }
        Err(error) => Err(error.into()),
    }
}
