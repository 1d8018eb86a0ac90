//! Every coupon rule, on whichever database `TestDb` gives (SQLite, or PostgreSQL when
//! `STOREBOT_TEST_DATABASE_URL` is set).

use crate::store::membership::{in_force, manual, user_groups};
use chrono::Duration;
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use storebot_entity::{coupon_redemption, order_item_discount, segment};

use super::*;
use crate::coupons::Discount;
use crate::product_rule::ProductRule;
use crate::store::StoreError;
use crate::store::catalog::product_segments;
use crate::store::catalog::product_segments::ProductSegmentDraft;
use crate::store::operations::demo::fixtures::Shop;
use crate::store::orders::cart;
use crate::store::orders::place::{self, NewOrder, Placement};
use crate::testing::TestDb;

fn coupon_for(code: &str, discount: Discount, segments: &[&str]) -> NewCoupon {
    NewCoupon {
        code: code.to_owned(),
        discount,
        starts_at: None,
        ends_at: None,
        usage_limit: None,
        per_customer_limit: None,
        segments: segments.iter().map(|s| (*s).to_owned()).collect(),
        user_groups: Vec::new(),
    }
}

async fn join(db: &sea_orm::DatabaseConnection, shop: &Shop, segment_id: i64, customer_id: i64) {
    manual::add_member(db, segment_id, customer_id, shop.now)
        .await
        .expect("member");
}

/// A segment that grants nothing, so restricts nothing.
async fn open_segment(db: &impl ConnectionTrait, shop: &Shop, name: &str) -> i64 {
    segment::ActiveModel {
        name: Set(name.to_owned()),
        description: Set(String::new()),
        kind: Set("manual".to_owned()),
        rule: Set(None),
        active: Set(true),
        created_at: Set(shop.now),
        updated_at: Set(shop.now),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("segment")
    .id
}

async fn check(
    db: &impl ConnectionTrait,
    shop: &Shop,
    customer_id: i64,
    codes: &[&str],
) -> Vec<Result<AppliedCoupon, Refusal>> {
    let in_force = in_force::segments_in_force_for(db, customer_id, shop.now)
        .await
        .expect("segments");
    let lines = cart::lines(db, customer_id, &in_force).await.expect("cart");
    let codes: Vec<String> = codes.iter().map(|c| (*c).to_owned()).collect();
    check_codes(
        db,
        &Shopper {
            customer_id,
            segments_in_force: &in_force,
            now: shop.now,
        },
        &codes,
        &lines,
    )
    .await
    .expect("check")
    .into_iter()
    .map(|(_, verdict)| verdict)
    .collect()
}

async fn place(
    db: &sea_orm::DatabaseConnection,
    shop: &Shop,
    customer_id: i64,
    key: &str,
    codes: &[String],
) -> Placement {
    let in_force = in_force::segments_in_force_for(db, customer_id, shop.now)
        .await
        .expect("segments");
    let shopper = Shopper {
        customer_id,
        segments_in_force: &in_force,
        now: shop.now,
    };
    // Confirmed as it stands: these tests are about the claim inside the transaction.
    let confirmed = crate::store::orders::quote::quote(db, &shopper, codes)
        .await
        .expect("quote")
        .quote;
    place::place(
        db,
        &NewOrder {
            customer_id,
            idempotency_key: key,
            segments_in_force: &in_force,
            contact_phone: None,
            address: None,
            currency: "EUR",
            now: shop.now,
            coupons: codes,
            confirmed: &confirmed,
            payment: None,
        },
    )
    .await
    .expect("place")
}

fn refusal(verdict: &Result<AppliedCoupon, Refusal>) -> Option<Refusal> {
    verdict.as_ref().err().copied()
}

#[tokio::test]
async fn bad_coupons_are_refused_and_nothing_is_written() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let shop = Shop::new(db).await;
    let untied = coupon_for("NOBODY", Discount::Percent(10), &[]);
    assert!(matches!(
        create(db, &untied, shop.now).await,
        Err(StoreError::Invalid(_))
    ));
    let unknown = coupon_for("GHOST", Discount::Percent(10), &["No such segment"]);
    assert!(matches!(
        create(db, &unknown, shop.now).await,
        Err(StoreError::NotFound { .. })
    ));
    let mut inverted = coupon_for("BACKWARDS", Discount::Percent(10), &["VIP"]);
    inverted.starts_at = Some(shop.now);
    inverted.ends_at = Some(shop.now - Duration::days(1));
    assert!(matches!(
        create(db, &inverted, shop.now).await,
        Err(StoreError::Invalid(_))
    ));
    let bad_code = coupon_for("a b", Discount::Percent(10), &["VIP"]);
    assert!(matches!(
        create(db, &bad_code, shop.now).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(list(db).await.expect("list").is_empty());

    let made = create(
        db,
        &coupon_for("vip10", Discount::Percent(10), &["VIP"]),
        shop.now,
    )
    .await
    .expect("created");
    assert_eq!(made.coupon.code, "VIP10");
    assert_eq!(made.segments[0].name, "VIP");
    let again = create(
        db,
        &coupon_for("Vip10", Discount::Percent(5), &["VIP"]),
        shop.now,
    )
    .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))));
    assert_eq!(list(db).await.expect("list").len(), 1);
}

