//! The merchant's side of the chat: order cards in `telegram.merchant_chats` with a button
//! per allowed move, and `/orders` there listing the open ones.
//!
//! ```text
//! bot:      New order #12 from Ann (@ann): 9.00 EUR
//!           • 2 × Green tea, 100 g (GT-100) 4.50 EUR
//!           Status: new                       [Paid] [Shipped] [Cancel]
//! merchant: [Shipped]
//! bot:      (the same card) Status: shipped, by Bo (@bo) at 2026-12-06 10:04   [Delivered]
//! merchant: /orders
//! bot:      one card per open order (new, paid), then "Open orders 1–5 of 7"   [Next ›]
//! ```
//!
//! Only a merchant chat may act, and there only `telegram.merchant_users` when that list is
//! set: anyone else's press is refused and logged. Every press goes through
//! `store::orders::status`, which allows each move once: a second press, or two merchants at
//! once, change nothing more. This module never writes an order itself.

use chrono::{DateTime, Utc};
use storebot_config::Settings;

use super::callback::{Callback, OrderMove};
use super::order_news;
use super::texts::{self, Texts};
use super::{Button, Conversation, Input, Markup, Notification, Outcome, Reply, TelegramUser};
use crate::segments::Context;
use crate::store::orders::coupons;
use crate::store::orders::place::OrderView;
use crate::store::orders::status::{self, StatusChange};
use crate::store::shoppers::{customers, processed_updates};
use crate::store::{StoreError, membership};

/// Orders per page of the merchant chat's `/orders`.
const PER_PAGE: u64 = 5;

/// Whether `user_id` may act on orders in chat `chat_id`: the chat is one of
/// `telegram.merchant_chats`, and the user is one of `telegram.merchant_users` if that is set.
pub fn may_act(settings: &Settings, chat_id: i64, user_id: i64) -> bool {
    let telegram = &settings.telegram;
    telegram.merchant_chats.contains(&chat_id)
        && (telegram.merchant_users.is_empty() || telegram.merchant_users.contains(&user_id))
}

/// Whether `text` is a command the merchant chats answer (`/orders`, `/orders@shop_bot`).
pub fn is_merchant_command(text: &str) -> bool {
    let command = text.split_whitespace().next().unwrap_or_default();
    command == "/orders" || command.starts_with("/orders@")
}

/// Who pressed, as the card shows it.
fn person(user: &TelegramUser) -> String {
    customer_label(&user.first_name, user.username.as_deref())
}

/// An order's card for the merchant: the new-order notice, its status line, and a button per
/// move allowed from its status.
pub(super) struct Card<'a> {
    pub settings: &'a Settings,
    pub view: &'a OrderView,
    /// The shopper as the merchant reads them: first name and @username.
    pub customer: String,
    pub coupons: &'a [(String, i64)],
}

impl Card<'_> {
    /// The card's text, `status` being its last line.
    pub fn text(&self, status: &str) -> String {
        // The merchant reads the store's own language, not the shopper's.
        let texts = Texts::for_language(self.settings, None);
        let order = &self.view.order;
        let money = |minor: i64| texts::money(minor, &order.currency);
        let mut text = texts.fill(
            "merchant_new_order",
            &[
                ("order", &order.id.to_string()),
                ("customer", &self.customer),
                ("total", &money(order.total)),
            ],
        );
        for item in &self.view.items {
            text.push_str(&format!(
                "\n• {} × {} ({}) {}",
                item.quantity,
                item.title,
                item.sku,
                money(item.unit_price)
            ));
        }
        for (code, amount) in self.coupons {
            text.push_str(&format!(
                "\n{}",
                texts.fill(
                    "coupon_line",
                    &[("code", code), ("amount", &money(*amount))]
                )
            ));
        }
        if let Some(phone) = &order.contact_phone {
            text.push_str(&format!(
                "\n{}",
                texts.fill("confirm_phone", &[("phone", phone)])
            ));
        }
        if let Some(address) = &order.address {
            text.push_str(&format!(
                "\n{}",
                texts.fill("confirm_address", &[("address", address)])
            ));
        }
        text.push('\n');
        text.push_str(status);
        text
    }

    /// "Status: paid".
    pub fn plain_status(&self) -> String {
        Texts::for_language(self.settings, None)
            .fill("merchant_status", &[("status", &self.view.order.status)])
    }

    /// The buttons for the moves allowed now, on one row.
    pub fn buttons(&self) -> Vec<Vec<Button>> {
        let texts = Texts::for_language(self.settings, None);
        let order = self.view.order.id;
        let row: Vec<Button> = status::moves_from(&self.view.order.status)
            .iter()
            .filter_map(|to| OrderMove::to_status(to))
            .map(|to| {
                let label = match to {
                    OrderMove::Paid => texts.get("merchant_mark_paid"),
                    OrderMove::Shipped => texts.get("merchant_mark_shipped"),
                    OrderMove::Delivered => texts.get("merchant_mark_delivered"),
                    OrderMove::Cancelled => texts.get("merchant_cancel_order"),
                };
                Button::new(label, Callback::SetStatus { order, to })
            })
            .collect();
        if row.is_empty() {
            Vec::new()
        } else {
            vec![row]
        }
    }

    /// The card as a notification to `chat_id`.
    pub fn notification(&self, chat_id: i64) -> Notification {
        Notification {
            chat_id,
            text: self.text(&self.plain_status()),
            markup: markup(self.buttons()),
        }
    }
}

