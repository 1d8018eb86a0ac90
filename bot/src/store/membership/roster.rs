//! The merchant's view of one segment's membership: who is in it and why, the include and
//! exclude overrides, a whole list of customers added at once, and what one recompute run did
//! to each segment.
//!
//! Adding from a list is all or nothing: every customer goes in inside one transaction, or none
//! does: to a manual segment 500 at a time ([`crate::store::membership::manual::add_members`]),
//! to an auto segment one include override each
//! ([`crate::store::membership::manual::set_override`], which re-evaluates the shopper). Nothing here removes a member by rule: that stays the recompute's job.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, TransactionSession,
    TransactionTrait,
};
use serde::Serialize;
use storebot_entity::{customer, membership_event, segment_member, segment_override};

use crate::segments::Context;
use crate::store::bulk::CHUNK;
use crate::store::membership::ledger::OverrideMode;
use crate::store::membership::{manual, rules};
use crate::store::{StoreError, begin_write};

/// A customer in a segment, with who put them there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberLine {
    pub customer_id: i64,
    pub telegram_user_id: i64,
    pub name: String,
    pub username: Option<String>,
    /// `rule` or `manual`.
    pub source: String,
    pub since: DateTime<Utc>,
    /// `include` or `exclude` when the merchant overrode the rule for this customer.
    pub override_mode: Option<String>,
}

/// Everybody in a segment, and the excluded customers (who are never members), by name.
pub async fn members(
    db: &impl ConnectionTrait,
    segment_id: i64,
) -> Result<(Vec<MemberLine>, Vec<MemberLine>), StoreError> {
    rules::get(db, segment_id).await?;
    let rows = segment_member::Entity::find()
        .filter(segment_member::Column::SegmentId.eq(segment_id))
        .all(db)
        .await?;
    let overrides: BTreeMap<i64, segment_override::Model> = segment_override::Entity::find()
        .filter(segment_override::Column::SegmentId.eq(segment_id))
        .all(db)
        .await?
        .into_iter()
        .map(|row| (row.customer_id, row))
        .collect();
    let ids: Vec<i64> = rows
        .iter()
        .map(|row| row.customer_id)
        .chain(overrides.keys().copied())
        .collect();
    let customers: BTreeMap<i64, customer::Model> = customer::Entity::find()
        .filter(customer::Column::Id.is_in(ids))
        .order_by_asc(customer::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|row| (row.id, row))
        .collect();
    let line = |customer_id: i64, source: String, since: DateTime<Utc>| {
        let customer = customers.get(&customer_id)?;
        Some(MemberLine {
            customer_id,
            telegram_user_id: customer.telegram_user_id,
            name: match &customer.last_name {
                Some(last) => format!("{} {last}", customer.first_name),
                None => customer.first_name.clone(),
            },
            username: customer.username.clone(),
            source,
            since,
            override_mode: overrides.get(&customer_id).map(|row| row.mode.clone()),
        })
    };
    let mut members: Vec<MemberLine> = rows
        .into_iter()
        .filter_map(|row| line(row.customer_id, row.source, row.since))
        .collect();
    let mut excluded: Vec<MemberLine> = overrides
        .values()
        .filter(|row| row.mode == OverrideMode::Exclude.as_str())
        .filter_map(|row| line(row.customer_id, "excluded".into(), row.created_at))
        .collect();
    members.sort_by(|a, b| a.name.cmp(&b.name).then(a.customer_id.cmp(&b.customer_id)));
    excluded.sort_by(|a, b| a.name.cmp(&b.name).then(a.customer_id.cmp(&b.customer_id)));
    Ok((members, excluded))
}

/// Adds every customer to a segment in one transaction: manual members of a manual segment,
/// include overrides on an auto segment. Returns how many were not in it before.
pub async fn add_all<C>(
    db: &C,
    context: &Context,
    segment_id: i64,
    customer_ids: &[i64],
) -> Result<u64, StoreError>
where
    C: ConnectionTrait + TransactionTrait,
{
    add_all_with_progress(db, context, segment_id, customer_ids, &mut |_| {}).await
}

