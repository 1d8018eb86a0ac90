//! Checkout: contact, address, the confirmation with its pinned quote, coupons, and Confirm.
//!
//! ```text
//! shopper: [Checkout]
//! bot:     Please share your phone number…   (contact keyboard)
//! shopper: +49 30 1234567
//! bot:     Where should we deliver?
//! shopper: Main street 1, Berlin
//! bot:     Please check your order: …        [Confirm order] [Coupon] [Cancel]
//! shopper: [Coupon]
//! bot:     Please type your coupon code.
//! shopper: summer10
//! bot:     Please check your order: … Coupon SUMMER10: −0.90 EUR
//!          To pay: 8.10 EUR                  [Confirm order] [Coupon] [Cancel]
//! shopper: [Confirm order]
//! bot:     Thank you! Your order #12 for 8.10 EUR is placed.
//! ```
//!
//! A refused code gets its reason (unknown, not valid yet, expired, not for you, used up) and
//! the confirmation again without it; `store::orders::coupons` decides, this module only words it.
//!
//! The order is created by `store::orders::place::place` in one transaction, keyed by the token of the
//! Confirm button: this module must never create an order any other way, and a second press
//! of the same button only reports the order the first one made.

use super::callback::Callback;
use super::cart::available_total;
use super::session::{Flow, Session};
use super::state::Step;
use super::{Button, Markup};
use crate::store::orders::cart;
use crate::store::orders::cart::{CartLine, LineStatus};
use crate::store::orders::coupons::{Refusal, Shopper};
use crate::store::orders::place::{self, NewOrder, Placement};
use crate::store::orders::quote::{self, Change};

/// How much of a saved phone or address a "Use …" button shows.
const SAVED_LABEL_CHARS: usize = 30;
/// Codes are short; anything longer is kept only this far (it is unknown anyway).
const MAX_TYPED_CODE_CHARS: usize = 64;
/// Fewer digits can't be a reachable phone number, more are not one (E.164 allows 15).
const PHONE_DIGITS: std::ops::RangeInclusive<usize> = 5..=15;
const MAX_ADDRESS_CHARS: usize = 500;

