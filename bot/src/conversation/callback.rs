//! The data behind every inline button, as one typed enum with a compact text form
//! (`v:12`, `a:12:3`) that fits Telegram's 64 bytes.
//!
//! Parsing accepts exactly what `Display` writes and refuses everything else without
//! panicking: button data is untrusted input. A parsed callback is still only a request;
//! handlers re-check visibility, stock and ownership before acting on it.

use std::fmt;
use std::str::FromStr;

/// Telegram's limit on callback data, in bytes.
pub const MAX_CALLBACK_BYTES: usize = 64;

/// What a button asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callback {
    Menu,
    Catalog {
        page: u32,
    },
    Category {
        category: i64,
        page: u32,
    },
    Product {
        product: i64,
    },
    /// A product's whole text, when its photo's caption had to be cut.
    Details {
        product: i64,
    },
    /// A later page of a product's variant buttons.
    ProductPage {
        product: i64,
        page: u32,
    },
    Variant {
        variant: i64,
    },
    Add {
        variant: i64,
        quantity: u16,
    },
    /// Asks for a typed quantity of a variant.
    OtherAmount {
        variant: i64,
    },
    Search,
    SearchPage {
        page: u32,
    },
    Cart,
    Increase {
        variant: i64,
    },
    Decrease {
        variant: i64,
    },
    Remove {
        variant: i64,
    },
    Checkout,
    Confirm {
        token: u64,
    },
    CancelCheckout,
    /// At the phone prompt of checkout `token`: the number used last time.
    UseSavedPhone {
        token: u64,
    },
    /// At the address prompt of checkout `token`: the address used last time.
    UseSavedAddress {
        token: u64,
    },
    /// Declines the saved phone or address: the shopper types another.
    EnterAnother,
    /// Deletes the saved phone and address (from /profile).
    ForgetDetails,
    /// Asks for a coupon code on the confirmation step.
    Coupon,
    Orders {
        page: u32,
    },
    OrderAgain {
        order: i64,
    },
    /// Cancels one of the shopper's orders still awaiting payment in the chat.
    CancelUnpaid {
        order: i64,
    },
    Profile,
    Change {
        question: i64,
    },
    Choose {
        question: i64,
        option: i64,
    },
    Done {
        question: i64,
    },
    Skip {
        question: i64,
    },
    ToggleNews,
    /// A shopper asks to cancel their own order (a confirmation follows).
    CancelOrder {
        order: i64,
    },
    /// A shopper confirms cancelling their own order.
    ConfirmCancelOrder {
        order: i64,
    },
    /// The merchant chat's open orders, a page of them.
    MerchantOrders {
        page: u32,
    },
    /// A merchant moves an order on.
    SetStatus {
        order: i64,
        to: OrderMove,
    },
}

/// A status a merchant's button moves an order to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderMove {
    Paid,
    Shipped,
    Delivered,
    Cancelled,
}

impl OrderMove {
    pub const ALL: [OrderMove; 4] = [
        OrderMove::Paid,
        OrderMove::Shipped,
        OrderMove::Delivered,
        OrderMove::Cancelled,
    ];

    /// The order status it sets.
    pub fn status(self) -> &'static str {
        match self {
            Self::Paid => "paid",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
            Self::Cancelled => "cancelled",
        }
    }

    /// The move to `status`, if a button can make it.
    pub fn to_status(status: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|to| to.status() == status)
    }

    fn code(self) -> &'static str {
        match self {
            Self::Paid => "p",
            Self::Shipped => "s",
            Self::Delivered => "d",
            Self::Cancelled => "c",
        }
    }

    fn from_code(code: &str) -> Result<Self, UnknownCallback> {
        Self::ALL
            .into_iter()
            .find(|to| to.code() == code)
            .ok_or(UnknownCallback)
    }
}

impl Callback {
    /// Buttons only the merchant chats may press.
    pub fn is_merchant(self) -> bool {
        matches!(self, Self::MerchantOrders { .. } | Self::SetStatus { .. })
    }
}

