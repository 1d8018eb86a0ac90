//! Segment definitions and membership as the rest of the bot reads them, and the merchant's
//! hand on membership: manual members, include/exclude overrides, and user groups.
//!
//! Every membership change made here is one transaction that also writes its
//! `membership_event` (cause `manual`), so the ledger never misses a join or a leave.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, LazyLock, Mutex};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Condition, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, JoinType,
    QueryFilter, QueryOrder, QuerySelect, TransactionSession, TransactionTrait,
};
use storebot_entity::{
    customer_group, membership_event, segment, segment_member, segment_override,
};

use super::recompute::{MembershipChange, refresh_within};
use super::{StoreError, begin_write};
use crate::segments::{self as rules, Context, Rule};

/// The condition "this segment is in force at `now`": active, started (no start, or start at
/// or before `now`) and not expired (no expiry, or `now` strictly before it). A segment that
/// expires at 18:00 grants nothing from 18:00 on.
pub fn in_force_at(now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(segment::Column::Active.eq(true))
        .add(
            Condition::any()
                .add(segment::Column::StartsAt.is_null())
                .add(segment::Column::StartsAt.lte(now)),
        )
        .add(
            Condition::any()
                .add(segment::Column::ExpiresAt.is_null())
                .add(segment::Column::ExpiresAt.gt(now)),
        )
}

/// The ids of the segments a customer belongs to that are in force at `now`, ascending: what
/// decides which variants they see.
pub async fn segments_in_force_for(
    db: &impl ConnectionTrait,
    customer_id: i64,
    now: DateTime<Utc>,
) -> Result<Vec<i64>, StoreError> {
    Ok(segment_member::Entity::find()
        .select_only()
        .column(segment_member::Column::SegmentId)
        .join(
            JoinType::InnerJoin,
            segment_member::Entity::belongs_to(segment::Entity)
                .from(segment_member::Column::SegmentId)
                .to(segment::Column::Id)
                .into(),
        )
        .filter(segment_member::Column::CustomerId.eq(customer_id))
        .filter(in_force_at(now))
        .order_by_asc(segment_member::Column::SegmentId)
        .into_tuple()
        .all(db)
        .await?)
}

/// Who put a member in a segment, as stored in `segment_member.source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The recompute (the rule, or an include override); the job may take it away.
    Rule,
    /// The merchant, by hand; the job never removes it.
    Manual,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Rule => "rule",
            Source::Manual => "manual",
        }
    }
}

/// Why a member joined or left, as stored in `membership_event.cause`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    Rule,
    Manual,
    /// The segment went out of force (inactive, not started, or expired).
    Expiry,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Rule => "rule",
            Cause::Manual => "manual",
            Cause::Expiry => "expiry",
        }
    }
}

/// A merchant's override of an auto segment's rule for one customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverrideMode {
    /// A member whatever the rule says.
    Include,
    /// Never a member, whatever the rule says.
    Exclude,
}

impl OverrideMode {
    pub fn as_str(self) -> &'static str {
        match self {
            OverrideMode::Include => "include",
            OverrideMode::Exclude => "exclude",
        }
    }
}

/// An automatic segment with its rule read, ready to recompute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoSegment {
    pub id: i64,
    pub name: String,
    /// Shared with the parsed-rule cache (see [`load_auto_segments`]).
    pub rule: Arc<Rule>,
    pub in_force: bool,
}

/// Whether the segment is in force at `now`: the same test as [`in_force_at`], on a row.
pub fn is_in_force(segment: &segment::Model, now: DateTime<Utc>) -> bool {
    segment.active
        && segment.starts_at.is_none_or(|start| start <= now)
        && segment.expires_at.is_none_or(|end| now < end)
}

pub async fn get(db: &impl ConnectionTrait, segment_id: i64) -> Result<segment::Model, StoreError> {
    segment::Entity::find_by_id(segment_id)
        .one(db)
        .await?
        .ok_or_else(|| StoreError::not_found("segment", segment_id))
}

/// The rule of an auto segment (`None` for a manual one), read from its versioned JSON.
pub fn rule_of(segment: &segment::Model) -> Result<Option<Rule>, StoreError> {
    if segment.kind != "auto" {
        return Ok(None);
    }
    let Some(json) = &segment.rule else {
        return Err(StoreError::Invalid(format!(
            "segment {} ({}) is automatic but has no rule",
            segment.id, segment.name
        )));
    };
    rules::from_json(json).map(Some).map_err(|error| {
        StoreError::Invalid(format!(
            "segment {} ({}) has an unreadable rule: {error}",
            segment.id, segment.name
        ))
    })
}

