use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One recompute of the automatic segments.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "recompute_run")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `schedule`, `admin` or `customer`.
    pub trigger: String,
    pub started_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
    pub segments: i32,
    pub joined: i32,
    pub left: i32,
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
