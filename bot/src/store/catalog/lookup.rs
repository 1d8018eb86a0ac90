//! Finding a product the way a merchant names it: by id, by title, or by the SKU of one of its
//! variants. A title two products share is refused with both listed.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use storebot_entity::{product, variant};

use crate::store::StoreError;

/// A product by its id written as a number (or `#12`), its title, or a variant's SKU.
pub async fn find_product(
    db: &impl ConnectionTrait,
    key: &str,
) -> Result<product::Model, StoreError> {
    let key = key.trim();
    if let Ok(id) = key.trim_start_matches('#').parse::<i64>()
        && let Some(found) = product::Entity::find_by_id(id).one(db).await?
    {
        return Ok(found);
    }
    let mut titled = product::Entity::find()
        .filter(product::Column::Title.eq(key))
        .order_by_asc(product::Column::Id)
        .all(db)
        .await?;
    match titled.len() {
        1 => {
            return titled
                .pop()
                .ok_or_else(|| StoreError::not_found("product", key));
        }
        0 => {}
        _ => {
            let ids: Vec<String> = titled.iter().map(|p| p.id.to_string()).collect();
            return Err(StoreError::Invalid(format!(
                "several products are called `{key}` (ids {}): name one by its id or a SKU",
                ids.join(", ")
            )));
        }
    }
    let by_sku = variant::Entity::find()
        .filter(variant::Column::Sku.eq(key))
        .one(db)
        .await?;
    if let Some(variant) = by_sku
        && let Some(found) = product::Entity::find_by_id(variant.product_id)
            .one(db)
            .await?
    {
        return Ok(found);
    }
    Err(StoreError::not_found(
        "product with the id, title or SKU",
        format!("`{key}`"),
    ))
}