impl fmt::Display for Callback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Menu => write!(f, "m"),
            Self::Catalog { page } => write!(f, "c:{page}"),
            Self::Category { category, page } => write!(f, "g:{category}:{page}"),
            Self::Product { product } => write!(f, "p:{product}"),
            Self::Details { product } => write!(f, "pd:{product}"),
            Self::ProductPage { product, page } => write!(f, "pp:{product}:{page}"),
            Self::Variant { variant } => write!(f, "v:{variant}"),
            Self::Add { variant, quantity } => write!(f, "a:{variant}:{quantity}"),
            Self::OtherAmount { variant } => write!(f, "qo:{variant}"),
            Self::Search => write!(f, "s"),
            Self::SearchPage { page } => write!(f, "sp:{page}"),
            Self::Cart => write!(f, "cart"),
            Self::Increase { variant } => write!(f, "ci:{variant}"),
            Self::Decrease { variant } => write!(f, "cd:{variant}"),
            Self::Remove { variant } => write!(f, "cr:{variant}"),
            Self::Checkout => write!(f, "co"),
            Self::Confirm { token } => write!(f, "ok:{token}"),
            Self::CancelCheckout => write!(f, "cx"),
            Self::UseSavedPhone { token } => write!(f, "up:{token}"),
            Self::UseSavedAddress { token } => write!(f, "ua:{token}"),
            Self::EnterAnother => write!(f, "ea"),
            Self::ForgetDetails => write!(f, "fd"),
            Self::Coupon => write!(f, "cp"),
            Self::Orders { page } => write!(f, "o:{page}"),
            Self::OrderAgain { order } => write!(f, "oa:{order}"),
            Self::CancelUnpaid { order } => write!(f, "ou:{order}"),
            Self::Profile => write!(f, "pf"),
            Self::Change { question } => write!(f, "pq:{question}"),
            Self::Choose { question, option } => write!(f, "q:{question}:{option}"),
            Self::Done { question } => write!(f, "qd:{question}"),
            Self::Skip { question } => write!(f, "qs:{question}"),
            Self::ToggleNews => write!(f, "nw"),
            Self::CancelOrder { order } => write!(f, "oc:{order}"),
            Self::ConfirmCancelOrder { order } => write!(f, "ocy:{order}"),
            Self::MerchantOrders { page } => write!(f, "mo:{page}"),
            Self::SetStatus { order, to } => write!(f, "ms:{order}:{}", to.code()),
        }
    }
}

/// Button data that is not one of ours (forged, truncated, or from an older version).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown button data")]
pub struct UnknownCallback;

/// Parses a decimal number written the way `Display` writes it (no `+`, no leading zeros),
/// so that every accepted text has exactly one meaning.
fn number<T: FromStr + ToString>(text: &str) -> Result<T, UnknownCallback> {
    let value: T = text.parse().map_err(|_| UnknownCallback)?;
    if value.to_string() == text {
        Ok(value)
    } else {
        Err(UnknownCallback)
    }
}

impl FromStr for Callback {
    type Err = UnknownCallback;

