//! The store's configuration as one document, for version control: questions, segments (with
//! rules written by name, not by database id), catalog availability and product segments
//! (categories and granted segments by name). `export` reads it from
//! the database; `apply` makes the database match it in one transaction, and a dry run is the
//! same apply rolled back, so the diff it prints is exactly what a real apply would do.
//!
//! Apply adds and updates; it never deletes. Questions and options missing from the document
//! are archived only when they are not used by a rule; segments missing from it are kept and
//! reported. This module must never write membership.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, TransactionSession,
    TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use storebot_entity::{product, segment, variant};

use crate::coupons::Discount;
use crate::segments::{self, language};
use crate::store::catalog::availability::{self, Audience};
use crate::store::membership::definitions::{self, SegmentDraft, SegmentEdit, SegmentKind};
use crate::store::membership::names::rule_names;
use crate::store::orders::coupons::{self, CouponView, NewCoupon};
use crate::store::shoppers::questions::{self, NewQuestion, QuestionEdit, QuestionKind};
use crate::store::{StoreError, begin_write};

/// The whole document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Absent: apply leaves questions alone. Present: apply makes them match, archiving
    /// those missing from the list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub questions: Option<Vec<QuestionConfig>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segments: Option<Vec<SegmentConfig>>,
    /// Absent: apply leaves availability alone. Present: products not listed are opened to
    /// all segments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability: Option<Vec<ProductAvailability>>,
    /// Absent: apply leaves product segments alone. Present: each listed one is created or
    /// updated by name and its grants made to match; unlisted ones are kept and reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_segments: Option<Vec<ProductSegmentConfig>>,
    /// Absent: apply leaves coupons alone. Present: each listed one is created or rewritten
    /// by code; unlisted ones are kept and reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coupons: Option<Vec<CouponConfig>>,
    /// Absent: apply leaves photos alone. Present: each entry sets the photo of a product
    /// (by title) or a variant (by SKU); photos not listed are kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<ImageConfig>>,
}

/// One photo: of `product` (a title) or of the variant `sku`, exactly one of them. `image`
/// is an `https://` URL or a JPEG/PNG path (relative to the directory apply runs in), or
/// `none` to remove it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    pub image: String,
}

/// A coupon's settings, with its segments named. Its usage (how often it was redeemed) is
/// history, not a setting, so it is neither exported nor applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CouponConfig {
    pub code: String,
    /// Whole percent off each covered line (1–100); give this or `amount_off`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<i64>,
    /// Minor units off the covered lines in all; give this or `percent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_off: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_limit: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_customer_limit: Option<i32>,
    #[serde(default = "yes")]
    pub active: bool,
    /// Segment names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_groups: Vec<String>,
}

impl CouponConfig {
    fn from_view(view: CouponView) -> Self {
        let coupon = view.coupon;
        let discount = Discount::from_stored(&coupon.kind, coupon.amount);
        Self {
            percent: matches!(discount, Some(Discount::Percent(_))).then_some(coupon.amount),
            amount_off: matches!(discount, Some(Discount::Fixed(_))).then_some(coupon.amount),
            code: coupon.code,
            starts_at: coupon.starts_at,
            ends_at: coupon.ends_at,
            usage_limit: coupon.usage_limit,
            per_customer_limit: coupon.per_customer_limit,
            active: coupon.active,
            segments: sorted(view.segments.into_iter().map(|s| s.name)),
            user_groups: sorted(view.user_groups),
        }
    }

    fn to_new(&self) -> Result<NewCoupon, StoreError> {
        let invalid = |why: String| StoreError::Invalid(format!("coupon `{}`: {why}", self.code));
        let discount = match (self.percent, self.amount_off) {
            (Some(percent), None) => Discount::percent(percent),
            (None, Some(minor)) => Discount::fixed(minor),
            _ => return Err(invalid("give either `percent` or `amount_off`".into())),
        }
        .map_err(|error| invalid(error.to_string()))?;
        Ok(NewCoupon {
            code: self.code.clone(),
            discount,
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            usage_limit: self.usage_limit,
            per_customer_limit: self.per_customer_limit,
            segments: self.segments.clone(),
            user_groups: self.user_groups.clone(),
        })
    }
}

