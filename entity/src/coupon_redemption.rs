use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One use of a coupon on an order.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "coupon_redemption")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub coupon_id: i64,
    pub order_id: i64,
    pub customer_id: i64,
    pub discount: i64,
    pub redeemed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
