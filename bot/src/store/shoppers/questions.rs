//! Registration questions and their answer options, as the merchant edits them.
//!
//! Questions are never deleted, only archived, because shoppers' answers and segment rules
//! refer to them. Archiving something a segment rule uses is refused unless the caller forces
//! it, and the refusal names the segments. This module must never write shoppers' answers
//! (the conversation does that) nor segment membership.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, TransactionSession, TransactionTrait,
};
use serde::Serialize;
use storebot_entity::{answer_option, question, segment};

use crate::segments;
use crate::store::{StoreError, begin_write};

/// Whether a shopper picks one option or several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QuestionKind {
    Single,
    Multiple,
}

impl QuestionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            QuestionKind::Single => "single",
            QuestionKind::Multiple => "multiple",
        }
    }
}

impl std::str::FromStr for QuestionKind {
    type Err = StoreError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "single" => Ok(QuestionKind::Single),
            "multiple" => Ok(QuestionKind::Multiple),
            other => Err(StoreError::Invalid(format!(
                "question kind `{other}` is unknown: use single or multiple"
            ))),
        }
    }
}

/// A question with its options in order. The merchant's lists here include archived options
/// (flagged); what shoppers are asked (`answers::active_questions`) holds only live ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuestionView {
    #[serde(flatten)]
    pub question: question::Model,
    pub options: Vec<answer_option::Model>,
}

impl QuestionView {
    pub fn is_multiple(&self) -> bool {
        self.question.kind == QuestionKind::Multiple.as_str()
    }
}

/// What the merchant types to create a question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewQuestion {
    pub text: String,
    pub kind: QuestionKind,
    pub required: bool,
    pub options: Vec<String>,
}

/// Changes to a question; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuestionEdit {
    pub text: Option<String>,
    pub kind: Option<QuestionKind>,
    pub required: Option<bool>,
}

/// A segment, named for messages about its rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SegmentRef {
    pub id: i64,
    pub name: String,
}

/// Every question in the order shoppers see them; archived ones only when asked for.
pub async fn list(
    db: &impl ConnectionTrait,
    include_archived: bool,
) -> Result<Vec<QuestionView>, StoreError> {
    let mut query = question::Entity::find()
        .order_by_asc(question::Column::Archived)
        .order_by_asc(question::Column::Position)
        .order_by_asc(question::Column::Id);
    if !include_archived {
        query = query.filter(question::Column::Archived.eq(false));
    }
    let questions = query.all(db).await?;
    let ids: Vec<i64> = questions.iter().map(|question| question.id).collect();
    let mut options = answer_option::Entity::find()
        .filter(answer_option::Column::QuestionId.is_in(ids))
        .order_by_asc(answer_option::Column::Position)
        .order_by_asc(answer_option::Column::Id)
        .all(db)
        .await?;
    Ok(questions
        .into_iter()
        .map(|question| {
            let (mine, rest) = options
                .drain(..)
                .partition(|option| option.question_id == question.id);
            options = rest;
            QuestionView {
                question,
                options: mine,
            }
        })
        .collect())
}

/// One question with its options.
pub async fn get(db: &impl ConnectionTrait, id: i64) -> Result<QuestionView, StoreError> {
    let question = question::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| StoreError::not_found("question", id))?;
    let options = answer_option::Entity::find()
        .filter(answer_option::Column::QuestionId.eq(id))
        .order_by_asc(answer_option::Column::Position)
        .order_by_asc(answer_option::Column::Id)
        .all(db)
        .await?;
    Ok(QuestionView { question, options })
}

