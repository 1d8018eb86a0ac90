use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One join or leave in the membership ledger.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "membership_event")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub segment_id: i64,
    pub customer_id: i64,
    /// `joined` or `left`.
    pub kind: String,
    /// `rule`, `manual` or `expiry`.
    pub cause: String,
    pub run_id: Option<i64>,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
