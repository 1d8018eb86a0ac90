//! Shoppers: found or created on first contact, with their interaction times.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use storebot_entity::customer;

use crate::store::StoreError;

/// A shopper as stored: who they are on Telegram, their chat, when they first and last wrote,
/// when they finished registration. Named here so that callers need not name the entity.
pub type Customer = customer::Model;

/// Who sent an update, as Telegram describes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelegramUser {
    pub telegram_user_id: i64,
    pub chat_id: i64,
    pub first_name: String,
    pub last_name: Option<String>,
    pub username: Option<String>,
    pub language_code: Option<String>,
}

impl TelegramUser {
    /// A user in their private chat with the bot (chat id = user id), with only a first name.
    pub fn new(telegram_user_id: i64, first_name: &str) -> Self {
        Self {
            telegram_user_id,
            chat_id: telegram_user_id,
            first_name: first_name.into(),
            last_name: None,
            username: None,
            language_code: None,
        }
    }
}

/// Records that `user` talked to the bot at `now`: creates the customer on first contact
/// (setting `first_interaction_at` once), and on every later contact refreshes their names,
/// chat and language, sets `last_interaction_at`, and clears `blocked_at` (writing to us means
/// they unblocked the bot).
///
/// One upsert statement, so two updates from a new shopper arriving at once on two bot
/// instances still make one customer.
pub async fn record_interaction(
    db: &impl ConnectionTrait,
    user: &TelegramUser,
    now: DateTime<Utc>,
) -> Result<customer::Model, StoreError> {
    Ok(upsert_interaction(user, now)
        .exec_with_returning(db)
        .await?)
}

/// The upsert behind [`record_interaction`], for callers that add to its `RETURNING`.
pub(super) fn upsert_interaction(
    user: &TelegramUser,
    now: DateTime<Utc>,
) -> sea_orm::Insert<customer::ActiveModel> {
    customer::Entity::insert(interaction_row(user, now)).on_conflict(interaction_conflict())
}

/// The customer row a first contact creates.
pub(super) fn interaction_row(user: &TelegramUser, now: DateTime<Utc>) -> customer::ActiveModel {
    customer::ActiveModel {
        telegram_user_id: Set(user.telegram_user_id),
        chat_id: Set(user.chat_id),
        first_name: Set(user.first_name.clone()),
        last_name: Set(user.last_name.clone()),
        username: Set(user.username.clone()),
        language_code: Set(user.language_code.clone()),
        first_interaction_at: Set(now),
        last_interaction_at: Set(now),
        registered_at: Set(None),
        messages_opt_out: Set(false),
        blocked_at: Set(None),
        ..Default::default()
    }
}

/// What a later contact refreshes.
pub(super) fn interaction_conflict() -> OnConflict {
    OnConflict::column(customer::Column::TelegramUserId)
        .update_columns([
            customer::Column::ChatId,
            customer::Column::FirstName,
            customer::Column::LastName,
            customer::Column::Username,
            customer::Column::LanguageCode,
            customer::Column::LastInteractionAt,
            customer::Column::BlockedAt,
        ])
        .to_owned()
}

pub async fn find_by_telegram_id(
    db: &impl ConnectionTrait,
    telegram_user_id: i64,
) -> Result<Option<customer::Model>, StoreError> {
    Ok(customer::Entity::find()
        .filter(customer::Column::TelegramUserId.eq(telegram_user_id))
        .one(db)
        .await?)
}

pub async fn get(db: &impl ConnectionTrait, id: i64) -> Result<customer::Model, StoreError> {
    customer::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| StoreError::not_found("customer", id))
}

/// The phone and address the shopper used last: `(phone, address)`.
pub async fn saved_details(
    db: &impl ConnectionTrait,
    customer_id: i64,
) -> Result<(Option<String>, Option<String>), StoreError> {
    let customer = get(db, customer_id).await?;
    Ok((customer.saved_phone, customer.saved_address))
}

/// Keeps the phone and address of an order just placed, for the next checkout; a detail the
/// order did not ask for leaves the saved one as it is.
pub async fn save_details(
    db: &impl ConnectionTrait,
    customer_id: i64,
    phone: Option<&str>,
    address: Option<&str>,
) -> Result<(), StoreError> {
    let mut update = customer::Entity::update_many().filter(customer::Column::Id.eq(customer_id));
    if phone.is_none() && address.is_none() {
        return Ok(());
    }
    if let Some(phone) = phone {
        update = update.col_expr(customer::Column::SavedPhone, Expr::value(phone));
    }
    if let Some(address) = address {
        update = update.col_expr(customer::Column::SavedAddress, Expr::value(address));
    }
    update.exec(db).await?;
    Ok(())
}

/// "Forget my details": the saved phone and address are deleted. Past orders keep theirs,
/// which the merchant needs to deliver them.
pub async fn forget_details(db: &impl ConnectionTrait, customer_id: i64) -> Result<(), StoreError> {
    customer::Entity::update_many()
        .col_expr(customer::Column::SavedPhone, Expr::value(None::<String>))
        .col_expr(customer::Column::SavedAddress, Expr::value(None::<String>))
        .filter(customer::Column::Id.eq(customer_id))
        .exec(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDb;
    use chrono::TimeZone;

    fn alice() -> TelegramUser {
        TelegramUser {
            telegram_user_id: 1001,
            chat_id: 1001,
            first_name: "Alice".into(),
            last_name: None,
            username: Some("alice".into()),
            language_code: Some("en".into()),
        }
    }

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, hour, 0, 0)
            .single()
            .expect("valid time")
    }

    #[tokio::test]
    async fn first_contact_creates_the_customer_with_both_times() {
        let test = TestDb::new().await.expect("test db");
        let customer = record_interaction(&test.db, &alice(), at(9))
            .await
            .expect("recorded");
        assert_eq!(customer.telegram_user_id, 1001);
        assert_eq!(customer.first_interaction_at, at(9));
        assert_eq!(customer.last_interaction_at, at(9));
        assert!(customer.registered_at.is_none());
    }

    #[tokio::test]
    async fn later_contact_moves_only_the_last_interaction() {
        let test = TestDb::new().await.expect("test db");
        let first = record_interaction(&test.db, &alice(), at(9))
            .await
            .expect("first");
        let renamed = TelegramUser {
            first_name: "Alicia".into(),
            language_code: Some("de".into()),
            ..alice()
        };
        let second = record_interaction(&test.db, &renamed, at(15))
            .await
            .expect("second");
        assert_eq!(second.id, first.id);
        assert_eq!(second.first_interaction_at, at(9));
        assert_eq!(second.last_interaction_at, at(15));
        assert_eq!(second.first_name, "Alicia");
        assert_eq!(second.language_code.as_deref(), Some("de"));
        let found = find_by_telegram_id(&test.db, 1001)
            .await
            .expect("query")
            .expect("exists");
        assert_eq!(found, second);
    }

    #[tokio::test]
    async fn missing_customer_is_not_found() {
        let test = TestDb::new().await.expect("test db");
        let error = get(&test.db, 42).await.expect_err("absent");
        assert_eq!(error.to_string(), "customer 42 does not exist");
    }
}
