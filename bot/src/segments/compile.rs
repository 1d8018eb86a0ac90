//! Compiling a rule to one SQL statement that selects the ids of every matching customer.
//!
//! This is the set-based twin of [`super::evaluate`]: the same tree, the same windows (drawn by
//! [`TimeFrame::window`] and [`Window`]), the same zero-orders semantics, so that the recompute
//! job and `explain` never disagree (a property test in `store::membership::recompute` holds them to it on
//! both databases). It builds a sea-query statement and must never execute it, read the clock
//! or paste a value into SQL text: every value is a bound parameter.
//!
//! Shape of the statement:
//!
//! ```sql
//! SELECT customer.id AS customer_id FROM customer
//! LEFT JOIN (SELECT customer_id, COUNT(*) AS order_count, SUM(total) AS order_total
//!            FROM orders WHERE status IN (...) AND placed_at >= ? AND placed_at < ?
//!            GROUP BY customer_id) AS frame_0 ON frame_0.customer_id = customer.id
//! WHERE ...
//! ```
//!
//! One derived table per distinct time frame of the rule's check and count conditions, so the
//! orders are aggregated once per frame however many conditions share it. Every condition is
//! written so that it is never SQL `NULL` (missing aggregates are coalesced to 0, a missing
//! language is tested first): under `none`, `NOT NULL` would drop a shopper whom the in-memory
//! evaluation keeps.

use std::collections::BTreeMap;

use sea_orm::sea_query::{
    Alias, Condition, Expr, ExprTrait, Func, IntoCondition, JoinType, Query, SelectStatement,
};
use storebot_entity::{customer, customer_answer, order, order_item, segment_member};

use super::evaluate::Context;
use super::rule::{GroupKind, Item, OrderBounds, Rule, TimeFrame, When};
use super::time::Window;

/// The name of the single column the compiled statement selects.
pub const CUSTOMER_ID: &str = "customer_id";

const ORDER_COUNT: &str = "order_count";
const ORDER_TOTAL: &str = "order_total";

/// The statement selecting `customer_id` of every customer who matches `rule` in `context`.
pub fn matching_customers(rule: &Rule, context: &Context) -> SelectStatement {
    matching_customers_over(rule, context, &BTreeMap::new())
}

/// Like [`matching_customers`], but reading the aggregates of the frames in `materialized`
/// from tables already filled with [`frame_aggregate`] (columns `customer_id`, `order_count`,
/// `order_total`), so that a recompute of many segments aggregates each frame once in all.
pub fn matching_customers_over(
    rule: &Rule,
    context: &Context,
    materialized: &BTreeMap<TimeFrame, String>,
) -> SelectStatement {
    let frames = aggregate_frames(rule);
    let mut query = Query::select();
    query
        .expr_as(
            Expr::col((customer::Entity, customer::Column::Id)),
            Alias::new(CUSTOMER_ID),
        )
        .from(customer::Entity);
    for (frame, alias) in &frames {
        let on = Expr::col((alias.clone(), Alias::new(CUSTOMER_ID)))
            .equals((customer::Entity, customer::Column::Id));
        match materialized.get(frame) {
            Some(table) => {
                query.join_as(JoinType::LeftJoin, Alias::new(table), alias.clone(), on);
            }
            None => {
                query.join_subquery(
                    JoinType::LeftJoin,
                    frame_aggregate(frame, context),
                    alias.clone(),
                    on,
                );
            }
        }
    }
    query.cond_where(condition(rule, &frames, context));
    query
}

/// The distinct frames of the check and count conditions of `rule`: the aggregates a
/// recompute may compute once for several segments.
pub fn aggregate_frames_of(rule: &Rule) -> impl Iterator<Item = TimeFrame> {
    aggregate_frames(rule).into_keys()
}

/// The distinct frames of the rule's check and count conditions, each with its table alias.
/// `bought` conditions look at order items, not aggregates, so their frames are left out.
fn aggregate_frames(rule: &Rule) -> BTreeMap<TimeFrame, Alias> {
    let mut frames = BTreeMap::new();
    rule.for_each_condition(&mut |condition| {
        let frame = match condition {
            Rule::AverageCheck(bounds) | Rule::TotalCheck(bounds) => &bounds.frame,
            Rule::OrderCount(bounds) => &bounds.frame,
            _ => return,
        };
        let next = frames.len();
        frames
            .entry(frame.clone())
            .or_insert_with(|| Alias::new(format!("frame_{next}")));
    });
    frames
}

/// Count and sum of the counted orders in the frame, per customer who has any: columns
/// `customer_id`, `order_count`, `order_total`.
pub fn frame_aggregate(frame: &TimeFrame, context: &Context) -> SelectStatement {
    let mut query = Query::select();
    query
        .column(order::Column::CustomerId)
        .expr_as(
            Expr::col(order::Column::Id).count(),
            Alias::new(ORDER_COUNT),
        )
        .expr_as(
            Expr::col(order::Column::Total).sum(),
            Alias::new(ORDER_TOTAL),
        )
        .from(order::Entity)
        .cond_where(counted_orders(frame, context))
        .group_by_col(order::Column::CustomerId);
    query
}