#[tokio::test]
async fn only_members_of_a_tied_segment_or_group_may_use_it() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let shop = Shop::new(db).await;
    create(
        db,
        &coupon_for("VIP10", Discount::Percent(10), &["VIP"]),
        shop.now,
    )
    .await
    .expect("coupon");
    let mut grouped = coupon_for("WHOLESALE", Discount::Percent(10), &[]);
    grouped.user_groups = vec!["wholesale".into()];
    create(db, &grouped, shop.now).await.expect("coupon");
    cart::set_quantity(db, shop.shopper, shop.green_small, 1, shop.now)
        .await
        .expect("cart");

    let verdicts = check(db, &shop, shop.shopper, &["vip10", "wholesale", "nope"]).await;
    assert_eq!(
        verdicts.iter().map(refusal).collect::<Vec<_>>(),
        [
            Some(Refusal::NotForYou),
            Some(Refusal::NotForYou),
            Some(Refusal::Unknown)
        ]
    );

    user_groups::add_hand_set_group(db, shop.shopper, "wholesale")
        .await
        .expect("group");
    let verdicts = check(db, &shop, shop.shopper, &["wholesale"]).await;
    let applied = verdicts[0].as_ref().expect("accepted by group");
    // A user group covers every item: 10% of 4.50.
    assert_eq!(applied.lines, vec![(shop.green_small, 45)]);

    join(db, &shop, shop.demo.vip, shop.shopper).await;
    let verdicts = check(db, &shop, shop.shopper, &["VIP10"]).await;
    // A member now, but VIP restricts what it grants and green tea is not among it.
    assert_eq!(refusal(&verdicts[0]), Some(Refusal::NothingToDiscount));
}

#[tokio::test]
async fn window_and_disabling_are_enforced() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let shop = Shop::new(db).await;
    let open = open_segment(db, &shop, "Everyone").await;
    join(db, &shop, open, shop.shopper).await;
    cart::set_quantity(db, shop.shopper, shop.green_small, 1, shop.now)
        .await
        .expect("cart");
    let mut later = coupon_for("LATER", Discount::Percent(10), &["Everyone"]);
    later.starts_at = Some(shop.now + Duration::hours(1));
    create(db, &later, shop.now).await.expect("coupon");
    let mut over = coupon_for("OVER", Discount::Percent(10), &["Everyone"]);
    over.starts_at = Some(shop.now - Duration::days(2));
    over.ends_at = Some(shop.now);
    create(db, &over, shop.now).await.expect("coupon");
    let mut now_on = coupon_for("NOW", Discount::Percent(10), &["Everyone"]);
    now_on.starts_at = Some(shop.now);
    now_on.ends_at = Some(shop.now + Duration::seconds(1));
    create(db, &now_on, shop.now).await.expect("coupon");
    create(
        db,
        &coupon_for("OFF", Discount::Percent(10), &["Everyone"]),
        shop.now,
    )
    .await
    .expect("coupon");
    disable(db, "off").await.expect("disabled");

    let verdicts = check(db, &shop, shop.shopper, &["LATER", "OVER", "OFF", "NOW"]).await;
    assert_eq!(
        verdicts.iter().map(refusal).collect::<Vec<_>>(),
        [
            Some(Refusal::NotStarted),
            Some(Refusal::Expired),
            Some(Refusal::Expired),
            None
        ]
    );
}

