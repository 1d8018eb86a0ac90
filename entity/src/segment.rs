use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A customer segment: `auto` (members follow `rule`) or `manual`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "segment")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub name: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    /// `auto` or `manual`.
    pub kind: String,
    /// The rule tree as versioned JSON; None for manual segments.
    #[sea_orm(column_type = "Text", nullable)]
    pub rule: Option<String>,
    pub active: bool,
    pub starts_at: Option<DateTimeUtc>,
    pub expires_at: Option<DateTimeUtc>,
    pub user_group: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub join_message: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
