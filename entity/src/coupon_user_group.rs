use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A user group whose members may use a coupon.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "coupon_user_group")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub coupon_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_group: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