impl Session<'_> {
    /// The phone and address lines a confirmation shows, and the shopper's settings with the
    /// details saved from their last order: each on a line of its own, nothing for one unknown.
    pub(super) fn contact_lines(&self, phone: Option<&str>, address: Option<&str>) -> String {
        let mut lines = String::new();
        if let Some(phone) = phone {
            lines.push_str(&format!(
                "\n{}",
                self.fill("confirm_phone", &[("phone", phone)])
            ));
        }
        if let Some(address) = address {
            lines.push_str(&format!(
                "\n{}",
                self.fill("confirm_address", &[("address", address)])
            ));
        }
        lines
    }

    /// Starts checkout with a fresh token, then asks what the store's settings require.
    pub async fn checkout(&mut self) -> Flow {
        let lines = cart::lines(self.db(), self.customer.id, &self.segments).await?;
        if !lines
            .iter()
            .any(|line| line.status == LineStatus::Available)
        {
            self.notice("checkout_nothing_available");
            self.say(self.t("checkout_nothing_available"));
            return self.show_cart().await;
        }
        let token = self.fresh_token(0);
        self.next_checkout_step(token, None, None).await
    }

    async fn next_checkout_step(
        &mut self,
        token: u64,
        phone: Option<String>,
        address: Option<String>,
    ) -> Flow {
        let settings = &self.conv.settings.checkout;
        let saved = if (settings.ask_contact && phone.is_none())
            || (settings.ask_address && address.is_none())
        {
            crate::store::shoppers::customers::saved_details(self.db(), self.customer.id).await?
        } else {
            (None, None)
        };
        if settings.ask_contact && phone.is_none() {
            self.state.step = Step::Phone { token };
            if let Some(saved) = &saved.0 {
                self.offer_saved(saved, Callback::UseSavedPhone { token });
            }
            let label = self.t("share_phone");
            self.say_with(self.t("ask_phone"), Markup::RequestContact { label });
            return Ok(());
        }
        if settings.ask_address && address.is_none() {
            self.state.step = Step::Address { token, phone };
            if let Some(saved) = &saved.1 {
                self.offer_saved(saved, Callback::UseSavedAddress { token });
            }
            self.say(self.t("ask_address"));
            return Ok(());
        }
        self.confirmation(token, phone, address, Vec::new()).await
    }

    /// "Use +49 151 …" and "Enter another" above a checkout prompt.
    fn offer_saved(&mut self, saved: &str, use_it: Callback) {
        let (short, _) = crate::limits::cut_at_word(saved, SAVED_LABEL_CHARS);
        let rows = vec![
            vec![Button::new(
                self.fill("use_saved", &[("value", &short)]),
                use_it,
            )],
            vec![Button::new(
                self.t("enter_another_button"),
                Callback::EnterAnother,
            )],
        ];
        self.say_with(self.t("saved_details_offer"), Markup::Inline(rows));
    }

    /// The saved phone, pressed at the phone prompt of checkout `token`.
    pub async fn use_saved_phone(&mut self, token: u64) -> Flow {
        let data = Callback::UseSavedPhone { token }.to_string();
        let (saved, _) =
            crate::store::shoppers::customers::saved_details(self.db(), self.customer.id).await?;
        match (&self.state.step, saved) {
            (Step::Phone { token: current }, Some(phone)) if *current == token => {
                self.accept_phone(token, &phone).await
            }
            _ => {
                self.refuse(
                    &data,
                    "not at this checkout's phone prompt, or nothing saved",
                );
                Ok(())
            }
        }
    }

    /// The saved address, pressed at the address prompt of checkout `token`.
    pub async fn use_saved_address(&mut self, token: u64) -> Flow {
        let data = Callback::UseSavedAddress { token }.to_string();
        let (_, saved) =
            crate::store::shoppers::customers::saved_details(self.db(), self.customer.id).await?;
        match (self.state.step.clone(), saved) {
            (
                Step::Address {
                    token: current,
                    phone,
                },
                Some(address),
            ) if current == token => self.typed_address(token, phone, &address).await,
            _ => {
                self.refuse(
                    &data,
                    "not at this checkout's address prompt, or nothing saved",
                );
                Ok(())
            }
        }
    }

    pub async fn contact(&mut self, phone: String, user_id: Option<i64>) -> Flow {
        let Step::Phone { token } = self.state.step else {
            self.say(self.t("unknown_text"));
            return Ok(());
        };
        // A forwarded card is somebody else's number: only the sender's own counts.
        if user_id != Some(self.sender.telegram_user_id) {
            self.say(self.t("phone_not_yours"));
            return Ok(());
        }
        self.accept_phone(token, &phone).await
    }

    pub async fn typed_phone(&mut self, token: u64, text: &str) -> Flow {
        self.accept_phone(token, text).await
    }

    async fn accept_phone(&mut self, token: u64, text: &str) -> Flow {
        let Some(phone) = normalise_phone(text) else {
            self.say(self.t("phone_invalid"));
            return Ok(());
        };
        self.say_with(self.t("phone_saved"), Markup::RemoveKeyboard);
        self.next_checkout_step(token, Some(phone), None).await
    }

    pub async fn typed_address(&mut self, token: u64, phone: Option<String>, text: &str) -> Flow {
        let address = text.trim();
        if address.chars().count() < 5 || address.chars().count() > MAX_ADDRESS_CHARS {
            self.say(self.t("address_invalid"));
            return Ok(());
        }
        self.next_checkout_step(token, phone, Some(address.to_owned()))
            .await
    }

    /// Shows the order to confirm under a new token (so any older confirmation on screen is
    /// out of date), and pins its quote. `coupons` are re-checked against the cart as it is
    /// now: the accepted ones are shown with their discount, each refused one is dropped with
    /// its reason.
    async fn confirmation(
        &mut self,
        previous_token: u64,
        phone: Option<String>,
        address: Option<String>,
        coupons: Vec<String>,
    ) -> Flow {
        let shopper = Shopper {
            customer_id: self.customer.id,
            segments_in_force: &self.segments,
            now: self.now,
        };
        let quoted = quote::quote(self.db(), &shopper, &coupons).await?;
        let mut text = self.t("confirm_title");
        for line in quoted
            .lines
            .iter()
            .filter(|l| l.status == LineStatus::Available)
        {
            text.push_str(&format!("\n{}", self.cart_line(line)));
        }
        let gross = available_total(&quoted.lines);
        text.push_str(&format!(
            "\n{}",
            self.fill("cart_total", &[("total", &self.money(gross))])
        ));
        for (code, reason) in &quoted.refused {
            let refused = self.refusal(code, *reason);
            self.say(refused);
        }
        for coupon in &quoted.quote.coupons {
            text.push_str(&format!(
                "\n{}",
                self.coupon_line(&coupon.code, coupon.discount)
            ));
        }
        if !quoted.quote.coupons.is_empty() {
            let to_pay = self.money(quoted.quote.total);
            text.push_str(&format!(
                "\n{}",
                self.fill("coupon_to_pay", &[("total", &to_pay)])
            ));
        }
        text.push_str(&self.contact_lines(phone.as_deref(), address.as_deref()));
        let left_out = left_out_titles(&quoted.lines);
        if !left_out.is_empty() {
            text.push_str(&format!(
                "\n\n{}",
                self.fill("checkout_left_out", &[("items", &left_out)])
            ));
        }
        let token = self.fresh_token(previous_token);
        self.state.step = Step::Confirming {
            token,
            phone,
            address,
            coupons: quoted
                .quote
                .coupons
                .iter()
                .map(|coupon| coupon.code.clone())
                .collect(),
            quote: quoted.quote,
        };
        let rows = vec![
            vec![
                Button::new(self.t("confirm"), Callback::Confirm { token }),
                Button::new(self.t("coupon"), Callback::Coupon),
            ],
            vec![Button::new(self.t("cancel"), Callback::CancelCheckout)],
        ];
        self.screen(text, rows);
        Ok(())
    }

    /// A checkout token unique per shopper and moment, and always after `previous`, so that a
    /// confirmation shown again within the same microsecond still gets a token of its own.
    /// The order's key adds the customer id, so two shoppers with the same token never collide.
    fn fresh_token(&self, previous: u64) -> u64 {
        let now = u64::try_from(self.now.timestamp_micros()).unwrap_or_default();
        now.max(previous.saturating_add(1))
    }

    fn coupon_line(&self, code: &str, amount: i64) -> String {
        self.fill(
            "coupon_line",
            &[("code", code), ("amount", &self.money(amount))],
        )
    }

    /// The shopper's wording of why `code` was refused.
    fn refusal(&self, code: &str, reason: Refusal) -> String {
        let key = match reason {
            Refusal::Unknown => "coupon_unknown",
            Refusal::NotStarted => "coupon_not_started",
            Refusal::Expired => "coupon_expired",
            Refusal::NotForYou => "coupon_not_for_you",
            Refusal::UsedUp => "coupon_used_up",
            Refusal::UsedUpByYou => "coupon_used_up_by_you",
            Refusal::AlreadyApplied => "coupon_already_applied",
            Refusal::NothingToDiscount => "coupon_nothing_to_discount",
        };
        self.fill(key, &[("code", code)])
    }

    /// The Coupon button: only on the confirmation on screen, which waits for the code.
    pub fn ask_coupon(&mut self) -> Flow {
        match self.state.step.clone() {
            Step::Confirming {
                token,
                phone,
                address,
                coupons,
                quote,
            }
            | Step::CouponCode {
                token,
                phone,
                address,
                coupons,
                quote,
            } => {
                self.state.step = Step::CouponCode {
                    token,
                    phone,
                    address,
                    coupons,
                    quote,
                };
                self.notice("coupon_ask");
                self.say(self.t("coupon_ask"));
            }
            _ => self.refuse(&Callback::Coupon.to_string(), "no confirmation on screen"),
        }
        Ok(())
    }

    /// A typed code joins the accepted ones, and the confirmation is shown again with it or
    /// with the reason it was refused.
    pub async fn typed_coupon(
        &mut self,
        token: u64,
        phone: Option<String>,
        address: Option<String>,
        mut coupons: Vec<String>,
        text: &str,
    ) -> Flow {
        let typed: String = text
            .trim()
            .to_uppercase()
            .chars()
            .take(MAX_TYPED_CODE_CHARS)
            .collect();
        coupons.push(typed);
        self.confirmation(token, phone, address, coupons).await
    }

    /// Places the order of the confirmation on screen; any other token is stale, and a token
    /// that already made an order only reports it.
    pub async fn confirm(&mut self, token: u64) -> Flow {
        let key = format!("c{}-{token}", self.customer.id);
        if let Some(order) = place::find_by_key(self.db(), &key).await? {
            return self.already_placed(order.id);
        }
        let (phone, address, coupons, confirmed) = match &self.state.step {
            Step::Confirming {
                token: current,
                phone,
                address,
                coupons,
                quote,
            }
            | Step::CouponCode {
                token: current,
                phone,
                address,
                coupons,
                quote,
            } if *current == token => (
                phone.clone(),
                address.clone(),
                coupons.clone(),
                quote.clone(),
            ),
            _ => {
                tracing::warn!(
                    telegram_user_id = self.sender.telegram_user_id,
                    token,
                    "stale or forged confirmation"
                );
                self.notice("order_stale");
                self.say(self.t("order_stale"));
                return Ok(());
            }
        };
        let currency = self.currency().to_owned();
        let segments = self.segments.clone();
        let placement = place::place(
            self.db(),
            &NewOrder {
                customer_id: self.customer.id,
                idempotency_key: &key,
                segments_in_force: &segments,
                contact_phone: phone.clone(),
                address: address.clone(),
                currency: &currency,
                now: self.now,
                coupons: &coupons,
                confirmed: &confirmed,
                payment: self.payment_terms(),
            },
        )
        .await?;
        self.state.step = Step::Idle;
        match placement {
            Placement::Placed {
                order,
                left_out,
                coupons,
            } => {
                let awaiting_payment =
                    order.order.status == crate::store::orders::payments::AWAITING_PAYMENT;
                if awaiting_payment {
                    // Paid in the chat: the merchant hears of it once it is paid.
                    let items: Vec<String> = order
                        .items
                        .iter()
                        .map(|item| format!("{} × {}", item.title, item.quantity))
                        .collect();
                    self.ask_for_payment(order.order.id, &items.join(", "))
                        .await?;
                } else {
                    let total = self.money(order.order.total);
                    let number = order.order.id.to_string();
                    let text = self.fill("order_placed", &[("order", &number), ("total", &total)]);
                    self.out.notice = Some(text.clone());
                    self.screen(text, Vec::new());
                }
                let titles = left_out
                    .iter()
                    .map(place::line_title)
                    .collect::<Vec<_>>()
                    .join("; ");
                if !titles.is_empty() {
                    self.say(self.fill("checkout_left_out", &[("items", &titles)]));
                }
                if !awaiting_payment {
                    self.notify_merchants(&order, &coupons);
                }
                self.refresh_segments().await;
                // The invoice comes last, so that it is the message the shopper acts on.
                if !awaiting_payment {
                    self.main_menu();
                }
                Ok(())
            }
            Placement::AlreadyPlaced(order) => self.already_placed(order.id),
            Placement::NothingAvailable => {
                self.say(self.t("checkout_nothing_available"));
                self.show_cart().await
            }
            Placement::NotEnoughStock(titles) => {
                let items = titles.join("; ");
                self.say(self.fill("order_out_of_stock", &[("items", &items)]));
                self.show_cart().await
            }
            Placement::CouponRefused { code, reason } => {
                // Between the confirmation and the press the coupon stopped applying (used up
                // by someone else, expired, ...): say so and confirm again without it.
                let refused = self.refusal(&code, reason);
                self.out.notice = Some(refused.clone());
                self.say(refused);
                self.say(self.t("coupon_order_refused"));
                let rest = coupons.into_iter().filter(|c| *c != code).collect();
                self.confirmation(token, phone, address, rest).await
            }
            Placement::Changed(changes) => {
                // Nothing was ordered: say what changed since the confirmation, then confirm
                // again as things stand now.
                let mut text: Vec<String> = changes.iter().map(|c| self.change_line(c)).collect();
                text.push(self.t("coupon_order_refused"));
                let text = text.join("\n");
                self.out.notice = Some(text.clone());
                self.say(text);
                self.confirmation(token, phone, address, coupons).await
            }
        }
    }

    /// One sentence for one difference between the confirmation and the order it would make.
    fn change_line(&self, change: &Change) -> String {
        match change {
            Change::Unavailable {
                title,
                left: Some(0),
            } => self.fill("change_sold_out", &[("item", title)]),
            Change::Unavailable {
                title,
                left: Some(left),
            } => self.fill(
                "change_only_left",
                &[("item", title), ("count", &left.to_string())],
            ),
            Change::Unavailable { title, left: None } => {
                self.fill("change_unavailable", &[("item", title)])
            }
            Change::Removed { title } => self.fill("change_removed", &[("item", title)]),
            Change::Price { title, unit_price } => self.fill(
                "change_price",
                &[("item", title), ("price", &self.money(*unit_price))],
            ),
            Change::Quantity { title, quantity } => self.fill(
                "change_quantity",
                &[("item", title), ("quantity", &quantity.to_string())],
            ),
            Change::Added { title } => self.fill("change_added", &[("item", title)]),
            Change::Coupon { code, discount } => self.fill(
                "change_coupon",
                &[("code", code), ("amount", &self.money(*discount))],
            ),
            Change::Total { total } => self.fill("change_total", &[("total", &self.money(*total))]),
        }
    }

    fn already_placed(&mut self, order: i64) -> Flow {
        let text = self.fill("order_already_placed", &[("order", &order.to_string())]);
        self.out.notice = Some(text.clone());
        self.say(text);
        Ok(())
    }

    fn notify_merchants(&mut self, placed: &place::OrderView, coupons: &[(String, i64)]) {
        let settings = &self.conv.settings;
        let card = super::merchant::Card {
            settings,
            view: placed,
            customer: super::merchant::customer_label(
                &self.customer.first_name,
                self.customer.username.as_deref(),
            ),
            coupons,
        };
        for chat in &settings.telegram.merchant_chats {
            self.out.notifications.push(card.notification(*chat));
        }
    }
}

fn left_out_titles(lines: &[CartLine]) -> String {
    lines
        .iter()
        .filter(|line| line.status != LineStatus::Available)
        .map(place::line_title)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A typed or shared phone number, kept as `+` and digits; `None` if it can't be one.
fn normalise_phone(text: &str) -> Option<String> {
    let text = text.trim();
    let plus = text.starts_with('+');
    let rest = text.strip_prefix('+').unwrap_or(text);
    if !rest
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')' | '.'))
    {
        return None;
    }
    let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    PHONE_DIGITS
        .contains(&digits.len())
        .then(|| if plus { format!("+{digits}") } else { digits })
}

#[cfg(test)]
mod tests {
    use super::normalise_phone;

    #[test]
    fn phone_numbers_are_digits_with_an_optional_plus() {
        for (typed, expected) in [
            ("+49 30 1234567", Some("+49301234567")),
            ("(030) 123-45.67", Some("0301234567")),
            ("12", None),
            ("call me", None),
            ("+1234567890123456", None),
            ("", None),
        ] {
            assert_eq!(normalise_phone(typed).as_deref(), expected, "{typed}");
        }
    }
}
