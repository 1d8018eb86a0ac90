//! User groups: the ones set on a shopper by hand, plus those inherited from the segments
//! they are in.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
    TransactionSession, TransactionTrait,
};
use storebot_entity::{customer_group, segment, segment_member};

use crate::store::membership::in_force::in_force_at;
use crate::store::{StoreError, begin_write};

/// A customer's user groups: those set on them by hand, plus the tags of their segments in
/// force, each once, in alphabetical order.
pub async fn user_groups(
    db: &impl ConnectionTrait,
    customer_id: i64,
    now: DateTime<Utc>,
) -> Result<BTreeSet<String>, StoreError> {
    let mut groups: BTreeSet<String> = customer_group::Entity::find()
        .select_only()
        .column(customer_group::Column::UserGroup)
        .filter(customer_group::Column::CustomerId.eq(customer_id))
        .into_tuple::<String>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let inherited: Vec<Option<String>> = segment::Entity::find()
        .select_only()
        .column(segment::Column::UserGroup)
        .filter(segment::Column::UserGroup.is_not_null())
        .filter(
            segment::Column::Id.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(segment_member::Column::SegmentId)
                    .from(segment_member::Entity)
                    .and_where(segment_member::Column::CustomerId.eq(customer_id))
                    .to_owned(),
            ),
        )
        .filter(in_force_at(now))
        .into_tuple()
        .all(db)
        .await?;
    groups.extend(inherited.into_iter().flatten());
    Ok(groups)
}

/// Sets a user group on a customer by hand; setting it twice is harmless.
pub async fn add_hand_set_group(
    db: &impl ConnectionTrait,
    customer_id: i64,
    group: &str,
) -> Result<(), StoreError> {
    customer_group::Entity::insert(customer_group::ActiveModel {
        customer_id: Set(customer_id),
        user_group: Set(group.to_owned()),
    })
    .on_conflict(
        OnConflict::columns([
            customer_group::Column::CustomerId,
            customer_group::Column::UserGroup,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Removes a hand-set group. A segment in force that carries the same tag still gives it.
pub async fn remove_hand_set_group(
    db: &impl ConnectionTrait,
    customer_id: i64,
    group: &str,
) -> Result<(), StoreError> {
    customer_group::Entity::delete_by_id((customer_id, group.to_owned()))
        .exec(db)
        .await?;
    Ok(())
}

/// The groups set on a customer by hand, in alphabetical order.
pub async fn hand_set_groups(
    db: &impl ConnectionTrait,
    customer_id: i64,
) -> Result<BTreeSet<String>, StoreError> {
    Ok(customer_group::Entity::find()
        .select_only()
        .column(customer_group::Column::UserGroup)
        .filter(customer_group::Column::CustomerId.eq(customer_id))
        .into_tuple::<String>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

/// Sets and removes hand-set groups on a customer in one transaction, and returns the
/// hand-set groups after it. A blank name, or removing a group not set by hand (an inherited
/// one comes from a segment, not from here), is refused and changes nothing.
pub async fn change_hand_set_groups<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    customer_id: i64,
    add: &[String],
    remove: &[String],
) -> Result<BTreeSet<String>, StoreError> {
    let txn = begin_write(db).await?;
    let current = hand_set_groups(&txn, customer_id).await?;
    for group in add.iter().chain(remove) {
        if group.trim().is_empty() {
            return Err(StoreError::Invalid("a user group needs a name".to_owned()));
        }
    }
    for group in remove {
        if !current.contains(group.trim()) {
            return Err(StoreError::Invalid(format!(
                "the customer has no hand-set group `{}` (groups inherited from a segment go with the segment)",
                group.trim()
            )));
        }
        remove_hand_set_group(&txn, customer_id, group.trim()).await?;
    }
    for group in add {
        add_hand_set_group(&txn, customer_id, group.trim()).await?;
    }
    let after = hand_set_groups(&txn, customer_id).await?;
    txn.commit().await?;
    Ok(after)
}