#[tokio::test]
async fn a_coupon_discounts_only_what_its_segment_grants() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let shop = Shop::new(db).await;
    let open = open_segment(db, &shop, "Everyone").await;
    join(db, &shop, open, shop.shopper).await;
    join(db, &shop, shop.demo.vip, shop.shopper).await;
    create(
        db,
        &coupon_for("VIP20", Discount::Percent(20), &["VIP"]),
        shop.now,
    )
    .await
    .expect("coupon");
    create(
        db,
        &coupon_for("ALL10", Discount::Percent(10), &["Everyone"]),
        shop.now,
    )
    .await
    .expect("coupon");
    for variant in [
        shop.green_small,
        shop.reserve_vip,
        shop.demo.members_blend_bag,
    ] {
        cart::set_quantity(db, shop.shopper, variant, 1, shop.now)
            .await
            .expect("cart");
    }
    assert_eq!(
        variants_granted_by(db, open).await.expect("grants"),
        Coverage::Everything
    );

    let verdicts = check(db, &shop, shop.shopper, &["VIP20"]).await;
    let vip = verdicts[0].as_ref().expect("vip coupon");
    // The reserve lot (a variant grant) and the members blend (a product grant), not the tea.
    assert_eq!(
        vip.lines,
        vec![(shop.reserve_vip, 500), (shop.demo.members_blend_bag, 240)]
    );

    let verdicts = check(db, &shop, shop.shopper, &["ALL10"]).await;
    let all = verdicts[0].as_ref().expect("open coupon");
    assert_eq!(all.total, 45 + 250 + 120);

    // Together: each line is discounted once, by the first code that covers it.
    let verdicts = check(db, &shop, shop.shopper, &["VIP20", "ALL10"]).await;
    assert_eq!(verdicts[0].as_ref().expect("vip").total, 740);
    assert_eq!(
        verdicts[1].as_ref().expect("rest").lines,
        vec![(shop.green_small, 45)]
    );
    let verdicts = check(db, &shop, shop.shopper, &["ALL10", "VIP20", "all10"]).await;
    assert_eq!(refusal(&verdicts[1]), Some(Refusal::NothingToDiscount));
    assert_eq!(refusal(&verdicts[2]), Some(Refusal::AlreadyApplied));
}

#[tokio::test]
async fn a_segment_granted_a_product_segment_covers_what_its_rule_matches() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let shop = Shop::new(db).await;
    open_segment(db, &shop, "Reserve club").await;
    let draft = ProductSegmentDraft {
        name: "Reserve lots".into(),
        description: String::new(),
        rule: ProductRule {
            contains: Some("oo-res".into()),
            ..ProductRule::default()
        },
    };
    product_segments::create(db, &draft, shop.now)
        .await
        .expect("product segment");
    product_segments::grant(db, "Reserve lots", "Reserve club")
        .await
        .expect("grant");
    let club = segment::Entity::find()
        .filter(segment::Column::Name.eq("Reserve club"))
        .one(db)
        .await
        .expect("read")
        .expect("segment")
        .id;
    assert_eq!(
        variants_granted_by(db, club).await.expect("grants"),
        Coverage::Variants([shop.reserve_vip].into())
    );
}

#[tokio::test]
async fn fixed_discount_is_spread_and_the_order_records_it() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let shop = Shop::new(db).await;
    let open = open_segment(db, &shop, "Everyone").await;
    join(db, &shop, open, shop.shopper).await;
    join(db, &shop, shop.demo.vip, shop.shopper).await;
    create(
        db,
        &coupon_for("VIP20", Discount::Percent(20), &["VIP"]),
        shop.now,
    )
    .await
    .expect("coupon");
    create(
        db,
        &coupon_for("FIVER", Discount::Fixed(500), &["Everyone"]),
        shop.now,
    )
    .await
    .expect("coupon");
    cart::set_quantity(db, shop.shopper, shop.green_small, 2, shop.now)
        .await
        .expect("cart");
    cart::set_quantity(db, shop.shopper, shop.reserve_vip, 1, shop.now)
        .await
        .expect("cart");
    let codes = vec!["vip20".to_owned(), "FIVER".to_owned()];
    let placed = place(db, &shop, shop.shopper, "c1", &codes).await;
    let Placement::Placed { order, coupons, .. } = placed else {
        panic!("expected an order, got {placed:?}");
    };
    // 2 × 4.50 + 25.00 = 34.00; VIP20 takes 5.00 off the reserve lot, FIVER the tea (9.00).
    assert_eq!(
        coupons,
        vec![("VIP20".to_owned(), 500), ("FIVER".to_owned(), 500)]
    );
    assert_eq!(order.order.discount_total, 1000);
    assert_eq!(order.order.total, 3400 - 1000);
    let tea = order
        .items
        .iter()
        .find(|item| item.variant_id == Some(shop.green_small))
        .expect("tea line");
    assert_eq!(tea.discount, 500);
    let rows = order_item_discount::Entity::find()
        .filter(order_item_discount::Column::OrderItemId.eq(tea.id))
        .all(db)
        .await
        .expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].amount, 500);
    let shown = of_orders(db, &[order.order.id]).await.expect("of orders");
    assert_eq!(shown[&order.order.id].len(), 2);
    let usage = usage(db, "fiver").await.expect("usage");
    assert_eq!(usage.redemptions, 1);
    assert_eq!(usage.total_discount, 500);
    assert_eq!(usage.shoppers[0].customer_id, shop.shopper);

    // A repeated Confirm makes no second order and no second redemption.
    let again = place(db, &shop, shop.shopper, "c1", &codes).await;
    assert!(matches!(again, Placement::AlreadyPlaced(_)));
    let fiver = find(db, "FIVER").await.expect("coupon");
    assert_eq!(fiver.used_count, 1);
    let redemptions = coupon_redemption::Entity::find()
        .filter(coupon_redemption::Column::CouponId.eq(fiver.id))
        .all(db)
        .await
        .expect("redemptions");
    assert_eq!(redemptions.len(), 1);
}

