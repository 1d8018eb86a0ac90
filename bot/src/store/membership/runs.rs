//! The history of recompute runs (`recompute_run`).

use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder, QuerySelect};
use storebot_entity::recompute_run;

use crate::store::StoreError;

/// The latest recompute runs, newest first.
pub async fn runs(
    db: &impl ConnectionTrait,
    limit: u64,
) -> Result<Vec<recompute_run::Model>, StoreError> {
    Ok(recompute_run::Entity::find()
        .order_by_desc(recompute_run::Column::StartedAt)
        .order_by_desc(recompute_run::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}
