//! Money as the store keeps it: a whole number of minor units of `store.currency` (cents for
//! EUR, yen for JPY, fils for KWD). Reading and writing amounts in major units follows the
//! currency's ISO 4217 decimals, so the bot and the admin tool always agree on what `4.50`
//! means. Pure: no I/O.

/// How many decimals the currency's major unit has, per ISO 4217's table (`iso_currency`): 2
/// for EUR, 0 for JPY, 3 for KWD. A code the table doesn't know, or one without decimals
/// there (gold, say), counts as 2; the store's configuration refuses such codes at start.
pub fn minor_digits(currency: &str) -> u32 {
    iso_currency::Currency::from_code(currency)
        .and_then(iso_currency::Currency::exponent)
        .map_or(2, u32::from)
}

/// `1250` EUR → `12.50`; `500` JPY → `500`; `1234` KWD → `1.234`.
pub fn major_units(minor: i64, currency: &str) -> String {
    let digits = minor_digits(currency);
    if digits == 0 {
        return minor.to_string();
    }
    let unit = 10_u64.pow(digits);
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!(
        "{sign}{}.{:0width$}",
        abs / unit,
        abs % unit,
        width = digits as usize
    )
}

/// `1250` EUR → `12.50 EUR`.
pub fn with_currency(minor: i64, currency: &str) -> String {
    format!("{} {currency}", major_units(minor, currency))
}

/// An amount that can't be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not an amount like {example}")]
pub struct MoneyError {
    text: String,
    example: String,
}

/// `12.50` EUR → 1250; `500` JPY → 500. At most the currency's decimals, no sign, no
/// thousands separators; an amount too large for the store is refused.
pub fn parse_major_units(text: &str, currency: &str) -> Result<i64, MoneyError> {
    let text = text.trim();
    let digits = minor_digits(currency);
    let bad = || MoneyError {
        text: text.to_owned(),
        example: major_units(1250 * 10_i64.pow(digits) / 100, currency),
    };
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let all_digits = |part: &str| part.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return Err(bad());
    }
    if fraction.len() > digits as usize || (digits == 0 && text.contains('.')) {
        return Err(bad());
    }
    let width = digits as usize;
    let fraction: i64 = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<width$}").parse().map_err(|_| bad())?
    };
    whole
        .parse::<i64>()
        .ok()
        .and_then(|whole| whole.checked_mul(10_i64.pow(digits)))
        .and_then(|minor| minor.checked_add(fraction))
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_written_with_the_currency_decimals() {
        for (minor, currency, expected) in [
            (1250, "EUR", "12.50 EUR"),
            (5, "USD", "0.05 USD"),
            (-199, "EUR", "-1.99 EUR"),
            (500, "JPY", "500 JPY"),
            (1234, "KWD", "1.234 KWD"),
            (i64::MIN, "EUR", "-92233720368547758.08 EUR"),
        ] {
            assert_eq!(with_currency(minor, currency), expected);
        }
    }

    #[test]
    fn decimals_come_from_the_iso_table() {
        for (currency, digits) in [
            ("EUR", 2),
            ("JPY", 0),
            ("ISK", 0),
            ("OMR", 3),
            ("CLF", 4),
            ("XAU", 2),
            ("ZZZ", 2),
        ] {
            assert_eq!(minor_digits(currency), digits, "{currency}");
        }
        assert_eq!(with_currency(12345, "CLF"), "1.2345 CLF");
    }

    #[test]
    fn amounts_are_read_with_the_currency_decimals() {
        for (text, currency, expected) in [
            ("12.50", "EUR", 1250),
            ("12.5", "EUR", 1250),
            (" 7 ", "EUR", 700),
            ("500", "JPY", 500),
            ("1.234", "KWD", 1234),
            ("0.05", "USD", 5),
        ] {
            assert_eq!(parse_major_units(text, currency), Ok(expected), "{text}");
        }
    }

    #[test]
    fn unreadable_amounts_say_what_an_amount_looks_like() {
        for (text, currency, message) in [
            ("abc", "EUR", "`abc` is not an amount like 12.50"),
            ("1.234", "EUR", "`1.234` is not an amount like 12.50"),
            ("5.5", "JPY", "`5.5` is not an amount like 12"),
            ("-3", "EUR", "`-3` is not an amount like 12.50"),
            ("1,50", "EUR", "`1,50` is not an amount like 12.50"),
            ("", "EUR", "`` is not an amount like 12.50"),
            (
                "99999999999999999999",
                "EUR",
                "`99999999999999999999` is not an amount like 12.50",
            ),
        ] {
            let error = parse_major_units(text, currency).expect_err(text);
            assert_eq!(error.to_string(), message);
        }
    }

    #[test]
    fn what_is_written_reads_back() {
        for currency in ["EUR", "JPY", "KWD"] {
            for minor in [0, 1, 99, 1250, 1_000_000_007] {
                let text = major_units(minor, currency);
                assert_eq!(parse_major_units(&text, currency), Ok(minor), "{text}");
            }
        }
    }
}
