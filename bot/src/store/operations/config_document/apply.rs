//! The document applied: the database made to match it, in the caller's transaction (a dry run
//! rolls it back), each change said in one line.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, TransactionSession,
    TransactionTrait,
};
use serde_json::Value;
use storebot_entity::{product, segment};

use super::catalog::{apply_availability, apply_images, apply_product_segments};
use super::document::*;
use super::names::Names;
use super::progress::{ApplyProgress, Tally};
use crate::segments::{self, language};
use crate::store::membership::definitions::{self, SegmentDraft, SegmentEdit, SegmentKind};
use crate::store::membership::names::rule_names;
use crate::store::orders::coupons::{self};
use crate::store::shoppers::questions::{self, NewQuestion, QuestionEdit, QuestionKind};
use crate::store::{StoreError, begin_write};

/// Makes the database match `config` in one transaction and returns one line per change; with
/// `dry_run` the transaction is rolled back instead, so nothing changes.
pub async fn apply<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    config: &StoreConfig,
    currency: &str,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<Vec<String>, StoreError> {
    apply_with_progress(db, config, currency, now, dry_run, &mut |_| {}).await
}

/// [`apply`], telling `on_progress` how many of the document's items are done (for a progress
/// bar; the transaction commits, or rolls back, only after the last).
pub async fn apply_with_progress<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    config: &StoreConfig,
    currency: &str,
    now: DateTime<Utc>,
    dry_run: bool,
    on_progress: &mut (dyn FnMut(ApplyProgress) + Send),
) -> Result<Vec<String>, StoreError> {
    let txn = begin_write(db).await?;
    let changes = apply_in(&txn, config, currency, now, on_progress).await?;
    if dry_run {
        txn.rollback().await?;
    } else {
        txn.commit().await?;
    }
    Ok(changes)
}

async fn apply_in<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    config: &StoreConfig,
    currency: &str,
    now: DateTime<Utc>,
    on_progress: &mut (dyn FnMut(ApplyProgress) + Send),
) -> Result<Vec<String>, StoreError> {
    // Availability goes through every product of the catalog, listed or not.
    let products = match &config.availability {
        Some(_) => usize::try_from(product::Entity::find().count(db).await?).unwrap_or(usize::MAX),
        None => 0,
    };
    let items = config.questions.as_ref().map_or(0, Vec::len)
        + config.segments.as_ref().map_or(0, Vec::len)
        + config.product_segments.as_ref().map_or(0, Vec::len)
        + config.coupons.as_ref().map_or(0, Vec::len)
        + config.images.as_ref().map_or(0, Vec::len);
    let tally = &mut Tally::new(items.saturating_add(products), on_progress);
    let mut changes = Vec::new();
    apply_questions(db, config, now, &mut changes, tally).await?;
    apply_segments(db, config, currency, now, &mut changes, tally).await?;
    apply_product_segments(db, config, now, &mut changes, tally).await?;
    apply_coupons(db, config, now, &mut changes, tally).await?;
    apply_images(db, config, now, &mut changes, tally).await?;
    apply_availability(db, config, &mut changes, tally).await?;
    Ok(changes)
}