/// A product segment with categories and customer segments named, so the file applies to
/// another database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductSegmentConfig {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Category names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub brands: Vec<String>,
    /// Minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_min: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_max: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contains: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub in_stock: bool,
    /// Customer segments granted it, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub granted_to: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuestionConfig {
    pub text: String,
    /// `single` or `multiple`.
    pub kind: String,
    pub required: bool,
    pub options: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentConfig {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// `auto` or `manual`.
    pub kind: String,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_group: Option<String>,
    /// The rule in the rule language (`order count >= 1 and in segment "VIP"`), as export
    /// writes it; or, as older files have it, the tree in the stored format with questions and
    /// options named by their text, segments by name, variants by SKU and products by title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<Value>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductAvailability {
    /// The product's title.
    pub product: String,
    /// Segment names, or absent for all segments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segments: Option<Vec<String>>,
    /// Per-variant audiences; present means by-variant mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variants: Option<Vec<VariantAvailability>>,
}

/// One variant's audience: segment names, or absent for all segments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantAvailability {
    pub sku: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segments: Option<Vec<String>>,
}

/// Reads the configuration out of the database.
pub async fn export(db: &impl ConnectionTrait, currency: &str) -> Result<StoreConfig, StoreError> {
    let rule_names = rule_names(db, currency).await?;
    let questions = questions::list(db, false)
        .await?
        .into_iter()
        .map(|view| QuestionConfig {
            text: view.question.text,
            kind: view.question.kind,
            required: view.question.required,
            options: view
                .options
                .into_iter()
                .filter(|option| !option.archived)
                .map(|option| option.text)
                .collect(),
        })
        .collect();
    let mut segments_out = Vec::new();
    for row in segment::Entity::find()
        .order_by_asc(segment::Column::Id)
        .all(db)
        .await?
    {
        // The rule in words, as the dashboard shows it; `apply` reads it back.
        let rule = match &row.rule {
            Some(json) => {
                let rule = segments::from_json(json).map_err(|error| {
                    StoreError::Invalid(format!("segment `{}`: {error}", row.name))
                })?;
                Some(Value::String(language::to_text(&rule, &rule_names)))
            }
            None => None,
        };
        segments_out.push(SegmentConfig {
            name: row.name,
            description: row.description,
            kind: row.kind,
            active: row.active,
            starts_at: row.starts_at,
            expires_at: row.expires_at,
            user_group: row.user_group,
            rule,
        });
    }
    let mut availability_out = Vec::new();
    for product in product::Entity::find()
        .order_by_asc(product::Column::Title)
        .all(db)
        .await?
    {
        let current = availability::of_product(db, product.id).await?;
        let name_list = |audience: &Audience| match audience {
            Audience::AllSegments => None,
            Audience::Segments(ids) => {
                let mut names: Vec<String> = ids
                    .iter()
                    .filter_map(|id| current.segment_names.get(id).cloned())
                    .collect();
                names.sort();
                Some(names)
            }
        };
        let segments = name_list(&current.audience);
        let variants = current.by_variant.then(|| {
            current
                .variants
                .iter()
                .map(|variant| VariantAvailability {
                    sku: variant.sku.clone(),
                    segments: name_list(&variant.audience),
                })
                .collect()
        });
        // Products open to everybody are the default; leaving them out keeps the file short.
        if segments.is_some() || variants.is_some() {
            availability_out.push(ProductAvailability {
                product: product.title,
                segments,
                variants,
            });
        }
    }
    let categories: BTreeMap<i64, String> = storebot_entity::category::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|row| (row.id, row.name))
        .collect();
    let mut product_segments_out = Vec::new();
    for segment in crate::store::catalog::product_segments::list(db).await? {
        let rule = segment.rule;
        product_segments_out.push(ProductSegmentConfig {
            name: segment.name,
            description: segment.description,
            categories: rule
                .categories
                .iter()
                .map(|id| categories.get(id).cloned().ok_or_else(|| missing(*id)))
                .collect::<Result<_, _>>()?,
            brands: rule.brands,
            price_min: rule.price_min,
            price_max: rule.price_max,
            contains: rule.contains,
            in_stock: rule.in_stock,
            granted_to: segment.uses,
        });
    }
    let coupons_out: Vec<CouponConfig> = coupons::list(db)
        .await?
        .into_iter()
        .map(CouponConfig::from_view)
        .collect();
    Ok(StoreConfig {
        questions: Some(questions),
        segments: Some(segments_out),
        availability: Some(availability_out),
        // Left out when there are none, so files of shops without them stay as they were.
        product_segments: (!product_segments_out.is_empty()).then_some(product_segments_out),
        coupons: (!coupons_out.is_empty()).then_some(coupons_out),
        images: export_images(db).await?,
    })
}

