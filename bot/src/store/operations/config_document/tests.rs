//! Export and apply on the test database: round trips, refusals that change nothing.

use super::*;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::store::catalog::import::import;
use crate::store::catalog::import::tests::{now, row};
use crate::store::orders::coupons;
use crate::testing::TestDb;

fn document() -> StoreConfig {
    serde_json::from_value(serde_json::json!({
        "questions": [
            { "text": "Pets?", "kind": "single", "required": true, "options": ["Cat", "Dog"] }
        ],
        "segments": [
            { "name": "vip", "kind": "manual" },
            { "name": "cats", "kind": "auto", "user_group": "pets",
              "rule": { "type": "all", "rules": [
                  { "type": "answer", "question": "Pets?", "options": ["Cat"] },
                  { "type": "segment", "segment": "vip", "member": false },
                  { "type": "bought", "item": { "variant": "T-1" } }
              ] } }
        ],
        "availability": [
            { "product": "Tea", "variants": [
                { "sku": "T-1", "segments": ["cats", "vip"] },
                { "sku": "T-2" }
            ] }
        ]
    }))
    .expect("document")
}

#[tokio::test]
async fn apply_then_export_round_trips_and_a_second_apply_changes_nothing() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    two_teas(db).await;
    let planned = apply(db, &document(), "EUR", now(), true)
        .await
        .expect("dry run");
    assert!(
        planned.contains(&"add question `Pets?`".to_owned()),
        "{planned:?}"
    );
    assert_eq!(export(db, "EUR").await.expect("export"), empty());

    let applied = apply(db, &document(), "EUR", now(), false)
        .await
        .expect("apply");
    assert_eq!(applied, planned);
    let exported = export(db, "EUR").await.expect("export");
    assert_eq!(exported.questions, document().questions);
    // The rule comes out in words, and the second apply below reads it back unchanged.
    let rule_of = |config: &StoreConfig| config.segments.as_ref().map(|s| s[1].rule.clone());
    assert_eq!(
        rule_of(&exported),
        Some(Some(serde_json::json!(
            r#"answer "Pets?" is "Cat" and not in segment "vip" and bought sku "T-1""#
        )))
    );
    assert_eq!(exported.availability, document().availability);
    assert_applies_nothing(db, &exported).await;
}

#[tokio::test]
async fn a_bad_document_changes_nothing() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let mut bad = document();
    bad.segments.as_mut().expect("segments")[1].rule = Some(serde_json::json!(
        { "type": "answer", "question": "Pets?", "options": ["Parrot"] }
    ));
    let error = apply(db, &bad, "EUR", now(), false)
        .await
        .expect_err("bad option");
    assert_eq!(
        error.to_string(),
        "segment `cats`: question `Pets?` has no option `Parrot`"
    );
    assert_eq!(export(db, "EUR").await.expect("export"), empty());
}

#[tokio::test]
async fn dropping_an_option_a_rule_uses_is_refused_and_changes_nothing() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    two_teas(db).await;
    apply(db, &document(), "EUR", now(), false)
        .await
        .expect("apply");
    let before = export(db, "EUR").await.expect("export");
    let mut without_cat = document();
    without_cat.questions.as_mut().expect("questions")[0].options = vec!["Dog".to_owned()];
    without_cat.segments = None;
    without_cat.availability = None;

    let error = apply(db, &without_cat, "EUR", now(), false)
        .await
        .expect_err("a rule uses Cat");
    let message = error.to_string();
    assert!(
        message.ends_with(
            "is used by the rule of segment `cats`: keep it in the file, or change that rule first"
        ),
        "{message}"
    );
    assert!(!message.contains("--force"), "{message}");
    assert_eq!(export(db, "EUR").await.expect("export"), before);
}

#[tokio::test]
async fn progress_counts_every_item_of_the_document_once_in_the_order_applied() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    two_teas(db).await;
    let mut reports = Vec::new();
    let applied = apply_with_progress(db, &document(), "EUR", now(), false, &mut |progress| {
        reports.push((progress.done, progress.total, progress.section));
    })
    .await
    .expect("apply");
    assert!(!applied.is_empty());
    // One question, two segments, and the catalog's one product for availability.
    assert_eq!(
        reports,
        [
            (0, 4, ""),
            (1, 4, "questions"),
            (2, 4, "segments"),
            (3, 4, "segments"),
            (4, 4, "availability"),
        ]
    );
}

