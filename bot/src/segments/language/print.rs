//! Writing a stored rule in the rule language, with the store's current names. The text parses
//! back to the same rule (a property test holds the two together), so a nested group is always
//! put in parentheses and the few shapes that plain `and`/`or`/`not` can't tell apart get an
//! explicit form (`all of (…)`, `not ((… or …))`).

use super::super::rule::{DateRange, Item, OrderBounds, Rule, TimeFrame, When};
use super::names::RuleNames;
use crate::money::major_units;

/// The whole rule in words.
pub fn to_text(rule: &Rule, names: &RuleNames) -> String {
    match rule {
        Rule::All { rules } if rules.len() >= 2 => chain(rules, " and ", names),
        Rule::Any { rules } if rules.len() >= 2 => chain(rules, " or ", names),
        _ => unary(rule, names),
    }
}

/// The rule in words, cut after `width` characters with "…".
pub fn to_short_text(rule: &Rule, names: &RuleNames, width: usize) -> String {
    let text = to_text(rule, names);
    if text.chars().count() <= width {
        return text;
    }
    let mut short: String = text.chars().take(width.saturating_sub(1)).collect();
    short.push('…');
    short
}

/// Whether the node prints as a bare `a and b` / `a or b` chain, which needs parentheses
/// wherever it is not the whole text.
fn is_chain(rule: &Rule) -> bool {
    matches!(rule, Rule::All { rules } | Rule::Any { rules } if rules.len() >= 2)
}

fn operand(rule: &Rule, names: &RuleNames) -> String {
    if is_chain(rule) {
        format!("({})", to_text(rule, names))
    } else {
        unary(rule, names)
    }
}

fn chain(rules: &[Rule], separator: &str, names: &RuleNames) -> String {
    rules
        .iter()
        .map(|rule| operand(rule, names))
        .collect::<Vec<_>>()
        .join(separator)
}

fn unary(rule: &Rule, names: &RuleNames) -> String {
    match rule {
        Rule::All { rules } => format!("all of ({})", chain(rules, " and ", names)),
        Rule::Any { rules } => format!("any of ({})", chain(rules, " or ", names)),
        Rule::None { rules } => match rules.as_slice() {
            // `not in segment` is the condition with `member: false`; the group around a
            // `member: true` condition needs the parentheses to stay a group.
            [child @ Rule::Segment { member: true, .. }] => {
                format!("not ({})", condition(child, names))
            }
            // `not (a or b)` is the group of both; one `any` child inside gets its own pair.
            [child @ Rule::Any { .. }] if is_chain(child) => {
                format!("not (({}))", to_text(child, names))
            }
            [child] if is_chain(child) => format!("not ({})", to_text(child, names)),
            [child] => format!("not {}", unary(child, names)),
            rules => format!("not ({})", chain(rules, " or ", names)),
        },
        condition_rule => condition(condition_rule, names),
    }
}

/// `"What do you drink?"`, with `"` and `\` escaped.
pub(super) fn quote(name: &str) -> String {
    let mut quoted = String::with_capacity(name.len() + 2);
    quoted.push('"');
    for c in name.chars() {
        if matches!(c, '"' | '\\') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

fn one_or_any(items: Vec<String>) -> String {
    match items.as_slice() {
        [one] => format!("is {one}"),
        items => format!("is any of {}", items.join(", ")),
    }
}

/// One condition in words (a group shows as its whole text).
pub fn condition(rule: &Rule, names: &RuleNames) -> String {
    match rule {
        Rule::All { .. } | Rule::Any { .. } | Rule::None { .. } => to_text(rule, names),
        Rule::Answer { question, options } => {
            let found = names.questions.get(question);
            let question_text = found.map_or_else(|| format!("#{question}"), |q| quote(&q.text));
            let options = options
                .iter()
                .map(|option| {
                    found
                        .and_then(|q| q.options.get(option))
                        .map_or_else(|| format!("#{option}"), |o| quote(&o.text))
                })
                .collect();
            format!("answer {question_text} {}", one_or_any(options))
        }
        Rule::FirstInteraction { when } => format!("first interaction {}", when_text(when)),
        Rule::LastInteraction { when } => format!("last interaction {}", when_text(when)),
        Rule::AverageCheck(bounds) => format!("average check {}", money_bounds(bounds, names)),
        Rule::TotalCheck(bounds) => format!("total check {}", money_bounds(bounds, names)),
        Rule::OrderCount(bounds) => format!(
            "order count {}{}",
            bounds_text(bounds.min, bounds.max, |count| count.to_string()),
            frame_text(&bounds.frame)
        ),
        Rule::Bought { item, frame } => {
            let item = match item {
                Item::Product(id) => match names.products.get(id) {
                    Some(title) if names.product_title_is_unique(title) => {
                        format!("product {}", quote(title))
                    }
                    _ => format!("product #{id}"),
                },
                Item::Variant(id) => names
                    .variants
                    .get(id)
                    .map_or_else(|| format!("sku #{id}"), |sku| format!("sku {}", quote(sku))),
            };
            format!("bought {item}{}", frame_text(frame))
        }
        Rule::Language { codes } => {
            format!(
                "language {}",
                one_or_any(codes.iter().map(|c| quote(c)).collect())
            )
        }
        Rule::Segment { segment, member } => {
            let name = names
                .segments
                .get(segment)
                .map_or_else(|| format!("#{segment}"), |name| quote(name));
            let not = if *member { "" } else { "not " };
            format!("{not}in segment {name}")
        }
    }
}

fn when_text(when: &When) -> String {
    match when {
        When::Dates(range) => dates_text(range),
        When::WithinLastDays(days) => format!("within last {}", days_text(*days)),
        When::NotWithinLastDays(days) => format!("not within last {}", days_text(*days)),
    }
}

pub(super) fn days_text(days: u32) -> String {
    if days == 1 {
        "1 day".to_owned()
    } else {
        format!("{days} days")
    }
}

pub(super) fn dates_text(range: &DateRange) -> String {
    match (range.from, range.to) {
        (Some(from), Some(to)) => format!("from {from} until {to}"),
        (Some(from), None) => format!("from {from}"),
        (None, Some(to)) => format!("until {to}"),
        (None, None) => "at any time".to_owned(),
    }
}

/// A frame as a trailing phrase; nothing for the whole history.
pub(super) fn frame_text(frame: &TimeFrame) -> String {
    match frame {
        TimeFrame::WholeHistory => String::new(),
        TimeFrame::Dates(range) => format!(" {}", dates_text(range)),
        TimeFrame::LastDays(days) => format!(" during last {}", days_text(*days)),
    }
}

fn money_bounds(bounds: &OrderBounds<i64>, names: &RuleNames) -> String {
    format!(
        "{}{}",
        bounds_text(bounds.min, bounds.max, |amount| major_units(
            amount,
            &names.currency
        )),
        frame_text(&bounds.frame)
    )
}

fn bounds_text<T: Copy>(min: Option<T>, max: Option<T>, show: impl Fn(T) -> String) -> String {
    match (min, max) {
        (Some(min), Some(max)) => format!("between {} and {}", show(min), show(max)),
        (Some(min), None) => format!(">= {}", show(min)),
        (None, Some(max)) => format!("<= {}", show(max)),
        (None, None) => "(no bound)".to_owned(),
    }
}
