//! Who may see a product: all segments or chosen ones, for the whole product or variant by
//! variant. These are the grants that [`crate::store::catalog::browse::visible_to`] reads.
//!
//! Each change is one transaction and returns the product's availability afterwards, with a
//! warning when a restriction leaves nobody able to see something. This module must never
//! change segment membership or the catalog's own fields.

use std::collections::{BTreeMap, BTreeSet};

use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    TransactionSession, TransactionTrait,
};
use serde::Serialize;
use storebot_entity::{product, product_segment, segment, variant, variant_segment};

use crate::store::catalog::access::ProductAccessFacts;
use crate::store::{StoreError, begin_write};

/// Everybody, or the members of these segments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    AllSegments,
    Segments(BTreeSet<i64>),
}

/// A product's visibility settings, with segment names resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Availability {
    pub product_id: i64,
    pub title: String,
    pub by_variant: bool,
    /// The product's own audience (what counts when `by_variant` is off).
    pub audience: Audience,
    pub variants: Vec<VariantAvailability>,
    /// Segment id → name, for every segment named above.
    pub segment_names: BTreeMap<i64, String>,
    /// Sentences about settings that hide something from everybody.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VariantAvailability {
    pub variant_id: i64,
    pub sku: String,
    pub title: String,
    pub audience: Audience,
}

/// What turning by-variant off changes, variant by variant, when the product's audience
/// becomes `product`: each variant whose own audience is another, in words ("`ETH-RES`, now
/// VIP only, becomes visible to everybody"). `names` names the segments (an unnamed one shows
/// its id).
pub fn exposure_when_by_variant_ends(
    current: &Availability,
    product: &Audience,
    names: &BTreeMap<i64, String>,
) -> Vec<String> {
    let who = |audience: &Audience| match audience {
        Audience::AllSegments => "everybody".to_owned(),
        Audience::Segments(set) if set.is_empty() => "nobody".to_owned(),
        Audience::Segments(set) => {
            let mut named: Vec<String> = set
                .iter()
                .map(|id| names.get(id).cloned().unwrap_or_else(|| id.to_string()))
                .collect();
            named.sort();
            format!("{} only", named.join(", "))
        }
    };
    current
        .variants
        .iter()
        .filter(|variant| &variant.audience != product)
        .map(|variant| {
            format!(
                "`{}`, now {}, becomes visible to {}",
                variant.sku,
                who(&variant.audience),
                who(product)
            )
        })
        .collect()
}

/// A product's availability as it stands.
pub async fn of_product(
    db: &impl ConnectionTrait,
    product_id: i64,
) -> Result<Availability, StoreError> {
    // The same facts the shopper-side visibility rule reads, so the two can't drift.
    let facts = crate::store::catalog::access::access_of_product(db, product_id).await?;
    let named = BTreeSet::from_iter(named_segments(&facts));
    let segment_names = segment::Entity::find()
        .filter(segment::Column::Id.is_in(named))
        .all(db)
        .await?
        .into_iter()
        .map(|segment| (segment.id, segment.name))
        .collect();
    Ok(availability_of(facts, &segment_names))
}

/// Every product's availability as it stands, by title (then id): [`of_product`] for the
/// whole catalog in a few statements, whatever its size.
pub async fn of_all_products(db: &impl ConnectionTrait) -> Result<Vec<Availability>, StoreError> {
    let facts = crate::store::catalog::access::access_of_all_products(db).await?;
    // A shop has few segments: all their names are read once, and each product keeps those
    // it names.
    let segment_names: BTreeMap<i64, String> = segment::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|segment| (segment.id, segment.name))
        .collect();
    Ok(facts
        .into_iter()
        .map(|facts| availability_of(facts, &segment_names))
        .collect())
}

/// The segments a product's own audience, or one of its variants', names.
fn named_segments(facts: &ProductAccessFacts) -> impl Iterator<Item = i64> + '_ {
    let (_, access, variants) = facts;
    let product = (!access.all_segments).then_some(&access.segments);
    let variants = variants
        .iter()
        .filter(|(_, access)| !access.all_segments)
        .map(|(_, access)| &access.segments);
    product.into_iter().chain(variants).flatten().copied()
}

