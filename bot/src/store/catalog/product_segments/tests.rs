//! Product segments on the test database: rules, grants, and agreement of the pure rule with SQL.

use super::*;
use crate::store::catalog::availability::{self, Audience};
use crate::store::catalog::browse::visible_variant;
use crate::store::catalog::editing::{self, VariantEdit, variant_by_sku};
use crate::store::catalog::import::tests::{now, row};
use crate::store::catalog::import::{ImportRow, import};
use crate::store::membership::definitions::{self, SegmentDraft};
use crate::testing::TestDb;

fn draft(name: &str, json: &str) -> ProductSegmentDraft {
    ProductSegmentDraft {
        name: name.into(),
        description: String::new(),
        rule: ProductRule::parse(json).expect("rule"),
    }
}

fn branded(line: usize, sku: &str, product: &str, price: i64, brand: &str) -> ImportRow {
    ImportRow {
        brand: Some(brand.into()),
        ..row(line, sku, product, price)
    }
}

async fn skus(db: &impl ConnectionTrait, key: &str) -> Vec<String> {
    let mut skus: Vec<String> = products(db, key)
        .await
        .expect("products")
        .into_iter()
        .map(|(variant, _)| variant.sku)
        .collect();
    skus.sort();
    skus
}

#[tokio::test]
async fn membership_follows_catalog_edits() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    import(
        db,
        &[
            branded(2, "GT-1", "Green tea", 500, "Zen"),
            branded(3, "GT-2", "Green tea", 1500, "Zen"),
            branded(4, "BT-1", "Black tea", 700, "Acme"),
        ],
        now(),
    )
    .await
    .expect("import");
    create(
        db,
        &draft(
            "cheap green",
            r#"{"price_max": 1000, "contains": "GREEN", "in_stock": true}"#,
        ),
        now(),
    )
    .await
    .expect("create");
    assert_eq!(skus(db, "cheap green").await, ["GT-1"]);

    // A price cut brings GT-2 in; a retitle brings BT-1 in; selling out takes GT-1 out.
    editing::edit_variant(
        db,
        "GT-2",
        &VariantEdit {
            price: Some(900),
            ..Default::default()
        },
    )
    .await
    .expect("price");
    editing::edit_variant(
        db,
        "BT-1",
        &VariantEdit {
            title: Some("Green blend".into()),
            ..Default::default()
        },
    )
    .await
    .expect("title");
    editing::edit_variant(
        db,
        "GT-1",
        &VariantEdit {
            stock: Some(0),
            ..Default::default()
        },
    )
    .await
    .expect("stock");
    assert_eq!(skus(db, "cheap green").await, ["BT-1", "GT-2"]);
    assert_eq!(find(db, "cheap green").await.expect("find").variants, 2);
}

