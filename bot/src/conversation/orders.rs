//! The shopper's order history and "order again".
//!
//! ```text
//! shopper: /orders
//! bot:     Your orders:
//!          #12 · 2026-11-01 14:03 · new · 9.00 EUR
//!            2 × Green tea, 100 g          [Order #12 again] [« Back]
//! shopper: [Order #12 again]
//! bot:     Added to your cart: Green tea, 100 g.
//! shopper: [Cancel order #12]                  (only while it is new)
//! bot:     Cancel order #12? Its items go back on sale.   [Yes, cancel order #12] [« Back]
//! shopper: [Yes, cancel order #12]
//! bot:     Order #12 is cancelled.             (and the merchant chats are told)
//! ```
//!
//! Past orders are shown as they were placed (their own copies of titles and prices); order
//! again must never add a variant the shopper can no longer see, nor touch another shopper's
//! order. A cancellation goes through `store::orders::status::cancel_own`, which allows it only
//! for the shopper's own order while it is `new`, and returns its stock once.

use super::Button;
use super::Notification;
use super::callback::Callback;
use super::order_news::item_lines;
use super::session::{Flow, Session};
use super::state::Step;
use crate::store;
use crate::store::catalog::browse;
use crate::store::orders::status::{self, StatusChange};
use crate::store::orders::{cart, coupons, place};

const PER_PAGE: u64 = 5;