/// A product's availability from its access facts, with the names of the segments it names
/// taken from `known_names` (a segment missing from it is left unnamed).
fn availability_of(facts: ProductAccessFacts, known_names: &BTreeMap<i64, String>) -> Availability {
    let segment_names = named_segments(&facts)
        .filter_map(|id| known_names.get(&id).map(|name| (id, name.clone())))
        .collect();
    let (product, access, variants) = facts;
    let audience_of = |all_segments: bool, segments: BTreeSet<i64>| {
        if all_segments {
            Audience::AllSegments
        } else {
            Audience::Segments(segments)
        }
    };
    let audience = audience_of(access.all_segments, access.segments);
    let variants: Vec<VariantAvailability> = variants
        .into_iter()
        .map(|(variant, access)| VariantAvailability {
            audience: audience_of(access.all_segments, access.segments),
            variant_id: variant.id,
            sku: variant.sku,
            title: variant.title,
        })
        .collect();
    let mut warnings = Vec::new();
    let empty = Audience::Segments(BTreeSet::new());
    if !product.by_variant && audience == empty {
        warnings.push(format!(
            "product {} `{}` is restricted to no segment: nobody can see it",
            product.id, product.title
        ));
    }
    if product.by_variant {
        for variant in variants.iter().filter(|variant| variant.audience == empty) {
            warnings.push(format!(
                "variant `{}` is restricted to no segment: nobody can see it",
                variant.sku
            ));
        }
    }
    Availability {
        product_id: product.id,
        title: product.title,
        by_variant: product.by_variant,
        audience,
        variants,
        segment_names,
        warnings,
    }
}

/// Sets the product-wide audience (used when by-variant mode is off).
pub async fn set_product<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    product_id: i64,
    audience: &Audience,
) -> Result<Availability, StoreError> {
    let txn = begin_write(db).await?;
    write_product_audience(&txn, product_id, audience).await?;
    let availability = of_product(&txn, product_id).await?;
    txn.commit().await?;
    Ok(availability)
}

/// [`set_product`]'s writes, in the caller's transaction, without reading the availability
/// back: for `apply`, which already knows it and may write many products.
pub async fn write_product_audience(
    db: &impl ConnectionTrait,
    product_id: i64,
    audience: &Audience,
) -> Result<(), StoreError> {
    let product = product::Entity::find_by_id(product_id)
        .one(db)
        .await?
        .ok_or_else(|| StoreError::not_found("product", product_id))?;
    check_segments_exist(db, audience).await?;
    product_segment::Entity::delete_many()
        .filter(product_segment::Column::ProductId.eq(product_id))
        .exec(db)
        .await?;
    if let Audience::Segments(ids) = audience {
        for segment_id in ids {
            product_segment::ActiveModel {
                product_id: Set(product_id),
                segment_id: Set(*segment_id),
            }
            .insert(db)
            .await?;
        }
    }
    let mut row = product.into_active_model();
    row.all_segments = Set(*audience == Audience::AllSegments);
    row.update(db).await?;
    Ok(())
}

/// Turns by-variant mode on or off. Turning it on gives every variant the product's current
/// audience, so nothing changes for shoppers until the merchant narrows a variant; turning it
/// off discards the per-variant sets. Returns the availability and how many per-variant
/// grants were discarded.
pub async fn set_by_variant<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    product_id: i64,
    by_variant: bool,
) -> Result<(Availability, usize), StoreError> {
    let txn = begin_write(db).await?;
    let before = of_product(&txn, product_id).await?;
    let variant_ids: Vec<i64> = before.variants.iter().map(|v| v.variant_id).collect();
    let discarded = if before.by_variant == by_variant {
        0
    } else {
        let removed = variant_segment::Entity::delete_many()
            .filter(variant_segment::Column::VariantId.is_in(variant_ids.clone()))
            .exec(&txn)
            .await?
            .rows_affected;
        if by_variant {
            for variant in &before.variants {
                write_variant_audience(&txn, variant.variant_id, &before.audience).await?;
            }
        } else {
            variant::Entity::update_many()
                .col_expr(
                    variant::Column::AllSegments,
                    sea_orm::sea_query::Expr::value(true),
                )
                .filter(variant::Column::Id.is_in(variant_ids))
                .exec(&txn)
                .await?;
        }
        let mut row = product::ActiveModel {
            id: Set(product_id),
            ..Default::default()
        };
        row.by_variant = Set(by_variant);
        row.update(&txn).await?;
        usize::try_from(removed).unwrap_or(usize::MAX)
    };
    let availability = of_product(&txn, product_id).await?;
    txn.commit().await?;
    Ok((availability, discarded))
}