/// Adds a question after the last live one, with its options, in one transaction.
pub async fn add<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    new: &NewQuestion,
    now: DateTime<Utc>,
) -> Result<QuestionView, StoreError> {
    let text = non_empty("question text", &new.text)?;
    if new.options.is_empty() {
        return Err(StoreError::Invalid(
            "a question needs at least one option".into(),
        ));
    }
    let mut seen = BTreeSet::new();
    for option in &new.options {
        let option = non_empty("option text", option)?;
        if !seen.insert(option.to_lowercase()) {
            return Err(StoreError::Invalid(format!(
                "option `{option}` is given twice"
            )));
        }
    }
    let txn = begin_write(db).await?;
    let position = live_questions(&txn).await?.len() as i32 + 1;
    let question = question::ActiveModel {
        position: Set(position),
        text: Set(text),
        kind: Set(new.kind.as_str().into()),
        required: Set(new.required),
        archived: Set(false),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    for (index, option) in new.options.iter().enumerate() {
        answer_option::ActiveModel {
            question_id: Set(question.id),
            position: Set(index as i32 + 1),
            text: Set(option.trim().to_owned()),
            archived: Set(false),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
    }
    let view = get(&txn, question.id).await?;
    txn.commit().await?;
    Ok(view)
}

/// Changes a question's text, kind or requiredness.
pub async fn edit<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    id: i64,
    edit: &QuestionEdit,
) -> Result<QuestionView, StoreError> {
    let txn = begin_write(db).await?;
    let current = get(&txn, id).await?.question;
    let mut row = current.into_active_model();
    if let Some(text) = &edit.text {
        row.text = Set(non_empty("question text", text)?);
    }
    if let Some(kind) = edit.kind {
        row.kind = Set(kind.as_str().into());
    }
    if let Some(required) = edit.required {
        row.required = Set(required);
    }
    row.update(&txn).await?;
    let view = get(&txn, id).await?;
    txn.commit().await?;
    Ok(view)
}

/// Adds an option after the question's last one.
pub async fn add_option<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    question_id: i64,
    text: &str,
) -> Result<QuestionView, StoreError> {
    let text = non_empty("option text", text)?;
    let txn = begin_write(db).await?;
    let view = get(&txn, question_id).await?;
    if view.question.archived {
        return Err(StoreError::Invalid(format!(
            "question {question_id} is archived"
        )));
    }
    if view
        .options
        .iter()
        .any(|option| !option.archived && option.text.eq_ignore_ascii_case(&text))
    {
        return Err(StoreError::Invalid(format!(
            "question {question_id} already has the option `{text}`"
        )));
    }
    let position = view
        .options
        .iter()
        .map(|option| option.position)
        .max()
        .unwrap_or(0)
        + 1;
    answer_option::ActiveModel {
        question_id: Set(question_id),
        position: Set(position),
        text: Set(text),
        archived: Set(false),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let view = get(&txn, question_id).await?;
    txn.commit().await?;
    Ok(view)
}

/// Renames an option; answers keep pointing at it.
pub async fn rename_option<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    option_id: i64,
    text: &str,
) -> Result<answer_option::Model, StoreError> {
    let text = non_empty("option text", text)?;
    let txn = begin_write(db).await?;
    let option = answer_option::Entity::find_by_id(option_id)
        .one(&txn)
        .await?
        .ok_or_else(|| StoreError::not_found("option", option_id))?;
    let mut row = option.into_active_model();
    row.text = Set(text);
    let option = row.update(&txn).await?;
    txn.commit().await?;
    Ok(option)
}

/// Moves a live question to `position` (1 = asked first) and renumbers the others.
pub async fn move_to<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    id: i64,
    position: usize,
) -> Result<Vec<QuestionView>, StoreError> {
    let txn = begin_write(db).await?;
    let mut live = live_questions(&txn).await?;
    let Some(from) = live.iter().position(|question| question.id == id) else {
        get(&txn, id).await?;
        return Err(StoreError::Invalid(format!(
            "question {id} is archived and has no place in the order"
        )));
    };
    if position == 0 || position > live.len() {
        return Err(StoreError::Invalid(format!(
            "position {position} is out of range: there are {} live questions",
            live.len()
        )));
    }
    let moved = live.remove(from);
    live.insert(position - 1, moved);
    for (index, question) in live.into_iter().enumerate() {
        let wanted = index as i32 + 1;
        if question.position != wanted {
            let mut row = question.into_active_model();
            row.position = Set(wanted);
            row.update(&txn).await?;
        }
    }
    let questions = list(&txn, false).await?;
    txn.commit().await?;
    Ok(questions)
}

/// Archives a question so that shoppers are no longer asked it. Refused while a segment rule
/// uses it, unless `force`; returns the segments whose rules now refer to an archived question.
pub async fn archive_question<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    id: i64,
    force: bool,
) -> Result<Vec<SegmentRef>, StoreError> {
    let txn = begin_write(db).await?;
    let question = get(&txn, id).await?.question;
    let users = segments_using(&txn, |references| references.questions.contains(&id)).await?;
    if !users.is_empty() && !force {
        return Err(in_use(&format!("question {id}"), &users));
    }
    let mut row = question.into_active_model();
    row.archived = Set(true);
    row.update(&txn).await?;
    txn.commit().await?;
    Ok(users)
}

