//! Product segments (`catalog_segment`): named rules over the catalog, and their grants to
//! customer segments (`catalog_segment_grant`).
//!
//! Membership is never stored: [`matches_catalog_segment`] is one SQL condition over the
//! `variant` and `product` row and the rule's compiled columns, so a product segment follows
//! every catalog edit with no extra step. [`granted_to`] is the same condition behind the
//! shopper's grants, folded into [`crate::store::catalog::browse::visible_to`]'s statement. The pure
//! [`crate::product_rule::ProductRule::matches`] gives the same answer in memory for the
//! admin tool's explanations; a test keeps the two in agreement.
//!
//! Naming: the older tables `product_segment` / `variant_segment` are visibility grants of
//! single products and variants; this module is about the merchant's "product segments".

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, Query, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, JoinType,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, RelationDef, TransactionSession,
    TransactionTrait,
};
use serde::Serialize;
use storebot_entity::{catalog_segment, catalog_segment_grant, product, segment, variant};

use crate::product_rule::{ProductRule, VariantFacts};
use crate::store::membership::lookup;
use crate::store::{StoreError, begin_write};

/// Whether the `variant` and `product` of the enclosing statement match the `catalog_segment`
/// row in scope. Plain SQL that SQLite and PostgreSQL read alike: lists are delimited text
/// searched with LIKE (the product's brand escaped so that `%` and `_` in it are literal).
const MATCHES: &str = r#"(("catalog_segment"."rule_categories" IS NULL
    OR "catalog_segment"."rule_categories" LIKE ('%,' || CAST("product"."category_id" AS TEXT) || ',%'))
