use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// The invoice sent for an order awaiting payment: what it asks for and when it expires. The
/// order's status says whether it is still open.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "invoice")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub order_id: i64,
    /// The invoice payload Telegram hands back: random, never the order id.
    #[sea_orm(unique)]
    pub payload: String,
    /// `telegram` or `stars`.
    pub provider: String,
    /// `store.currency`, or `XTR` for Stars.
    pub currency: String,
    /// The invoice's total in the smallest units of `currency`.
    pub amount: i64,
    pub expires_at: DateTimeUtc,
    pub chat_id: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
