use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A payment Telegram reported (`successful_payment`), recorded once per charge.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "payment")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub order_id: i64,
    #[sea_orm(unique)]
    pub telegram_charge_id: String,
    /// Empty for Stars.
    pub provider_charge_id: String,
    /// In the smallest units of `currency`.
    pub amount: i64,
    pub currency: String,
    pub payer_telegram_user_id: i64,
    pub paid_at: DateTimeUtc,
    /// The order was no longer awaiting payment when the money came (expired or cancelled):
    /// flagged for the merchant, who refunds or ships.
    pub late: bool,
    /// When the merchant chats were told (at most once; the shopper's message is in the
    /// outbox, queued with the payment).
    pub announced_at: Option<DateTimeUtc>,
    pub refunded_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
