//! Evaluating a rule for one shopper in memory, with the reasons (`explain`).
//!
//! Recompute evaluates rules in SQL for everybody at once; this is the reference it must agree
//! with, and what answers "why is this shopper (not) in that segment".

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::rule::{GroupKind, Item, OrderBounds, Rule, TimeFrame, When};

/// What a rule can know about one shopper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopperFacts {
    /// Registration answers: question id → the option ids chosen. Unanswered questions are
    /// absent (an empty set counts as unanswered too).
    pub answers: BTreeMap<i64, BTreeSet<i64>>,
    pub first_interaction_at: DateTime<Utc>,
    pub last_interaction_at: DateTime<Utc>,
    /// The Telegram `language_code` (an IETF tag such as `en` or `pt-BR`), if Telegram sent one.
    pub language_code: Option<String>,
    /// Every order, whatever its status; the context says which statuses count.
    pub orders: Vec<OrderFacts>,
    /// Ids of the segments the shopper is currently a member of.
    pub segments: BTreeSet<i64>,
}

/// What a rule can know about one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFacts {
    pub placed_at: DateTime<Utc>,
    /// What the shopper pays, in integer minor units.
    pub total: i64,
    pub status: String,
    /// Ids of the products of the order's items.
    pub products: BTreeSet<i64>,
    /// Ids of the variants of the order's items.
    pub variants: BTreeSet<i64>,
}

/// Everything besides the shopper that a verdict depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// The moment "the last N days" count back from; passed in because this module reads no
    /// clock.
    pub now: DateTime<Utc>,
    /// The store's time zone, in which date ranges are whole days.
    pub time_zone: Tz,
    /// Order statuses that count (`segments.counted_statuses`); orders in any other status are
    /// invisible to check, count and `bought` conditions.
    pub counted_statuses: BTreeSet<String>,
}

/// A node's verdict, with the node's parameters and the shopper's values behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation<'r> {
    pub matched: bool,
    pub detail: Detail<'r>,
}

/// One node of the rule next to what the shopper had that it looked at: the rule's shape,
/// mirrored, so that rendering needs nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detail<'r> {
    Group {
        kind: GroupKind,
        children: Vec<Explanation<'r>>,
    },
    Answer {
        question: i64,
        options: &'r BTreeSet<i64>,
        /// The options the shopper chose; `None` when they have not answered.
        answered: Option<BTreeSet<i64>>,
    },
    Interaction {
        which: Interaction,
        when: &'r When,
        /// The shopper's interaction, in the store's time zone.
        at: DateTime<Tz>,
    },
    AverageCheck {
        bounds: &'r OrderBounds<i64>,
        orders: OrderSummary,
    },
    TotalCheck {
        bounds: &'r OrderBounds<i64>,
        orders: OrderSummary,
    },
    OrderCount {
        bounds: &'r OrderBounds<u32>,
        orders: OrderSummary,
    },
    Bought {
        item: Item,
        frame: &'r TimeFrame,
        /// How many counted orders in the frame contain the item.
        orders_with_item: usize,
    },
    Language {
        codes: &'r BTreeSet<String>,
        /// The shopper's language code, if Telegram sent one.
        language: Option<String>,
    },
    Segment {
        segment: i64,
        /// What the condition asks for: member (`true`) or not.
        member: bool,
        /// What the shopper is.
        is_member: bool,
    },
}

/// Which of the shopper's interactions a condition looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interaction {
    First,
    Last,
}

/// Count and sum of totals of the counted orders in one frame. The sum is `i128` so that no
/// order history can overflow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderSummary {
    pub count: usize,
    pub total: i128,
}

impl OrderSummary {
    /// The mean check, rounded half up to whole minor units, for display only: conditions
    /// compare the exact mean.
    pub fn rounded_average(&self) -> Option<i128> {
        let count = self.count as i128;
        (count > 0).then(|| (2 * self.total + count).div_euclid(2 * count))
    }

    /// Whether the exact mean lies within the bounds, compared as `min × count ≤ total ≤
    /// max × count` so that no rounding creeps in (and SQL can do the same in integers). No
    /// orders means no mean, not a mean of 0, so that never matches.
    fn average_within(&self, bounds: &OrderBounds<i64>) -> bool {
        // usize → i128 is lossless, and i64 × usize cannot overflow i128.
        let count = self.count as i128;
        count > 0
            && bounds
                .min
                .is_none_or(|min| self.total >= i128::from(min) * count)
            && bounds
                .max
                .is_none_or(|max| self.total <= i128::from(max) * count)
    }
}

