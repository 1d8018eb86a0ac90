//! Catalog reads, filtered by the visibility rule of [`crate::catalog`] for one shopper.
//!
//! The filter runs in SQL (so a large catalog is never loaded to be filtered in memory); the
//! `visible_to_agrees_with_the_pure_rule` test keeps it identical to
//! [`crate::catalog::variant_visibility`].

use std::collections::BTreeSet;

use sea_orm::sea_query::{Condition, Expr, ExprTrait, IntoCondition, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, JoinType, Order, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, RelationDef,
};
use storebot_entity::{category, product, product_segment, variant, variant_segment};

use crate::store::StoreError;

/// A category with how many products the shopper can see in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategorySummary {
    pub id: i64,
    pub name: String,
    pub visible_products: u64,
}

/// A product with the variants the shopper can see, cheapest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductView {
    pub product: product::Model,
    pub variants: Vec<variant::Model>,
}

/// The SQL form of the visibility rule for a variant row joined to its product row, given the
/// shopper's segments in force. Product-segment grants are a correlated `EXISTS` inside the
/// same statement, so they cost the bot no extra query.
pub fn visible_to(segments_in_force: &[i64]) -> Condition {
    let product_granted = product::Column::Id.in_subquery(
        Query::select()
            .column(product_segment::Column::ProductId)
            .from(product_segment::Entity)
            .and_where(product_segment::Column::SegmentId.is_in(segments_in_force.to_vec()))
            .to_owned(),
    );
    let variant_granted = variant::Column::Id.in_subquery(
        Query::select()
            .column(variant_segment::Column::VariantId)
            .from(variant_segment::Entity)
            .and_where(variant_segment::Column::SegmentId.is_in(segments_in_force.to_vec()))
            .to_owned(),
    );
    let mut audience = Condition::any()
        .add(
            Condition::all()
                .add(product::Column::ByVariant.eq(false))
                .add(
                    Condition::any()
                        .add(product::Column::AllSegments.eq(true))
                        .add(product_granted),
                ),
        )
        .add(
            Condition::all()
                .add(product::Column::ByVariant.eq(true))
                .add(
                    Condition::any()
                        .add(variant::Column::AllSegments.eq(true))
                        .add(variant_granted),
                ),
        );
    // Product-segment grants come last, so a variant the flags already open is decided
    // before the correlated subquery (SQLite evaluates OR terms in order). A guest (no
    // segment in force) has no grants, so the subquery is left out for them.
    if !segments_in_force.is_empty() {
        audience = audience.add(crate::store::catalog::product_segments::granted_to(
            segments_in_force,
        ));
    }
    Condition::all()
        .add(product::Column::Active.eq(true))
        .add(variant::Column::Active.eq(true))
        .add(audience)
}

fn variant_to_product() -> RelationDef {
    variant::Entity::belongs_to(product::Entity)
        .from(variant::Column::ProductId)
        .to(product::Column::Id)
        .into()
}

/// Categories holding at least one product the shopper can see, in the merchant's order.
pub async fn visible_categories(
    db: &impl ConnectionTrait,
    segments_in_force: &[i64],
) -> Result<Vec<CategorySummary>, StoreError> {
    // One statement: the counts grouped by category, with the category's own columns.
    let rows: Vec<(i64, String, i64)> = variant::Entity::find()
        .select_only()
        .column(category::Column::Id)
        .column(category::Column::Name)
        .column_as(
            Expr::col((product::Entity, product::Column::Id)).count_distinct(),
            "n",
        )
        .join(JoinType::InnerJoin, variant_to_product())
        .join(
            JoinType::InnerJoin,
            product::Entity::belongs_to(category::Entity)
                .from(product::Column::CategoryId)
                .to(category::Column::Id)
                .into(),
        )
        .filter(visible_to(segments_in_force))
        .group_by(category::Column::Id)
        .group_by(category::Column::Name)
        .group_by(category::Column::Position)
        .order_by(category::Column::Position, Order::Asc)
        .order_by(category::Column::Name, Order::Asc)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, visible_products)| CategorySummary {
            id,
            name,
            visible_products: visible_products.unsigned_abs(),
        })
        .collect())
}

