//! Where each shopper is in the dialogue, stored as JSON text per customer so that a restart,
//! or another bot instance on the same PostgreSQL, carries on where the shopper was.
//!
//! This file stores and returns the text as it is; what the JSON means belongs to the
//! conversation, which must never depend on anything else being kept in memory.

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, EntityTrait};
use storebot_entity::dialogue_state;

use crate::store::StoreError;

/// The stored state of a customer's dialogue, if any.
pub async fn load(
    db: &impl ConnectionTrait,
    customer_id: i64,
) -> Result<Option<String>, StoreError> {
    Ok(dialogue_state::Entity::find_by_id(customer_id)
        .one(db)
        .await?
        .map(|row| row.state))
}

/// Stores `state` for the customer, replacing what was there, in one upsert.
pub async fn save(
    db: &impl ConnectionTrait,
    customer_id: i64,
    state: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    dialogue_state::Entity::insert(dialogue_state::ActiveModel {
        customer_id: Set(customer_id),
        state: Set(state.to_owned()),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(dialogue_state::Column::CustomerId)
            .update_columns([
                dialogue_state::Column::State,
                dialogue_state::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::shoppers::customers::{self, TelegramUser};
    use crate::testing::TestDb;

    #[tokio::test]
    async fn state_is_saved_and_replaced() {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        let now = Utc::now();
        let customer = customers::record_interaction(
            db,
            &TelegramUser {
                telegram_user_id: 9,
                chat_id: 9,
                first_name: "Di".into(),
                last_name: None,
                username: None,
                language_code: None,
            },
            now,
        )
        .await
        .expect("customer");
        assert_eq!(load(db, customer.id).await.expect("load"), None);
        save(db, customer.id, "{\"a\":1}", now).await.expect("save");
        save(db, customer.id, "{\"a\":2}", now).await.expect("save");
        assert_eq!(
            load(db, customer.id).await.expect("load").as_deref(),
            Some("{\"a\":2}")
        );
    }
}
