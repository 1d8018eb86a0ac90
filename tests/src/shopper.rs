//! Simulated shoppers for the benches (`bench_bot`, `soak`): the demo shop's journeys as
//! sequences of steps, and one step played against a [`FakeTelegram`] with its latency.
//!
//! A step is an update (a text or a button press) and the reply that ends it: the last one the
//! bot sends for that update, so that nothing of this update is left for the next step to read.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::fake_telegram::{FakeTelegram, SentMessage, TestUser};

/// What a shopper does at one step.
#[derive(Clone, Copy, Debug)]
pub enum Action {
    /// Send this text (commands included).
    Text(&'static str),
    /// Press the button with this label on the last message that matched.
    Press(&'static str),
}

/// The reply that ends a step.
#[derive(Clone, Copy, Debug)]
pub enum Until {
    /// A message or edit whose text contains this.
    Text(&'static str),
    /// A message or edit with a button labelled so.
    Button(&'static str),
    /// Any reply (a bot that answers every update with exactly one message).
    Any,
}

/// One visit to the demo shop by a new shopper, 17 updates: registration (single choice,
/// multiple choice with Done, an optional question skipped), browsing down to a variant, adding
/// it, the cart, checkout with a typed phone and address, confirming (which places the order
/// and re-evaluates the shopper's segments), a search and the order history.
pub const JOURNEY: &[(Action, Until)] = &[
    (Action::Text("/start"), Until::Text("How old are you?")),
    (
        Action::Press("18–25"),
        Until::Text("What do you like to drink?"),
    ),
    (Action::Press("Tea"), Until::Button("✓ Tea")),
    (Action::Press("Done"), Until::Text("Do you follow a diet?")),
    (Action::Press("Skip"), Until::Text("Main menu")),
    (Action::Press("Catalog"), Until::Text("Categories:")),
    (Action::Press("Tea (2)"), Until::Text("Tea:")),
    (Action::Press("Green tea"), Until::Text("Sencha")),
    (Action::Press("100 g · 4.50 EUR"), Until::Text("How many?")),
    (Action::Press("1"), Until::Text("Added 1 ×")),
    (Action::Press("Cart"), Until::Text("Your cart:")),
    (Action::Press("Checkout"), Until::Text("phone number")),
    (
        Action::Text("+44 20 7946 0000"),
        Until::Text("Where should we deliver?"),
    ),
    (
        Action::Text("1 High Street, London"),
        Until::Text("Please check your order"),
    ),
    (Action::Press("Confirm order"), Until::Text("Main menu")),
    (Action::Text("sencha"), Until::Text("Found for")),
    (Action::Text("/orders"), Until::Text("Your orders:")),
];

/// A registered shopper coming back to look around, 6 updates, none of which writes more than
/// the interaction time and the dialogue state: the catalog down to a product, a search, the
/// order history and the main menu.
pub const BROWSE: &[(Action, Until)] = &[
    (Action::Text("/catalog"), Until::Text("Categories:")),
    (Action::Press("Tea (2)"), Until::Text("Tea:")),
    (Action::Press("Green tea"), Until::Text("Sencha")),
    (Action::Text("green"), Until::Text("Found for")),
    (Action::Text("/orders"), Until::Text("Your orders:")),
    (Action::Text("/menu"), Until::Text("Main menu")),
];

/// Plays one step for `user`: sends the text or presses `label` (or `press_instead`, for a bot
/// with other labels) on `last`, then reads replies until one matches `until`, which becomes
/// `last`. Returns the time from the update being pushed to that reply being seen.
pub async fn play_step(
    fake: &FakeTelegram,
    user: &TestUser,
    (action, until): (Action, Until),
    last: &mut Option<SentMessage>,
    press_instead: Option<&str>,
    timeout: Duration,
) -> anyhow::Result<Duration> {
    let pushed = Instant::now();
    match action {
        Action::Text(text) => {
            fake.send_text(user, text);
        }
        Action::Press(label) => {
            let Some(message) = last.as_ref() else {
                bail!("nothing to press {label:?} on");
            };
            fake.press(user, message, press_instead.unwrap_or(label))?;
        }
    }
    loop {
        let reply = fake
            .next_reply(user.chat_id(), timeout)
            .await
            .with_context(|| format!("waiting for {until:?} after {action:?}"))?;
        let done = match until {
            Until::Text(part) => reply.visible_text().contains(part),
            Until::Button(label) => reply.button(label).is_some(),
            Until::Any => true,
        };
        if done {
            *last = Some(reply);
            return Ok(pushed.elapsed());
        }
    }
}

/// The `fraction` percentile (0.5 for the median) of sorted durations; zero when empty.
pub fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Milliseconds with one decimal, for tables.
pub fn millis(duration: Duration) -> String {
    format!("{:.1}", duration.as_secs_f64() * 1000.0)
}

/// The demo shop (`store::operations::demo::seed`, two months of history), with stock enough for every
/// simulated shopper's order: the benches measure the dialogue, not a sold-out shop.
pub async fn demo_shop(db: &sea_orm::DatabaseConnection) -> anyhow::Result<()> {
    use sea_orm::EntityTrait;
    use sea_orm::sea_query::Expr;

    storebot::store::operations::demo::seed(db, chrono::Utc::now() - chrono::Duration::days(60))
        .await?;
    storebot_entity::variant::Entity::update_many()
        .col_expr(
            storebot_entity::variant::Column::Stock,
            Expr::value(1_000_000),
        )
        .exec(db)
        .await?;
    Ok(())
}