/// The name of category `id`, if there is one (whether the shopper may see it is
/// [`visible_products_in_category`]'s to say).
pub async fn category_name(
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<String>, StoreError> {
    Ok(category::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(|category| category.name))
}

/// The products of a category that have at least one variant the shopper can see, by title.
pub async fn visible_products_in_category(
    db: &impl ConnectionTrait,
    category_id: i64,
    segments_in_force: &[i64],
) -> Result<Vec<product::Model>, StoreError> {
    visible_products_where(
        db,
        product::Column::CategoryId.eq(category_id).into_condition(),
        segments_in_force,
    )
    .await
}

/// Products the shopper can see whose title, description or variant SKU or title contains
/// `text`, ignoring case (Unicode case: `чай` finds `Зелёный ЧАЙ` on both databases).
///
/// An ASCII query is matched inside the database with `LOWER(…) LIKE`. SQLite's `LOWER` folds
/// ASCII letters only, so a query with any other character is matched here instead, over the
/// shopper's visible products and variants: a scan of the visible catalog, which a shop's
/// catalog keeps small, and the same folding on SQLite and PostgreSQL.
pub async fn search_visible_products(
    db: &impl ConnectionTrait,
    text: &str,
    segments_in_force: &[i64],
) -> Result<Vec<product::Model>, StoreError> {
    if !text.is_ascii() {
        return search_visible_products_folding_here(db, text, segments_in_force).await;
    }
    let pattern = format!("%{}%", escape_like(&text.to_lowercase()));
    let contains = |column: sea_orm::sea_query::SimpleExpr| {
        Expr::expr(sea_orm::sea_query::Func::lower(column))
            .like(sea_orm::sea_query::LikeExpr::new(pattern.clone()).escape('\\'))
    };
    let matches = Condition::any()
        .add(contains(Expr::col((
            product::Entity,
            product::Column::Title,
        ))))
        .add(contains(Expr::col((
            product::Entity,
            product::Column::Description,
        ))))
        .add(contains(Expr::col((variant::Entity, variant::Column::Sku))))
        .add(contains(Expr::col((
            variant::Entity,
            variant::Column::Title,
        ))));
    visible_products_where(db, matches, segments_in_force).await
}

async fn search_visible_products_folding_here(
    db: &impl ConnectionTrait,
    text: &str,
    segments_in_force: &[i64],
) -> Result<Vec<product::Model>, StoreError> {
    let needle = text.to_lowercase();
    let contains = |haystack: &str| haystack.to_lowercase().contains(&needle);
    let variants = variant::Entity::find()
        .join(JoinType::InnerJoin, variant_to_product())
        .filter(visible_to(segments_in_force))
        .all(db)
        .await?;
    let by_variant: BTreeSet<i64> = variants
        .iter()
        .filter(|variant| contains(&variant.sku) || contains(&variant.title))
        .map(|variant| variant.product_id)
        .collect();
    Ok(
        visible_products_where(db, Condition::all(), segments_in_force)
            .await?
            .into_iter()
            .filter(|product| {
                by_variant.contains(&product.id)
                    || contains(&product.title)
                    || contains(&product.description)
            })
            .collect(),
    )
}

async fn visible_products_where(
    db: &impl ConnectionTrait,
    condition: Condition,
    segments_in_force: &[i64],
) -> Result<Vec<product::Model>, StoreError> {
    // One statement: the visible, matching product ids stay inside the database rather than
    // coming back as a parameter list (which SQLite caps at 32,766 values).
    let visible_ids = variant::Entity::find()
        .select_only()
        .column(variant::Column::ProductId)
        .join(JoinType::InnerJoin, variant_to_product())
        .filter(visible_to(segments_in_force))
        .filter(condition)
        .into_query();
    Ok(product::Entity::find()
        .filter(product::Column::Id.in_subquery(visible_ids))
        .order_by(product::Column::Title, Order::Asc)
        .order_by(product::Column::Id, Order::Asc)
        .all(db)
        .await?)
}

/// A product with its visible variants, or `None` when the shopper can see none of them (or
/// it does not exist: the shopper can't tell the two apart, by design).
pub async fn visible_product(
    db: &impl ConnectionTrait,
    product_id: i64,
    segments_in_force: &[i64],
) -> Result<Option<ProductView>, StoreError> {
    // One statement: each visible variant comes with its product.
    let rows = variant::Entity::find()
        .select_also(product::Entity)
        .join(JoinType::InnerJoin, variant_to_product())
        .filter(variant::Column::ProductId.eq(product_id))
        .filter(visible_to(segments_in_force))
        .order_by(variant::Column::Price, Order::Asc)
        .order_by(variant::Column::Id, Order::Asc)
        .all(db)
        .await?;
    let mut product = None;
    let mut variants = Vec::with_capacity(rows.len());
    for (variant, of) in rows {
        product = product.or(of);
        variants.push(variant);
    }
    Ok(product.map(|product| ProductView { product, variants }))
}

/// A single variant and its product if the shopper can see it: what every button press that
/// names a variant re-checks.
pub async fn visible_variant(
    db: &impl ConnectionTrait,
    variant_id: i64,
    segments_in_force: &[i64],
) -> Result<Option<(variant::Model, product::Model)>, StoreError> {
    Ok(variant::Entity::find_by_id(variant_id)
        .select_also(product::Entity)
        .join(JoinType::InnerJoin, variant_to_product())
        .filter(visible_to(segments_in_force))
        .one(db)
        .await?
        .and_then(|(variant, product)| product.map(|product| (variant, product))))
}

/// Escapes `\`, `%` and `_` so that shopper text matches literally inside a LIKE pattern.
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::variant_visibility;
    use crate::store::catalog::access::{access_of_all_products, access_of_product};
    use crate::testing::TestDb;
    use chrono::Utc;
    use sea_orm::ActiveValue::Set;
    use sea_orm::{ActiveModelTrait, DatabaseConnection};
    use storebot_entity::segment;

    async fn add_category(db: &DatabaseConnection, name: &str, position: i32) -> i64 {
        category::ActiveModel {
            name: Set(name.into()),
            position: Set(position),
            ..Default::default()
        }
        .insert(db)
        .await
        .expect("category")
        .id
    }

    async fn add_segment(db: &DatabaseConnection, name: &str) -> i64 {
        segment::ActiveModel {
            name: Set(name.into()),
            description: Set(String::new()),
            kind: Set("manual".into()),
            active: Set(true),
            created_at: Set(Utc::now()),
            updated_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(db)
        .await
        .expect("segment")
        .id
    }

    struct NewProduct<'a> {
        title: &'a str,
        category: i64,
        active: bool,
        all_segments: bool,
        by_variant: bool,
        segments: &'a [i64],
    }

    async fn add_product(db: &DatabaseConnection, new: NewProduct<'_>) -> i64 {
        let id = product::ActiveModel {
            title: Set(new.title.into()),
            description: Set(format!("The {} description", new.title)),
            category_id: Set(Some(new.category)),
            brand: Set(None),
            active: Set(new.active),
            all_segments: Set(new.all_segments),
            by_variant: Set(new.by_variant),
            created_at: Set(Utc::now()),
            updated_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(db)
        .await
        .expect("product")
        .id;
        for segment_id in new.segments {
            product_segment::ActiveModel {
                product_id: Set(id),
                segment_id: Set(*segment_id),
            }
            .insert(db)
            .await
            .expect("product segment");
        }
        id
    }

    async fn add_variant(
        db: &DatabaseConnection,
        product_id: i64,
        sku: &str,
        price: i64,
        active: bool,
        all_segments: bool,
        segments: &[i64],
    ) -> i64 {
        let id = variant::ActiveModel {
            product_id: Set(product_id),
            sku: Set(sku.into()),
            title: Set(format!("Variant {sku}")),
            price: Set(price),
            stock: Set(5),
            active: Set(active),
            all_segments: Set(all_segments),
            ..Default::default()
        }
        .insert(db)
        .await
        .expect("variant")
        .id;
        for segment_id in segments {
            variant_segment::ActiveModel {
                variant_id: Set(id),
                segment_id: Set(*segment_id),
            }
            .insert(db)
            .await
            .expect("variant segment");
        }
        id
    }

    #[tokio::test]
    async fn restricted_products_and_empty_categories_are_hidden() {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        let vip = add_segment(db, "VIP").await;
        let tea = add_category(db, "Tea", 1).await;
        let secret = add_category(db, "Secret", 2).await;
        let _empty = add_category(db, "Empty", 3).await;
        let green = add_product(
            db,
            NewProduct {
                title: "Green tea",
                category: tea,
                active: true,
                all_segments: true,
                by_variant: false,
                segments: &[],
            },
        )
        .await;
        add_variant(db, green, "GT-1", 500, true, true, &[]).await;
        let reserve = add_product(
            db,
            NewProduct {
                title: "Reserve blend",
                category: secret,
                active: true,
                all_segments: false,
                by_variant: false,
                segments: &[vip],
            },
        )
        .await;
        add_variant(db, reserve, "RB-1", 9000, true, true, &[]).await;

        let guest = visible_categories(db, &[]).await.expect("guest");
        assert_eq!(
            guest.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["Tea"]
        );
        let member = visible_categories(db, &[vip]).await.expect("member");
        assert_eq!(
            member.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["Tea", "Secret"]
        );
        assert!(
            visible_product(db, reserve, &[])
                .await
                .expect("q")
                .is_none()
        );
        assert!(
            visible_product(db, reserve, &[vip])
                .await
                .expect("q")
                .is_some()
        );
        assert!(
            visible_products_in_category(db, secret, &[])
                .await
                .expect("q")
                .is_empty()
        );
    }

    #[tokio::test]
    async fn by_variant_products_show_only_the_allowed_variants() {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        let vip = add_segment(db, "VIP").await;
        let tea = add_category(db, "Tea", 1).await;
        let oolong = add_product(
            db,
            NewProduct {
                title: "Oolong",
                category: tea,
                active: true,
                all_segments: false,
                by_variant: true,
                segments: &[],
            },
        )
        .await;
        let small = add_variant(db, oolong, "OO-50", 700, true, true, &[]).await;
        let large = add_variant(db, oolong, "OO-500", 5000, true, false, &[vip]).await;

        let guest = visible_product(db, oolong, &[])
            .await
            .expect("q")
            .expect("some");
        assert_eq!(
            guest.variants.iter().map(|v| v.id).collect::<Vec<_>>(),
            [small]
        );
        let member = visible_product(db, oolong, &[vip])
            .await
            .expect("q")
            .expect("some");
        assert_eq!(
            member.variants.iter().map(|v| v.id).collect::<Vec<_>>(),
            [small, large]
        );
        assert!(visible_variant(db, large, &[]).await.expect("q").is_none());
        assert!(
            visible_variant(db, large, &[vip])
                .await
                .expect("q")
                .is_some()
        );
    }

    #[tokio::test]
    async fn search_ignores_case_and_matches_sku_and_description_literally() {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        let tea = add_category(db, "Tea", 1).await;
        let sencha = add_product(
            db,
            NewProduct {
                title: "Sencha 100%",
                category: tea,
                active: true,
                all_segments: true,
                by_variant: false,
                segments: &[],
            },
        )
        .await;
        add_variant(db, sencha, "SEN_01", 800, true, true, &[]).await;
        let matcha = add_product(
            db,
            NewProduct {
                title: "Matcha",
                category: tea,
                active: true,
                all_segments: true,
                by_variant: false,
                segments: &[],
            },
        )
        .await;
        add_variant(db, matcha, "MAT-01", 1800, true, true, &[]).await;

        let titles = |products: Vec<product::Model>| {
            products.into_iter().map(|p| p.title).collect::<Vec<_>>()
        };
        assert_eq!(
            titles(search_visible_products(db, "SENCHA", &[]).await.expect("q")),
            ["Sencha 100%"]
        );
        assert_eq!(
            titles(search_visible_products(db, "sen_0", &[]).await.expect("q")),
            ["Sencha 100%"]
        );
        assert_eq!(
            titles(
                search_visible_products(db, "matcha DESCRIPTION", &[])
                    .await
                    .expect("q")
            ),
            ["Matcha"]
        );
        // `%` and `_` are literal characters, not wildcards.
        assert_eq!(
            titles(search_visible_products(db, "100%", &[]).await.expect("q")),
            ["Sencha 100%"]
        );
        assert!(
            search_visible_products(db, "MAT_01", &[])
                .await
                .expect("q")
                .is_empty()
        );
    }

    #[tokio::test]
    async fn search_folds_unicode_case_and_keeps_hidden_products_hidden() {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        let tea = add_category(db, "Чай", 1).await;
        let vip = add_segment(db, "VIP").await;
        let product = |title| NewProduct {
            title,
            category: tea,
            active: true,
            all_segments: true,
            by_variant: false,
            segments: &[],
        };
        let green = add_product(db, product("Зелёный ЧАЙ")).await;
        add_variant(db, green, "ZEL-1", 500, true, true, &[]).await;
        let black = add_product(db, product("Éclair noir")).await;
        add_variant(db, black, "ÉCL-ÖL", 700, true, true, &[]).await;
        let hidden = add_product(
            db,
            NewProduct {
                all_segments: false,
                segments: &[vip],
                ..product("Чай для своих")
            },
        )
        .await;
        add_variant(db, hidden, "SVOI-1", 900, true, true, &[]).await;

        let titles = |products: Vec<product::Model>| {
            products.into_iter().map(|p| p.title).collect::<Vec<_>>()
        };
        for query in ["чай", "Чай", "ЧАЙ", "зелёный ч"] {
            assert_eq!(
                titles(search_visible_products(db, query, &[]).await.expect("q")),
                ["Зелёный ЧАЙ"],
                "{query}"
            );
        }
        assert_eq!(
            titles(search_visible_products(db, "ÉCLAIR", &[]).await.expect("q")),
            ["Éclair noir"]
        );
        assert_eq!(
            titles(search_visible_products(db, "écl-öl", &[]).await.expect("q")),
            ["Éclair noir"],
            "the SKU"
        );
        assert_eq!(
            titles(search_visible_products(db, "чай", &[vip]).await.expect("q")),
            ["Зелёный ЧАЙ", "Чай для своих"]
        );
        assert!(
            search_visible_products(db, "пуэр", &[vip])
                .await
                .expect("q")
                .is_empty()
        );
    }

    /// The SQL filter and the pure rule decide every combination of flags, segment sets and
    /// product-segment grants the same way.
    #[tokio::test]
    async fn visible_to_agrees_with_the_pure_rule() {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        let a = add_segment(db, "A").await;
        let b = add_segment(db, "B").await;
        let category = add_category(db, "All", 1).await;
        let segment_sets: [&[i64]; 4] = [&[], &[a], &[b], &[a, b]];
        let mut n = 0;
        for product_active in [true, false] {
            for all_segments in [true, false] {
                for by_variant in [true, false] {
                    for product_segments in segment_sets {
                        let product_id = add_product(
                            db,
                            NewProduct {
                                title: "P",
                                category,
                                active: product_active,
                                all_segments,
                                by_variant,
                                segments: product_segments,
                            },
                        )
                        .await;
                        for variant_active in [true, false] {
                            for variant_all in [true, false] {
                                for variant_segments in segment_sets {
                                    n += 1;
                                    add_variant(
                                        db,
                                        product_id,
                                        &format!("SKU-{n}"),
                                        if n % 2 == 0 { 100 } else { 200 },
                                        variant_active,
                                        variant_all,
                                        variant_segments,
                                    )
                                    .await;
                                }
                            }
                        }
                    }
                }
            }
        }
        // Segment B is also granted the product segment "price up to 150", which opens half
        // the variants to it whatever their flags say.
        crate::store::catalog::product_segments::create(
            db,
            &crate::store::catalog::product_segments::ProductSegmentDraft {
                name: "cheap".into(),
                description: String::new(),
                rule: crate::product_rule::ProductRule {
                    price_max: Some(150),
                    ..Default::default()
                },
            },
            Utc::now(),
        )
        .await
        .expect("product segment");
        crate::store::catalog::product_segments::grant(db, "cheap", "B")
            .await
            .expect("grant");
        let products: Vec<i64> = product::Entity::find()
            .all(db)
            .await
            .expect("products")
            .into_iter()
            .map(|p| p.id)
            .collect();
        // The whole catalog read at once gives the same facts, grants included.
        let all = access_of_all_products(db).await.expect("all");
        assert_eq!(all.len(), products.len());
        for facts in all {
            assert_eq!(
                facts,
                access_of_product(db, facts.0.id).await.expect("access")
            );
        }
        for shopper in segment_sets {
            let in_force: BTreeSet<i64> = shopper.iter().copied().collect();
            for product_id in &products {
                let (_, product_access, variants) =
                    access_of_product(db, *product_id).await.expect("access");
                for (variant, variant_access) in variants {
                    let pure =
                        variant_visibility(&product_access, &variant_access, &in_force).is_ok();
                    let sql = visible_variant(db, variant.id, shopper)
                        .await
                        .expect("q")
                        .is_some();
                    assert_eq!(
                        pure, sql,
                        "{product_access:?} {variant_access:?} {shopper:?}"
                    );
                }
            }
        }
    }
}
