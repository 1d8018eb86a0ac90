//! The catalog as the merchant edits it: categories, products, variants, and bulk import.
//!
//! Unlike [`super::catalog`], nothing here filters by visibility: the merchant sees
//! everything. An import is all or nothing: every row is checked first, each bad row is
//! reported with its line, and only a clean file is written, in one transaction. This module
//! must never touch visibility grants (see [`super::availability`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, TransactionSession, TransactionTrait,
};
use serde::Serialize;
use storebot_entity::{category, product, variant};

use crate::store::bulk::in_chunks;
use crate::store::shoppers::questions::non_empty;
use crate::store::{StoreError, begin_write};

/// A category and how many products it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CategoryRow {
    #[serde(flatten)]
    pub category: category::Model,
    pub products: usize,
}

/// A product with its category's name and all its variants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProductRow {
    #[serde(flatten)]
    pub product: product::Model,
    pub category: Option<String>,
    pub variants: Vec<variant::Model>,
}

/// What the merchant gives to create a product.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewProduct {
    pub title: String,
    pub description: String,
    pub category: Option<String>,
    pub brand: Option<String>,
    pub active: bool,
}

/// Changes to a product; `None` leaves a field alone, `Some(None)` clears an optional one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductEdit {
    pub title: Option<String>,
    pub description: Option<String>,
    pub category: Option<Option<String>>,
    pub brand: Option<Option<String>>,
    pub active: Option<bool>,
    /// The photo, checked by `images::check_source`; `Some(None)` removes it.
    pub image: Option<Option<String>>,
}

/// What the merchant gives to create a variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVariant {
    pub product_id: i64,
    pub sku: String,
    pub title: String,
    pub price: i64,
    pub stock: i32,
    pub active: bool,
}

/// Changes to a variant, found by SKU.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VariantEdit {
    pub title: Option<String>,
    pub price: Option<i64>,
    pub stock: Option<i32>,
    pub active: Option<bool>,
    /// The variant's own photo, checked by `images::check_source`; `Some(None)` removes it.
    pub image: Option<Option<String>>,
}

/// Every category in the merchant's order with its product count.
pub async fn categories(db: &impl ConnectionTrait) -> Result<Vec<CategoryRow>, StoreError> {
    let categories = category::Entity::find()
        .order_by_asc(category::Column::Position)
        .order_by_asc(category::Column::Name)
        .all(db)
        .await?;
    let products = product::Entity::find().all(db).await?;
    Ok(categories
        .into_iter()
        .map(|category| CategoryRow {
            products: products
                .iter()
                .filter(|product| product.category_id == Some(category.id))
                .count(),
            category,
        })
        .collect())
}

/// Adds a category at the end of the list.
pub async fn add_category<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    name: &str,
) -> Result<category::Model, StoreError> {
    let name = non_empty("category name", name)?;
    let txn = begin_write(db).await?;
    if find_category(&txn, &name).await?.is_some() {
        return Err(StoreError::Conflict(format!(
            "category `{name}` already exists"
        )));
    }
    let category = insert_category(&txn, &name).await?;
    txn.commit().await?;
    Ok(category)
}

/// Renames a category.
pub async fn rename_category<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    name: &str,
    new_name: &str,
) -> Result<category::Model, StoreError> {
    let new_name = non_empty("category name", new_name)?;
    let txn = begin_write(db).await?;
    let current = find_category(&txn, name)
        .await?
        .ok_or_else(|| StoreError::not_found("category", format!("`{name}`")))?;
    if find_category(&txn, &new_name).await?.is_some() {
        return Err(StoreError::Conflict(format!(
            "category `{new_name}` already exists"
        )));
    }
    let mut row = current.into_active_model();
    row.name = Set(new_name);
    let category = row.update(&txn).await?;
    txn.commit().await?;
    Ok(category)
}

/// Every product by title with its variants, optionally only one category's.
pub async fn products(
    db: &impl ConnectionTrait,
    category_name: Option<&str>,
) -> Result<Vec<ProductRow>, StoreError> {
    let mut query = product::Entity::find()
        .order_by_asc(product::Column::Title)
        .order_by_asc(product::Column::Id);
    if let Some(name) = category_name {
        let category = find_category(db, name)
            .await?
            .ok_or_else(|| StoreError::not_found("category", format!("`{name}`")))?;
        query = query.filter(product::Column::CategoryId.eq(category.id));
    }
    let products = query.all(db).await?;
    rows_for(db, products).await
}

/// One product with its variants.
pub async fn product(db: &impl ConnectionTrait, id: i64) -> Result<ProductRow, StoreError> {
    let product = product::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| StoreError::not_found("product", id))?;
    let mut rows = rows_for(db, vec![product]).await?;
    rows.pop()
        .ok_or_else(|| StoreError::not_found("product", id))
}

