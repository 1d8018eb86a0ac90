use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A purchasable variant of a product. `price` is in minor units of the store currency.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "variant")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub product_id: i64,
    #[sea_orm(unique)]
    pub sku: String,
    pub title: String,
    pub price: i64,
    pub stock: i32,
    pub active: bool,
    /// Used only when the product is `by_variant`.
    pub all_segments: bool,
    /// The variant's own photo, shown instead of the product's when it is chosen.
    #[sea_orm(column_type = "Text", nullable)]
    pub image: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
