//! Telegram updates already taken for handling, so that one delivered twice changes state
//! once: Telegram redelivers an update whose confirmation it did not get (a bot killed before
//! its next `getUpdates`), and with several webhook instances the same post may reach two.
//!
//! An update is claimed before it is handled, with one insert that either wins or finds the
//! id taken; the database decides, so two instances racing on one id can't both win. The
//! price is the other way round: an update claimed by a process killed before it finished is
//! not handled again (at most once, as a shopper expects of a button: a repeated tap after a
//! crash is better lost than doubled; they see no reply and tap again).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{InsertStatement, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryTrait,
};
use storebot_entity::processed_update;

use crate::store::StoreError;

/// How long a claim is kept: Telegram keeps an unconfirmed update for 24 hours, so a
/// redelivery never comes later than that.
pub const KEPT_FOR: chrono::TimeDelta = chrono::TimeDelta::hours(48);

/// The insert that claims `update_id`, inserting nothing when it was claimed before.
pub(crate) fn claim_statement(update_id: i64, now: DateTime<Utc>) -> InsertStatement {
    processed_update::Entity::insert(processed_update::ActiveModel {
        update_id: Set(update_id),
        processed_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(processed_update::Column::UpdateId)
            .do_nothing()
            .to_owned(),
    )
    .into_query()
}

/// Claims `update_id` for handling at `now`: true the first time, false for every later
/// delivery of the same id.
pub async fn claim(
    db: &impl ConnectionTrait,
    update_id: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let claimed = db
        .execute(&claim_statement(update_id, now))
        .await?
        .rows_affected();
    Ok(claimed == 1)
}

/// Forgets the claims older than [`KEPT_FOR`] before `now`; returns how many.
pub async fn prune(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<u64, StoreError> {
    let pruned = processed_update::Entity::delete_many()
        .filter(processed_update::Column::ProcessedAt.lt(now - KEPT_FOR))
        .exec(db)
        .await?;
    Ok(pruned.rows_affected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDb;

    #[tokio::test]
    async fn an_update_is_claimed_once_and_forgotten_after_two_days() {
        let test = TestDb::new().await.unwrap();
        let now = Utc::now();
        assert!(claim(&test.db, 7, now).await.unwrap());
        assert!(!claim(&test.db, 7, now).await.unwrap());
        assert!(claim(&test.db, 8, now).await.unwrap());
        assert_eq!(prune(&test.db, now + KEPT_FOR).await.unwrap(), 0);
        let later = now + KEPT_FOR + chrono::TimeDelta::seconds(1);
        assert_eq!(prune(&test.db, later).await.unwrap(), 2);
        assert!(claim(&test.db, 7, later).await.unwrap());
    }
}
