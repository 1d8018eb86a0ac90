//! The handler tree ([`schema`]) and its endpoints: each one extracts what an update carries,
//! asks the dialogue on a task of its own (so a panic in it never reaches teloxide's
//! dispatcher), and delivers the outcome.

use std::future::Future;
use std::sync::Arc;

use chrono::Utc;
use storebot_config::Settings;
use teloxide::dispatching::UpdateHandler;
use teloxide::prelude::*;
use teloxide::types::{CallbackQuery, Message};

use super::dialogue::Dialogue;
use super::payments::PRE_CHECKOUT_DEADLINE;
use super::{input, payments, send};
use crate::conversation::callback::Callback;
use crate::conversation::merchant;
use crate::conversation::texts::Texts;
use crate::conversation::{Input, Outcome, TelegramUser};

/// Telegram refuses a longer text on a button press's answer (and the press then spins on).
const MAX_NOTICE_LENGTH: usize = 200;

/// The handler tree: messages, button presses and pre-checkout queries go to the dialogue;
/// other updates are ignored.
pub fn schema<D: Dialogue>() -> UpdateHandler<std::convert::Infallible> {
    dptree::entry()
        .branch(Update::filter_message().endpoint(on_message::<D>))
        .branch(Update::filter_callback_query().endpoint(on_button::<D>))
        .branch(Update::filter_pre_checkout_query().endpoint(on_pre_checkout::<D>))
}

type Handled = Result<(), std::convert::Infallible>;

async fn on_message<D: Dialogue>(
    bot: Bot,
    update: Update,
    message: Message,
    dialogue: Arc<D>,
    settings: Arc<Settings>,
) -> Handled {
    // `/orders` in a merchant chat lists the shop's open orders, not the sender's own.
    if let (Some(user), Some(Input::Text(text))) =
        (message.from.as_ref(), input::message_input(&message))
        && settings
            .telegram
            .merchant_chats
            .contains(&message.chat.id.0)
        && merchant::is_merchant_command(&text)
    {
        if !merchant::may_act(&settings, message.chat.id.0, user_id(user)) {
            tracing::warn!(
                telegram_user_id = user.id.0,
                chat_id = message.chat.id.0,
                "refused /orders from someone not in telegram.merchant_users"
            );
            return Ok(());
        }
        let Some(sender) = input::sender(user, message.chat.id) else {
            return Ok(());
        };
        if let Some(outcome) = ask_merchant(&dialogue, &update, sender, Input::Text(text)).await {
            send::deliver(&bot, dialogue.as_ref(), message.chat.id, None, outcome).await;
        }
        return Ok(());
    }
    // The shop talks to shoppers in private; merchant groups only receive notifications.
    if !message.chat.is_private() {
        return Ok(());
    }
    // Recorded already by the listener, before the update was confirmed (`payments`).
    if let Some(report) = payments::payment_report(&message) {
        let payer = Arc::clone(&dialogue);
        let handled = tokio::spawn(async move { payer.paid(&report, Utc::now()).await });
        match handled.await {
            Ok(outcome) => {
                send::deliver(&bot, dialogue.as_ref(), message.chat.id, None, outcome).await
            }
            Err(error) => tracing::error!(%error, "the dialogue failed on a payment"),
        }
        return Ok(());
    }
    let (Some(user), Some(input)) = (message.from.as_ref(), input::message_input(&message)) else {
        return Ok(());
    };
    let Some(sender) = input::sender(user, message.chat.id) else {
        return Ok(());
    };
    if let Asked::Handled(outcome) = ask(&dialogue, &update, sender, input).await {
        deliver(
            &bot,
            dialogue.as_ref(),
            &settings,
            message.chat.id,
            None,
            outcome,
        )
        .await;
    }
    Ok(())
}

