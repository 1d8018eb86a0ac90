//! `storebot-admin catalog`: categories, products, variants, and importing a catalog file.
//!
//! Import file columns (CSV header, or JSON object keys): `sku`, `product`, `variant`,
//! `price` (major units, `12.50`), `stock` are required; `active` (yes/no, default yes),
//! `category`, `brand`, `description`, `image` and `variant_image` (an https:// URL or a
//! JPEG/PNG path relative to the file, `none` to remove) are optional.

use std::path::PathBuf;

use anyhow::{Result, anyhow, bail};
use clap::Subcommand;
use serde_json::Value;
use storebot::store::catalog::editing::{
    self, ImportRow, NewProduct, NewVariant, ProductEdit, ProductRow, VariantEdit,
};
use storebot::store::catalog::images;

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
        file: PathBuf,
        /// `csv` or `json`; by default from the file's extension.
        #[arg(long)]
        format: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum CategoryCommand {
    List,
    Add {
        name: String,
    },
    Rename {
        name: String,
        #[arg(long)]
        to: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProductCommand {
    /// Every product with its variants.
    List {
        #[arg(long)]
        category: Option<String>,
    },
    Show {
        id: i64,
    },
    Add {
        #[arg(long)]
        title: Option<String>,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long)]
        category: Option<String>,
        #[arg(long)]
        brand: Option<String>,
        /// Create it hidden from shoppers.
        #[arg(long)]
        inactive: bool,
    },
    Edit {
        id: i64,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// A category name; an empty one takes the product out of its category.
        #[arg(long)]
        category: Option<String>,
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
    Add {
        /// The product's id.
        #[arg(long)]
        product: i64,
        #[arg(long)]
        sku: String,
        #[arg(long)]
        title: String,
        /// In major units of the store's currency, e.g. 12.50.
        #[arg(long)]
        price: String,
        #[arg(long, default_value_t = 0)]
        stock: i32,
        #[arg(long)]
        inactive: bool,
    },
    Edit {
        sku: String,
        #[arg(long)]
        title: Option<String>,
        /// In major units of the store's currency, e.g. 12.50.
        #[arg(long)]
        price: Option<String>,
        #[arg(long)]
        stock: Option<i32>,
        #[arg(long, value_parser = parse_flag)]
        active: Option<bool>,
        /// The variant's own photo (shown instead of the product's when it is chosen): an
        /// https:// URL, a JPEG/PNG file, or `none` to remove it.
        #[arg(long)]
        image: Option<String>,
    },
}

pub async fn run(cx: &Context, command: Command) -> Result<()> {
    let db = &cx.db;
    match command {
        Command::Category(CategoryCommand::List) => {
            let rows = editing::categories(db).await?;
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
        }
        Command::Category(CategoryCommand::Add { name }) => {
            let category = editing::add_category(db, &name).await?;
            if !cx.json_out(&category)? {
                println!("Added category {} `{}`.", category.id, category.name);
            }
        }
        Command::Category(CategoryCommand::Rename { name, to }) => {
            let category = editing::rename_category(db, &name, &to).await?;
            if !cx.json_out(&category)? {
                println!("Category {} is now `{}`.", category.id, category.name);
            }
        }
        Command::Product(ProductCommand::List { category }) => {
            let rows = editing::products(db, category.as_deref()).await?;
            if !cx.json_out(&rows)? {
                print_products(&rows, &cx.settings.store.currency);
            }
        }
        Command::Product(ProductCommand::Show { id }) => {
            let row = editing::product(db, id).await?;
            if !cx.json_out(&row)? {
                print_products(std::slice::from_ref(&row), &cx.settings.store.currency);
            }
        }
        Command::Product(ProductCommand::Add {
            title,
            description,
            category,
            brand,
            inactive,
        }) => {
            let title = cx.prompt.text(title, "--title", "Product title")?;
            let new = NewProduct {
                title,
                description,
                category,
                brand,
                active: !inactive,
            };
            let row = editing::add_product(db, &new, cx.now()).await?;
            if !cx.json_out(&row)? {
                println!(
                    "Added product {} `{}`; add variants with `storebot-admin catalog variant add --product {}`.",
                    row.product.id, row.product.title, row.product.id
                );
            }
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
                    .map(|given| images::check_source(&given, std::path::Path::new(".")))
                    .transpose()?,
            };
            if edit == ProductEdit::default() {
                bail!(
                    "nothing to change: give --title, --description, --category, --brand, --active or --image"
                );
            }
            let row = editing::edit_product(db, id, &edit, cx.now()).await?;
            if !cx.json_out(&row)? {
                print_products(std::slice::from_ref(&row), &cx.settings.store.currency);
            }
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
            let variant = editing::add_variant(db, &new).await?;
            if !cx.json_out(&variant)? {
                println!("Added variant {} `{}`.", variant.id, variant.sku);
            }
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
                    .map(|given| images::check_source(&given, std::path::Path::new(".")))
                    .transpose()?,
            };
            if edit == VariantEdit::default() {
                bail!("nothing to change: give --title, --price, --stock, --active or --image");
            }
            let variant = editing::edit_variant(db, &sku, &edit).await?;
            if !cx.json_out(&variant)? {
                println!(
                    "Variant `{}`: {}, {} {}, stock {}, {}.",
                    variant.sku,
                    variant.title,
                    money(variant.price, &cx.settings.store.currency),
                    cx.settings.store.currency,
                    variant.stock,
                    if variant.active { "active" } else { "inactive" }
                );
            }
        }
        Command::Import { file, format } => {
            let text = crate::files::read_text(&file)?;
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
            let rows = match format.as_str() {
                "csv" => rows_from_csv(&text, &cx.settings.store.currency)?,
                "json" => rows_from_json(&text, &cx.settings.store.currency)?,
                other => bail!("format `{other}` is unknown: use csv or json"),
            };
            let base = file
                .parent()
                .filter(|dir| !dir.as_os_str().is_empty())
                .unwrap_or_else(|| std::path::Path::new("."));
            let rows = resolve_images(rows, base)?;
            let report = editing::import(db, &rows, cx.now()).await?;
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
        }
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

/// Parses a catalog CSV into rows, reporting every bad row (with its line) at once.
/// Catalog rows from CSV, prices in `currency`'s major units.
pub fn rows_from_csv(text: &str, currency: &str) -> Result<Vec<ImportRow>> {
    let records = csv::records(text, &REQUIRED, &OPTIONAL).map_err(nothing_imported)?;
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for record in records {
        match row_from_fields(record.line, currency, |name| {
            record.get(name).map(str::to_owned)
        }) {
            Ok(row) => rows.push(row),
            Err(reasons) => problems.extend(reasons),
        }
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(anyhow!(editing::bad_rows(problems)))
    }
}

/// Parses a JSON array of row objects; errors name the line each object starts on.
/// Catalog rows from a JSON array, prices in `currency`'s major units.
pub fn rows_from_json(text: &str, currency: &str) -> Result<Vec<ImportRow>> {
    let value: Value = serde_json::from_str(text)
        .map_err(|error| anyhow!("the file is not valid JSON: {error}; nothing was imported"))?;
    let Value::Array(items) = value else {
        bail!("the file must hold a JSON array of rows; nothing was imported");
    };
    let lines = csv::json_item_lines(text);
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let line = lines.get(index).copied().unwrap_or(index + 1);
        let Value::Object(object) = item else {
            problems.push(format!("line {line}: the row is not an object"));
            continue;
        };
        if let Some(unknown) = object
            .keys()
            .find(|key| !REQUIRED.contains(&key.as_str()) && !OPTIONAL.contains(&key.as_str()))
        {
            problems.push(format!("line {line}: unknown field `{unknown}`"));
            continue;
        }
        let field = |name: &str| match object.get(name) {
            Some(Value::String(text)) => Some(text.trim().to_owned()).filter(|t| !t.is_empty()),
            Some(Value::Null) | None => None,
            Some(other) => Some(other.to_string()),
        };
        match row_from_fields(line, currency, field) {
            Ok(row) => rows.push(row),
            Err(reasons) => problems.extend(reasons),
        }
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(anyhow!(editing::bad_rows(problems)))
    }
}