/// Orders of a counted status placed inside the frame's window.
fn counted_orders(frame: &TimeFrame, context: &Context) -> Condition {
    Condition::all()
        .add(
            Expr::col((order::Entity, order::Column::Status))
                .is_in(context.counted_statuses.iter().cloned()),
        )
        .add(within(
            Expr::col((order::Entity, order::Column::PlacedAt)),
            frame.window(context.now, context.time_zone),
        ))
}

/// `at` lies in the half-open window.
fn within(at: Expr, window: Window) -> Condition {
    let mut condition = Condition::all().add(always());
    if let Some(start) = window.start {
        condition = condition.add(at.clone().gte(start));
    }
    if let Some(end) = window.end {
        condition = condition.add(at.lt(end));
    }
    condition
}

/// Constant truths, spelled out rather than left to how a query builder renders an empty group.
fn always() -> Expr {
    Expr::cust("1 = 1")
}

fn never() -> Expr {
    Expr::cust("1 = 0")
}

fn condition(rule: &Rule, frames: &BTreeMap<TimeFrame, Alias>, context: &Context) -> Condition {
    if let Some((kind, children)) = rule.as_group() {
        return group(kind, children, frames, context);
    }
    let customer_id = || Expr::col((customer::Entity, customer::Column::Id));
    match rule {
        Rule::Answer { question, options } => customer_id()
            .in_subquery(
                Query::select()
                    .column(customer_answer::Column::CustomerId)
                    .from(customer_answer::Entity)
                    .and_where(Expr::col(customer_answer::Column::QuestionId).eq(*question))
                    .and_where(
                        Expr::col(customer_answer::Column::OptionId).is_in(options.iter().copied()),
                    )
                    .to_owned(),
            )
            .into_condition(),
        Rule::FirstInteraction { when } => interaction(
            Expr::col((customer::Entity, customer::Column::FirstInteractionAt)),
            when,
            context,
        ),
        Rule::LastInteraction { when } => interaction(
            Expr::col((customer::Entity, customer::Column::LastInteractionAt)),
            when,
            context,
        ),
        Rule::AverageCheck(bounds) => {
            let (count, total) = aggregates(frames, &bounds.frame);
            // Exact: min × count ≤ total ≤ max × count, in NUMERIC so that PostgreSQL cannot
            // overflow bigint (SQLite keeps integers while they fit).
            let scaled = |bound: i64| {
                Expr::from(Func::cast_as(count.clone(), Alias::new("NUMERIC"))).mul(bound)
            };
            let mut condition = Condition::all().add(count.clone().gt(0));
            if let Some(min) = bounds.min {
                condition = condition.add(total.clone().gte(scaled(min)));
            }
            if let Some(max) = bounds.max {
                condition = condition.add(total.lte(scaled(max)));
            }
            condition
        }
        Rule::TotalCheck(bounds) => {
            let (_, total) = aggregates(frames, &bounds.frame);
            between(total, bounds)
        }
        Rule::OrderCount(bounds) => {
            let (count, _) = aggregates(frames, &bounds.frame);
            let bounds = OrderBounds {
                min: bounds.min.map(i64::from),
                max: bounds.max.map(i64::from),
                frame: bounds.frame.clone(),
            };
            between(count, &bounds)
        }
        Rule::Bought { item, frame } => {
            let item_matches = match item {
                Item::Product(product) => {
                    Expr::col((order_item::Entity, order_item::Column::ProductId)).eq(*product)
                }
                Item::Variant(variant) => {
                    Expr::col((order_item::Entity, order_item::Column::VariantId)).eq(*variant)
                }
            };
            customer_id()
                .in_subquery(
                    Query::select()
                        .column((order::Entity, order::Column::CustomerId))
                        .from(order::Entity)
                        .inner_join(
                            order_item::Entity,
                            Expr::col((order_item::Entity, order_item::Column::OrderId))
                                .equals((order::Entity, order::Column::Id)),
                        )
                        .cond_where(counted_orders(frame, context).add(item_matches))
                        .to_owned(),
                )
                .into_condition()
        }
        Rule::Language { codes } => {
            let language = || Expr::col((customer::Entity, customer::Column::LanguageCode));
            let mut any = Condition::any().add(never());
            for code in codes {
                // The primary subtag is what comes before the first `-` or `_`: the code starts
                // with it, case-insensitively, and the next character ends it.
                let code = code.to_ascii_lowercase();
                // `i32`: PostgreSQL has `SUBSTR(text, integer, integer)`, not a bigint form.
                let length = i32::try_from(code.chars().count()).unwrap_or(i32::MAX);
                let prefix = Func::lower(Func::cust("SUBSTR").args([
                    language(),
                    Expr::val(1),
                    Expr::val(length),
                ]));
                let next = Func::cust("SUBSTR").args([
                    language(),
                    Expr::val(length.saturating_add(1)),
                    Expr::val(1),
                ]);
                any = any.add(
                    Condition::all().add(Expr::from(prefix).eq(code)).add(
                        Condition::any()
                            .add(Expr::from(Func::char_length(language())).eq(length))
                            .add(Expr::from(next).is_in(["-", "_"])),
                    ),
                );
            }
            Condition::all().add(language().is_not_null()).add(any)
        }
        Rule::Segment { segment, member } => {
            let members = Query::select()
                .column(segment_member::Column::CustomerId)
                .from(segment_member::Entity)
                .and_where(Expr::col(segment_member::Column::SegmentId).eq(*segment))
                .to_owned();
            if *member {
                customer_id().in_subquery(members).into_condition()
            } else {
                customer_id().not_in_subquery(members).into_condition()
            }
        }
        Rule::All { .. } | Rule::Any { .. } | Rule::None { .. } => {
            // Groups were handled above; kept total so that a new node kind is a compile error.
            never().into_condition()
        }
    }
}

