//! Segment membership upkeep: recompute of the automatic segments, set-based in SQL, and
//! re-evaluation of one shopper after they answer a question or place an order.
//!
//! The full recompute compiles each rule ([`crate::segments::matching_customers`]) and applies
//! the difference to `segment_member` inside the database, one transaction per segment, so a
//! crash leaves each segment wholly old or wholly new and no customer list is ever held in
//! memory. One shopper's re-evaluation loads their [`ShopperFacts`] and runs the in-memory
//! evaluation, which a property test keeps identical to the SQL. Neither ever removes a
//! `manual` member: only rows whose source is `rule` are the job's to take away.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::sea_query::{
    Alias, Cond, Expr, ExprTrait, Func, InsertStatement, Order, PostgresQueryBuilder, Query,
    SelectStatement,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement, TransactionSession,
    TransactionTrait,
};
use storebot_config::Settings;
use storebot_entity::{
    customer, customer_answer, membership_event, order, order_item, recompute_run, segment,
    segment_member, segment_override,
};

use super::segments::{
    self as segment_store, AutoSegment, Cause, OverrideMode, Source, load_auto_segments,
};
use super::{StoreError, begin_write, outbox};
use crate::segments::compile::{
    CUSTOMER_ID, aggregate_frames_of, frame_aggregate, matching_customers_over,
};
use crate::segments::{
    Context, Explanation, OrderFacts, Rule, ShopperFacts, TimeFrame, evaluate,
    explain as explain_rule, matching_customers,
};

/// The key of PostgreSQL's advisory lock that lets one bot instance recompute at a time; any
/// number works as long as every storebot process uses the same one ("RECOMPUT").
pub(crate) const RECOMPUTE_LOCK_KEY: i64 = 0x5245_434f_4d50_5554;

/// The scratch table a segment's new membership is gathered in before it is compared with the
/// old, so the rule is evaluated once per segment. Temporary, so private to the connection.
const TARGET: &str = "recompute_target";

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

/// One shopper joining or leaving one segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MembershipChange {
    pub segment_id: i64,
    pub joined: bool,
}