/// Sets one variant's audience; the product must be in by-variant mode.
pub async fn set_variant<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    variant_id: i64,
    audience: &Audience,
) -> Result<Availability, StoreError> {
    let txn = begin_write(db).await?;
    let variant = variant::Entity::find_by_id(variant_id)
        .one(&txn)
        .await?
        .ok_or_else(|| StoreError::not_found("variant", variant_id))?;
    let product = product::Entity::find_by_id(variant.product_id)
        .one(&txn)
        .await?
        .ok_or_else(|| StoreError::not_found("product", variant.product_id))?;
    if !product.by_variant {
        return Err(StoreError::Invalid(format!(
            "product {} `{}` is not in by-variant mode: turn it on first",
            product.id, product.title
        )));
    }
    check_segments_exist(&txn, audience).await?;
    variant_segment::Entity::delete_many()
        .filter(variant_segment::Column::VariantId.eq(variant_id))
        .exec(&txn)
        .await?;
    write_variant_audience(&txn, variant_id, audience).await?;
    let availability = of_product(&txn, product.id).await?;
    txn.commit().await?;
    Ok(availability)
}

async fn write_variant_audience(
    db: &impl ConnectionTrait,
    variant_id: i64,
    audience: &Audience,
) -> Result<(), StoreError> {
    if let Audience::Segments(ids) = audience {
        for segment_id in ids {
            variant_segment::ActiveModel {
                variant_id: Set(variant_id),
                segment_id: Set(*segment_id),
            }
            .insert(db)
            .await?;
        }
    }
    let mut row = variant::ActiveModel {
        id: Set(variant_id),
        ..Default::default()
    };
    row.all_segments = Set(*audience == Audience::AllSegments);
    row.update(db).await?;
    Ok(())
}

