//! The document's catalog sections applied: product segments (by name, with their grants),
//! photos (by product title or SKU) and availability (by product title), in the caller's
//! transaction, each change said in one line.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionTrait};
use storebot_entity::{product, variant};

use super::document::*;
use super::names::{Names, find_id};
use super::progress::Tally;
use crate::store::StoreError;
use crate::store::catalog::availability::{self};

/// Product segments, matched by name, after the customer segments they are granted to.
pub(super) async fn apply_product_segments<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    config: &StoreConfig,
    now: DateTime<Utc>,
    changes: &mut Vec<String>,
    tally: &mut Tally<'_>,
) -> Result<(), StoreError> {
    use crate::store::catalog::product_segments::{
        self as psegs, ProductSegmentDraft, ProductSegmentEdit,
    };
    let Some(wanted_list) = &config.product_segments else {
        return Ok(());
    };
    let categories = crate::store::catalog::editing::category_names(db).await?;
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
        tally.step("product segments");
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

/// Sets the listed photos; an entry naming nothing that exists, or an image that is neither
/// an `https://` URL nor a readable JPEG/PNG, refuses the whole apply.
pub(super) async fn apply_images(
    db: &impl ConnectionTrait,
    config: &StoreConfig,
    now: DateTime<Utc>,
    changes: &mut Vec<String>,
    tally: &mut Tally<'_>,
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
        tally.step("photos");
    }
    Ok(())
}

/// Availability, by product title; products not listed are open to all segments.
///
/// The catalog's availability is read once, in a few statements, and only the products whose
/// availability differs from the file are written.
pub(super) async fn apply_availability<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    config: &StoreConfig,
    changes: &mut Vec<String>,
    tally: &mut Tally<'_>,
) -> Result<(), StoreError> {
    let Some(wanted_availability) = &config.availability else {
        return Ok(());
    };
    let names = Names::load(db).await?;
    let listed: BTreeMap<&str, &ProductAvailability> = wanted_availability
        .iter()
        .map(|entry| (entry.product.trim(), entry))
        .collect();
    let catalog = availability::of_all_products(db).await?;
    for current in &catalog {
        let entry = listed.get(current.title.as_str());
        let wanted_product = names.audience(entry.and_then(|e| e.segments.as_ref()))?;
        let wanted_variants = entry.and_then(|e| e.variants.as_ref());
        // Turning by-variant mode on gives the variants the product's audience: they are
        // compared with the file as that write leaves them.
        let mut switched = None;
        if current.by_variant != wanted_variants.is_some() {
            let (after, _) =
                availability::set_by_variant(db, current.product_id, wanted_variants.is_some())
                    .await?;
            switched = Some(after);
            if wanted_variants.is_some() {
                changes.push(format!("turn by-variant on for `{}`", current.title));
            } else {
                // What each variant's audience becomes, as the admin tool's question says it.
                let exposed = availability::exposure_when_by_variant_ends(
                    current,
                    &wanted_product,
                    names.segment_names(),
                );
                let mut change = format!("turn by-variant off for `{}`", current.title);
                if !exposed.is_empty() {
                    change = format!("{change}: {}", exposed.join("; "));
                }
                changes.push(change);
            }
        }
        if current.audience != wanted_product {
            availability::write_product_audience(db, current.product_id, &wanted_product).await?;
            changes.push(format!("set who may see `{}`", current.title));
        }
        if let Some(variants) = wanted_variants {
            let now_current = switched.as_ref().unwrap_or(current);
            for VariantAvailability { sku, segments } in variants {
                let Some(variant) = now_current.variants.iter().find(|v| &v.sku == sku) else {
                    return Err(StoreError::Invalid(format!(
                        "availability of `{}`: it has no variant `{sku}`",
                        current.title
                    )));
                };
                let audience = names.audience(segments.as_ref())?;
                if variant.audience != audience {
                    availability::set_variant(db, variant.variant_id, &audience).await?;
                    changes.push(format!("set who may see variant `{sku}`"));
                }
            }
        }
        tally.step("availability");
    }
    let titles: HashSet<&str> = catalog.iter().map(|p| p.title.as_str()).collect();
    if let Some(title) = listed.keys().find(|title| !titles.contains(*title)) {
        return Err(StoreError::Invalid(format!(
            "availability names the product `{title}`, which does not exist"
        )));
    }
    Ok(())
}