/// Whether the shopper matches the rule.
pub fn evaluate(rule: &Rule, shopper: &ShopperFacts, context: &Context) -> bool {
    // One code path for verdicts and their reasons, so `explain` can never disagree with the
    // verdict it explains; the extra work is negligible for one shopper.
    explain(rule, shopper, context).matched
}

/// The verdict of every node of the rule for the shopper, with the values behind it.
pub fn explain<'r>(rule: &'r Rule, shopper: &ShopperFacts, context: &Context) -> Explanation<'r> {
    let (matched, detail) = match rule {
        Rule::All { rules } => explain_group(GroupKind::All, rules, shopper, context),
        Rule::Any { rules } => explain_group(GroupKind::Any, rules, shopper, context),
        Rule::None { rules } => explain_group(GroupKind::None, rules, shopper, context),
        Rule::Answer { question, options } => {
            let answered = shopper
                .answers
                .get(question)
                .filter(|chosen| !chosen.is_empty());
            let matched = answered.is_some_and(|chosen| !chosen.is_disjoint(options));
            let detail = Detail::Answer {
                question: *question,
                options,
                answered: answered.cloned(),
            };
            (matched, detail)
        }
        Rule::FirstInteraction { when } => explain_interaction(
            Interaction::First,
            when,
            shopper.first_interaction_at,
            context,
        ),
        Rule::LastInteraction { when } => explain_interaction(
            Interaction::Last,
            when,
            shopper.last_interaction_at,
            context,
        ),
        Rule::AverageCheck(bounds) => {
            let orders = summarize(shopper, context, &bounds.frame);
            (
                orders.average_within(bounds),
                Detail::AverageCheck { bounds, orders },
            )
        }
        Rule::TotalCheck(bounds) => {
            let orders = summarize(shopper, context, &bounds.frame);
            let matched = within(orders.total, bounds, i128::from);
            (matched, Detail::TotalCheck { bounds, orders })
        }
        Rule::OrderCount(bounds) => {
            let orders = summarize(shopper, context, &bounds.frame);
            // usize → u64 is lossless on every target Rust supports.
            let matched = within(orders.count as u64, bounds, u64::from);
            (matched, Detail::OrderCount { bounds, orders })
        }
        Rule::Bought { item, frame } => {
            let orders_with_item = counted_orders(shopper, context, frame)
                .filter(|order| match item {
                    Item::Product(product) => order.products.contains(product),
                    Item::Variant(variant) => order.variants.contains(variant),
                })
                .count();
            let detail = Detail::Bought {
                item: *item,
                frame,
                orders_with_item,
            };
            (orders_with_item > 0, detail)
        }
        Rule::Language { codes } => {
            let language = shopper.language_code.clone();
            let primary = language
                .as_deref()
                .and_then(|code| code.split(['-', '_']).next());
            let matched = primary
                .is_some_and(|primary| codes.iter().any(|code| code.eq_ignore_ascii_case(primary)));
            (matched, Detail::Language { codes, language })
        }
        Rule::Segment { segment, member } => {
            let is_member = shopper.segments.contains(segment);
            let detail = Detail::Segment {
                segment: *segment,
                member: *member,
                is_member,
            };
            (is_member == *member, detail)
        }
    };
    Explanation { matched, detail }
}

fn explain_group<'r>(
    kind: GroupKind,
    rules: &'r [Rule],
    shopper: &ShopperFacts,
    context: &Context,
) -> (bool, Detail<'r>) {
    let children: Vec<_> = rules
        .iter()
        .map(|child| explain(child, shopper, context))
        .collect();
    let matched = kind.combine(children.iter().map(|child| child.matched));
    (matched, Detail::Group { kind, children })
}

fn explain_interaction<'r>(
    which: Interaction,
    when: &'r When,
    at: DateTime<Utc>,
    context: &Context,
) -> (bool, Detail<'r>) {
    let matched = when.holds_at(at, context.now, context.time_zone);
    let at = at.with_timezone(&context.time_zone);
    (matched, Detail::Interaction { which, when, at })
}

/// The orders that check, count and `bought` conditions see: counted status, inside the frame.
fn counted_orders<'a>(
    shopper: &'a ShopperFacts,
    context: &'a Context,
    frame: &TimeFrame,
) -> impl Iterator<Item = &'a OrderFacts> {
    let window = frame.window(context.now, context.time_zone);
    shopper.orders.iter().filter(move |order| {
        context.counted_statuses.contains(&order.status) && window.contains(order.placed_at)
    })
}

