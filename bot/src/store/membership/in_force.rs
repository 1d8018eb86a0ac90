//! When a segment is in force: active, started and not expired. The one definition, as an SQL
//! condition ([`in_force_at`]) and on a loaded row ([`is_in_force`]), and the segments in force
//! for one shopper.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Condition;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QueryOrder, QuerySelect,
};
use storebot_entity::{segment, segment_member};

use crate::store::StoreError;

/// The condition "this segment is in force at `now`": active, started (no start, or start at
/// or before `now`) and not expired (no expiry, or `now` strictly before it). A segment that
/// expires at 18:00 grants nothing from 18:00 on.
pub fn in_force_at(now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(segment::Column::Active.eq(true))
        .add(
            Condition::any()
                .add(segment::Column::StartsAt.is_null())
                .add(segment::Column::StartsAt.lte(now)),
        )
        .add(
            Condition::any()
                .add(segment::Column::ExpiresAt.is_null())
                .add(segment::Column::ExpiresAt.gt(now)),
        )
}

/// The ids of the segments a customer belongs to that are in force at `now`, ascending: what
/// decides which variants they see.
pub async fn segments_in_force_for(
    db: &impl ConnectionTrait,
    customer_id: i64,
    now: DateTime<Utc>,
) -> Result<Vec<i64>, StoreError> {
    Ok(segment_member::Entity::find()
        .select_only()
        .column(segment_member::Column::SegmentId)
        .join(
            JoinType::InnerJoin,
            segment_member::Entity::belongs_to(segment::Entity)
                .from(segment_member::Column::SegmentId)
                .to(segment::Column::Id)
                .into(),
        )
        .filter(segment_member::Column::CustomerId.eq(customer_id))
        .filter(in_force_at(now))
        .order_by_asc(segment_member::Column::SegmentId)
        .into_tuple()
        .all(db)
        .await?)
}

/// Whether the segment is in force at `now`: the same test as [`in_force_at`], on a row.
pub fn is_in_force(segment: &segment::Model, now: DateTime<Utc>) -> bool {
    segment.active
        && segment.starts_at.is_none_or(|start| start <= now)
        && segment.expires_at.is_none_or(|end| now < end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDb;
    use chrono::Duration;
    use sea_orm::ActiveModelTrait;
    use sea_orm::ActiveValue::Set;

    use crate::testing::noon;

    #[tokio::test]
    async fn only_active_segments_within_their_window_are_in_force() {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        let shopper = crate::testing::shopper(db, 7, "Bo", noon())
            .await
            .expect("customer");
        let hour = Duration::hours(1);
        // (name, active, starts_at, expires_at, expected in force at noon)
        let cases = [
            ("always", true, None, None, true),
            ("inactive", false, None, None, false),
            ("started", true, Some(noon() - hour), None, true),
            ("starts exactly now", true, Some(noon()), None, true),
            ("not yet", true, Some(noon() + hour), None, false),
            ("expires later", true, None, Some(noon() + hour), true),
            ("expires exactly now", true, None, Some(noon()), false),
            (
                "expired",
                true,
                Some(noon() - hour * 2),
                Some(noon() - hour),
                false,
            ),
        ];
        let mut expected = Vec::new();
        for (name, active, starts_at, expires_at, in_force) in cases {
            let id = segment::ActiveModel {
                name: Set(name.into()),
                description: Set(String::new()),
                kind: Set("manual".into()),
                active: Set(active),
                starts_at: Set(starts_at),
                expires_at: Set(expires_at),
                created_at: Set(noon()),
                updated_at: Set(noon()),
                ..Default::default()
            }
            .insert(db)
            .await
            .expect("segment")
            .id;
            segment_member::ActiveModel {
                segment_id: Set(id),
                customer_id: Set(shopper.id),
                source: Set("manual".into()),
                since: Set(noon()),
            }
            .insert(db)
            .await
            .expect("member");
            if in_force {
                expected.push(id);
            }
        }
        let got = segments_in_force_for(db, shopper.id, noon())
            .await
            .expect("query");
        assert_eq!(got, expected);
    }
}