fn row_from_fields(
    line: usize,
    currency: &str,
    field: impl Fn(&str) -> Option<String>,
) -> std::result::Result<ImportRow, Vec<String>> {
    let mut problems = Vec::new();
    let mut required = |name: &str| {
        field(name).unwrap_or_else(|| {
            problems.push(format!("line {line}: `{name}` is empty"));
            String::new()
        })
    };
    let sku = required("sku");
    let product = required("product");
    let variant = required("variant");
    let price_text = required("price");
    let stock_text = required("stock");
    let mut parse = |result: Result<i64>| match result {
        Ok(value) => value,
        Err(error) => {
            problems.push(format!("line {line}: {error}"));
            0
        }
    };
    let price = if price_text.is_empty() {
        0
    } else {
        parse(parse_money(&price_text, currency))
    };
    let stock = if stock_text.is_empty() {
        0
    } else {
        parse(parse_stock(&stock_text).map(i64::from))
    };
    let active = match field("active") {
        Some(text) => parse(parse_flag(&text).map(i64::from)) != 0,
        None => true,
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(ImportRow {
        line,
        sku,
        product,
        variant,
        price,
        stock: i32::try_from(stock).unwrap_or(i32::MAX),
        active,
        category: field("category"),
        brand: field("brand"),
        description: field("description"),
        // Checked against the file's directory once the whole file is read (`resolve_images`).
        image: field("image").map(Some),
        variant_image: field("variant_image").map(Some),
    })
}

/// Checks each row's `image` and `variant_image` (an `https://` URL, or a JPEG/PNG path
/// relative to the file's directory, or `none` to clear), reporting every bad one with its
/// line before anything is imported.
fn resolve_images(rows: Vec<ImportRow>, base: &std::path::Path) -> Result<Vec<ImportRow>> {
    let mut problems = Vec::new();
    let mut resolved = Vec::with_capacity(rows.len());
    for mut row in rows {
        for image in [&mut row.image, &mut row.variant_image] {
            if let Some(Some(given)) = image.as_ref() {
                match images::check_source(given, base) {
                    Ok(source) => *image = Some(source),
                    Err(error) => problems.push(format!("line {}: {error}", row.line)),
                }
            }
        }
        resolved.push(row);
    }
    if problems.is_empty() {
        Ok(resolved)
    } else {
        Err(anyhow!(editing::bad_rows(problems)))
    }
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
