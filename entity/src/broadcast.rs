use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A message the merchant sent to every member of a segment; one `outbox_message` per
/// recipient carries its delivery.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "broadcast")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub segment_id: i64,
    /// The segment's name when the broadcast was made.
    pub segment_name: String,
    #[sea_orm(column_type = "Text")]
    pub text: String,
    /// Messages queued, one per member who takes messages.
    pub recipients: i32,
    /// Members left out because they turned messages off.
    pub skipped_opt_out: i32,
    /// Members left out because they blocked the bot.
    pub skipped_blocked: i32,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
