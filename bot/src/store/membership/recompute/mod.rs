//! Segment membership upkeep: recompute of the automatic segments, set-based in SQL, and
//! re-evaluation of one shopper after they answer a question or place an order.
//!
//! The full recompute compiles each rule ([`crate::segments::matching_customers`]) and applies
//! the difference to `segment_member` inside the database, one transaction per segment, so a
//! crash leaves each segment wholly old or wholly new and no customer list is ever held in
//! memory. One shopper's re-evaluation loads their [`ShopperFacts`] and runs the in-memory
//! evaluation, which a property test keeps identical to the SQL. Neither ever removes a
//! `manual` member: only rows whose source is `rule` are the job's to take away.

mod frames;
pub(crate) mod lock;
pub(crate) mod per_segment;

use frames::{drop_frames, materialize_frames, two_lanes};
use lock::{advisory_lock, dedicated_connection};
use per_segment::{TARGET, membership_differs, recompute_segment};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use chrono::TimeDelta;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    DbBackend, EntityTrait, QueryFilter, QuerySelect,
};
use storebot_entity::{recompute_run, segment_override};

use crate::segments::compile::aggregate_frames_of;
use crate::segments::{Context, TimeFrame};
use crate::store::StoreError;
use crate::store::membership::rules::{AutoSegment, load_auto_segments};

/// What started a recompute, as written to `recompute_run.trigger`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The periodic job.
    Schedule,
    /// The merchant, from the admin tool.
    Admin,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Admin => "admin",
        }
    }
}

/// How a recompute went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSummary {
    /// The `recompute_run` row; `None` when the run was skipped.
    pub run_id: Option<i64>,
    /// Another instance held the recompute lock, so this one did nothing.
    pub skipped: bool,
    /// Automatic segments whose membership was brought up to date.
    pub segments: u32,
    pub joined: u64,
    pub left: u64,
    /// One sentence per segment that could not be recomputed (the others still were).
    pub errors: Vec<String>,
}

/// Recomputes every automatic segment: those in force follow their rule (with the manual
/// includes and excludes), those out of force lose their rule members (cause `expiry`).
/// Segments are done in dependency order, so a `segment` condition reads the fresh membership
/// of the segment it names. Each segment is its own transaction; a segment that fails is
/// reported and the others go on. On PostgreSQL only one process runs at a time: a second
/// caller returns at once with `skipped`.
///
/// The orders are aggregated once per distinct time frame of the whole run, into tables that
/// every segment's statement joins: temporary ones on SQLite, unlogged ones on PostgreSQL
/// (read from the pool too, by the checks that run two at a time). The run works on a
/// dedicated connection of its own (opened with the pool's options and closed at the end),
/// which holds its temporary tables, its scratch table and, on PostgreSQL, its lock.
pub async fn recompute_all(
    db: &DatabaseConnection,
    context: &Context,
    trigger: Trigger,
) -> Result<RunSummary, StoreError> {
    recompute_all_with_progress(db, context, trigger, &mut |_| {}).await
}

/// How far a recompute has got: called after each segment, so a person at a terminal can
/// watch a long run.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    /// Segments finished so far, this one included.
    pub done: usize,
    pub total: usize,
    /// The segment just finished.
    pub segment: &'a str,
}