/// Parsed rules by their stored JSON text: the per-shopper re-evaluation runs after every
/// answer and order and reads every automatic segment, so parsing each rule again each time
/// would be most of its work. Keyed by the text itself, not by segment id and a version, so an
/// edited rule (any change to its text) can never be served from the cache, whichever
/// database or segment it comes from.
static PARSED_RULES: LazyLock<Mutex<HashMap<String, Arc<Rule>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// More distinct rule texts than any shop has at once; past it the cache starts over.
const PARSED_RULES_LIMIT: usize = 4096;

/// [`rule_of`] through [`PARSED_RULES`].
fn cached_rule_of(segment: &segment::Model) -> Result<Option<Arc<Rule>>, StoreError> {
    let json = match (&segment.kind[..], &segment.rule) {
        ("auto", Some(json)) => json,
        _ => return Ok(rule_of(segment)?.map(Arc::new)),
    };
    if let Some(rule) = lock_parsed_rules().get(json.as_str()) {
        return Ok(Some(Arc::clone(rule)));
    }
    let Some(rule) = rule_of(segment)?.map(Arc::new) else {
        return Ok(None);
    };
    let mut cache = lock_parsed_rules();
    if cache.len() >= PARSED_RULES_LIMIT {
        cache.clear();
    }
    cache.insert(json.clone(), Arc::clone(&rule));
    Ok(Some(rule))
}

fn lock_parsed_rules() -> std::sync::MutexGuard<'static, HashMap<String, Arc<Rule>>> {
    // A panic while holding the lock can't leave the map half-written in a way that matters
    // (each entry is inserted whole), so a poisoned lock is still usable.
    PARSED_RULES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Every automatic segment, in an order where each comes after the segments its rule names
