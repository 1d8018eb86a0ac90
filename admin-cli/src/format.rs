//! Reading and writing the values merchants type: money in major units (`12.50`), dates in the
//! store's time zone, yes/no words. Parsing fails with one sentence; it never panics.

use anyhow::{Result, anyhow, bail};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

/// `12.50` → 1250 minor units, with the decimals of `currency` (`500` yen → 500).
pub fn parse_money(text: &str, currency: &str) -> Result<i64> {
    Ok(storebot::money::parse_major_units(text, currency)?)
}

/// 1250 → `12.50` in `currency`'s decimals.
pub fn money(minor: i64, currency: &str) -> String {
    storebot::money::major_units(minor, currency)
}

/// A whole number of stock.
pub fn parse_stock(text: &str) -> Result<i32> {
    text.trim()
        .parse()
        .map_err(|_| anyhow!("`{}` is not a whole number of items", text.trim()))
}

/// `yes`/`no` and their usual spellings.
pub fn parse_flag(text: &str) -> Result<bool> {
    match text.trim().to_lowercase().as_str() {
        "yes" | "y" | "true" | "1" | "on" => Ok(true),
        "no" | "n" | "false" | "0" | "off" => Ok(false),
        other => bail!("`{other}` is not yes or no"),
    }
}

/// An instant: RFC 3339 (`2026-11-01T09:30:00Z`), or a date (`2026-11-01`) meaning the start of
/// that day in the store's time zone.
pub fn parse_instant(text: &str, zone: Tz) -> Result<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        return Ok(instant.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        anyhow!("`{text}` is not a date like 2026-11-01 or a time like 2026-11-01T09:30:00Z")
    })?;
    storebot::segments::start_of_day(date, zone)
        .ok_or_else(|| anyhow!("{date} has no start in the store's time zone"))
}

/// An instant shown in the store's time zone, to the minute.
pub fn instant(at: DateTime<Utc>, zone: Tz) -> String {
    at.with_timezone(&zone).format("%Y-%m-%d %H:%M").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_reads_and_writes_major_units() {
        for (text, minor) in [("12.50", 1250), ("12.5", 1250), ("7", 700), ("0.05", 5)] {
            assert_eq!(parse_money(text, "EUR").expect(text), minor);
        }
        for bad in [
            "",
            "1.234",
            "-1",
            "1,50",
            "abc",
            ".5",
            "99999999999999999999",
        ] {
            assert!(parse_money(bad, "EUR").is_err(), "{bad}");
        }
        assert_eq!(money(1250, "EUR"), "12.50");
        assert_eq!(money(5, "EUR"), "0.05");
        assert_eq!(money(500, "JPY"), "500");
        assert_eq!(parse_money("500", "JPY").expect("yen"), 500);
    }
}
