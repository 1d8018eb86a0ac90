use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A product segment: a named rule over the catalog. `rule` is the merchant's JSON; the
/// `rule_*` columns are the same rule as SQL compares it (written together with `rule`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "catalog_segment")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub name: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    #[sea_orm(column_type = "Text")]
    pub rule: String,
    /// Category ids as `,1,5,`; None when the rule names no category.
    #[sea_orm(column_type = "Text", nullable)]
    pub rule_categories: Option<String>,
    /// Brands in ASCII lower case, each followed by a newline and the whole led by one; None
    /// when none is named.
    #[sea_orm(column_type = "Text", nullable)]
    pub rule_brands: Option<String>,
    pub rule_price_min: Option<i64>,
    pub rule_price_max: Option<i64>,
    /// A lower-case LIKE pattern (escaped, wrapped in `%`); None when the rule has no text.
    #[sea_orm(column_type = "Text", nullable)]
    pub rule_contains: Option<String>,
    pub rule_in_stock: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