/// Questions, matched by text: added, changed, reordered as in the file; one missing from the
/// file archived unless a rule uses it.
async fn apply_questions<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    config: &StoreConfig,
    now: DateTime<Utc>,
    changes: &mut Vec<String>,
    tally: &mut Tally<'_>,
) -> Result<(), StoreError> {
    let mut seen_texts = BTreeSet::new();
    let no_questions = Vec::new();
    let wanted_questions = config.questions.as_ref().unwrap_or(&no_questions);
    for (index, wanted) in wanted_questions.iter().enumerate() {
        let kind: QuestionKind = wanted.kind.parse()?;
        if !seen_texts.insert(wanted.text.trim().to_owned()) {
            return Err(StoreError::Invalid(format!(
                "question `{}` is in the file twice",
                wanted.text.trim()
            )));
        }
        let live = questions::list(db, false).await?;
        let current = live
            .iter()
            .find(|view| view.question.text == wanted.text.trim());
        let id = match current {
            None => {
                let view = questions::add(
                    db,
                    &NewQuestion {
                        text: wanted.text.clone(),
                        kind,
                        required: wanted.required,
                        options: wanted.options.clone(),
                    },
                    now,
                )
                .await?;
                changes.push(format!("add question `{}`", view.question.text));
                view.question.id
            }
            Some(view) => {
                let id = view.question.id;
                if view.question.kind != kind.as_str() || view.question.required != wanted.required
                {
                    questions::edit(
                        db,
                        id,
                        &QuestionEdit {
                            text: None,
                            kind: Some(kind),
                            required: Some(wanted.required),
                        },
                    )
                    .await?;
                    changes.push(format!(
                        "change question `{}` to {}, {}",
                        view.question.text,
                        kind.as_str(),
                        if wanted.required {
                            "required"
                        } else {
                            "optional"
                        }
                    ));
                }
                for option in &wanted.options {
                    if !view
                        .options
                        .iter()
                        .any(|o| !o.archived && o.text == option.trim())
                    {
                        questions::add_option(db, id, option).await?;
                        changes.push(format!("add option `{option}` to `{}`", view.question.text));
                    }
                }
                for option in view.options.iter().filter(|o| !o.archived) {
                    if !wanted.options.iter().any(|text| text.trim() == option.text) {
                        questions::archive_option(db, option.id, false)
                            .await
                            .map_err(keep_in_file)?;
                        changes.push(format!(
                            "archive option `{}` of `{}`",
                            option.text, view.question.text
                        ));
                    }
                }
                id
            }
        };
        let position = index + 1;
        let order = questions::list(db, false).await?;
        if order.iter().position(|view| view.question.id == id) != Some(index) {
            questions::move_to(db, id, position).await?;
            changes.push(format!(
                "move question `{}` to position {position}",
                wanted.text.trim()
            ));
        }
        tally.step("questions");
    }
    for view in questions::list(db, false).await? {
        if config.questions.is_some() && !seen_texts.contains(&view.question.text) {
            questions::archive_question(db, view.question.id, false)
                .await
                .map_err(keep_in_file)?;
            changes.push(format!("archive question `{}`", view.question.text));
        }
    }

    Ok(())
}

/// Segments, matched by name, in file order (a rule may name segments defined above it).
async fn apply_segments<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    config: &StoreConfig,
    currency: &str,
    now: DateTime<Utc>,
    changes: &mut Vec<String>,
    tally: &mut Tally<'_>,
) -> Result<(), StoreError> {
    for wanted in config.segments.iter().flatten() {
        let kind: SegmentKind = wanted.kind.parse()?;
        let names = Names::load(db).await?;
        let rule = match &wanted.rule {
            Some(Value::String(text)) => {
                let names = rule_names(db, currency).await?;
                Some(language::parse(text, &names).map_err(|error| {
                    StoreError::Invalid(format!("segment `{}`: {}", wanted.name, error.show(text)))
                })?)
            }
            Some(value) => {
                let mut value = value.clone();
                names.rule_to_ids(&mut value).map_err(|error| {
                    StoreError::Invalid(format!("segment `{}`: {error}", wanted.name))
                })?;
                let stored =
                    serde_json::json!({ "version": segments::RULE_FORMAT_VERSION, "rule": value });
                Some(segments::from_json(&stored.to_string()).map_err(|error| {
                    StoreError::Invalid(format!("segment `{}`: {error}", wanted.name))
                })?)
            }
            None => None,
        };
        let existing = segment::Entity::find()
            .filter(segment::Column::Name.eq(wanted.name.trim()))
            .one(db)
            .await?;
        match existing {
            None => {
                definitions::create(
                    db,
                    &SegmentDraft {
                        name: wanted.name.clone(),
                        description: wanted.description.clone(),
                        kind,
                        rule,
                        active: wanted.active,
                        starts_at: wanted.starts_at,
                        expires_at: wanted.expires_at,
                        user_group: wanted.user_group.clone(),
                    },
                    now,
                )
                .await?;
                changes.push(format!(
                    "create {} segment `{}`",
                    kind.as_str(),
                    wanted.name.trim()
                ));
            }
            Some(current) => {
                if current.kind != kind.as_str() {
                    return Err(StoreError::Invalid(format!(
                        "segment `{}` is {} in the database and {} in the file: a segment's kind never changes",
                        current.name,
                        current.kind,
                        kind.as_str()
                    )));
                }
                let stored_rule = current
                    .rule
                    .as_deref()
                    .and_then(|json| segments::from_json(json).ok());
                let mut edit = SegmentEdit::default();
                let mut what = Vec::new();
                if current.description != wanted.description.trim() {
                    edit.description = Some(wanted.description.clone());
                    what.push("description");
                }
                let mut rule_change = None;
                if let Some(wanted_rule) = &rule
                    && stored_rule.as_ref() != Some(wanted_rule)
                {
                    edit.rule = rule.clone();
                    let names = rule_names(db, currency).await?;
                    let before = stored_rule
                        .as_ref()
                        .map_or_else(|| "(none)".to_owned(), |old| language::to_text(old, &names));
                    rule_change = Some(format!(
                        "rule: {before} → {}",
                        language::to_text(wanted_rule, &names)
                    ));
                    what.push("rule");
                }
                if current.active != wanted.active {
                    edit.active = Some(wanted.active);
                    what.push("active");
                }
                if current.starts_at != wanted.starts_at {
                    edit.starts_at = Some(wanted.starts_at);
                    what.push("start");
                }
                if current.expires_at != wanted.expires_at {
                    edit.expires_at = Some(wanted.expires_at);
                    what.push("expiry");
                }
                if current.user_group != wanted.user_group {
                    edit.user_group = Some(wanted.user_group.clone());
                    what.push("user group");
                }
                if !what.is_empty() {
                    definitions::edit(db, current.id, &edit, now).await?;
                    changes.push(format!(
                        "change segment `{}`: {}{}",
                        current.name,
                        what.join(", "),
                        rule_change.map_or_else(String::new, |change| format!(" ({change})"))
                    ));
                }
            }
        }
        tally.step("segments");
    }

    Ok(())
}

