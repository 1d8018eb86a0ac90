//! Importing a catalog file, all or nothing: every row is checked first and each bad one
//! reported with its line; a clean file is then written in one transaction.
//!
//! The write is planned in memory and done in a few statements per [`CHUNK`] rows, not several
//! per row: the file's categories, products and variants are read up front (variants by the
//! file's SKUs, in `IN` lists), new products and variants are inserted many to a statement, and
//! changed rows are updated many to a statement ([`update_by_id`]). A row that changes nothing
//! writes nothing, so a re-import of the same file is read-only.
//!
//! What a row means: a row whose SKU exists updates that variant, and the first row naming a
//! product updates the product's title, description, brand, category and photo; a new SKU joins
//! the product of that title (the oldest, should several share it), which is created from the
//! first row naming it when no product has it. This module must never touch visibility grants
//! (see [`super::availability`]).

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityName, EntityTrait, IdenStatic,
    QueryFilter, QueryOrder, TransactionSession, TransactionTrait,
};
use serde::Serialize;
use storebot_entity::{category, product, variant};

use super::editing::{check_sku, clean};
use crate::store::bulk::{CHUNK, update_by_id};
use crate::store::{StoreError, begin_write};

/// One row of an import file, already split into fields; `line` is where it was in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    pub line: usize,
    pub sku: String,
    pub product: String,
    pub variant: String,
    pub price: i64,
    pub stock: i32,
    pub active: bool,
    pub category: Option<String>,
    pub brand: Option<String>,
    pub description: Option<String>,
    /// The product's image, checked by `images::check_source`: `None` leaves it as it is,
    /// `Some(None)` clears it.
    pub image: Option<Option<String>>,
    /// The variant's own image, likewise.
    pub variant_image: Option<Option<String>>,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    pub categories_created: usize,
    pub products_created: usize,
    pub products_updated: usize,
    pub variants_created: usize,
    pub variants_updated: usize,
}

/// Every problem of every row, each with its line, in file order: a bad SKU, an empty title,
/// a negative price or stock, a SKU that appears twice. Nothing stops at the first problem, so
/// a file is fixed in one round; the admin tool adds what it found reading the file.
pub fn row_problems(rows: &[ImportRow]) -> Vec<(usize, String)> {
    let mut problems = Vec::new();
    let mut first_line_of_sku: HashMap<String, usize> = HashMap::new();
    for row in rows {
        let mut problem = |reason: String| problems.push((row.line, reason));
        // The columns are named as the file names them: the merchant fixes a cell, not a field.
        if row.sku.trim().is_empty() {
            problem("`sku` is empty".into());
        } else if let Err(error) = check_sku(&row.sku) {
            problem(error.to_string());
        }
        if row.product.trim().is_empty() {
            problem("`product` is empty".into());
        }
        if row.variant.trim().is_empty() {
            problem("`variant` is empty".into());
        }
        if row.price < 0 {
            problem(format!("the price {} is negative", row.price));
        }
        if row.stock < 0 {
            problem(format!("the stock {} is negative", row.stock));
        }
        if row.sku.trim().is_empty() {
            continue;
        }
        if let Some(first) = first_line_of_sku.get(row.sku.trim()) {
            problem(format!(
                "SKU `{}` already appears on line {first}",
                row.sku.trim()
            ));
        } else {
            first_line_of_sku.insert(row.sku.trim().to_owned(), row.line);
        }
    }
    problems
}

/// Imports rows all or nothing (see the module's documentation for what a row does). Every bad
/// row is reported, one line each, and then nothing is written.
pub async fn import<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    rows: &[ImportRow],
    now: DateTime<Utc>,
) -> Result<ImportReport, StoreError> {
    import_with_progress(db, rows, now, &mut |_| {}).await
}