/// Every product's and variant's photo as stored, products by title first; `None` when there
/// are none, so files of shops without photos stay as they were.
async fn export_images(db: &impl ConnectionTrait) -> Result<Option<Vec<ImageConfig>>, StoreError> {
    let mut images = Vec::new();
    for product in product::Entity::find()
        .filter(product::Column::Image.is_not_null())
        .order_by_asc(product::Column::Title)
        .all(db)
        .await?
    {
        images.push(ImageConfig {
            product: Some(product.title),
            sku: None,
            image: product.image.unwrap_or_default(),
        });
    }
    for variant in variant::Entity::find()
        .filter(variant::Column::Image.is_not_null())
        .order_by_asc(variant::Column::Sku)
        .all(db)
        .await?
    {
        images.push(ImageConfig {
            product: None,
            sku: Some(variant.sku),
            image: variant.image.unwrap_or_default(),
        });
    }
    Ok((!images.is_empty()).then_some(images))
}

/// Sets the listed photos; an entry naming nothing that exists, or an image that is neither
/// an `https://` URL nor a readable JPEG/PNG, refuses the whole apply.
async fn apply_images(
    db: &impl ConnectionTrait,
    config: &StoreConfig,
    now: DateTime<Utc>,
    changes: &mut Vec<String>,
) -> Result<(), StoreError> {
    use crate::store::catalog::images;
    for entry in config.images.iter().flatten() {
        let wanted = images::check_source(&entry.image, std::path::Path::new("."))?;
        match (&entry.product, &entry.sku) {
            (Some(title), None) => {
                let product = product::Entity::find()
                    .filter(product::Column::Title.eq(title.trim()))
                    .one(db)
                    .await?
                    .ok_or_else(|| {
                        StoreError::Invalid(format!(
                            "images names the product `{title}`, which does not exist"
                        ))
                    })?;
                if product.image != wanted {
                    images::set_product_image(db, product.id, wanted, now).await?;
                    changes.push(format!("set the photo of `{title}`"));
                }
            }
            (None, Some(sku)) => {
                let variant = variant::Entity::find()
                    .filter(variant::Column::Sku.eq(sku.trim()))
                    .one(db)
                    .await?
                    .ok_or_else(|| {
                        StoreError::Invalid(format!(
                            "images names the variant `{sku}`, which does not exist"
                        ))
                    })?;
                if variant.image != wanted {
                    images::set_variant_image(db, sku.trim(), wanted).await?;
                    changes.push(format!("set the photo of variant `{sku}`"));
                }
            }
            _ => {
                return Err(StoreError::Invalid(format!(
                    "an images entry names both or neither of `product` and `sku` (image `{}`)",
                    entry.image
                )));
            }
        }
    }
    Ok(())
}