/// The evaluation context of the store's settings at `now`.
pub fn context(settings: &Settings, now: DateTime<Utc>) -> Context {
    Context {
        now,
        time_zone: settings.store.time_zone,
        counted_statuses: settings.segments.counted_statuses.iter().cloned().collect(),
    }
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

/// A pool of exactly one connection with the same options as `db`'s pool.
fn dedicated_connection(db: &DatabaseConnection) -> Result<DatabaseConnection, StoreError> {
    use sea_orm::sqlx::pool::PoolOptions;
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let options = db.get_postgres_connection_pool().connect_options();
            let pool = PoolOptions::new()
                .max_connections(1)
                .connect_lazy_with((*options).clone());
            Ok(sea_orm::SqlxPostgresConnector::from_sqlx_postgres_pool(
                pool,
            ))
        }
        DbBackend::Sqlite => {
            let options = db.get_sqlite_connection_pool().connect_options();
            let pool = PoolOptions::new()
                .max_connections(1)
                .connect_lazy_with((*options).clone());
            Ok(sea_orm::SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
        }
        other => Err(StoreError::Invalid(format!(
            "segment recompute does not support {other:?}"
        ))),
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

/// Calls one of PostgreSQL's advisory lock functions on the recompute key.
async fn advisory_lock(db: &DatabaseConnection, function: &str) -> Result<bool, StoreError> {
    let row = db
        .query_one(Query::select().expr_as(
            Func::cust(Alias::new(function)).arg(RECOMPUTE_LOCK_KEY),
            Alias::new("locked"),
        ))
        .await?;
    Ok(match row {
        Some(row) => row.try_get::<bool>("", "locked")?,
        None => false,
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

/// `work` over every item, two at a time: each of two lanes takes the next item not yet
/// taken, so a long item doesn't hold up the short ones behind it. The results come back in
/// the items' order.
async fn two_lanes<'a, T, R, Fut>(items: &'a [T], work: impl Fn(&'a T) -> Fut) -> Vec<R>
where
    Fut: std::future::Future<Output = R>,
{
    let next = AtomicUsize::new(0);
    let lane = || async {
        let mut done = Vec::new();
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(index) else {
                break;
            };
            done.push((index, work(item).await));
        }
        done
    };
    let (first, second) = tokio::join!(lane(), lane());
    let mut done: Vec<(usize, R)> = first.into_iter().chain(second).collect();
    done.sort_by_key(|(index, _)| *index);
    done.into_iter().map(|(_, result)| result).collect()
}

/// One table of per-customer count and total per frame, filled once for the run. On SQLite a
/// temporary table of the run's connection `db`. On PostgreSQL an unlogged table, filled two
/// at a time on `pool`, which the segments' checks read from other connections (and which
/// the planner may scan in parallel, as it never does a temporary table); the advisory lock
/// keeps other processes' runs from meeting them, and [`drop_frames`] removes them.
async fn materialize_frames(
    db: &DatabaseConnection,
    pool: &DatabaseConnection,
    context: &Context,
    frames: BTreeSet<TimeFrame>,
) -> Result<BTreeMap<TimeFrame, String>, StoreError> {
    let frames: Vec<(TimeFrame, String)> = frames
        .into_iter()
        .enumerate()
        .map(|(index, frame)| (frame, format!("recompute_frame_{index}")))
        .collect();
    if db.get_database_backend() == DbBackend::Postgres {
        let filled = two_lanes(&frames, |(frame, table)| {
            fill_frame(pool, context, frame, table)
        })
        .await;
        filled.into_iter().collect::<Result<(), _>>()?;
    } else {
        for (frame, table) in &frames {
            fill_frame(db, context, frame, table).await?;
        }
    }
    Ok(frames.into_iter().collect())
}

/// Creates `table` anew with `frame`'s aggregates: on PostgreSQL an unlogged table made by
/// `CREATE TABLE ... AS`, which, unlike `INSERT ... SELECT`, may aggregate in parallel; on
/// SQLite a temporary table keyed by customer.
async fn fill_frame(
    db: &DatabaseConnection,
    context: &Context,
    frame: &TimeFrame,
    table: &str,
) -> Result<(), StoreError> {
    let backend = db.get_database_backend();
    db.execute_unprepared(&format!("DROP TABLE IF EXISTS {table}"))
        .await?;
    let aggregate = frame_aggregate(frame, context);
    if backend == DbBackend::Postgres {
        let (select, values) = aggregate.build(PostgresQueryBuilder);
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            format!("CREATE UNLOGGED TABLE {table} AS {select}"),
            values,
        ))
        .await?;
        // Autovacuum analyses a fresh table only later; without statistics the planner
        // guesses its size, and every segment's statement joins it.
        db.execute_unprepared(&format!("ANALYZE {table}")).await?;
        return Ok(());
    }
    db.execute_unprepared(&format!(
        "CREATE TEMPORARY TABLE {table} (customer_id BIGINT PRIMARY KEY, \
         order_count BIGINT NOT NULL, order_total NUMERIC NOT NULL)"
    ))
    .await?;
    db.execute(
        &Query::insert()
            .into_table(Alias::new(table))
            .columns([CUSTOMER_ID, "order_count", "order_total"].map(Alias::new))
            .select_from(aggregate)
            .map_err(|error| StoreError::Invalid(error.to_string()))?
            .to_owned(),
    )
    .await?;
    Ok(())
}

/// Removes PostgreSQL's frame tables at the end of a run (SQLite's temporary ones go with the
/// run's connection). A failure only leaves them for the next run to replace.
async fn drop_frames(db: &DatabaseConnection, materialized: &BTreeMap<TimeFrame, String>) {
    if db.get_database_backend() != DbBackend::Postgres {
        return;
    }
    for table in materialized.values() {
        if let Err(error) = db
            .execute_unprepared(&format!("DROP TABLE IF EXISTS {table}"))
            .await
        {
            tracing::warn!(%error, table, "could not drop a recompute frame table");
        }
    }
}

/// Brings one segment's rule members up to date in one transaction; returns (joined, left).
async fn recompute_segment(
    db: &DatabaseConnection,
    context: &Context,
    segment: &AutoSegment,
    run_id: i64,
    materialized: &BTreeMap<TimeFrame, String>,
    has_overrides: bool,
) -> Result<(u64, u64), StoreError> {
    let txn = begin_write(db).await?;
    txn.execute(&Query::delete().from_table(Alias::new(TARGET)).to_owned())
        .await?;
    let target_ids = || {
        Query::select()
            .column((Alias::new(TARGET), Alias::new(CUSTOMER_ID)))
            .from(Alias::new(TARGET))
            .to_owned()
    };
    // Anti-joins are written NOT EXISTS rather than NOT IN: PostgreSQL plans NOT IN over a
    // large subquery as a per-row scan, NOT EXISTS as a hash anti-join.
    let not_in_target = |customer: Expr| {
        Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from(Alias::new(TARGET))
                .and_where(Expr::col((Alias::new(TARGET), Alias::new(CUSTOMER_ID))).eq(customer))
                .to_owned(),
        )
        .not()
    };
    if segment.in_force {
        txn.execute(
            &Query::insert()
                .into_table(Alias::new(TARGET))
                .columns([Alias::new(CUSTOMER_ID)])
                .select_from(matching_customers_over(
                    &segment.rule,
                    context,
                    materialized,
                ))
                .map_err(|error| StoreError::Invalid(error.to_string()))?
                .to_owned(),
        )
        .await?;
    }
    if segment.in_force && db.get_database_backend() == DbBackend::Postgres {
        // Without statistics the planner takes the scratch table for a small one and may
        // join it with the members by a nested loop over a scan that the joins' own inserts
        // keep lengthening (minutes for one segment at a million customers).
        txn.execute_unprepared(&format!("ANALYZE {TARGET}")).await?;
    }
    // Most segments have no overrides: skip their two statements (round trips count on
    // PostgreSQL, where the job spends most of its time in them).
    if segment.in_force && has_overrides {
        txn.execute(
            &Query::insert()
                .into_table(Alias::new(TARGET))
                .columns([Alias::new(CUSTOMER_ID)])
                .select_from(
                    overrides(segment.id, OverrideMode::Include)
                        .and_where(not_in_target(Expr::col((
                            segment_override::Entity,
                            segment_override::Column::CustomerId,
                        ))))
                        .to_owned(),
                )
                .map_err(|error| StoreError::Invalid(error.to_string()))?
                .to_owned(),
        )
        .await?;
        txn.execute(
            &Query::delete()
                .from_table(Alias::new(TARGET))
                .and_where(
                    Expr::col(Alias::new(CUSTOMER_ID))
                        .in_subquery(overrides(segment.id, OverrideMode::Exclude)),
                )
                .to_owned(),
        )
        .await?;
    }
    let cause = if segment.in_force {
        Cause::Rule
    } else {
        Cause::Expiry
    };

    let leaving = Cond::all()
        .add(segment_member::Column::SegmentId.eq(segment.id))
        .add(segment_member::Column::Source.eq(Source::Rule.as_str()))
        .add(not_in_target(Expr::col((
            segment_member::Entity,
            segment_member::Column::CustomerId,
        ))));
    let left = txn
        .execute(&ledger_from(
            Query::select()
                .column(segment_member::Column::CustomerId)
                .from(segment_member::Entity)
                .cond_where(leaving.clone())
                .to_owned(),
            segment.id,
            false,
            cause,
            Some(run_id),
            context.now,
        )?)
        .await?
        .rows_affected();
    // The ledger rows and the membership change select the same rows in one transaction,
    // so when the ledger found nobody there is nothing to change.
    if left > 0 {
        segment_member::Entity::delete_many()
            .filter(leaving)
            .exec(&txn)
            .await?;
    }

    // Who is already a member leaves the scratch table, so that what remains is who joins. The
    // insert into `segment_member` below then never reads the table it writes: PostgreSQL,
    // planning with the statistics of a table that was empty, may scan it once per inserted
    // row, which is quadratic in the joins (minutes for one segment at a million customers).
    txn.execute(
        &Query::delete()
            .from_table(Alias::new(TARGET))
            .and_where(Expr::exists(
                Query::select()
                    .expr(Expr::val(1))
                    .from(segment_member::Entity)
                    .and_where(segment_member::Column::SegmentId.eq(segment.id))
                    .and_where(
                        Expr::col((segment_member::Entity, segment_member::Column::CustomerId))
                            .equals((Alias::new(TARGET), Alias::new(CUSTOMER_ID))),
                    )
                    .to_owned(),
            ))
            .to_owned(),
    )
    .await?;
    let joined = txn
        .execute(&ledger_from(
            target_ids(),
            segment.id,
            true,
            cause,
            Some(run_id),
            context.now,
        )?)
        .await?
        .rows_affected();
    if joined == 0 {
        txn.commit().await?;
        return Ok((joined, left));
    }
    let members = Query::select()
        .expr(Expr::val(segment.id))
        .column((Alias::new(TARGET), Alias::new(CUSTOMER_ID)))
        .expr(Expr::val(Source::Rule.as_str()))
        .expr(Expr::val(context.now))
        .from(Alias::new(TARGET))
        .to_owned();
    txn.execute(
        &Query::insert()
            .into_table(segment_member::Entity)
            .columns([
                segment_member::Column::SegmentId,
                segment_member::Column::CustomerId,
                segment_member::Column::Source,
                segment_member::Column::Since,
            ])
            .select_from(members)
            .map_err(|error| StoreError::Invalid(error.to_string()))?
            .to_owned(),
    )
    .await?;
    // The join messages commit with the joins, or neither does.
    outbox::enqueue_run_joins(&txn, segment.id, run_id, context.now).await?;
    txn.commit().await?;
    Ok((joined, left))
}

/// Whether the rule members of a segment without overrides differ from what its rule selects
/// now: someone selected who is not a member (by rule or by hand), or a rule member no longer
/// selected (every rule member when the segment is out of force). One full outer join of the
/// selection with the segment's members, counted, so the rule is evaluated once.
async fn membership_differs(
    db: &DatabaseConnection,
    context: &Context,
    segment: &AutoSegment,
    materialized: &BTreeMap<TimeFrame, String>,
) -> Result<bool, StoreError> {
    let mut members = Query::select()
        .column(segment_member::Column::CustomerId)
        .column(segment_member::Column::Source)
        .from(segment_member::Entity)
        .and_where(segment_member::Column::SegmentId.eq(segment.id))
        .to_owned();
    let (selected, member) = (Alias::new("selected"), Alias::new("member"));
    let query = if segment.in_force {
        Query::select()
            .expr_as(Expr::val(1).count(), Alias::new("n"))
            .from_subquery(
                matching_customers_over(&segment.rule, context, materialized),
                selected.clone(),
            )
            .join_subquery(
                sea_orm::sea_query::JoinType::FullOuterJoin,
                members,
                member.clone(),
                Expr::col((member.clone(), Alias::new(CUSTOMER_ID)))
                    .equals((selected.clone(), Alias::new(CUSTOMER_ID))),
            )
            .cond_where(
                Cond::any()
                    .add(Expr::col((member.clone(), Alias::new(CUSTOMER_ID))).is_null())
                    .add(
                        Cond::all()
                            .add(Expr::col((selected, Alias::new(CUSTOMER_ID))).is_null())
                            .add(
                                Expr::col((member, segment_member::Column::Source))
                                    .eq(Source::Rule.as_str()),
                            ),
                    ),
            )
            .to_owned()
    } else {
        Query::select()
            .expr_as(Expr::val(1).count(), Alias::new("n"))
            .from_subquery(
                members
                    .and_where(segment_member::Column::Source.eq(Source::Rule.as_str()))
                    .limit(1)
                    .to_owned(),
                member,
            )
            .to_owned()
    };
    let count = db
        .query_one(&query)
        .await?
        .map(|row| row.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0);
    Ok(count > 0)
}

fn overrides(segment_id: i64, mode: OverrideMode) -> SelectStatement {
    Query::select()
        .column(segment_override::Column::CustomerId)
        .from(segment_override::Entity)
        .and_where(segment_override::Column::SegmentId.eq(segment_id))
        .and_where(segment_override::Column::Mode.eq(mode.as_str()))
        .to_owned()
}

/// `INSERT INTO membership_event ... SELECT` over the `customer_id`s that `customers` selects.
fn ledger_from(
    customers: SelectStatement,
    segment_id: i64,
    joined: bool,
    cause: Cause,
    run_id: Option<i64>,
    now: DateTime<Utc>,
) -> Result<InsertStatement, StoreError> {
    let rows = Query::select()
        .expr(Expr::val(segment_id))
        .column((Alias::new("changed"), Alias::new(CUSTOMER_ID)))
        .expr(Expr::val(if joined { "joined" } else { "left" }))
        .expr(Expr::val(cause.as_str()))
        .expr(Expr::val(run_id))
        .expr(Expr::val(now))
        .from_subquery(customers, Alias::new("changed"))
        .to_owned();
    Ok(Query::insert()
        .into_table(membership_event::Entity)
        .columns([
            membership_event::Column::SegmentId,
            membership_event::Column::CustomerId,
            membership_event::Column::Kind,
            membership_event::Column::Cause,
            membership_event::Column::RunId,
            membership_event::Column::At,
        ])
        .select_from(rows)
        .map_err(|error| StoreError::Invalid(error.to_string()))?
        .to_owned())
}

/// Re-evaluates every automatic segment for one shopper and applies the joins and leaves at
/// once (one transaction), so a shopper who just qualified sees the segment's variants on
/// their next tap. Returns what changed: joins are only ever to segments in force.
///
/// The evaluation runs first outside any transaction; almost always nothing changes, and then
/// nothing is written and no write lock is taken. Only when a join or leave is due does it open
/// a write transaction and evaluate again inside it (what it applies is what that second
/// evaluation finds, so a change committed in between is not lost or applied twice).
pub async fn refresh_customer<C>(
    db: &C,
    context: &Context,
    customer_id: i64,
) -> Result<Vec<MembershipChange>, StoreError>
where
    C: ConnectionTrait + TransactionTrait,
{
    if plan_refresh(db, context, customer_id, None)
        .await?
        .is_empty()
    {
        return Ok(Vec::new());
    }
    let txn = begin_write(db).await?;
    let changes = refresh_within(&txn, context, customer_id, None).await?;
    txn.commit().await?;
    Ok(changes)
}

/// The body of [`refresh_customer`], inside the caller's transaction. Changes to
/// `merchant_segment` are ledgered as the merchant's doing (an override was just set).
pub(crate) async fn refresh_within(
    db: &impl ConnectionTrait,
    context: &Context,
    customer_id: i64,
    merchant_segment: Option<i64>,
) -> Result<Vec<MembershipChange>, StoreError> {
    let planned = plan_refresh(db, context, customer_id, merchant_segment).await?;
    let mut changes = Vec::with_capacity(planned.len());
    for change in planned {
        if change.joined {
            segment_store::join(
                db,
                change.segment_id,
                customer_id,
                Source::Rule,
                change.cause,
                context.now,
            )
            .await?;
            if change.greet {
                outbox::enqueue_join(db, change.segment_id, customer_id, context.now).await?;
            }
        } else {
            segment_store::leave(
                db,
                change.segment_id,
                customer_id,
                change.cause,
                context.now,
            )
            .await?;
        }
        changes.push(MembershipChange {
            segment_id: change.segment_id,
            joined: change.joined,
        });
    }
    Ok(changes)
}

/// One join or leave a re-evaluation found due.
struct PlannedChange {
    segment_id: i64,
    joined: bool,
    cause: Cause,
    /// Whether the join queues the segment's join message (only a join through the rule).
    greet: bool,
}

/// Evaluates every automatic segment for one shopper, in dependency order, without writing:
/// the joins and leaves due, each later segment seeing the earlier ones' outcome.
async fn plan_refresh(
    db: &impl ConnectionTrait,
    context: &Context,
    customer_id: i64,
    merchant_segment: Option<i64>,
) -> Result<Vec<PlannedChange>, StoreError> {
    // Independent reads go out together: on a pool each takes its own connection, so a
    // refresh waits for two round trips rather than five (in a transaction they queue).
    let ((segments, _unreadable), (memberships, overrides)) = tokio::try_join!(
        load_auto_segments(db, context.now),
        memberships_and_overrides(db, customer_id)
    )?;
    let mut facts = load_facts_for(db, customer_id, FactNeeds::of(&segments)).await?;
    facts.segments = memberships.keys().copied().collect();
    let mut planned = Vec::new();
    for segment in &segments {
        let source = memberships.get(&segment.id).map(String::as_str);
        let mode = overrides.get(&segment.id).map(String::as_str);
        let is_rule_member = source == Some(Source::Rule.as_str());
        let wanted = segment.in_force
            && mode != Some(OverrideMode::Exclude.as_str())
            && (mode == Some(OverrideMode::Include.as_str())
                || evaluate(&segment.rule, &facts, context));
        let cause = if merchant_segment == Some(segment.id) {
            Cause::Manual
        } else if segment.in_force {
            Cause::Rule
        } else {
            Cause::Expiry
        };
        if wanted && source.is_none() {
            facts.segments.insert(segment.id);
            planned.push(PlannedChange {
                segment_id: segment.id,
                joined: true,
                cause,
                // Only a join through the rule greets the shopper; the merchant's adds don't.
                greet: cause == Cause::Rule && mode != Some(OverrideMode::Include.as_str()),
            });
        } else if !wanted && is_rule_member {
            facts.segments.remove(&segment.id);
            planned.push(PlannedChange {
                segment_id: segment.id,
                joined: false,
                cause,
                greet: false,
            });
        }
    }
    Ok(planned)
}

/// Which facts beyond the customer row and memberships the rules in force read, so a
/// re-evaluation loads only those (most shops have no `bought` rule, some no order rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FactNeeds {
    answers: bool,
    orders: bool,
    /// The products and variants of each order (`bought`).
    items: bool,
}

impl FactNeeds {
    const ALL: FactNeeds = FactNeeds {
        answers: true,
        orders: true,
        items: true,
    };

    /// What the segments in force read; a segment out of force is not evaluated.
    fn of(segments: &[AutoSegment]) -> FactNeeds {
        let mut needs = FactNeeds {
            answers: false,
            orders: false,
            items: false,
        };
        for segment in segments.iter().filter(|segment| segment.in_force) {
            segment
                .rule
                .for_each_condition(&mut |condition| match condition {
                    Rule::Answer { .. } => needs.answers = true,
                    Rule::AverageCheck(_) | Rule::TotalCheck(_) | Rule::OrderCount(_) => {
                        needs.orders = true;
                    }
                    Rule::Bought { .. } => {
                        needs.orders = true;
                        needs.items = true;
                    }
                    // Read from the customer row or the memberships, always loaded. Listed one by
                    // one so a new kind of condition has to say what it reads.
                    Rule::FirstInteraction { .. }
                    | Rule::LastInteraction { .. }
                    | Rule::Language { .. }
                    | Rule::Segment { .. }
                    | Rule::All { .. }
                    | Rule::Any { .. }
                    | Rule::None { .. } => {}
                });
        }
        needs
    }
}

/// The shopper's memberships (segment → source) and overrides (segment → mode), in one
/// round trip.
async fn memberships_and_overrides(
    db: &impl ConnectionTrait,
    customer_id: i64,
) -> Result<(BTreeMap<i64, String>, BTreeMap<i64, String>), StoreError> {
    let mut query = Query::select();
    query
        .column(segment_member::Column::SegmentId)
        .expr_as(
            Expr::col(segment_member::Column::Source),
            Alias::new("value"),
        )
        .expr_as(Expr::val("member"), Alias::new("what"))
        .from(segment_member::Entity)
        .and_where(segment_member::Column::CustomerId.eq(customer_id))
        .union(
            sea_orm::sea_query::UnionType::All,
            Query::select()
                .column(segment_override::Column::SegmentId)
                .expr_as(
                    Expr::col(segment_override::Column::Mode),
                    Alias::new("value"),
                )
                .expr_as(Expr::val("override"), Alias::new("what"))
                .from(segment_override::Entity)
                .and_where(segment_override::Column::CustomerId.eq(customer_id))
                .to_owned(),
        );
    let mut memberships = BTreeMap::new();
    let mut overrides = BTreeMap::new();
    for row in db.query_all(&query).await? {
        let segment_id: i64 = row.try_get("", "segment_id")?;
        let value: String = row.try_get("", "value")?;
        if row.try_get::<String>("", "what")? == "member" {
            memberships.insert(segment_id, value);
        } else {
            overrides.insert(segment_id, value);
        }
    }
    Ok((memberships, overrides))
}

/// Everything a rule can know about one customer: answers, interactions, language, every
/// order with its products and variants, and current memberships.
pub async fn load_facts(
    db: &impl ConnectionTrait,
    customer_id: i64,
) -> Result<ShopperFacts, StoreError> {
    let mut facts = load_facts_for(db, customer_id, FactNeeds::ALL).await?;
    facts.segments = segment_member::Entity::find()
        .select_only()
        .column(segment_member::Column::SegmentId)
        .filter(segment_member::Column::CustomerId.eq(customer_id))
        .into_tuple::<i64>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok(facts)
}

/// The customer row and what `needs` asks for (the rest left empty); memberships are left to
/// the caller. Orders and their items come in one round trip.
async fn load_facts_for(
    db: &impl ConnectionTrait,
    customer_id: i64,
    needs: FactNeeds,
) -> Result<ShopperFacts, StoreError> {
    let (customer, answers, orders) = tokio::try_join!(
        async { Ok::<_, StoreError>(customer::Entity::find_by_id(customer_id).one(db).await?) },
        answers_of(db, customer_id, needs),
        orders_of(db, customer_id, needs),
    )?;
    let customer = customer.ok_or_else(|| StoreError::not_found("customer", customer_id))?;
    Ok(ShopperFacts {
        answers,
        first_interaction_at: customer.first_interaction_at,
        last_interaction_at: customer.last_interaction_at,
        language_code: customer.language_code,
        orders,
        segments: BTreeSet::new(),
    })
}

/// The options the customer chose, by question (none read unless `needs.answers`).
async fn answers_of(
    db: &impl ConnectionTrait,
    customer_id: i64,
    needs: FactNeeds,
) -> Result<BTreeMap<i64, BTreeSet<i64>>, StoreError> {
    let mut answers: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
    if !needs.answers {
        return Ok(answers);
    }
    let rows: Vec<(i64, Option<i64>)> = customer_answer::Entity::find()
        .select_only()
        .column(customer_answer::Column::QuestionId)
        .column(customer_answer::Column::OptionId)
        .filter(customer_answer::Column::CustomerId.eq(customer_id))
        .filter(customer_answer::Column::OptionId.is_not_null())
        .into_tuple()
        .all(db)
        .await?;
    for (question, option) in rows {
        if let Some(option) = option {
            answers.entry(question).or_default().insert(option);
        }
    }
    Ok(answers)
}

/// The customer's orders by id, as they were placed, with their products and variants when
/// `needs.items` (none read unless the rules read orders).
async fn orders_of(
    db: &impl ConnectionTrait,
    customer_id: i64,
    needs: FactNeeds,
) -> Result<Vec<OrderFacts>, StoreError> {
    let mut order_facts: BTreeMap<i64, OrderFacts> = BTreeMap::new();
    if !(needs.orders || needs.items) {
        return Ok(Vec::new());
    }
    let mut query = Query::select();
    query
        .column((order::Entity, order::Column::Id))
        .column((order::Entity, order::Column::PlacedAt))
        .column((order::Entity, order::Column::Total))
        .column((order::Entity, order::Column::Status))
        .from(order::Entity)
        .and_where(Expr::col((order::Entity, order::Column::CustomerId)).eq(customer_id));
    if needs.items {
        query
            .column((order_item::Entity, order_item::Column::ProductId))
            .column((order_item::Entity, order_item::Column::VariantId))
            .left_join(
                order_item::Entity,
                Expr::col((order_item::Entity, order_item::Column::OrderId))
                    .equals((order::Entity, order::Column::Id)),
            );
    }
    for row in db.query_all(&query).await? {
        let id: i64 = row.try_get("", "id")?;
        let facts = match order_facts.entry(id) {
            std::collections::btree_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::btree_map::Entry::Vacant(entry) => entry.insert(OrderFacts {
                placed_at: row.try_get("", "placed_at")?,
                total: row.try_get("", "total")?,
                status: row.try_get("", "status")?,
                products: BTreeSet::new(),
                variants: BTreeSet::new(),
            }),
        };
        if needs.items {
            facts
                .products
                .extend(row.try_get::<Option<i64>>("", "product_id")?);
            facts
                .variants
                .extend(row.try_get::<Option<i64>>("", "variant_id")?);
        }
    }
    Ok(order_facts.into_values().collect())
}

/// How many customers a rule selects, with the first few ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    pub count: u64,
    /// The lowest ids, at most the sample size asked for.
    pub sample: Vec<i64>,
}

