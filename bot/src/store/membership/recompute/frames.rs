//! Per-frame order aggregates, computed once per run into tables every segment's statement
//! joins, and the two-lane runner the run uses for work that may go two at a time.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use sea_orm::sea_query::{Alias, PostgresQueryBuilder, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use crate::segments::compile::{CUSTOMER_ID, frame_aggregate};
use crate::segments::{Context, TimeFrame};
use crate::store::StoreError;

/// `work` over every item, two at a time: each of two lanes takes the next item not yet
/// taken, so a long item doesn't hold up the short ones behind it. The results come back in
/// the items' order.
pub(super) async fn two_lanes<'a, T, R, Fut>(items: &'a [T], work: impl Fn(&'a T) -> Fut) -> Vec<R>
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
pub(super) async fn materialize_frames(
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
pub(super) async fn drop_frames(
    db: &DatabaseConnection,
    materialized: &BTreeMap<TimeFrame, String>,
) {
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
