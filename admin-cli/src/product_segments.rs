//! `storebot-admin product-segments`: product segments, the named rules over the catalog
//! (category, brand, price range, title/SKU text, in stock) whose variants a customer segment
//! can be granted. Create, edit, list, show, "see products", "see uses", delete, grant and
//! revoke. A rule comes from flags, or in a terminal from a wizard when no condition flag is
//! given.

use anyhow::{Result, anyhow, bail};
use clap::Subcommand;
use storebot::product_rule::ProductRule;
use storebot::store::catalog::editing;
use storebot::store::catalog::product_segments::{
    self, ProductSegment, ProductSegmentDraft, ProductSegmentEdit,
};

use crate::context::Context;
use crate::format::{money, parse_flag, parse_money};
use crate::table::Table;

/// The rule's conditions as flags; on `edit` each one given replaces that condition.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RuleFlags {
    /// A category (name or id) the product must be in; repeat for "one of". On edit, `none`
    /// clears.
    #[arg(long = "category")]
    categories: Vec<String>,
    /// A brand the product must have (ASCII case ignored); repeat for "one of". On edit,
    /// `none` clears.
    #[arg(long = "brand")]
    brands: Vec<String>,
    /// Lowest price, inclusive, in major units (`12.50`); `none` clears on edit.
    #[arg(long)]
    min_price: Option<String>,
    /// Highest price, inclusive; `none` clears on edit.
    #[arg(long)]
    max_price: Option<String>,
    /// Text the product title, variant title or SKU must contain; `none` clears on edit.
    #[arg(long)]
    contains: Option<String>,
    /// Only variants with stock left: `yes` or `no`.
    #[arg(long, value_parser = parse_flag)]
    in_stock: Option<bool>,
}

impl RuleFlags {
    fn is_empty(&self) -> bool {
        self.categories.is_empty()
            && self.brands.is_empty()
            && self.min_price.is_none()
            && self.max_price.is_none()
            && self.contains.is_none()
            && self.in_stock.is_none()
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Every product segment: rule, matching variants, customer segments granted it.
    List,
    /// One product segment with its rule and uses.
    Show {
        /// The product segment's name or id.
        product_segment: String,
    },
    /// Create a product segment (a wizard in a terminal when no condition is given).
    Create {
        /// Its name, unique among product segments.
        #[arg(long)]
        name: Option<String>,
        /// A note for yourself; shoppers never see it.
        #[arg(long, default_value = "")]
        description: String,
        #[command(flatten)]
        rule: RuleFlags,
    },
    /// Change a product segment's name, description or conditions.
    Edit {
        /// The product segment's name or id.
        product_segment: String,
        /// A new name.
        #[arg(long)]
        name: Option<String>,
        /// A new note for yourself.
        #[arg(long)]
        description: Option<String>,
        #[command(flatten)]
        rule: RuleFlags,
    },
    /// See products: the variants that match it now.
    Products {
        /// The product segment's name or id.
        product_segment: String,
    },
    /// See uses: the customer segments granted it.
    Uses {
        /// The product segment's name or id.
        product_segment: String,
    },
    /// Delete a product segment; one granted to customer segments needs --force (the grants go
    /// with it).
    Delete {
        /// The product segment's name or id.
        product_segment: String,
        /// Delete it even while customer segments are granted it.
        #[arg(long)]
        force: bool,
    },
    /// Let a customer segment's members see the product segment's variants.
    Grant {
        /// The product segment's name or id.
        product_segment: String,
        /// The customer segment (name or id).
        #[arg(long)]
        segment: String,
    },
    /// Take a grant away.
    Revoke {
        /// The product segment's name or id.
        product_segment: String,
        /// The customer segment (name or id).
        #[arg(long)]
        segment: String,
    },
}

pub async fn run(cx: &Context, command: Command) -> Result<()> {
    match command {
        Command::List => list_all(cx).await,
        Command::Show { product_segment } => show(cx, &product_segment).await,
        Command::Create {
            name,
            description,
            rule,
        } => create(cx, name, description, rule).await,
        Command::Edit {
            product_segment,
            name,
            description,
            rule,
        } => edit(cx, &product_segment, name, description, rule).await,
        Command::Products { product_segment } => products(cx, &product_segment).await,
        Command::Uses { product_segment } => uses(cx, &product_segment).await,
        Command::Delete {
            product_segment,
            force,
        } => delete(cx, &product_segment, force).await,
        Command::Grant {
            product_segment,
            segment,
        } => grant(cx, &product_segment, &segment).await,
        Command::Revoke {
            product_segment,
            segment,
        } => revoke(cx, &product_segment, &segment).await,
    }
}

/// Product rules in the merchant's words: prices in the store's currency, categories by
/// name as the merchant gave them (an id only for one deleted since).
struct Words {
    currency: String,
    categories: std::collections::BTreeMap<i64, String>,
}

impl Words {
    async fn load(cx: &Context) -> Result<Words> {
        let categories = editing::categories(&cx.db)
            .await?
            .into_iter()
            .map(|row| (row.category.id, row.category.name))
            .collect();
        Ok(Words {
            currency: cx.settings.store.currency.clone(),
            categories,
        })
    }