fn markup(rows: Vec<Vec<Button>>) -> Markup {
    if rows.is_empty() {
        Markup::None
    } else {
        Markup::Inline(rows)
    }
}

/// A customer as the merchant reads them.
pub(super) fn customer_label(first_name: &str, username: Option<&str>) -> String {
    match username {
        Some(username) => format!("{first_name} (@{username})"),
        None => first_name.to_owned(),
    }
}

impl Conversation {
    /// Handles an update from a merchant chat: a press on an order card or the list's pager,
    /// or `/orders`. With `update_id`, only if that update is new (`None` if not). Never
    /// fails: a store error is logged and the merchant is asked to try again.
    pub async fn handle_merchant(
        &self,
        update_id: Option<i64>,
        chat_id: i64,
        merchant: &TelegramUser,
        input: Input,
        now: DateTime<Utc>,
    ) -> Option<Outcome> {
        if let Some(update_id) = update_id {
            match processed_updates::claim(&self.db, update_id, now).await {
                Ok(true) => {}
                Ok(false) => return None,
                Err(error) => {
                    tracing::error!(%error, update_id, "could not claim a merchant's update");
                    return Some(self.merchant_sorry(&input));
                }
            }
        }
        let texts = Texts::for_language(&self.settings, None);
        if !may_act(&self.settings, chat_id, merchant.telegram_user_id) {
            tracing::warn!(
                chat_id,
                telegram_user_id = merchant.telegram_user_id,
                "refused a merchant's update from outside the merchant chats or users"
            );
            return Some(Outcome {
                notice: Some(texts.get("merchant_only").to_owned()),
                ..Outcome::default()
            });
        }
        let result = match &input {
            Input::Button { data } => match data.parse::<Callback>() {
                Ok(Callback::SetStatus { order, to }) => {
                    self.merchant_move(merchant, order, to, now).await
                }
                Ok(Callback::MerchantOrders { page }) => self.open_orders(page).await,
                _ => {
                    tracing::warn!(chat_id, data, "refused a merchant's button press");
                    Ok(Outcome {
                        notice: Some(texts.get("stale_button").to_owned()),
                        ..Outcome::default()
                    })
                }
            },
            Input::Text(text) if is_merchant_command(text) => self.open_orders(0).await,
            _ => Ok(Outcome::default()),
        };
        Some(match result {
            Ok(outcome) => outcome,
            Err(error) => {
                tracing::error!(error = %error, debug = ?error, chat_id, "a merchant's update failed");
                self.merchant_sorry(&input)
            }
        })
    }

    fn merchant_sorry(&self, input: &Input) -> Outcome {
        let sorry = Texts::for_language(&self.settings, None)
            .get("try_again")
            .to_owned();
        if matches!(input, Input::Button { .. }) {
            Outcome {
                notice: Some(sorry),
                ..Outcome::default()
            }
        } else {
            Outcome {
                replies: vec![Reply::text(sorry)],
                ..Outcome::default()
            }
        }
    }

    /// The card of order `order_id` as it stands, for a message to the merchant chats (a
    /// payment's notice); `None` if there is no such order.
    pub(super) async fn merchant_card(&self, order_id: i64) -> Result<Option<Reply>, StoreError> {
        match status::order_view(&self.db, order_id).await? {
            Some(view) => Ok(Some(self.card_reply(&view, None).await?)),
            None => Ok(None),
        }
    }

    /// The card of `view` as it stands, for editing the pressed message.
    async fn card_reply(
        &self,
        view: &OrderView,
        status_line: Option<String>,
    ) -> Result<Reply, StoreError> {
        let customer = customers::get(&self.db, view.order.customer_id).await?;
        let coupons = coupons::of_orders(&self.db, &[view.order.id])
            .await?
            .remove(&view.order.id)
            .unwrap_or_default();
        let card = Card {
            settings: &self.settings,
            view,
            customer: customer_label(&customer.first_name, customer.username.as_deref()),
            coupons: &coupons,
        };
        let status = status_line.unwrap_or_else(|| card.plain_status());
        Ok(Reply {
            text: card.text(&status),
            markup: markup(card.buttons()),
            edit: true,
            photo: None,
        })
    }

