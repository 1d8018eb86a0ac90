use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One message to one shopper, waiting in the outbox or done.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "outbox_message")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub customer_id: i64,
    pub chat_id: i64,
    /// `join` or `broadcast`.
    pub kind: String,
    pub segment_id: Option<i64>,
    pub broadcast_id: Option<i64>,
    /// `join:<membership_event id>` or `broadcast:<broadcast id>:<customer id>`: one join or
    /// one broadcast makes at most one message per shopper.
    #[sea_orm(unique)]
    pub dedupe_key: String,
    #[sea_orm(column_type = "Text")]
    pub text: String,
    /// Callback data of the one inline button under the message (the catalog), if any.
    pub button: Option<String>,
    /// `queued`, `sending`, `sent`, `failed`, `skipped` or `unknown`.
    pub state: String,
    pub attempts: i32,
    /// A queued message is not sent before this.
    pub next_attempt_at: DateTimeUtc,
    /// When a sender took it (state `sending` and after).
    pub claimed_at: Option<DateTimeUtc>,
    pub sent_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