async fn on_button<D: Dialogue>(
    bot: Bot,
    update: Update,
    query: CallbackQuery,
    dialogue: Arc<D>,
    settings: Arc<Settings>,
) -> Handled {
    let press = input::press(&query);
    if let Some(press) = press.as_ref().filter(|press| is_merchant_press(press)) {
        merchant_press(&bot, &update, &query, press, &dialogue, &settings).await;
        return Ok(());
    }
    // Shopper screens go only to the shopper's private chat: a press on a shop message
    // forwarded to (or posted in) a group or channel would answer there, and record the
    // group as the shopper's chat. Refused with a sentence; nothing changes.
    if let Some(press) = press.as_ref().filter(|press| !press.in_private) {
        tracing::warn!(
            telegram_user_id = query.from.id.0,
            chat_id = press.chat_id.0,
            "refused a button press outside the private chat"
        );
        let texts = Texts::for_language(&settings, query.from.language_code.as_deref());
        let mut answer = bot.answer_callback_query(query.id.clone());
        answer.text = Some(texts.get("private_chat_only").to_owned());
        if let Err(error) = send::with_retry(answer).await {
            let error = send::describe(&error);
            tracing::warn!(%error, "could not answer a button press");
        }
        return Ok(());
    }
    let sender = press
        .as_ref()
        .and_then(|press| input::sender(&query.from, press.chat_id));
    // A press delivered again was answered the first time; answering it twice only fails.
    let asked = match (&press, sender) {
        (Some(press), Some(sender)) => {
            match ask(&dialogue, &update, sender, press.input.clone()).await {
                Asked::Handled(outcome) => Some(outcome),
                Asked::Repeat => return Ok(()),
                Asked::Failed => None,
            }
        }
        // Nothing for the dialogue, but the press is still answered once.
        _ => {
            if !first_delivery(&dialogue, &update).await {
                return Ok(());
            }
            None
        }
    };
    // Every press is answered, or the shopper's client shows a spinner for seconds.
    let mut answer = bot.answer_callback_query(query.id.clone());
    answer.text = asked
        .as_ref()
        .and_then(|outcome| outcome.notice.as_deref())
        .map(|notice| notice.chars().take(MAX_NOTICE_LENGTH).collect());
    if let Err(error) = send::with_retry(answer).await {
        let error = send::describe(&error);
        tracing::warn!(%error, "could not answer a button press");
    }
    if let (Some(press), Some(outcome)) = (press, asked) {
        deliver(
            &bot,
            dialogue.as_ref(),
            &settings,
            press.chat_id,
            pressed(&press),
            outcome,
        )
        .await;
    }
    Ok(())
}

/// Answers a pre-checkout query within Telegram's limit: approved, or refused with the
/// dialogue's sentence; refused as well when the check does not finish in time.
async fn on_pre_checkout<D: Dialogue>(
    bot: Bot,
    query: teloxide::types::PreCheckoutQuery,
    dialogue: Arc<D>,
    settings: Arc<Settings>,
) -> Handled {
    let report = payments::pre_checkout_report(&query);
    let check = tokio::spawn(async move { dialogue.pre_checkout(&report, Utc::now()).await });
    let verdict = match tokio::time::timeout(PRE_CHECKOUT_DEADLINE, check).await {
        Ok(Ok(verdict)) => Some(verdict),
        Ok(Err(error)) => {
            tracing::error!(%error, "the pre-checkout check failed; refused");
            None
        }
        Err(_) => {
            tracing::warn!(
                deadline = ?PRE_CHECKOUT_DEADLINE,
                "the pre-checkout check did not finish in time; refused"
            );
            None
        }
    };
    payments::answer_pre_checkout(&bot, &settings, &query, verdict).await;
    Ok(())
}

/// Records the payment an update carries (if any) before the update is confirmed to
/// Telegram: true once that is safe.
pub(super) async fn take_payment<D: Dialogue>(dialogue: &D, update: &Update) -> bool {
    match payments::payment_in(update) {
        Some(report) => dialogue.record_payment(&report, Utc::now()).await,
        None => true,
    }
}

/// Sends an outcome (its photos reported to the dialogue), its invoice last.
async fn deliver<D: Dialogue>(
    bot: &Bot,
    dialogue: &D,
    settings: &Settings,
    chat_id: teloxide::types::ChatId,
    pressed: Option<send::Pressed>,
    mut outcome: Outcome,
) {
    let invoice = outcome.invoice.take();
    send::deliver(bot, dialogue, chat_id, pressed, outcome).await;
    if let Some(invoice) = invoice {
        payments::send_invoice(bot, settings, chat_id, invoice).await;
    }
}

/// Delivery reports photos to the dialogue that asked for them.
impl<D: Dialogue> send::PhotoLog for D {
    fn sent(&self, source: &str, file_id: &str) -> impl Future<Output = ()> + Send {
        self.image_sent(source, file_id)
    }

    fn refused(&self, source: &str, error: &str) -> impl Future<Output = ()> + Send {
        self.image_refused(source, error)
    }
}

/// The pressed message of a press, for replies that replace it.
fn pressed(press: &input::Press) -> Option<send::Pressed> {
    press.message_id.map(|id| send::Pressed {
        id,
        photo: press.photo,
    })
}

/// A Telegram user id as the shop stores it.
fn user_id(user: &teloxide::types::User) -> i64 {
    i64::try_from(user.id.0).unwrap_or(i64::MAX)
}

