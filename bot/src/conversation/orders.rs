//! The shopper's order history and "order again".
//!
//! ```text
//! shopper: /orders
//! bot:     Your orders:
//!          #12 · 2026-11-01 14:03 · new · 9.00 EUR
//!            2 × Green tea, 100 g          [Order #12 again] [« Back]
//! shopper: [Order #12 again]
//! bot:     Added to your cart: Green tea, 100 g.
//! ```
//!
//! Past orders are shown as they were placed (their own copies of titles and prices); order
//! again must never add a variant the shopper can no longer see, nor touch another shopper's
//! order.

use super::Button;
use super::callback::Callback;
use super::session::{Flow, Session};
use super::state::Step;
use crate::store;
use crate::store::catalog::browse;
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
            rows.push(vec![Button::new(
                self.fill("order_again", &[("order", &order.id.to_string())]),
                Callback::OrderAgain { order: order.id },
            )]);
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
            self.say(self.fill("reorder_added", &[("items", &added.join(", "))]));
        }
        if !unavailable.is_empty() {
            self.say(self.fill("reorder_unavailable", &[("items", &unavailable.join(", "))]));
        }
        self.show_cart().await
    }
}
