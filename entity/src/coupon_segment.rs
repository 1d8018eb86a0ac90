use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A segment whose members may use a coupon.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "coupon_segment")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub coupon_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub segment_id: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