#[tokio::test]
async fn brands_ignore_case_and_match_literally_within_categories() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    import(
        db,
        &[
            branded(2, "A-1", "Tea A", 100, "Acme"),
            branded(3, "A-2", "Tea B", 100, "Ac_e"),
            branded(4, "A-3", "Tea C", 100, "acme"),
            ImportRow {
                category: Some("Mugs".into()),
                ..branded(5, "M-1", "Mug", 100, "Acme")
            },
        ],
        now(),
    )
    .await
    .expect("import");
    let tea = variant_by_sku(db, "A-1").await.expect("sku").product_id;
    let tea_category = crate::store::catalog::editing::product(db, tea)
        .await
        .expect("product")
        .product
        .category_id
        .expect("category");
    create(db, &draft("acme", r#"{"brands": ["Acme"]}"#), now())
        .await
        .expect("acme");
    // Case is ignored, `_` is literal.
    assert_eq!(skus(db, "acme").await, ["A-1", "A-3", "M-1"]);
    create(db, &draft("ace", r#"{"brands": ["Ac_e"]}"#), now())
        .await
        .expect("ace");
    assert_eq!(skus(db, "ace").await, ["A-2"]);
    create(
        db,
        &draft(
            "acme tea",
            &format!(r#"{{"brands": ["ACME"], "categories": [{tea_category}]}}"#),
        ),
        now(),
    )
    .await
    .expect("acme tea");
    assert_eq!(skus(db, "acme tea").await, ["A-1", "A-3"]);
}

#[tokio::test]
async fn bad_rules_and_names_are_refused_and_change_nothing() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let inverted = ProductSegmentDraft {
        name: "x".into(),
        description: String::new(),
        rule: ProductRule {
            price_min: Some(10),
            price_max: Some(5),
            ..Default::default()
        },
    };
    let error = create(db, &inverted, now()).await.expect_err("inverted");
    assert_eq!(
        error.to_string(),
        "the rule is refused: the price range is inverted: min 10 is above max 5"
    );
    let error = create(db, &draft("x", r#"{"categories": [999]}"#), now())
        .await
        .expect_err("category");
    assert_eq!(
        error.to_string(),
        "the rule is refused: category 999 does not exist"
    );
    create(db, &draft("x", r#"{"in_stock": true}"#), now())
        .await
        .expect("create");
    let error = create(db, &draft(" x ", r#"{"in_stock": true}"#), now())
        .await
        .expect_err("duplicate");
    assert_eq!(
        error.to_string(),
        "a product segment named `x` already exists"
    );
    assert_eq!(list(db).await.expect("list").len(), 1);
}

#[tokio::test]
async fn a_grant_opens_restricted_variants_to_its_segment_only() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    import(
        db,
        &[
            row(2, "R-1", "Reserve", 9000),
            row(3, "R-2", "Reserve", 500),
        ],
        now(),
    )
    .await
    .expect("import");
    let cheap = variant_by_sku(db, "R-2").await.expect("sku");
    let dear = variant_by_sku(db, "R-1").await.expect("sku");
    let vip = definitions::create(db, &SegmentDraft::manual("vip"), now())
        .await
        .expect("vip");
    let fans = definitions::create(db, &SegmentDraft::manual("fans"), now())
        .await
        .expect("fans");
    let other = definitions::create(db, &SegmentDraft::manual("other"), now())
        .await
        .expect("other");
    availability::set_product(db, cheap.product_id, &Audience::Segments([vip.id].into()))
        .await
        .expect("restrict");
    create(db, &draft("small", r#"{"price_max": 1000}"#), now())
        .await
        .expect("create");
    assert!(grant(db, "small", "fans").await.expect("grant"));
    assert!(!grant(db, "small", "fans").await.expect("again"));

    let sees = |segments: Vec<i64>, variant: i64| async move {
        visible_variant(db, variant, &segments)
            .await
            .expect("visible")
            .is_some()
    };
    assert!(sees(vec![fans.id], cheap.id).await);
    assert!(!sees(vec![fans.id], dear.id).await);
    assert!(!sees(vec![other.id], cheap.id).await);
    assert!(!sees(vec![], cheap.id).await);
    assert!(sees(vec![vip.id], dear.id).await);

    // Pure rule (what simulate and explain read) agrees.
    let (_, product_access, variants) =
        crate::store::catalog::access::access_of_product(db, cheap.product_id)
            .await
            .expect("access");
    for (variant, access) in variants {
        let expected: BTreeSet<i64> = if variant.id == cheap.id {
            [fans.id].into()
        } else {
            BTreeSet::new()
        };
        assert_eq!(access.opened_to, expected, "{}", variant.sku);
        assert_eq!(
            crate::catalog::variant_visibility(&product_access, &access, &[fans.id].into()).is_ok(),
            variant.id == cheap.id
        );
    }

    // Uses are listed both ways; revoking closes it again.
    assert_eq!(
        uses(db, "small")
            .await
            .expect("uses")
            .into_iter()
            .map(|s| s.name)
            .collect::<Vec<_>>(),
        ["fans"]
    );
    assert_eq!(
        definitions::uses(db, fans.id)
            .await
            .expect("uses")
            .product_segments,
        ["small"]
    );
    revoke(db, "small", "fans").await.expect("revoke");
    assert!(!sees(vec![fans.id], cheap.id).await);
    let error = revoke(db, "small", "fans").await.expect_err("twice");
    assert_eq!(
        error.to_string(),
        "segment `fans` is not granted product segment `small`"
    );
}

#[tokio::test]
async fn delete_refuses_while_in_use_unless_forced() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let fans = definitions::create(db, &SegmentDraft::manual("fans"), now())
        .await
        .expect("fans");
    create(db, &draft("small", r#"{"price_max": 1000}"#), now())
        .await
        .expect("create");
    grant(db, "small", "fans").await.expect("grant");
    let error = delete(db, "small", false).await.expect_err("in use");
    assert_eq!(
        error.to_string(),
        "product segment `small` is granted to segments `fans`: delete it anyway with --force"
    );
    assert_eq!(list(db).await.expect("list").len(), 1);
    assert_eq!(delete(db, "small", true).await.expect("forced"), ["fans"]);
    assert!(list(db).await.expect("list").is_empty());
    assert!(
        definitions::uses(db, fans.id)
            .await
            .expect("uses")
            .is_empty()
    );
    create(db, &draft("unused", r#"{"in_stock": true}"#), now())
        .await
        .expect("create");
    assert!(
        delete(db, "unused", false)
            .await
            .expect("unused")
            .is_empty()
    );
}

/// The SQL condition and the pure rule select the same variants for every rule shape.
#[tokio::test]
async fn sql_membership_agrees_with_the_pure_rule() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    let mut rows = Vec::new();
    let brands = ["Acme", "Zen", "50%_off"];
    for n in 0..12_i64 {
        let mut line = branded(
            usize::try_from(n).expect("n") + 2,
            &format!("S{n}_X"),
            &format!("Product {}", n % 4),
            100 * n,
            brands[usize::try_from(n % 3).expect("n")],
        );
        line.stock = i32::try_from(n % 2).expect("n");
        if n % 5 == 0 {
            line.category = Some("Mugs".into());
        }
        rows.push(line);
    }
    import(db, &rows, now()).await.expect("import");
    let mug = variant_by_sku(db, "S0_X").await.expect("sku").product_id;
    let mugs = editing::product(db, mug)
        .await
        .expect("product")
        .product
        .category_id
        .expect("category");
    let rules = [
        r#"{"price_min": 300, "price_max": 800}"#.to_owned(),
        r#"{"in_stock": true}"#.to_owned(),
        r#"{"brands": ["50%_off", "Zen"]}"#.to_owned(),
        r#"{"contains": "product 1"}"#.to_owned(),
        r#"{"contains": "s1_"}"#.to_owned(),
        format!(r#"{{"categories": [{mugs}], "in_stock": true}}"#),
        r#"{"contains": "%"}"#.to_owned(),
    ];
    let catalog = crate::store::catalog::simulate::catalog_access(db)
        .await
        .expect("catalog");
    for (n, json) in rules.iter().enumerate() {
        let name = format!("rule {n}");
        let rule = ProductRule::parse(json).expect("rule");
        create(db, &draft(&name, json), now())
            .await
            .expect("create");
        let grants = vec![(rule, BTreeSet::from([1]))];
        let mut pure: Vec<String> = catalog
            .iter()
            .flat_map(|facts| {
                facts
                    .variants
                    .iter()
                    .filter(|(variant, _)| !opened_to(&grants, &facts.product, variant).is_empty())
                    .map(|(variant, _)| variant.sku.clone())
            })
            .collect();
        pure.sort();
        assert_eq!(skus(db, &name).await, pure, "{json}");
    }
}

#[tokio::test]
async fn simulate_shows_a_granted_shopper_the_opened_variant_only() {
    let test = TestDb::new().await.expect("test db");
    let db = &test.db;
    import(
        db,
        &[
            row(2, "R-1", "Reserve", 9000),
            row(3, "R-2", "Reserve", 500),
        ],
        now(),
    )
    .await
    .expect("import");
    let cheap = variant_by_sku(db, "R-2").await.expect("sku");
    let vip = definitions::create(db, &SegmentDraft::manual("vip"), now())
        .await
        .expect("vip");
    let fans = definitions::create(db, &SegmentDraft::manual("fans"), now())
        .await
        .expect("fans");
    availability::set_product(db, cheap.product_id, &Audience::Segments([vip.id].into()))
        .await
        .expect("restrict");
    let fan = crate::testing::member_of(db, fans.id, 9, now())
        .await
        .expect("member");
    create(db, &draft("small", r#"{"price_max": 1000}"#), now())
        .await
        .expect("create");
    let seen = |simulation: crate::store::catalog::simulate::Simulation| {
        simulation
            .products
            .into_iter()
            .flat_map(|product| product.variants)
            .filter(|variant| variant.visible)
            .map(|variant| variant.sku)
            .collect::<Vec<_>>()
    };
    let before = crate::store::catalog::simulate::simulate(db, fan.id, now())
        .await
        .expect("simulate");
    assert!(seen(before).is_empty());
    grant(db, "small", "fans").await.expect("grant");
    let after = crate::store::catalog::simulate::simulate(db, fan.id, now())
        .await
        .expect("simulate");
    assert_eq!(after.visible_categories, ["Tea"]);
    assert_eq!(seen(after), ["R-2"]);
}