/// Who a rule would select right now, before it is saved.
pub async fn preview(
    db: &impl ConnectionTrait,
    context: &Context,
    rule: &Rule,
    sample_size: u64,
) -> Result<Preview, StoreError> {
    count_and_sample(db, matching_customers(rule, context), sample_size).await
}

/// Who would join and who would leave an auto segment if its rule became `rule` (overrides
/// and manual members included), without changing anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diff {
    pub joining: Preview,
    pub leaving: Preview,
}

pub async fn preview_diff(
    db: &impl ConnectionTrait,
    context: &Context,
    segment_id: i64,
    rule: &Rule,
    sample_size: u64,
) -> Result<Diff, StoreError> {
    let customer_id = || Expr::col((customer::Entity, customer::Column::Id));
    let target = Cond::all()
        .add(
            Cond::any()
                .add(customer_id().in_subquery(matching_customers(rule, context)))
                .add(customer_id().in_subquery(overrides(segment_id, OverrideMode::Include))),
        )
        .add(customer_id().not_in_subquery(overrides(segment_id, OverrideMode::Exclude)));
    let members = |source: Option<Source>| {
        let mut query = Query::select();
        query
            .column(segment_member::Column::CustomerId)
            .from(segment_member::Entity)
            .and_where(segment_member::Column::SegmentId.eq(segment_id));
        if let Some(source) = source {
            query.and_where(segment_member::Column::Source.eq(source.as_str()));
        }
        query
    };
    let select_customers = |condition: Cond| {
        Query::select()
            .expr_as(customer_id(), Alias::new(CUSTOMER_ID))
            .from(customer::Entity)
            .cond_where(condition)
            .to_owned()
    };
    let joining = select_customers(
        target
            .clone()
            .add(customer_id().not_in_subquery(members(None))),
    );
    let leaving = select_customers(
        Cond::all()
            .add(customer_id().in_subquery(members(Some(Source::Rule))))
            .add(target.not()),
    );
    Ok(Diff {
        joining: count_and_sample(db, joining, sample_size).await?,
        leaving: count_and_sample(db, leaving, sample_size).await?,
    })
}

