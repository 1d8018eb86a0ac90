//! A small, believable shop for `storebot chat --demo` and for tests: registration questions
//! (single, multiple and optional), categories, products with variants, segments that grant
//! restricted variants, and a few customers with orders.
//!
//! It only ever writes into the database it is given, which is meant to be fresh: it must
//! never be pointed at a real shop's database.

use chrono::{DateTime, Duration, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, ConnectionTrait, TransactionTrait};
use storebot_entity::{
    category, order, order_item, product, product_segment, segment, segment_member, variant,
    variant_segment,
};

use crate::store::StoreError;
use crate::store::shoppers::customers::{self, TelegramUser};
use crate::store::shoppers::questions::{self, NewQuestion, QuestionKind, QuestionView};

/// The ids of what [`seed`] created, for tests and for the demo's own wiring.
#[derive(Debug, Clone)]
pub struct Demo {
    pub age: QuestionView,
    pub likes: QuestionView,
    pub diet: QuestionView,
    pub vip: i64,
    pub coffee_lovers: i64,
    pub tea: i64,
    pub coffee: i64,
    pub members: i64,
    pub green_tea: i64,
    pub green_small: i64,
    pub green_large: i64,
    pub oolong: i64,
    pub oolong_open: i64,
    pub reserve_vip: i64,
    pub espresso: i64,
    pub espresso_beans: i64,
    pub members_blend: i64,
    pub members_blend_bag: i64,
    /// Customers the demo made up, with their orders.
    pub customers: Vec<i64>,
}

/// Fills a fresh database with the demo shop, as of `now`: registration questions, two
/// segments, a catalog with restricted variants, and three customers with an order each.
pub async fn seed<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
) -> Result<Demo, StoreError> {
    let (age, likes, diet) = seed_questions(db, now).await?;
    let (vip, coffee_lovers) = seed_segments(db, &likes, now).await?;
    let catalog = seed_catalog(db, vip, coffee_lovers, now).await?;
    let customers = seed_customers(db, vip, &catalog, now).await?;
    Ok(Demo {
        age,
        likes,
        diet,
        vip,
        coffee_lovers,
        tea: catalog.tea,
        coffee: catalog.coffee,
        members: catalog.members,
        green_tea: catalog.green_tea,
        green_small: catalog.green_small,
        green_large: catalog.green_large,
        oolong: catalog.oolong,
        oolong_open: catalog.oolong_open,
        reserve_vip: catalog.reserve_vip,
        espresso: catalog.espresso,
        espresso_beans: catalog.espresso_beans,
        members_blend: catalog.members_blend,
        members_blend_bag: catalog.members_blend_bag,
        customers,
    })
}

/// Age (single choice), what they like to drink (multiple), and an optional diet question.
async fn seed_questions(
    db: &(impl ConnectionTrait + TransactionTrait),
    now: DateTime<Utc>,
) -> Result<(QuestionView, QuestionView, QuestionView), StoreError> {
    let age = questions::add(
        db,
        &NewQuestion {
            text: "How old are you?".into(),
            kind: QuestionKind::Single,
            required: true,
            options: ["18–25", "26–40", "41+"].map(String::from).to_vec(),
        },
        now,
    )
    .await?;
    let likes = questions::add(
        db,
        &NewQuestion {
            text: "What do you like to drink?".into(),
            kind: QuestionKind::Multiple,
            required: true,
            options: ["Tea", "Coffee", "Cocoa"].map(String::from).to_vec(),
        },
        now,
    )
    .await?;
    let diet = questions::add(
        db,
        &NewQuestion {
            text: "Do you follow a diet? (optional)".into(),
            kind: QuestionKind::Single,
            required: false,
            options: ["Vegan", "Sugar-free"].map(String::from).to_vec(),
        },
        now,
    )
    .await?;

    Ok((age, likes, diet))
}

/// The manual VIP segment and the automatic "Coffee lovers" (who answered Coffee).
async fn seed_segments(
    db: &(impl ConnectionTrait + TransactionTrait),
    likes: &QuestionView,
    now: DateTime<Utc>,
) -> Result<(i64, i64), StoreError> {
    let vip = add_segment(db, "VIP", "Hand-picked regulars", None, now).await?;
    let coffee_option = likes.options.get(1).map_or(0, |option| option.id);
    let rule = format!(
        r#"{{"version":1,"rule":{{"type":"answer","question":{},"options":[{coffee_option}]}}}}"#,
        likes.question.id
    );
    let coffee_lovers = add_segment(
        db,
        "Coffee lovers",
        "Shoppers who said they like coffee",
        Some(rule),
        now,
    )
    .await?;

    Ok((vip, coffee_lovers))
}

