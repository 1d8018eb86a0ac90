//! Product segments (the merchant's "named rule over the catalog") as values: the JSON model,
//! its validation, in-memory matching of one variant, and the compiled form that SQL compares.
//!
//! Every condition that is set must hold: category (one of), brand (one of, exact), price
//! range (minor units, inclusive, either side open), text (product title, variant title or
//! SKU contains it), in stock (stock > 0). Brand and text ignore the case of ASCII letters
//! (SQLite's LIKE and LOWER know no other case, so both databases and this module agree on
//! ASCII; for other letters PostgreSQL also folds case). A rule with no condition is
//! refused: it would match the whole catalog, and a merchant who means that marks products
//! "all segments" instead. This module does no I/O.

use serde::{Deserialize, Serialize};

/// A product segment's rule as the merchant writes it (JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductRule {
    /// Category ids; the variant's product must be in one of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<i64>,
    /// Brands; the product's brand must be one of them, ignoring ASCII case.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub brands: Vec<String>,
    /// Lowest price in minor units, inclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_min: Option<i64>,
    /// Highest price in minor units, inclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_max: Option<i64>,
    /// Text the product title, variant title or SKU must contain, ignoring ASCII case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contains: Option<String>,
    /// Only variants with stock left.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub in_stock: bool,
}

/// Why a rule is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProductRuleError {
    #[error("the rule is not valid JSON for a product segment: {0}")]
    Json(String),
    #[error("a product segment needs at least one condition")]
    Empty,
    #[error("the price range is inverted: min {min} is above max {max}")]
    InvertedPrice { min: i64, max: i64 },
    #[error("a price can't be negative")]
    NegativePrice,
    #[error("a brand can't be blank or span lines")]
    BadBrand,
    #[error("the text to look for can't be blank")]
    BlankText,
}

/// What the rule looks at in one variant and its product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantFacts<'a> {
    pub category_id: Option<i64>,
    pub brand: Option<&'a str>,
    pub product_title: &'a str,
    pub variant_title: &'a str,
    pub sku: &'a str,
    pub price: i64,
    pub stock: i32,
}

/// The rule in the shape SQL compares against the catalog (the `rule_*` columns of
/// `catalog_segment`): lists as delimited text so one correlated `LIKE` tests membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompiledRule {
    /// `,1,5,`
    pub categories: Option<String>,
    /// `\nacme\nzen\n` (ASCII lower case)
    pub brands: Option<String>,
    pub price_min: Option<i64>,
    pub price_max: Option<i64>,
    /// `%green\_tea%` (lower case, LIKE-escaped with `\`)
    pub contains: Option<String>,
    pub in_stock: bool,
}

impl ProductRule {
    /// Parses and validates the JSON form.
    pub fn parse(json: &str) -> Result<Self, ProductRuleError> {
        let rule: Self = serde_json::from_str(json)
            .map_err(|error| ProductRuleError::Json(error.to_string()))?;
        rule.validate()?;
        Ok(rule)
    }

    /// The canonical JSON form (what is stored).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Checks the rule, trimming nothing: stored rules are exactly what passed here.
    pub fn validate(&self) -> Result<(), ProductRuleError> {
        if self.categories.is_empty()
            && self.brands.is_empty()
            && self.price_min.is_none()
            && self.price_max.is_none()
            && self.contains.is_none()
            && !self.in_stock
        {
            return Err(ProductRuleError::Empty);
        }
        if self.price_min.is_some_and(|p| p < 0) || self.price_max.is_some_and(|p| p < 0) {
            return Err(ProductRuleError::NegativePrice);
        }
        if let (Some(min), Some(max)) = (self.price_min, self.price_max)
            && min > max
        {
            return Err(ProductRuleError::InvertedPrice { min, max });
        }
        if self
            .brands
            .iter()
            .any(|brand| brand.trim().is_empty() || brand.contains(['\n', '\r']))
        {
            return Err(ProductRuleError::BadBrand);
        }
        if self
            .contains
            .as_deref()
            .is_some_and(|t| t.trim().is_empty())
        {
            return Err(ProductRuleError::BlankText);
        }
        Ok(())
    }

    /// Whether the variant described by `facts` belongs to the product segment.
    pub fn matches(&self, facts: &VariantFacts<'_>) -> bool {
        let category = self.categories.is_empty()
            || facts
                .category_id
                .is_some_and(|id| self.categories.contains(&id));
        let brand = self.brands.is_empty()
            || facts
                .brand
                .is_some_and(|brand| self.brands.iter().any(|b| b.eq_ignore_ascii_case(brand)));
        let price = self.price_min.is_none_or(|min| facts.price >= min)
            && self.price_max.is_none_or(|max| facts.price <= max);
        let text = self.contains.as_deref().is_none_or(|needle| {
            let needle = needle.to_ascii_lowercase();
            [facts.product_title, facts.variant_title, facts.sku]
                .iter()
                .any(|hay| hay.to_ascii_lowercase().contains(&needle))
        });
        let stock = !self.in_stock || facts.stock > 0;
        category && brand && price && text && stock
    }

