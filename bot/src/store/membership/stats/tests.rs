//! Segment statistics on the test database.

use chrono::TimeZone;
use sea_orm::ActiveModelTrait;
use sea_orm::ActiveValue::Set;

use super::*;
use crate::store::membership::definitions::{self, SegmentDraft};
use crate::store::membership::manual::{add_member, remove_member};
use crate::testing::TestDb;

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0)
        .single()
        .expect("time")
}

async fn shopper(db: &impl ConnectionTrait, n: i64) -> i64 {
    customer::ActiveModel {
        telegram_user_id: Set(1000 + n),
        chat_id: Set(1000 + n),
        first_name: Set(format!("Shopper {n}")),
        first_interaction_at: Set(at(1, 0)),
        last_interaction_at: Set(at(1, 0)),
        messages_opt_out: Set(false),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("customer")
    .id
}

async fn order(db: &impl ConnectionTrait, customer_id: i64, total: i64, status: &str) {
    order::ActiveModel {
        customer_id: Set(customer_id),
        status: Set(status.into()),
        total: Set(total),
        discount_total: Set(0),
        currency: Set("EUR".into()),
        placed_at: Set(at(2, 0)),
        idempotency_key: Set(format!("k-{customer_id}-{total}-{status}")),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("order");
}

#[tokio::test]
async fn figures_count_members_shares_and_counted_revenue_only() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let ids: Vec<i64> = {
        let mut ids = Vec::new();
        for n in 0..4 {
            ids.push(shopper(db, n).await);
        }
        ids
    };
    // Counted revenue: 1000 + 3000 (members) + 6000 (outsider) = 10000; the cancelled order
    // counts nowhere.
    order(db, ids[0], 1000, "new").await;
    order(db, ids[0], 3000, "delivered").await;
    order(db, ids[1], 99_999, "cancelled").await;
    order(db, ids[2], 6000, "new").await;
    let vip = definitions::create(db, &SegmentDraft::manual("vip"), at(1, 0))
        .await
        .expect("vip");
    let empty = definitions::create(db, &SegmentDraft::manual("empty"), at(1, 0))
        .await
        .expect("empty");
    add_member(db, vip.id, ids[0], at(20, 10))
        .await
        .expect("add");
    add_member(db, vip.id, ids[1], at(21, 23))
        .await
        .expect("add");
    add_member(db, vip.id, ids[3], at(21, 9))
        .await
        .expect("add");
    remove_member(db, vip.id, ids[3], at(22, 8))
        .await
        .expect("remove");

    let counted = ["new".to_owned(), "delivered".to_owned()];
    let (totals, figures) = overview(db, &counted).await.expect("overview");
    assert_eq!(
        totals,
        StoreTotals {
            shoppers: 4,
            revenue: 10_000,
            orders: 3
        }
    );
    assert_eq!(
        figures,
        [
            SegmentFigures {
                segment_id: empty.id,
                name: "empty".into(),
                members: 0,
                share_of_shoppers: 0.0,
                revenue: 0,
                orders: 0,
                revenue_share: 0.0,
                average_check: None,
            },
            SegmentFigures {
                segment_id: vip.id,
                name: "vip".into(),
                members: 2,
                share_of_shoppers: 0.5,
                revenue: 4000,
                orders: 2,
                revenue_share: 0.4,
                average_check: Some(2000),
            },
        ]
    );

    // Days in Berlin (UTC+1 in November): the 23:00 UTC join on the 21st is the 22nd there.
    let zone: Tz = "Europe/Berlin".parse().expect("zone");
    let moves = moves_per_day(db, vip.id, 3, at(22, 12), zone)
        .await
        .expect("moves");
    let day = |d: u32| NaiveDate::from_ymd_opt(2026, 11, d).expect("day");
    assert_eq!(
        moves,
        [
            DayMoves {
                day: day(20),
                joined: 1,
                left: 0
            },
            DayMoves {
                day: day(21),
                joined: 1,
                left: 0
            },
            DayMoves {
                day: day(22),
                joined: 1,
                left: 1
            },
        ]
    );
    let short = moves_per_day(db, vip.id, 1, at(22, 12), zone)
        .await
        .expect("moves");
    assert_eq!(short.len(), 1);
    assert_eq!((short[0].joined, short[0].left), (1, 1));
}
