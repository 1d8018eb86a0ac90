//! Showing an explanation as indented lines, one per node, for the admin tool:
//!
//! ```text
//! ✗ all of:
//!   ✓ total check 12,400 ≥ min 10,000
//!   ✗ answer to question 3 is one of {5, 6} (answered: 7)
//! ```

use std::collections::BTreeSet;
use std::fmt::{self, Display, Formatter};

use super::evaluate::{Detail, Explanation, Interaction};
use super::rule::{DateRange, Item, OrderBounds, TimeFrame, When};

impl Display for Explanation<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.render(f, 0)
    }
}

impl Explanation<'_> {
    fn render(&self, f: &mut Formatter<'_>, depth: usize) -> fmt::Result {
        let mark = if self.matched { '✓' } else { '✗' };
        write!(f, "{:indent$}{mark} ", "", indent = 2 * depth)?;
        match &self.detail {
            Detail::Group { kind, children } => {
                write!(f, "{kind} of:")?;
                for child in children {
                    writeln!(f)?;
                    child.render(f, depth + 1)?;
                }
                Ok(())
            }
            Detail::Answer {
                question,
                options,
                answered,
            } => {
                write!(
                    f,
                    "answer to question {question} is one of {{{}}} ",
                    list(*options)
                )?;
                match answered {
                    Some(chosen) => write!(f, "(answered: {})", list(chosen)),
                    None => f.write_str("(not answered)"),
                }
            }
            Detail::Interaction { which, when, at } => {
                let which = match which {
                    Interaction::First => "first",
                    Interaction::Last => "last",
                };
                write!(f, "{which} interaction {} is ", at.format("%Y-%m-%d %H:%M"))?;
                match when {
                    When::Dates(range) => write!(f, "{}", Dates(range)),
                    When::WithinLastDays(days) => write!(f, "within the last {days} days"),
                    When::NotWithinLastDays(days) => write!(f, "not within the last {days} days"),
                }
            }
            Detail::AverageCheck { bounds, orders } => {
                match orders.rounded_average() {
                    // The mean is compared exactly; "≈" warns that the shown one is rounded.
                    Some(average) if average * orders.count as i128 != orders.total => {
                        write!(f, "average check ≈{}", Money(average))?
                    }
                    Some(average) => write!(f, "average check {}", Money(average))?,
                    None => f.write_str("average check (no counted orders)")?,
                }
                write!(f, "{}{}", MoneyBounds(bounds), Frame(&bounds.frame))?;
                if orders.count > 0 {
                    write!(
                        f,
                        " ({} in {})",
                        Money(orders.total),
                        counted(orders.count, "order")
                    )?;
                }
                Ok(())
            }
            Detail::TotalCheck { bounds, orders } => write!(
                f,
                "total check {}{}{}",
                Money(orders.total),
                MoneyBounds(bounds),
                Frame(&bounds.frame)
            ),
            Detail::OrderCount { bounds, orders } => {
                write!(f, "order count {}", orders.count)?;
                write_bounds(f, bounds.min, bounds.max, |count| count.to_string())?;
                write!(f, "{}", Frame(&bounds.frame))
            }
            Detail::Bought {
                item,
                frame,
                orders_with_item,
            } => {
                match item {
                    Item::Product(product) => write!(f, "bought product {product}")?,
                    Item::Variant(variant) => write!(f, "bought variant {variant}")?,
                }
                let orders = counted(*orders_with_item, "counted order");
                write!(f, "{} (in {orders})", Frame(frame))
            }
            Detail::Language { codes, language } => write!(
                f,
                "language {} is one of {{{}}}",
                language.as_deref().unwrap_or("(unknown)"),
                list(*codes)
            ),
            Detail::Segment {
                segment,
                member,
                is_member,
            } => {
                let wanted = if *member { "" } else { "not " };
                let actual = if *is_member {
                    "is a member"
                } else {
                    "is not a member"
                };
                write!(f, "{wanted}a member of segment {segment} ({actual})")
            }
        }
    }
}

fn list<T: Display>(items: &BTreeSet<T>) -> String {
    items
        .iter()
        .map(T::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `1 order`, `2 orders`.
fn counted(count: usize, noun: &str) -> String {
    match count {
        1 => format!("1 {noun}"),
        count => format!("{count} {noun}s"),
    }
}

fn write_bounds<T: Copy>(
    f: &mut Formatter<'_>,
    min: Option<T>,
    max: Option<T>,
    show: impl Fn(T) -> String,
) -> fmt::Result {
    match (min, max) {
        (Some(min), Some(max)) => write!(f, " ≥ min {} and ≤ max {}", show(min), show(max)),
        (Some(min), None) => write!(f, " ≥ min {}", show(min)),
        (None, Some(max)) => write!(f, " ≤ max {}", show(max)),
        (None, None) => Ok(()),
    }
}

/// Minor units with thousands separators: `-1,234,567`.
struct Money(i128);

impl Display for Money {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let digits = self.0.unsigned_abs().to_string();
        let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
        for (index, digit) in digits.chars().enumerate() {
            if index > 0 && (digits.len() - index).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(digit);
        }
        let sign = if self.0 < 0 { "-" } else { "" };
        write!(f, "{sign}{grouped}")
    }
}

struct MoneyBounds<'b>(&'b OrderBounds<i64>);