/// Makes the database match `config` in one transaction and returns one line per change; with
/// `dry_run` the transaction is rolled back instead, so nothing changes.
pub async fn apply<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    config: &StoreConfig,
    currency: &str,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<Vec<String>, StoreError> {
    let txn = begin_write(db).await?;
    let changes = apply_in(&txn, config, currency, now).await?;
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
) -> Result<Vec<String>, StoreError> {
    let mut changes = Vec::new();
    // Questions, matched by text.
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
    }
    for view in questions::list(db, false).await? {
        if config.questions.is_some() && !seen_texts.contains(&view.question.text) {
            questions::archive_question(db, view.question.id, false)
                .await
                .map_err(keep_in_file)?;
            changes.push(format!("archive question `{}`", view.question.text));
        }
    }

    // Segments, matched by name, in file order (a rule may name segments defined above it).
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
    }

    apply_product_segments(db, config, now, &mut changes).await?;
    apply_coupons(db, config, now, &mut changes).await?;
    apply_images(db, config, now, &mut changes).await?;
    // Availability, by product title; products not listed are open to all segments.
    let Some(wanted_availability) = &config.availability else {
        return Ok(changes);
    };
    let names = Names::load(db).await?;
    let listed: BTreeMap<&str, &ProductAvailability> = wanted_availability
        .iter()
        .map(|entry| (entry.product.trim(), entry))
        .collect();
    for product in product::Entity::find()
        .order_by_asc(product::Column::Title)
        .all(db)
        .await?
    {
        let current = availability::of_product(db, product.id).await?;
        let entry = listed.get(product.title.as_str());
        let wanted_product = names.audience(entry.and_then(|e| e.segments.as_ref()))?;
        let wanted_variants = entry.and_then(|e| e.variants.as_ref());
        if current.by_variant != wanted_variants.is_some() {
            availability::set_by_variant(db, product.id, wanted_variants.is_some()).await?;
            changes.push(format!(
                "turn by-variant {} for `{}`",
                if wanted_variants.is_some() {
                    "on"
                } else {
                    "off"
                },
                product.title
            ));
        }
        if current.audience != wanted_product {
            availability::set_product(db, product.id, &wanted_product).await?;
            changes.push(format!("set who may see `{}`", product.title));
        }
        if let Some(variants) = wanted_variants {
            let now_current = availability::of_product(db, product.id).await?;
            for VariantAvailability { sku, segments } in variants {
                let Some(variant) = now_current.variants.iter().find(|v| &v.sku == sku) else {
                    return Err(StoreError::Invalid(format!(
                        "availability of `{}`: it has no variant `{sku}`",
                        product.title
                    )));
                };
                let audience = names.audience(segments.as_ref())?;
                if variant.audience != audience {
                    availability::set_variant(db, variant.variant_id, &audience).await?;
                    changes.push(format!("set who may see variant `{sku}`"));
                }
            }
        }
    }
    for title in listed.keys() {
        if product::Entity::find()
            .filter(product::Column::Title.eq(*title))
            .one(db)
            .await?
            .is_none()
        {
            return Err(StoreError::Invalid(format!(
                "availability names the product `{title}`, which does not exist"
            )));
        }
    }
    Ok(changes)
}

/// Coupons, matched by code, after the segments they are tied to.
async fn apply_coupons<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    config: &StoreConfig,
    now: DateTime<Utc>,
    changes: &mut Vec<String>,
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