/// Whether a press carries one of the merchant's buttons (an order card's move, the open
/// orders' pager): those are judged by the chat they come from, not routed to a shopper.
fn is_merchant_press(press: &input::Press) -> bool {
    matches!(&press.input, Input::Button { data }
        if data.parse::<Callback>().is_ok_and(Callback::is_merchant))
}

/// A press on a merchant's button: acted on only in a merchant chat by a merchant user;
/// anyone else's is refused with a sentence and logged, and changes nothing.
async fn merchant_press<D: Dialogue>(
    bot: &Bot,
    update: &Update,
    query: &CallbackQuery,
    press: &input::Press,
    dialogue: &Arc<D>,
    settings: &Settings,
) {
    let chat_id = press.chat_id.0;
    let outcome = if merchant::may_act(settings, chat_id, user_id(&query.from)) {
        let Some(sender) = input::sender(&query.from, press.chat_id) else {
            return;
        };
        match ask_merchant(dialogue, update, sender, press.input.clone()).await {
            Some(outcome) => Some(outcome),
            // Delivered before: that delivery answered it.
            None => return,
        }
    } else {
        tracing::warn!(
            telegram_user_id = query.from.id.0,
            chat_id,
            "refused a merchant's button pressed outside the merchant chats or by someone not \
             in telegram.merchant_users"
        );
        None
    };
    let texts = Texts::for_language(settings, None);
    let notice = match &outcome {
        Some(outcome) => outcome.notice.clone(),
        None => Some(texts.get("merchant_only").to_owned()),
    };
    let mut answer = bot.answer_callback_query(query.id.clone());
    answer.text = notice.map(|notice| notice.chars().take(MAX_NOTICE_LENGTH).collect());
    if let Err(error) = send::with_retry(answer).await {
        let error = send::describe(&error);
        tracing::warn!(%error, "could not answer a button press");
    }
    if let Some(outcome) = outcome {
        send::deliver(
            bot,
            dialogue.as_ref(),
            press.chat_id,
            pressed(press),
            outcome,
        )
        .await;
    }
}

/// [`ask`] for a merchant chat's update: `None` when it was delivered before or the dialogue
/// failed (logged).
async fn ask_merchant<D: Dialogue>(
    dialogue: &Arc<D>,
    update: &Update,
    sender: TelegramUser,
    input: Input,
) -> Option<Outcome> {
    let dialogue = Arc::clone(dialogue);
    let update_id = i64::from(update.id.0);
    let now = Utc::now();
    let chat_id = sender.chat_id;
    let handled = tokio::spawn(async move {
        dialogue
            .handle_merchant_update(update_id, chat_id, &sender, input, now)
            .await
    });
    match handled.await {
        Ok(Some(outcome)) => Some(outcome),
        Ok(None) => {
            log_repeat(update_id);
            None
        }
        Err(error) => {
            tracing::error!(%error, chat_id, "the dialogue failed on a merchant's update");
            None
        }
    }
}

/// Whether `update` is new to the dialogue; a repeat is logged and skipped.
async fn first_delivery<D: Dialogue>(dialogue: &Arc<D>, update: &Update) -> bool {
    let update_id = i64::from(update.id.0);
    let first = dialogue.first_delivery(update_id).await;
    if !first {
        log_repeat(update_id);
    }
    first
}

fn log_repeat(update_id: i64) {
    tracing::info!(
        update_id,
        "an update delivered again; already handled, skipped"
    );
}

/// What became of an update given to the dialogue.
enum Asked {
    Handled(Outcome),
    /// Delivered before: skipped.
    Repeat,
    /// The dialogue panicked (logged).
    Failed,
}

/// Runs the dialogue on `update` (unless it was delivered before) on its own task, so that a
/// panic in it is logged as an error instead of killing the dispatcher's worker for this chat.
async fn ask<D: Dialogue>(
    dialogue: &Arc<D>,
    update: &Update,
    sender: TelegramUser,
    input: Input,
) -> Asked {
    let dialogue = Arc::clone(dialogue);
    let update_id = i64::from(update.id.0);
    let now = Utc::now();
    let chat_id = sender.chat_id;
    let handled =
        tokio::spawn(async move { dialogue.handle_update(update_id, &sender, input, now).await });
    match handled.await {
        Ok(Some(outcome)) => Asked::Handled(outcome),
        Ok(None) => {
            log_repeat(update_id);
            Asked::Repeat
        }
        Err(error) => {
            tracing::error!(%error, chat_id, "the dialogue failed on an update; nothing sent");
            Asked::Failed
        }
    }
}
