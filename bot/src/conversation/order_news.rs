//! The wording of an order's news: the shopper's message when its status changes (filled from
//! `[texts.*]` in the shopper's language) and the item list shared by every order text.
//!
//! `store::orders::status` decides whether a message is due and queues it; this module only
//! says how it reads, so `store` never depends on texts and every caller (the merchant's
//! buttons, the admin tool, payments) words it the same way.

use storebot_config::Settings;

use super::texts::{self, Texts};
use crate::store::orders::status::{self, StatusNews};

/// The shopper's message for an order's new status, or `None` for a status that has no text
/// (`new`, and any status this build has no key for).
pub fn status_message(settings: &Settings) -> impl Fn(&StatusNews<'_>) -> Option<String> + Sync {
    move |news: &StatusNews<'_>| {
        let key = match news.order.status.as_str() {
            status::PAID => "order_paid",
            status::SHIPPED => "order_shipped",
            status::DELIVERED => "order_delivered",
            status::CANCELLED => "order_cancelled",
            _ => return None,
        };
        let texts = Texts::for_language(settings, news.language_code);
        Some(
            texts.fill(
                key,
                &[
                    ("order", &news.order.id.to_string()),
                    (
                        "items",
                        &item_lines(
                            news.items
                                .iter()
                                .map(|item| (item.quantity, item.title.as_str())),
                        ),
                    ),
                    (
                        "total",
                        &texts::money(news.order.total, &news.order.currency),
                    ),
                ],
            ),
        )
    }
}

/// An order's items one per line ("2 × Green tea, 100 g"): titles hold commas, so a list run
/// together with commas would not say where one item ends.
pub fn item_lines<'a>(items: impl IntoIterator<Item = (i32, &'a str)>) -> String {
    items
        .into_iter()
        .map(|(quantity, title)| format!("• {quantity} × {title}"))
        .collect::<Vec<_>>()
        .join("\n")
}