/// The ids of the demo catalog.
struct Catalog {
    tea: i64,
    coffee: i64,
    members: i64,
    green_tea: i64,
    green_small: i64,
    green_large: i64,
    oolong: i64,
    oolong_open: i64,
    reserve_vip: i64,
    espresso: i64,
    espresso_beans: i64,
    members_blend: i64,
    members_blend_bag: i64,
}

/// Four categories and four products: one open to all (with a sold-out variant), two by
/// variant with a variant for VIPs or coffee lovers, and one for VIPs only.
async fn seed_catalog(
    db: &(impl ConnectionTrait + TransactionTrait),
    vip: i64,
    coffee_lovers: i64,
    now: DateTime<Utc>,
) -> Result<Catalog, StoreError> {
    let tea = add_category(db, "Tea", 1).await?;
    let coffee = add_category(db, "Coffee", 2).await?;
    let members = add_category(db, "Members only", 3).await?;
    add_category(db, "Gift cards (coming soon)", 4).await?;

    let green_tea = add_product(
        db,
        "Green tea",
        "Sencha from Shizuoka, grassy and fresh.",
        tea,
        Access::All,
        now,
    )
    .await?;
    let green_small = add_variant(db, green_tea, "GT-100", "100 g", 450, 10, true).await?;
    let green_large = add_variant(db, green_tea, "GT-500", "500 g", 1800, 0, true).await?;
    let oolong = add_product(
        db,
        "Oolong",
        "Milky oolong from Taiwan; the reserve lot is for VIPs.",
        tea,
        Access::ByVariant,
        now,
    )
    .await?;
    let oolong_open = add_variant(db, oolong, "OO-100", "100 g", 700, 8, true).await?;
    let reserve_vip = add_variant(db, oolong, "OO-RES", "Reserve lot 50 g", 2500, 3, false).await?;
    grant_variant(db, reserve_vip, vip).await?;
    let espresso = add_product(
        db,
        "Espresso roast",
        "Dark roast for espresso; a single-origin bag for coffee lovers.",
        coffee,
        Access::ByVariant,
        now,
    )
    .await?;
    let espresso_beans = add_variant(db, espresso, "ES-250", "Beans 250 g", 990, 20, true).await?;
    let single_origin = add_variant(
        db,
        espresso,
        "ES-ETH",
        "Ethiopia single origin 250 g",
        1490,
        6,
        false,
    )
    .await?;
    grant_variant(db, single_origin, coffee_lovers).await?;
    let members_blend = add_product(
        db,
        "Members blend",
        "Our house blend, for VIPs only.",
        members,
        Access::Segments(vec![vip]),
        now,
    )
    .await?;
    let members_blend_bag =
        add_variant(db, members_blend, "MB-250", "250 g", 1200, 15, true).await?;

    Ok(Catalog {
        tea,
        coffee,
        members,
        green_tea,
        green_small,
        green_large,
        oolong,
        oolong_open,
        reserve_vip,
        espresso,
        espresso_beans,
        members_blend,
        members_blend_bag,
    })
}

/// Three customers with an order of green tea each (Maria, a VIP by hand).
async fn seed_customers(
    db: &(impl ConnectionTrait + TransactionTrait),
    vip: i64,
    catalog: &Catalog,
    now: DateTime<Utc>,
) -> Result<Vec<i64>, StoreError> {
    let mut demo_customers = Vec::new();
    for (index, (name, in_vip)) in [("Maria", true), ("Jonas", false), ("Aiko", false)]
        .into_iter()
        .enumerate()
    {
        let offset = i64::try_from(index).unwrap_or_default();
        let since = now - Duration::days(30 + 10 * offset);
        let customer = customers::record_interaction(
            db,
            &TelegramUser {
                telegram_user_id: 9001 + offset,
                chat_id: 9001 + offset,
                first_name: name.to_owned(),
                last_name: None,
                username: None,
                language_code: Some("en".to_owned()),
            },
            since,
        )
        .await?;
        if in_vip {
            segment_member::ActiveModel {
                segment_id: Set(vip),
                customer_id: Set(customer.id),
                source: Set("manual".to_owned()),
                since: Set(since),
            }
            .insert(db)
            .await?;
        }
        let placed = order::ActiveModel {
            customer_id: Set(customer.id),
            status: Set(if index == 0 { "delivered" } else { "paid" }.to_owned()),
            total: Set(900 + 700 * offset),
            discount_total: Set(0),
            currency: Set("EUR".to_owned()),
            placed_at: Set(since + Duration::days(1)),
            contact_phone: Set(None),
            address: Set(None),
            idempotency_key: Set(format!("demo-{}", customer.id)),
            ..Default::default()
        }
        .insert(db)
        .await?;
        order_item::ActiveModel {
            order_id: Set(placed.id),
            variant_id: Set(Some(catalog.green_small)),
            product_id: Set(Some(catalog.green_tea)),
            sku: Set("GT-100".to_owned()),
            title: Set("Green tea, 100 g".to_owned()),
            quantity: Set(2),
            unit_price: Set(450),
            discount: Set(0),
            ..Default::default()
        }
        .insert(db)
        .await?;
        demo_customers.push(customer.id);
    }

    Ok(demo_customers)
}