    async fn merchant_move(
        &self,
        merchant: &TelegramUser,
        order: i64,
        to: OrderMove,
        now: DateTime<Utc>,
    ) -> Result<Outcome, StoreError> {
        let texts = Texts::for_language(&self.settings, None);
        let message = order_news::status_message(&self.settings);
        let change = match status::set_status(&self.db, order, to.status(), &message, now).await {
            Ok(change) => change,
            Err(StoreError::NotFound { .. }) => {
                tracing::warn!(
                    order,
                    "a merchant pressed a button of an order that does not exist"
                );
                return Ok(Outcome {
                    notice: Some(texts.get("stale_button").to_owned()),
                    ..Outcome::default()
                });
            }
            Err(error) => return Err(error),
        };
        let id = order.to_string();
        let (notice, status_line) = match &change {
            StatusChange::Changed { view, .. } => {
                let when = now
                    .with_timezone(&self.settings.store.time_zone)
                    .format("%Y-%m-%d %H:%M")
                    .to_string();
                let line = texts.fill(
                    "merchant_status_by",
                    &[
                        ("status", &view.order.status),
                        ("merchant", &person(merchant)),
                        ("date", &when),
                    ],
                );
                self.refresh_shopper(view.order.customer_id, now).await;
                let notice = texts.fill(
                    "merchant_status_changed",
                    &[("order", &id), ("status", &view.order.status)],
                );
                (notice, Some(line))
            }
            StatusChange::Unchanged { view } => (
                texts.fill(
                    "merchant_status_unchanged",
                    &[("order", &id), ("status", &view.order.status)],
                ),
                None,
            ),
            StatusChange::NotAllowed { view, to } => {
                tracing::info!(
                    order,
                    status = view.order.status,
                    to,
                    "a merchant's press came after the order moved on; nothing changed"
                );
                (
                    texts.fill(
                        "merchant_move_refused",
                        &[("order", &id), ("status", &view.order.status)],
                    ),
                    None,
                )
            }
        };
        // A repeat or a late press still shows the card as it is now, with today's buttons.
        let reply = self.card_reply(change.view(), status_line).await?;
        Ok(Outcome {
            replies: vec![reply],
            notice: Some(notice),
            ..Outcome::default()
        })
    }

    /// The shopper's segments follow their orders at once (a cancelled order stops counting).
    /// A failure is logged: the next scheduled recompute catches up.
    async fn refresh_shopper(&self, customer_id: i64, now: DateTime<Utc>) {
        let settings = &self.settings;
        let context = Context {
            now,
            time_zone: settings.store.time_zone,
            counted_statuses: settings.segments.counted_statuses.iter().cloned().collect(),
        };
        if let Err(error) =
            membership::refresh::refresh_customer(&self.db, &context, customer_id).await
        {
            tracing::error!(%error, customer_id, "segment refresh after a status change failed");
        }
    }

    /// The open orders (new and paid), oldest first: a card each, then a line saying which
    /// of how many these are, with the pager.
    async fn open_orders(&self, page: u32) -> Result<Outcome, StoreError> {
        let texts = Texts::for_language(&self.settings, None);
        let offset = u64::from(page).saturating_mul(PER_PAGE);
        let (views, count) = status::open_orders(&self.db, offset, PER_PAGE).await?;
        if views.is_empty() {
            return Ok(Outcome {
                replies: vec![Reply::text(texts.get("merchant_orders_empty"))],
                ..Outcome::default()
            });
        }
        let mut replies = Vec::with_capacity(views.len() + 1);
        for view in &views {
            let mut reply = self.card_reply(view, None).await?;
            reply.edit = false;
            replies.push(reply);
        }
        let shown = offset.saturating_add(views.len() as u64);
        let summary = texts.fill(
            "merchant_orders_page",
            &[
                ("from", &offset.saturating_add(1).to_string()),
                ("to", &shown.to_string()),
                ("count", &count.to_string()),
            ],
        );
        let mut pager = Vec::new();
        if page > 0 {
            pager.push(Button::new(
                texts.get("previous_page"),
                Callback::MerchantOrders { page: page - 1 },
            ));
        }
        if shown < count {
            pager.push(Button::new(
                texts.get("next_page"),
                Callback::MerchantOrders {
                    page: page.saturating_add(1),
                },
            ));
        }
        let markup = if pager.is_empty() {
            Markup::None
        } else {
            Markup::Inline(vec![pager])
        };
        replies.push(Reply {
            text: summary,
            markup,
            edit: false,
            photo: None,
        });
        Ok(Outcome {
            replies,
            ..Outcome::default()
        })
    }
}
