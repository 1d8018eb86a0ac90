//! Segment definitions as the merchant edits them: name, kind, rule, window, user group.
//!
//! Rules are validated with [`crate::segments::validate`] against facts loaded here, and
//! stored as [`crate::segments::to_json`]. This module must never write membership
//! (`segment_member`, `membership_event`): recompute owns that. Deleting a segment in use lists
//! its uses and needs `force`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, TransactionSession, TransactionTrait,
};
use serde::Serialize;
use storebot_entity::{
    answer_option, coupon, coupon_segment, product, product_segment, question, recompute_run,
    segment, segment_member, variant, variant_segment,
};

use crate::segments::{self, OptionFacts, QuestionFacts, Rule, ValidationFacts};
use crate::store::membership::in_force::is_in_force;
pub use crate::store::membership::lookup::{find, find_each};
use crate::store::shoppers::questions::{SegmentRef, non_empty, segments_using};
use crate::store::{StoreError, begin_write};

/// `auto` (members follow the rule) or `manual` (the merchant picks them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SegmentKind {
    Auto,
    Manual,
}

impl SegmentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SegmentKind::Auto => "auto",
            SegmentKind::Manual => "manual",
        }
    }
}

impl std::str::FromStr for SegmentKind {
    type Err = StoreError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "auto" => Ok(SegmentKind::Auto),
            "manual" => Ok(SegmentKind::Manual),
            other => Err(StoreError::Invalid(format!(
                "segment kind `{other}` is unknown: use auto or manual"
            ))),
        }
    }
}

/// A segment as listed: with its member count and whether it grants anything now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SegmentSummary {
    #[serde(flatten)]
    pub segment: segment::Model,
    pub in_force: bool,
    pub members: u64,
    /// When the latest finished recompute run ended (runs cover every auto segment).
    pub last_recompute: Option<DateTime<Utc>>,
}

/// Everything a new segment is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentDraft {
    pub name: String,
    pub description: String,
    pub kind: SegmentKind,
    /// Required for auto segments, refused for manual ones.
    pub rule: Option<Rule>,
    pub active: bool,
    pub starts_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub user_group: Option<String>,
}

impl SegmentDraft {
    /// A manual segment named `name`: active, with no window, description or user group.
    pub fn manual(name: &str) -> Self {
        Self {
            name: name.into(),
            description: String::new(),
            kind: SegmentKind::Manual,
            rule: None,
            active: true,
            starts_at: None,
            expires_at: None,
            user_group: None,
        }
    }
}

/// Changes to a segment; `None` leaves a field alone, `Some(None)` clears an optional one. The
/// kind never changes: members mean different things in the two kinds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegmentEdit {
    pub name: Option<String>,
    pub description: Option<String>,
    pub rule: Option<Rule>,
    pub active: Option<bool>,
    pub starts_at: Option<Option<DateTime<Utc>>>,
    pub expires_at: Option<Option<DateTime<Utc>>>,
    pub user_group: Option<Option<String>>,
    /// The message a shopper gets on joining through the rule; `{count}` and `{new_items}`
    /// are filled in (see `store::messaging::outbox`).
    pub join_message: Option<Option<String>>,
}

/// Where a segment is used.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SegmentUses {
    /// Products restricted to it, by title.
    pub products: Vec<String>,
    /// Variants restricted to it, by SKU.
    pub variants: Vec<String>,
    /// Coupons tied to it, by code.
    pub coupons: Vec<String>,
    /// Product segments granted to it, by name.
    pub product_segments: Vec<String>,
    /// Other segments whose rules refer to it.
    pub rules: Vec<SegmentRef>,
}

impl SegmentUses {
    pub fn is_empty(&self) -> bool {
        self.products.is_empty()
            && self.variants.is_empty()
            && self.coupons.is_empty()
            && self.product_segments.is_empty()
            && self.rules.is_empty()
    }

