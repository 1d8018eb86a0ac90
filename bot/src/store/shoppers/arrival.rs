//! What every update needs before the dialogue can route it, in one statement: the shopper's
//! interaction recorded (the customer upsert of [`customers::record_interaction`]) and, in the
//! same statement's `RETURNING`, the stored dialogue state, the first question still to answer
//! and the segments in force. Both engines evaluate sub-selects in `RETURNING` against the row
//! just written, so this is one round trip instead of six (the upsert, the state, the segments,
//! and the three reads behind [`answers::next_unanswered`]). The update's claim in
//! `processed_update` joins the same round trip ([`claim_and_record`]).
//!
//! [`answers::next_unanswered`]: crate::store::shoppers::answers::next_unanswered
//!
//! [`customers::record_interaction`]: crate::store::shoppers::customers::record_interaction

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{
    Alias, CommonTableExpression, Expr, ExprTrait, Func, InsertStatement, IntoCondition, Query,
    SelectStatement, WithClause,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait, ConnectionTrait, DbBackend, FromQueryResult,
    Iterable, QueryTrait, Statement,
};
use storebot_entity::{
    customer, customer_answer, dialogue_state, processed_update, question, segment, segment_member,
};

use crate::store::StoreError;
use crate::store::membership::in_force::in_force_at;
use crate::store::shoppers::customers::{
    TelegramUser, interaction_conflict, interaction_row, upsert_interaction,
};
use crate::store::shoppers::processed_updates;

/// The shopper as the update finds them.
#[derive(Debug, Clone, PartialEq)]
pub struct Arrival {
    /// The customer row after recording the interaction.
    pub customer: customer::Model,
    /// The stored dialogue state, as [`crate::store::shoppers::dialogue::load`] returns it.
    pub state: Option<String>,
    /// The first active question (by position, then id) the shopper has neither answered nor
    /// skipped: the id of what [`crate::store::shoppers::answers::next_unanswered`] returns.
    pub next_question: Option<i64>,
    /// The shopper's segments in force at `now`, ascending, as
    /// [`crate::store::membership::in_force::segments_in_force_for`] returns them.
    pub segments: Vec<i64>,
}

/// Records that `user` interacted at `now` (creating the customer on first contact) and
/// returns the customer with their dialogue state, next question and segments in force.
pub async fn record(
    db: &impl ConnectionTrait,
    user: &TelegramUser,
    now: DateTime<Utc>,
) -> Result<Arrival, StoreError> {
    let insert = upsert_interaction(user, now).into_query();
    let arrival = fetch(db, None, insert, now).await?;
    arrival.ok_or_else(|| StoreError::Invalid("the interaction upsert returned no row".into()))
}

/// Claims Telegram update `update_id` (as [`processed_updates::claim`] does) and, the first
/// time, records the arrival as [`record`] does; a later delivery of the same id gets `None`
/// and changes nothing.
///
/// One round trip on both engines. On PostgreSQL it is one statement: the claim a
/// data-modifying `WITH`, the upsert conditional on it. SQLite has no data-modifying `WITH`,
/// so there the claim and the upsert are two statements sent as one query, the upsert
/// conditional on `changes()` (the rows the claim just inserted); each commits on its own, so
/// the claim is committed first, as the separate claim was.
pub async fn claim_and_record(
    db: &impl ConnectionTrait,
    update_id: i64,
    user: &TelegramUser,
    now: DateTime<Utc>,
) -> Result<Option<Arrival>, StoreError> {
    let backend = db.get_database_backend();
    let mut claim = processed_updates::claim_statement(update_id, now);
    let claimed = Alias::new("claimed");
    let claimed_here = match backend {
        DbBackend::Postgres => {
            claim.returning(Query::returning().columns([processed_update::Column::UpdateId]));
            Expr::exists(
                Query::select()
                    .expr(Expr::val(1))
                    .from(claimed.clone())
                    .to_owned(),
            )
        }
        _ => Expr::cust("changes() = 1"),
    };
    let row = interaction_row(user, now);
    let (mut columns, mut values) = (Vec::new(), Vec::new());
    for column in customer::Column::iter() {
        if let ActiveValue::Set(value) = row.get(column) {
            columns.push(column);
            values.push(Expr::val(value));
        }
    }
    let only_if_claimed = Query::select()
        .exprs(values)
        .and_where(claimed_here)
        .to_owned();
    let mut insert = Query::insert()
        .into_table(customer::Entity)
        .columns(columns)
        .select_from(only_if_claimed)
        .map_err(|error| StoreError::Invalid(format!("the arrival statement: {error}")))?
        .on_conflict(interaction_conflict())
        .to_owned();
    if backend != DbBackend::Postgres {
        return fetch(db, Some(backend.build(&claim)), insert, now).await;
    }
    insert.with_cte(
        WithClause::new()
            .cte(
                CommonTableExpression::new()
                    .table_name(claimed)
                    .query(claim)
                    .to_owned(),
            )
            .to_owned(),
    );
    fetch(db, None, insert, now).await
}