/// (so a `segment` condition reads fresh membership), with one sentence per segment whose
/// rule can't be read (those are left out, their membership untouched).
pub async fn load_auto_segments(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<(Vec<AutoSegment>, Vec<String>), StoreError> {
    let rows = segment::Entity::find()
        .filter(segment::Column::Kind.eq("auto"))
        .order_by_asc(segment::Column::Id)
        .all(db)
        .await?;
    let mut segments = BTreeMap::new();
    let mut unreadable = Vec::new();
    for row in rows {
        match cached_rule_of(&row) {
            Ok(Some(rule)) => {
                let in_force = is_in_force(&row, now);
                segments.insert(
                    row.id,
                    AutoSegment {
                        id: row.id,
                        name: row.name,
                        rule,
                        in_force,
                    },
                );
            }
            Ok(None) => {}
            Err(error) => unreadable.push(error.to_string()),
        }
    }
    Ok((in_dependency_order(segments), unreadable))
}

/// Depth-first topological order by the segments each rule names; validation refuses cycles,
/// but a cycle that slipped in is broken at the lowest id rather than looping.
fn in_dependency_order(mut segments: BTreeMap<i64, AutoSegment>) -> Vec<AutoSegment> {
    fn visit(
        id: i64,
        dependencies: &BTreeMap<i64, BTreeSet<i64>>,
        visited: &mut BTreeSet<i64>,
        order: &mut Vec<i64>,
    ) {
        if !visited.insert(id) {
            return;
        }
        for dependency in dependencies.get(&id).into_iter().flatten() {
            if dependencies.contains_key(dependency) {
                visit(*dependency, dependencies, visited, order);
            }
        }
        order.push(id);
    }
    let dependencies: BTreeMap<i64, BTreeSet<i64>> = segments
        .iter()
        .map(|(id, segment)| (*id, segment.rule.references().segments))
        .collect();
    let mut visited = BTreeSet::new();
    let mut order = Vec::new();
    for id in dependencies.keys() {
        visit(*id, &dependencies, &mut visited, &mut order);
    }
    order
        .into_iter()
        .filter_map(|id| segments.remove(&id))
        .collect()
}

/// Adds a membership row and its ledger entry (inside the caller's transaction).
pub(crate) async fn join(
    db: &impl ConnectionTrait,
    segment_id: i64,
    customer_id: i64,
    source: Source,
    cause: Cause,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    segment_member::ActiveModel {
        segment_id: Set(segment_id),
        customer_id: Set(customer_id),
        source: Set(source.as_str().to_owned()),
        since: Set(now),
    }
    .insert(db)
    .await?;
    record(db, segment_id, customer_id, true, cause, now).await
}

/// Removes a membership row and writes its ledger entry (inside the caller's transaction).
pub(crate) async fn leave(
    db: &impl ConnectionTrait,
    segment_id: i64,
    customer_id: i64,
    cause: Cause,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    segment_member::Entity::delete_by_id((segment_id, customer_id))
        .exec(db)
        .await?;
    record(db, segment_id, customer_id, false, cause, now).await
}

async fn record(
    db: &impl ConnectionTrait,
    segment_id: i64,
    customer_id: i64,
    joined: bool,
    cause: Cause,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    membership_event::ActiveModel {
        segment_id: Set(segment_id),
        customer_id: Set(customer_id),
        kind: Set(if joined { "joined" } else { "left" }.to_owned()),
        cause: Set(cause.as_str().to_owned()),
        run_id: Set(None),
        at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Puts a customer in a segment by hand. The job never removes a manual member. On an auto
/// segment this also lifts an exclude override, which would contradict it. Returns whether
/// anything changed (a customer already in the segment by hand stays as they are).
pub async fn add_member<C>(
    db: &C,
    segment_id: i64,
    customer_id: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError>
where
    C: ConnectionTrait + TransactionTrait,
{
    let txn = begin_write(db).await?;
    get(&txn, segment_id).await?;
    segment_override::Entity::delete_many()
        .filter(segment_override::Column::SegmentId.eq(segment_id))
        .filter(segment_override::Column::CustomerId.eq(customer_id))
        .filter(segment_override::Column::Mode.eq(OverrideMode::Exclude.as_str()))
        .exec(&txn)
        .await?;
    let changed = match segment_member::Entity::find_by_id((segment_id, customer_id))
        .one(&txn)
        .await?
    {
        None => {
            join(
                &txn,
                segment_id,
                customer_id,
                Source::Manual,
                Cause::Manual,
                now,
            )
            .await?;
            true
        }
        Some(row) if row.source == Source::Rule.as_str() => {
            // Already in by the rule: the merchant's hand now keeps them in.
            segment_member::ActiveModel {
                segment_id: Set(segment_id),
                customer_id: Set(customer_id),
                source: Set(Source::Manual.as_str().to_owned()),
                since: Set(row.since),
            }
            .update(&txn)
            .await?;
            false
        }
        Some(_) => false,
    };
    txn.commit().await?;
    Ok(changed)
}

/// Takes a manual member out of a segment. A member by rule can't be removed by hand (the
/// next recompute would put them back): that needs an exclude override, and the sentence
/// says so. Returns whether the customer was a member.
pub async fn remove_member<C>(
    db: &C,
    segment_id: i64,
    customer_id: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError>
where
    C: ConnectionTrait + TransactionTrait,
{
    let txn = begin_write(db).await?;
    let segment = get(&txn, segment_id).await?;
    let Some(row) = segment_member::Entity::find_by_id((segment_id, customer_id))
        .one(&txn)
        .await?
    else {
        return Ok(false);
    };
    if row.source == Source::Rule.as_str() {
        return Err(StoreError::Invalid(format!(
            "customer {customer_id} is in segment {} ({}) by its rule: exclude them with an \
             override instead",
            segment.id, segment.name
        )));
    }
    leave(&txn, segment_id, customer_id, Cause::Manual, now).await?;
    txn.commit().await?;
    Ok(true)
}

/// Sets (or replaces) an include or exclude override on an auto segment and applies it to the
/// customer at once, with the segments that depend on it; returns the membership changes.
/// An exclude also takes out a manual member.
pub async fn set_override<C>(
    db: &C,
    context: &Context,
    segment_id: i64,
    customer_id: i64,
    mode: OverrideMode,
) -> Result<Vec<MembershipChange>, StoreError>
where
    C: ConnectionTrait + TransactionTrait,
{
    let txn = begin_write(db).await?;
    let segment = get(&txn, segment_id).await?;
    if segment.kind != "auto" {
        return Err(StoreError::Invalid(format!(
            "segment {} ({}) is manual: add or remove the member instead of overriding a rule",
            segment.id, segment.name
        )));
    }
    segment_override::Entity::insert(segment_override::ActiveModel {
        segment_id: Set(segment_id),
        customer_id: Set(customer_id),
        mode: Set(mode.as_str().to_owned()),
        created_at: Set(context.now),
    })
    .on_conflict(
        OnConflict::columns([
            segment_override::Column::SegmentId,
            segment_override::Column::CustomerId,
        ])
        .update_columns([
            segment_override::Column::Mode,
            segment_override::Column::CreatedAt,
        ])
        .to_owned(),
    )
    .exec(&txn)
    .await?;
    let mut changes = Vec::new();
    if mode == OverrideMode::Exclude
        && let Some(row) = segment_member::Entity::find_by_id((segment_id, customer_id))
            .one(&txn)
            .await?
        && row.source == Source::Manual.as_str()
    {
        leave(&txn, segment_id, customer_id, Cause::Manual, context.now).await?;
        changes.push(MembershipChange {
            segment_id,
            joined: false,
        });
    }
    changes.extend(refresh_within(&txn, context, customer_id, Some(segment_id)).await?);
    txn.commit().await?;
    Ok(changes)
}

/// Removes an override, letting the rule decide again at once; returns the membership changes.
pub async fn clear_override<C>(
    db: &C,
    context: &Context,
    segment_id: i64,
    customer_id: i64,
) -> Result<Vec<MembershipChange>, StoreError>
where
    C: ConnectionTrait + TransactionTrait,
{
    let txn = begin_write(db).await?;
    get(&txn, segment_id).await?;
    segment_override::Entity::delete_by_id((segment_id, customer_id))
        .exec(&txn)
        .await?;
    let changes = refresh_within(&txn, context, customer_id, Some(segment_id)).await?;
    txn.commit().await?;
    Ok(changes)
}

/// A customer's user groups: those set on them by hand, plus the tags of their segments in
/// force, each once, in alphabetical order.
pub async fn user_groups(
    db: &impl ConnectionTrait,
    customer_id: i64,
    now: DateTime<Utc>,
) -> Result<BTreeSet<String>, StoreError> {
    let mut groups: BTreeSet<String> = customer_group::Entity::find()
        .select_only()
        .column(customer_group::Column::UserGroup)
        .filter(customer_group::Column::CustomerId.eq(customer_id))
        .into_tuple::<String>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let inherited: Vec<Option<String>> = segment::Entity::find()
        .select_only()
        .column(segment::Column::UserGroup)
        .filter(segment::Column::UserGroup.is_not_null())
        .filter(
            segment::Column::Id.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(segment_member::Column::SegmentId)
                    .from(segment_member::Entity)
                    .and_where(segment_member::Column::CustomerId.eq(customer_id))
                    .to_owned(),
            ),
        )
        .filter(in_force_at(now))
        .into_tuple()
        .all(db)
        .await?;
    groups.extend(inherited.into_iter().flatten());
    Ok(groups)
}

/// Sets a user group on a customer by hand; setting it twice is harmless.
pub async fn add_hand_set_group(
    db: &impl ConnectionTrait,
    customer_id: i64,
    group: &str,
) -> Result<(), StoreError> {
    customer_group::Entity::insert(customer_group::ActiveModel {
        customer_id: Set(customer_id),
        user_group: Set(group.to_owned()),
    })
    .on_conflict(
        OnConflict::columns([
            customer_group::Column::CustomerId,
            customer_group::Column::UserGroup,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Removes a hand-set group. A segment in force that carries the same tag still gives it.
pub async fn remove_hand_set_group(
    db: &impl ConnectionTrait,
    customer_id: i64,
    group: &str,
) -> Result<(), StoreError> {
    customer_group::Entity::delete_by_id((customer_id, group.to_owned()))
        .exec(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::customers::{self, TelegramUser};
    use crate::testing::TestDb;
    use chrono::{Duration, TimeZone};
    use sea_orm::ActiveModelTrait;
    use sea_orm::ActiveValue::Set;

    fn noon() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0)
            .single()
            .expect("time")
    }

    #[tokio::test]
    async fn only_active_segments_within_their_window_are_in_force() {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        let shopper = customers::record_interaction(
            db,
            &TelegramUser {
                telegram_user_id: 7,
                chat_id: 7,
                first_name: "Bo".into(),
                last_name: None,
                username: None,
                language_code: None,
            },
            noon(),
        )
        .await
        .expect("customer");
        let hour = Duration::hours(1);
        // (name, active, starts_at, expires_at, expected in force at noon)
        let cases = [
            ("always", true, None, None, true),
            ("inactive", false, None, None, false),
            ("started", true, Some(noon() - hour), None, true),
            ("starts exactly now", true, Some(noon()), None, true),
            ("not yet", true, Some(noon() + hour), None, false),
            ("expires later", true, None, Some(noon() + hour), true),
            ("expires exactly now", true, None, Some(noon()), false),
            (
                "expired",
                true,
                Some(noon() - hour * 2),
                Some(noon() - hour),
                false,
            ),
        ];
        let mut expected = Vec::new();
        for (name, active, starts_at, expires_at, in_force) in cases {
            let id = segment::ActiveModel {
                name: Set(name.into()),
                description: Set(String::new()),
                kind: Set("manual".into()),
                active: Set(active),
                starts_at: Set(starts_at),
                expires_at: Set(expires_at),
                created_at: Set(noon()),
                updated_at: Set(noon()),
                ..Default::default()
            }
            .insert(db)
            .await
            .expect("segment")
            .id;
            segment_member::ActiveModel {
                segment_id: Set(id),
                customer_id: Set(shopper.id),
                source: Set("manual".into()),
                since: Set(noon()),
            }
            .insert(db)
            .await
            .expect("member");
            if in_force {
                expected.push(id);
            }
        }
        let got = segments_in_force_for(db, shopper.id, noon())
            .await
            .expect("query");
        assert_eq!(got, expected);
    }
}
