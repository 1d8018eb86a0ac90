//! The Telegram adapter: the only module that touches teloxide. It turns updates into
//! [`Input`]s for a [`Dialogue`] and the dialogue's [`Outcome`]s into Bot API calls, by long
//! polling or behind a webhook. It decides nothing about the shop, never lets a panic reach
//! teloxide's dispatcher, never logs the token, and never registers or deletes the webhook on
//! its own (that is [`set_webhook`] / [`delete_webhook`], for the admin tool).
//!
//! Each endpoint of [`schema`] is "extract → ask the dialogue → render": `input` reads
//! updates, `send` delivers outcomes (splitting, editing, retrying), `polling` guards
//! teloxide's long polling, `webhook` is the HTTP side of webhook mode and `health` its
//! `/healthz` report.

mod client;
mod excerpt;
mod health;
mod input;
mod outbox;
mod payments;
mod polling;
mod render;
mod send;
mod webhook;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use teloxide::dispatching::{Dispatcher, UpdateHandler};
use teloxide::error_handlers::LoggingErrorHandler;
use teloxide::prelude::*;
use teloxide::stop::StopToken;
use teloxide::types::{CallbackQuery, Message};
use teloxide::update_listeners::webhooks;
use teloxide::update_listeners::{Polling, UpdateListener};

pub use client::{TelegramError, bot};
pub use outbox::run_sender as run_outbox_sender;
pub use payments::{PRE_CHECKOUT_DEADLINE, StarRefund, refund_star_payment};
pub use render::{MAX_MESSAGE_LENGTH, split_text};
pub use webhook::{
    HEALTH_DB_TIMEOUT, HEALTH_PATH, Health, LastRecompute, MAX_BODY_BYTES, WebhookConfigError,
};

use crate::conversation::callback::Callback;
use crate::conversation::merchant;
use crate::conversation::payment::{PaymentReport, PreCheckoutReport};
use crate::conversation::texts::Texts;
use crate::conversation::{Conversation, Input, Outcome, TelegramUser};
use storebot_config::Settings;
use storebot_config::{TelegramMode, TelegramSettings};

/// Telegram refuses a longer text on a button press's answer (and the press then spins on).
const MAX_NOTICE_LENGTH: usize = 200;

/// How long one `getUpdates` waits for news before asking again.
const POLL_TIMEOUT: Duration = Duration::from_secs(10);

