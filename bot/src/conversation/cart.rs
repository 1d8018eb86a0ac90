//! The cart.
//!
//! ```text
//! shopper: [Cart]
//! bot:     Your cart:
//!          1. Green tea, 100 g: 2 × 4.50 EUR = 9.00 EUR
//!          Total: 9.00 EUR            [− #1] [+ #1] [✕ #1] [Checkout] [« Back]
//! ```
//!
//! Every press is checked against visibility and stock before it changes a line; checkout
//! itself is `checkout`.
use super::Button;
use super::callback::Callback;
use super::session::{Flow, Session};
use super::state::Step;
use crate::store::catalog::browse;
use crate::store::orders::cart::{CartLine, LineStatus};
use crate::store::orders::place::{self};
use crate::store::{self, orders::cart};

const MAX_LINES_WITH_BUTTONS: usize = 25;

impl Session<'_> {
    pub async fn show_cart(&mut self) -> Flow {
        if matches!(self.state.step, Step::Phone { .. } | Step::Address { .. }) {
            self.state.step = Step::Idle;
        }
        let lines = cart::lines(self.db(), self.customer.id, &self.segments).await?;
        if lines.is_empty() {
            let rows = vec![vec![
                Button::new(self.t("menu_catalog"), Callback::Catalog { page: 0 }),
                Button::new(self.t("back"), Callback::Menu),
            ]];
            self.screen(self.t("cart_empty"), rows);
            return Ok(());
        }
        let mut text = self.t("cart_title");
        let mut rows = Vec::new();
        for (index, line) in lines.iter().enumerate() {
            // Numbered, so that "− #2" and "+ #2" say which line they change.
            let number = (index + 1).to_string();
            text.push_str(&format!(
                "\n{}",
                self.fill(
                    "cart_numbered",
                    &[("number", &number), ("line", &self.cart_line(line))]
                )
            ));
            // Telegram refuses keyboards of about a hundred buttons: beyond this many lines
            // the cart is still listed and ordered in full, only without per-line buttons.
            if index >= MAX_LINES_WITH_BUTTONS {
                continue;
            }
            let variant = line.variant.id;
            let title = place::line_title(line);
            let mut row = Vec::new();
            if line.status != LineStatus::Hidden {
                row.push(Button::new(
                    self.fill("cart_decrease", &[("number", &number)]),
                    Callback::Decrease { variant },
                ));
                row.push(Button::new(
                    self.fill("cart_increase", &[("number", &number)]),
                    Callback::Increase { variant },
                ));
            }
            row.push(Button::new(
                self.fill("cart_remove", &[("title", &title)]),
                Callback::Remove { variant },
            ));
            rows.push(row);
        }
        let total = available_total(&lines);
        text.push_str(&format!(
            "\n\n{}",
            self.fill("cart_total", &[("total", &self.money(total))])
        ));
        let mut last = Vec::new();
        if lines
            .iter()
            .any(|line| line.status == LineStatus::Available)
        {
            last.push(Button::new(self.t("checkout"), Callback::Checkout));
        }
        last.push(Button::new(self.t("back"), Callback::Menu));
        rows.push(last);
        self.screen(text, rows);
        Ok(())
    }

    pub(super) fn cart_line(&self, line: &CartLine) -> String {
        let title = place::line_title(line);
        match line.status {
            LineStatus::Available => self.fill(
                "cart_line",
                &[
                    ("title", &title),
                    ("quantity", &line.quantity.to_string()),
                    ("price", &self.money(line.variant.price)),
                    ("line_total", &self.money(line.total())),
                ],
            ),
            LineStatus::Hidden => self.fill("cart_line_hidden", &[("title", &title)]),
            // "only 0 in stock" reads like a bug: none left is "sold out".
            LineStatus::OutOfStock if line.variant.stock <= 0 => {
                self.fill("cart_line_sold_out", &[("title", &title)])
            }
            LineStatus::OutOfStock => self.fill(
                "cart_line_out_of_stock",
                &[
                    ("title", &title),
                    ("stock", &line.variant.stock.max(0).to_string()),
                ],
            ),
        }
    }

    /// `+` re-checks visibility and stock; `−` only needs the line to exist.
    pub async fn change_quantity(&mut self, variant: i64, delta: i32) -> Flow {
        let data = if delta > 0 {
            Callback::Increase { variant }
        } else {
            Callback::Decrease { variant }
        }
        .to_string();
        let txn = store::begin_write(self.db()).await?;
        let current = cart::quantity_of(&txn, self.customer.id, variant).await?;
        if current == 0 {
            txn.rollback().await?;
            self.refuse(&data, "not in the cart");
            return Ok(());
        }
        if delta > 0 {
            let Some((found, product)) =
                browse::visible_variant(&txn, variant, &self.segments).await?
            else {
                txn.rollback().await?;
                self.refuse(&data, "variant hidden from this shopper");
                return Ok(());
            };
            if current.saturating_add(delta) > found.stock {
                txn.rollback().await?;
                let title = super::session::item_title(&product.title, &found.title, &found.sku);
                let left = found.stock.saturating_sub(current);
                let text = self.stock_left(left, found.stock, &title);
                self.out.notice = Some(text);
                return self.show_cart().await;
            }
        }
        cart::set_quantity(
            &txn,
            self.customer.id,
            variant,
            current.saturating_add(delta),
            self.now,
        )
        .await?;
        txn.commit().await?;
        self.show_cart().await
    }

    pub async fn remove(&mut self, variant: i64) -> Flow {
        cart::set_quantity(self.db(), self.customer.id, variant, 0, self.now).await?;
        self.show_cart().await
    }
}

/// What the available lines cost together.
pub(super) fn available_total(lines: &[CartLine]) -> i64 {
    lines
        .iter()
        .filter(|line| line.status == LineStatus::Available)
        .map(CartLine::total)
        .fold(0, i64::saturating_add)
}