async fn count_and_sample(
    db: &impl ConnectionTrait,
    customers: SelectStatement,
    sample_size: u64,
) -> Result<Preview, StoreError> {
    let count = db
        .query_one(
            Query::select()
                .expr_as(Expr::col(Alias::new(CUSTOMER_ID)).count(), Alias::new("n"))
                .from_subquery(customers.clone(), Alias::new("matching")),
        )
        .await?
        .map(|row| row.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0);
    let sample = db
        .query_all(
            Query::select()
                .column(Alias::new(CUSTOMER_ID))
                .from_subquery(customers, Alias::new("matching"))
                .order_by(Alias::new(CUSTOMER_ID), Order::Asc)
                .limit(sample_size),
        )
        .await?
        .into_iter()
        .map(|row| row.try_get::<i64>("", CUSTOMER_ID))
        .collect::<Result<_, _>>()?;
    Ok(Preview {
        count: u64::try_from(count).unwrap_or(0),
        sample,
    })
}

/// Why a customer is or is not in a segment: the stored membership next to what the rule
/// says now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentExplanation {
    pub segment: segment::Model,
    /// The rule of an auto segment.
    pub rule: Option<Rule>,
    pub facts: ShopperFacts,
    /// `rule` or `manual` when the customer is a member.
    pub membership: Option<String>,
    /// `include` or `exclude` when the merchant overrode the rule for this customer.
    pub override_mode: Option<String>,
    pub in_force: bool,
}

