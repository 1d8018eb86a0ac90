use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A placed order. The table is `orders` because `order` is reserved in SQL.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "orders")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub customer_id: i64,
    pub status: String,
    /// What the shopper pays, after discounts, in minor units.
    pub total: i64,
    pub discount_total: i64,
    pub currency: String,
    pub placed_at: DateTimeUtc,
    pub contact_phone: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub address: Option<String>,
    /// Makes a repeated checkout tap or a redelivered update create one order.
    #[sea_orm(unique)]
    pub idempotency_key: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
