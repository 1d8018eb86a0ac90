//! Turning the rule's days and day counts into spans of instants.
//!
//! Both the in-memory evaluation and the later SQL compilation go through [`Window`], so that
//! the day edges are drawn in exactly one place.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

use super::rule::{DateRange, TimeFrame, When};

/// A half-open span of instants `[start, end)`; a missing side is unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

impl Window {
    const ALL_TIME: Window = Window {
        start: None,
        end: None,
    };

    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.start.is_none_or(|start| at >= start) && self.end.is_none_or(|end| at < end)
    }

    /// From `now - days` on, with no end: an order or interaction stamped slightly in the
    /// future (clock skew between bot replicas) still counts as recent.
    pub fn last_days(days: u32, now: DateTime<Utc>) -> Window {
        // A cutoff before the earliest representable instant excludes nothing.
        let start = TimeDelta::try_days(days.into()).and_then(|span| now.checked_sub_signed(span));
        Window { start, end: None }
    }
}

impl DateRange {
    /// From the first instant of local day `from` to the first instant of the local day after
    /// `to`. A side beyond chrono's range is left open, which excludes nothing.
    pub fn window(&self, time_zone: Tz) -> Window {
        Window {
            start: self.from.and_then(|from| start_of_day(from, time_zone)),
            end: self
                .to
                .and_then(|to| to.succ_opt())
                .and_then(|next| start_of_day(next, time_zone)),
        }
    }
}

impl TimeFrame {
    pub fn window(&self, now: DateTime<Utc>, time_zone: Tz) -> Window {
        match self {
            TimeFrame::WholeHistory => Window::ALL_TIME,
            TimeFrame::Dates(range) => range.window(time_zone),
            TimeFrame::LastDays(days) => Window::last_days(*days, now),
        }
    }
}

impl When {
    pub fn holds_at(&self, at: DateTime<Utc>, now: DateTime<Utc>, time_zone: Tz) -> bool {
        match self {
            When::Dates(range) => range.window(time_zone).contains(at),
            When::WithinLastDays(days) => Window::last_days(*days, now).contains(at),
            When::NotWithinLastDays(days) => !Window::last_days(*days, now).contains(at),
        }
    }
}

/// The first instant of local day `date` in `time_zone`, or `None` beyond chrono's range.
pub fn start_of_day(date: NaiveDate, time_zone: Tz) -> Option<DateTime<Utc>> {
    let midnight = date.and_time(NaiveTime::MIN);
    // When clocks fall back over midnight, the day starts at the first of the two midnights.
    if let Some(start) = time_zone.from_local_datetime(&midnight).earliest() {
        return Some(start.to_utc());
    }
    // Midnight fell into a gap: the clocks jumped over it, so the day starts at the jump,
    // which is not always on the hour (Toronto, 1919: 23:30 to 00:30) and may skip the whole
    // day (Pacific/Apia, 2011-12-30). UTC offsets are under a day, so the jump lies within a
    // day either side of midnight read as UTC; bisect for the first second on `date` or later
    // (transitions fall on whole seconds).
    let as_utc = midnight.and_utc().timestamp();
    let (mut before, mut after) = (as_utc - SECONDS_PER_DAY, as_utc + SECONDS_PER_DAY);
    while after - before > 1 {
        let middle = before + (after - before) / 2;
        let local_day = DateTime::from_timestamp(middle, 0)?
            .with_timezone(&time_zone)
            .date_naive();
        if local_day >= date {
            after = middle;
        } else {
            before = middle;
        }
    }
    DateTime::from_timestamp(after, 0)
}

const SECONDS_PER_DAY: i64 = 24 * 60 * 60;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().expect("a date")
    }

    fn instant(text: &str) -> DateTime<Utc> {
        text.parse().expect("an RFC 3339 instant")
    }

    #[test]
    fn days_start_at_local_midnight_including_clock_gaps() {
        for (date, zone, expected) in [
            ("2024-01-16", "Europe/Berlin", "2024-01-15T23:00:00Z"),
            ("2024-07-16", "Europe/Berlin", "2024-07-15T22:00:00Z"),
            ("2024-01-16", "UTC", "2024-01-16T00:00:00Z"),
            // Havana springs forward from 00:00 to 01:00: the day starts at the jump.
            ("2024-03-10", "America/Havana", "2024-03-10T05:00:00Z"),
            // Toronto's 1919 jump went from 23:30 to 00:30.
            ("1919-03-31", "America/Toronto", "1919-03-31T04:30:00Z"),
            // Samoa skipped 2011-12-30 entirely, so that day is empty and starts with the next.
            ("2011-12-30", "Pacific/Apia", "2011-12-30T10:00:00Z"),
            ("2011-12-31", "Pacific/Apia", "2011-12-30T10:00:00Z"),
        ] {
            let zone: Tz = zone.parse().expect("a time zone");
            assert_eq!(
                start_of_day(day(date), zone),
                Some(instant(expected)),
                "{date} in {zone}"
            );
        }
    }

    #[test]
    fn days_at_the_ends_of_the_calendar_leave_the_window_open() {
        let range = DateRange {
            from: Some(NaiveDate::MIN),
            to: Some(NaiveDate::MAX),
        };
        // Tokyo is ahead of UTC, so its first midnight comes before chrono's first instant.
        assert_eq!(range.window(Tz::Asia__Tokyo), Window::ALL_TIME);
    }

    #[test]
    fn huge_day_counts_reach_back_to_the_beginning_of_time() {
        let window = Window::last_days(u32::MAX, instant("2024-01-01T00:00:00Z"));
        assert_eq!(window, Window::ALL_TIME);
    }

    proptest! {
        #[test]
        fn every_instant_lies_in_the_window_of_its_local_day_or_the_next(
            seconds in -2_208_988_800_i64..4_102_444_800,
            zone_index in 0..chrono_tz::TZ_VARIANTS.len(),
        ) {
            let zone = chrono_tz::TZ_VARIANTS[zone_index];
            let at = DateTime::from_timestamp(seconds, 0).expect("in range");
            let local_day = at.with_timezone(&zone).date_naive();
            let window_of = |day: NaiveDate| DateRange { from: Some(day), to: Some(day) }.window(zone);
            // The next day only when clocks fell back across midnight: the repeated minutes
            // before midnight come after the day's first midnight, so they belong to it.
            let next_day = local_day.succ_opt().expect("in range");
            prop_assert!(
                window_of(local_day).contains(at) != window_of(next_day).contains(at),
                "{at} in {zone} ({local_day})"
            );
        }
    }
}
