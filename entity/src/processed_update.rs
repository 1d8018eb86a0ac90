use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A Telegram update the bot has taken for handling, by its `update_id`: a second delivery of
/// the same id is skipped.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "processed_update")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub update_id: i64,
    pub processed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