/// Applying `config` again finds nothing to change.
async fn assert_applies_nothing(db: &sea_orm::DatabaseConnection, config: &StoreConfig) {
    let changes = apply(db, config, "EUR", now(), false).await.expect("again");
    assert!(changes.is_empty(), "{changes:?}");
}

/// A catalog of one product, `Tea`, with the variants `T-1` and `T-2`.
async fn two_teas(db: &sea_orm::DatabaseConnection) {
    import(
        db,
        &[row(2, "T-1", "Tea", 100), row(3, "T-2", "Tea", 200)],
        now(),
    )
    .await
    .expect("catalog");
}

fn empty() -> StoreConfig {
    StoreConfig {
        questions: Some(vec![]),
        segments: Some(vec![]),
        availability: Some(vec![]),
        product_segments: None,
        coupons: None,
        images: None,
    }
}

#[tokio::test]
async fn coupons_round_trip_by_code_and_a_bad_one_changes_nothing() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    two_teas(db).await;
    let mut config = document();
    config.coupons = Some(
        serde_json::from_value(serde_json::json!([
            { "code": "vip-10", "percent": 10, "segments": ["vip"], "usage_limit": 100 },
            { "code": "FRIENDS", "amount_off": 250, "user_groups": ["friends"],
              "active": false, "ends_at": "2027-01-01T00:00:00Z" }
        ]))
        .expect("coupons"),
    );
    let applied = apply(db, &config, "EUR", now(), false)
        .await
        .expect("apply");
    assert!(
        applied.contains(&"add coupon `VIP-10`".to_owned())
            && applied.contains(&"add coupon `FRIENDS`".to_owned()),
        "{applied:?}"
    );
    let friends = coupons::find(db, "friends").await.expect("created");
    assert_eq!((friends.kind.as_str(), friends.amount), ("fixed", 250));
    assert!(!friends.active);
    let exported = export(db, "EUR").await.expect("export");
    let listed = exported.coupons.clone().expect("coupons exported");
    assert_eq!(
        listed.iter().map(|c| c.code.as_str()).collect::<Vec<_>>(),
        ["FRIENDS", "VIP-10"]
    );
    assert_eq!(listed[1].segments, ["vip"]);
    assert_eq!(listed[1].percent, Some(10));
    assert_applies_nothing(db, &exported).await;

    // A change rewrites the coupon; one left out is kept and reported.
    let mut changed = exported.clone();
    changed.coupons = Some(vec![CouponConfig {
        percent: Some(15),
        segments: vec![],
        user_groups: vec!["vip club".into()],
        ..listed[1].clone()
    }]);
    assert_eq!(
        apply(db, &changed, "EUR", now(), false)
            .await
            .expect("change"),
        [
            "change coupon `VIP-10`",
            "keep coupon `FRIENDS` (not in the file; switch it off with storebot-admin coupons disable)"
        ]
    );
    let view = coupons::list(db).await.expect("list");
    let vip = view
        .iter()
        .find(|v| v.coupon.code == "VIP-10")
        .expect("vip");
    assert_eq!(vip.coupon.amount, 15);
    assert!(vip.segments.is_empty());
    assert_eq!(vip.user_groups, ["vip club"]);

    // Bad coupons are refused with their code named, and nothing changes.
    let before = export(db, "EUR").await.expect("export");
    for (bad, expected) in [
        (
            CouponConfig {
                percent: Some(10),
                amount_off: Some(100),
                ..listed[1].clone()
            },
            "coupon `VIP-10`: give either `percent` or `amount_off`",
        ),
        (
            CouponConfig {
                segments: vec!["nobody".into()],
                ..listed[1].clone()
            },
            "coupon `VIP-10`: segment `nobody` does not exist",
        ),
        (
            CouponConfig {
                code: "NEW-ONE".into(),
                segments: vec![],
                user_groups: vec![],
                ..listed[1].clone()
            },
            "coupon `NEW-ONE`: a coupon needs at least one segment or user group: nobody could use it otherwise",
        ),
    ] {
        let mut document = before.clone();
        document.coupons = Some(vec![bad]);
        let error = apply(db, &document, "EUR", now(), false)
            .await
            .expect_err(expected);
        assert_eq!(error.to_string(), expected);
        assert_eq!(export(db, "EUR").await.expect("export"), before);
    }
}

