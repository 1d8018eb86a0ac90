use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A product; shoppers buy its variants.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "product")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub title: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    pub category_id: Option<i64>,
    pub brand: Option<String>,
    pub active: bool,
    /// Everybody may see it; otherwise only the segments in `product_segment`.
    pub all_segments: bool,
    /// Visibility is set per variant instead of on the product.
    pub by_variant: bool,
    /// The product's photo: an `https://` URL or the absolute path of a local JPEG/PNG.
    #[sea_orm(column_type = "Text", nullable)]
    pub image: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