impl Display for MoneyBounds<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_bounds(f, self.0.min, self.0.max, |amount| {
            Money(i128::from(amount)).to_string()
        })
    }
}

/// A time frame as a trailing phrase; nothing for the whole history, which is the default.
struct Frame<'t>(&'t TimeFrame);

impl Display for Frame<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.0 {
            TimeFrame::WholeHistory => Ok(()),
            TimeFrame::Dates(range) => write!(f, ", {}", Dates(range)),
            TimeFrame::LastDays(days) => write!(f, ", in the last {days} days"),
        }
    }
}

struct Dates<'d>(&'d DateRange);

impl Display for Dates<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match (self.0.from, self.0.to) {
            (Some(from), Some(to)) => write!(f, "from {from} to {to}"),
            (Some(from), None) => write!(f, "from {from}"),
            (None, Some(to)) => write!(f, "up to {to}"),
            (None, None) => f.write_str("at any time"),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::evaluate::explain;
    use super::super::evaluate::tests::{context, order, rule, shopper, with_orders};
    use super::*;

    #[test]
    fn explanation_shows_each_verdict_with_the_shopper_values() {
        let rule = rule(json!({"type": "all", "rules": [
            {"type": "total_check", "min": 10_000},
            {"type": "answer", "question": 3, "options": [5, 6]},
            {"type": "answer", "question": 4, "options": [7]},
            {"type": "any", "rules": [
                {"type": "average_check", "min": 4_000, "max": 5_000, "frame": {"last_days": 90}},
                {"type": "order_count", "max": 2, "frame": {"dates": {"from": "2024-05-01"}}},
                {"type": "bought", "item": {"variant": 100}, "frame": {"dates": {"to": "2024-05-31"}}},
            ]},
            {"type": "first_interaction", "when": {"dates": {"from": "2024-01-16", "to": "2024-01-31"}}},
            {"type": "last_interaction", "when": {"not_within_last_days": 30}},
            {"type": "language", "codes": ["de", "en"]},
            {"type": "none", "rules": [{"type": "segment", "segment": 1, "member": false}]},
        ]}));
        let shopper = with_orders(vec![
            order("2024-05-01T10:00:00Z", 4_000, "paid"),
            order("2024-05-02T10:00:00Z", 4_000, "paid"),
            order("2024-05-03T10:00:00Z", 4_401, "paid"),
            order("2024-05-04T10:00:00Z", 99_999, "cancelled"),
        ]);
        let expected = "\
✗ all of:
  ✓ total check 12,401 ≥ min 10,000
  ✓ answer to question 3 is one of {5, 6} (answered: 5)
  ✗ answer to question 4 is one of {7} (not answered)
  ✓ any of:
    ✓ average check ≈4,134 ≥ min 4,000 and ≤ max 5,000, in the last 90 days (12,401 in 3 orders)
    ✗ order count 3 ≤ max 2, from 2024-05-01
    ✓ bought variant 100, up to 2024-05-31 (in 3 counted orders)
  ✓ first interaction 2024-01-16 00:30 is from 2024-01-16 to 2024-01-31
  ✗ last interaction 2024-06-01 10:00 is not within the last 30 days
  ✓ language en-GB is one of {de, en}
  ✓ none of:
    ✗ not a member of segment 1 (is a member)";
        assert_eq!(explain(&rule, &shopper, &context()).to_string(), expected);
    }

    #[test]
    fn average_check_without_orders_says_so() {
        let rule = rule(json!({"type": "average_check", "min": 0}));
        assert_eq!(
            explain(&rule, &shopper(), &context()).to_string(),
            "✗ average check (no counted orders) ≥ min 0"
        );
    }

    #[test]
    fn money_is_grouped_by_thousands() {
        for (amount, expected) in [
            (0, "0"),
            (999, "999"),
            (1_000, "1,000"),
            (-1_234_567, "-1,234,567"),
            (
                i128::MIN,
                "-170,141,183,460,469,231,731,687,303,715,884,105,728",
            ),
        ] {
            assert_eq!(Money(amount).to_string(), expected);
        }
    }
}
