use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// How much one coupon took off one order line.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "order_item_discount")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub order_item_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub coupon_id: i64,
    pub amount: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
