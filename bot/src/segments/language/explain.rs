//! An explanation in the rule language: each node as the merchant wrote it, its verdict, and
//! the shopper's own values in money and local time, so no legend of ids is needed:
//!
//! ```text
//! ✗ all of:
//!   ✓ total check >= 100.00 (total 124.01 EUR in 3 orders)
//!   ✗ answer "Pets?" is "Cat" (answered "Dog")
//! ```

use super::super::evaluate::{Detail, Explanation, Interaction};
use super::super::rule::{OrderBounds, Rule};
use super::names::RuleNames;
use super::print::{condition, quote};
use crate::money::with_currency;

/// One line per node, children indented by two spaces.
pub fn explanation_lines(explanation: &Explanation<'_>, names: &RuleNames) -> Vec<String> {
    let mut lines = Vec::new();
    walk(explanation, names, 0, &mut lines);
    lines
}

fn walk(node: &Explanation<'_>, names: &RuleNames, depth: usize, lines: &mut Vec<String>) {
    let mark = if node.matched { '✓' } else { '✗' };
    let indent = "  ".repeat(depth);
    if let Detail::Group { kind, children } = &node.detail {
        lines.push(format!("{indent}{mark} {kind} of:"));
        for child in children {
            walk(child, names, depth + 1, lines);
        }
        return;
    }
    let (rule, values) = condition_and_values(&node.detail, names);
    lines.push(format!(
        "{indent}{mark} {} ({values})",
        condition(&rule, names)
    ));
}

/// Money of any size (sums are `i128`) with the currency.
fn money(amount: i128, names: &RuleNames) -> String {
    match i64::try_from(amount) {
        Ok(amount) => with_currency(amount, &names.currency),
        Err(_) => format!("{amount} minor units of {}", names.currency),
    }
}

fn orders(count: usize) -> String {
    match count {
        1 => "1 order".to_owned(),
        count => format!("{count} orders"),
    }
}

/// The node rebuilt as a condition (so it prints exactly as the rule does) and the shopper's
/// values behind its verdict.
fn condition_and_values(detail: &Detail<'_>, names: &RuleNames) -> (Rule, String) {
    match detail {
        Detail::Group { .. } => (Rule::All { rules: Vec::new() }, String::new()),
        Detail::Answer {
            question,
            options,
            answered,
        } => {
            let values = match answered {
                None => "not answered".to_owned(),
                Some(chosen) if chosen.is_empty() => "skipped".to_owned(),
                Some(chosen) => {
                    let texts: Vec<String> = chosen
                        .iter()
                        .map(|option| {
                            names
                                .questions
                                .get(question)
                                .and_then(|q| q.options.get(option))
                                .map_or_else(|| format!("#{option}"), |o| quote(&o.text))
                        })
                        .collect();
                    format!("answered {}", texts.join(", "))
                }
            };
            (
                Rule::Answer {
                    question: *question,
                    options: (*options).clone(),
                },
                values,
            )
        }
        Detail::Interaction { which, when, at } => {
            let rule = match which {
                Interaction::First => Rule::FirstInteraction {
                    when: (*when).clone(),
                },
                Interaction::Last => Rule::LastInteraction {
                    when: (*when).clone(),
                },
            };
            (rule, format!("it was {}", at.format("%Y-%m-%d %H:%M %Z")))
        }
        Detail::AverageCheck { bounds, orders: o } => {
            let values = match o.rounded_average() {
                None => "no counted orders".to_owned(),
                Some(average) => {
                    // The mean is compared exactly; "≈" warns that the shown one is rounded.
                    let approx = if average * o.count as i128 != o.total {
                        "≈"
                    } else {
                        ""
                    };
                    format!(
                        "average {approx}{} over {}, {} in all",
                        money(average, names),
                        orders(o.count),
                        money(o.total, names)
                    )
                }
            };
            (Rule::AverageCheck(OrderBounds::clone(bounds)), values)
        }
        Detail::TotalCheck { bounds, orders: o } => (
            Rule::TotalCheck(OrderBounds::clone(bounds)),
            format!("total {} in {}", money(o.total, names), orders(o.count)),
        ),
        Detail::OrderCount { bounds, orders: o } => (
            Rule::OrderCount(OrderBounds::clone(bounds)),
            orders(o.count),
        ),
        Detail::Bought {
            item,
            frame,
            orders_with_item,
        } => (
            Rule::Bought {
                item: *item,
                frame: (*frame).clone(),
            },
            format!("in {} counted", orders(*orders_with_item)),
        ),
        Detail::Language { codes, language } => (
            Rule::Language {
                codes: (*codes).clone(),
            },
            match language {
                Some(code) => format!("language {}", quote(code)),
                None => "language unknown".to_owned(),
            },
        ),
        Detail::Segment {
            segment,
            member,
            is_member,
        } => (
            Rule::Segment {
                segment: *segment,
                member: *member,
            },
            if *is_member {
                "is a member".to_owned()
            } else {
                "is not a member".to_owned()
            },
        ),
    }
}
