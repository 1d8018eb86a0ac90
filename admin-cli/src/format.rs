//! Reading and writing the values merchants type: money in major units (`12.50`), dates in the
//! store's time zone, yes/no words. Parsing fails with one sentence; it never panics.

use anyhow::{Result, anyhow, bail};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

/// `12.50` → 1250 minor units (two decimals, as for most currencies).
pub fn parse_money(text: &str) -> Result<i64> {
    let text = text.trim();
    let bad = || anyhow!("`{text}` is not an amount like 12.50");
    let (whole, cents) = match text.split_once('.') {
        Some((whole, cents)) => (whole, cents),
        None => (text, ""),
    };
    if whole.is_empty() || !whole.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    if cents.len() > 2 || !cents.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let cents: i64 = if cents.is_empty() {
        0
    } else {
        format!("{cents:0<2}").parse().map_err(|_| bad())?
    };
    whole
        .checked_mul(100)
        .and_then(|minor| minor.checked_add(cents))
        .ok_or_else(bad)
}

/// 1250 → `12.50`.
pub fn money(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let minor = minor.unsigned_abs();
    format!("{sign}{}.{:02}", minor / 100, minor % 100)
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
            assert_eq!(parse_money(text).expect(text), minor);
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
            assert!(parse_money(bad).is_err(), "{bad}");
        }
        assert_eq!(money(1250), "12.50");
        assert_eq!(money(5), "0.05");
    }
}