impl SegmentExplanation {
    /// The rule's verdict for the customer, node by node (`None` for manual segments).
    pub fn explanation(&self, context: &Context) -> Option<Explanation<'_>> {
        self.rule
            .as_ref()
            .map(|rule| explain_rule(rule, &self.facts, context))
    }
}

pub async fn explain(
    db: &impl ConnectionTrait,
    context: &Context,
    customer_id: i64,
    segment_id: i64,
) -> Result<SegmentExplanation, StoreError> {
    let segment = segment_store::get(db, segment_id).await?;
    let rule = segment_store::rule_of(&segment)?;
    let facts = load_facts(db, customer_id).await?;
    let membership = segment_member::Entity::find_by_id((segment_id, customer_id))
        .one(db)
        .await?
        .map(|row| row.source);
    let override_mode = segment_override::Entity::find_by_id((segment_id, customer_id))
        .one(db)
        .await?
        .map(|row| row.mode);
    let in_force = segment_store::is_in_force(&segment, context.now);
    Ok(SegmentExplanation {
        segment,
        rule,
        facts,
        membership,
        override_mode,
        in_force,
    })
}

/// The latest recompute runs, newest first.
pub async fn runs(
    db: &impl ConnectionTrait,
    limit: u64,
) -> Result<Vec<recompute_run::Model>, StoreError> {
    Ok(recompute_run::Entity::find()
        .order_by_desc(recompute_run::Column::StartedAt)
        .order_by_desc(recompute_run::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

#[cfg(test)]
mod tests;
