//! Registration questions as the shopper meets them, and the shopper's answers.
//!
//! Questions themselves are edited by the merchant elsewhere; this file only reads them and
//! records answers. An answer replaces the shopper's earlier answer to that question in full,
//! and it never accepts an archived question or option, nor an option of another question.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, IntoCondition};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QueryOrder, QuerySelect,
    RelationDef,
};
use storebot_entity::{answer_option, customer, customer_answer, question};

use crate::store::StoreError;
use crate::store::shoppers::questions::QuestionView;

/// Every question that is not archived, by position, each with its options that are not
/// archived.
pub async fn active_questions(db: &impl ConnectionTrait) -> Result<Vec<QuestionView>, StoreError> {
    // One statement: each question with its options, a question without any as one row with
    // none (the archived options are left out in the join, so they can't hide a question).
    let options: RelationDef = question::Entity::belongs_to(answer_option::Entity)
        .from(question::Column::Id)
        .to(answer_option::Column::QuestionId)
        .on_condition(|_, option| {
            Expr::col((option, answer_option::Column::Archived))
                .eq(false)
                .into_condition()
        })
        .into();
    let rows = question::Entity::find()
        .select_also(answer_option::Entity)
        .join(JoinType::LeftJoin, options)
        .filter(question::Column::Archived.eq(false))
        .order_by_asc(question::Column::Position)
        .order_by_asc(question::Column::Id)
        .order_by_asc(answer_option::Column::Position)
        .order_by_asc(answer_option::Column::Id)
        .all(db)
        .await?;
    let mut views: Vec<QuestionView> = Vec::new();
    for (question, option) in rows {
        if views
            .last()
            .is_none_or(|view| view.question.id != question.id)
        {
            views.push(QuestionView {
                question,
                options: Vec::new(),
            });
        }
        if let (Some(view), Some(option)) = (views.last_mut(), option) {
            view.options.push(option);
        }
    }
    Ok(views)
}

/// One active question, if it exists and is not archived.
pub async fn active_question(
    db: &impl ConnectionTrait,
    question_id: i64,
) -> Result<Option<QuestionView>, StoreError> {
    Ok(active_questions(db)
        .await?
        .into_iter()
        .find(|view| view.question.id == question_id))
}

/// The shopper's answer rows (a row without an option is a skipped question).
pub async fn answers_of(
    db: &impl ConnectionTrait,
    customer_id: i64,
) -> Result<Vec<customer_answer::Model>, StoreError> {
    Ok(customer_answer::Entity::find()
        .filter(customer_answer::Column::CustomerId.eq(customer_id))
        .order_by_asc(customer_answer::Column::Id)
        .all(db)
        .await?)
}

/// The first active question the shopper has neither answered nor skipped: what registration
/// asks next, including questions the merchant added after the shopper registered.
pub async fn next_unanswered(
    db: &impl ConnectionTrait,
    customer_id: i64,
) -> Result<Option<QuestionView>, StoreError> {
    let questions = active_questions(db).await?;
    next_unanswered_of(db, customer_id, questions).await
}

/// [`next_unanswered`] among `questions`, the active questions as [`active_questions`] read
/// them a moment ago: one query for the shopper's answers instead of three.
pub async fn next_unanswered_of(
    db: &impl ConnectionTrait,
    customer_id: i64,
    questions: Vec<QuestionView>,
) -> Result<Option<QuestionView>, StoreError> {
    let answered: BTreeSet<i64> = answers_of(db, customer_id)
        .await?
        .into_iter()
        .map(|answer| answer.question_id)
        .collect();
    Ok(questions
        .into_iter()
        .find(|view| !answered.contains(&view.question.id)))
}