async fn check_segments_exist(
    db: &impl ConnectionTrait,
    audience: &Audience,
) -> Result<(), StoreError> {
    let Audience::Segments(ids) = audience else {
        return Ok(());
    };
    let found: BTreeSet<i64> = segment::Entity::find()
        .filter(segment::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|segment| segment.id)
        .collect();
    match ids.iter().find(|id| !found.contains(id)) {
        Some(missing) => Err(StoreError::not_found("segment", missing)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::catalog::editing::variant_by_sku;
    use crate::store::catalog::import::import;
    use crate::store::catalog::import::tests::{now, row};
    use crate::testing::TestDb;

    async fn segment(db: &impl ConnectionTrait, name: &str) -> i64 {
        segment::ActiveModel {
            name: Set(name.into()),
            description: Set(String::new()),
            kind: Set("manual".into()),
            active: Set(true),
            created_at: Set(now()),
            updated_at: Set(now()),
            ..Default::default()
        }
        .insert(db)
        .await
        .expect("segment")
        .id
    }

    #[tokio::test]
    async fn product_and_variant_audiences_round_trip_and_by_variant_off_discards() {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        import(
            db,
            &[row(2, "A-1", "Tea", 100), row(3, "A-2", "Tea", 200)],
            now(),
        )
        .await
        .expect("import");
        let product_id = variant_by_sku(db, "A-1").await.expect("sku").product_id;
        let vip = segment(db, "vip").await;
        let staff = segment(db, "staff").await;

        let set = set_product(db, product_id, &Audience::Segments([vip].into()))
            .await
            .expect("restrict");
        assert_eq!(set.audience, Audience::Segments([vip].into()));
        assert!(set.warnings.is_empty());
        assert_eq!(set.segment_names.get(&vip).map(String::as_str), Some("vip"));

        let nobody = set_product(db, product_id, &Audience::Segments(BTreeSet::new()))
            .await
            .expect("empty");
        assert_eq!(
            nobody.warnings,
            [format!(
                "product {product_id} `Tea` is restricted to no segment: nobody can see it"
            )]
        );

        let a2 = variant_by_sku(db, "A-2").await.expect("sku").id;
        let error = set_variant(db, a2, &Audience::AllSegments)
            .await
            .expect_err("not by variant");
        assert!(
            error.to_string().contains("not in by-variant mode"),
            "{error}"
        );

        set_product(db, product_id, &Audience::Segments([vip].into()))
            .await
            .expect("restrict again");
        let (on, discarded) = set_by_variant(db, product_id, true).await.expect("on");
        assert_eq!(discarded, 0);
        assert!(on.by_variant);
        assert!(
            on.variants
                .iter()
                .all(|v| v.audience == Audience::Segments([vip].into()))
        );
        let after = set_variant(db, a2, &Audience::Segments([staff].into()))
            .await
            .expect("variant");
        assert_eq!(
            after.variants[1].audience,
            Audience::Segments([staff].into())
        );

        let error = set_variant(db, a2, &Audience::Segments([999].into()))
            .await
            .expect_err("unknown");
        assert_eq!(error.to_string(), "segment 999 does not exist");
        assert_eq!(
            of_product(db, product_id).await.expect("read").variants[1].audience,
            Audience::Segments([staff].into())
        );

        let (off, discarded) = set_by_variant(db, product_id, false).await.expect("off");
        assert_eq!(discarded, 2);
        assert!(!off.by_variant);
        assert!(
            off.variants
                .iter()
                .all(|v| v.audience == Audience::AllSegments)
        );
        assert_eq!(off.audience, Audience::Segments([vip].into()));
    }

    /// The catalog read at once says of every product what reading it alone says: audiences,
    /// by-variant mode, segment names and warnings, in title order.
    #[tokio::test]
    async fn all_products_read_at_once_agree_with_each_read_alone() {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        import(
            db,
            &[
                row(2, "C-1", "Chai", 100),
                row(3, "C-2", "Chai", 200),
                row(4, "A-1", "Assam", 300),
                row(5, "B-1", "Bancha", 400),
                row(6, "B-2", "Bancha", 500),
                row(7, "D-1", "Darjeeling", 600),
            ],
            now(),
        )
        .await
        .expect("import");
        let vip = segment(db, "vip").await;
        let staff = segment(db, "staff").await;
        let product_of = |sku: &'static str| async move {
            variant_by_sku(db, sku).await.expect("sku").product_id
        };
        set_product(
            db,
            product_of("A-1").await,
            &Audience::Segments([vip].into()),
        )
        .await
        .expect("assam");
        set_product(
            db,
            product_of("D-1").await,
            &Audience::Segments(BTreeSet::new()),
        )
        .await
        .expect("darjeeling");
        set_by_variant(db, product_of("C-1").await, true)
            .await
            .expect("chai by variant");
        let c2 = variant_by_sku(db, "C-2").await.expect("sku").id;
        set_variant(db, c2, &Audience::Segments([vip, staff].into()))
            .await
            .expect("chai variant");
        set_product(
            db,
            product_of("B-1").await,
            &Audience::Segments([staff].into()),
        )
        .await
        .expect("bancha");
        set_by_variant(db, product_of("B-1").await, true)
            .await
            .expect("bancha by variant");
        let b2 = variant_by_sku(db, "B-2").await.expect("sku").id;
        set_variant(db, b2, &Audience::Segments(BTreeSet::new()))
            .await
            .expect("bancha variant");

        let all = of_all_products(db).await.expect("all");
        assert_eq!(
            all.iter().map(|a| a.title.as_str()).collect::<Vec<_>>(),
            ["Assam", "Bancha", "Chai", "Darjeeling"]
        );
        for availability in &all {
            assert_eq!(
                availability,
                &of_product(db, availability.product_id).await.expect("one")
            );
        }
        assert_eq!(
            all[1].warnings,
            ["variant `B-2` is restricted to no segment: nobody can see it"]
        );
        assert_eq!(
            all[2].segment_names,
            BTreeMap::from([(vip, "vip".to_owned()), (staff, "staff".to_owned())])
        );
        assert_eq!(all[3].audience, Audience::Segments(BTreeSet::new()));
    }
}
