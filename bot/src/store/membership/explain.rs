//! Why a shopper is or isn't in a segment: the rule evaluated on their facts, node by node.

use sea_orm::{ConnectionTrait, EntityTrait};
use storebot_entity::{segment, segment_member, segment_override};

use crate::segments::{Context, Explanation, Rule, ShopperFacts, explain as explain_rule};
use crate::store::StoreError;
use crate::store::membership::facts::load_facts;
use crate::store::membership::ledger::{OverrideMode, Source};
use crate::store::membership::{in_force, rules};

/// Why a customer is or is not in a segment: the stored membership next to what the rule
/// says now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentExplanation {
    pub segment: segment::Model,
    /// The rule of an auto segment.
    pub rule: Option<Rule>,
    pub facts: ShopperFacts,
    /// Why the customer is a member, when they are.
    pub membership: Option<Source>,
    /// The merchant's override of the rule for this customer, if any.
    pub override_mode: Option<OverrideMode>,
    pub in_force: bool,
}

impl SegmentExplanation {
    /// The rule's verdict for the customer, node by node (`None` for manual segments).
    pub fn explanation(&self, context: &Context) -> Option<Explanation<'_>> {
        self.rule
            .as_ref()
            .map(|rule| explain_rule(rule, &self.facts, context))
    }
}

pub async fn explain(
    db: &impl ConnectionTrait,
    context: &Context,
    customer_id: i64,
    segment_id: i64,
) -> Result<SegmentExplanation, StoreError> {
    let segment = rules::get(db, segment_id).await?;
    let rule = rules::rule_of(&segment)?;
    let facts = load_facts(db, customer_id).await?;
    let membership = segment_member::Entity::find_by_id((segment_id, customer_id))
        .one(db)
        .await?
        .and_then(|row| Source::parse(&row.source));
    let override_mode = segment_override::Entity::find_by_id((segment_id, customer_id))
        .one(db)
        .await?
        .and_then(|row| OverrideMode::parse(&row.mode));
    let in_force = in_force::is_in_force(&segment, context.now);
    Ok(SegmentExplanation {
        segment,
        rule,
        facts,
        membership,
        override_mode,
        in_force,
    })
}