/// Replaces the shopper's answer to `question_id` with `option_ids` (empty: skipped). Refuses,
/// changing nothing, an archived or unknown question or option, an option of another question,
/// several options to a single-choice question, and skipping a required question. Call it
/// inside a write transaction: it deletes, then inserts.
pub async fn replace_answer(
    db: &impl ConnectionTrait,
    customer_id: i64,
    question_id: i64,
    option_ids: &[i64],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let view = active_question(db, question_id)
        .await?
        .ok_or_else(|| StoreError::not_found("question", question_id))?;
    let chosen: BTreeSet<i64> = option_ids.iter().copied().collect();
    if let Some(stray) = chosen
        .iter()
        .find(|id| !view.options.iter().any(|option| option.id == **id))
    {
        return Err(StoreError::Invalid(format!(
            "option {stray} is not an active option of question {question_id}"
        )));
    }
    if chosen.is_empty() && view.question.required {
        return Err(StoreError::Invalid(format!(
            "question {question_id} is required and can't be skipped"
        )));
    }
    if chosen.len() > 1 && !view.is_multiple() {
        return Err(StoreError::Invalid(format!(
            "question {question_id} takes a single option"
        )));
    }
    customer_answer::Entity::delete_many()
        .filter(customer_answer::Column::CustomerId.eq(customer_id))
        .filter(customer_answer::Column::QuestionId.eq(question_id))
        .exec(db)
        .await?;
    let rows: Vec<customer_answer::ActiveModel> = if chosen.is_empty() {
        vec![answer_row(customer_id, question_id, None, now)]
    } else {
        chosen
            .into_iter()
            .map(|option| answer_row(customer_id, question_id, Some(option), now))
            .collect()
    };
    customer_answer::Entity::insert_many(rows).exec(db).await?;
    Ok(())
}

fn answer_row(
    customer_id: i64,
    question_id: i64,
    option_id: Option<i64>,
    now: DateTime<Utc>,
) -> customer_answer::ActiveModel {
    customer_answer::ActiveModel {
        customer_id: Set(customer_id),
        question_id: Set(question_id),
        option_id: Set(option_id),
        answered_at: Set(now),
        ..Default::default()
    }
}

/// Sets `registered_at` the first time every active question is answered or skipped; returns
/// whether this call did it (so the dialogue thanks the shopper once).
pub async fn mark_registered_if_complete(
    db: &impl ConnectionTrait,
    customer_id: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    // One statement: set only while no active question is left unanswered, so a question
    // added meanwhile can't be missed between a check and the update.
    let result = customer::Entity::update_many()
        .col_expr(
            customer::Column::RegisteredAt,
            sea_orm::sea_query::Expr::value(Some(now)),
        )
        .filter(customer::Column::Id.eq(customer_id))
        .filter(customer::Column::RegisteredAt.is_null())
        .filter(sea_orm::sea_query::Expr::not_exists(
            crate::store::shoppers::arrival::next_question(),
        ))
        .exec(db)
        .await?;
    Ok(result.rows_affected > 0)
}

