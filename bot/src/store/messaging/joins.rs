//! Join messages: the merchant's message to a shopper who joins a segment by its rule, queued
//! in the join's transaction (one per ledger row), with `{count}` and `{new_items}` filled from
//! what the segment unlocks.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, BinOper, Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QueryOrder, QuerySelect,
};
use storebot_entity::{
    customer, membership_event, outbox_message, product, segment, segment_override, variant,
};

use crate::store::StoreError;
use crate::store::catalog::browse::visible_to;
use crate::store::messaging::outbox::{State, queue, reachable};

/// The `button` value of a message with a button into the catalog.
pub const CATALOG_BUTTON: &str = "catalog";

/// How many item titles `{new_items}` lists before "and N more".
const LISTED_ITEMS: usize = 3;

/// The items a segment unlocks, for a join message's placeholders: active variants that its
/// grants make visible and that a shopper in no segment can't see, by product title.
async fn unlocked_items(
    db: &impl ConnectionTrait,
    segment_id: i64,
) -> Result<Vec<String>, StoreError> {
    let rows: Vec<(String, String)> = variant::Entity::find()
        .select_only()
        .column(product::Column::Title)
        .column(variant::Column::Title)
        .join(
            JoinType::InnerJoin,
            variant::Entity::belongs_to(product::Entity)
                .from(variant::Column::ProductId)
                .to(product::Column::Id)
                .into(),
        )
        .filter(visible_to(&[segment_id]))
        .filter(visible_to(&[]).not())
        .order_by_asc(product::Column::Title)
        .order_by_asc(variant::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(product, variant)| {
            if variant.is_empty() || variant == product {
                product
            } else {
                format!("{product} ({variant})")
            }
        })
        .collect())
}

/// A segment's join message with `{count}` (how many items the segment unlocks) and
/// `{new_items}` (the first three of them, "and N more") filled in.
pub fn fill_join_message(template: &str, items: &[String]) -> String {
    let mut listed = items
        .iter()
        .take(LISTED_ITEMS)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > LISTED_ITEMS {
        listed.push_str(&format!(" and {} more", items.len() - LISTED_ITEMS));
    }
    template
        .replace("{count}", &items.len().to_string())
        .replace("{new_items}", &listed)
}

/// The segment's filled join message, when it has one.
async fn join_text(
    db: &impl ConnectionTrait,
    segment_id: i64,
) -> Result<Option<String>, StoreError> {
    let Some(template) = segment::Entity::find_by_id(segment_id)
        .one(db)
        .await?
        .and_then(|segment| segment.join_message)
        .filter(|message| !message.trim().is_empty())
    else {
        return Ok(None);
    };
    let items = if template.contains("{count}") || template.contains("{new_items}") {
        unlocked_items(db, segment_id).await?
    } else {
        Vec::new()
    };
    Ok(Some(fill_join_message(&template, &items)))
}