#[tokio::test]
async fn product_segments_and_their_grants_round_trip_by_name() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    two_teas(db).await;
    let mut config = document();
    config.product_segments = Some(
        serde_json::from_value(serde_json::json!([
            { "name": "cheap tea", "categories": ["Tea"], "price_max": 500,
              "in_stock": true, "granted_to": ["vip"] }
        ]))
        .expect("product segments"),
    );
    let applied = apply(db, &config, "EUR", now(), false)
        .await
        .expect("apply");
    assert!(
        applied.contains(&"add product segment `cheap tea`".to_owned())
            && applied.contains(&"grant product segment `cheap tea` to `vip`".to_owned()),
        "{applied:?}"
    );
    let exported = export(db, "EUR").await.expect("export");
    assert_eq!(exported.product_segments, config.product_segments);
    assert_applies_nothing(db, &exported).await;
    // Taking the grant out of the file revokes it; an unknown category changes nothing.
    let mut changed = exported.clone();
    if let Some(list) = changed.product_segments.as_mut() {
        list[0].granted_to.clear();
    }
    assert_eq!(
        apply(db, &changed, "EUR", now(), false)
            .await
            .expect("revoke"),
        ["revoke product segment `cheap tea` from `vip`"]
    );
    let mut bad = changed.clone();
    if let Some(list) = bad.product_segments.as_mut() {
        list[0].categories = vec!["Nope".into()];
    }
    let error = apply(db, &bad, "EUR", now(), false).await.expect_err("bad");
    assert_eq!(
        error.to_string(),
        "product segment `cheap tea` names the category `Nope`, which does not exist"
    );
    assert_eq!(export(db, "EUR").await.expect("export"), changed);
}

/// A catalog of `products` products, `Item 0000`, `Item 0001`, …, each with the variants
/// `I-0000-A` and `I-0000-B`.
async fn items(db: &sea_orm::DatabaseConnection, products: usize) {
    let rows: Vec<_> = (0..products)
        .flat_map(|n| {
            let title = format!("Item {n:04}");
            [
                row(2 * n + 2, &format!("I-{n:04}-A"), &title, 100),
                row(2 * n + 3, &format!("I-{n:04}-B"), &title, 200),
            ]
        })
        .collect();
    import(db, &rows, now()).await.expect("catalog");
}

/// A document with only an availability section, from `(product number, segments, variants)`.
fn availability_only(
    entries: impl IntoIterator<
        Item = (
            usize,
            Option<&'static [&'static str]>,
            Option<serde_json::Value>,
        ),
    >,
) -> StoreConfig {
    let names = |segments: &[&str]| segments.iter().map(ToString::to_string).collect();
    StoreConfig {
        questions: None,
        segments: None,
        availability: Some(
            entries
                .into_iter()
                .map(|(n, segments, variants)| ProductAvailability {
                    product: format!("Item {n:04}"),
                    segments: segments.map(names),
                    variants: variants.map(|v| serde_json::from_value(v).expect("variants")),
                })
                .collect(),
        ),
        product_segments: None,
        coupons: None,
        images: None,
    }
}

