//! The store's configuration read into one document, rules written in the rule language.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::Value;
use storebot_entity::{product, segment, variant};

use super::document::*;
use crate::segments::{self, language};
use crate::store::StoreError;
use crate::store::catalog::availability::{self, Audience};
use crate::store::membership::names::rule_names;
use crate::store::orders::coupons::{self};
use crate::store::shoppers::questions::{self};

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
    // Read for the whole catalog at once: a few statements, not a few per product.
    for current in availability::of_all_products(db).await? {
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
                product: current.title,
                segments,
                variants,
            });
        }
    }
    let categories = crate::store::catalog::editing::category_names(db).await?;
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

fn missing(id: i64) -> StoreError {
    StoreError::Invalid(format!(
        "a stored rule refers to {id}, which no longer exists"
    ))
}
