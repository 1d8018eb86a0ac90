use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A line of an order, with its own copy of what was bought at what price.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "order_item")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub order_id: i64,
    pub variant_id: Option<i64>,
    pub product_id: Option<i64>,
    pub sku: String,
    pub title: String,
    pub quantity: i32,
    pub unit_price: i64,
    pub discount: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