    /// One sentence listing the uses.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        let quoted = |items: &[String]| {
            items
                .iter()
                .map(|item| format!("`{item}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !self.products.is_empty() {
            parts.push(format!("products {}", quoted(&self.products)));
        }
        if !self.variants.is_empty() {
            parts.push(format!("variants {}", quoted(&self.variants)));
        }
        if !self.coupons.is_empty() {
            parts.push(format!("coupons {}", quoted(&self.coupons)));
        }
        if !self.product_segments.is_empty() {
            parts.push(format!(
                "product segments {}",
                quoted(&self.product_segments)
            ));
        }
        if !self.rules.is_empty() {
            let names: Vec<String> = self.rules.iter().map(|r| r.name.clone()).collect();
            parts.push(format!("the rules of segments {}", quoted(&names)));
        }
        parts.join("; ")
    }
}

/// Every segment by name, with members, whether it is in force at `now`, and the last run.
pub async fn list(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<Vec<SegmentSummary>, StoreError> {
    let segments = segment::Entity::find()
        .order_by_asc(segment::Column::Name)
        .all(db)
        .await?;
    let counts: BTreeMap<i64, i64> = segment_member::Entity::find()
        .select_only()
        .column(segment_member::Column::SegmentId)
        .column_as(Expr::col(segment_member::Column::CustomerId).count(), "n")
        .group_by(segment_member::Column::SegmentId)
        .into_tuple::<(i64, i64)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let last_recompute = recompute_run::Entity::find()
        .filter(recompute_run::Column::FinishedAt.is_not_null())
        .order_by_desc(recompute_run::Column::FinishedAt)
        .one(db)
        .await?
        .and_then(|run| run.finished_at);
    Ok(segments
        .into_iter()
        .map(|segment| SegmentSummary {
            in_force: is_in_force(&segment, now),
            members: counts
                .get(&segment.id)
                .copied()
                .unwrap_or_default()
                .unsigned_abs(),
            last_recompute: if segment.kind == "auto" {
                last_recompute
            } else {
                None
            },
            segment,
        })
        .collect())
}

/// What validation needs to know about the store, for the segment `segment_id` (None: new).
pub async fn validation_facts(
    db: &impl ConnectionTrait,
    segment_id: Option<i64>,
) -> Result<ValidationFacts, StoreError> {
    let questions = question::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|question| {
            (
                question.id,
                QuestionFacts {
                    archived: question.archived,
                },
            )
        })
        .collect();
    let options = answer_option::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|option| {
            (
                option.id,
                OptionFacts {
                    question: option.question_id,
                    archived: option.archived,
                },
            )
        })
        .collect();
    let mut segments = BTreeMap::new();
    for row in segment::Entity::find().all(db).await? {
        // A stored rule that no longer parses can't take part in cycles we could detect.
        let rule = row
            .rule
            .as_deref()
            .and_then(|json| segments::from_json(json).ok());
        segments.insert(row.id, rule);
    }
    Ok(ValidationFacts {
        questions,
        options,
        segments,
        segment_id,
    })
}

