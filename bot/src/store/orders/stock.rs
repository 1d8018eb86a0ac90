//! Putting an order's stock back on the shelf: the one write that both a cancelled order
//! (`status`) and an unpaid order that expired or was cancelled (`payments`) make, inside their
//! own transaction. Taking stock is `place`'s, in the order's transaction.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use storebot_entity::{order_item, variant};

use crate::store::StoreError;

/// Adds each item's quantity back to its variant's stock. An item whose variant was deleted
/// since has no shelf to go back to and is passed over.
pub(crate) async fn return_stock(
    db: &impl ConnectionTrait,
    items: &[order_item::Model],
) -> Result<(), StoreError> {
    for item in items {
        let Some(variant_id) = item.variant_id else {
            continue;
        };
        variant::Entity::update_many()
            .col_expr(
                variant::Column::Stock,
                Expr::col(variant::Column::Stock).add(item.quantity),
            )
            .filter(variant::Column::Id.eq(variant_id))
            .exec(db)
            .await?;
    }
    Ok(())
}