fn summarize(shopper: &ShopperFacts, context: &Context, frame: &TimeFrame) -> OrderSummary {
    counted_orders(shopper, context, frame).fold(
        OrderSummary { count: 0, total: 0 },
        |summary, order| OrderSummary {
            count: summary.count + 1,
            total: summary.total + i128::from(order.total),
        },
    )
}

/// Whether `value` lies within the inclusive bounds, widened to the value's type.
fn within<T: Copy, V: PartialOrd>(
    value: V,
    bounds: &OrderBounds<T>,
    widen: impl Fn(T) -> V,
) -> bool {
    bounds.min.is_none_or(|min| value >= widen(min))
        && bounds.max.is_none_or(|max| value <= widen(max))
}

#[cfg(test)]
pub(super) mod tests {
    use serde_json::{Value, json};

    use super::*;

    pub(crate) fn instant(text: &str) -> DateTime<Utc> {
        text.parse().expect("an RFC 3339 instant")
    }

    pub(crate) fn rule(json: Value) -> Rule {
        serde_json::from_value(json).expect("a rule")
    }

    /// Berlin, at noon UTC on 2024-06-10, counting paid and delivered orders.
    pub(crate) fn context() -> Context {
        Context {
            now: instant("2024-06-10T12:00:00Z"),
            time_zone: chrono_tz::Europe::Berlin,
            counted_statuses: ["paid", "delivered"].map(String::from).into(),
        }
    }

    /// A shopper who answered question 3 with option 5, speaks British English, is in
    /// segment 1, and has no orders.
    pub(crate) fn shopper() -> ShopperFacts {
        ShopperFacts {
            answers: [(3, [5].into())].into(),
            first_interaction_at: instant("2024-01-15T23:30:00Z"),
            last_interaction_at: instant("2024-06-01T08:00:00Z"),
            language_code: Some("en-GB".to_owned()),
            orders: Vec::new(),
            segments: [1].into(),
        }
    }

    pub(crate) fn order(placed_at: &str, total: i64, status: &str) -> OrderFacts {
        OrderFacts {
            placed_at: instant(placed_at),
            total,
            status: status.to_owned(),
            products: [10].into(),
            variants: [100].into(),
        }
    }

    pub(crate) fn with_orders(orders: Vec<OrderFacts>) -> ShopperFacts {
        ShopperFacts {
            orders,
            ..shopper()
        }
    }

    /// Checks each rule against the shopper, naming the failing rule.
    fn check(shopper: &ShopperFacts, cases: &[(Value, bool)]) {
        for (json, expected) in cases {
            let matched = evaluate(&rule(json.clone()), shopper, &context());
            assert_eq!(matched, *expected, "{json}");
        }
    }

    #[test]
    fn answer_matches_when_any_chosen_option_was_answered() {
        let mut shopper = shopper();
        shopper.answers.insert(4, [7, 8].into());
        shopper.answers.insert(9, BTreeSet::new());
        check(
            &shopper,
            &[
                (
                    json!({"type": "answer", "question": 3, "options": [5]}),
                    true,
                ),
                (
                    json!({"type": "answer", "question": 3, "options": [5, 6]}),
                    true,
                ),
                (
                    json!({"type": "answer", "question": 3, "options": [6]}),
                    false,
                ),
                (
                    json!({"type": "answer", "question": 4, "options": [8, 99]}),
                    true,
                ),
                // Not answered, or answered with nothing, never matches.
                (
                    json!({"type": "answer", "question": 2, "options": [5]}),
                    false,
                ),
                (
                    json!({"type": "answer", "question": 9, "options": [5]}),
                    false,
                ),
            ],
        );
    }

    #[test]
    fn interaction_dates_are_whole_days_in_the_store_time_zone() {
        // 2024-01-15 23:30 UTC is 00:30 on the 16th in Berlin.
        check(
            &shopper(),
            &[
                (
                    json!({"type": "first_interaction", "when": {"dates": {"from": "2024-01-16"}}}),
                    true,
                ),
                (
                    json!({"type": "first_interaction", "when": {"dates": {"to": "2024-01-15"}}}),
                    false,
                ),
                (
                    json!({"type": "first_interaction", "when": {"dates": {"to": "2024-01-16"}}}),
                    true,
                ),
                (
                    json!({"type": "first_interaction", "when": {"dates": {"from": "2024-01-17"}}}),
                    false,
                ),
                (
                    json!({"type": "first_interaction", "when": {"dates": {"from": "2024-01-16", "to": "2024-01-16"}}}),
                    true,
                ),
            ],
        );
    }