/// The profile's other setting: whether the shopper wants join messages and broadcasts.
pub async fn set_messages_opt_out(
    db: &impl ConnectionTrait,
    customer_id: i64,
    opt_out: bool,
) -> Result<(), StoreError> {
    customer::Entity::update_many()
        .col_expr(
            customer::Column::MessagesOptOut,
            sea_orm::sea_query::Expr::value(opt_out),
        )
        .filter(customer::Column::Id.eq(customer_id))
        .exec(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::shoppers::customers::{self, TelegramUser};
    use crate::store::shoppers::questions::{self, NewQuestion, QuestionKind};
    use crate::testing::TestDb;
    use chrono::TimeZone;
    use sea_orm::DatabaseConnection;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0)
            .single()
            .expect("time")
    }

    async fn shopper(db: &impl ConnectionTrait) -> i64 {
        customers::record_interaction(
            db,
            &TelegramUser {
                telegram_user_id: 5,
                chat_id: 5,
                first_name: "Ann".into(),
                last_name: None,
                username: None,
                language_code: None,
            },
            now(),
        )
        .await
        .expect("customer")
        .id
    }

    async fn question(
        db: &DatabaseConnection,
        text: &str,
        kind: QuestionKind,
        required: bool,
        options: &[&str],
    ) -> QuestionView {
        let new = NewQuestion {
            text: text.into(),
            kind,
            required,
            options: options.iter().map(|option| (*option).to_owned()).collect(),
        };
        questions::add(db, &new, now()).await.expect("question")
    }

    #[tokio::test]
    async fn questions_are_asked_in_order_until_all_are_answered_or_skipped() {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        let customer = shopper(db).await;
        let age = question(db, "Age?", QuestionKind::Single, true, &["young", "old"]).await;
        let hobby = question(
            db,
            "Hobby?",
            QuestionKind::Multiple,
            false,
            &["tea", "chess"],
        )
        .await;
        // Asked by position, not by when the merchant added it.
        questions::move_to(db, hobby.question.id, 1)
            .await
            .expect("moved");
        let next = next_unanswered(db, customer).await.expect("next");
        assert_eq!(next.map(|q| q.question.id), Some(hobby.question.id));
        replace_answer(db, customer, hobby.question.id, &[], now())
            .await
            .expect("skipped");
        let next = next_unanswered(db, customer).await.expect("next");
        assert_eq!(next.map(|q| q.question.id), Some(age.question.id));
        assert!(
            !mark_registered_if_complete(db, customer, now())
                .await
                .expect("check")
        );
        replace_answer(db, customer, age.question.id, &[age.options[1].id], now())
            .await
            .expect("answered");
        assert!(next_unanswered(db, customer).await.expect("next").is_none());
        assert!(
            mark_registered_if_complete(db, customer, now())
                .await
                .expect("registered")
        );
        assert!(
            !mark_registered_if_complete(db, customer, now())
                .await
                .expect("only once")
        );
    }

    #[tokio::test]
    async fn active_questions_hold_their_live_options_in_order_and_no_archived_one() {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        let age = question(db, "Age?", QuestionKind::Single, true, &["young", "old"]).await;
        let gone = question(db, "Gone?", QuestionKind::Single, true, &["a"]).await;
        let bare = question(db, "Bare?", QuestionKind::Multiple, false, &["b", "c"]).await;
        questions::add_option(db, age.question.id, "older")
            .await
            .expect("option");
        questions::archive_option(db, age.options[0].id, false)
            .await
            .expect("archived option");
        questions::archive_question(db, gone.question.id, false)
            .await
            .expect("archived question");
        for option in &bare.options {
            questions::archive_option(db, option.id, false)
                .await
                .expect("archived option");
        }
        questions::move_to(db, bare.question.id, 1)
            .await
            .expect("moved");
        let active: Vec<(String, Vec<String>)> = active_questions(db)
            .await
            .expect("questions")
            .into_iter()
            .map(|view| {
                let options = view.options.into_iter().map(|option| option.text).collect();
                (view.question.text, options)
            })
            .collect();
        // A question whose options are all archived is still asked (and can only be skipped
        // or left); an archived question is not.
        assert_eq!(
            active,
            [
                ("Bare?".to_owned(), vec![]),
                (
                    "Age?".to_owned(),
                    vec!["old".to_owned(), "older".to_owned()]
                ),
            ]
        );
    }

    #[tokio::test]
    async fn bad_answers_are_refused_and_change_nothing() {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        let customer = shopper(db).await;
        let age = question(db, "Age?", QuestionKind::Single, true, &["young", "old"]).await;
        let other = question(db, "Other?", QuestionKind::Multiple, true, &["x"]).await;
        replace_answer(db, customer, age.question.id, &[age.options[0].id], now())
            .await
            .expect("answered");
        for options in [
            vec![],
            vec![age.options[0].id, age.options[1].id],
            vec![other.options[0].id],
        ] {
            assert!(
                replace_answer(db, customer, age.question.id, &options, now())
                    .await
                    .is_err(),
                "{options:?}"
            );
        }
        let answers = answers_of(db, customer).await.expect("answers");
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0].option_id, Some(age.options[0].id));
    }
}