/// Coupons, matched by code, after the segments they are tied to.
async fn apply_coupons<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    config: &StoreConfig,
    now: DateTime<Utc>,
    changes: &mut Vec<String>,
    tally: &mut Tally<'_>,
) -> Result<(), StoreError> {
    let Some(wanted_list) = &config.coupons else {
        return Ok(());
    };
    let existing: BTreeMap<String, CouponConfig> = coupons::list(db)
        .await?
        .into_iter()
        .map(|view| (view.coupon.code.clone(), CouponConfig::from_view(view)))
        .collect();
    let mut seen = BTreeSet::new();
    for wanted in wanted_list {
        let new = wanted.to_new()?;
        // The store's refusals name no coupon; in a file of many, say which one.
        let in_context = |error: StoreError| match error {
            StoreError::Invalid(_) | StoreError::NotFound { .. } => {
                StoreError::Invalid(format!("coupon `{}`: {error}", wanted.code))
            }
            other => other,
        };
        let code = crate::coupons::CouponCode::parse(&wanted.code)
            .map_err(|error| StoreError::Invalid(format!("coupon `{}`: {error}", wanted.code)))?
            .to_string();
        if !seen.insert(code.clone()) {
            return Err(StoreError::Invalid(format!(
                "coupon `{code}` is in the file twice"
            )));
        }
        match existing.get(&code) {
            None => {
                let created = coupons::create(db, &new, now).await.map_err(in_context)?;
                if !wanted.active {
                    coupons::disable(db, &created.coupon.code).await?;
                }
                changes.push(format!("add coupon `{code}`"));
            }
            Some(current) => {
                let mut normalised = wanted.clone();
                normalised.code = code.clone();
                normalised.segments = segment_names(db, &wanted.segments)
                    .await
                    .map_err(in_context)?;
                normalised.user_groups = sorted(
                    wanted
                        .user_groups
                        .iter()
                        .map(|group| group.trim().to_owned()),
                );
                if &normalised != current {
                    coupons::replace(db, &new, wanted.active)
                        .await
                        .map_err(in_context)?;
                    changes.push(format!("change coupon `{code}`"));
                }
            }
        }
        tally.step("coupons");
    }
    for code in existing.keys().filter(|code| !seen.contains(*code)) {
        changes.push(format!(
            "keep coupon `{code}` (not in the file; switch it off with storebot-admin coupons disable)"
        ));
    }
    Ok(())
}

/// The names of the segments named (or numbered) in `keys`, sorted and without repeats.
async fn segment_names(
    db: &impl ConnectionTrait,
    keys: &[String],
) -> Result<Vec<String>, StoreError> {
    let found = definitions::find_each(db, keys).await?;
    Ok(sorted(found.into_iter().map(|segment| segment.name)))
}

/// A file that drops a question or option a segment rule still uses is refused: the rule
/// would silently stop matching anyone.
fn keep_in_file(error: StoreError) -> StoreError {
    match error {
        used @ StoreError::UsedByRules { .. } => StoreError::Conflict(format!(
            "{used}: keep it in the file, or change that rule first"
        )),
        other => other,
    }
}
