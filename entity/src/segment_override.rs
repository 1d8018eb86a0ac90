use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A manual include or exclude that overrides an auto segment's rule for one shopper.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "segment_override")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub segment_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub customer_id: i64,
    /// `include` or `exclude`.
    pub mode: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