/// Sorted, without repeats: the order a file's list is compared in.
fn sorted(items: impl IntoIterator<Item = String>) -> Vec<String> {
    items
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Product segments, matched by name, after the customer segments they are granted to.
async fn apply_product_segments<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    config: &StoreConfig,
    now: DateTime<Utc>,
    changes: &mut Vec<String>,
) -> Result<(), StoreError> {
    use crate::store::catalog::product_segments::{
        self as psegs, ProductSegmentDraft, ProductSegmentEdit,
    };
    let Some(wanted_list) = &config.product_segments else {
        return Ok(());
    };
    let categories: BTreeMap<i64, String> = storebot_entity::category::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|row| (row.id, row.name))
        .collect();
    let existing = psegs::list(db).await?;
    let mut seen = BTreeSet::new();
    for wanted in wanted_list {
        let name = wanted.name.trim().to_owned();
        if !seen.insert(name.clone()) {
            return Err(StoreError::Invalid(format!(
                "product segment `{name}` is in the file twice"
            )));
        }
        let rule = crate::product_rule::ProductRule {
            categories: wanted
                .categories
                .iter()
                .map(|category| {
                    find_id(&categories, category).ok_or_else(|| {
                        StoreError::Invalid(format!(
                            "product segment `{name}` names the category `{category}`, which does not exist"
                        ))
                    })
                })
                .collect::<Result<_, _>>()?,
            brands: wanted.brands.clone(),
            price_min: wanted.price_min,
            price_max: wanted.price_max,
            contains: wanted.contains.clone(),
            in_stock: wanted.in_stock,
        };
        let current = existing.iter().find(|segment| segment.name == name);
        let id = match current {
            None => {
                let created = psegs::create(
                    db,
                    &ProductSegmentDraft {
                        name: name.clone(),
                        description: wanted.description.clone(),
                        rule,
                    },
                    now,
                )
                .await?;
                changes.push(format!("add product segment `{name}`"));
                created.id
            }
            Some(current) => {
                if current.rule != rule || current.description != wanted.description.trim() {
                    psegs::edit(
                        db,
                        &current.id.to_string(),
                        &ProductSegmentEdit {
                            name: None,
                            description: Some(wanted.description.clone()),
                            rule: Some(rule),
                        },
                        now,
                    )
                    .await?;
                    changes.push(format!("change product segment `{name}`"));
                }
                current.id
            }
        };
        let granted: BTreeSet<String> = psegs::uses(db, &id.to_string())
            .await?
            .into_iter()
            .map(|segment| segment.name)
            .collect();
        let wanted_grants: BTreeSet<String> = wanted
            .granted_to
            .iter()
            .map(|segment| segment.trim().to_owned())
            .collect();
        for segment in wanted_grants.difference(&granted) {
            psegs::grant(db, &id.to_string(), segment).await?;
            changes.push(format!("grant product segment `{name}` to `{segment}`"));
        }
        for segment in granted.difference(&wanted_grants) {
            psegs::revoke(db, &id.to_string(), segment).await?;
            changes.push(format!("revoke product segment `{name}` from `{segment}`"));
        }
    }
    for segment in existing
        .iter()
        .filter(|segment| !seen.contains(&segment.name))
    {
        changes.push(format!(
            "keep product segment `{}` (not in the file; delete it with storebot-admin product-segments delete)",
            segment.name
        ));
    }
    Ok(())
}

/// Ids and names of everything a rule or an availability entry can name.
struct Names {
    questions: BTreeMap<i64, String>,
    options: BTreeMap<i64, (i64, String)>,
    segments: BTreeMap<i64, String>,
    variants: BTreeMap<i64, String>,
    products: BTreeMap<i64, String>,
}

impl Names {
    async fn load(db: &impl ConnectionTrait) -> Result<Self, StoreError> {
        let mut question_names = BTreeMap::new();
        let mut options = BTreeMap::new();
        for view in questions::list(db, true).await? {
            for option in view.options {
                options.insert(option.id, (view.question.id, option.text));
            }
            question_names.insert(view.question.id, view.question.text);
        }
        Ok(Self {
            questions: question_names,
            options,
            segments: segment::Entity::find()
                .all(db)
                .await?
                .into_iter()
                .map(|s| (s.id, s.name))
                .collect(),
            variants: variant::Entity::find()
                .all(db)
                .await?
                .into_iter()
                .map(|v| (v.id, v.sku))
                .collect(),
            products: product::Entity::find()
                .all(db)
                .await?
                .into_iter()
                .map(|p| (p.id, p.title))
                .collect(),
        })
    }

    fn audience(&self, names: Option<&Vec<String>>) -> Result<Audience, StoreError> {
        match names {
            None => Ok(Audience::AllSegments),
            Some(names) => names
                .iter()
                .map(|name| {
                    find_id(&self.segments, name)
                        .ok_or_else(|| StoreError::not_found("segment", format!("`{name}`")))
                })
                .collect::<Result<BTreeSet<_>, _>>()
                .map(Audience::Segments),
        }
    }