/// The variant with this SKU.
pub async fn variant_by_sku(
    db: &impl ConnectionTrait,
    sku: &str,
) -> Result<variant::Model, StoreError> {
    variant::Entity::find()
        .filter(variant::Column::Sku.eq(sku.trim()))
        .one(db)
        .await?
        .ok_or_else(|| StoreError::not_found("variant with SKU", format!("`{sku}`")))
}

/// Creates a product (creating its category by name if needed). It starts visible to all.
pub async fn add_product<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    new: &NewProduct,
    now: DateTime<Utc>,
) -> Result<ProductRow, StoreError> {
    let title = non_empty("product title", &new.title)?;
    let txn = begin_write(db).await?;
    let category_id = match &new.category {
        Some(name) => Some(category_id_or_create(&txn, name).await?.0),
        None => None,
    };
    let product = product::ActiveModel {
        title: Set(title),
        description: Set(new.description.trim().to_owned()),
        category_id: Set(category_id),
        brand: Set(clean(new.brand.as_deref())),
        active: Set(new.active),
        all_segments: Set(true),
        by_variant: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let row = self::product(&txn, product.id).await?;
    txn.commit().await?;
    Ok(row)
}

/// Changes a product's fields.
pub async fn edit_product<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    id: i64,
    edit: &ProductEdit,
    now: DateTime<Utc>,
) -> Result<ProductRow, StoreError> {
    let txn = begin_write(db).await?;
    let current = self::product(&txn, id).await?.product;
    let mut row = current.into_active_model();
    if let Some(title) = &edit.title {
        row.title = Set(non_empty("product title", title)?);
    }
    if let Some(description) = &edit.description {
        row.description = Set(description.trim().to_owned());
    }
    if let Some(category) = &edit.category {
        let id = match category {
            Some(name) => Some(category_id_or_create(&txn, name).await?.0),
            None => None,
        };
        row.category_id = Set(id);
    }
    if let Some(brand) = &edit.brand {
        row.brand = Set(clean(brand.as_deref()));
    }
    if let Some(active) = edit.active {
        row.active = Set(active);
    }
    if let Some(image) = &edit.image {
        row.image = Set(image.clone());
    }
    row.updated_at = Set(now);
    row.update(&txn).await?;
    let product = self::product(&txn, id).await?;
    txn.commit().await?;
    Ok(product)
}

/// Adds a variant to a product. SKUs are unique across the catalog.
pub async fn add_variant<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    new: &NewVariant,
) -> Result<variant::Model, StoreError> {
    let sku = check_sku(&new.sku)?;
    let title = non_empty("variant title", &new.title)?;
    check_money_and_stock(new.price, new.stock)?;
    let txn = begin_write(db).await?;
    self::product(&txn, new.product_id).await?;
    if variant::Entity::find()
        .filter(variant::Column::Sku.eq(sku.as_str()))
        .one(&txn)
        .await?
        .is_some()
    {
        return Err(StoreError::Conflict(format!("SKU `{sku}` is already used")));
    }
    let variant = variant::ActiveModel {
        product_id: Set(new.product_id),
        sku: Set(sku),
        title: Set(title),
        price: Set(new.price),
        stock: Set(new.stock),
        active: Set(new.active),
        // The same default as a new product: everybody may see it until restricted.
        all_segments: Set(true),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(variant)
}

/// Changes a variant's title, price, stock or active flag.
pub async fn edit_variant<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    sku: &str,
    edit: &VariantEdit,
) -> Result<variant::Model, StoreError> {
    let txn = begin_write(db).await?;
    let current = variant_by_sku(&txn, sku).await?;
    check_money_and_stock(
        edit.price.unwrap_or(current.price),
        edit.stock.unwrap_or(current.stock),
    )?;
    let mut row = current.into_active_model();
    if let Some(title) = &edit.title {
        row.title = Set(non_empty("variant title", title)?);
    }
    if let Some(price) = edit.price {
        row.price = Set(price);
    }
    if let Some(stock) = edit.stock {
        row.stock = Set(stock);
    }
    if let Some(active) = edit.active {
        row.active = Set(active);
    }
    if let Some(image) = &edit.image {
        row.image = Set(image.clone());
    }
    let variant = row.update(&txn).await?;
    txn.commit().await?;
    Ok(variant)
}

/// Every category's name by its id.
pub async fn category_names(
    db: &impl ConnectionTrait,
) -> Result<BTreeMap<i64, String>, StoreError> {
    Ok(category::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|category| (category.id, category.name))
        .collect())
}