/// Creates a segment after validating its rule.
pub async fn create<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    draft: &SegmentDraft,
    now: DateTime<Utc>,
) -> Result<segment::Model, StoreError> {
    let name = non_empty("segment name", &draft.name)?;
    check_window(draft.starts_at, draft.expires_at)?;
    let txn = begin_write(db).await?;
    if segment::Entity::find()
        .filter(segment::Column::Name.eq(name.as_str()))
        .one(&txn)
        .await?
        .is_some()
    {
        return Err(StoreError::Conflict(format!(
            "segment `{name}` already exists"
        )));
    }
    let rule = stored_rule(&txn, draft.kind, draft.rule.as_ref(), None).await?;
    let segment = segment::ActiveModel {
        name: Set(name),
        description: Set(draft.description.trim().to_owned()),
        kind: Set(draft.kind.as_str().into()),
        rule: Set(rule),
        active: Set(draft.active),
        starts_at: Set(draft.starts_at),
        expires_at: Set(draft.expires_at),
        user_group: Set(clean(draft.user_group.as_deref())),
        join_message: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(segment)
}

/// Changes a segment, validating a new rule against the rest of the store.
pub async fn edit<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    id: i64,
    edit: &SegmentEdit,
    now: DateTime<Utc>,
) -> Result<segment::Model, StoreError> {
    let txn = begin_write(db).await?;
    let current = segment::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| StoreError::not_found("segment", id))?;
    let starts_at = edit.starts_at.unwrap_or(current.starts_at);
    let expires_at = edit.expires_at.unwrap_or(current.expires_at);
    check_window(starts_at, expires_at)?;
    let kind: SegmentKind = current.kind.parse()?;
    let mut row = current.into_active_model();
    if let Some(name) = &edit.name {
        let name = non_empty("segment name", name)?;
        if segment::Entity::find()
            .filter(segment::Column::Name.eq(name.as_str()))
            .filter(segment::Column::Id.ne(id))
            .one(&txn)
            .await?
            .is_some()
        {
            return Err(StoreError::Conflict(format!(
                "segment `{name}` already exists"
            )));
        }
        row.name = Set(name);
    }
    if let Some(description) = &edit.description {
        row.description = Set(description.trim().to_owned());
    }
    if let Some(rule) = &edit.rule {
        row.rule = Set(stored_rule(&txn, kind, Some(rule), Some(id)).await?);
    }
    if let Some(active) = edit.active {
        row.active = Set(active);
    }
    row.starts_at = Set(starts_at);
    row.expires_at = Set(expires_at);
    if let Some(group) = &edit.user_group {
        row.user_group = Set(clean(group.as_deref()));
    }
    if let Some(message) = &edit.join_message {
        let message = clean(message.as_deref());
        if let Some(text) = &message
            && text.chars().count() > crate::limits::MAX_MESSAGE_LENGTH
        {
            return Err(StoreError::Invalid(format!(
                "a join message is one Telegram message of at most {} characters",
                crate::limits::MAX_MESSAGE_LENGTH
            )));
        }
        row.join_message = Set(message);
    }
    row.updated_at = Set(now);
    let segment = row.update(&txn).await?;
    txn.commit().await?;
    Ok(segment)
}

/// Where the segment is used: product and variant grants, coupons, other segments' rules.
pub async fn uses(db: &impl ConnectionTrait, id: i64) -> Result<SegmentUses, StoreError> {
    let product_ids: Vec<i64> = product_segment::Entity::find()
        .filter(product_segment::Column::SegmentId.eq(id))
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.product_id)
        .collect();
    let products = product::Entity::find()
        .filter(product::Column::Id.is_in(product_ids))
        .order_by_asc(product::Column::Title)
        .all(db)
        .await?
        .into_iter()
        .map(|product| product.title)
        .collect();
    let variant_ids: Vec<i64> = variant_segment::Entity::find()
        .filter(variant_segment::Column::SegmentId.eq(id))
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.variant_id)
        .collect();
    let variants = variant::Entity::find()
        .filter(variant::Column::Id.is_in(variant_ids))
        .order_by_asc(variant::Column::Sku)
        .all(db)
        .await?
        .into_iter()
        .map(|variant| variant.sku)
        .collect();
    let coupon_ids: Vec<i64> = coupon_segment::Entity::find()
        .filter(coupon_segment::Column::SegmentId.eq(id))
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.coupon_id)
        .collect();
    let coupons = coupon::Entity::find()
        .filter(coupon::Column::Id.is_in(coupon_ids))
        .order_by_asc(coupon::Column::Code)
        .all(db)
        .await?
        .into_iter()
        .map(|coupon| coupon.code)
        .collect();
    let rules = segments_using(db, |references| references.segments.contains(&id))
        .await?
        .into_iter()
        .filter(|user| user.id != id)
        .collect();
    let product_segments =
        crate::store::catalog::product_segments::granted_to_segment(db, id).await?;
    Ok(SegmentUses {
        products,
        variants,
        coupons,
        product_segments,
        rules,
    })
}