    fn describe(&self, rule: &ProductRule) -> String {
        rule.describe(
            |minor| money(minor, &self.currency),
            |id| {
                self.categories
                    .get(&id)
                    .map_or_else(|| format!("#{id}"), |name| format!("`{name}`"))
            },
        )
    }
}

/// Every product segment with its rule, matching variants and grants.
async fn list_all(cx: &Context) -> Result<()> {
    let words = Words::load(cx).await?;
    let db = &cx.db;
    let list = product_segments::list(db).await?;
    if !cx.json_out(&list)? {
        let mut table = Table::new(["id", "name", "rule", "variants", "granted to"]);
        for segment in list {
            table.row(vec![
                segment.id.to_string(),
                segment.name.clone(),
                words.describe(&segment.rule),
                segment.variants.to_string(),
                segment.uses.join(", "),
            ]);
        }
        table.print(
            "No product segments yet: create one with `storebot-admin product-segments create`.",
        );
    }
    Ok(())
}

/// One product segment with its rule.
async fn show(cx: &Context, product_segment: &str) -> Result<()> {
    let words = Words::load(cx).await?;
    let db = &cx.db;
    let segment = product_segments::find(db, product_segment).await?;
    if !cx.json_out(&segment)? {
        print_segment(&segment, &words.describe(&segment.rule));
    }
    Ok(())
}

/// Creates a product segment from flags, or by the wizard in a terminal.
async fn create(
    cx: &Context,
    name: Option<String>,
    description: String,
    rule: RuleFlags,
) -> Result<()> {
    let db = &cx.db;
    let words = Words::load(cx).await?;
    let wizard = name.is_none() || rule.is_empty();
    let name = cx.prompt.text(name, "--name", "Product segment name")?;
    let rule = if rule.is_empty() {
        if !cx.prompt.is_interactive() {
            bail!(
                "missing a condition (--category, --brand, --min-price, --max-price, --contains or --in-stock; there is no terminal to ask in)"
            );
        }
        rule_wizard(cx).await?
    } else {
        apply_flags(cx, ProductRule::default(), &rule).await?
    };
    if wizard {
        eprintln!(
            "Will create the product segment `{}`: {}.",
            name.trim(),
            words.describe(&rule)
        );
        cx.prompt.confirm(cx.yes, "Create it")?;
    }
    let draft = ProductSegmentDraft {
        name,
        description,
        rule,
    };
    let segment = product_segments::create(db, &draft, cx.now()).await?;
    if !cx.json_out(&segment)? {
        println!(
            "Created product segment {} `{}`: {} ({} variants match now).",
            segment.id,
            segment.name,
            words.describe(&segment.rule),
            segment.variants
        );
    }
    Ok(())
}

/// Changes a product segment's name, description or conditions.
async fn edit(
    cx: &Context,
    product_segment: &str,
    name: Option<String>,
    description: Option<String>,
    rule: RuleFlags,
) -> Result<()> {
    let db = &cx.db;
    let words = Words::load(cx).await?;
    let current = product_segments::find(db, product_segment).await?;
    let new_rule = if rule.is_empty() {
        None
    } else {
        Some(apply_flags(cx, current.rule.clone(), &rule).await?)
    };
    if name.is_none() && description.is_none() && new_rule.is_none() {
        bail!("nothing to change: give --name, --description or a condition flag");
    }
    let edit = ProductSegmentEdit {
        name,
        description,
        rule: new_rule,
    };
    let segment = product_segments::edit(db, &current.id.to_string(), &edit, cx.now()).await?;
    if !cx.json_out(&segment)? {
        println!(
            "Changed product segment {} `{}`: {} ({} variants match now, was {}).",
            segment.id,
            segment.name,
            words.describe(&segment.rule),
            segment.variants,
            current.variants
        );
    }
    Ok(())
}

/// The variants that match a product segment now.
async fn products(cx: &Context, product_segment: &str) -> Result<()> {
    let db = &cx.db;
    let currency = &cx.settings.store.currency;
    let rows = product_segments::products(db, product_segment).await?;
    if cx.json {
        let rows: Vec<serde_json::Value> = rows
            .iter()
            .map(|(variant, product)| serde_json::json!({ "variant": variant, "product": product }))
            .collect();
        cx.json_out(&rows)?;
    } else {
        let mut table = Table::new([
            "sku", "product", "variant", "brand", "price", "stock", "active",
        ]);
        for (variant, product) in rows {
            table.row(vec![
                variant.sku,
                product.title,
                variant.title,
                product.brand.unwrap_or_default(),
                money(variant.price, currency),
                variant.stock.to_string(),
                crate::catalog::yes_no(variant.active && product.active),
            ]);
        }
        table.print("No variant matches this product segment now.");
    }
    Ok(())
}

/// The customer segments granted a product segment.
async fn uses(cx: &Context, product_segment: &str) -> Result<()> {
    let db = &cx.db;
    let uses = product_segments::uses(db, product_segment).await?;
    if !cx.json_out(&uses)? {
        let mut table = Table::new(["id", "segment", "kind", "active"]);
        for segment in uses {
            table.row(vec![
                segment.id.to_string(),
                segment.name,
                segment.kind,
                crate::catalog::yes_no(segment.active),
            ]);
        }
        table.print(
            "No customer segment is granted it: grant it with `storebot-admin product-segments grant PSEG --segment NAME`.",
        );
    }
    Ok(())
}

/// Deletes a product segment (with its grants when forced).
async fn delete(cx: &Context, product_segment: &str, force: bool) -> Result<()> {
    let db = &cx.db;
    let segment = product_segments::find(db, product_segment).await?;
    let removed = product_segments::delete(db, &segment.id.to_string(), force).await?;
    let shown = serde_json::json!({ "deleted": segment.name, "grants_removed": removed });
    if !cx.json_out(&shown)? {
        println!("Deleted product segment `{}`.", segment.name);
        if !removed.is_empty() {
            println!("Removed its grants to: {}.", removed.join(", "));
        }
    }
    Ok(())
}

/// Grants a product segment to a customer segment.
async fn grant(cx: &Context, product_segment: &str, segment: &str) -> Result<()> {
    let db = &cx.db;
    let added = product_segments::grant(db, product_segment, segment).await?;
    let shown = serde_json::json!({ "product_segment": product_segment, "segment": segment, "added": added });
    if !cx.json_out(&shown)? {
        if added {
            println!(
                "Segment `{segment}` now sees the variants of product segment `{product_segment}`."
            );
        } else {
            println!("Segment `{segment}` was already granted `{product_segment}`.");
        }
    }
    Ok(())
}

/// Takes a grant away.
async fn revoke(cx: &Context, product_segment: &str, segment: &str) -> Result<()> {
    let db = &cx.db;
    product_segments::revoke(db, product_segment, segment).await?;
    let shown = serde_json::json!({ "product_segment": product_segment, "segment": segment, "revoked": true });
    if !cx.json_out(&shown)? {
        println!("Segment `{segment}` no longer gets `{product_segment}`.");
    }
    Ok(())
}

fn print_segment(segment: &ProductSegment, rule: &str) {
    println!("Product segment {} `{}`", segment.id, segment.name);
    if !segment.description.is_empty() {
        println!("  {}", segment.description);
    }
    println!("  rule: {rule}");
    println!("  variants matching now: {}", segment.variants);
    if segment.uses.is_empty() {
        println!("  granted to no customer segment");
    } else {
        println!("  granted to: {}", segment.uses.join(", "));
    }
}

fn clears(text: &str) -> bool {
    text.trim().eq_ignore_ascii_case("none")
}

/// The rule `base` with each given flag replacing its condition.
async fn apply_flags(cx: &Context, base: ProductRule, flags: &RuleFlags) -> Result<ProductRule> {
    let currency = &cx.settings.store.currency;
    let mut rule = base;
    if !flags.categories.is_empty() {
        rule.categories = if flags.categories.iter().any(|c| clears(c)) {
            Vec::new()
        } else {
            resolve_categories(cx, &flags.categories).await?
        };
    }
    if !flags.brands.is_empty() {
        rule.brands = if flags.brands.iter().any(|b| clears(b)) {
            Vec::new()
        } else {
            flags.brands.iter().map(|b| b.trim().to_owned()).collect()
        };
    }
    let price = |text: &Option<String>, current: Option<i64>| -> Result<Option<i64>> {
        match text {
            None => Ok(current),
            Some(text) if clears(text) => Ok(None),
            Some(text) => parse_money(text, currency).map(Some),
        }
    };
    rule.price_min = price(&flags.min_price, rule.price_min)?;
    rule.price_max = price(&flags.max_price, rule.price_max)?;
    if let Some(text) = &flags.contains {
        rule.contains = (!clears(text)).then(|| text.to_owned());
    }
    if let Some(in_stock) = flags.in_stock {
        rule.in_stock = in_stock;
    }
    Ok(rule)
}

async fn resolve_categories(cx: &Context, given: &[String]) -> Result<Vec<i64>> {
    let categories = editing::categories(&cx.db).await?;
    given
        .iter()
        .map(|key| {
            let key = key.trim();
            categories
                .iter()
                .find(|row| row.category.name == key || row.category.id.to_string() == key)
                .map(|row| row.category.id)
                .ok_or_else(|| anyhow!("there is no category `{key}`"))
        })
        .collect()
}

/// Asks for each condition in turn; blank answers leave a condition out.
async fn rule_wizard(cx: &Context) -> Result<ProductRule> {
    let currency = &cx.settings.store.currency;
    let categories = editing::categories(&cx.db).await?;
    let mut rule = ProductRule::default();
    if !categories.is_empty() {
        let names: Vec<String> = categories
            .iter()
            .map(|row| row.category.name.clone())
            .collect();
        let checked = vec![false; names.len()];
        let chosen = cx.prompt.multi_select(
            "--category",
            "Categories (none chosen: any category)",
            &names,
            &checked,
        )?;
        rule.categories = chosen
            .into_iter()
            .map(|index| categories[index].category.id)
            .collect();
    }
    if let Some(brands) = cx
        .prompt
        .optional_text("Brands, comma-separated (empty: any brand)")?
    {
        rule.brands = brands
            .split(',')
            .map(|b| b.trim().to_owned())
            .filter(|b| !b.is_empty())
            .collect();
    }
    if let Some(min) = cx
        .prompt
        .optional_text("Lowest price (empty: no minimum)")?
    {
        rule.price_min = Some(parse_money(&min, currency)?);
    }
    if let Some(max) = cx
        .prompt
        .optional_text("Highest price (empty: no maximum)")?
    {
        rule.price_max = Some(parse_money(&max, currency)?);
    }
    rule.contains = cx
        .prompt
        .optional_text("Title or SKU contains (empty: any)")?;
    rule.in_stock = cx
        .prompt
        .yes_no(None, "--in-stock", "Only variants in stock?", false)?;
    rule.validate().map_err(|error| anyhow!("{error}"))?;
    Ok(rule)
}