    fn rule_to_ids(&self, node: &mut Value) -> Result<(), StoreError> {
        self.walk(node, &mut |names, kind, object| {
            match kind {
                "answer" => {
                    let Some(text) = object.get("question").and_then(Value::as_str) else {
                        return Ok(());
                    };
                    let question = find_live_question(names, text)?;
                    object.insert("question".into(), Value::from(question));
                    if let Some(Value::Array(options)) = object.get_mut("options") {
                        for option in options.iter_mut() {
                            if let Some(text) = option.as_str() {
                                let id = names
                                    .options
                                    .iter()
                                    .find(|(_, (q, t))| *q == question && t == text)
                                    .map(|(id, _)| *id)
                                    .ok_or_else(|| {
                                        StoreError::Invalid(format!(
                                            "question `{}` has no option `{text}`",
                                            names
                                                .questions
                                                .get(&question)
                                                .cloned()
                                                .unwrap_or_default()
                                        ))
                                    })?;
                                *option = Value::from(id);
                            }
                        }
                    }
                }
                "segment" => {
                    if let Some(name) = object.get("segment").and_then(Value::as_str) {
                        let id = find_id(&names.segments, name).ok_or_else(|| {
                            StoreError::Invalid(format!(
                                "segment `{name}` does not exist (define it earlier in the file)"
                            ))
                        })?;
                        object.insert("segment".into(), Value::from(id));
                    }
                }
                "bought" => {
                    if let Some(Value::Object(item)) = object.get_mut("item") {
                        if let Some(sku) = item.get("variant").and_then(Value::as_str) {
                            let id = find_id(&names.variants, sku).ok_or_else(|| {
                                StoreError::not_found("variant with SKU", format!("`{sku}`"))
                            })?;
                            item.insert("variant".into(), Value::from(id));
                        }
                        if let Some(title) = item.get("product").and_then(Value::as_str) {
                            let id = find_id(&names.products, title).ok_or_else(|| {
                                StoreError::not_found("product", format!("`{title}`"))
                            })?;
                            item.insert("product".into(), Value::from(id));
                        }
                    }
                }
                _ => {}
            }
            Ok(())
        })
    }

