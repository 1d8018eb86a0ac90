use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A discount code for the members of some segments or user groups.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "coupon")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub code: String,
    /// `percent` (amount is whole percent) or `fixed` (amount in minor units).
    pub kind: String,
    pub amount: i64,
    pub starts_at: Option<DateTimeUtc>,
    pub ends_at: Option<DateTimeUtc>,
    pub usage_limit: Option<i32>,
    pub per_customer_limit: Option<i32>,
    pub active: bool,
    pub created_at: DateTimeUtc,
    /// Redemptions so far; raised in the order's transaction only while below `usage_limit`.
    pub used_count: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
