//! One update's worth of dialogue: records the interaction, loads the shopper's state and
//! segments, routes the input, and saves the state again if it changed.
//!
//! ```text
//! any update  → record first/last interaction, and read the state, the next question and the
//!               segments in force (one statement: `store::shoppers::arrival`)
//!             → an unanswered question? ask it (registration comes before anything else)
//!             → else route: /start, /menu, /catalog, /search, /cart, /orders, /profile,
//!               a typed search, a phone or address during checkout, a button press, or a
//!               message it can't read (a photo, a sticker: a hint and the menu)
//! ```
//!
//! Routing never trusts button data: a press that doesn't parse, or names something the
//! shopper may not see or own, gets a polite notice, a warning in the log, and no change.

use crate::store::shoppers::customers::Customer;
use chrono::{DateTime, Utc};

use super::callback::Callback;
use super::state::{State, Step};
use super::texts::{self, Texts};
use super::{Button, Conversation, Input, Markup, Outcome, Reply, TelegramUser};
use crate::segments::Context;
use crate::store::catalog::images;
use crate::store::{self, StoreError, shoppers::answers, shoppers::arrival, shoppers::dialogue};

pub(super) type Flow = Result<(), StoreError>;

/// Everything one update needs, and the outcome it builds up.
pub(super) struct Session<'a> {
    pub conv: &'a Conversation,
    pub sender: &'a TelegramUser,
    pub customer: Customer,
    pub now: DateTime<Utc>,
    pub texts: Texts<'a>,
    pub state: State,
    pub segments: Vec<i64>,
    pub out: Outcome,
    /// The update is a button press, so the first screen may replace the pressed message.
    pub pressed: bool,
}

/// Handles `input`; with `update_id`, only if that Telegram update is new (`None` if not).
pub(super) async fn handle(
    conv: &Conversation,
    update_id: Option<i64>,
    sender: &TelegramUser,
    input: Input,
    now: DateTime<Utc>,
) -> Result<Option<Outcome>, StoreError> {
    let db = &conv.db;
    // One statement: the interaction recorded, with the state, the next question and the
    // segments in force read back in its `RETURNING`, with the update claimed in the same
    // round trip.
    let arrival = match update_id {
        Some(update_id) => match arrival::claim_and_record(db, update_id, sender, now).await? {
            Some(arrival) => arrival,
            None => return Ok(None),
        },
        None => arrival::record(db, sender, now).await?,
    };
    let (customer, stored, segments) = (arrival.customer, arrival.state, arrival.segments);
    let state = stored.as_deref().map(State::from_json).unwrap_or_default();
    let texts = Texts::for_language(&conv.settings, customer.language_code.as_deref());
    let mut session = Session {
        conv,
        sender,
        customer,
        now,
        texts,
        state,
        segments,
        out: Outcome::default(),
        pressed: matches!(input, Input::Button { .. }),
    };
    session.route(input, arrival.next_question).await?;
    let saved = session.state.to_json();
    if stored.as_deref() != Some(saved.as_str()) {
        dialogue::save(db, session.customer.id, &saved, now).await?;
    }
    Ok(Some(session.out))
}