/// [`recompute_all`], reporting each finished segment to `on_progress`.
pub async fn recompute_all_with_progress(
    db: &DatabaseConnection,
    context: &Context,
    trigger: Trigger,
    on_progress: &mut (dyn FnMut(Progress<'_>) + Send),
) -> Result<RunSummary, StoreError> {
    let run_db = dedicated_connection(db)?;
    let outcome = recompute_on(&run_db, db, context, trigger, None, on_progress).await;
    // Closing ends the session, which also releases the PostgreSQL lock if unlocking failed.
    let _ = run_db.close().await;
    outcome
}

/// The periodic job's run: [`recompute_all`], unless another instance already ran the
/// schedule's recompute within the last half `interval` (then `skipped`). Several bot
/// instances on one PostgreSQL each tick every `interval`; the lock keeps their runs apart,
/// and this check, made while holding it, keeps them to one run per tick between them.
pub async fn recompute_scheduled(
    db: &DatabaseConnection,
    context: &Context,
    interval: std::time::Duration,
) -> Result<RunSummary, StoreError> {
    let half = TimeDelta::from_std(interval / 2).unwrap_or(TimeDelta::zero());
    let run_db = dedicated_connection(db)?;
    let outcome = recompute_on(
        &run_db,
        db,
        context,
        Trigger::Schedule,
        Some(half),
        &mut |_| {},
    )
    .await;
    let _ = run_db.close().await;
    outcome
}

fn skipped_run() -> RunSummary {
    RunSummary {
        run_id: None,
        skipped: true,
        segments: 0,
        joined: 0,
        left: 0,
        errors: Vec::new(),
    }
}

/// The run on `db`, its dedicated connection; `pool` serves the statements that may run beside
/// the run's own (on PostgreSQL).
async fn recompute_on(
    db: &DatabaseConnection,
    pool: &DatabaseConnection,
    context: &Context,
    trigger: Trigger,
    unless_scheduled_within: Option<TimeDelta>,
    on_progress: &mut (dyn FnMut(Progress<'_>) + Send),
) -> Result<RunSummary, StoreError> {
    let postgres = db.get_database_backend() == DbBackend::Postgres;
    // A session lock on the run's own connection: held for the whole run, across the
    // per-segment transactions, and released by unlocking or by the session ending (a process
    // that dies mid-run frees it).
    if postgres && !advisory_lock(db, "pg_try_advisory_lock").await? {
        return Ok(skipped_run());
    }
    if let Some(within) = unless_scheduled_within {
        let recent = recompute_run::Entity::find()
            .filter(recompute_run::Column::Trigger.eq(Trigger::Schedule.as_str()))
            .filter(recompute_run::Column::StartedAt.gt(context.now - within))
            .one(db)
            .await?;
        if recent.is_some() {
            if postgres {
                advisory_lock(db, "pg_advisory_unlock").await?;
            }
            return Ok(skipped_run());
        }
    }
    let clock = Instant::now();
    let run = recompute_run::ActiveModel {
        trigger: Set(trigger.as_str().to_owned()),
        started_at: Set(context.now),
        finished_at: Set(None),
        segments: Set(0),
        joined: Set(0),
        left: Set(0),
        error: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let outcome = recompute_segments(db, pool, context, run.id, on_progress).await;
    let (summary, error) = match outcome {
        Ok(summary) => {
            let error = (!summary.errors.is_empty()).then(|| summary.errors.join("\n"));
            (Some(summary), error)
        }
        Err(error) => (None, Some(error.to_string())),
    };
    let elapsed = TimeDelta::from_std(clock.elapsed()).unwrap_or(TimeDelta::zero());
    let counts = summary.as_ref();
    recompute_run::ActiveModel {
        id: Set(run.id),
        finished_at: Set(Some(context.now + elapsed)),
        segments: Set(counts.map_or(0, |s| i32::try_from(s.segments).unwrap_or(i32::MAX))),
        joined: Set(counts.map_or(0, |s| i32::try_from(s.joined).unwrap_or(i32::MAX))),
        left: Set(counts.map_or(0, |s| i32::try_from(s.left).unwrap_or(i32::MAX))),
        error: Set(error.clone()),
        ..Default::default()
    }
    .update(db)
    .await?;
    if postgres {
        advisory_lock(db, "pg_advisory_unlock").await?;
    }
    summary.ok_or_else(|| {
        StoreError::Invalid(format!(
            "recompute run {} failed: {}",
            run.id,
            error.unwrap_or_default()
        ))
    })
}

/// Every auto segment of the run, each in its own transaction; a failing segment is
/// reported in the summary and the others go on.
async fn recompute_segments(
    db: &DatabaseConnection,
    pool: &DatabaseConnection,
    context: &Context,
    run_id: i64,
    on_progress: &mut (dyn FnMut(Progress<'_>) + Send),
) -> Result<RunSummary, StoreError> {
    let mut summary = RunSummary {
        run_id: Some(run_id),
        skipped: false,
        segments: 0,
        joined: 0,
        left: 0,
        errors: Vec::new(),
    };
    let (segments, unreadable) = load_auto_segments(db, context.now).await?;
    summary.errors.extend(unreadable);
    let frames: BTreeSet<TimeFrame> = segments
        .iter()
        .filter(|segment| segment.in_force)
        .flat_map(|segment| aggregate_frames_of(&segment.rule))
        .collect();
    let materialized = materialize_frames(db, pool, context, frames).await?;
    db.execute_unprepared(&format!(
        "CREATE TEMPORARY TABLE IF NOT EXISTS {TARGET} (customer_id BIGINT PRIMARY KEY)"
    ))
    .await?;
    let overridden: BTreeSet<i64> = segment_override::Entity::find()
        .select_only()
        .column(segment_override::Column::SegmentId)
        .distinct()
        .into_tuple::<i64>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let settled = settled_segments(pool, context, &segments, &overridden, &materialized).await;
    // Segments whose membership this run changed: a later segment that names one of them is
    // not settled, whatever its check found before the change.
    let mut changed = BTreeSet::new();
    let total = segments.len();
    for (index, segment) in segments.into_iter().enumerate() {
        let has_overrides = overridden.contains(&segment.id);
        let outcome = if settled.contains(&segment.id)
            && segment.rule.references().segments.is_disjoint(&changed)
        {
            Ok((0, 0))
        } else {
            recompute_segment(db, context, &segment, run_id, &materialized, has_overrides).await
        };
        match outcome {
            Ok((joined, left)) => {
                if joined + left > 0 {
                    changed.insert(segment.id);
                }
                summary.segments += 1;
                summary.joined += joined;
                summary.left += left;
            }
            Err(error) => summary.errors.push(format!(
                "segment {} ({}) was not recomputed: {error}",
                segment.id, segment.name
            )),
        }
        on_progress(Progress {
            done: index + 1,
            total,
            segment: &segment.name,
        });
    }
    drop_frames(db, &materialized).await;
    Ok(summary)
}

/// The segments whose membership already matches their rule, so that the run writes nothing
/// for them: on PostgreSQL, each segment without overrides is checked by one read-only
/// statement ([`membership_differs`]), two at a time on `pool` (the server has a core for each,
/// and almost every run finds almost every segment as it left it). A segment whose check
/// fails is not settled, so the full path meets the failure and reports it. None on SQLite,
/// which runs a full outer join as a nested loop (minutes at 20k customers), and whose full
/// path is already within the floor there.
async fn settled_segments(
    pool: &DatabaseConnection,
    context: &Context,
    segments: &[AutoSegment],
    overridden: &BTreeSet<i64>,
    materialized: &BTreeMap<TimeFrame, String>,
) -> BTreeSet<i64> {
    if pool.get_database_backend() != DbBackend::Postgres {
        return BTreeSet::new();
    }
    let candidates: Vec<&AutoSegment> = segments
        .iter()
        .filter(|segment| !overridden.contains(&segment.id))
        .collect();
    let verdicts = two_lanes(&candidates, |segment| {
        membership_differs(pool, context, segment, materialized)
    })
    .await;
    candidates
        .iter()
        .zip(verdicts)
        .filter_map(|(segment, differs)| matches!(differs, Ok(false)).then_some(segment.id))
        .collect()
}
