//! Join messages and broadcasts enter the outbox with the change that causes them: once per
//! join, never for a manual add, never to a shopper who blocked the bot or turned messages
//! off; and the sender's claims (store side) are taken once.

use chrono::TimeDelta;
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use storebot_entity::{customer, customer_answer, outbox_message, variant_segment};

use super::{Shop, context, now, rule};
use crate::store::membership::manual::{add_member, set_override};
use crate::store::membership::recompute::{Trigger, recompute_all};
use crate::store::membership::refresh::refresh_customer;
use crate::store::messaging::outbox::{self, State};
use crate::store::messaging::{broadcasts, joins};
use crate::testing::TestDb;

async fn set_customer(
    db: &sea_orm::DatabaseConnection,
    id: i64,
    edit: impl FnOnce(&mut customer::ActiveModel),
) {
    let mut row: customer::ActiveModel = customer::Entity::find_by_id(id)
        .one(db)
        .await
        .expect("query")
        .expect("customer")
        .into();
    edit(&mut row);
    row.update(db).await.expect("update");
}

async fn forget_answers(db: &sea_orm::DatabaseConnection, customer_id: i64) {
    customer_answer::Entity::delete_many()
        .filter(customer_answer::Column::CustomerId.eq(customer_id))
        .exec(db)
        .await
        .expect("forget");
}

async fn outbox_rows(db: &sea_orm::DatabaseConnection) -> Vec<outbox_message::Model> {
    let mut rows = outbox_message::Entity::find()
        .all(db)
        .await
        .expect("outbox");
    rows.sort_by_key(|row| row.id);
    rows
}

#[tokio::test]
async fn a_rule_join_queues_one_message_per_join_and_skips_blocked_opted_out_and_manual() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let mut shop = Shop::new(db);
    let (question, options) = shop.question(2).await;
    let fan = shop.customer().await;
    let blocked = shop.customer().await;
    let quiet = shop.customer().await;
    let included = shop.customer().await;
    let hand_added = shop.customer().await;
    let (product, variants) = shop.product(2).await;
    // The product is restricted by variant; the segment unlocks the first variant.
    let fans = shop
        .segment(
            "fans",
            Some(&rule(
                json!({"type": "answer", "question": question, "options": [options[0]]}),
            )),
        )
        .await;
    let mut restricted: storebot_entity::product::ActiveModel =
        storebot_entity::product::Entity::find_by_id(product)
            .one(db)
            .await
            .expect("query")
            .expect("product")
            .into();
    restricted.by_variant = Set(true);
    restricted.update(db).await.expect("restrict");
    let mut hidden: storebot_entity::variant::ActiveModel =
        storebot_entity::variant::Entity::find_by_id(variants[0])
            .one(db)
            .await
            .expect("query")
            .expect("variant")
            .into();
    hidden.all_segments = Set(false);
    hidden.update(db).await.expect("hide");
    variant_segment::ActiveModel {
        variant_id: Set(variants[0]),
        segment_id: Set(fans),
    }
    .insert(db)
    .await
    .expect("grant");
    shop.edit_segment(fans, |row| {
        row.join_message = Set(Some("You now see {count} new items: {new_items}".into()));
    })
    .await;
    for shopper in [fan, blocked, quiet, included] {
        shop.answer(shopper, question, Some(options[0])).await;
    }
    set_customer(db, blocked, |row| row.blocked_at = Set(Some(now()))).await;
    set_customer(db, quiet, |row| row.messages_opt_out = Set(true)).await;
    set_override(db, &context(), fans, included, super::OverrideMode::Include)
        .await
        .expect("include");
    add_member(db, fans, hand_added, now())
        .await
        .expect("hand add");

    recompute_all(db, &context(), Trigger::Admin)
        .await
        .expect("run");
    let rows = outbox_rows(db).await;
    assert_eq!(
        rows.iter()
            .map(|row| (row.customer_id, row.kind.as_str(), row.text.as_str()))
            .collect::<Vec<_>>(),
        [(fan, "join", "You now see 1 new items: Thing (size)")]
    );
    assert_eq!(rows[0].button.as_deref(), Some(joins::CATALOG_BUTTON));
    assert_eq!(rows[0].state, State::Queued.as_str());

    // Nothing changed: a second run queues nothing.
    recompute_all(db, &context(), Trigger::Admin)
        .await
        .expect("run");
    assert_eq!(outbox_rows(db).await.len(), 1);

    // A leave and a later re-join (through the per-shopper refresh) is a new join.
    forget_answers(db, fan).await;
    shop.answer(fan, question, Some(options[1])).await;
    refresh_customer(db, &context(), fan)
        .await
        .expect("refresh");
    assert_eq!(outbox_rows(db).await.len(), 1);
    forget_answers(db, fan).await;
    shop.answer(fan, question, Some(options[0])).await;
    refresh_customer(db, &context(), fan)
        .await
        .expect("refresh");
    refresh_customer(db, &context(), fan)
        .await
        .expect("refresh");
    let rows = outbox_rows(db).await;
    assert_eq!(rows.len(), 2);
    assert_ne!(rows[0].dedupe_key, rows[1].dedupe_key);
    assert_eq!(rows[1].customer_id, fan);
}

