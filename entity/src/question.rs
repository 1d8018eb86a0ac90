use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A registration question the merchant asks every shopper.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "question")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub position: i32,
    #[sea_orm(column_type = "Text")]
    pub text: String,
    /// `single` or `multiple` choice.
    pub kind: String,
    pub required: bool,
    pub archived: bool,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
