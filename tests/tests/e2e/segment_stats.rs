//! `storebot-admin segments stats` through its flags on a shop with known numbers.

use chrono::Utc;
use sea_orm::ActiveModelTrait;
use sea_orm::ActiveValue::Set;
use storebot::store::membership::definitions::{self, SegmentDraft, SegmentKind};
use storebot::store::membership::manual::add_member;
use storebot::testing::TestDb;
use storebot_entity::{customer, order};
use storebot_tests::admin::AdminTool;

#[tokio::test]
async fn stats_show_members_revenue_share_average_check_and_joins() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let now = Utc::now();
    let mut ids = Vec::new();
    for n in 0..3_i64 {
        let id = customer::ActiveModel {
            telegram_user_id: Set(500 + n),
            chat_id: Set(500 + n),
            first_name: Set(format!("Shopper {n}")),
            first_interaction_at: Set(now),
            last_interaction_at: Set(now),
            messages_opt_out: Set(false),
            ..Default::default()
        }
        .insert(db)
        .await
        .expect("customer")
        .id;
        ids.push(id);
    }
    for (n, (customer_id, total, status)) in [
        (ids[0], 1000, "new"),
        (ids[0], 3000, "new"),
        (ids[1], 500, "cancelled"),
        (ids[2], 6000, "new"),
    ]
    .into_iter()
    .enumerate()
    {
        order::ActiveModel {
            customer_id: Set(customer_id),
            status: Set(status.into()),
            total: Set(total),
            discount_total: Set(0),
            currency: Set("EUR".into()),
            placed_at: Set(now),
            idempotency_key: Set(format!("stats-{n}")),
            ..Default::default()
        }
        .insert(db)
        .await
        .expect("order");
    }
    let vip = definitions::create(
        db,
        &SegmentDraft {
            name: "vip".into(),
            description: String::new(),
            kind: SegmentKind::Manual,
            rule: None,
            active: true,
            starts_at: None,
            expires_at: None,
            user_group: None,
        },
        now,
    )
    .await
    .expect("segment");
    add_member(db, vip.id, ids[0], now).await.expect("member");
    add_member(db, vip.id, ids[1], now).await.expect("member");

    let admin = AdminTool::new(test.url());
    let shown = admin.json(&["segments", "stats", "vip", "--days", "7"]);
    assert_eq!(shown["totals"]["shoppers"], 3);
    assert_eq!(shown["totals"]["revenue"], 10_000);
    let segment = &shown["segment"];
    assert_eq!(segment["members"], 2);
    assert_eq!(segment["revenue"], 4000);
    assert_eq!(segment["orders"], 2);
    assert_eq!(segment["average_check"], 2000);
    assert_eq!(segment["revenue_share"], 0.4);
    let share = segment["share_of_shoppers"].as_f64().expect("share");
    assert!((share - 2.0 / 3.0).abs() < 1e-9, "{share}");
    let days = shown["days"].as_array().expect("days");
    assert_eq!(days.len(), 7);
    assert_eq!(days[6]["joined"], 2);
    assert_eq!(days[6]["left"], 0);

    let text = admin.ok(&["segments", "stats", "vip"]);
    assert!(text.contains("members: 2 of 3 shoppers (66.7%)"), "{text}");
    assert!(text.contains("average check: 20.00"), "{text}");
    assert!(text.contains("2 joined, 0 left"), "{text}");
    let table = admin.ok(&["segments", "stats"]);
    assert!(table.contains("vip") && table.contains("40.0%"), "{table}");

    admin.refused(
        &["segments", "stats", "nobody"],
        "segment `nobody` does not exist",
        |admin| admin.json(&["segments", "stats"]),
    );
}