enum Access {
    All,
    Segments(Vec<i64>),
    ByVariant,
}

async fn add_segment(
    db: &impl ConnectionTrait,
    name: &str,
    description: &str,
    rule: Option<String>,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    Ok(segment::ActiveModel {
        name: Set(name.to_owned()),
        description: Set(description.to_owned()),
        kind: Set(if rule.is_some() { "auto" } else { "manual" }.to_owned()),
        rule: Set(rule),
        active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?
    .id)
}

async fn add_category(
    db: &impl ConnectionTrait,
    name: &str,
    position: i32,
) -> Result<i64, StoreError> {
    Ok(category::ActiveModel {
        name: Set(name.to_owned()),
        position: Set(position),
        ..Default::default()
    }
    .insert(db)
    .await?
    .id)
}

async fn add_product(
    db: &impl ConnectionTrait,
    title: &str,
    description: &str,
    category_id: i64,
    access: Access,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let id = product::ActiveModel {
        title: Set(title.to_owned()),
        description: Set(description.to_owned()),
        category_id: Set(Some(category_id)),
        brand: Set(None),
        active: Set(true),
        all_segments: Set(matches!(access, Access::All | Access::ByVariant)),
        by_variant: Set(matches!(access, Access::ByVariant)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?
    .id;
    if let Access::Segments(segments) = access {
        for segment_id in segments {
            product_segment::ActiveModel {
                product_id: Set(id),
                segment_id: Set(segment_id),
            }
            .insert(db)
            .await?;
        }
    }
    Ok(id)
}

async fn add_variant(
    db: &impl ConnectionTrait,
    product_id: i64,
    sku: &str,
    title: &str,
    price: i64,
    stock: i32,
    all_segments: bool,
) -> Result<i64, StoreError> {
    Ok(variant::ActiveModel {
        product_id: Set(product_id),
        sku: Set(sku.to_owned()),
        title: Set(title.to_owned()),
        price: Set(price),
        stock: Set(stock),
        active: Set(true),
        all_segments: Set(all_segments),
        ..Default::default()
    }
    .insert(db)
    .await?
    .id)
}

async fn grant_variant(
    db: &impl ConnectionTrait,
    variant_id: i64,
    segment_id: i64,
) -> Result<(), StoreError> {
    variant_segment::ActiveModel {
        variant_id: Set(variant_id),
        segment_id: Set(segment_id),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The demo shop plus one fresh shopper, for store tests.
#[cfg(test)]
pub mod fixtures {
    use super::*;
    use chrono::TimeZone;

    pub struct Shop {
        pub demo: Demo,
        pub shopper: i64,
        pub now: DateTime<Utc>,
        pub green_small: i64,
        pub reserve_vip: i64,
    }

    impl Shop {
        pub async fn new(db: &(impl ConnectionTrait + TransactionTrait)) -> Self {
            let now = Utc
                .with_ymd_and_hms(2026, 11, 1, 12, 0, 0)
                .single()
                .expect("time");
            let demo = seed(db, now).await.expect("demo");
            let shopper = customers::record_interaction(
                db,
                &TelegramUser {
                    telegram_user_id: 100,
                    chat_id: 100,
                    first_name: "Sam".into(),
                    last_name: None,
                    username: None,
                    language_code: None,
                },
                now,
            )
            .await
            .expect("shopper")
            .id;
            Self {
                green_small: demo.green_small,
                reserve_vip: demo.reserve_vip,
                demo,
                shopper,
                now,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::catalog::browse;
    use crate::testing::TestDb;

    #[tokio::test]
    async fn demo_shop_shows_different_variants_to_vips() {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        let shop = fixtures::Shop::new(db).await;
        let guest = browse::visible_categories(db, &[]).await.expect("guest");
        assert_eq!(
            guest.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["Tea", "Coffee"]
        );
        let vip = browse::visible_categories(db, &[shop.demo.vip])
            .await
            .expect("vip");
        assert_eq!(vip.len(), 3);
        let oolong = browse::visible_product(db, shop.demo.oolong, &[shop.demo.vip])
            .await
            .expect("q")
            .expect("visible");
        assert_eq!(oolong.variants.len(), 2);
        assert_eq!(shop.demo.customers.len(), 3);
    }
}