/// Archives one option of a question; same refusal as [`archive_question`].
pub async fn archive_option<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    option_id: i64,
    force: bool,
) -> Result<Vec<SegmentRef>, StoreError> {
    let txn = begin_write(db).await?;
    let option = answer_option::Entity::find_by_id(option_id)
        .one(&txn)
        .await?
        .ok_or_else(|| StoreError::not_found("option", option_id))?;
    let users = segments_using(&txn, |references| references.options.contains(&option_id)).await?;
    if !users.is_empty() && !force {
        return Err(in_use(&format!("option {option_id}"), &users));
    }
    let mut row = option.into_active_model();
    row.archived = Set(true);
    row.update(&txn).await?;
    txn.commit().await?;
    Ok(users)
}

/// The segments whose stored rule satisfies `uses`, by name. A rule that no longer parses is
/// skipped here: lint reports it.
pub async fn segments_using(
    db: &impl ConnectionTrait,
    uses: impl Fn(&segments::References) -> bool,
) -> Result<Vec<SegmentRef>, StoreError> {
    let rows = segment::Entity::find()
        .filter(segment::Column::Rule.is_not_null())
        .order_by_asc(segment::Column::Name)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter(|row| {
            row.rule
                .as_deref()
                .and_then(|json| segments::from_json(json).ok())
                .is_some_and(|rule| uses(&rule.references()))
        })
        .map(|row| SegmentRef {
            id: row.id,
            name: row.name,
        })
        .collect())
}

fn in_use(what: &str, users: &[SegmentRef]) -> StoreError {
    StoreError::UsedByRules {
        what: what.to_owned(),
        segments: users.iter().map(|user| user.name.clone()).collect(),
    }
}

async fn live_questions(db: &impl ConnectionTrait) -> Result<Vec<question::Model>, StoreError> {
    Ok(question::Entity::find()
        .filter(question::Column::Archived.eq(false))
        .order_by_asc(question::Column::Position)
        .order_by_asc(question::Column::Id)
        .all(db)
        .await?)
}