/// Deletes a segment. When it is in use, refuses unless `force`, and then removes the grants
/// along with it (a product restricted only to it is then restricted to nobody). Rules of
/// other segments that refer to it are never left dangling: that is refused even with force.
pub async fn delete<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    id: i64,
    force: bool,
) -> Result<SegmentUses, StoreError> {
    let txn = begin_write(db).await?;
    let segment = segment::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| StoreError::not_found("segment", id))?;
    let uses = uses(&txn, id).await?;
    if !uses.rules.is_empty() {
        return Err(StoreError::Conflict(format!(
            "segment `{}` is used by {}: change those rules first",
            segment.name,
            uses.describe()
        )));
    }
    if !uses.is_empty() && !force {
        return Err(StoreError::Conflict(format!(
            "segment `{}` is used by {}: delete it anyway with --force",
            segment.name,
            uses.describe()
        )));
    }
    segment::Entity::delete_by_id(id).exec(&txn).await?;
    txn.commit().await?;
    Ok(uses)
}

async fn stored_rule(
    db: &impl ConnectionTrait,
    kind: SegmentKind,
    rule: Option<&Rule>,
    segment_id: Option<i64>,
) -> Result<Option<String>, StoreError> {
    match (kind, rule) {
        (SegmentKind::Manual, None) => Ok(None),
        (SegmentKind::Manual, Some(_)) => Err(StoreError::Invalid(
            "a manual segment has no rule: its members are added by hand".into(),
        )),
        (SegmentKind::Auto, None) => {
            Err(StoreError::Invalid("an auto segment needs a rule".into()))
        }
        (SegmentKind::Auto, Some(rule)) => {
            let facts = validation_facts(db, segment_id).await?;
            segments::validate(rule, &facts)
                .map_err(|error| StoreError::Invalid(format!("the rule is refused: {error}")))?;
            segments::to_json(rule)
                .map(Some)
                .map_err(|error| StoreError::Invalid(error.to_string()))
        }
    }
}

fn check_window(
    starts_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    match (starts_at, expires_at) {
        (Some(start), Some(end)) if end <= start => Err(StoreError::Invalid(format!(
            "the segment would expire ({end}) before it starts ({start})"
        ))),
        _ => Ok(()),
    }
}