#[tokio::test]
async fn availability_of_a_large_catalog_is_applied_changed_and_applied_again_unchanged() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    // More products than one statement's list of 500 ids holds, with changes past the 500th.
    items(db, 1_200).await;
    let segments: StoreConfig = serde_json::from_value(serde_json::json!({
        "segments": [{ "name": "vip", "kind": "manual" }, { "name": "staff", "kind": "manual" }]
    }))
    .expect("segments");
    apply(db, &segments, "EUR", now(), false)
        .await
        .expect("segments");
    const VIP: &[&str] = &["vip"];
    const STAFF: &[&str] = &["staff"];

    // Every tenth product for vip; two products and one past the 500th by variant.
    let mut first = vec![
        (
            5,
            None,
            Some(
                serde_json::json!([{ "sku": "I-0005-A", "segments": ["staff"] },
                                          { "sku": "I-0005-B" }]),
            ),
        ),
        (
            7,
            None,
            Some(
                serde_json::json!([{ "sku": "I-0007-A", "segments": ["staff", "vip"] },
                                          { "sku": "I-0007-B", "segments": [] }]),
            ),
        ),
        (
            1105,
            None,
            Some(serde_json::json!([{ "sku": "I-1105-A" },
                                             { "sku": "I-1105-B", "segments": ["vip"] }])),
        ),
    ];
    first.extend((0..1_200).step_by(10).map(|n| (n, Some(VIP), None)));
    first.sort_by_key(|(n, _, _)| *n);
    let first = availability_only(first);
    let mut expected = Vec::new();
    for n in 0..1_200 {
        match n {
            5 => expected.extend([
                "turn by-variant on for `Item 0005`".to_owned(),
                "set who may see variant `I-0005-A`".to_owned(),
            ]),
            7 => expected.extend([
                "turn by-variant on for `Item 0007`".to_owned(),
                "set who may see variant `I-0007-A`".to_owned(),
                "set who may see variant `I-0007-B`".to_owned(),
            ]),
            1105 => expected.extend([
                "turn by-variant on for `Item 1105`".to_owned(),
                "set who may see variant `I-1105-B`".to_owned(),
            ]),
            n if n % 10 == 0 => expected.push(format!("set who may see `Item {n:04}`")),
            _ => {}
        }
    }
    assert_eq!(
        apply(db, &first, "EUR", now(), true)
            .await
            .expect("dry run"),
        expected
    );
    assert_eq!(
        apply(db, &first, "EUR", now(), false).await.expect("apply"),
        expected
    );
    assert_eq!(
        export(db, "EUR").await.expect("export").availability,
        first.availability
    );
    assert_applies_nothing(db, &first).await;

    // The shopper side reads the same grants: a guest no longer sees `Item 0700`, vip does.
    let vip = storebot_entity::segment::Entity::find()
        .filter(storebot_entity::segment::Column::Name.eq("vip"))
        .one(db)
        .await
        .expect("q")
        .expect("vip")
        .id;
    let item_700 = crate::store::catalog::editing::variant_by_sku(db, "I-0700-A")
        .await
        .expect("sku")
        .product_id;
    let visible = |segments: Vec<i64>| async move {
        crate::store::catalog::browse::visible_product(db, item_700, &segments)
            .await
            .expect("q")
            .is_some()
    };
    assert!(!visible(vec![]).await);
    assert!(visible(vec![vip]).await);

    // Every twentieth product moves to staff and every hundredth opens to all; `Item 0005`
    // leaves by-variant mode, `Item 0007` opens a variant to vip, and `Item 0613` goes
    // by variant and to staff at once.
    let mut second = vec![
        (
            7,
            None,
            Some(
                serde_json::json!([{ "sku": "I-0007-A", "segments": ["staff", "vip"] },
                                          { "sku": "I-0007-B", "segments": ["vip"] }]),
            ),
        ),
        (
            613,
            Some(STAFF),
            Some(
                serde_json::json!([{ "sku": "I-0613-A", "segments": ["vip"] },
                                                    { "sku": "I-0613-B" }]),
            ),
        ),
        (
            1105,
            None,
            Some(serde_json::json!([{ "sku": "I-1105-A" },
                                             { "sku": "I-1105-B", "segments": ["vip"] }])),
        ),
    ];
    second.extend(
        (0..1_200)
            .step_by(10)
            .filter(|n| n % 100 != 0)
            .map(|n| (n, Some(if n % 20 == 0 { STAFF } else { VIP }), None)),
    );
    second.sort_by_key(|(n, _, _)| *n);
    let second = availability_only(second);
    let mut expected = Vec::new();
    for n in 0..1_200 {
        match n {
            5 => expected.push(
                "turn by-variant off for `Item 0005`: `I-0005-A`, now staff only, becomes \
                 visible to everybody"
                    .to_owned(),
            ),
            7 => expected.push("set who may see variant `I-0007-B`".to_owned()),
            613 => expected.extend([
                "turn by-variant on for `Item 0613`".to_owned(),
                "set who may see `Item 0613`".to_owned(),
                "set who may see variant `I-0613-A`".to_owned(),
            ]),
            n if n % 20 == 0 => expected.push(format!("set who may see `Item {n:04}`")),
            _ => {}
        }
    }
    assert_eq!(
        apply(db, &second, "EUR", now(), false)
            .await
            .expect("change"),
        expected
    );
    let exported = export(db, "EUR").await.expect("export");
    assert_eq!(exported.availability, second.availability);
    assert_applies_nothing(db, &second).await;
    assert_applies_nothing(db, &exported).await;
    assert!(visible(vec![]).await, "`Item 0700` is open to all again");

    // A title the catalog lacks refuses the whole file, after everything else is checked.
    let mut unknown = second.clone();
    if let Some(list) = unknown.availability.as_mut() {
        list.push(ProductAvailability {
            product: "Item 9999".into(),
            segments: Some(vec![]),
            variants: None,
        });
        list[0].segments = Some(vec!["staff".into()]);
    }
    let error = apply(db, &unknown, "EUR", now(), false)
        .await
        .expect_err("unknown title");
    assert_eq!(
        error.to_string(),
        "availability names the product `Item 9999`, which does not exist"
    );
    assert_eq!(export(db, "EUR").await.expect("export"), exported);
}
