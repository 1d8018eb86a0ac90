//! Where a shopper is in the dialogue, saved as JSON in `dialogue_state` after every update,
//! so that a restart or another bot instance carries on from the same place.
//!
//! Only small values live here (ids, a search query, the checkout token and answers); the
//! state must never hold anything that can be read fresh from the database instead, such as
//! prices or stock. One exception, on purpose: the [`Quote`] of the confirmation on screen,
//! which is not a copy of the catalog but the promise the shopper confirms, compared with a
//! fresh quote when they press Confirm.

use serde::{Deserialize, Serialize};

use crate::store::orders::quote::Quote;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    #[serde(default)]
    pub step: Step,
    /// A product from a `/start p_<id>` deep link, opened once registration is done.
    #[serde(default)]
    pub pending_product: Option<i64>,
    /// A command typed while a question had to be answered first (`/cart`), carried out once
    /// the questions are done, so the shopper lands where they were going.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_command: Option<String>,
    /// The last search, for paging through its results.
    #[serde(default)]
    pub search: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "at", rename_all = "snake_case")]
pub enum Step {
    #[default]
    Idle,
    /// A question is on screen; `selected` collects a multiple-choice answer until Done.
    /// `editing` is set when it came from /profile, which it returns to.
    Answering {
        question: i64,
        selected: Vec<i64>,
        editing: bool,
    },
    /// The next text is a search.
    SearchPrompt,
    /// The next text is how many of `variant` to add ("Other amount").
    Quantity { variant: i64 },
    /// Checkout waits for a phone number.
    Phone { token: u64 },
    /// Checkout waits for a delivery address.
    Address { token: u64, phone: Option<String> },
    /// The confirmation is on screen; only its token's Confirm button places the order, and
    /// only as `quote` shows it. `coupons` are the codes accepted so far, in the order entered.
    /// Every confirmation shown gets a new token, so an older one on screen is out of date.
    Confirming {
        token: u64,
        phone: Option<String>,
        address: Option<String>,
        #[serde(default)]
        coupons: Vec<String>,
        /// A state saved before quotes were pinned reads as an empty quote, which no order
        /// equals: its Confirm shows a fresh confirmation instead of placing anything.
        #[serde(default)]
        quote: Quote,
    },
    /// The next text is a coupon code for the confirmation of `token`.
    CouponCode {
        token: u64,
        phone: Option<String>,
        address: Option<String>,
        coupons: Vec<String>,
        #[serde(default)]
        quote: Quote,
    },
}

impl State {
    /// Reads a stored state; anything unreadable (an older format, a hand edit) starts afresh
    /// rather than locking the shopper out.
    pub fn from_json(text: &str) -> Self {
        serde_json::from_str(text).unwrap_or_else(|error| {
            tracing::warn!(%error, "unreadable dialogue state, starting afresh");
            Self::default()
        })
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_survives_a_round_trip_and_garbage_starts_afresh() {
        let state = State {
            step: Step::Address {
                token: 7,
                phone: Some("+1".into()),
            },
            pending_product: Some(3),
            pending_command: Some("/cart".into()),
            search: None,
        };
        assert_eq!(State::from_json(&state.to_json()), state);
        assert_eq!(State::from_json("{not json"), State::default());
        // A confirmation saved before coupons existed still reads, with none applied.
        let older = r#"{"step":{"at":"confirming","token":5,"phone":null,"address":null}}"#;
        assert_eq!(
            State::from_json(older).step,
            Step::Confirming {
                token: 5,
                phone: None,
                address: None,
                coupons: Vec::new(),
                quote: Quote::default(),
            }
        );
    }
}