fn clean(text: Option<&str>) -> Option<String> {
    text.map(str::trim)
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::catalog::availability::{self, Audience};
    use crate::store::catalog::editing::variant_by_sku;
    use crate::store::catalog::import::import;
    use crate::store::catalog::import::tests::{now, row};
    use crate::store::shoppers::questions::{self, NewQuestion, QuestionKind};
    use crate::testing::TestDb;

    fn draft(name: &str, kind: SegmentKind, rule: Option<Rule>) -> SegmentDraft {
        SegmentDraft {
            name: name.into(),
            description: String::new(),
            kind,
            rule,
            active: true,
            starts_at: None,
            expires_at: None,
            user_group: None,
        }
    }

    fn member_of(segment: i64) -> Rule {
        Rule::Segment {
            segment,
            member: true,
        }
    }

    #[tokio::test]
    async fn segments_are_created_validated_and_listed() {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        let question = questions::add(
            db,
            &NewQuestion {
                text: "Pets?".into(),
                kind: QuestionKind::Single,
                required: true,
                options: vec!["Cat".into(), "Dog".into()],
            },
            now(),
        )
        .await
        .expect("question");
        let cats = Rule::Answer {
            question: question.question.id,
            options: [question.options[0].id].into(),
        };
        let auto = create(
            db,
            &draft("cat people", SegmentKind::Auto, Some(cats)),
            now(),
        )
        .await
        .expect("auto");
        assert!(
            auto.rule
                .as_deref()
                .is_some_and(|r| r.contains("\"answer\""))
        );
        let manual = create(db, &draft("friends", SegmentKind::Manual, None), now())
            .await
            .expect("manual");
        for (bad, expected) in [
            (
                draft("x", SegmentKind::Auto, None),
                "an auto segment needs a rule".to_owned(),
            ),
            (
                draft("friends", SegmentKind::Manual, None),
                "segment `friends` already exists".to_owned(),
            ),
            (
                draft("y", SegmentKind::Auto, Some(member_of(999))),
                "the rule is refused: rule: segment 999 does not exist".to_owned(),
            ),
            (
                draft("z", SegmentKind::Manual, Some(member_of(manual.id))),
                "a manual segment has no rule: its members are added by hand".to_owned(),
            ),
        ] {
            let error = create(db, &bad, now()).await.expect_err("refused");
            assert_eq!(error.to_string(), expected);
        }
        let listed = list(db, now()).await.expect("list");
        let names: Vec<_> = listed.iter().map(|s| s.segment.name.as_str()).collect();
        assert_eq!(names, ["cat people", "friends"]);
        assert!(listed.iter().all(|s| s.in_force && s.members == 0));
        assert_eq!(find(db, "friends").await.expect("by name").id, manual.id);
        assert_eq!(
            find(db, &auto.id.to_string()).await.expect("by id").id,
            auto.id
        );
    }

    #[tokio::test]
    async fn a_cycle_is_refused_on_edit() {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        let base = create(db, &draft("base", SegmentKind::Manual, None), now())
            .await
            .expect("base");
        let a = create(
            db,
            &draft("a", SegmentKind::Auto, Some(member_of(base.id))),
            now(),
        )
        .await
        .expect("a");
        let b = create(
            db,
            &draft("b", SegmentKind::Auto, Some(member_of(a.id))),
            now(),
        )
        .await
        .expect("b");
        let error = edit(
            db,
            a.id,
            &SegmentEdit {
                rule: Some(member_of(b.id)),
                ..Default::default()
            },
            now(),
        )
        .await
        .expect_err("cycle");
        assert!(error.to_string().contains("cycle"), "{error}");
        let edited = edit(
            db,
            a.id,
            &SegmentEdit {
                name: Some("alpha".into()),
                active: Some(false),
                ..Default::default()
            },
            now(),
        )
        .await
        .expect("edit");
        assert_eq!(edited.name, "alpha");
        assert!(!is_in_force(&edited, now()));
    }

    #[tokio::test]
    async fn deleting_a_segment_in_use_lists_the_uses_and_needs_force() {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        import(db, &[row(2, "T-1", "Tea", 100)], now())
            .await
            .expect("import");
        let product_id = variant_by_sku(db, "T-1").await.expect("sku").product_id;
        let vip = create(db, &draft("vip", SegmentKind::Manual, None), now())
            .await
            .expect("vip");
        availability::set_product(db, product_id, &Audience::Segments([vip.id].into()))
            .await
            .expect("restrict");
        let error = delete(db, vip.id, false).await.expect_err("in use");
        assert_eq!(
            error.to_string(),
            "segment `vip` is used by products `Tea`: delete it anyway with --force"
        );
        let fans = create(
            db,
            &draft("fans", SegmentKind::Auto, Some(member_of(vip.id))),
            now(),
        )
        .await
        .expect("fans");
        let error = delete(db, vip.id, true).await.expect_err("rule uses it");
        assert!(
            error.to_string().contains("change those rules first"),
            "{error}"
        );
        delete(db, fans.id, false).await.expect("unused");
        let uses = delete(db, vip.id, true).await.expect("forced");
        assert_eq!(uses.products, ["Tea"]);
        assert!(list(db, now()).await.expect("list").is_empty());
    }
}