/// Queues the join message of `segment_id` for every rule join that recompute run `run_id`
/// wrote for it, inside the caller's transaction. Returns how many were queued.
pub(crate) async fn enqueue_run_joins(
    db: &impl ConnectionTrait,
    segment_id: i64,
    run_id: i64,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let Some(text) = join_text(db, segment_id).await? else {
        return Ok(0);
    };
    let event = Alias::new("event");
    let rows = Query::select()
        .column((event.clone(), membership_event::Column::CustomerId))
        .column((customer::Entity, customer::Column::ChatId))
        .expr(Expr::val("join"))
        .expr(Expr::val(segment_id))
        .expr(Expr::val("join:").binary(
            BinOper::Custom("||"),
            Expr::col((event.clone(), membership_event::Column::Id)).cast_as("TEXT"),
        ))
        .expr(Expr::val(text))
        .expr(Expr::val(CATALOG_BUTTON))
        .expr(Expr::val(State::Queued.as_str()))
        .expr(Expr::val(0))
        .expr(Expr::val(now))
        .expr(Expr::val(now))
        .from_as(membership_event::Entity, event.clone())
        .inner_join(
            customer::Entity,
            Expr::col((customer::Entity, customer::Column::Id))
                .equals((event.clone(), membership_event::Column::CustomerId)),
        )
        .and_where(Expr::col((event.clone(), membership_event::Column::SegmentId)).eq(segment_id))
        // `at` too, so the ledger's (segment_id, at) index finds this run's rows.
        .and_where(Expr::col((event.clone(), membership_event::Column::At)).eq(now))
        .and_where(Expr::col((event.clone(), membership_event::Column::RunId)).eq(run_id))
        .and_where(Expr::col((event.clone(), membership_event::Column::Kind)).eq("joined"))
        .and_where(Expr::col((event.clone(), membership_event::Column::Cause)).eq("rule"))
        // A merchant's include is a manual add, which sends no join message.
        .and_where(
            Expr::col((event, membership_event::Column::CustomerId)).not_in_subquery(
                Query::select()
                    .column(segment_override::Column::CustomerId)
                    .from(segment_override::Entity)
                    .and_where(segment_override::Column::SegmentId.eq(segment_id))
                    .and_where(segment_override::Column::Mode.eq("include"))
                    .to_owned(),
            ),
        )
        .cond_where(reachable())
        .to_owned();
    let insert = Query::insert()
        .into_table(outbox_message::Entity)
        .columns([
            outbox_message::Column::CustomerId,
            outbox_message::Column::ChatId,
            outbox_message::Column::Kind,
            outbox_message::Column::SegmentId,
            outbox_message::Column::DedupeKey,
            outbox_message::Column::Text,
            outbox_message::Column::Button,
            outbox_message::Column::State,
            outbox_message::Column::Attempts,
            outbox_message::Column::NextAttemptAt,
            outbox_message::Column::CreatedAt,
        ])
        .select_from(rows)
        .map_err(|error| StoreError::Invalid(error.to_string()))?
        .to_owned();
    Ok(db.execute(&insert).await?.rows_affected())
}

/// Queues the join message of `segment_id` for one shopper who just joined it through the
/// rule (their latest `joined` ledger row), inside the caller's transaction. Returns whether a
/// message was queued.
pub(crate) async fn enqueue_join(
    db: &impl ConnectionTrait,
    segment_id: i64,
    customer_id: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let Some(text) = join_text(db, segment_id).await? else {
        return Ok(false);
    };
    let Some(shopper) = customer::Entity::find_by_id(customer_id)
        .filter(reachable())
        .one(db)
        .await?
    else {
        return Ok(false);
    };
    let Some(event) = membership_event::Entity::find()
        .filter(membership_event::Column::SegmentId.eq(segment_id))
        .filter(membership_event::Column::CustomerId.eq(customer_id))
        .filter(membership_event::Column::Kind.eq("joined"))
        .order_by_desc(membership_event::Column::Id)
        .one(db)
        .await?
    else {
        return Ok(false);
    };
    queue(
        db,
        &shopper,
        "join",
        Some(segment_id),
        None,
        format!("join:{}", event.id),
        text,
        Some(CATALOG_BUTTON),
        now,
    )
    .await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(template: &str, items: &[&str], expected: &str) {
        let items: Vec<String> = items.iter().map(|item| (*item).to_owned()).collect();
        assert_eq!(fill_join_message(template, &items), expected);
    }

    #[test]
    fn join_messages_count_and_list_the_first_three_items() {
        check(
            "You now see {count} new items: {new_items}",
            &["A", "B (red)"],
            "You now see 2 new items: A, B (red)",
        );
        check(
            "{count}: {new_items}.",
            &["A", "B", "C", "D", "E"],
            "5: A, B, C and 2 more.",
        );
        check("Welcome to the club!", &["A"], "Welcome to the club!");
        check("{count} new", &[], "0 new");
    }
}
