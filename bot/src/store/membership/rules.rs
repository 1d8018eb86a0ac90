//! Automatic segments' rules as the evaluations read them: each segment's stored rule parsed
//! (and cached by its text), the auto segments in dependency order, and the evaluation
//! [`Context`] made from the store's settings.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, LazyLock, Mutex};

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use storebot_config::Settings;
use storebot_entity::segment;

use crate::segments::{self as rules, Context, Rule};
use crate::store::StoreError;
use crate::store::membership::in_force::is_in_force;

/// An automatic segment with its rule read, ready to recompute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoSegment {
    pub id: i64,
    pub name: String,
    /// Shared with the parsed-rule cache (see [`load_auto_segments`]).
    pub rule: Arc<Rule>,
    pub in_force: bool,
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

/// The evaluation context of the store's settings at `now`.
pub fn context(settings: &Settings, now: DateTime<Utc>) -> Context {
    Context {
        now,
        time_zone: settings.store.time_zone,
        counted_statuses: settings.segments.counted_statuses.iter().cloned().collect(),
    }
}