/// Runs the customer upsert `insert` with the arrival's `RETURNING`, after `before` in the same
/// query when given; `None` when it wrote no row.
async fn fetch(
    db: &impl ConnectionTrait,
    before: Option<Statement>,
    mut insert: InsertStatement,
    now: DateTime<Utc>,
) -> Result<Option<Arrival>, StoreError> {
    let backend = db.get_database_backend();
    let columns: Vec<Expr> = customer::Column::iter()
        .map(|column| Expr::col((customer::Entity, column)))
        .collect();
    let count = columns.len();
    let mut returning = columns;
    returning.push(named(backend, subquery(state()), "stored_state"));
    returning.push(named(backend, subquery(next_question()), "next_question"));
    returning.push(named(backend, subquery(in_force(backend, now)), "in_force"));
    insert.returning(Query::returning().exprs(returning));
    let mut statement = backend.build(&insert);
    if let Some(before) = before {
        // Positional parameters: the second statement's follow the first's.
        let mut values = before.values.map(|values| values.0).unwrap_or_default();
        values.extend(statement.values.map(|values| values.0).unwrap_or_default());
        statement = Statement::from_sql_and_values(
            backend,
            format!("{}; {}", before.sql, statement.sql),
            values,
        );
    }
    let Some(row) = db.query_one_raw(statement).await? else {
        return Ok(None);
    };
    let customer = customer::Model::from_query_result(&row, "")?;
    let state: Option<String> = row.try_get_by_index(count)?;
    let next_question: Option<i64> = row.try_get_by_index(count + 1)?;
    let in_force: Option<String> = row.try_get_by_index(count + 2)?;
    let mut segments = in_force
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .filter(|id| !id.is_empty())
        .map(|id| {
            id.parse::<i64>()
                .map_err(|_| StoreError::Invalid(format!("a segment id that is not one: {id}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    segments.sort_unstable();
    segments.dedup();
    Ok(Some(Arrival {
        customer,
        state,
        next_question,
        segments,
    }))
}

/// `expr AS "alias"`: `RETURNING` takes no aliases in sea-query, and without one PostgreSQL
/// would name a sub-select after its column (`id`), shadowing the customer's.
fn named(backend: DbBackend, expr: Expr, alias: &str) -> Expr {
    let placeholder = match backend {
        DbBackend::Postgres => "$1",
        _ => "?",
    };
    Expr::cust_with_expr(format!("{placeholder} AS \"{alias}\""), expr)
}

fn subquery(select: SelectStatement) -> Expr {
    Expr::SubQuery(None, Box::new(select.into()))
}

/// The id of the customer row being written, as the sub-selects see it.
fn this_customer() -> Expr {
    Expr::col((customer::Entity, customer::Column::Id))
}

fn state() -> SelectStatement {
    Query::select()
        .column((dialogue_state::Entity, dialogue_state::Column::State))
        .from(dialogue_state::Entity)
        .and_where(
            Expr::col((dialogue_state::Entity, dialogue_state::Column::CustomerId))
                .eq(this_customer()),
        )
        .to_owned()
}

/// The first active question the customer row in hand (`"customer"."id"` of the enclosing
/// statement) has neither answered nor skipped.
pub(super) fn next_question() -> SelectStatement {
    let answered = Query::select()
        .expr(Expr::val(1))
        .from(customer_answer::Entity)
        .and_where(
            Expr::col((customer_answer::Entity, customer_answer::Column::CustomerId))
                .eq(this_customer()),
        )
        .and_where(
            Expr::col((customer_answer::Entity, customer_answer::Column::QuestionId))
                .equals((question::Entity, question::Column::Id)),
        )
        .to_owned();
    Query::select()
        .column((question::Entity, question::Column::Id))
        .from(question::Entity)
        .and_where(question::Column::Archived.eq(false))
        .and_where(Expr::not_exists(answered))
        .order_by(
            (question::Entity, question::Column::Position),
            sea_orm::Order::Asc,
        )
        .order_by(
            (question::Entity, question::Column::Id),
            sea_orm::Order::Asc,
        )
        .limit(1)
        .to_owned()
}

fn in_force(backend: DbBackend, now: DateTime<Utc>) -> SelectStatement {
    let id = Func::cast_as(
        Expr::col((segment_member::Entity, segment_member::Column::SegmentId)),
        Alias::new("text"),
    );
    // The same aggregate under each engine's name (SQLite ≥ 3.44 knows both; older ones only
    // `group_concat`, which PostgreSQL lacks).
    let list = match backend {
        DbBackend::Postgres => Func::cust(Alias::new("string_agg")).arg(id).arg(","),
        _ => Func::cust(Alias::new("group_concat")).arg(id).arg(","),
    };
    Query::select()
        .expr(list)
        .from(segment_member::Entity)
        .inner_join(
            segment::Entity,
            Expr::col((segment::Entity, segment::Column::Id))
                .equals((segment_member::Entity, segment_member::Column::SegmentId)),
        )
        .and_where(
            Expr::col((segment_member::Entity, segment_member::Column::CustomerId))
                .eq(this_customer()),
        )
        .cond_where(in_force_at(now).into_condition())
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::membership::{in_force, manual};
    use crate::store::{
        begin_write, operations::demo, shoppers::answers, shoppers::customers, shoppers::dialogue,
    };
    use crate::testing::TestDb;

    fn shopper() -> TelegramUser {
        TelegramUser {
            username: Some("ada".into()),
            language_code: Some("en".into()),
            ..TelegramUser::new(4242, "Ada")
        }
    }

    /// What the statements the arrival replaces would have read, for comparison.
    async fn separately(db: &sea_orm::DatabaseConnection, now: DateTime<Utc>) -> Arrival {
        let customer = customers::record_interaction(db, &shopper(), now)
            .await
            .expect("customer");
        Arrival {
            state: dialogue::load(db, customer.id).await.expect("state"),
            next_question: answers::next_unanswered(db, customer.id)
                .await
                .expect("next question")
                .map(|view| view.question.id),
            segments: in_force::segments_in_force_for(db, customer.id, now)
                .await
                .expect("segments"),
            customer,
        }
    }

    async fn answer(
        db: &sea_orm::DatabaseConnection,
        customer: i64,
        question: i64,
        options: &[i64],
    ) {
        let txn = begin_write(db).await.expect("txn");
        answers::replace_answer(&txn, customer, question, options, Utc::now())
            .await
            .expect("answer");
        txn.commit().await.expect("commit");
    }

    #[tokio::test]
    async fn one_statement_reads_what_the_separate_ones_do() {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        // Whole seconds: PostgreSQL keeps microseconds only.
        let start = chrono::SubsecRound::trunc_subsecs(Utc::now(), 0);
        let shop = demo::seed(db, start).await.expect("demo");

        // A new shopper: created, no state, the first question next, no segment.
        let first = record(db, &shopper(), start).await.expect("arrival");
        assert_eq!(first.customer.first_interaction_at, start);
        assert_eq!(first.state, None);
        assert_eq!(first.next_question, Some(shop.age.question.id));
        assert_eq!(first.segments, Vec::<i64>::new());
        let id = first.customer.id;

        // Later: state saved, one question answered, one skipped, two segments joined.
        let later = start + chrono::TimeDelta::minutes(5);
        dialogue::save(db, id, "{\"step\":\"idle\"}", later)
            .await
            .expect("save");
        answer(db, id, shop.age.question.id, &[shop.age.options[0].id]).await;
        if !shop.likes.question.required {
            answer(db, id, shop.likes.question.id, &[]).await;
        }
        let mut joined = vec![shop.vip, shop.coffee_lovers];
        for segment in &joined {
            manual::add_member(db, *segment, id, later)
                .await
                .expect("member");
        }
        joined.sort_unstable();
        let arrived = record(db, &shopper(), later).await.expect("arrival");
        let expected = separately(db, later).await;
        assert_eq!(arrived.customer.id, id);
        assert_eq!(arrived.customer.first_interaction_at, start);
        assert_eq!(arrived.customer.last_interaction_at, later);
        assert_eq!(arrived.state.as_deref(), Some("{\"step\":\"idle\"}"));
        assert_eq!(arrived.next_question, expected.next_question);
        assert_ne!(arrived.next_question, Some(shop.age.question.id));
        assert_eq!(arrived.segments, expected.segments);
        for segment in &joined {
            assert!(arrived.segments.contains(segment), "{segment} in force");
        }
        assert_eq!(arrived, expected);

        // Every question answered: nothing next.
        for view in answers::active_questions(db).await.expect("questions") {
            answer(db, id, view.question.id, &[view.options[0].id]).await;
        }
        let done = record(db, &shopper(), later).await.expect("arrival");
        assert_eq!(done.next_question, None);
        assert_eq!(done, separately(db, later).await);
    }

    #[tokio::test]
    async fn an_update_is_claimed_and_recorded_once() {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        let start = chrono::SubsecRound::trunc_subsecs(Utc::now(), 0);
        let shop = demo::seed(db, start).await.expect("demo");
        let first = claim_and_record(db, 77, &shopper(), start)
            .await
            .expect("arrival")
            .expect("first delivery");
        assert_eq!(first.customer.first_interaction_at, start);
        assert_eq!(first.next_question, Some(shop.age.question.id));
        let expected = separately(db, start).await;
        assert_eq!(first, expected);

        // The same update again changes nothing, not even the last interaction.
        let later = start + chrono::TimeDelta::minutes(1);
        let again = claim_and_record(db, 77, &shopper(), later)
            .await
            .expect("arrival");
        assert_eq!(again, None);
        let customer = customers::find_by_telegram_id(db, shopper().telegram_user_id)
            .await
            .expect("query")
            .expect("customer");
        assert_eq!(customer.last_interaction_at, start);
        // A repeat from someone new creates no customer either.
        let stranger = TelegramUser {
            telegram_user_id: 4343,
            chat_id: 4343,
            ..shopper()
        };
        assert_eq!(
            claim_and_record(db, 77, &stranger, later)
                .await
                .expect("arrival"),
            None
        );
        assert_eq!(
            customers::find_by_telegram_id(db, 4343)
                .await
                .expect("query"),
            None
        );

        // The next update is new.
        let next = claim_and_record(db, 78, &shopper(), later)
            .await
            .expect("arrival")
            .expect("a new update");
        assert_eq!(next.customer.id, first.customer.id);
        assert_eq!(next.customer.last_interaction_at, later);
        assert!(
            !processed_updates::claim(db, 78, later)
                .await
                .expect("claim")
        );
    }
}