    #[test]
    fn date_range_edges_are_local_midnights() {
        let mut shopper = shopper();
        let one_day = json!({"type": "last_interaction", "when": {"dates": {"from": "2024-06-01", "to": "2024-06-01"}}});
        // Berlin is two hours ahead of UTC in summer.
        for (at, expected) in [
            ("2024-05-31T21:59:59Z", false),
            ("2024-05-31T22:00:00Z", true),
            ("2024-06-01T21:59:59Z", true),
            ("2024-06-01T22:00:00Z", false),
        ] {
            shopper.last_interaction_at = instant(at);
            check(&shopper, &[(one_day.clone(), expected)]);
        }
    }

    #[test]
    fn within_last_days_includes_the_exact_cutoff() {
        let mut shopper = shopper();
        // Now is 2024-06-10 12:00 UTC, so the cutoff of 7 days is 2024-06-03 12:00 UTC.
        for (at, within) in [
            ("2024-06-03T11:59:59Z", false),
            ("2024-06-03T12:00:00Z", true),
            ("2024-06-10T12:00:00Z", true),
        ] {
            shopper.last_interaction_at = instant(at);
            check(
                &shopper,
                &[
                    (
                        json!({"type": "last_interaction", "when": {"within_last_days": 7}}),
                        within,
                    ),
                    (
                        json!({"type": "last_interaction", "when": {"not_within_last_days": 7}}),
                        !within,
                    ),
                ],
            );
        }
    }

    #[test]
    fn total_check_bounds_are_inclusive() {
        let shopper = with_orders(vec![
            order("2024-05-01T10:00:00Z", 4_000, "paid"),
            order("2024-05-02T10:00:00Z", 6_000, "delivered"),
        ]);
        check(
            &shopper,
            &[
                (json!({"type": "total_check", "min": 10_000}), true),
                (json!({"type": "total_check", "min": 10_001}), false),
                (json!({"type": "total_check", "max": 10_000}), true),
                (json!({"type": "total_check", "max": 9_999}), false),
                (
                    json!({"type": "total_check", "min": 10_000, "max": 10_000}),
                    true,
                ),
            ],
        );
    }

    #[test]
    fn average_check_compares_the_exact_mean() {
        // The mean is 1,000.5.
        let shopper = with_orders(vec![
            order("2024-05-01T10:00:00Z", 1_000, "paid"),
            order("2024-05-02T10:00:00Z", 1_001, "paid"),
        ]);
        check(
            &shopper,
            &[
                (json!({"type": "average_check", "min": 1_000}), true),
                (json!({"type": "average_check", "min": 1_001}), false),
                (json!({"type": "average_check", "max": 1_001}), true),
                (json!({"type": "average_check", "max": 1_000}), false),
            ],
        );
    }

    #[test]
    fn shopper_with_no_orders_never_matches_average_check() {
        check(
            &shopper(),
            &[
                (json!({"type": "average_check", "min": 0}), false),
                (json!({"type": "average_check", "max": 1_000_000}), false),
                (json!({"type": "average_check", "min": 0, "max": 0}), false),
            ],
        );
    }

    #[test]
    fn shopper_with_no_orders_has_a_total_check_of_zero() {
        check(
            &shopper(),
            &[
                (json!({"type": "total_check", "max": 5_000}), true),
                (json!({"type": "total_check", "min": 0}), true),
                (json!({"type": "total_check", "min": 0, "max": 0}), true),
                (json!({"type": "total_check", "min": 1}), false),
                (json!({"type": "order_count", "max": 0}), true),
                (json!({"type": "order_count", "min": 1}), false),
            ],
        );
    }

    #[test]
    fn order_count_bounds_are_inclusive() {
        let shopper = with_orders(vec![
            order("2024-05-01T10:00:00Z", 100, "paid"),
            order("2024-05-02T10:00:00Z", 100, "paid"),
        ]);
        check(
            &shopper,
            &[
                (json!({"type": "order_count", "min": 2}), true),
                (json!({"type": "order_count", "min": 3}), false),
                (json!({"type": "order_count", "max": 2}), true),
                (json!({"type": "order_count", "max": 1}), false),
            ],
        );
    }