    /// The columns SQL compares (see [`CompiledRule`]).
    pub fn compile(&self) -> CompiledRule {
        let delimited = |items: Vec<String>, sep: &str| {
            (!items.is_empty()).then(|| format!("{sep}{}{sep}", items.join(sep)))
        };
        CompiledRule {
            categories: delimited(self.categories.iter().map(i64::to_string).collect(), ","),
            brands: delimited(
                self.brands.iter().map(|b| b.to_ascii_lowercase()).collect(),
                "\n",
            ),
            price_min: self.price_min,
            price_max: self.price_max,
            contains: self
                .contains
                .as_deref()
                .map(|text| format!("%{}%", escape_like(&text.to_ascii_lowercase()))),
            in_stock: self.in_stock,
        }
    }

    /// One line for lists: "category `Tea` or `Coffee` · brand Acme · price 5.00–10.00 · …",
    /// with prices written by `money` and categories named by `category`.
    pub fn describe(
        &self,
        money: impl Fn(i64) -> String,
        category: impl Fn(i64) -> String,
    ) -> String {
        let mut parts = Vec::new();
        if !self.categories.is_empty() {
            let names: Vec<String> = self.categories.iter().map(|id| category(*id)).collect();
            parts.push(format!("category {}", names.join(" or ")));
        }
        if !self.brands.is_empty() {
            parts.push(format!("brand {}", self.brands.join(" or ")));
        }
        match (self.price_min, self.price_max) {
            (Some(min), Some(max)) => parts.push(format!("price {}–{}", money(min), money(max))),
            (Some(min), None) => parts.push(format!("price ≥ {}", money(min))),
            (None, Some(max)) => parts.push(format!("price ≤ {}", money(max))),
            (None, None) => {}
        }
        if let Some(text) = &self.contains {
            parts.push(format!("title or SKU contains \"{text}\""));
        }
        if self.in_stock {
            parts.push("in stock".to_owned());
        }
        parts.join(" · ")
    }
}

/// Escapes `\`, `%` and `_` so that text matches literally inside a LIKE pattern.
pub fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> VariantFacts<'static> {
        VariantFacts {
            category_id: Some(3),
            brand: Some("Acme"),
            product_title: "Green Tea",
            variant_title: "Tin 100g",
            sku: "GT_100",
            price: 1_000,
            stock: 2,
        }
    }

    fn rule(json: &str) -> ProductRule {
        ProductRule::parse(json).expect("valid rule")
    }

    #[test]
    fn empty_rule_is_refused() {
        assert_eq!(ProductRule::parse("{}"), Err(ProductRuleError::Empty));
    }

    #[test]
    fn inverted_price_range_is_refused() {
        assert_eq!(
            ProductRule::parse(r#"{"price_min": 10, "price_max": 5}"#),
            Err(ProductRuleError::InvertedPrice { min: 10, max: 5 })
        );
    }

    #[test]
    fn unknown_field_is_refused() {
        assert!(matches!(
            ProductRule::parse(r#"{"colour": "red"}"#),
            Err(ProductRuleError::Json(_))
        ));
    }

    #[test]
    fn every_condition_must_hold() {
        assert!(rule(r#"{"categories": [1, 3], "brands": ["Acme"]}"#).matches(&facts()));
        assert!(rule(r#"{"categories": [1, 3], "brands": ["ACME"]}"#).matches(&facts()));
        assert!(!rule(r#"{"categories": [1, 3], "brands": ["Acm"]}"#).matches(&facts()));
        assert!(!rule(r#"{"categories": [4], "brands": ["Acme"]}"#).matches(&facts()));
    }

    #[test]
    fn price_bounds_are_inclusive_and_either_may_be_open() {
        assert!(rule(r#"{"price_min": 1000, "price_max": 1000}"#).matches(&facts()));
        assert!(rule(r#"{"price_max": 1000}"#).matches(&facts()));
        assert!(!rule(r#"{"price_min": 1001}"#).matches(&facts()));
    }

    #[test]
    fn text_matches_titles_or_sku_ignoring_case() {
        assert!(rule(r#"{"contains": "green"}"#).matches(&facts()));
        assert!(rule(r#"{"contains": "TIN"}"#).matches(&facts()));
        assert!(rule(r#"{"contains": "t_1"}"#).matches(&facts()));
        assert!(!rule(r#"{"contains": "black"}"#).matches(&facts()));
    }

    #[test]
    fn in_stock_needs_stock_left() {
        let mut sold_out = facts();
        sold_out.stock = 0;
        assert!(rule(r#"{"in_stock": true}"#).matches(&facts()));
        assert!(!rule(r#"{"in_stock": true}"#).matches(&sold_out));
    }

    #[test]
    fn compiled_form_delimits_lists_and_escapes_text() {
        let compiled =
            rule(r#"{"categories": [1, 5], "brands": ["A", "B"], "contains": "50%"}"#).compile();
        assert_eq!(compiled.categories.as_deref(), Some(",1,5,"));
        assert_eq!(compiled.brands.as_deref(), Some("\na\nb\n"));
        assert_eq!(compiled.contains.as_deref(), Some("%50\\%%"));
    }

    #[test]
    fn json_round_trips_without_blank_fields() {
        let rule = rule(r#"{"in_stock": true, "price_max": 5}"#);
        assert_eq!(rule.to_json(), r#"{"price_max":5,"in_stock":true}"#);
        assert_eq!(ProductRule::parse(&rule.to_json()), Ok(rule));
    }
}