/// [`import`], telling `on_rows` how many rows are written so far (for a progress bar; the
/// transaction commits only after the last).
pub async fn import_with_progress<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    rows: &[ImportRow],
    now: DateTime<Utc>,
    on_rows: &mut (dyn FnMut(usize) + Send),
) -> Result<ImportReport, StoreError> {
    let problems = row_problems(rows);
    if !problems.is_empty() {
        return Err(StoreError::bad_lines(problems));
    }
    if rows.is_empty() {
        return Err(StoreError::Invalid("the file has no rows".into()));
    }
    on_rows(0);
    let txn = begin_write(db).await?;
    let mut report = ImportReport::default();
    let category_ids = categories_of(&txn, rows, &mut report).await?;
    let known = Known::read(&txn, rows).await?;
    let plan = Plan::make(rows, &known, &category_ids);
    report.products_updated = plan.product_updates.len();
    report.variants_updated = plan.variant_updates.len();
    let mut done = rows.len() - plan.variant_updates.len() - plan.variant_inserts.len();
    on_rows(done);

    let mut new_product_ids = HashMap::new();
    for chunk in plan.new_products.chunks(CHUNK) {
        let models = chunk.iter().map(|new| product::ActiveModel {
            title: Set(new.title.clone()),
            description: Set(new.row.description.clone().unwrap_or_default()),
            category_id: Set(new.category_id),
            brand: Set(clean(new.row.brand.as_deref())),
            active: Set(true),
            all_segments: Set(true),
            by_variant: Set(false),
            image: Set(new.row.image.clone().flatten()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        });
        // The new titles are distinct, so each returned product is found by its title.
        for created in product::Entity::insert_many(models)
            .exec_with_returning(&txn)
            .await?
        {
            new_product_ids.insert(created.title, created.id);
        }
    }
    report.products_created = new_product_ids.len();
    update_products(&txn, &plan.product_updates, now).await?;

    for chunk in plan.variant_updates.chunks(CHUNK) {
        update_variants(&txn, chunk).await?;
        done += chunk.len();
        on_rows(done);
    }
    for chunk in plan.variant_inserts.chunks(CHUNK) {
        let mut models = Vec::with_capacity(chunk.len());
        for (product, row) in chunk {
            let product_id = match product {
                ProductOf::Existing(id) => *id,
                ProductOf::New(index) => {
                    let title = &plan.new_products[*index].title;
                    *new_product_ids.get(title).ok_or_else(|| {
                        StoreError::Invalid(format!("the product `{title}` was not created"))
                    })?
                }
            };
            models.push(variant::ActiveModel {
                product_id: Set(product_id),
                sku: Set(row.sku.trim().to_owned()),
                title: Set(row.variant.trim().to_owned()),
                price: Set(row.price),
                stock: Set(row.stock),
                active: Set(row.active),
                all_segments: Set(true),
                image: Set(row.variant_image.clone().flatten()),
                ..Default::default()
            });
        }
        variant::Entity::insert_many(models)
            .exec_without_returning(&txn)
            .await?;
        report.variants_created += chunk.len();
        done += chunk.len();
        on_rows(done);
    }
    txn.commit().await?;
    Ok(report)
}

/// The id of every category the rows name, creating the missing ones in file order after the
/// existing ones.
async fn categories_of(
    txn: &impl ConnectionTrait,
    rows: &[ImportRow],
    report: &mut ImportReport,
) -> Result<HashMap<String, i64>, StoreError> {
    let existing = category::Entity::find().all(txn).await?;
    let mut next_position = i32::try_from(existing.len()).unwrap_or(i32::MAX);
    let mut ids: HashMap<String, i64> = existing
        .into_iter()
        .map(|category| (category.name, category.id))
        .collect();
    for name in rows.iter().filter_map(|row| category_name(row)) {
        if ids.contains_key(name) {
            continue;
        }
        next_position = next_position.saturating_add(1);
        let created = category::ActiveModel {
            name: Set(name.to_owned()),
            position: Set(next_position),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        ids.insert(created.name, created.id);
        report.categories_created += 1;
    }
    Ok(ids)
}

fn category_name(row: &ImportRow) -> Option<&str> {
    row.category
        .as_deref()
        .map(str::trim)
        .filter(|name| !name.is_empty())
}

/// What the database holds that the rows may name: every product (by id, and the oldest of each
/// title) and the variants of the file's SKUs.
struct Known {
    products: HashMap<i64, product::Model>,
    product_of_title: HashMap<String, i64>,
    variant_of_sku: HashMap<String, variant::Model>,
}

impl Known {
    async fn read(txn: &impl ConnectionTrait, rows: &[ImportRow]) -> Result<Self, StoreError> {
        let mut products = HashMap::new();
        let mut product_of_title = HashMap::new();
        for found in product::Entity::find()
            .order_by_asc(product::Column::Id)
            .all(txn)
            .await?
        {
            product_of_title
                .entry(found.title.clone())
                .or_insert(found.id);
            products.insert(found.id, found);
        }
        let skus: BTreeSet<&str> = rows.iter().map(|row| row.sku.trim()).collect();
        let skus: Vec<&str> = skus.into_iter().collect();
        let mut variant_of_sku = HashMap::new();
        for chunk in skus.chunks(CHUNK) {
            for found in variant::Entity::find()
                .filter(variant::Column::Sku.is_in(chunk.iter().copied()))
                .all(txn)
                .await?
            {
                variant_of_sku.insert(found.sku.clone(), found);
            }
        }
        Ok(Self {
            products,
            product_of_title,
            variant_of_sku,
        })
    }
}

/// A new variant's product: one that exists, or the n-th of the plan's new products.
enum ProductOf {
    Existing(i64),
    New(usize),
}

/// A product to create, from the first row naming it.
struct NewProduct<'a> {
    title: String,
    category_id: Option<i64>,
    row: &'a ImportRow,
}

/// Every write the import makes, worked out before the first one.
struct Plan<'a> {
    new_products: Vec<NewProduct<'a>>,
    /// Existing products as they should be, only those that change.
    product_updates: Vec<product::Model>,
    /// Existing variants as they should be, only those that change.
    variant_updates: Vec<variant::Model>,
    variant_inserts: Vec<(ProductOf, &'a ImportRow)>,
}

impl<'a> Plan<'a> {
    fn make(rows: &'a [ImportRow], known: &Known, category_ids: &HashMap<String, i64>) -> Self {
        let mut plan = Plan {
            new_products: Vec::new(),
            product_updates: Vec::new(),
            variant_updates: Vec::new(),
            variant_inserts: Vec::new(),
        };
        let mut new_of_title: HashMap<String, usize> = HashMap::new();
        let mut touched: HashSet<i64> = HashSet::new();
        for row in rows {
            let category_id = category_name(row).and_then(|name| category_ids.get(name).copied());
            let title = row.product.trim();
            let existing = known.variant_of_sku.get(row.sku.trim());
            let product = match existing {
                Some(variant) => ProductOf::Existing(variant.product_id),
                None => match known.product_of_title.get(title) {
                    Some(id) => ProductOf::Existing(*id),
                    None => {
                        ProductOf::New(*new_of_title.entry(title.to_owned()).or_insert_with(|| {
                            plan.new_products.push(NewProduct {
                                title: title.to_owned(),
                                category_id,
                                row,
                            });
                            plan.new_products.len() - 1
                        }))
                    }
                },
            };
            if let ProductOf::Existing(id) = product
                && touched.insert(id)
                && let Some(current) = known.products.get(&id)
            {
                let wanted = product_as_row_says(current, row, category_id);
                // Compare first: a re-import of the same file updates nothing.
                if &wanted != current {
                    plan.product_updates.push(wanted);
                }
            }
            match existing {
                Some(current) => {
                    let mut wanted = current.clone();
                    wanted.title = row.variant.trim().to_owned();
                    wanted.price = row.price;
                    wanted.stock = row.stock;
                    wanted.active = row.active;
                    if let Some(image) = &row.variant_image {
                        wanted.image = image.clone();
                    }
                    if &wanted != current {
                        plan.variant_updates.push(wanted);
                    }
                }
                None => plan.variant_inserts.push((product, row)),
            }
        }
        plan
    }
}

/// The product as the first row naming it describes it; what the row leaves out stays.
fn product_as_row_says(
    current: &product::Model,
    row: &ImportRow,
    category_id: Option<i64>,
) -> product::Model {
    let mut wanted = current.clone();
    wanted.title = row.product.trim().to_owned();
    if let Some(description) = &row.description {
        wanted.description = description.trim().to_owned();
    }
    if row.brand.is_some() {
        wanted.brand = clean(row.brand.as_deref());
    }
    if category_id.is_some() {
        wanted.category_id = category_id;
    }
    if let Some(image) = &row.image {
        wanted.image = image.clone();
    }
    wanted
}

/// Writes the products' new fields, many to a statement; `updated_at` becomes `now`.
async fn update_products(
    txn: &impl ConnectionTrait,
    wanted: &[product::Model],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    use product::Column;
    let columns = [
        Column::Title,
        Column::Description,
        Column::Brand,
        Column::CategoryId,
        Column::Image,
        Column::UpdatedAt,
    ];
    let rows = wanted
        .iter()
        .map(|product| {
            let values = vec![
                product.title.clone().into(),
                product.description.clone().into(),
                product.brand.clone().into(),
                product.category_id.into(),
                product.image.clone().into(),
                now.into(),
            ];
            (product.id, values)
        })
        .collect();
    let names = columns.map(|column| column.as_str());
    update_by_id(txn, product::Entity.table_name(), &names, rows).await
}

/// Writes the variants' new fields, many to a statement.
async fn update_variants(
    txn: &impl ConnectionTrait,
    wanted: &[variant::Model],
) -> Result<(), StoreError> {
    use variant::Column;
    let columns = [
        Column::Title,
        Column::Price,
        Column::Stock,
        Column::Active,
        Column::Image,
    ];
    let rows = wanted
        .iter()
        .map(|variant| {
            let values = vec![
                variant.title.clone().into(),
                variant.price.into(),
                variant.stock.into(),
                variant.active.into(),
                variant.image.clone().into(),
            ];
            (variant.id, values)
        })
        .collect();
    let names = columns.map(|column| column.as_str());
    update_by_id(txn, variant::Entity.table_name(), &names, rows).await
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::store::catalog::editing::{categories, products, variant_by_sku};
    use crate::testing::TestDb;

    pub(crate) use crate::testing::noon as now;

    pub(crate) fn row(line: usize, sku: &str, product: &str, price: i64) -> ImportRow {
        ImportRow {
            line,
            sku: sku.into(),
            product: product.into(),
            variant: format!("{sku} variant"),
            price,
            stock: 5,
            active: true,
            category: Some("Tea".into()),
            brand: None,
            description: None,
            image: None,
            variant_image: None,
        }
    }

    #[tokio::test]
    async fn import_creates_then_updates_by_sku() {
        let test = TestDb::new().await.expect("test db");
        let rows = [
            row(2, "G-50", "Green tea", 450),
            row(3, "G-100", "Green tea", 800),
            row(4, "B-50", "Black tea", 400),
        ];
        let report = import(&test.db, &rows, now()).await.expect("import");
        assert_eq!(
            report,
            ImportReport {
                categories_created: 1,
                products_created: 2,
                products_updated: 0,
                variants_created: 3,
                variants_updated: 0,
            }
        );
        let again = [
            row(2, "G-50", "Green tea", 500),
            row(3, "G-100", "Green tea", 800),
        ];
        let report = import(&test.db, &again, now()).await.expect("re-import");
        assert_eq!(report.variants_created, 0);
        assert_eq!(report.variants_updated, 1);
        assert_eq!(report.products_created, 0);
        assert_eq!(report.products_updated, 0);
        let same = import(&test.db, &again, now()).await.expect("same again");
        assert_eq!(same, ImportReport::default());
        let all = products(&test.db, None).await.expect("products");
        assert_eq!(all.len(), 2);
        assert_eq!(
            variant_by_sku(&test.db, "G-50").await.expect("sku").price,
            500
        );
        assert_eq!(
            categories(&test.db).await.expect("categories")[0].products,
            2
        );
    }

    #[tokio::test]
    async fn a_file_of_many_statements_writes_every_row_where_it_belongs() {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        // 1,203 rows, three variants to a product, in seven categories: more than two
        // statements' worth of each kind of write.
        let first: Vec<ImportRow> = (0..1203_usize)
            .map(|n| ImportRow {
                category: Some(format!("Cat {}", n % 7)),
                ..row(
                    n + 2,
                    &format!("S-{n}"),
                    &format!("P {}", n / 3),
                    100 + n as i64,
                )
            })
            .collect();
        let report = import(db, &first, now()).await.expect("import");
        assert_eq!(
            report,
            ImportReport {
                categories_created: 7,
                products_created: 401,
                products_updated: 0,
                variants_created: 1203,
                variants_updated: 0,
            }
        );
        for n in [0_usize, 499, 500, 501, 1000, 1202] {
            let variant = variant_by_sku(db, &format!("S-{n}")).await.expect("sku");
            assert_eq!(variant.price, 100 + n as i64, "S-{n}");
            let product = product::Entity::find_by_id(variant.product_id)
                .one(db)
                .await
                .expect("query")
                .expect("product");
            assert_eq!(product.title, format!("P {}", n / 3), "S-{n}");
        }

        // Every other price changes, one product gets a description, and 600 new rows make
        // 200 new products in a new category.
        let mut second = first.clone();
        for changed in second.iter_mut().step_by(2) {
            changed.price += 1;
        }
        second[0].description = Some("Fresh".into());
        second.extend(
            (1203..1803_usize).map(|n| row(n + 2, &format!("S-{n}"), &format!("P {}", n / 3), 1)),
        );
        let report = import(db, &second, now()).await.expect("second import");
        assert_eq!(
            report,
            ImportReport {
                categories_created: 1,
                products_created: 200,
                products_updated: 1,
                variants_created: 600,
                variants_updated: 602,
            }
        );
        assert_eq!(variant_by_sku(db, "S-1000").await.expect("sku").price, 1101);
        assert_eq!(variant_by_sku(db, "S-1001").await.expect("sku").price, 1101);
        assert_eq!(products(db, None).await.expect("products").len(), 601);
        let fresh = products(db, None)
            .await
            .expect("products")
            .into_iter()
            .find(|row| row.product.title == "P 0")
            .expect("P 0");
        assert_eq!(fresh.product.description, "Fresh");
        assert_eq!(fresh.variants.len(), 3);

        // The same file again changes nothing.
        let report = import(db, &second, now()).await.expect("third import");
        assert_eq!(report, ImportReport::default());
    }

    #[tokio::test]
    async fn a_bad_row_reports_every_line_and_imports_nothing() {
        let test = TestDb::new().await.expect("test db");
        let rows = [
            row(2, "G-50", "Green tea", 450),
            row(3, "G 1", "Green tea", 450),
            row(4, "B-50", " ", -1),
            row(5, "G-50", "Green tea", 450),
        ];
        let error = import(&test.db, &rows, now()).await.expect_err("bad");
        assert_eq!(
            error.to_string(),
            "4 problems in the file, nothing was imported:\n  \
             line 3: SKU `G 1` contains a space\n  \
             line 4: `product` is empty\n  \
             line 4: the price -1 is negative\n  \
             line 5: SKU `G-50` already appears on line 2"
        );
        assert!(products(&test.db, None).await.expect("products").is_empty());
        assert!(categories(&test.db).await.expect("categories").is_empty());
    }
}
