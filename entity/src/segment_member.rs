use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A shopper currently in a segment, and whether the rule or the merchant put them there.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "segment_member")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub segment_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub customer_id: i64,
    /// `rule` or `manual`.
    pub source: String,
    pub since: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
