use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A shopper, created on their first update to the bot.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "customer")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub telegram_user_id: i64,
    pub chat_id: i64,
    pub first_name: String,
    pub last_name: Option<String>,
    pub username: Option<String>,
    pub language_code: Option<String>,
    pub first_interaction_at: DateTimeUtc,
    pub last_interaction_at: DateTimeUtc,
    /// Set when the shopper has answered every required registration question.
    pub registered_at: Option<DateTimeUtc>,
    /// The shopper turned join messages and broadcasts off in /profile.
    pub messages_opt_out: bool,
    /// Telegram answered 403: the shopper blocked the bot. Cleared on their next update.
    pub blocked_at: Option<DateTimeUtc>,
    /// The phone number of the shopper's last order, offered at the next checkout.
    pub saved_phone: Option<String>,
    /// The delivery address of the shopper's last order, likewise.
    #[sea_orm(column_type = "Text", nullable)]
    pub saved_address: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
