//! The facts the pure visibility rule of [`crate::catalog`] is given about a product and its
//! variants (flags, own audiences, what product-segment grants open), read for one product or
//! for the whole catalog. `simulate` (the catalog through a shopper's eyes, and what a
//! segment's change would show or hide) and `availability` (the merchant's view, export and
//! apply) read these; the bot's serving path decides in SQL instead
//! ([`crate::store::catalog::browse::visible_to`]), and a test there keeps the two agreeing.
//!
//! Both reads build each product's facts with the same function, so looking at one product
//! and looking at all of them can't disagree. This module only reads.

use std::collections::{BTreeSet, HashMap};

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder};
use storebot_entity::{product, product_segment, variant, variant_segment};

use crate::catalog::{ProductAccess, VariantAccess};
use crate::store::StoreError;

/// A product, its variants, and the access facts of each for the pure rule.
pub type ProductAccessFacts = (
    product::Model,
    ProductAccess,
    Vec<(variant::Model, VariantAccess)>,
);

/// The access facts of a product and its variants (variants by id).
pub async fn access_of_product(
    db: &impl ConnectionTrait,
    product_id: i64,
) -> Result<ProductAccessFacts, StoreError> {
    let product = product::Entity::find_by_id(product_id)
        .one(db)
        .await?
        .ok_or_else(|| StoreError::not_found("product", product_id))?;
    let product_segments: BTreeSet<i64> = product_segment::Entity::find()
        .filter(product_segment::Column::ProductId.eq(product_id))
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.segment_id)
        .collect();
    let variants = variant::Entity::find()
        .filter(variant::Column::ProductId.eq(product_id))
        .order_by(variant::Column::Id, Order::Asc)
        .all(db)
        .await?;
    let variant_ids: Vec<i64> = variants.iter().map(|variant| variant.id).collect();
    let mut variant_segments = segments_by_variant(
        variant_segment::Entity::find()
            .filter(variant_segment::Column::VariantId.is_in(variant_ids))
            .all(db)
            .await?,
    );
    let grants = crate::store::catalog::product_segments::grants_in_memory(db).await?;
    Ok(access_facts(
        product,
        product_segments,
        variants,
        &mut variant_segments,
        &grants,
    ))
}

/// The access facts of every product of the catalog, by title (then id), each with its
/// variants by id: what [`access_of_product`] says of each, read in a few whole-table
/// statements however large the catalog (for `apply` and `export`, which look at every
/// product).
pub async fn access_of_all_products(
    db: &impl ConnectionTrait,
) -> Result<Vec<ProductAccessFacts>, StoreError> {
    // The database sorts the titles, so the order is its collation's, as a single query's.
    let products = product::Entity::find()
        .order_by(product::Column::Title, Order::Asc)
        .order_by(product::Column::Id, Order::Asc)
        .all(db)
        .await?;
    let mut product_segments: HashMap<i64, BTreeSet<i64>> = HashMap::new();
    for row in product_segment::Entity::find().all(db).await? {
        product_segments
            .entry(row.product_id)
            .or_default()
            .insert(row.segment_id);
    }
    let mut variants_of: HashMap<i64, Vec<variant::Model>> = HashMap::new();
    for variant in variant::Entity::find()
        .order_by(variant::Column::Id, Order::Asc)
        .all(db)
        .await?
    {
        variants_of
            .entry(variant.product_id)
            .or_default()
            .push(variant);
    }
    let mut variant_segments = segments_by_variant(variant_segment::Entity::find().all(db).await?);
    let grants = crate::store::catalog::product_segments::grants_in_memory(db).await?;
    Ok(products
        .into_iter()
        .map(|product| {
            let segments = product_segments.remove(&product.id).unwrap_or_default();
            let variants = variants_of.remove(&product.id).unwrap_or_default();
            access_facts(product, segments, variants, &mut variant_segments, &grants)
        })
        .collect())
}

/// Variant id → the segments its own audience names.
fn segments_by_variant(rows: Vec<variant_segment::Model>) -> HashMap<i64, BTreeSet<i64>> {
    let mut by_variant: HashMap<i64, BTreeSet<i64>> = HashMap::new();
    for row in rows {
        by_variant
            .entry(row.variant_id)
            .or_default()
            .insert(row.segment_id);
    }
    by_variant
}

/// One product's facts from its rows, however they were read: the one place that says what
/// the pure rule is given, for one product or all of them.
fn access_facts(
    product: product::Model,
    product_segments: BTreeSet<i64>,
    variants: Vec<variant::Model>,
    variant_segments: &mut HashMap<i64, BTreeSet<i64>>,
    grants: &[(crate::product_rule::ProductRule, BTreeSet<i64>)],
) -> ProductAccessFacts {
    let access = ProductAccess {
        active: product.active,
        all_segments: product.all_segments,
        by_variant: product.by_variant,
        segments: product_segments,
    };
    let variants = variants
        .into_iter()
        .map(|variant| {
            let access = VariantAccess {
                active: variant.active,
                all_segments: variant.all_segments,
                segments: variant_segments.remove(&variant.id).unwrap_or_default(),
                opened_to: crate::store::catalog::product_segments::opened_to(
                    grants, &product, &variant,
                ),
            };
            (variant, access)
        })
        .collect();
    (product, access, variants)
}
