//! A shopper's facts as the in-memory evaluation reads them (answers, interactions, orders per
//! time frame), loaded only as far as the rules need them.

use std::collections::{BTreeMap, BTreeSet};

use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use storebot_entity::{customer, customer_answer, order, order_item, segment_member};

use crate::segments::{OrderFacts, Rule, ShopperFacts};
use crate::store::StoreError;
use crate::store::membership::rules::AutoSegment;

/// Which facts beyond the customer row and memberships the rules in force read, so a
/// re-evaluation loads only those (most shops have no `bought` rule, some no order rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FactNeeds {
    answers: bool,
    orders: bool,
    /// The products and variants of each order (`bought`).
    items: bool,
}

impl FactNeeds {
    const ALL: FactNeeds = FactNeeds {
        answers: true,
        orders: true,
        items: true,
    };

    /// What the segments in force read; a segment out of force is not evaluated.
    pub(crate) fn of(segments: &[AutoSegment]) -> FactNeeds {
        let mut needs = FactNeeds {
            answers: false,
            orders: false,
            items: false,
        };
        for segment in segments.iter().filter(|segment| segment.in_force) {
            segment
                .rule
                .for_each_condition(&mut |condition| match condition {
                    Rule::Answer { .. } => needs.answers = true,
                    Rule::AverageCheck(_) | Rule::TotalCheck(_) | Rule::OrderCount(_) => {
                        needs.orders = true;
                    }
                    Rule::Bought { .. } => {
                        needs.orders = true;
                        needs.items = true;
                    }
                    // Read from the customer row or the memberships, always loaded. Listed one by
                    // one so a new kind of condition has to say what it reads.
                    Rule::FirstInteraction { .. }
                    | Rule::LastInteraction { .. }
                    | Rule::Language { .. }
                    | Rule::Segment { .. }
                    | Rule::All { .. }
                    | Rule::Any { .. }
                    | Rule::None { .. } => {}
                });
        }
        needs
    }
}

/// Everything a rule can know about one customer: answers, interactions, language, every
/// order with its products and variants, and current memberships.
pub async fn load_facts(
    db: &impl ConnectionTrait,
    customer_id: i64,
) -> Result<ShopperFacts, StoreError> {
    let mut facts = load_facts_for(db, customer_id, FactNeeds::ALL).await?;
    facts.segments = segment_member::Entity::find()
        .select_only()
        .column(segment_member::Column::SegmentId)
        .filter(segment_member::Column::CustomerId.eq(customer_id))
        .into_tuple::<i64>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok(facts)
}

/// The customer row and what `needs` asks for (the rest left empty); memberships are left to
/// the caller. Orders and their items come in one round trip.
pub(crate) async fn load_facts_for(
    db: &impl ConnectionTrait,
    customer_id: i64,
    needs: FactNeeds,
) -> Result<ShopperFacts, StoreError> {
    let (customer, answers, orders) = tokio::try_join!(
        async { Ok::<_, StoreError>(customer::Entity::find_by_id(customer_id).one(db).await?) },
        answers_of(db, customer_id, needs),
        orders_of(db, customer_id, needs),
    )?;
    let customer = customer.ok_or_else(|| StoreError::not_found("customer", customer_id))?;
    Ok(ShopperFacts {
        answers,
        first_interaction_at: customer.first_interaction_at,
        last_interaction_at: customer.last_interaction_at,
        language_code: customer.language_code,
        orders,
        segments: BTreeSet::new(),
    })
}

/// The options the customer chose, by question (none read unless `needs.answers`).
async fn answers_of(
    db: &impl ConnectionTrait,
    customer_id: i64,
    needs: FactNeeds,
) -> Result<BTreeMap<i64, BTreeSet<i64>>, StoreError> {
    let mut answers: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
    if !needs.answers {
        return Ok(answers);
    }
    let rows: Vec<(i64, Option<i64>)> = customer_answer::Entity::find()
        .select_only()
        .column(customer_answer::Column::QuestionId)
        .column(customer_answer::Column::OptionId)
        .filter(customer_answer::Column::CustomerId.eq(customer_id))
        .filter(customer_answer::Column::OptionId.is_not_null())
        .into_tuple()
        .all(db)
        .await?;
    for (question, option) in rows {
        if let Some(option) = option {
            answers.entry(question).or_default().insert(option);
        }
    }
    Ok(answers)
}

/// The customer's orders by id, as they were placed, with their products and variants when
/// `needs.items` (none read unless the rules read orders).
async fn orders_of(
    db: &impl ConnectionTrait,
    customer_id: i64,
    needs: FactNeeds,
) -> Result<Vec<OrderFacts>, StoreError> {
    let mut order_facts: BTreeMap<i64, OrderFacts> = BTreeMap::new();
    if !(needs.orders || needs.items) {
        return Ok(Vec::new());
    }
    let mut query = Query::select();
    query
        .column((order::Entity, order::Column::Id))
        .column((order::Entity, order::Column::PlacedAt))
        .column((order::Entity, order::Column::Total))
        .column((order::Entity, order::Column::Status))
        .from(order::Entity)
        .and_where(Expr::col((order::Entity, order::Column::CustomerId)).eq(customer_id));
    if needs.items {
        query
            .column((order_item::Entity, order_item::Column::ProductId))
            .column((order_item::Entity, order_item::Column::VariantId))
            .left_join(
                order_item::Entity,
                Expr::col((order_item::Entity, order_item::Column::OrderId))
                    .equals((order::Entity, order::Column::Id)),
            );
    }
    for row in db.query_all(&query).await? {
        let id: i64 = row.try_get("", "id")?;
        let facts = match order_facts.entry(id) {
            std::collections::btree_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::btree_map::Entry::Vacant(entry) => entry.insert(OrderFacts {
                placed_at: row.try_get("", "placed_at")?,
                total: row.try_get("", "total")?,
                status: row.try_get("", "status")?,
                products: BTreeSet::new(),
                variants: BTreeSet::new(),
            }),
        };
        if needs.items {
            facts
                .products
                .extend(row.try_get::<Option<i64>>("", "product_id")?);
            facts
                .variants
                .extend(row.try_get::<Option<i64>>("", "variant_id")?);
        }
    }
    Ok(order_facts.into_values().collect())
}