/// Trims `text`, refusing an empty one with a sentence naming `what`.
pub(crate) fn non_empty(what: &str, text: &str) -> Result<String, StoreError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        Err(StoreError::Invalid(format!("the {what} is empty")))
    } else {
        Ok(trimmed.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDb;

    use crate::testing::noon as now;

    fn colour() -> NewQuestion {
        NewQuestion {
            text: "Favourite colour?".into(),
            kind: QuestionKind::Single,
            required: true,
            options: vec!["Red".into(), "Blue".into()],
        }
    }

    pub(crate) async fn segment_with_rule(db: &impl ConnectionTrait, name: &str, rule: &str) {
        segment::ActiveModel {
            name: Set(name.into()),
            description: Set(String::new()),
            kind: Set("auto".into()),
            rule: Set(Some(rule.into())),
            active: Set(true),
            created_at: Set(now()),
            updated_at: Set(now()),
            ..Default::default()
        }
        .insert(db)
        .await
        .expect("segment");
    }

    #[tokio::test]
    async fn questions_are_added_in_order_with_their_options() {
        let test = TestDb::new().await.expect("test db");
        let first = add(&test.db, &colour(), now()).await.expect("first");
        let second = add(
            &test.db,
            &NewQuestion {
                text: " Size? ".into(),
                kind: QuestionKind::Multiple,
                required: false,
                options: vec!["S".into(), "M".into(), "L".into()],
            },
            now(),
        )
        .await
        .expect("second");
        assert_eq!(first.question.position, 1);
        assert_eq!(second.question.position, 2);
        assert_eq!(second.question.text, "Size?");
        assert_eq!(second.question.kind, "multiple");
        let texts: Vec<_> = second.options.iter().map(|o| o.text.as_str()).collect();
        assert_eq!(texts, ["S", "M", "L"]);
        assert_eq!(list(&test.db, false).await.expect("list").len(), 2);
    }

    #[tokio::test]
    async fn bad_questions_are_refused_and_nothing_is_written() {
        let test = TestDb::new().await.expect("test db");
        for (new, expected) in [
            (
                NewQuestion {
                    text: "  ".into(),
                    ..colour()
                },
                "the question text is empty",
            ),
            (
                NewQuestion {
                    options: vec![],
                    ..colour()
                },
                "a question needs at least one option",
            ),
            (
                NewQuestion {
                    options: vec!["Red".into(), "red".into()],
                    ..colour()
                },
                "option `red` is given twice",
            ),
        ] {
            let error = add(&test.db, &new, now()).await.expect_err("refused");
            assert_eq!(error.to_string(), expected);
        }
        assert!(list(&test.db, true).await.expect("list").is_empty());
    }

    #[tokio::test]
    async fn moving_a_question_renumbers_the_others() {
        let test = TestDb::new().await.expect("test db");
        let mut ids = Vec::new();
        for text in ["A?", "B?", "C?"] {
            let new = NewQuestion {
                text: text.into(),
                ..colour()
            };
            ids.push(add(&test.db, &new, now()).await.expect("add").question.id);
        }
        let order = move_to(&test.db, ids[2], 1).await.expect("moved");
        let texts: Vec<_> = order.iter().map(|q| q.question.text.as_str()).collect();
        assert_eq!(texts, ["C?", "A?", "B?"]);
        let positions: Vec<_> = order.iter().map(|q| q.question.position).collect();
        assert_eq!(positions, [1, 2, 3]);
        let error = move_to(&test.db, ids[0], 4).await.expect_err("too far");
        assert_eq!(
            error.to_string(),
            "position 4 is out of range: there are 3 live questions"
        );
    }

    #[tokio::test]
    async fn archiving_what_a_rule_uses_needs_force_and_names_the_segment() {
        let test = TestDb::new().await.expect("test db");
        let view = add(&test.db, &colour(), now()).await.expect("add");
        let red = view.options[0].id;
        let blue = view.options[1].id;
        let rule = format!(
            r#"{{"version":1,"rule":{{"type":"answer","question":{},"options":[{red}]}}}}"#,
            view.question.id
        );
        segment_with_rule(&test.db, "reds", &rule).await;

        let error = archive_option(&test.db, red, false)
            .await
            .expect_err("in use");
        assert_eq!(
            error.to_string(),
            format!("option {red} is used by the rule of segment `reds`")
        );
        assert!(!get(&test.db, view.question.id).await.expect("get").options[0].archived);
        // An option no rule uses goes quietly.
        assert!(
            archive_option(&test.db, blue, false)
                .await
                .expect("blue")
                .is_empty()
        );

        let error = archive_question(&test.db, view.question.id, false)
            .await
            .expect_err("in use");
        assert!(error.to_string().contains("`reds`"), "{error}");
        let users = archive_question(&test.db, view.question.id, true)
            .await
            .expect("forced");
        assert_eq!(users.len(), 1);
        assert!(
            get(&test.db, view.question.id)
                .await
                .expect("get")
                .question
                .archived
        );
        assert!(list(&test.db, false).await.expect("live").is_empty());
    }

    #[tokio::test]
    async fn editing_and_adding_options() {
        let test = TestDb::new().await.expect("test db");
        let view = add(&test.db, &colour(), now()).await.expect("add");
        let id = view.question.id;
        let edited = edit(
            &test.db,
            id,
            &QuestionEdit {
                text: Some("Colour?".into()),
                kind: Some(QuestionKind::Multiple),
                required: Some(false),
            },
        )
        .await
        .expect("edit");
        assert_eq!(edited.question.text, "Colour?");
        assert_eq!(edited.question.kind, "multiple");
        assert!(!edited.question.required);
        let grown = add_option(&test.db, id, "Green").await.expect("option");
        assert_eq!(grown.options.last().map(|o| o.position), Some(3));
        let error = add_option(&test.db, id, "green").await.expect_err("dup");
        assert_eq!(
            error.to_string(),
            format!("question {id} already has the option `green`")
        );
        let renamed = rename_option(&test.db, view.options[0].id, "Crimson")
            .await
            .expect("rename");
        assert_eq!(renamed.text, "Crimson");
    }
}