fn group(
    kind: GroupKind,
    children: &[Rule],
    frames: &BTreeMap<TimeFrame, Alias>,
    context: &Context,
) -> Condition {
    // Each group starts from its neutral element, so that an empty group means what
    // `GroupKind::combine` says it means (`all`/`none` of nothing hold, `any` of nothing fails).
    let children = children
        .iter()
        .map(|child| condition(child, frames, context));
    match kind {
        GroupKind::All => children.fold(Condition::all().add(always()), Condition::add),
        GroupKind::Any => children.fold(Condition::any().add(never()), Condition::add),
        GroupKind::None => children
            .fold(Condition::any().add(never()), Condition::add)
            .not(),
    }
}

fn interaction(at: Expr, when: &When, context: &Context) -> Condition {
    match when {
        When::Dates(range) => within(at, range.window(context.time_zone)),
        When::WithinLastDays(days) => within(at, Window::last_days(*days, context.now)),
        When::NotWithinLastDays(days) => match Window::last_days(*days, context.now).start {
            Some(start) => at.lt(start).into_condition(),
            // Reaching back past the beginning of time, "within" holds for everybody.
            None => never().into_condition(),
        },
    }
}

/// The frame's count and total for the current customer, 0 when they have no counted orders.
fn aggregates(frames: &BTreeMap<TimeFrame, Alias>, frame: &TimeFrame) -> (Expr, Expr) {
    let Some(alias) = frames.get(frame) else {
        // `aggregate_frames` walked the same tree, so every frame has its table.
        return (Expr::val(0), Expr::val(0));
    };
    let column = |name: &str| {
        Expr::from(Func::coalesce([
            Expr::col((alias.clone(), Alias::new(name))),
            Expr::val(0),
        ]))
    };
    (column(ORDER_COUNT), column(ORDER_TOTAL))
}

fn between(value: Expr, bounds: &OrderBounds<i64>) -> Condition {
    let mut condition = Condition::all().add(always());
    if let Some(min) = bounds.min {
        condition = condition.add(value.clone().gte(min));
    }
    if let Some(max) = bounds.max {
        condition = condition.add(value.lte(max));
    }
    condition
}

#[cfg(test)]
mod tests {
    use sea_orm::sea_query::{PostgresQueryBuilder, SqliteQueryBuilder};
    use serde_json::json;

    use super::*;
    use crate::segments::evaluate::tests::{context, rule};

    #[test]
    fn orders_are_aggregated_once_per_distinct_frame() {
        let rule = rule(json!({"type": "all", "rules": [
            {"type": "total_check", "min": 1, "frame": {"last_days": 30}},
            {"type": "average_check", "max": 9, "frame": {"last_days": 30}},
            {"type": "order_count", "min": 1},
            {"type": "bought", "item": {"product": 1}, "frame": {"last_days": 7}},
        ]}));
        let sql = matching_customers(&rule, &context()).to_string(PostgresQueryBuilder);
        assert_eq!(sql.matches("GROUP BY").count(), 2, "{sql}");
        assert_eq!(sql.matches("LEFT JOIN").count(), 2, "{sql}");
    }

    #[test]
    fn values_are_bound_not_pasted() {
        let rule = rule(json!({"type": "all", "rules": [
            {"type": "language", "codes": ["xq"]},
            {"type": "total_check", "min": 987_654, "frame": {"dates": {"from": "2024-01-01"}}},
        ]}));
        let (sql, values) = matching_customers(&rule, &context()).build(SqliteQueryBuilder);
        assert!(!sql.contains("xq"), "{sql}");
        assert!(!sql.contains("987654"), "{sql}");
        assert!(!sql.contains("2023-12-31"), "{sql}");
        assert!(!values.0.is_empty());
    }
}