impl Session<'_> {
    pub fn db(&self) -> &store::DatabaseConnection {
        &self.conv.db
    }

    pub fn currency(&self) -> &str {
        &self.conv.settings.store.currency
    }

    pub fn money(&self, minor: i64) -> String {
        texts::money(minor, &self.conv.settings.store.currency)
    }

    pub fn t(&self, key: &'static str) -> String {
        self.texts.get(key).to_owned()
    }

    pub fn fill(&self, key: &'static str, values: &[(&str, &str)]) -> String {
        self.texts.fill(key, values)
    }

    /// A message for the shopper; after a button press the first one replaces the pressed
    /// message, so that browsing doesn't pile up old keyboards.
    pub fn screen(&mut self, text: String, rows: Vec<Vec<Button>>) {
        let edit = self.pressed && self.out.replies.is_empty();
        let markup = if rows.is_empty() {
            Markup::None
        } else {
            Markup::Inline(rows)
        };
        self.out.replies.push(Reply {
            text,
            markup,
            edit,
            photo: None,
        });
    }

    /// A screen with a photo: the text becomes its caption, cut at a word to Telegram's 1,024
    /// characters with "…", with a `details` button for the whole text when it was cut. A
    /// photo Telegram refused before is left out: the screen is then the whole text.
    pub async fn photo_screen(
        &mut self,
        source: Option<&str>,
        text: String,
        mut rows: Vec<Vec<Button>>,
        details: Option<Callback>,
    ) -> Flow {
        let Some(source) = source else {
            self.screen(text, rows);
            return Ok(());
        };
        let file_id = match images::usable(self.db(), source).await? {
            images::Usable::Fresh => None,
            images::Usable::FileId(file_id) => Some(file_id),
            images::Usable::Refused => {
                self.screen(text, rows);
                return Ok(());
            }
        };
        let (caption, cut) = crate::limits::cut_at_word(&text, crate::limits::MAX_CAPTION_LENGTH);
        if let (true, Some(details)) = (cut, details) {
            rows.insert(0, vec![Button::new(self.t("details"), details)]);
        }
        let edit = self.pressed && self.out.replies.is_empty();
        let markup = if rows.is_empty() {
            Markup::None
        } else {
            Markup::Inline(rows)
        };
        self.out.replies.push(Reply {
            text: caption,
            markup,
            edit,
            photo: Some(super::Photo {
                source: source.to_owned(),
                file_id,
            }),
        });
        Ok(())
    }

    /// "Only 3 of Green tea, 100 g left" (`left` more than the cart holds, of `stock`), "you
    /// already have all 10" when the cart holds the whole stock, or "sold out" when there is
    /// none: the variant named, since a product's other sizes may well be in stock.
    pub fn stock_left(&self, left: i32, stock: i32, title: &str) -> String {
        if stock <= 0 {
            self.fill("sold_out_item", &[("title", title)])
        } else if left <= 0 {
            self.fill(
                "all_in_cart",
                &[("stock", &stock.to_string()), ("title", title)],
            )
        } else {
            self.fill(
                "not_enough_stock",
                &[("stock", &left.to_string()), ("title", title)],
            )
        }
    }

    /// A new message that never replaces the pressed one.
    pub fn say(&mut self, text: String) {
        self.out.replies.push(Reply::text(text));
    }

    pub fn say_with(&mut self, text: String, markup: Markup) {
        self.out.replies.push(Reply {
            text,
            markup,
            edit: false,
            photo: None,
        });
    }

    pub fn notice(&mut self, key: &'static str) {
        self.out.notice = Some(self.t(key));
    }

    /// Forged, stale or foreign button data: logged, answered politely, nothing changed.
    pub fn refuse(&mut self, data: &str, why: &str) {
        tracing::warn!(
            telegram_user_id = self.sender.telegram_user_id,
            data,
            why,
            "refused a button press"
        );
        self.notice("stale_button");
        if !self.pressed {
            self.say(self.t("stale_button"));
        }
    }

    pub fn back_to_menu(&self) -> Vec<Button> {
        vec![Button::new(self.t("back"), Callback::Menu)]
    }

    /// "‹ Previous" and "Next ›" around page `page` of `count` items, `per_page` a page.
    pub fn pager(
        &self,
        page: u32,
        count: usize,
        per_page: usize,
        to: impl Fn(u32) -> Callback,
    ) -> Vec<Button> {
        let mut row = Vec::new();
        if page > 0 {
            row.push(Button::new(self.t("previous_page"), to(page - 1)));
        }
        let shown = (page as usize + 1).saturating_mul(per_page);
        if shown < count {
            row.push(Button::new(self.t("next_page"), to(page.saturating_add(1))));
        }
        row
    }

    /// The segment engine's view of "now", for re-evaluating this shopper.
    pub async fn refresh_segments(&mut self) {
        let settings = &self.conv.settings;
        let context = Context {
            now: self.now,
            time_zone: settings.store.time_zone,
            counted_statuses: settings.segments.counted_statuses.iter().cloned().collect(),
        };
        // A failed refresh must not undo what the shopper just did: the next scheduled
        // recompute catches up, so it is logged and the dialogue carries on (it wrote nothing,
        // so the segments read for this update still hold).
        match store::membership::refresh::refresh_customer(self.db(), &context, self.customer.id)
            .await
        {
            // A refresh joins only segments in force, so the segments in force follow from
            // its changes without reading them again.
            Ok(changes) => {
                for change in changes {
                    if change.joined {
                        self.segments.push(change.segment_id);
                    } else {
                        self.segments.retain(|id| *id != change.segment_id);
                    }
                }
                self.segments.sort_unstable();
                self.segments.dedup();
            }
            Err(error) => {
                tracing::error!(%error, customer_id = self.customer.id, "segment refresh failed");
            }
        }
    }

    /// The commands with what each does, then the menu.
    pub fn help(&mut self) {
        let mut text = self.t("help_title");
        for (name, description) in texts::commands(self.texts.get("commands")) {
            text.push_str(&format!("\n/{name} – {description}"));
        }
        self.say(text);
        self.main_menu();
    }

    pub fn main_menu(&mut self) {
        let rows = vec![
            vec![
                Button::new(self.t("menu_catalog"), Callback::Catalog { page: 0 }),
                Button::new(self.t("menu_search"), Callback::Search),
            ],
            vec![
                Button::new(self.t("menu_cart"), Callback::Cart),
                Button::new(self.t("menu_orders"), Callback::Orders { page: 0 }),
            ],
            vec![Button::new(self.t("menu_profile"), Callback::Profile)],
        ];
        self.state.step = Step::Idle;
        self.screen(self.t("main_menu"), rows);
    }

    /// Routes `input`; `next_question` is the first unanswered question as the update found
    /// it ([`arrival::Arrival::next_question`]).
    async fn route(&mut self, input: Input, next_question: Option<i64>) -> Flow {
        let callback = match &input {
            Input::Button { data } => match data.parse::<Callback>() {
                Ok(callback) => Some(callback),
                Err(_) => {
                    self.refuse(data, "unparseable");
                    return Ok(());
                }
            },
            _ => None,
        };
        // Answers and profile edits go to registration whatever else is pending.
        if let Some(callback) = callback
            && matches!(
                callback,
                Callback::Choose { .. } | Callback::Done { .. } | Callback::Skip { .. }
            )
        {
            return self.answer(callback).await;
        }
        let unanswered = match next_question {
            None => None,
            // Archived since the statement above: look again.
            Some(id) => match answers::active_question(self.db(), id).await? {
                Some(question) => Some(question),
                None => answers::next_unanswered(self.db(), self.customer.id).await?,
            },
        };
        if let Some(question) = unanswered {
            if let Input::Text(text) = &input {
                if let Some(product) = deep_link(text) {
                    self.state.pending_product = Some(product);
                } else if text.trim_start().starts_with('/') && !is_start(text) {
                    self.state.pending_command = Some(text.trim().to_owned());
                }
                if is_start(text) && self.customer.registered_at.is_none() {
                    let welcome =
                        self.fill("welcome", &[("store", &self.conv.settings.store.name)]);
                    self.say(welcome);
                } else if !is_start(text) {
                    self.say(self.t("answer_first"));
                }
            } else if self.pressed {
                self.notice("answer_first");
            } else {
                self.say(self.t("answer_first"));
            }
            self.ask(&question, false);
            return Ok(());
        }
        let leaves_phone_prompt = match (&input, callback) {
            // The choices offered at the prompt itself keep it.
            (_, Some(Callback::UseSavedPhone { .. } | Callback::EnterAnother)) => false,
            (Input::Button { .. }, _) => true,
            (Input::Text(text), _) => text.trim_start().starts_with('/'),
            (Input::Contact { .. } | Input::Media, _) => false,
        };
        // A button or a command leaves the "how many?" prompt, so a later text is a search
        // again rather than a quantity.
        if leaves_phone_prompt && matches!(self.state.step, Step::Quantity { .. }) {
            self.state.step = Step::Idle;
        }
        if leaves_phone_prompt && matches!(self.state.step, Step::Phone { .. }) {
            // The contact keyboard would otherwise stay up under everything that follows.
            self.state.step = Step::Idle;
            self.say_with(self.t("checkout_cancelled"), Markup::RemoveKeyboard);
        }
        // Likewise a command or a button ends the wait for a coupon code; the confirmation's
        // own buttons keep working.
        if leaves_phone_prompt
            && let Step::CouponCode {
                token,
                phone,
                address,
                coupons,
                quote,
            } = self.state.step.clone()
        {
            self.state.step = Step::Confirming {
                token,
                phone,
                address,
                coupons,
                quote,
            };
        }
        match (input, callback) {
            (_, Some(callback)) => self.press(callback).await,
            (Input::Contact { phone, user_id }, _) => self.contact(phone, user_id).await,
            (Input::Text(text), _) => self.text(text).await,
            (Input::Media, _) => {
                self.media();
                Ok(())
            }
            (Input::Button { .. }, None) => Ok(()),
        }
    }

    /// A photo, sticker, voice message, location, ...: the dialogue reads only text. At a
    /// checkout prompt the prompt stays (the shopper types the answer), and a confirmation
    /// keeps its Confirm button; elsewhere the menu.
    fn media(&mut self) {
        match self.state.step {
            Step::Phone { .. } | Step::Address { .. } | Step::CouponCode { .. } => {
                self.say(self.t("media_hint_prompt"));
            }
            Step::Confirming { .. } => self.say(self.t("media_hint")),
            _ => {
                self.say(self.t("media_hint"));
                self.main_menu();
            }
        }
    }

    async fn press(&mut self, callback: Callback) -> Flow {
        // Leaving a prompt by a button cancels the prompt (but a checkout token stays valid
        // only while its confirmation is the current step).
        match callback {
            Callback::Menu => {
                self.main_menu();
                Ok(())
            }
            Callback::Catalog { page } => self.catalog(page).await,
            Callback::Category { category, page } => self.category(category, page).await,
            Callback::Product { product } => self.product(product).await,
            Callback::ProductPage { product, page } => self.product_page(product, page).await,
            Callback::Details { product } => self.product_details(product).await,
            Callback::Variant { variant } => self.variant(variant).await,
            Callback::Add { variant, quantity } => self.add(variant, quantity).await,
            Callback::OtherAmount { variant } => self.ask_amount(variant).await,
            Callback::Search => {
                self.search_prompt();
                Ok(())
            }
            Callback::SearchPage { page } => match self.state.search.clone() {
                Some(query) => self.search(&query, page).await,
                None => {
                    self.refuse(&callback.to_string(), "no search to page through");
                    Ok(())
                }
            },
            Callback::Cart => self.show_cart().await,
            Callback::Increase { variant } => self.change_quantity(variant, 1).await,
            Callback::Decrease { variant } => self.change_quantity(variant, -1).await,
            Callback::Remove { variant } => self.remove(variant).await,
            Callback::Checkout => self.checkout().await,
            Callback::Confirm { token } => self.confirm(token).await,
            Callback::CancelCheckout => {
                self.state.step = Step::Idle;
                // In place of the confirmation, so its Confirm button can't be pressed later.
                self.screen(self.t("checkout_cancelled"), Vec::new());
                self.main_menu();
                Ok(())
            }
            Callback::Coupon => self.ask_coupon(),
            Callback::UseSavedPhone { token } => self.use_saved_phone(token).await,
            Callback::UseSavedAddress { token } => self.use_saved_address(token).await,
            Callback::EnterAnother => {
                self.screen(self.t("enter_another"), Vec::new());
                Ok(())
            }
            Callback::ForgetDetails => {
                crate::store::shoppers::customers::forget_details(self.db(), self.customer.id)
                    .await?;
                self.notice("details_forgotten");
                self.profile().await
            }
            Callback::Orders { page } => self.orders(page).await,
            Callback::OrderAgain { order } => self.order_again(order).await,
            Callback::CancelUnpaid { order } => self.cancel_unpaid(order).await,
            Callback::Profile => self.profile().await,
            Callback::Change { question } => self.change_answer(question).await,
            Callback::ToggleNews => self.toggle_news().await,
            Callback::CancelOrder { order } => self.cancel_order(order).await,
            Callback::ConfirmCancelOrder { order } => self.confirm_cancel_order(order).await,
            // The merchant chats' buttons mean nothing in a shopper's chat.
            Callback::MerchantOrders { .. } | Callback::SetStatus { .. } => {
                self.refuse(
                    &callback.to_string(),
                    "a merchant's button in a shopper's chat",
                );
                Ok(())
            }
            Callback::Choose { .. } | Callback::Done { .. } | Callback::Skip { .. } => {
                self.answer(callback).await
            }
        }
    }

    pub(super) async fn text(&mut self, text: String) -> Flow {
        let trimmed = text.trim();
        if let Some(command) = trimmed.strip_prefix('/') {
            let name = command
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .split('@')
                .next()
                .unwrap_or_default();
            return match name {
                "start" => match (deep_link(trimmed), self.state.pending_product.take()) {
                    (Some(product), _) | (None, Some(product)) => self.product(product).await,
                    (None, None) => {
                        self.main_menu();
                        Ok(())
                    }
                },
                "menu" => {
                    self.main_menu();
                    Ok(())
                }
                "catalog" => self.catalog(0).await,
                "search" => {
                    self.search_prompt();
                    Ok(())
                }
                "cart" => self.show_cart().await,
                "orders" => self.orders(0).await,
                "profile" => self.profile().await,
                "help" => {
                    self.help();
                    Ok(())
                }
                _ => {
                    self.say(self.t("unknown_text"));
                    Ok(())
                }
            };
        }
        match self.state.step.clone() {
            Step::Phone { token } => self.typed_phone(token, trimmed).await,
            Step::Address { token, phone } => self.typed_address(token, phone, trimmed).await,
            Step::Confirming { .. } => {
                self.say(self.t("unknown_text"));
                Ok(())
            }
            Step::CouponCode {
                token,
                phone,
                address,
                coupons,
                ..
            } => {
                self.typed_coupon(token, phone, address, coupons, trimmed)
                    .await
            }
            // Text outside a prompt is a search too: it's what a shopper typing a word means.
            Step::Quantity { variant } => self.typed_amount(variant, trimmed).await,
            Step::Idle | Step::SearchPrompt | Step::Answering { .. } => {
                self.search(trimmed, 0).await
            }
        }
    }
}

fn is_start(text: &str) -> bool {
    let first = text.split_whitespace().next().unwrap_or_default();
    first == "/start" || first.starts_with("/start@")
}

/// The product of `/start p_<id>`, if that's what the text is.
fn deep_link(text: &str) -> Option<i64> {
    let mut words = text.split_whitespace();
    let command = words.next()?;
    if command != "/start" && !command.starts_with("/start@") {
        return None;
    }
    words.next()?.strip_prefix("p_")?.parse().ok()
}

/// An item as one title, "Green tea, 100 g": the variant's title, or its SKU when it has
/// none.
pub(super) fn item_title(product: &str, variant: &str, sku: &str) -> String {
    let variant = if variant.is_empty() { sku } else { variant };
    format!("{product}, {variant}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_links_name_a_product_and_nothing_else() {
        assert_eq!(deep_link("/start p_12"), Some(12));
        assert_eq!(deep_link("/start@shop_bot p_7"), Some(7));
        assert_eq!(deep_link("/start"), None);
        assert_eq!(deep_link("/start q_12"), None);
        assert_eq!(deep_link("/start p_x"), None);
        assert_eq!(deep_link("hello p_1"), None);
    }
}