/// [`add_all`], telling `on_customers` how many customers are written so far (for a progress
/// bar; the transaction commits only after the last).
pub async fn add_all_with_progress<C>(
    db: &C,
    context: &Context,
    segment_id: i64,
    customer_ids: &[i64],
    on_customers: &mut (dyn FnMut(usize) + Send),
) -> Result<u64, StoreError>
where
    C: ConnectionTrait + TransactionTrait,
{
    let txn = begin_write(db).await?;
    let segment = rules::get(&txn, segment_id).await?;
    on_customers(0);
    if segment.kind != "auto" {
        let mut added = 0;
        for (done, chunk) in customer_ids.chunks(CHUNK).enumerate() {
            added += manual::add_members(&txn, segment_id, chunk, context.now).await?;
            on_customers((done * CHUNK + chunk.len()).min(customer_ids.len()));
        }
        txn.commit().await?;
        return Ok(added);
    }
    let mut added = 0;
    for (done, customer_id) in customer_ids.iter().enumerate() {
        let was_member = segment_member::Entity::find_by_id((segment_id, *customer_id))
            .one(&txn)
            .await?
            .is_some();
        manual::set_override(
            &txn,
            context,
            segment_id,
            *customer_id,
            OverrideMode::Include,
        )
        .await?;
        if !was_member {
            added += 1;
        }
        on_customers(done + 1);
    }
    txn.commit().await?;
    Ok(added)
}

/// What one recompute run changed in one segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SegmentChanges {
    pub segment_id: i64,
    pub joined: u64,
    pub left: u64,
}

/// The joins and leaves a run wrote to the ledger, per segment, by segment id.
pub async fn changes_of_run(
    db: &impl ConnectionTrait,
    run_id: i64,
) -> Result<Vec<SegmentChanges>, StoreError> {
    let mut changes: BTreeMap<i64, SegmentChanges> = BTreeMap::new();
    // Counted here rather than grouped in SQL: a run's ledger is as long as its changes, and
    // the admin tool shows it once.
    for event in membership_event::Entity::find()
        .filter(membership_event::Column::RunId.eq(run_id))
        .all(db)
        .await?
    {
        let entry = changes
            .entry(event.segment_id)
            .or_insert_with(|| SegmentChanges {
                segment_id: event.segment_id,
                joined: 0,
                left: 0,
            });
        if event.kind == "joined" {
            entry.joined += 1;
        } else {
            entry.left += 1;
        }
    }
    Ok(changes.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDb;
    use sea_orm::ActiveModelTrait;
    use sea_orm::ActiveValue::Set;
    use storebot_entity::segment;

    use crate::testing::noon;

    async fn shopper(db: &sea_orm::DatabaseConnection, id: i64) -> i64 {
        crate::testing::shopper(db, id, &format!("S{id}"), noon())
            .await
            .expect("customer")
            .id
    }

    #[tokio::test]
    async fn adding_a_list_is_all_or_nothing() {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        let a = shopper(db, 1).await;
        let b = shopper(db, 2).await;
        let vip = segment::ActiveModel {
            name: Set("vip".into()),
            description: Set(String::new()),
            kind: Set("manual".into()),
            active: Set(true),
            created_at: Set(noon()),
            updated_at: Set(noon()),
            ..Default::default()
        }
        .insert(db)
        .await
        .expect("segment")
        .id;
        let context = Context {
            now: noon(),
            time_zone: chrono_tz::UTC,
            counted_statuses: Default::default(),
        };
        // A customer id that does not exist fails the whole list.
        assert!(add_all(db, &context, vip, &[a, 9_999]).await.is_err());
        assert!(members(db, vip).await.expect("members").0.is_empty());
        let mut reported = Vec::new();
        let added = add_all_with_progress(db, &context, vip, &[a, b], &mut |done| {
            reported.push(done);
        })
        .await
        .expect("add");
        assert_eq!(added, 2);
        // A manual segment's list is written a chunk of 500 at a time: the start, then each chunk.
        assert_eq!(reported, [0, 2]);
        assert_eq!(add_all(db, &context, vip, &[a]).await.expect("again"), 0);
        let (listed, excluded) = members(db, vip).await.expect("members");
        assert_eq!(
            listed.iter().map(|m| m.customer_id).collect::<Vec<_>>(),
            [a, b]
        );
        assert!(excluded.is_empty());

        // A list longer than a statement's chunk, half of it already in: only the others join,
        // each with one ledger entry.
        let mut many = vec![a];
        for id in 0..1_200 {
            many.push(shopper(db, 10_000 + id).await);
        }
        let added = add_all(db, &context, vip, &many).await.expect("many");
        assert_eq!(added, 1_200);
        assert_eq!(members(db, vip).await.expect("members").0.len(), 1_202);
        let joined = membership_event::Entity::find()
            .filter(membership_event::Column::SegmentId.eq(vip))
            .filter(membership_event::Column::Kind.eq("joined"))
            .all(db)
            .await
            .expect("ledger");
        assert_eq!(joined.len(), 1_202);
        assert_eq!(add_all(db, &context, vip, &many).await.expect("again"), 0);
    }
}