    /// Calls `visit` on every node object of a rule tree with its `type`.
    fn walk(
        &self,
        node: &mut Value,
        visit: &mut impl FnMut(
            &Self,
            &str,
            &mut serde_json::Map<String, Value>,
        ) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let Value::Object(object) = node else {
            return Ok(());
        };
        let kind = object
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if let Some(Value::Array(children)) = object.get_mut("rules") {
            for child in children.iter_mut() {
                self.walk(child, visit)?;
            }
        }
        visit(self, &kind, object)
    }
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

fn find_live_question(names: &Names, text: &str) -> Result<i64, StoreError> {
    find_id(&names.questions, text)
        .ok_or_else(|| StoreError::Invalid(format!("question `{text}` does not exist")))
}

fn find_id(map: &BTreeMap<i64, String>, name: &str) -> Option<i64> {
    map.iter()
        .find(|(_, value)| value.as_str() == name.trim())
        .map(|(id, _)| *id)
}

fn missing(id: i64) -> StoreError {
    StoreError::Invalid(format!(
        "a stored rule refers to {id}, which no longer exists"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::catalog::editing::import;
    use crate::store::catalog::editing::tests::{now, row};
    use crate::testing::TestDb;

    fn document() -> StoreConfig {
        serde_json::from_value(serde_json::json!({
            "questions": [
                { "text": "Pets?", "kind": "single", "required": true, "options": ["Cat", "Dog"] }
            ],
            "segments": [
                { "name": "vip", "kind": "manual" },
                { "name": "cats", "kind": "auto", "user_group": "pets",
                  "rule": { "type": "all", "rules": [
                      { "type": "answer", "question": "Pets?", "options": ["Cat"] },
                      { "type": "segment", "segment": "vip", "member": false },
                      { "type": "bought", "item": { "variant": "T-1" } }
                  ] } }
            ],
            "availability": [
                { "product": "Tea", "variants": [
                    { "sku": "T-1", "segments": ["cats", "vip"] },
                    { "sku": "T-2" }
                ] }
            ]
        }))
        .expect("document")
    }

    #[tokio::test]
    async fn apply_then_export_round_trips_and_a_second_apply_changes_nothing() {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        two_teas(db).await;
        let planned = apply(db, &document(), "EUR", now(), true)
            .await
            .expect("dry run");
        assert!(
            planned.contains(&"add question `Pets?`".to_owned()),
            "{planned:?}"
        );
        assert_eq!(export(db, "EUR").await.expect("export"), empty());

        let applied = apply(db, &document(), "EUR", now(), false)
            .await
            .expect("apply");
        assert_eq!(applied, planned);
        let exported = export(db, "EUR").await.expect("export");
        assert_eq!(exported.questions, document().questions);
        // The rule comes out in words, and the second apply below reads it back unchanged.
        let rule_of = |config: &StoreConfig| config.segments.as_ref().map(|s| s[1].rule.clone());
        assert_eq!(
            rule_of(&exported),
            Some(Some(serde_json::json!(
                r#"answer "Pets?" is "Cat" and not in segment "vip" and bought sku "T-1""#
            )))
        );
        assert_eq!(exported.availability, document().availability);
        assert_applies_nothing(db, &exported).await;
    }

    #[tokio::test]
    async fn a_bad_document_changes_nothing() {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        let mut bad = document();
        bad.segments.as_mut().expect("segments")[1].rule = Some(serde_json::json!(
            { "type": "answer", "question": "Pets?", "options": ["Parrot"] }
        ));
        let error = apply(db, &bad, "EUR", now(), false)
            .await
            .expect_err("bad option");
        assert_eq!(
            error.to_string(),
            "segment `cats`: question `Pets?` has no option `Parrot`"
        );
        assert_eq!(export(db, "EUR").await.expect("export"), empty());
    }

    #[tokio::test]
    async fn dropping_an_option_a_rule_uses_is_refused_and_changes_nothing() {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        two_teas(db).await;
        apply(db, &document(), "EUR", now(), false)
            .await
            .expect("apply");
        let before = export(db, "EUR").await.expect("export");
        let mut without_cat = document();
        without_cat.questions.as_mut().expect("questions")[0].options = vec!["Dog".to_owned()];
        without_cat.segments = None;
        without_cat.availability = None;

        let error = apply(db, &without_cat, "EUR", now(), false)
            .await
            .expect_err("a rule uses Cat");
        let message = error.to_string();
        assert!(
            message.ends_with(
                "is used by the rule of segment `cats`: keep it in the file, or change that rule first"
            ),
            "{message}"
        );
        assert!(!message.contains("--force"), "{message}");
        assert_eq!(export(db, "EUR").await.expect("export"), before);
    }

    /// Applying `config` again finds nothing to change.
    async fn assert_applies_nothing(db: &sea_orm::DatabaseConnection, config: &StoreConfig) {
        let changes = apply(db, config, "EUR", now(), false).await.expect("again");
        assert!(changes.is_empty(), "{changes:?}");
    }

    /// A catalog of one product, `Tea`, with the variants `T-1` and `T-2`.
    async fn two_teas(db: &sea_orm::DatabaseConnection) {
        import(
            db,
            &[row(2, "T-1", "Tea", 100), row(3, "T-2", "Tea", 200)],
            now(),
        )
        .await
        .expect("catalog");
    }

    fn empty() -> StoreConfig {
        StoreConfig {
            questions: Some(vec![]),
            segments: Some(vec![]),
            availability: Some(vec![]),
            product_segments: None,
            coupons: None,
            images: None,
        }
    }

    #[tokio::test]
    async fn coupons_round_trip_by_code_and_a_bad_one_changes_nothing() {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        two_teas(db).await;
        let mut config = document();
        config.coupons = Some(
            serde_json::from_value(serde_json::json!([
                { "code": "vip-10", "percent": 10, "segments": ["vip"], "usage_limit": 100 },
                { "code": "FRIENDS", "amount_off": 250, "user_groups": ["friends"],
                  "active": false, "ends_at": "2027-01-01T00:00:00Z" }
            ]))
            .expect("coupons"),
        );
        let applied = apply(db, &config, "EUR", now(), false)
            .await
            .expect("apply");
        assert!(
            applied.contains(&"add coupon `VIP-10`".to_owned())
                && applied.contains(&"add coupon `FRIENDS`".to_owned()),
            "{applied:?}"
        );
        let friends = coupons::find(db, "friends").await.expect("created");
        assert_eq!((friends.kind.as_str(), friends.amount), ("fixed", 250));
        assert!(!friends.active);
        let exported = export(db, "EUR").await.expect("export");
        let listed = exported.coupons.clone().expect("coupons exported");
        assert_eq!(
            listed.iter().map(|c| c.code.as_str()).collect::<Vec<_>>(),
            ["FRIENDS", "VIP-10"]
        );
        assert_eq!(listed[1].segments, ["vip"]);
        assert_eq!(listed[1].percent, Some(10));
        assert_applies_nothing(db, &exported).await;

        // A change rewrites the coupon; one left out is kept and reported.
        let mut changed = exported.clone();
        changed.coupons = Some(vec![CouponConfig {
            percent: Some(15),
            segments: vec![],
            user_groups: vec!["vip club".into()],
            ..listed[1].clone()
        }]);
        assert_eq!(
            apply(db, &changed, "EUR", now(), false)
                .await
                .expect("change"),
            [
                "change coupon `VIP-10`",
                "keep coupon `FRIENDS` (not in the file; switch it off with storebot-admin coupons disable)"
            ]
        );
        let view = coupons::list(db).await.expect("list");
        let vip = view
            .iter()
            .find(|v| v.coupon.code == "VIP-10")
            .expect("vip");
        assert_eq!(vip.coupon.amount, 15);
        assert!(vip.segments.is_empty());
        assert_eq!(vip.user_groups, ["vip club"]);

        // Bad coupons are refused with their code named, and nothing changes.
        let before = export(db, "EUR").await.expect("export");
        for (bad, expected) in [
            (
                CouponConfig {
                    percent: Some(10),
                    amount_off: Some(100),
                    ..listed[1].clone()
                },
                "coupon `VIP-10`: give either `percent` or `amount_off`",
            ),
            (
                CouponConfig {
                    segments: vec!["nobody".into()],
                    ..listed[1].clone()
                },
                "coupon `VIP-10`: segment `nobody` does not exist",
            ),
            (
                CouponConfig {
                    code: "NEW-ONE".into(),
                    segments: vec![],
                    user_groups: vec![],
                    ..listed[1].clone()
                },
                "coupon `NEW-ONE`: a coupon needs at least one segment or user group: nobody could use it otherwise",
            ),
        ] {
            let mut document = before.clone();
            document.coupons = Some(vec![bad]);
            let error = apply(db, &document, "EUR", now(), false)
                .await
                .expect_err(expected);
            assert_eq!(error.to_string(), expected);
            assert_eq!(export(db, "EUR").await.expect("export"), before);
        }
    }

    #[tokio::test]
    async fn product_segments_and_their_grants_round_trip_by_name() {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        two_teas(db).await;
        let mut config = document();
        config.product_segments = Some(
            serde_json::from_value(serde_json::json!([
                { "name": "cheap tea", "categories": ["Tea"], "price_max": 500,
                  "in_stock": true, "granted_to": ["vip"] }
            ]))
            .expect("product segments"),
        );
        let applied = apply(db, &config, "EUR", now(), false)
            .await
            .expect("apply");
        assert!(
            applied.contains(&"add product segment `cheap tea`".to_owned())
                && applied.contains(&"grant product segment `cheap tea` to `vip`".to_owned()),
            "{applied:?}"
        );
        let exported = export(db, "EUR").await.expect("export");
        assert_eq!(exported.product_segments, config.product_segments);
        assert_applies_nothing(db, &exported).await;
        // Taking the grant out of the file revokes it; an unknown category changes nothing.
        let mut changed = exported.clone();
        if let Some(list) = changed.product_segments.as_mut() {
            list[0].granted_to.clear();
        }
        assert_eq!(
            apply(db, &changed, "EUR", now(), false)
                .await
                .expect("revoke"),
            ["revoke product segment `cheap tea` from `vip`"]
        );
        let mut bad = changed.clone();
        if let Some(list) = bad.product_segments.as_mut() {
            list[0].categories = vec!["Nope".into()];
        }
        let error = apply(db, &bad, "EUR", now(), false).await.expect_err("bad");
        assert_eq!(
            error.to_string(),
            "product segment `cheap tea` names the category `Nope`, which does not exist"
        );
        assert_eq!(export(db, "EUR").await.expect("export"), changed);
    }
}