AND ("catalog_segment"."rule_brands" IS NULL
    OR "catalog_segment"."rule_brands" LIKE ('%' || CHR_NL || REPLACE(REPLACE(REPLACE(LOWER("product"."brand"), '\', '\\'), '%', '\%'), '_', '\_') || CHR_NL || '%') ESCAPE '\')
AND ("catalog_segment"."rule_price_min" IS NULL OR "variant"."price" >= "catalog_segment"."rule_price_min")
AND ("catalog_segment"."rule_price_max" IS NULL OR "variant"."price" <= "catalog_segment"."rule_price_max")
AND ("catalog_segment"."rule_contains" IS NULL
    OR LOWER("product"."title") LIKE "catalog_segment"."rule_contains" ESCAPE '\'
    OR LOWER("variant"."title") LIKE "catalog_segment"."rule_contains" ESCAPE '\'
    OR LOWER("variant"."sku") LIKE "catalog_segment"."rule_contains" ESCAPE '\')
AND (NOT "catalog_segment"."rule_in_stock" OR "variant"."stock" > 0))"#;

fn matches_sql() -> SimpleExpr {
    // A newline literal inside quotes is valid in both dialects and keeps the text free of
    // dialect functions (`char` vs `chr`).
    Expr::cust(MATCHES.replace("CHR_NL", "'\n'"))
}

/// The SQL condition "the variant matches product segment `catalog_segment_id`", for a
/// statement over `variant` joined to `product`.
pub fn matches_catalog_segment(catalog_segment_id: i64) -> SimpleExpr {
    Expr::exists(
        Query::select()
            .expr(Expr::val(1))
            .from(catalog_segment::Entity)
            .and_where(catalog_segment::Column::Id.eq(catalog_segment_id))
            .and_where(matches_sql())
            .to_owned(),
    )
}

/// The SQL condition "one of `segments_in_force` is granted a product segment that the
/// variant matches", for a statement over `variant` joined to `product`.
pub fn granted_to(segments_in_force: &[i64]) -> SimpleExpr {
    Expr::exists(
        Query::select()
            .expr(Expr::val(1))
            .from(catalog_segment_grant::Entity)
            .inner_join(
                catalog_segment::Entity,
                Expr::col((catalog_segment::Entity, catalog_segment::Column::Id)).equals((
                    catalog_segment_grant::Entity,
                    catalog_segment_grant::Column::CatalogSegmentId,
                )),
            )
            .and_where(catalog_segment_grant::Column::SegmentId.is_in(segments_in_force.to_vec()))
            .and_where(matches_sql())
            .to_owned(),
    )
}

/// Every grant as (product segment's rule, customer segments granted it), for evaluating in
/// memory what the grants open ([`opened_to`]).
pub async fn grants_in_memory(
    db: &impl ConnectionTrait,
) -> Result<Vec<(ProductRule, BTreeSet<i64>)>, StoreError> {
    let mut granted: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
    for row in catalog_segment_grant::Entity::find().all(db).await? {
        granted
            .entry(row.catalog_segment_id)
            .or_default()
            .insert(row.segment_id);
    }
    let mut out = Vec::new();
    for row in catalog_segment::Entity::find()
        .filter(catalog_segment::Column::Id.is_in(granted.keys().copied().collect::<Vec<_>>()))
        .all(db)
        .await?
    {
        let rule = parse_stored(&row)?;
        out.push((rule, granted.remove(&row.id).unwrap_or_default()));
    }
    Ok(out)
}

/// The customer segments that the grants open `variant` of `product` to (the pure rule).
pub fn opened_to(
    grants: &[(ProductRule, BTreeSet<i64>)],
    product: &product::Model,
    variant: &variant::Model,
) -> BTreeSet<i64> {
    let facts = VariantFacts {
        category_id: product.category_id,
        brand: product.brand.as_deref(),
        product_title: &product.title,
        variant_title: &variant.title,
        sku: &variant.sku,
        price: variant.price,
        stock: variant.stock,
    };
    grants
        .iter()
        .filter(|(rule, _)| rule.matches(&facts))
        .flat_map(|(_, segments)| segments.iter().copied())
        .collect()
}

fn parse_stored(row: &catalog_segment::Model) -> Result<ProductRule, StoreError> {
    ProductRule::parse(&row.rule).map_err(|error| {
        StoreError::Invalid(format!(
            "the stored rule of product segment `{}` can't be read: {error}",
            row.name
        ))
    })
}

/// A product segment as the merchant sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProductSegment {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub rule: ProductRule,
    /// Customer segments granted it, by name.
    pub uses: Vec<String>,
    /// How many variants match it now (active or not).
    pub variants: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What the merchant sets on a product segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductSegmentDraft {
    pub name: String,
    pub description: String,
    pub rule: ProductRule,
}

fn variant_to_product() -> RelationDef {
    variant::Entity::belongs_to(product::Entity)
        .from(variant::Column::ProductId)
        .to(product::Column::Id)
        .into()
}

fn check_name(name: &str) -> Result<String, StoreError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(StoreError::Invalid("a product segment needs a name".into()));
    }
    if name.parse::<i64>().is_ok() {
        return Err(StoreError::Invalid(
            "a product segment's name can't be a number (numbers refer to ids)".into(),
        ));
    }
    Ok(name.to_owned())
}

fn checked_rule(rule: &ProductRule) -> Result<(), StoreError> {
    rule.validate()
        .map_err(|error| StoreError::Invalid(format!("the rule is refused: {error}")))
}

fn set_rule(model: &mut catalog_segment::ActiveModel, rule: &ProductRule) {
    let compiled = rule.compile();
    model.rule = Set(rule.to_json());
    model.rule_categories = Set(compiled.categories);
    model.rule_brands = Set(compiled.brands);
    model.rule_price_min = Set(compiled.price_min);
    model.rule_price_max = Set(compiled.price_max);
    model.rule_contains = Set(compiled.contains);
    model.rule_in_stock = Set(compiled.in_stock);
}

async fn unknown_categories(
    db: &impl ConnectionTrait,
    rule: &ProductRule,
) -> Result<(), StoreError> {
    let wanted: BTreeSet<i64> = rule.categories.iter().copied().collect();
    let known: BTreeSet<i64> = storebot_entity::category::Entity::find()
        .filter(storebot_entity::category::Column::Id.is_in(wanted.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.id)
        .collect();
    match wanted.difference(&known).next() {
        Some(missing) => Err(StoreError::Invalid(format!(
            "the rule is refused: category {missing} does not exist"
        ))),
        None => Ok(()),
    }
}

/// Creates a product segment.
pub async fn create<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    draft: &ProductSegmentDraft,
    now: DateTime<Utc>,
) -> Result<ProductSegment, StoreError> {
    let name = check_name(&draft.name)?;
    checked_rule(&draft.rule)?;
    let txn = begin_write(db).await?;
    unknown_categories(&txn, &draft.rule).await?;
    if find_row(&txn, &name).await.is_ok() {
        return Err(StoreError::Conflict(format!(
            "a product segment named `{name}` already exists"
        )));
    }
    let mut model = catalog_segment::ActiveModel {
        name: Set(name),
        description: Set(draft.description.trim().to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    set_rule(&mut model, &draft.rule);
    let row = model.insert(&txn).await?;
    let out = describe(&txn, row).await?;
    txn.commit().await?;
    Ok(out)
}

/// Changes to a product segment; None leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductSegmentEdit {
    pub name: Option<String>,
    pub description: Option<String>,
    pub rule: Option<ProductRule>,
}

/// Edits a product segment (by name or id).
pub async fn edit<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    key: &str,
    change: &ProductSegmentEdit,
    now: DateTime<Utc>,
) -> Result<ProductSegment, StoreError> {
    let txn = begin_write(db).await?;
    let row = find_row(&txn, key).await?;
    let mut model = row.clone().into_active_model();
    if let Some(name) = &change.name {
        let name = check_name(name)?;
        if name != row.name && find_row(&txn, &name).await.is_ok() {
            return Err(StoreError::Conflict(format!(
                "a product segment named `{name}` already exists"
            )));
        }
        model.name = Set(name);
    }
    if let Some(description) = &change.description {
        model.description = Set(description.trim().to_owned());
    }
    if let Some(rule) = &change.rule {
        checked_rule(rule)?;
        unknown_categories(&txn, rule).await?;
        set_rule(&mut model, rule);
    }
    model.updated_at = Set(now);
    let row = model.update(&txn).await?;
    let out = describe(&txn, row).await?;
    txn.commit().await?;
    Ok(out)
}

async fn find_row(
    db: &impl ConnectionTrait,
    key: &str,
) -> Result<catalog_segment::Model, StoreError> {
    let key = key.trim();
    if let Some(row) = catalog_segment::Entity::find()
        .filter(catalog_segment::Column::Name.eq(key))
        .one(db)
        .await?
    {
        return Ok(row);
    }
    if let Ok(id) = key.parse::<i64>()
        && let Some(row) = catalog_segment::Entity::find_by_id(id).one(db).await?
    {
        return Ok(row);
    }
    Err(StoreError::not_found("product segment", format!("`{key}`")))
}

async fn describe(
    db: &impl ConnectionTrait,
    row: catalog_segment::Model,
) -> Result<ProductSegment, StoreError> {
    let rule = parse_stored(&row)?;
    let uses = uses_of(db, row.id)
        .await?
        .into_iter()
        .map(|segment| segment.name)
        .collect();
    let variants = variant::Entity::find()
        .join(JoinType::InnerJoin, variant_to_product())
        .filter(matches_catalog_segment(row.id))
        .count(db)
        .await?;
    Ok(ProductSegment {
        id: row.id,
        name: row.name,
        description: row.description,
        rule,
        uses,
        variants,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// A product segment by name or id.
pub async fn find(db: &impl ConnectionTrait, key: &str) -> Result<ProductSegment, StoreError> {
    let row = find_row(db, key).await?;
    describe(db, row).await
}

/// Every product segment by name.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<ProductSegment>, StoreError> {
    let rows = catalog_segment::Entity::find()
        .order_by_asc(catalog_segment::Column::Name)
        .all(db)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(describe(db, row).await?);
    }
    Ok(out)
}

/// "See products": the variants that match the product segment now, with their products, by
/// product title then price. Inactive ones are included (the merchant's view, not a
/// shopper's).
pub async fn products(
    db: &impl ConnectionTrait,
    key: &str,
) -> Result<Vec<(variant::Model, product::Model)>, StoreError> {
    let row = find_row(db, key).await?;
    Ok(variant::Entity::find()
        .select_also(product::Entity)
        .join(JoinType::InnerJoin, variant_to_product())
        .filter(matches_catalog_segment(row.id))
        .order_by_asc(product::Column::Title)
        .order_by_asc(variant::Column::Price)
        .order_by_asc(variant::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .filter_map(|(variant, product)| product.map(|product| (variant, product)))
        .collect())
}

async fn uses_of(
    db: &impl ConnectionTrait,
    catalog_segment_id: i64,
) -> Result<Vec<segment::Model>, StoreError> {
    let ids: Vec<i64> = catalog_segment_grant::Entity::find()
        .filter(catalog_segment_grant::Column::CatalogSegmentId.eq(catalog_segment_id))
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.segment_id)
        .collect();
    Ok(segment::Entity::find()
        .filter(segment::Column::Id.is_in(ids))
        .order_by_asc(segment::Column::Name)
        .all(db)
        .await?)
}

/// "See uses": the customer segments granted the product segment, by name.
pub async fn uses(db: &impl ConnectionTrait, key: &str) -> Result<Vec<segment::Model>, StoreError> {
    let row = find_row(db, key).await?;
    uses_of(db, row.id).await
}

/// The product segments granted to customer segment `segment_id`, by name.
pub async fn granted_to_segment(
    db: &impl ConnectionTrait,
    segment_id: i64,
) -> Result<Vec<String>, StoreError> {
    let ids: Vec<i64> = catalog_segment_grant::Entity::find()
        .filter(catalog_segment_grant::Column::SegmentId.eq(segment_id))
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.catalog_segment_id)
        .collect();
    Ok(catalog_segment::Entity::find()
        .filter(catalog_segment::Column::Id.is_in(ids))
        .order_by_asc(catalog_segment::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.name)
        .collect())
}

/// Deletes a product segment. When customer segments are granted it, refuses (naming them)
/// unless `force`, which removes the grants with it. Returns the names of the segments that
/// lost the grant.
pub async fn delete<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    key: &str,
    force: bool,
) -> Result<Vec<String>, StoreError> {
    let txn = begin_write(db).await?;
    let row = find_row(&txn, key).await?;
    let uses: Vec<String> = uses_of(&txn, row.id)
        .await?
        .into_iter()
        .map(|segment| segment.name)
        .collect();
    if !uses.is_empty() && !force {
        let quoted: Vec<String> = uses.iter().map(|name| format!("`{name}`")).collect();
        return Err(StoreError::Conflict(format!(
            "product segment `{}` is granted to segments {}: delete it anyway with --force",
            row.name,
            quoted.join(", ")
        )));
    }
    catalog_segment_grant::Entity::delete_many()
        .filter(catalog_segment_grant::Column::CatalogSegmentId.eq(row.id))
        .exec(&txn)
        .await?;
    catalog_segment::Entity::delete_by_id(row.id)
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(uses)
}

/// Grants product segment `key` to customer segment `segment_key` (both by name or id).
/// Returns false when it was already granted.
pub async fn grant<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    key: &str,
    segment_key: &str,
) -> Result<bool, StoreError> {
    let txn = begin_write(db).await?;
    let row = find_row(&txn, key).await?;
    let segment = lookup::find(&txn, segment_key).await?;
    let exists = catalog_segment_grant::Entity::find_by_id((segment.id, row.id))
        .one(&txn)
        .await?
        .is_some();
    if !exists {
        catalog_segment_grant::ActiveModel {
            segment_id: Set(segment.id),
            catalog_segment_id: Set(row.id),
        }
        .insert(&txn)
        .await?;
    }
    txn.commit().await?;
    Ok(!exists)
}

/// Takes the grant of product segment `key` away from customer segment `segment_key`.
/// Refuses when there is no such grant.
pub async fn revoke<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    key: &str,
    segment_key: &str,
) -> Result<(), StoreError> {
    let txn = begin_write(db).await?;
    let row = find_row(&txn, key).await?;
    let segment = lookup::find(&txn, segment_key).await?;
    let deleted = catalog_segment_grant::Entity::delete_by_id((segment.id, row.id))
        .exec(&txn)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(StoreError::Invalid(format!(
            "segment `{}` is not granted product segment `{}`",
            segment.name, row.name
        )));
    }
    txn.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests;