impl Session<'_> {
    pub async fn orders(&mut self, page: u32) -> Flow {
        self.state.step = Step::Idle;
        let (views, count) = place::for_customer(
            self.db(),
            self.customer.id,
            u64::from(page).saturating_mul(PER_PAGE),
            PER_PAGE,
        )
        .await?;
        if count == 0 {
            let rows = vec![self.back_to_menu()];
            self.screen(self.t("orders_empty"), rows);
            return Ok(());
        }
        let ids: Vec<i64> = views.iter().map(|view| view.order.id).collect();
        let discounts = coupons::of_orders(self.db(), &ids).await?;
        let zone = self.conv.settings.store.time_zone;
        let mut text = self.t("orders_title");
        let mut rows = Vec::new();
        for view in &views {
            let order = &view.order;
            let date = order
                .placed_at
                .with_timezone(&zone)
                .format("%Y-%m-%d %H:%M")
                .to_string();
            text.push_str(&format!(
                "\n\n{}",
                self.fill(
                    "order_line",
                    &[
                        ("order", &order.id.to_string()),
                        ("date", &date),
                        ("status", &order.status),
                        ("total", &super::texts::money(order.total, &order.currency)),
                    ],
                )
            ));
            for item in &view.items {
                text.push_str(&format!("\n  {} × {}", item.quantity, item.title));
            }
            // The total above is what was paid; each coupon says what it took off.
            for (code, amount) in discounts.get(&order.id).into_iter().flatten() {
                let amount = super::texts::money(*amount, &order.currency);
                text.push_str(&format!(
                    "\n  {}",
                    self.fill("coupon_line", &[("code", code), ("amount", &amount)])
                ));
            }
            let mut row = vec![Button::new(
                self.fill("order_again", &[("order", &order.id.to_string())]),
                Callback::OrderAgain { order: order.id },
            )];
            // Only an order nobody has acted on yet is the shopper's to take back.
            if order.status == status::NEW {
                row.push(Button::new(
                    self.fill("order_cancel", &[("order", &order.id.to_string())]),
                    Callback::CancelOrder { order: order.id },
                ));
            }
            rows.push(row);
            // Paid in the chat and not yet paid: the shopper may let it go (payment.rs).
            if order.status == crate::store::orders::payments::AWAITING_PAYMENT {
                rows.push(vec![self.cancel_unpaid_button(order.id)]);
            }
        }
        rows.push(self.pager(
            page,
            usize::try_from(count).unwrap_or(usize::MAX),
            PER_PAGE as usize,
            |page| Callback::Orders { page },
        ));
        rows.push(self.back_to_menu());
        rows.retain(|row| !row.is_empty());
        self.screen(text, rows);
        Ok(())
    }

    /// Puts the items of one of the shopper's orders back in the cart, as far as they are
    /// still visible and in stock, and says which are not.
    pub async fn order_again(&mut self, order: i64) -> Flow {
        let Some(view) = place::of_customer(self.db(), self.customer.id, order).await? else {
            self.refuse(
                &Callback::OrderAgain { order }.to_string(),
                "not their order",
            );
            return Ok(());
        };
        let mut added = Vec::new();
        let mut unavailable = Vec::new();
        let txn = store::begin_write(self.db()).await?;
        for item in &view.items {
            let visible = match item.variant_id {
                Some(variant) => browse::visible_variant(&txn, variant, &self.segments).await?,
                None => None,
            };
            let Some((variant, _)) = visible else {
                unavailable.push(item.title.clone());
                continue;
            };
            let current = cart::quantity_of(&txn, self.customer.id, variant.id).await?;
            let wanted = current.saturating_add(item.quantity).min(variant.stock);
            if wanted <= current {
                unavailable.push(item.title.clone());
                continue;
            }
            cart::set_quantity(&txn, self.customer.id, variant.id, wanted, self.now).await?;
            added.push(item.title.clone());
        }
        txn.commit().await?;
        if added.is_empty() {
            self.say(self.t("reorder_nothing"));
        } else {
            self.say(self.fill("reorder_added", &[("items", &added.join("; "))]));
        }
        if !unavailable.is_empty() {
            self.say(self.fill("reorder_unavailable", &[("items", &unavailable.join("; "))]));
        }
        self.show_cart().await
    }

    /// Asks before cancelling one of the shopper's own orders.
    pub async fn cancel_order(&mut self, order: i64) -> Flow {
        let Some(view) = place::of_customer(self.db(), self.customer.id, order).await? else {
            self.refuse(
                &Callback::CancelOrder { order }.to_string(),
                "not their order",
            );
            return Ok(());
        };
        let id = order.to_string();
        if view.order.status != status::NEW {
            let text = self.fill(
                "order_cancel_too_late",
                &[("order", &id), ("status", &view.order.status)],
            );
            self.out.notice = Some(text.clone());
            self.screen(text, vec![self.back_to_orders()]);
            return Ok(());
        }
        let items = item_lines(
            view.items
                .iter()
                .map(|item| (item.quantity, item.title.as_str())),
        );
        let text = self.fill("order_cancel_ask", &[("order", &id), ("items", &items)]);
        let rows = vec![
            vec![Button::new(
                self.fill("order_cancel_yes", &[("order", &id)]),
                Callback::ConfirmCancelOrder { order },
            )],
            self.back_to_orders(),
        ];
        self.screen(text, rows);
        Ok(())
    }

    /// Cancels one of the shopper's own orders while it is new: its stock comes back once, and
    /// the merchant chats hear of it. A second press finds it cancelled and changes nothing.
    pub async fn confirm_cancel_order(&mut self, order: i64) -> Flow {
        // The shopper sees the cancellation on screen; no message of its own follows.
        let quiet = |_: &status::StatusNews<'_>| None;
        let change =
            status::cancel_own(self.db(), self.customer.id, order, &quiet, self.now).await?;
        let id = order.to_string();
        match change {
            None => {
                let data = Callback::ConfirmCancelOrder { order }.to_string();
                self.refuse(&data, "not their order");
            }
            Some(StatusChange::Changed { view, .. }) => {
                self.refresh_segments().await;
                self.notify_cancellation(&view);
                let text = self.fill("order_cancel_done", &[("order", &id)]);
                self.out.notice = Some(text.clone());
                self.screen(text, vec![self.back_to_orders()]);
            }
            Some(StatusChange::Unchanged { .. }) => {
                let text = self.fill("order_cancel_done", &[("order", &id)]);
                self.out.notice = Some(text.clone());
                self.screen(text, vec![self.back_to_orders()]);
            }
            Some(StatusChange::NotAllowed { view, .. }) => {
                let text = self.fill(
                    "order_cancel_too_late",
                    &[("order", &id), ("status", &view.order.status)],
                );
                self.out.notice = Some(text.clone());
                self.screen(text, vec![self.back_to_orders()]);
            }
        }
        Ok(())
    }

    fn back_to_orders(&self) -> Vec<Button> {
        vec![
            Button::new(self.t("menu_orders"), Callback::Orders { page: 0 }),
            Button::new(self.t("back"), Callback::Menu),
        ]
    }

    /// Tells the merchant chats, in the store's language, that the shopper cancelled.
    fn notify_cancellation(&mut self, view: &place::OrderView) {
        let settings = &self.conv.settings;
        let texts = super::texts::Texts::for_language(settings, None);
        let customer = super::merchant::customer_label(
            &self.customer.first_name,
            self.customer.username.as_deref(),
        );
        let items = item_lines(
            view.items
                .iter()
                .map(|item| (item.quantity, item.title.as_str())),
        );
        let text = texts.fill(
            "merchant_order_cancelled",
            &[
                ("order", &view.order.id.to_string()),
                ("customer", &customer),
                ("items", &items),
            ],
        );
        for chat in &settings.telegram.merchant_chats {
            self.out
                .notifications
                .push(Notification::text(*chat, text.clone()));
        }
    }
}