/// What the adapter drives: the shopper dialogue, or a scripted stand-in in tests and
/// benchmarks.
pub trait Dialogue: Send + Sync + 'static {
    /// Handles one update from `sender` at `now`. It must not fail: what goes wrong is the
    /// dialogue's to log and to apologise for.
    fn handle(
        &self,
        sender: &TelegramUser,
        input: Input,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Outcome> + Send;

    /// Whether the dialogue can serve (its database answers).
    fn ready(&self) -> impl Future<Output = bool> + Send;

    /// Whether update `update_id` arrives for the first time, claiming it: a second delivery
    /// of the same id (Telegram's redelivery, or a webhook post that reached two instances)
    /// is then skipped. A dialogue without memory of updates takes them all.
    fn first_delivery(&self, update_id: i64) -> impl Future<Output = bool> + Send {
        let _ = update_id;
        async { true }
    }

    /// Handles update `update_id` unless it was delivered before (then `None`, with nothing
    /// done): by default [`Dialogue::first_delivery`], then [`Dialogue::handle`]. A dialogue
    /// may claim the update together with its own first write instead.
    fn handle_update(
        &self,
        update_id: i64,
        sender: &TelegramUser,
        input: Input,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Option<Outcome>> + Send {
        async move {
            if !self.first_delivery(update_id).await {
                return None;
            }
            Some(self.handle(sender, input, now).await)
        }
    }

    /// The answer to Telegram's pre-checkout query: `Ok` approves the payment, `Err` refuses
    /// it with a sentence for the shopper. A dialogue that takes no payments refuses.
    fn pre_checkout(
        &self,
        query: &PreCheckoutReport,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), String>> + Send {
        let _ = (query, now);
        async { Err("This shop takes no payments in the chat.".to_owned()) }
    }

    /// Records a reported payment durably before its update is confirmed to Telegram: true
    /// once it is recorded (now or before), false if it must be taken again.
    fn record_payment(
        &self,
        report: &PaymentReport,
        now: DateTime<Utc>,
    ) -> impl Future<Output = bool> + Send {
        let _ = (report, now);
        async { true }
    }

    /// The `successful_payment` message, handled after [`Dialogue::record_payment`]: what to
    /// tell the merchant chats, the first time only.
    fn paid(
        &self,
        report: &PaymentReport,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Outcome> + Send {
        let _ = (report, now);
        async { Outcome::default() }
    }

    /// Handles update `update_id` from merchant chat `chat_id` (a press on an order card,
    /// `/orders`) unless it was delivered before (then `None`). By default it is claimed and
    /// answered with nothing: a scripted dialogue has no merchant side.
    fn handle_merchant_update(
        &self,
        update_id: i64,
        chat_id: i64,
        sender: &TelegramUser,
        input: Input,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Option<Outcome>> + Send {
        let _ = (chat_id, sender, input, now);
        async move {
            if !self.first_delivery(update_id).await {
                return None;
            }
            Some(Outcome::default())
        }
    }

    /// Telegram took the photo `source` and gave it `file_id`: send that from now on. By
    /// default nothing is kept.
    fn image_sent(&self, source: &str, file_id: &str) -> impl Future<Output = ()> + Send {
        let _ = (source, file_id);
        async {}
    }

    /// Telegram refused the photo `source` (`error` in its words): show its product as text
    /// from now on. By default nothing is kept.
    fn image_refused(&self, source: &str, error: &str) -> impl Future<Output = ()> + Send {
        let _ = (source, error);
        async {}
    }

    /// Webhook mode's `/healthz` report. By default, [`Dialogue::ready`] alone, with no
    /// recompute run.
    fn health(&self) -> impl Future<Output = Health> + Send {
        async move { Health::new(self.ready().await, None) }
    }
}

impl Dialogue for Conversation {
    async fn handle(&self, sender: &TelegramUser, input: Input, now: DateTime<Utc>) -> Outcome {
        Conversation::handle(self, sender, input, now).await
    }

    /// The claim and the interaction's record in one round trip (`store::shoppers::arrival`).
    async fn handle_update(
        &self,
        update_id: i64,
        sender: &TelegramUser,
        input: Input,
        now: DateTime<Utc>,
    ) -> Option<Outcome> {
        Conversation::handle_update(self, update_id, sender, input, now).await
    }

    async fn pre_checkout(
        &self,
        query: &PreCheckoutReport,
        now: DateTime<Utc>,
    ) -> Result<(), String> {
        Conversation::pre_checkout(self, query, now).await
    }

    async fn record_payment(&self, report: &PaymentReport, now: DateTime<Utc>) -> bool {
        Conversation::record_payment(self, report, now).await
    }

    async fn paid(&self, report: &PaymentReport, now: DateTime<Utc>) -> Outcome {
        Conversation::paid(self, report, now).await
    }

    async fn handle_merchant_update(
        &self,
        update_id: i64,
        chat_id: i64,
        sender: &TelegramUser,
        input: Input,
        now: DateTime<Utc>,
    ) -> Option<Outcome> {
        Conversation::handle_merchant(self, Some(update_id), chat_id, sender, input, now).await
    }

    async fn image_sent(&self, source: &str, file_id: &str) {
        let recorded =
            crate::store::catalog::images::record_file_id(&self.db, source, file_id, Utc::now())
                .await;
        if let Err(error) = recorded {
            tracing::warn!(%error, source, "could not keep a photo's file_id; it is uploaded again next time");
        }
    }

    async fn image_refused(&self, source: &str, error: &str) {
        match crate::store::catalog::images::record_refusal(&self.db, source, error, Utc::now())
            .await
        {
            // Logged once: afterwards the product shows as text and `lint` lists it.
            Ok(true) => tracing::warn!(
                source,
                error,
                "Telegram refused a product photo; the product shows as text until it is fixed"
            ),
            Ok(false) => {}
            Err(store_error) => {
                tracing::error!(%store_error, source, error, "could not record a refused photo");
            }
        }
    }

    async fn ready(&self) -> bool {
        health::database_answers(&self.db).await
    }

    async fn first_delivery(&self, update_id: i64) -> bool {
        match crate::store::shoppers::processed_updates::claim(&self.db, update_id, Utc::now())
            .await
        {
            Ok(first) => first,
            // The handling will meet the same failure and apologise; better that than silence.
            Err(error) => {
                tracing::warn!(%error, update_id, "could not record an update; handling it");
                true
            }
        }
    }

    async fn health(&self) -> Health {
        health::report(&self.db).await
    }
}

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
async fn take_payment<D: Dialogue>(dialogue: &D, update: &Update) -> bool {
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

/// Serves the bot until `shutdown` resolves, then finishes the updates in hand and returns:
/// long polling by default, or the webhook server when `telegram.mode = "webhook"`.
pub async fn serve<D: Dialogue>(
    settings: Arc<Settings>,
    dialogue: D,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let telegram = &settings.telegram;
    let bot = bot(telegram)?;
    let dialogue = Arc::new(dialogue);
    // In the background: the menu of commands is a convenience, and the shop serves without it.
    tokio::spawn(register_commands(bot.clone(), Arc::clone(&settings)));
    let mut dispatcher = Dispatcher::builder(bot.clone(), schema::<D>())
        .dependencies(dptree::deps![Arc::clone(&dialogue), Arc::clone(&settings)])
        .default_handler(|update| async move {
            tracing::debug!(
                update_id = update.id.0,
                "an update the shop does not use; ignored"
            );
        })
        .error_handler(LoggingErrorHandler::with_custom_text(
            "a Telegram update failed",
        ))
        .build();
    // Shutdown stops the update listener rather than going through the dispatcher's
    // `ShutdownToken`: that token wakes the dispatcher with `Notify::notify_waiters`, which is
    // lost when it arrives while an update is being handed out, leaving the bot running after
    // SIGTERM. A stopped listener ends its stream, and the dispatcher then finishes the updates
    // in hand and returns.
    let served = match telegram.mode {
        TelegramMode::Polling => {
            tracing::info!("receiving updates by long polling");
            let (stopping, stopped) = tokio::sync::watch::channel(false);
            let intake: polling::Intake = {
                let dialogue = Arc::clone(&dialogue);
                Arc::new(move |update: Update| {
                    let dialogue = Arc::clone(&dialogue);
                    Box::pin(async move { take_payment(&*dialogue, &update).await })
                })
            };
            let mut listener = polling::GuardedPolling::new(
                Polling::builder(bot).timeout(POLL_TIMEOUT).build(),
                intake,
                stopped,
            );
            let revoked = listener.revoked();
            // Shutdown also ends a payment's patient recording, unconfirmed (see `payments`).
            let shutdown = async move {
                shutdown.await;
                let _ = stopping.send(true);
            };
            let stopper = tokio::spawn(stop_on(shutdown, listener.stop_token()));
            let dispatched = dispatcher
                .try_dispatch_with_listener(
                    listener,
                    LoggingErrorHandler::with_custom_text("getting updates failed"),
                )
                .await
                .map_err(TelegramError::from);
            stopper.abort();
            // Polling stopped because Telegram refused the token (revoked while running): the
            // updates in hand are done; the bot stops with the error it gives at start.
            let refused = revoked
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
            match refused {
                Some(error) => Err(TelegramError::from(error)),
                None => dispatched,
            }
        }
        TelegramMode::Webhook => serve_webhook(telegram, &mut dispatcher, dialogue, shutdown).await,
    };
    served?;
    tracing::info!("stopped receiving updates; the updates in hand are done");
    Ok(())
}

async fn serve_webhook<D: Dialogue>(
    telegram: &TelegramSettings,
    dispatcher: &mut Dispatcher<Bot, std::convert::Infallible, teloxide::dispatching::DefaultKey>,
    dialogue: Arc<D>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), TelegramError> {
    let secret = webhook::check_secret(
        telegram
            .webhook
            .secret_token
            .as_ref()
            .map(storebot_config::Secret::expose),
    )?;
    let path = webhook::check_path(&telegram.webhook.path)?;
    let listen = telegram.webhook.listen;
    // teloxide wants the public address, though without setting the webhook it never uses it.
    let public_url = match &telegram.webhook.url {
        Some(url) => url.clone(),
        None => url::Url::parse(&format!("http://{listen}{path}"))
            .map_err(|_| WebhookConfigError::BadPath(path.to_owned()))?,
    };
    let options = webhooks::Options::new(listen, public_url)
        .path(path.to_owned())
        .secret_token(secret.to_owned());
    let (mut listener, stopped, updates) = webhooks::axum_no_setup(options);
    let health = {
        let dialogue = Arc::clone(&dialogue);
        move || {
            let dialogue = Arc::clone(&dialogue);
            async move { dialogue.health().await }
        }
    };
    // A payment is recorded before its post is answered 200; if it can't be, Telegram is
    // answered 503 and posts it again.
    let intake = move |update: Update| {
        let dialogue = Arc::clone(&dialogue);
        async move { take_payment(&*dialogue, &update).await }
    };
    let app = webhook::router(updates, secret, health, intake);
    // Bind first, so a taken port is an error at start rather than a silent bot.
    let tcp = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| TelegramError::Listen {
            addr: listen,
            source,
        })?;
    tracing::info!(%listen, path, "receiving updates by webhook");
    let server =
        tokio::spawn(async move { axum::serve(tcp, app).with_graceful_shutdown(stopped).await });
    // Stopping the listener also ends the server's graceful shutdown (`stopped`).
    let stopper = tokio::spawn(stop_on(shutdown, listener.stop_token()));
    let dispatched = dispatcher
        .try_dispatch_with_listener(
            listener,
            LoggingErrorHandler::with_custom_text("receiving a webhook update failed"),
        )
        .await;
    stopper.abort();
    if let Err(error) = dispatched {
        // The dispatcher never started (getMe failed), so nothing will stop the server.
        server.abort();
        return Err(error.into());
    }
    // The dispatcher returns only once the server has stopped and dropped its update sender.
    match server.await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::error!(%error, "the webhook server failed"),
        Err(error) => tracing::error!(%error, "the webhook server task failed"),
    }
    Ok(())
}

/// Registers the commands of the `commands` text with Telegram: the store's default language
/// for everyone, and each other configured language for its speakers. One try each; a failure
/// is logged and the bot serves on (the commands still work when typed).
async fn register_commands(bot: Bot, settings: Arc<Settings>) {
    let default = settings.store.default_language.to_lowercase();
    let mut languages: Vec<Option<String>> = vec![None];
    languages.extend(
        settings
            .texts
            .iter()
            .filter(|(code, texts)| **code != default && texts.contains_key("commands"))
            .map(|(code, _)| Some(code.clone())),
    );
    for language in languages {
        let texts = Texts::for_language(&settings, language.as_deref());
        let commands: Vec<teloxide::types::BotCommand> =
            crate::conversation::texts::commands(texts.get("commands"))
                .into_iter()
                .map(|(name, description)| teloxide::types::BotCommand::new(name, description))
                .collect();
        let mut request = bot.set_my_commands(commands);
        request.language_code = language.clone();
        if let Err(error) = request.send().await {
            let error = send::describe(&error);
            tracing::warn!(%error, language = ?language, "could not register the bot's commands");
        }
    }
}

/// Waits for `shutdown`, then stops the update listener: no new updates are taken, and the
/// dispatcher returns once the ones in hand are done.
async fn stop_on(shutdown: impl Future<Output = ()> + Send + 'static, listener: StopToken) {
    shutdown.await;
    tracing::info!("shutting down: no new updates; finishing the ones in hand");
    listener.stop();
}

/// What Telegram knows of the webhook (`getWebhookInfo`), in the shop's own terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookStatus {
    /// The registered address; `None` when the bot is on long polling.
    pub url: Option<String>,
    pub pending_update_count: u32,
    pub max_connections: Option<u32>,
    /// When and why Telegram's last delivery failed.
    pub last_error: Option<(DateTime<Utc>, String)>,
}

/// Registers `telegram.webhook.url` with Telegram, with the secret token it will send along.
/// Pending updates are kept.
pub async fn set_webhook(settings: &Settings) -> Result<(), TelegramError> {
    let telegram = &settings.telegram;
    let secret = webhook::check_secret(
        telegram
            .webhook
            .secret_token
            .as_ref()
            .map(storebot_config::Secret::expose),
    )?;
    let url = telegram
        .webhook
        .url
        .clone()
        .ok_or(TelegramError::MissingWebhookUrl)?;
    let mut request = bot(telegram)?.set_webhook(url);
    request.secret_token = Some(secret.to_owned());
    send::with_retry(request).await?;
    Ok(())
}

/// Removes the webhook, so that long polling works again. Pending updates are kept.
pub async fn delete_webhook(settings: &Settings) -> Result<(), TelegramError> {
    send::with_retry(bot(&settings.telegram)?.delete_webhook()).await?;
    Ok(())
}

/// What Telegram reports about the webhook.
pub async fn webhook_info(settings: &Settings) -> Result<WebhookStatus, TelegramError> {
    let info = send::with_retry(bot(&settings.telegram)?.get_webhook_info()).await?;
    Ok(WebhookStatus {
        url: info.url.map(|url| url.to_string()),
        pending_update_count: info.pending_update_count,
        max_connections: info.max_connections,
        last_error: info.last_error_date.zip(info.last_error_message),
    })
}
