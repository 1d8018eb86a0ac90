//! The store's health report: settings that make things invisible or pointless, found before
//! shoppers notice. Read-only: this module must never fix anything itself.
//!
//! Checks: active variants nobody can currently see (their governing segment set has no
//! segment in force with members, and no such segment is granted a product segment they
//! match), active products whose every variant is hidden that way,
//! empty segments, segments assigned nowhere, grants to segments not in force, rules that
//! use archived questions or options or no longer validate, and active coupons nobody can
//! redeem now (ended, used up, or tied only to segments with no members in force), and
//! product or variant photos that Telegram refused.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;
use storebot_entity::{
    coupon, coupon_segment, coupon_user_group, product, product_segment, segment, segment_member,
    variant, variant_segment,
};

use crate::segments;
use crate::store::StoreError;
use crate::store::membership::definitions::validation_facts;
use crate::store::membership::in_force::is_in_force;
use crate::store::membership::names::rule_names;

/// One problem found, with a sentence for the merchant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// A stable word for scripts: `hidden_variant`, `hidden_product`, `empty_segment`,
    /// `unused_segment`, `grant_not_in_force`, `bad_rule`, `dead_coupon`, `refused_image`.
    pub kind: &'static str,
    pub message: String,
}

/// Runs every check at `now`.
pub async fn check(
    db: &impl ConnectionTrait,
    currency: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Finding>, StoreError> {
    let facts = Facts::load(db, now).await?;
    let mut findings = hidden_catalog(db, &facts).await?;
    let (rule_findings, used_in_rules) = rule_findings(db, currency, &facts.segments).await?;
    findings.extend(rule_findings);
    findings.extend(segment_findings(&facts, &used_in_rules, now));
    findings
        .extend(dead_coupons(db, now, &facts.coupon_ties, &facts.granting, &facts.names()).await?);
    findings.extend(refused_images(db).await?);
    Ok(findings)
}

/// Photos Telegram refused: each product shows as text until its image is fixed.
async fn refused_images(db: &impl ConnectionTrait) -> Result<Vec<Finding>, StoreError> {
    Ok(crate::store::catalog::images::refused(db)
        .await?
        .into_iter()
        .map(|refused| Finding {
            kind: "refused_image",
            message: format!(
                "Telegram refused the image of {} ({}): {}",
                refused.owner, refused.source, refused.error
            ),
        })
        .collect())
}

/// What the checks share: the segments, who is in them, and every grant.
struct Facts {
    segments: Vec<segment::Model>,
    members: BTreeMap<i64, usize>,
    /// Segments in force with members: only these make anything visible now.
    granting: BTreeSet<i64>,
    product_grants: BTreeMap<i64, BTreeSet<i64>>,
    variant_grants: BTreeMap<i64, BTreeSet<i64>>,
    coupon_ties: BTreeMap<i64, BTreeSet<i64>>,
    /// Product-segment grants: which customer segments each product segment opens to.
    pseg_grants: Vec<(crate::product_rule::ProductRule, BTreeSet<i64>)>,
}

impl Facts {
    async fn load(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<Facts, StoreError> {
        let segments = segment::Entity::find()
            .order_by_asc(segment::Column::Name)
            .all(db)
            .await?;
        let mut members: BTreeMap<i64, usize> = BTreeMap::new();
        for row in segment_member::Entity::find().all(db).await? {
            *members.entry(row.segment_id).or_default() += 1;
        }
        let granting: BTreeSet<i64> = segments
            .iter()
            .filter(|segment| is_in_force(segment, now) && members.contains_key(&segment.id))
            .map(|segment| segment.id)
            .collect();
        let product_grants = grants(
            product_segment::Entity::find()
                .all(db)
                .await?
                .into_iter()
                .map(|row| (row.product_id, row.segment_id)),
        );
        let variant_grants = grants(
            variant_segment::Entity::find()
                .all(db)
                .await?
                .into_iter()
                .map(|row| (row.variant_id, row.segment_id)),
        );
        let coupon_ties = grants(
            coupon_segment::Entity::find()
                .all(db)
                .await?
                .into_iter()
                .map(|row| (row.coupon_id, row.segment_id)),
        );
        let pseg_grants = crate::store::catalog::product_segments::grants_in_memory(db).await?;
        Ok(Facts {
            segments,
            members,
            granting,
            product_grants,
            variant_grants,
            coupon_ties,
            pseg_grants,
        })
    }

    fn names(&self) -> BTreeMap<i64, &str> {
        self.segments
            .iter()
            .map(|s| (s.id, s.name.as_str()))
            .collect()
    }
}

/// Active variants nobody can see now, and active products whose every variant is so.
async fn hidden_catalog(
    db: &impl ConnectionTrait,
    facts: &Facts,
) -> Result<Vec<Finding>, StoreError> {
    let mut findings = Vec::new();
    let names = facts.names();
    let (granting, product_grants, variant_grants, pseg_grants) = (
        &facts.granting,
        &facts.product_grants,
        &facts.variant_grants,
        &facts.pseg_grants,
    );
    let products = product::Entity::find()
        .filter(product::Column::Active.eq(true))
        .order_by_asc(product::Column::Title)
        .all(db)
        .await?;
    let mut variants_of: BTreeMap<i64, Vec<variant::Model>> = BTreeMap::new();
    for variant in variant::Entity::find()
        .order_by_asc(variant::Column::Sku)
        .all(db)
        .await?
    {
        variants_of
            .entry(variant.product_id)
            .or_default()
            .push(variant);
    }
    let empty = BTreeSet::new();
    for product in &products {
        let variants = variants_of
            .get(&product.id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let active: Vec<&variant::Model> = variants.iter().filter(|v| v.active).collect();
        if active.is_empty() {
            continue;
        }
        let mut hidden = 0;
        for variant in &active {
            let (all, set) = if product.by_variant {
                (
                    variant.all_segments,
                    variant_grants.get(&variant.id).unwrap_or(&empty),
                )
            } else {
                (
                    product.all_segments,
                    product_grants.get(&product.id).unwrap_or(&empty),
                )
            };
            let opened =
                crate::store::catalog::product_segments::opened_to(pseg_grants, product, variant);
            if !all && set.is_disjoint(granting) && opened.is_disjoint(granting) {
                hidden += 1;
                if product.by_variant {
                    findings.push(Finding {
                        kind: "hidden_variant",
                        message: format!(
                            "variant `{}` of `{}` is visible to {}, so nobody can see it now",
                            variant.sku,
                            product.title,
                            describe_set(set, &names)
                        ),
                    });
                }
            }
        }
        if hidden == active.len() {
            findings.push(Finding {
                kind: "hidden_product",
                message: if product.by_variant {
                    format!(
                        "product `{}` has no variant anybody can see now",
                        product.title
                    )
                } else {
                    format!(
                        "product `{}` is visible to {}, so nobody can see it now",
                        product.title,
                        describe_set(product_grants.get(&product.id).unwrap_or(&empty), &names)
                    )
                },
            });
        }
    }

    Ok(findings)
}

/// Rules that can't be read or no longer validate, and the segments rules name.
async fn rule_findings(
    db: &impl ConnectionTrait,
    currency: &str,
    segments: &[segment::Model],
) -> Result<(Vec<Finding>, BTreeSet<i64>), StoreError> {
    let mut findings = Vec::new();
    let mut used_in_rules = BTreeSet::new();
    let facts = validation_facts(db, None).await?;
    for segment in segments {
        let Some(json) = &segment.rule else { continue };
        match segments::from_json(json) {
            Err(error) => findings.push(Finding {
                kind: "bad_rule",
                message: format!(
                    "the rule of segment `{}` can't be read: {error}",
                    segment.name
                ),
            }),
            Ok(rule) => {
                used_in_rules.extend(rule.references().segments);
                let facts = segments::ValidationFacts {
                    segment_id: Some(segment.id),
                    ..facts.clone()
                };
                if let Err(error) = segments::validate(&rule, &facts) {
                    // Said in words, as the merchant would write the rule.
                    let names = rule_names(db, currency).await?;
                    findings.push(Finding {
                        kind: "bad_rule",
                        message: format!(
                            "the rule of segment `{}` is refused: {}",
                            segment.name,
                            segments::language::error_in_words(&error, &rule, &names)
                        ),
                    });
                }
            }
        }
    }

    Ok((findings, used_in_rules))
}

/// Segments with no members, assigned nowhere, or granted while out of force.
fn segment_findings(
    facts: &Facts,
    used_in_rules: &BTreeSet<i64>,
    now: DateTime<Utc>,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let (members, product_grants, variant_grants) =
        (&facts.members, &facts.product_grants, &facts.variant_grants);
    let coupon_segments: BTreeSet<i64> = facts.coupon_ties.values().flatten().copied().collect();
    let pseg_granted: BTreeSet<i64> = facts
        .pseg_grants
        .iter()
        .flat_map(|(_, segments)| segments.iter().copied())
        .collect();
    for segment in &facts.segments {
        if !members.contains_key(&segment.id) {
            findings.push(Finding {
                kind: "empty_segment",
                message: format!("segment `{}` has no members", segment.name),
            });
        }
        let granted = product_grants.values().any(|set| set.contains(&segment.id))
            || variant_grants.values().any(|set| set.contains(&segment.id))
            || coupon_segments.contains(&segment.id)
            || pseg_granted.contains(&segment.id);
        if !granted && segment.user_group.is_none() && !used_in_rules.contains(&segment.id) {
            findings.push(Finding {
                kind: "unused_segment",
                message: format!(
                    "segment `{}` is assigned nowhere (no product, variant, product segment, coupon, user group or rule)",
                    segment.name
                ),
            });
        }
        if granted && !is_in_force(segment, now) {
            findings.push(Finding {
                kind: "grant_not_in_force",
                message: format!(
                    "segment `{}` is assigned to products, variants, product segments or coupons but is not in force",
                    segment.name
                ),
            });
        }
    }
    findings
}

/// Active coupons nobody can redeem now: expired, used up, or tied only to segments with no
/// members in force (a coupon with a user group may reach anyone the group is set on, so it
/// is left alone).
async fn dead_coupons(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ties: &BTreeMap<i64, BTreeSet<i64>>,
    granting: &BTreeSet<i64>,
    names: &BTreeMap<i64, &str>,
) -> Result<Vec<Finding>, StoreError> {
    let grouped: BTreeSet<i64> = coupon_user_group::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.coupon_id)
        .collect();
    let empty = BTreeSet::new();
    let mut findings = Vec::new();
    for coupon in coupon::Entity::find()
        .filter(coupon::Column::Active.eq(true))
        .order_by_asc(coupon::Column::Code)
        .all(db)
        .await?
    {
        let segments = ties.get(&coupon.id).unwrap_or(&empty);
        let why = if let Some(ends) = coupon.ends_at.filter(|ends| *ends <= now) {
            format!("it ended at {}", ends.format("%Y-%m-%d %H:%M UTC"))
        } else if let Some(limit) = coupon.usage_limit.filter(|l| coupon.used_count >= *l) {
            format!("all {limit} of its uses are taken")
        } else if !grouped.contains(&coupon.id) && segments.is_disjoint(granting) {
            format!("it is tied to {}", describe_set(segments, names))
        } else {
            continue;
        };
        findings.push(Finding {
            kind: "dead_coupon",
            message: format!(
                "coupon `{}` can't be redeemed by anybody now: {why}; switch it off or change it",
                coupon.code
            ),
        });
    }
    Ok(findings)
}

fn grants(rows: impl Iterator<Item = (i64, i64)>) -> BTreeMap<i64, BTreeSet<i64>> {
    let mut map: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
    for (owner, segment) in rows {
        map.entry(owner).or_default().insert(segment);
    }
    map
}

fn describe_set(set: &BTreeSet<i64>, names: &BTreeMap<i64, &str>) -> String {
    if set.is_empty() {
        return "no segment".into();
    }
    let listed: Vec<String> = set
        .iter()
        .map(|id| format!("`{}`", names.get(id).copied().unwrap_or("?")))
        .collect();
    format!("only {} (none in force with members)", listed.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::catalog::availability::{self, Audience};
    use crate::store::catalog::editing::variant_by_sku;
    use crate::store::catalog::import::import;
    use crate::store::catalog::import::tests::{now, row};
    use crate::store::membership::definitions::{self, SegmentDraft, SegmentKind};
    use crate::store::shoppers::questions::{self, NewQuestion, QuestionKind};
    use crate::testing::TestDb;

    #[tokio::test]
    async fn a_product_segment_grant_counts_as_a_use_and_makes_its_variants_visible() {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        import(db, &[row(2, "A-1", "Tea", 100)], now())
            .await
            .expect("import");
        let tea = variant_by_sku(db, "A-1").await.expect("sku");
        let vip = definitions::create(db, &SegmentDraft::manual("vip"), now())
            .await
            .expect("vip");
        let fans = definitions::create(db, &SegmentDraft::manual("fans"), now())
            .await
            .expect("fans");
        availability::set_product(db, tea.product_id, &Audience::Segments([vip.id].into()))
            .await
            .expect("restrict");
        crate::testing::member_of(db, fans.id, 7, now())
            .await
            .expect("member");
        let kinds = |findings: Vec<Finding>| {
            findings
                .into_iter()
                .map(|f| format!("{}: {}", f.kind, f.message))
                .collect::<Vec<_>>()
        };
        let before = kinds(check(db, "EUR", now()).await.expect("lint"));
        assert!(
            before.iter().any(|f| f.starts_with("hidden_product"))
                && before
                    .iter()
                    .any(|f| f.contains("segment `fans` is assigned nowhere")),
            "{before:?}"
        );
        crate::store::catalog::product_segments::create(
            db,
            &crate::store::catalog::product_segments::ProductSegmentDraft {
                name: "cheap".into(),
                description: String::new(),
                rule: crate::product_rule::ProductRule {
                    price_max: Some(100),
                    ..Default::default()
                },
            },
            now(),
        )
        .await
        .expect("product segment");
        crate::store::catalog::product_segments::grant(db, "cheap", "fans")
            .await
            .expect("grant");
        let after = kinds(check(db, "EUR", now()).await.expect("lint"));
        assert_eq!(after, ["empty_segment: segment `vip` has no members"]);
    }

    #[tokio::test]
    async fn lint_finds_hidden_products_empty_and_unused_segments_and_archived_options() {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        import(
            db,
            &[row(2, "A-1", "Tea", 100), row(3, "B-1", "Mug", 100)],
            now(),
        )
        .await
        .expect("import");
        let tea = variant_by_sku(db, "A-1").await.expect("sku").product_id;
        let vip = definitions::create(db, &SegmentDraft::manual("vip"), now())
            .await
            .expect("vip");
        definitions::create(db, &SegmentDraft::manual("idle"), now())
            .await
            .expect("idle");
        availability::set_product(db, tea, &Audience::Segments([vip.id].into()))
            .await
            .expect("restrict");
        let question = questions::add(
            db,
            &NewQuestion {
                text: "Pets?".into(),
                kind: QuestionKind::Single,
                required: true,
                options: vec!["Cat".into()],
            },
            now(),
        )
        .await
        .expect("question");
        let rule = segments::Rule::Answer {
            question: question.question.id,
            options: [question.options[0].id].into(),
        };
        definitions::create(
            db,
            &SegmentDraft {
                kind: SegmentKind::Auto,
                rule: Some(rule),
                user_group: Some("pets".into()),
                ..SegmentDraft::manual("cats")
            },
            now(),
        )
        .await
        .expect("cats");
        questions::archive_option(db, question.options[0].id, true)
            .await
            .expect("archive");

        let findings = check(db, "EUR", now()).await.expect("lint");
        let messages: Vec<String> = findings
            .iter()
            .map(|f| format!("{}: {}", f.kind, f.message))
            .collect();
        assert_eq!(
            messages,
            [
                "hidden_product: product `Tea` is visible to only `vip` (none in force with members), so nobody can see it now".to_owned(),
                r#"bad_rule: the rule of segment `cats` is refused: the answer "Cat" is archived, in: answer "Pets?" is "Cat""#.to_owned(),
                "empty_segment: segment `cats` has no members".to_owned(),
                "empty_segment: segment `idle` has no members".to_owned(),
                "unused_segment: segment `idle` is assigned nowhere (no product, variant, product segment, coupon, user group or rule)".to_owned(),
                "empty_segment: segment `vip` has no members".to_owned(),
            ]
        );
    }

    #[tokio::test]
    async fn active_coupons_nobody_can_redeem_are_reported_with_the_reason() {
        use crate::coupons::Discount;
        use crate::store::orders::coupons::{self, NewCoupon};
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        let vip = definitions::create(db, &SegmentDraft::manual("vip"), now())
            .await
            .expect("vip");
        let coupon = |code: &str| NewCoupon {
            code: code.into(),
            discount: Discount::Percent(10),
            starts_at: None,
            ends_at: None,
            usage_limit: None,
            per_customer_limit: None,
            segments: vec!["vip".into()],
            user_groups: vec![],
        };
        for new in [
            coupon("EMPTY"),
            NewCoupon {
                ends_at: Some(now() - chrono::Duration::hours(1)),
                ..coupon("ENDED")
            },
            NewCoupon {
                usage_limit: Some(1),
                ..coupon("TAKEN")
            },
            NewCoupon {
                segments: vec![],
                user_groups: vec!["friends".into()],
                ..coupon("GROUP")
            },
            coupon("OFF"),
        ] {
            coupons::create(db, &new, now() - chrono::Duration::days(1))
                .await
                .expect("coupon");
        }
        coupons::disable(db, "OFF").await.expect("disable");
        coupon::Entity::update_many()
            .col_expr(
                coupon::Column::UsedCount,
                sea_orm::sea_query::Expr::value(1),
            )
            .filter(coupon::Column::Code.eq("TAKEN"))
            .exec(db)
            .await
            .expect("use it up");
        let dead = |findings: Vec<Finding>| {
            findings
                .into_iter()
                .filter(|f| f.kind == "dead_coupon")
                .map(|f| f.message)
                .collect::<Vec<_>>()
        };
        let tail = "; switch it off or change it";
        assert_eq!(
            dead(check(db, "EUR", now()).await.expect("lint")),
            [
                format!(
                    "coupon `EMPTY` can't be redeemed by anybody now: it is tied to only `vip` (none in force with members){tail}"
                ),
                format!(
                    "coupon `ENDED` can't be redeemed by anybody now: it ended at {}{tail}",
                    (now() - chrono::Duration::hours(1)).format("%Y-%m-%d %H:%M UTC")
                ),
                format!(
                    "coupon `TAKEN` can't be redeemed by anybody now: all 1 of its uses are taken{tail}"
                ),
            ]
        );

        // A member in force brings the segment-tied coupon back to life.
        crate::testing::member_of(db, vip.id, 7, now())
            .await
            .expect("member");
        let after = dead(check(db, "EUR", now()).await.expect("lint"));
        assert_eq!(after.len(), 2, "{after:?}");
        assert!(after.iter().all(|m| !m.contains("EMPTY")), "{after:?}");
    }
}