#[tokio::test]
async fn total_and_per_shopper_limits_hold() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let shop = Shop::new(db).await;
    let open = open_segment(db, &shop, "Everyone").await;
    let other = shop.demo.customers[1];
    let third = shop.demo.customers[2];
    for customer in [shop.shopper, other, third] {
        join(db, &shop, open, customer).await;
        cart::set_quantity(db, customer, shop.green_small, 1, shop.now)
            .await
            .expect("cart");
    }
    let mut once_each = coupon_for("ONCE", Discount::Percent(10), &["Everyone"]);
    once_each.per_customer_limit = Some(1);
    once_each.usage_limit = Some(2);
    create(db, &once_each, shop.now).await.expect("coupon");
    let codes = vec!["ONCE".to_owned()];
    assert!(matches!(
        place(db, &shop, shop.shopper, "a1", &codes).await,
        Placement::Placed { .. }
    ));
    cart::set_quantity(db, shop.shopper, shop.green_small, 1, shop.now)
        .await
        .expect("cart");
    let verdicts = check(db, &shop, shop.shopper, &["ONCE"]).await;
    assert_eq!(refusal(&verdicts[0]), Some(Refusal::UsedUpByYou));
    assert_eq!(
        place(db, &shop, shop.shopper, "a2", &codes).await,
        Placement::CouponRefused {
            code: "ONCE".into(),
            reason: Refusal::UsedUpByYou
        }
    );
    assert!(matches!(
        place(db, &shop, other, "b1", &codes).await,
        Placement::Placed { .. }
    ));
    let verdicts = check(db, &shop, third, &["ONCE"]).await;
    assert_eq!(refusal(&verdicts[0]), Some(Refusal::UsedUp));
    assert_eq!(find(db, "once").await.expect("coupon").used_count, 2);
    // The refused attempt wrote nothing: the cart is still there.
    assert_eq!(
        cart::lines(db, shop.shopper, &[])
            .await
            .expect("cart")
            .len(),
        1
    );
}

#[tokio::test]
async fn two_shoppers_racing_for_the_last_use_cannot_both_get_it() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let shop = Shop::new(db).await;
    let open = open_segment(db, &shop, "Everyone").await;
    let other = shop.demo.customers[1];
    for customer in [shop.shopper, other] {
        join(db, &shop, open, customer).await;
        cart::set_quantity(db, customer, shop.green_small, 1, shop.now)
            .await
            .expect("cart");
    }
    let mut last = coupon_for("LAST", Discount::Fixed(100), &["Everyone"]);
    last.usage_limit = Some(1);
    create(db, &last, shop.now).await.expect("coupon");
    let codes = vec!["LAST".to_owned()];
    // Both confirmations were checked before either order: both saw one use left.
    for customer in [shop.shopper, other] {
        assert!(check(db, &shop, customer, &["LAST"]).await[0].is_ok());
    }
    let (first, second) = tokio::join!(
        place(db, &shop, shop.shopper, "r1", &codes),
        place(db, &shop, other, "r2", &codes)
    );
    let outcomes = [&first, &second];
    let placed = outcomes
        .iter()
        .filter(|p| matches!(p, Placement::Placed { .. }))
        .count();
    let refused = outcomes
        .iter()
        .filter(|p| {
            matches!(
                p,
                Placement::CouponRefused {
                    reason: Refusal::UsedUp,
                    ..
                }
            )
        })
        .count();
    assert_eq!((placed, refused), (1, 1), "{first:?} / {second:?}");
    let coupon = find(db, "LAST").await.expect("coupon");
    assert_eq!(coupon.used_count, 1);
    assert_eq!(
        coupon_redemption::Entity::find()
            .filter(coupon_redemption::Column::CouponId.eq(coupon.id))
            .all(db)
            .await
            .expect("redemptions")
            .len(),
        1
    );
}
