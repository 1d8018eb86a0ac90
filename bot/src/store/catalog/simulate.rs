//! The catalog through one shopper's eyes, for the merchant: every product and variant with
//! whether that shopper sees it and, if not, why (the pure rule of [`crate::catalog`]), and
//! which variants a change of segments would show or hide.
//!
//! Read-only: this module must never change the catalog, a shopper or their membership. It
//! loads the access facts of the whole catalog in a few statements
//! ([`crate::store::catalog::access::access_of_all_products`]; product-segment grants are
//! evaluated by the pure rule), so it serves the admin tool, never the shopper's conversation
//! (which filters in SQL through [`crate::store::catalog::browse::visible_to`]).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, EntityTrait};
use serde::Serialize;
use storebot_entity::{category, product, variant};

use crate::catalog::{Hidden, ProductAccess, VariantAccess, variant_visibility};
use crate::store::StoreError;
use crate::store::catalog::access::access_of_all_products;
use crate::store::membership::in_force::segments_in_force_for;

/// A product with its access facts and its variants with theirs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductFacts {
    pub product: product::Model,
    pub category: Option<String>,
    pub access: ProductAccess,
    pub variants: Vec<(variant::Model, VariantAccess)>,
}

/// The whole catalog's access facts, by category position then product title, each product's
/// variants cheapest first.
pub async fn catalog_access(db: &impl ConnectionTrait) -> Result<Vec<ProductFacts>, StoreError> {
    let categories: BTreeMap<i64, category::Model> = category::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|row| (row.id, row))
        .collect();
    let mut products: Vec<ProductFacts> = access_of_all_products(db)
        .await?
        .into_iter()
        .map(|(product, access, mut variants)| {
            variants.sort_by_key(|(variant, _)| (variant.price, variant.id));
            ProductFacts {
                category: product
                    .category_id
                    .and_then(|id| categories.get(&id))
                    .map(|category| category.name.clone()),
                access,
                variants,
                product,
            }
        })
        .collect();
    let position = |product: &ProductFacts| {
        product
            .product
            .category_id
            .and_then(|id| categories.get(&id))
            .map_or(i32::MAX, |category| category.position)
    };
    // A stable sort keeps the titles in order within each category.
    products.sort_by_key(position);
    Ok(products)
}

/// The ids of the variants a shopper in `segments_in_force` sees.
pub fn visible_variant_ids(
    catalog: &[ProductFacts],
    segments_in_force: &BTreeSet<i64>,
) -> BTreeSet<i64> {
    catalog
        .iter()
        .flat_map(|product| {
            product.variants.iter().filter_map(|(variant, access)| {
                variant_visibility(&product.access, access, segments_in_force)
                    .is_ok()
                    .then_some(variant.id)
            })
        })
        .collect()
}

/// One variant as a shopper finds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeenVariant {
    pub id: i64,
    pub sku: String,
    pub title: String,
    pub price: i64,
    pub stock: i32,
    pub visible: bool,
    /// Why it is hidden, as a sentence; `None` when visible.
    pub hidden_because: Option<String>,
}

/// One product as a shopper finds it: shown when at least one variant is visible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeenProduct {
    pub id: i64,
    pub title: String,
    pub category: Option<String>,
    pub visible: bool,
    pub variants: Vec<SeenVariant>,
}

/// The catalog as one shopper sees it at `now`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Simulation {
    pub customer_id: i64,
    pub segments_in_force: Vec<i64>,
    pub products: Vec<SeenProduct>,
    /// Categories with at least one visible product, in the merchant's order.
    pub visible_categories: Vec<String>,
}

/// Every product and variant with whether the shopper sees it and why not.
pub async fn simulate(
    db: &impl ConnectionTrait,
    customer_id: i64,
    now: DateTime<Utc>,
) -> Result<Simulation, StoreError> {
    let segments_in_force = segments_in_force_for(db, customer_id, now).await?;
    let in_force: BTreeSet<i64> = segments_in_force.iter().copied().collect();
    let catalog = catalog_access(db).await?;
    Ok(seen_by(customer_id, segments_in_force, &in_force, catalog))
}

fn seen_by(
    customer_id: i64,
    segments_in_force: Vec<i64>,
    in_force: &BTreeSet<i64>,
    catalog: Vec<ProductFacts>,
) -> Simulation {
    let mut visible_categories: Vec<String> = Vec::new();
    let products: Vec<SeenProduct> = catalog
        .into_iter()
        .map(|facts| {
            let variants: Vec<SeenVariant> = facts
                .variants
                .into_iter()
                .map(|(variant, access)| {
                    let verdict: Result<(), Hidden> =
                        variant_visibility(&facts.access, &access, in_force);
                    SeenVariant {
                        id: variant.id,
                        sku: variant.sku,
                        title: variant.title,
                        price: variant.price,
                        stock: variant.stock,
                        visible: verdict.is_ok(),
                        hidden_because: verdict.err().map(|hidden| hidden.to_string()),
                    }
                })
                .collect();
            let visible = variants.iter().any(|variant| variant.visible);
            if visible
                && let Some(name) = &facts.category
                && !visible_categories.contains(name)
            {
                visible_categories.push(name.clone());
            }
            SeenProduct {
                id: facts.product.id,
                title: facts.product.title,
                category: facts.category,
                visible,
                variants,
            }
        })
        .collect();
    Simulation {
        customer_id,
        segments_in_force,
        products,
        visible_categories,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(id: i64, access: ProductAccess, variants: Vec<(i64, VariantAccess)>) -> ProductFacts {
        let now = chrono::DateTime::<Utc>::UNIX_EPOCH;
        ProductFacts {
            product: product::Model {
                id,
                title: format!("P{id}"),
                description: String::new(),
                category_id: Some(1),
                brand: None,
                active: access.active,
                all_segments: access.all_segments,
                by_variant: access.by_variant,
                image: None,
                created_at: now,
                updated_at: now,
            },
            category: Some("Tea".into()),
            access,
            variants: variants
                .into_iter()
                .map(|(variant_id, access)| {
                    (
                        variant::Model {
                            id: variant_id,
                            product_id: id,
                            sku: format!("V{variant_id}"),
                            title: String::new(),
                            price: 100,
                            stock: 1,
                            active: access.active,
                            all_segments: access.all_segments,
                            image: None,
                        },
                        access,
                    )
                })
                .collect(),
        }
    }

    fn segments(ids: &[i64]) -> BTreeSet<i64> {
        ids.iter().copied().collect()
    }

    #[test]
    fn a_restricted_product_is_hidden_with_its_reason_and_its_category_too() {
        let open = VariantAccess {
            active: true,
            all_segments: true,
            segments: segments(&[]),
            opened_to: segments(&[]),
        };
        let catalog = vec![facts(
            1,
            ProductAccess {
                active: true,
                all_segments: false,
                by_variant: false,
                segments: segments(&[7]),
            },
            vec![(10, open)],
        )];
        let guest = seen_by(1, vec![], &segments(&[]), catalog.clone());
        assert!(!guest.products[0].visible);
        assert_eq!(
            guest.products[0].variants[0].hidden_because.as_deref(),
            Some("the product is restricted to segments the shopper is not in")
        );
        assert!(guest.visible_categories.is_empty());
        let member = seen_by(1, vec![7], &segments(&[7]), catalog.clone());
        assert_eq!(member.visible_categories, ["Tea"]);
        assert_eq!(
            visible_variant_ids(&catalog, &segments(&[7])),
            segments(&[10])
        );
        assert!(visible_variant_ids(&catalog, &segments(&[])).is_empty());
    }
}