#[tokio::test]
async fn broadcasts_queue_one_message_per_reachable_member_and_claims_are_taken_once() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let mut shop = Shop::new(db);
    let segment = shop.segment("vip", None).await;
    let mut members = Vec::new();
    for _ in 0..4 {
        let shopper = shop.customer().await;
        add_member(db, segment, shopper, now()).await.expect("add");
        members.push(shopper);
    }
    let outsider = shop.customer().await;
    set_customer(db, members[2], |row| row.messages_opt_out = Set(true)).await;
    set_customer(db, members[3], |row| row.blocked_at = Set(Some(now()))).await;

    let refused = broadcasts::broadcast(db, segment, "   ", now()).await;
    assert!(refused.is_err());
    let missing = broadcasts::broadcast(db, 999_999, "Hello", now()).await;
    assert!(missing.is_err());
    assert!(outbox_rows(db).await.is_empty());

    let record = broadcasts::broadcast(db, segment, "Sale!", now())
        .await
        .expect("broadcast");
    assert_eq!(
        (
            record.recipients,
            record.skipped_opt_out,
            record.skipped_blocked
        ),
        (2, 1, 1)
    );
    let rows = outbox_rows(db).await;
    assert_eq!(
        rows.iter().map(|row| row.customer_id).collect::<Vec<_>>(),
        [members[0], members[1]]
    );
    assert!(rows.iter().all(|row| row.customer_id != outsider));

    // The second member turns messages off before their turn: skipped at send time.
    set_customer(db, members[1], |row| row.messages_opt_out = Set(true)).await;
    let interval = TimeDelta::seconds(1);
    let first = outbox::claim_next(db, now(), interval)
        .await
        .expect("claim")
        .expect("a due message");
    assert_eq!((first.customer_id, first.attempts), (members[0], 1));
    // Claimed, so nobody takes it again, and the other was skipped.
    assert_eq!(
        outbox::claim_next(db, now(), interval)
            .await
            .expect("claim"),
        None
    );
    let progress = broadcasts::broadcast_progress(db, record.id)
        .await
        .expect("progress");
    assert_eq!(
        (
            progress.count(State::Sending),
            progress.count(State::Skipped)
        ),
        (1, 1)
    );
    assert!(!progress.done());

    // A claim never confirmed becomes unknown once stale, and is not claimed again.
    assert_eq!(
        outbox::expire_claims(db, now()).await.expect("expire"),
        0,
        "a fresh claim is not stale"
    );
    assert_eq!(
        outbox::expire_claims(db, now() + TimeDelta::seconds(61))
            .await
            .expect("expire"),
        1
    );
    let progress = broadcasts::broadcast_progress(db, record.id)
        .await
        .expect("progress");
    assert_eq!(progress.count(State::Unknown), 1);
    assert!(progress.done());
    assert_eq!(
        outbox::claim_next(db, now() + TimeDelta::seconds(61), interval)
            .await
            .expect("claim"),
        None
    );
    let listed = broadcasts::broadcasts(db, 10).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].count(State::Unknown), 1);
}

#[tokio::test]
async fn one_chat_gets_at_most_one_message_per_interval_and_a_block_is_recorded() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let mut shop = Shop::new(db);
    let first = shop.segment("first", None).await;
    let second = shop.segment("second", None).await;
    let shopper = shop.customer().await;
    for segment in [first, second] {
        add_member(db, segment, shopper, now()).await.expect("add");
        broadcasts::broadcast(db, segment, "News", now())
            .await
            .expect("broadcast");
    }
    let interval = TimeDelta::seconds(1);
    let claimed = outbox::claim_next(db, now(), interval)
        .await
        .expect("claim")
        .expect("due");
    outbox::mark_sent(db, claimed.id, now())
        .await
        .expect("sent");
    // Half a second later the same chat must wait; a second later it may have the next one.
    let soon = now() + TimeDelta::milliseconds(500);
    assert_eq!(
        outbox::claim_next(db, soon, interval).await.expect("claim"),
        None
    );
    let later = now() + TimeDelta::milliseconds(1001);
    let next = outbox::claim_next(db, later, interval)
        .await
        .expect("claim")
        .expect("due");
    outbox::mark_blocked(
        db,
        next.id,
        shopper,
        "Forbidden: bot was blocked by the user",
        later,
    )
    .await
    .expect("blocked");
    let row = customer::Entity::find_by_id(shopper)
        .one(db)
        .await
        .expect("query")
        .expect("customer");
    assert_eq!(row.blocked_at, Some(later));
    let states: Vec<String> = outbox_rows(db)
        .await
        .into_iter()
        .map(|row| row.state)
        .collect();
    assert_eq!(states, ["sent", "failed"]);
}