    #[test]
    fn orders_with_uncounted_statuses_are_invisible() {
        let shopper = with_orders(vec![
            order("2024-05-01T10:00:00Z", 5_000, "cancelled"),
            order("2024-05-02T10:00:00Z", 5_000, "pending"),
        ]);
        check(
            &shopper,
            &[
                (json!({"type": "total_check", "min": 1}), false),
                (json!({"type": "total_check", "max": 0}), true),
                (json!({"type": "average_check", "min": 0}), false),
                (json!({"type": "order_count", "min": 1}), false),
                (json!({"type": "bought", "item": {"product": 10}}), false),
                (json!({"type": "bought", "item": {"variant": 100}}), false),
            ],
        );
    }

    #[test]
    fn order_frames_select_orders_by_local_day_or_age() {
        let shopper = with_orders(vec![
            // 00:30 on 2024-02-01 in Berlin, though still January in UTC.
            order("2024-01-31T23:30:00Z", 1_000, "paid"),
            // Exactly 30 days before now.
            order("2024-05-11T12:00:00Z", 2_000, "paid"),
            order("2024-05-11T11:59:59Z", 4_000, "paid"),
        ]);
        check(
            &shopper,
            &[
                (
                    json!({"type": "total_check", "min": 1, "frame": {"dates": {"from": "2024-01-01", "to": "2024-01-31"}}}),
                    false,
                ),
                (
                    json!({"type": "total_check", "min": 1_000, "max": 1_000, "frame": {"dates": {"from": "2024-02-01", "to": "2024-02-29"}}}),
                    true,
                ),
                (
                    json!({"type": "total_check", "min": 2_000, "max": 2_000, "frame": {"last_days": 30}}),
                    true,
                ),
                (json!({"type": "order_count", "min": 3, "max": 3}), true),
                (
                    json!({"type": "average_check", "min": 2_000, "max": 2_000, "frame": {"last_days": 30}}),
                    true,
                ),
                (
                    json!({"type": "bought", "item": {"product": 10}, "frame": {"last_days": 1}}),
                    false,
                ),
                (
                    json!({"type": "bought", "item": {"product": 10}, "frame": {"last_days": 30}}),
                    true,
                ),
            ],
        );
    }

    #[test]
    fn bought_looks_for_the_product_or_the_exact_variant() {
        let shopper = with_orders(vec![order("2024-05-01T10:00:00Z", 100, "paid")]);
        check(
            &shopper,
            &[
                (json!({"type": "bought", "item": {"product": 10}}), true),
                (json!({"type": "bought", "item": {"product": 100}}), false),
                (json!({"type": "bought", "item": {"variant": 100}}), true),
                (json!({"type": "bought", "item": {"variant": 10}}), false),
            ],
        );
    }

    #[test]
    fn language_matches_the_primary_subtag_ignoring_case() {
        for (code, expected) in [
            (Some("en-GB"), true),
            (Some("EN"), true),
            (Some("en_us"), true),
            (Some("de"), false),
            (Some("eng"), false),
            (None, false),
        ] {
            let shopper = ShopperFacts {
                language_code: code.map(str::to_owned),
                ..shopper()
            };
            check(
                &shopper,
                &[(json!({"type": "language", "codes": ["en", "uk"]}), expected)],
            );
        }
    }

    #[test]
    fn segment_condition_asks_for_membership_or_its_absence() {
        check(
            &shopper(),
            &[
                (
                    json!({"type": "segment", "segment": 1, "member": true}),
                    true,
                ),
                (
                    json!({"type": "segment", "segment": 1, "member": false}),
                    false,
                ),
                (
                    json!({"type": "segment", "segment": 2, "member": true}),
                    false,
                ),
                (
                    json!({"type": "segment", "segment": 2, "member": false}),
                    true,
                ),
            ],
        );
    }

    #[test]
    fn groups_combine_their_children() {
        // The shopper is in segment 1 and not in segment 2.
        let yes = json!({"type": "segment", "segment": 1, "member": true});
        let no = json!({"type": "segment", "segment": 2, "member": true});
        let group = |kind: &str, rules: &[&Value]| json!({"type": kind, "rules": rules});
        check(
            &shopper(),
            &[
                (group("all", &[&yes, &yes]), true),
                (group("all", &[&yes, &no]), false),
                (group("any", &[&no, &yes]), true),
                (group("any", &[&no, &no]), false),
                (group("none", &[&no, &no]), true),
                (group("none", &[&no, &yes]), false),
                (group("all", &[&yes, &group("none", &[&no])]), true),
                (
                    group("any", &[&no, &group("all", &[&yes, &group("any", &[&no])])]),
                    false,
                ),
                // Validation refuses empty groups, but evaluation still follows logic.
                (group("all", &[]), true),
                (group("any", &[]), false),
                (group("none", &[]), true),
            ],
        );
    }
}
