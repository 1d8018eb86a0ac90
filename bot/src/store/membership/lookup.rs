//! Finding a segment the way a merchant names it: by its name, or by its id written as a number.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use storebot_entity::segment;

use crate::store::StoreError;

/// A segment by its name, or by its id written as a number.
pub async fn find(db: &impl ConnectionTrait, key: &str) -> Result<segment::Model, StoreError> {
    let key = key.trim();
    let by_name = segment::Entity::find()
        .filter(segment::Column::Name.eq(key))
        .one(db)
        .await?;
    if let Some(segment) = by_name {
        return Ok(segment);
    }
    if let Ok(id) = key.parse::<i64>()
        && let Some(segment) = segment::Entity::find_by_id(id).one(db).await?
    {
        return Ok(segment);
    }
    Err(StoreError::not_found("segment", format!("`{key}`")))
}

/// The segments named (or numbered) in `keys`, in their order; `NotFound` for an unknown one.
pub async fn find_each(
    db: &impl ConnectionTrait,
    keys: &[String],
) -> Result<Vec<segment::Model>, StoreError> {
    let mut found = Vec::with_capacity(keys.len());
    for key in keys {
        found.push(find(db, key).await?);
    }
    Ok(found)
}