    fn from_str(data: &str) -> Result<Self, Self::Err> {
        if data.len() > MAX_CALLBACK_BYTES {
            return Err(UnknownCallback);
        }
        let parts: Vec<&str> = data.split(':').collect();
        Ok(match parts.as_slice() {
            ["m"] => Self::Menu,
            ["c", page] => Self::Catalog {
                page: number(page)?,
            },
            ["g", category, page] => Self::Category {
                category: number(category)?,
                page: number(page)?,
            },
            ["p", product] => Self::Product {
                product: number(product)?,
            },
            ["pd", product] => Self::Details {
                product: number(product)?,
            },
            ["pp", product, page] => Self::ProductPage {
                product: number(product)?,
                page: number(page)?,
            },
            ["v", variant] => Self::Variant {
                variant: number(variant)?,
            },
            ["a", variant, quantity] => Self::Add {
                variant: number(variant)?,
                quantity: number(quantity)?,
            },
            ["qo", variant] => Self::OtherAmount {
                variant: number(variant)?,
            },
            ["s"] => Self::Search,
            ["sp", page] => Self::SearchPage {
                page: number(page)?,
            },
            ["cart"] => Self::Cart,
            ["ci", variant] => Self::Increase {
                variant: number(variant)?,
            },
            ["cd", variant] => Self::Decrease {
                variant: number(variant)?,
            },
            ["cr", variant] => Self::Remove {
                variant: number(variant)?,
            },
            ["co"] => Self::Checkout,
            ["ok", token] => Self::Confirm {
                token: number(token)?,
            },
            ["cx"] => Self::CancelCheckout,
            ["up", token] => Self::UseSavedPhone {
                token: number(token)?,
            },
            ["ua", token] => Self::UseSavedAddress {
                token: number(token)?,
            },
            ["ea"] => Self::EnterAnother,
            ["fd"] => Self::ForgetDetails,
            ["cp"] => Self::Coupon,
            ["o", page] => Self::Orders {
                page: number(page)?,
            },
            ["oa", order] => Self::OrderAgain {
                order: number(order)?,
            },
            ["ou", order] => Self::CancelUnpaid {
                order: number(order)?,
            },
            ["pf"] => Self::Profile,
            ["pq", question] => Self::Change {
                question: number(question)?,
            },
            ["q", question, option] => Self::Choose {
                question: number(question)?,
                option: number(option)?,
            },
            ["qd", question] => Self::Done {
                question: number(question)?,
            },
            ["qs", question] => Self::Skip {
                question: number(question)?,
            },
            ["nw"] => Self::ToggleNews,
            ["oc", order] => Self::CancelOrder {
                order: number(order)?,
            },
            ["ocy", order] => Self::ConfirmCancelOrder {
                order: number(order)?,
            },
            ["mo", page] => Self::MerchantOrders {
                page: number(page)?,
            },
            ["ms", order, to] => Self::SetStatus {
                order: number(order)?,
                to: OrderMove::from_code(to)?,
            },
            _ => return Err(UnknownCallback),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every variant with its widest values: each must fit Telegram's 64 bytes.
    fn widest() -> Vec<Callback> {
        let id = i64::MIN;
        let page = u32::MAX;
        vec![
            Callback::Menu,
            Callback::Catalog { page },
            Callback::Category { category: id, page },
            Callback::Product { product: id },
            Callback::ProductPage { product: id, page },
            Callback::Details { product: id },
            Callback::Variant { variant: id },
            Callback::Add {
                variant: id,
                quantity: u16::MAX,
            },
            Callback::OtherAmount { variant: id },
            Callback::Search,
            Callback::SearchPage { page },
            Callback::Cart,
            Callback::Increase { variant: id },
            Callback::Decrease { variant: id },
            Callback::Remove { variant: id },
            Callback::Checkout,
            Callback::Confirm { token: u64::MAX },
            Callback::CancelCheckout,
            Callback::UseSavedPhone { token: u64::MAX },
            Callback::UseSavedAddress { token: u64::MAX },
            Callback::EnterAnother,
            Callback::ForgetDetails,
            Callback::Coupon,
            Callback::Orders { page },
            Callback::OrderAgain { order: id },
            Callback::CancelUnpaid { order: id },
            Callback::Profile,
            Callback::Change { question: id },
            Callback::Choose {
                question: id,
                option: id,
            },
            Callback::Done { question: id },
            Callback::Skip { question: id },
            Callback::ToggleNews,
            Callback::CancelOrder { order: id },
            Callback::ConfirmCancelOrder { order: id },
            Callback::MerchantOrders { page },
            Callback::SetStatus {
                order: id,
                to: OrderMove::Delivered,
            },
        ]
    }

    #[test]
    fn the_widest_value_of_every_variant_fits_64_bytes() {
        for callback in widest() {
            let data = callback.to_string();
            assert!(data.len() <= MAX_CALLBACK_BYTES, "{data} is too long");
            assert_eq!(data.parse::<Callback>(), Ok(callback));
        }
    }

    #[test]
    fn near_misses_are_refused() {
        for data in [
            "",
            "v",
            "v:",
            "v:1:2",
            "v:+1",
            "v:01",
            "v:x",
            "a:1",
            "a:1:-1",
            "a:1:70000",
            "cart:1",
            "M",
            "ok:-1",
            " v:1",
            "ms:1",
            "ms:1:x",
            "ms:1:P",
            "ocy:",
            "mo:-1",
        ] {
            assert_eq!(data.parse::<Callback>(), Err(UnknownCallback), "{data:?}");
        }
    }

    fn any_callback() -> impl Strategy<Value = Callback> {
        let id = any::<i64>();
        let page = any::<u32>();
        prop_oneof![
            Just(Callback::Menu),
            page.prop_map(|page| Callback::Catalog { page }),
            (id, page).prop_map(|(category, page)| Callback::Category { category, page }),
            id.prop_map(|product| Callback::Product { product }),
            (id, page).prop_map(|(product, page)| Callback::ProductPage { product, page }),
            id.prop_map(|product| Callback::Details { product }),
            id.prop_map(|variant| Callback::Variant { variant }),
            (id, any::<u16>()).prop_map(|(variant, quantity)| Callback::Add { variant, quantity }),
            id.prop_map(|variant| Callback::OtherAmount { variant }),
            Just(Callback::Search),
            page.prop_map(|page| Callback::SearchPage { page }),
            Just(Callback::Cart),
            id.prop_map(|variant| Callback::Increase { variant }),
            id.prop_map(|variant| Callback::Decrease { variant }),
            id.prop_map(|variant| Callback::Remove { variant }),
            Just(Callback::Checkout),
            any::<u64>().prop_map(|token| Callback::Confirm { token }),
            Just(Callback::CancelCheckout),
            any::<u64>().prop_map(|token| Callback::UseSavedPhone { token }),
            any::<u64>().prop_map(|token| Callback::UseSavedAddress { token }),
            Just(Callback::EnterAnother),
            Just(Callback::ForgetDetails),
            Just(Callback::Coupon),
            page.prop_map(|page| Callback::Orders { page }),
            id.prop_map(|order| Callback::OrderAgain { order }),
            id.prop_map(|order| Callback::CancelUnpaid { order }),
            Just(Callback::Profile),
            id.prop_map(|question| Callback::Change { question }),
            (id, id).prop_map(|(question, option)| Callback::Choose { question, option }),
            id.prop_map(|question| Callback::Done { question }),
            id.prop_map(|question| Callback::Skip { question }),
            Just(Callback::ToggleNews),
            id.prop_map(|order| Callback::CancelOrder { order }),
            id.prop_map(|order| Callback::ConfirmCancelOrder { order }),
            page.prop_map(|page| Callback::MerchantOrders { page }),
            (id, prop::sample::select(OrderMove::ALL.to_vec()))
                .prop_map(|(order, to)| Callback::SetStatus { order, to }),
        ]
    }

    proptest! {
        #[test]
        fn parse_reads_back_what_display_writes(callback in any_callback()) {
            let data = callback.to_string();
            prop_assert!(data.len() <= MAX_CALLBACK_BYTES);
            prop_assert_eq!(data.parse::<Callback>(), Ok(callback));
        }

        #[test]
        fn arbitrary_data_never_panics(data in ".{0,80}") {
            if let Ok(callback) = data.parse::<Callback>() {
                prop_assert_eq!(callback.to_string(), data);
            }
        }

        #[test]
        fn arbitrary_bytes_of_our_alphabet_never_panic(data in "[a-z0-9:+-]{0,70}") {
            if let Ok(callback) = data.parse::<Callback>() {
                prop_assert_eq!(callback.to_string(), data);
            }
        }
    }
}
