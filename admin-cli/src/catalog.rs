//! `storebot-admin catalog`: categories, products, variants, and importing a catalog file.
//!
//! Import file columns (CSV header, or JSON object keys): `sku`, `product`, `variant`,
//! `price` (major units, `12.50`), `stock` are required; `active` (yes/no, default yes),
//! `category`, `brand`, `description`, `image` and `variant_image` (an https:// URL or a
//! JPEG/PNG path relative to the file, `none` to remove) are optional.

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use clap::Subcommand;
use serde_json::Value;
use storebot::store::StoreError;
use storebot::store::catalog::editing::{
    self, NewProduct, NewVariant, ProductEdit, ProductRow, VariantEdit,
};
use storebot::store::catalog::images;
use storebot::store::catalog::import::{self, ImportRow};

use crate::context::Context;
use crate::csv;
use crate::format::{money, parse_flag, parse_money, parse_stock};
use crate::table::Table;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List categories, or add or rename one.
    #[command(subcommand)]
    Category(CategoryCommand),
    /// List, show, add or edit products.
    #[command(subcommand)]
    Product(ProductCommand),
    /// Add or edit variants.
    #[command(subcommand)]
    Variant(VariantCommand),
    /// Import a catalog from CSV or JSON, all or nothing; re-importing updates by SKU.
    Import {
        /// The catalog file: CSV with a header, or JSON.
        file: PathBuf,
        /// `csv` or `json`; by default from the file's extension.
        #[arg(long)]
        format: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum CategoryCommand {
    /// Categories with their products.
    List,
    /// Add a category.
    Add {
        /// The category's name as shoppers see it.
        name: String,
    },
    /// Rename a category.
    Rename {
        /// The category's current name.
        name: String,
        /// Its new name.
        #[arg(long)]
        to: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProductCommand {
    /// Products with their variants, the first 50 unless told otherwise.
    List {
        /// Only the products of this category.
        #[arg(long)]
        category: Option<String>,
        /// Show at most this many products in the table (default 50); the rest are counted
        /// below it. `--json` lists every one.
        #[arg(long)]
        limit: Option<u64>,
        /// Show every product in the table.
        #[arg(long, conflicts_with = "limit")]
        all: bool,
    },
    /// One product with its variants, stock and audiences.
    Show {
        /// The product's id.
        id: i64,
    },
    /// Add a product (asks for a missing title in a terminal); variants come next.
    Add {
        /// The product's title as shoppers see it.
        #[arg(long)]
        title: Option<String>,
        /// Text shown under the title.
        #[arg(long, default_value = "")]
        description: String,
        /// The category's name.
        #[arg(long)]
        category: Option<String>,
        /// The brand, for product segments and search.
        #[arg(long)]
        brand: Option<String>,
        /// Create it hidden from shoppers.
        #[arg(long)]
        inactive: bool,
    },
    /// Change a product's title, description, category, brand, visibility or photo.
    Edit {
        /// The product's id.
        id: i64,
        /// The new title.
        #[arg(long)]
        title: Option<String>,
        /// The new description.
        #[arg(long)]
        description: Option<String>,
        /// A category name; an empty one takes the product out of its category.
        #[arg(long)]
        category: Option<String>,
        /// The brand; an empty one removes it.
        #[arg(long)]
        brand: Option<String>,
        /// `yes` or `no`.
        #[arg(long, value_parser = parse_flag)]
        active: Option<bool>,
        /// The product's photo: an https:// URL, a JPEG/PNG file, or `none` to remove it.
        #[arg(long)]
        image: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum VariantCommand {
    /// Add a variant (a size, a colour) to a product.
    Add {
        /// The product's id.
        #[arg(long)]
        product: i64,
        /// The variant's stock-keeping unit, unique in the shop.
        #[arg(long)]
        sku: String,
        /// The variant's name as shoppers see it, e.g. `100 g`.
        #[arg(long)]
        title: String,
        /// In major units of the store's currency, e.g. 12.50.
        #[arg(long)]
        price: String,
        /// Units in stock.
        #[arg(long, default_value_t = 0)]
        stock: i32,
        /// Create it hidden from shoppers.
        #[arg(long)]
        inactive: bool,
    },
    /// Change a variant's title, price, stock, visibility or photo.
    Edit {
        /// The variant's SKU.
        sku: String,
        /// The new title.
        #[arg(long)]
        title: Option<String>,
        /// In major units of the store's currency, e.g. 12.50.
        #[arg(long)]
        price: Option<String>,
        /// Units in stock.
        #[arg(long)]
        stock: Option<i32>,
        /// `yes` or `no`.
        #[arg(long, value_parser = parse_flag)]
        active: Option<bool>,
        /// The variant's own photo (shown instead of the product's when it is chosen): an
        /// https:// URL, a JPEG/PNG file, or `none` to remove it.
        #[arg(long)]
        image: Option<String>,
    },
}

pub async fn run(cx: &Context, command: Command) -> Result<()> {
    match command {
        Command::Category(CategoryCommand::List) => list_categories(cx).await,
        Command::Category(CategoryCommand::Add { name }) => add_category(cx, &name).await,
        Command::Category(CategoryCommand::Rename { name, to }) => {
            rename_category(cx, &name, &to).await
        }
        Command::Product(ProductCommand::List {
            category,
            limit,
            all,
        }) => list_products(cx, category.as_deref(), crate::table::page(limit, all)).await,
        Command::Product(ProductCommand::Show { id }) => show_product(cx, id).await,
        Command::Product(ProductCommand::Add {
            title,
            description,
            category,
            brand,
            inactive,
        }) => {
            let new = NewProduct {
                title: cx.prompt.text(title, "--title", "Product title")?,
                description,
                category,
                brand,
                active: !inactive,
            };
            add_product(cx, &new).await
        }
        Command::Product(ProductCommand::Edit {
            id,
            title,
            description,
            category,
            brand,
            active,
            image,
        }) => {
            let edit = ProductEdit {
                title,
                description,
                category: category.map(|name| Some(name).filter(|name| !name.trim().is_empty())),
                brand: brand.map(|brand| Some(brand).filter(|brand| !brand.trim().is_empty())),
                active,
                // A relative path is taken from the directory the command runs in.
                image: image
                    .map(|given| images::check_source(&given, Path::new(".")))
                    .transpose()?,
            };
            edit_product(cx, id, &edit).await
        }
        Command::Variant(VariantCommand::Add {
            product,
            sku,
            title,
            price,
            stock,
            inactive,
        }) => {
            let new = NewVariant {
                product_id: product,
                sku,
                title,
                price: parse_money(&price, &cx.settings.store.currency)?,
                stock,
                active: !inactive,
            };
            add_variant(cx, &new).await
        }
        Command::Variant(VariantCommand::Edit {
            sku,
            title,
            price,
            stock,
            active,
            image,
        }) => {
            let edit = VariantEdit {
                title,
                price: price
                    .map(|price| parse_money(&price, &cx.settings.store.currency))
                    .transpose()?,
                stock,
                active,
                image: image
                    .map(|given| images::check_source(&given, Path::new(".")))
                    .transpose()?,
            };
            edit_variant(cx, &sku, &edit).await
        }
        Command::Import { file, format } => import(cx, &file, format).await,
    }
}

async fn list_categories(cx: &Context) -> Result<()> {
    let rows = editing::categories(&cx.db).await?;
    if !cx.json_out(&rows)? {
        let mut table = Table::new(["id", "category", "products"]);
        for row in rows {
            table.row(vec![
                row.category.id.to_string(),
                row.category.name,
                row.products.to_string(),
            ]);
        }
        table.print("No categories yet.");
    }
    Ok(())
}

async fn add_category(cx: &Context, name: &str) -> Result<()> {
    let category = editing::add_category(&cx.db, name).await?;
    if !cx.json_out(&category)? {
        println!("Added category {} `{}`.", category.id, category.name);
    }
    Ok(())
}

async fn rename_category(cx: &Context, name: &str, to: &str) -> Result<()> {
    let category = editing::rename_category(&cx.db, name, to).await?;
    if !cx.json_out(&category)? {
        println!("Category {} is now `{}`.", category.id, category.name);
    }
    Ok(())
}

async fn list_products(cx: &Context, category: Option<&str>, page: Option<u64>) -> Result<()> {
    let rows = editing::products(&cx.db, category).await?;
    if !cx.json_out(&rows)? {
        let shown = page.map_or(rows.len(), |page| {
            rows.len().min(usize::try_from(page).unwrap_or(usize::MAX))
        });
        print_products(&rows[..shown], &cx.settings.store.currency);
        crate::table::print_more(shown, rows.len(), "products");
    }
    Ok(())
}

async fn show_product(cx: &Context, id: i64) -> Result<()> {
    let row = editing::product(&cx.db, id).await?;
    if !cx.json_out(&row)? {
        print_products(std::slice::from_ref(&row), &cx.settings.store.currency);
    }
    Ok(())
}

async fn add_product(cx: &Context, new: &NewProduct) -> Result<()> {
    let row = editing::add_product(&cx.db, new, cx.now()).await?;
    if !cx.json_out(&row)? {
        println!(
            "Added product {} `{}`; add variants with `storebot-admin catalog variant add --product {}`.",
            row.product.id, row.product.title, row.product.id
        );
    }
    Ok(())
}

async fn edit_product(cx: &Context, id: i64, edit: &ProductEdit) -> Result<()> {
    if *edit == ProductEdit::default() {
        bail!(
            "nothing to change: give --title, --description, --category, --brand, --active or --image"
        );
    }
    let row = editing::edit_product(&cx.db, id, edit, cx.now()).await?;
    if !cx.json_out(&row)? {
        print_products(std::slice::from_ref(&row), &cx.settings.store.currency);
    }
    Ok(())
}

async fn add_variant(cx: &Context, new: &NewVariant) -> Result<()> {
    let variant = editing::add_variant(&cx.db, new).await?;
    if !cx.json_out(&variant)? {
        println!("Added variant {} `{}`.", variant.id, variant.sku);
    }
    Ok(())
}

async fn edit_variant(cx: &Context, sku: &str, edit: &VariantEdit) -> Result<()> {
    if *edit == VariantEdit::default() {
        bail!("nothing to change: give --title, --price, --stock, --active or --image");
    }
    let variant = editing::edit_variant(&cx.db, sku, edit).await?;
    if !cx.json_out(&variant)? {
        let currency = &cx.settings.store.currency;
        println!(
            "Variant `{}`: {}, {} {currency}, stock {}, {}.",
            variant.sku,
            variant.title,
            money(variant.price, currency),
            variant.stock,
            if variant.active { "active" } else { "inactive" }
        );
    }
    Ok(())
}

/// Reads the whole file, checks every row (reading, photos, the store's own rules) and
/// reports every problem of every line at once; only a file without any is imported.
async fn import(cx: &Context, file: &Path, format: Option<String>) -> Result<()> {
    let text = crate::files::read_text(file)?;
    let format = match format {
        Some(format) => format.to_lowercase(),
        None => file
            .extension()
            .and_then(|ext| ext.to_str())
            .map(str::to_lowercase)
            .ok_or_else(|| {
                anyhow!(
                    "can't tell the format of {}: pass --format csv or --format json",
                    file.display()
                )
            })?,
    };
    let currency = &cx.settings.store.currency;
    let reading = match format.as_str() {
        "csv" => read_csv(&text, currency)?,
        "json" => read_json(&text, currency)?,
        other => bail!("format `{other}` is unknown: use csv or json"),
    };
    let base = file
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    let rows = checked(resolve_images(reading, base))?;
    let bar = crate::progress::bar(cx, rows.len(), "rows");
    let report = import::import_with_progress(&cx.db, &rows, cx.now(), &mut |done| {
        crate::progress::show(&bar, done, None);
    })
    .await;
    crate::progress::end(&bar, &report);
    let report = report?;
    if !cx.json_out(&report)? {
        println!(
            "Imported {} rows: {} products created, {} updated; {} variants created, {} updated; {} categories created.",
            rows.len(),
            report.products_created,
            report.products_updated,
            report.variants_created,
            report.variants_updated,
            report.categories_created
        );
    }
    Ok(())
}

const REQUIRED: [&str; 5] = ["sku", "product", "variant", "price", "stock"];
const OPTIONAL: [&str; 6] = [
    "active",
    "category",
    "brand",
    "description",
    "image",
    "variant_image",
];

/// A file read as far as it goes: a row for every record (a cell that can't be read stands in
/// as a value no later check objects to) and the problems met, each with its line.
#[derive(Debug, Default)]
pub struct Reading {
    pub rows: Vec<ImportRow>,
    pub problems: Vec<(usize, String)>,
}

/// Catalog rows from CSV, prices in `currency`'s major units; an unreadable header refuses the
/// file, a bad cell is one problem among the rest.
pub fn read_csv(text: &str, currency: &str) -> Result<Reading> {
    let records = csv::records(text, &REQUIRED, &OPTIONAL).map_err(nothing_imported)?;
    let mut reading = Reading::default();
    for record in records {
        let row = row_from_fields(record.line, currency, &mut reading.problems, |name| {
            record.get(name).map(str::to_owned)
        });
        reading.rows.push(row);
    }
    Ok(reading)
}

/// Catalog rows from a JSON array of row objects; problems name the line each object starts on.
pub fn read_json(text: &str, currency: &str) -> Result<Reading> {
    let value: Value = serde_json::from_str(text)
        .map_err(|error| anyhow!("the file is not valid JSON: {error}; nothing was imported"))?;
    let Value::Array(items) = value else {
        bail!("the file must hold a JSON array of rows; nothing was imported");
    };
    let lines = csv::json_item_lines(text);
    let mut reading = Reading::default();
    for (index, item) in items.iter().enumerate() {
        let line = lines.get(index).copied().unwrap_or(index + 1);
        let Value::Object(object) = item else {
            reading
                .problems
                .push((line, "the row is not an object".to_owned()));
            continue;
        };
        for unknown in object
            .keys()
            .filter(|key| !REQUIRED.contains(&key.as_str()) && !OPTIONAL.contains(&key.as_str()))
        {
            reading
                .problems
                .push((line, format!("unknown field `{unknown}`")));
        }
        let field = |name: &str| match object.get(name) {
            Some(Value::String(text)) => Some(text.trim().to_owned()).filter(|t| !t.is_empty()),
            Some(Value::Null) | None => None,
            Some(other) => Some(other.to_string()),
        };
        let row = row_from_fields(line, currency, &mut reading.problems, field);
        reading.rows.push(row);
    }
    Ok(reading)
}

/// The rows, or every problem of the reading and of the store's checks on the rows, in line
/// order, as one refusal.
pub fn checked(reading: Reading) -> Result<Vec<ImportRow>> {
    let mut problems = reading.problems;
    problems.extend(import::row_problems(&reading.rows));
    if problems.is_empty() {
        Ok(reading.rows)
    } else {
        Err(StoreError::bad_lines(problems).into())
    }
}

/// Catalog rows from CSV, or every problem met reading them (without the store's checks).
#[cfg(test)]
fn rows_from_csv(text: &str, currency: &str) -> Result<Vec<ImportRow>> {
    read_only(read_csv(text, currency)?)
}

/// Catalog rows from a JSON array, or every problem met reading them.
#[cfg(test)]
fn rows_from_json(text: &str, currency: &str) -> Result<Vec<ImportRow>> {
    read_only(read_json(text, currency)?)
}

#[cfg(test)]
fn read_only(reading: Reading) -> Result<Vec<ImportRow>> {
    if reading.problems.is_empty() {
        Ok(reading.rows)
    } else {
        Err(StoreError::bad_lines(reading.problems).into())
    }
}

/// One row from its cells. The text cells (`sku`, `product`, `variant`) are taken as they are,
/// for the store's checks to judge; a number that can't be read is a problem here and stands in
/// as 0, which no later check objects to, so it hides nothing else.
fn row_from_fields(
    line: usize,
    currency: &str,
    problems: &mut Vec<(usize, String)>,
    field: impl Fn(&str) -> Option<String>,
) -> ImportRow {
    let mut number = |name: &str, parse: &dyn Fn(&str) -> Result<i64>| match field(name) {
        None => {
            problems.push((line, format!("`{name}` is empty")));
            0
        }
        Some(text) => parse(&text).unwrap_or_else(|error| {
            problems.push((line, error.to_string()));
            0
        }),
    };
    let price = number("price", &|text| parse_money(text, currency));
    let stock = number("stock", &|text| parse_stock(text).map(i64::from));
    let active = match field("active").map(|text| parse_flag(&text)) {
        None => true,
        Some(Ok(active)) => active,
        Some(Err(error)) => {
            problems.push((line, error.to_string()));
            true
        }
    };
    ImportRow {
        line,
        sku: field("sku").unwrap_or_default(),
        product: field("product").unwrap_or_default(),
        variant: field("variant").unwrap_or_default(),
        price,
        stock: i32::try_from(stock).unwrap_or(i32::MAX),
        active,
        category: field("category"),
        brand: field("brand"),
        description: field("description"),
        // Checked against the file's directory once the whole file is read (`resolve_images`).
        image: field("image").map(Some),
        variant_image: field("variant_image").map(Some),
    }
}

/// Checks each row's `image` and `variant_image` (an `https://` URL, or a JPEG/PNG path
/// relative to the file's directory, or `none` to clear), adding every bad one, with its line,
/// to the reading's problems.
fn resolve_images(mut reading: Reading, base: &Path) -> Reading {
    for row in &mut reading.rows {
        for image in [&mut row.image, &mut row.variant_image] {
            if let Some(Some(given)) = image.as_ref() {
                match images::check_source(given, base) {
                    Ok(source) => *image = Some(source),
                    Err(error) => reading.problems.push((row.line, error.to_string())),
                }
            }
        }
    }
    reading
}

fn nothing_imported(reason: String) -> anyhow::Error {
    anyhow!("{reason}; nothing was imported")
}

fn print_products(rows: &[ProductRow], currency: &str) {
    let mut table = Table::new([
        "product", "title", "category", "active", "sku", "variant", "price", "stock", "v.active",
    ]);
    for row in rows {
        let product_cells = [
            row.product.id.to_string(),
            row.product.title.clone(),
            row.category.clone().unwrap_or_default(),
            yes_no(row.product.active),
        ];
        if row.variants.is_empty() {
            let mut cells = product_cells.to_vec();
            cells.push("(no variants)".into());
            table.row(cells);
        }
        for (index, variant) in row.variants.iter().enumerate() {
            let mut cells = if index == 0 {
                product_cells.to_vec()
            } else {
                vec![String::new(); 4]
            };
            cells.extend([
                variant.sku.clone(),
                variant.title.clone(),
                format!("{} {currency}", money(variant.price, currency)),
                variant.stock.to_string(),
                yes_no(variant.active),
            ]);
            table.row(cells);
        }
    }
    table.print("No products yet: add some with `storebot-admin catalog import FILE`.");
}

pub fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn csv_rows_become_import_rows_and_bad_ones_are_all_named() {
        let text = "sku,product,variant,price,stock,category\n\
                    G-1,Green tea,50 g,4.50,10,Tea\n\
                    G-2,Green tea,100 g,abc,x,Tea\n";
        let error = rows_from_csv(text, "EUR").expect_err("bad");
        assert_eq!(
            error.to_string(),
            "2 problems in the file, nothing was imported:\n  \
             line 3: `abc` is not an amount like 12.50\n  \
             line 3: `x` is not a whole number of items"
        );
        let good = rows_from_csv(
            "sku,product,variant,price,stock\nG-1,Tea,50 g,4.5,3\n",
            "EUR",
        )
        .expect("good");
        assert_eq!((good[0].line, good[0].price, good[0].stock), (2, 450, 3));
    }

    #[test]
    fn a_bad_cell_hides_none_of_the_store_checks() {
        let text = "sku,product,variant,price,stock\n\
                    A-1,Tea,50 g,abc,1\n\
                    A-1,Tea,100 g,2.00,-3\n\
                    B 2,,200 g,1.00,x\n";
        let error = checked(read_csv(text, "EUR").expect("read")).expect_err("bad");
        assert_eq!(
            error.to_string(),
            "6 problems in the file, nothing was imported:\n  \
             line 2: `abc` is not an amount like 12.50\n  \
             line 3: the stock -3 is negative\n  \
             line 3: SKU `A-1` already appears on line 2\n  \
             line 4: `x` is not a whole number of items\n  \
             line 4: SKU `B 2` contains a space\n  \
             line 4: `product` is empty"
        );
    }

    #[test]
    fn json_rows_name_their_lines() {
        let text = "[\n {\"sku\":\"A\",\"product\":\"P\",\"variant\":\"V\",\"price\":1.5,\"stock\":2},\n {\"sku\":\"B\",\"prodct\":\"P\"}\n]";
        let error = rows_from_json(text, "EUR").expect_err("bad");
        assert!(
            error.to_string().contains("line 3: unknown field `prodct`"),
            "{error}"
        );
    }

    proptest! {
        #[test]
        fn good_rows_round_trip_through_csv(
            rows in proptest::collection::vec(
                ("[A-Z0-9-]{1,8}", "[^\r\n\"\\x00]{1,10}", "[a-z ,\"]{1,10}", 0i64..1_000_000, 0i32..10_000, any::<bool>()),
                1..8)
        ) {
            let quote = |text: &str| format!("\"{}\"", text.replace('"', "\"\""));
            let mut text = String::from("sku,product,variant,price,stock,active\n");
            for (sku, product, variant, price, stock, active) in &rows {
                text.push_str(&format!(
                    "{},{},{},{},{},{}\n",
                    sku, quote(product), quote(variant), money(*price, "EUR"), stock,
                    if *active { "yes" } else { "no" }
                ));
            }
            let parsed = rows_from_csv(&text, "EUR");
            let blank = rows.iter().any(|(_, p, v, ..)| p.trim().is_empty() || v.trim().is_empty());
            prop_assume!(!blank);
            let parsed = parsed.expect("good rows parse");
            prop_assert_eq!(parsed.len(), rows.len());
            for (index, (row, (sku, product, variant, price, stock, active))) in parsed.iter().zip(&rows).enumerate() {
                prop_assert_eq!(row.line, index + 2);
                prop_assert_eq!(&row.sku, sku);
                prop_assert_eq!(&row.product, product.trim());
                prop_assert_eq!(&row.variant, variant.trim());
                prop_assert_eq!(row.price, *price);
                prop_assert_eq!(row.stock, *stock);
                prop_assert_eq!(row.active, *active);
            }
        }

        #[test]
        fn csv_import_parsing_never_panics(text in "\\PC*") {
            let _ = rows_from_csv(&text, "EUR");
            let _ = rows_from_json(&text, "EUR");
        }
    }
}
