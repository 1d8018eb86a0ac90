//! Coupon rules that need no database: the shape of a code, the kind of discount, and how a
//! discount is spread over the lines it covers.
//!
//! Everything here takes values and returns values; `store::orders::coupons` reads the coupon, the
//! shopper and the cart and calls in. It must never read the clock or the database.

use std::fmt;

/// The longest code a merchant may choose (shoppers type it).
pub const MAX_CODE_CHARS: usize = 32;

/// A coupon code as stored and compared: trimmed and upper-case, so `summer10`, ` Summer10 `
/// and `SUMMER10` are one code.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct CouponCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CouponError {
    #[error("a coupon code needs 3 to {MAX_CODE_CHARS} letters, digits, `-` or `_`")]
    BadCode,
    #[error("a percent discount is a whole number from 1 to 100, not {0}")]
    BadPercent(i64),
    #[error("a fixed discount must be more than zero")]
    BadFixed,
}

impl CouponCode {
    pub fn parse(text: &str) -> Result<Self, CouponError> {
        let code = text.trim().to_uppercase();
        let length = code.chars().count();
        if !(3..=MAX_CODE_CHARS).contains(&length)
            || !code
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
        {
            return Err(CouponError::BadCode);
        }
        Ok(Self(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CouponCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a coupon takes off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", content = "amount", rename_all = "snake_case")]
pub enum Discount {
    /// Whole percent (1–100) of each covered line, rounded down to minor units.
    Percent(i64),
    /// An amount in minor units, spread over the covered lines.
    Fixed(i64),
}

impl Discount {
    pub fn percent(value: i64) -> Result<Self, CouponError> {
        if (1..=100).contains(&value) {
            Ok(Self::Percent(value))
        } else {
            Err(CouponError::BadPercent(value))
        }
    }

    pub fn fixed(minor: i64) -> Result<Self, CouponError> {
        if minor > 0 {
            Ok(Self::Fixed(minor))
        } else {
            Err(CouponError::BadFixed)
        }
    }

    /// As stored: `("percent", 10)` or `("fixed", 500)`.
    pub fn kind(self) -> &'static str {
        match self {
            Self::Percent(_) => "percent",
            Self::Fixed(_) => "fixed",
        }
    }

    pub fn amount(self) -> i64 {
        match self {
            Self::Percent(value) | Self::Fixed(value) => value,
        }
    }

    /// Reads a stored coupon's kind and amount; `None` for anything else.
    pub fn from_stored(kind: &str, amount: i64) -> Option<Self> {
        match kind {
            "percent" => Self::percent(amount).ok(),
            "fixed" => Self::fixed(amount).ok(),
            _ => None,
        }
    }

    /// The discount on each covered line, given as `(key, line total)` in cart order; lines
    /// that get nothing are left out. No line ever gets more than its total.
    ///
    /// A percent rounds each line down. A fixed amount (capped at the covered total) is
    /// shared in proportion to the line totals, rounded down, and the cents left by rounding
    /// go one each to the lines that rounding cut most (largest remainder first, ties in cart
    /// order), so the parts add up to the amount exactly and each is within a cent of its
    /// exact share.
    pub fn per_line<K: Copy>(self, lines: &[(K, i64)]) -> Vec<(K, i64)> {
        let lines: Vec<(K, i64)> = lines
            .iter()
            .map(|&(key, total)| (key, total.max(0)))
            .collect();
        let shares: Vec<(K, i64)> = match self {
            Self::Percent(percent) => lines
                .iter()
                .map(|&(key, total)| (key, mul_div(total, percent, 100)))
                .collect(),
            Self::Fixed(amount) => {
                let covered = lines
                    .iter()
                    .map(|&(_, total)| total)
                    .fold(0_i64, i64::saturating_add);
                let amount = amount.min(covered);
                let mut shares: Vec<(K, i64)> = lines
                    .iter()
                    .map(|&(key, total)| (key, mul_div(amount, total, covered)))
                    .collect();
                let left = amount - shares.iter().map(|&(_, share)| share).sum::<i64>();
                // Largest remainder first: each cent rounding left goes to a line whose exact
                // share lost most to rounding down (ties in cart order), one cent per line. A
                // line with a remainder is below its total, so the cap still holds.
                let mut by_remainder: Vec<(usize, i128)> = lines
                    .iter()
                    .enumerate()
                    .map(|(index, &(_, total))| (index, remainder(amount, total, covered)))
                    .filter(|&(_, rest)| rest > 0)
                    .collect();
                by_remainder.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                let left = usize::try_from(left).unwrap_or(0);
                for &(index, _) in by_remainder.iter().take(left) {
                    if let Some(share) = shares.get_mut(index) {
                        share.1 += 1;
                    }
                }
                shares
            }
        };
        shares.into_iter().filter(|&(_, share)| share > 0).collect()
    }
}

/// What rounding `value * numerator / denominator` down leaves, in units of `1/denominator`.
fn remainder(value: i64, numerator: i64, denominator: i64) -> i128 {
    if denominator <= 0 {
        return 0;
    }
    i128::from(value) * i128::from(numerator) % i128::from(denominator)
}

/// `value * numerator / denominator` rounded down, without overflow for money amounts.
fn mul_div(value: i64, numerator: i64, denominator: i64) -> i64 {
    if denominator <= 0 {
        return 0;
    }
    let exact = i128::from(value) * i128::from(numerator) / i128::from(denominator);
    i64::try_from(exact).unwrap_or(i64::MAX)
}

impl fmt::Display for Discount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Percent(value) => write!(f, "{value}%"),
            Self::Fixed(value) => write!(f, "{value} (minor units)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_trimmed_and_upper_cased() {
        assert_eq!(
            CouponCode::parse(" summer-10 ").map(|c| c.to_string()),
            Ok("SUMMER-10".to_owned())
        );
        for bad in ["", "ab", "two words", "x;drop", &"A".repeat(33)] {
            assert_eq!(CouponCode::parse(bad), Err(CouponError::BadCode), "{bad}");
        }
    }

    #[test]
    fn percent_outside_one_to_hundred_is_rejected() {
        assert!(Discount::percent(0).is_err());
        assert!(Discount::percent(101).is_err());
        assert_eq!(Discount::percent(100), Ok(Discount::Percent(100)));
        assert!(Discount::fixed(0).is_err());
    }

    #[test]
    fn percent_rounds_each_line_down() {
        let lines = [(1, 999), (2, 450), (3, 5)];
        assert_eq!(
            Discount::Percent(10).per_line(&lines),
            vec![(1, 99), (2, 45)]
        );
    }

    #[test]
    fn fixed_is_spread_in_proportion_and_adds_up() {
        let lines = [(1, 300), (2, 100)];
        assert_eq!(
            Discount::Fixed(101).per_line(&lines),
            vec![(1, 76), (2, 25)]
        );
        let parts = Discount::Fixed(7).per_line(&[(1, 1), (2, 1), (3, 100)]);
        assert_eq!(parts.iter().map(|p| p.1).sum::<i64>(), 7);
    }

    #[test]
    fn leftover_cents_go_to_the_largest_remainders() {
        let four = [(1, 100), (2, 100), (3, 100), (4, 100)];
        assert_eq!(
            Discount::Fixed(7).per_line(&four),
            vec![(1, 2), (2, 2), (3, 2), (4, 1)]
        );
        let lines = [(1, 7997), (2, 5992), (3, 36011)];
        assert_eq!(
            Discount::Fixed(500).per_line(&lines),
            vec![(1, 80), (2, 60), (3, 360)]
        );
    }

    proptest::proptest! {
        #[test]
        fn a_fixed_amount_adds_up_and_each_share_is_within_a_cent_of_exact(
            amount in 0_i64..1_000_000,
            totals in proptest::collection::vec(0_i64..100_000, 1..8),
        ) {
            let lines: Vec<(usize, i64)> = totals.iter().copied().enumerate().collect();
            let covered: i64 = totals.iter().sum();
            let shares = Discount::Fixed(amount).per_line(&lines);
            let sum: i64 = shares.iter().map(|&(_, share)| share).sum();
            proptest::prop_assert_eq!(sum, amount.min(covered));
            for &(index, share) in &shares {
                let total = totals[index];
                proptest::prop_assert!(share <= total);
                let exact = i128::from(amount.min(covered)) * i128::from(total);
                let floor = exact / i128::from(covered.max(1));
                proptest::prop_assert!(
                    i128::from(share) == floor || i128::from(share) == floor + 1,
                    "line {} of total {} got {} for exact {}/{}", index, total, share, exact, covered
                );
            }
        }
    }

    #[test]
    fn fixed_never_makes_a_line_negative() {
        let lines = [(1, 300), (2, 100)];
        assert_eq!(
            Discount::Fixed(10_000).per_line(&lines),
            vec![(1, 300), (2, 100)]
        );
    }
}