async fn rows_for(
    db: &impl ConnectionTrait,
    products: Vec<product::Model>,
) -> Result<Vec<ProductRow>, StoreError> {
    let ids: Vec<i64> = products.iter().map(|product| product.id).collect();
    let mut variants: BTreeMap<i64, Vec<variant::Model>> = BTreeMap::new();
    let found = in_chunks(&ids, |chunk| {
        variant::Entity::find()
            .filter(variant::Column::ProductId.is_in(chunk))
            .order_by_asc(variant::Column::Id)
            .all(db)
    })
    .await?;
    for variant in found {
        variants
            .entry(variant.product_id)
            .or_default()
            .push(variant);
    }
    let categories = category_names(db).await?;
    Ok(products
        .into_iter()
        .map(|product| ProductRow {
            category: product
                .category_id
                .and_then(|id| categories.get(&id).cloned()),
            variants: variants.remove(&product.id).unwrap_or_default(),
            product,
        })
        .collect())
}

async fn find_category(
    db: &impl ConnectionTrait,
    name: &str,
) -> Result<Option<category::Model>, StoreError> {
    Ok(category::Entity::find()
        .filter(category::Column::Name.eq(name.trim()))
        .one(db)
        .await?)
}

async fn insert_category(
    db: &impl ConnectionTrait,
    name: &str,
) -> Result<category::Model, StoreError> {
    let position = category::Entity::find().all(db).await?.len() as i32 + 1;
    Ok(category::ActiveModel {
        name: Set(name.to_owned()),
        position: Set(position),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

/// The id of the category with this name, creating it when absent; and whether it was created.
async fn category_id_or_create(
    db: &impl ConnectionTrait,
    name: &str,
) -> Result<(i64, bool), StoreError> {
    let name = non_empty("category name", name)?;
    match find_category(db, &name).await? {
        Some(category) => Ok((category.id, false)),
        None => Ok((insert_category(db, &name).await?.id, true)),
    }
}

pub(super) fn check_sku(sku: &str) -> Result<String, StoreError> {
    let sku = non_empty("SKU", sku)?;
    if sku.chars().any(char::is_whitespace) {
        return Err(StoreError::Invalid(format!("SKU `{sku}` contains a space")));
    }
    if sku.len() > 64 {
        return Err(StoreError::Invalid(format!(
            "SKU `{sku}` is longer than 64 bytes"
        )));
    }
    Ok(sku)
}

fn check_money_and_stock(price: i64, stock: i32) -> Result<(), StoreError> {
    if price < 0 {
        return Err(StoreError::Invalid(format!(
            "the price {price} is negative"
        )));
    }
    if stock < 0 {
        return Err(StoreError::Invalid(format!(
            "the stock {stock} is negative"
        )));
    }
    Ok(())
}

pub(super) fn clean(text: Option<&str>) -> Option<String> {
    text.map(str::trim)
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDb;

    use crate::testing::noon as now;

    #[tokio::test]
    async fn products_and_variants_are_added_and_edited() {
        let test = TestDb::new().await.expect("test db");
        let tea = add_product(
            &test.db,
            &NewProduct {
                title: "Oolong".into(),
                category: Some("Tea".into()),
                active: true,
                ..Default::default()
            },
            now(),
        )
        .await
        .expect("product");
        assert_eq!(tea.category.as_deref(), Some("Tea"));
        let variant = add_variant(
            &test.db,
            &NewVariant {
                product_id: tea.product.id,
                sku: "O-1".into(),
                title: "100 g".into(),
                price: 900,
                stock: 3,
                active: true,
            },
        )
        .await
        .expect("variant");
        let error = add_variant(
            &test.db,
            &NewVariant {
                product_id: tea.product.id,
                sku: "O-1".into(),
                title: "200 g".into(),
                price: 900,
                stock: 3,
                active: true,
            },
        )
        .await
        .expect_err("duplicate");
        assert_eq!(error.to_string(), "SKU `O-1` is already used");
        let edited = edit_variant(
            &test.db,
            &variant.sku,
            &VariantEdit {
                stock: Some(-2),
                ..Default::default()
            },
        )
        .await
        .expect_err("negative");
        assert_eq!(edited.to_string(), "the stock -2 is negative");
        let edited = edit_variant(
            &test.db,
            "O-1",
            &VariantEdit {
                price: Some(1000),
                active: Some(false),
                ..Default::default()
            },
        )
        .await
        .expect("edit");
        assert_eq!((edited.price, edited.active), (1000, false));
        let product = edit_product(
            &test.db,
            tea.product.id,
            &ProductEdit {
                category: Some(None),
                brand: Some(Some("Leafy".into())),
                ..Default::default()
            },
            now(),
        )
        .await
        .expect("edit product");
        assert_eq!(product.category, None);
        assert_eq!(product.product.brand.as_deref(), Some("Leafy"));
        let renamed = rename_category(&test.db, "Tea", "Teas")
            .await
            .expect("rename");
        assert_eq!(renamed.name, "Teas");
        let error = add_category(&test.db, "Teas").await.expect_err("dup");
        assert_eq!(error.to_string(), "category `Teas` already exists");
    }
}
