//! A rule's preview (how many would match, with a sample) and its diff against a segment's
//! current members, before anything is saved.

use sea_orm::sea_query::{Alias, Cond, Expr, ExprTrait, Order, Query, SelectStatement};
use sea_orm::{ColumnTrait, ConnectionTrait};
use storebot_entity::{customer, segment_member};

use crate::segments::compile::CUSTOMER_ID;
use crate::segments::{Context, Rule, matching_customers};
use crate::store::StoreError;
use crate::store::membership::ledger::{OverrideMode, Source};
use crate::store::membership::recompute::per_segment::overrides;

/// How many customers a rule selects, with the first few ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    pub count: u64,
    /// The lowest ids, at most the sample size asked for.
    pub sample: Vec<i64>,
}

/// Who a rule would select right now, before it is saved.
pub async fn preview(
    db: &impl ConnectionTrait,
    context: &Context,
    rule: &Rule,
    sample_size: u64,
) -> Result<Preview, StoreError> {
    count_and_sample(db, matching_customers(rule, context), sample_size).await
}

/// Who would join and who would leave an auto segment if its rule became `rule` (overrides
/// and manual members included), without changing anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diff {
    pub joining: Preview,
    pub leaving: Preview,
}

pub async fn preview_diff(
    db: &impl ConnectionTrait,
    context: &Context,
    segment_id: i64,
    rule: &Rule,
    sample_size: u64,
) -> Result<Diff, StoreError> {
    let customer_id = || Expr::col((customer::Entity, customer::Column::Id));
    let target = Cond::all()
        .add(
            Cond::any()
                .add(customer_id().in_subquery(matching_customers(rule, context)))
                .add(customer_id().in_subquery(overrides(segment_id, OverrideMode::Include))),
        )
        .add(customer_id().not_in_subquery(overrides(segment_id, OverrideMode::Exclude)));
    let members = |source: Option<Source>| {
        let mut query = Query::select();
        query
            .column(segment_member::Column::CustomerId)
            .from(segment_member::Entity)
            .and_where(segment_member::Column::SegmentId.eq(segment_id));
        if let Some(source) = source {
            query.and_where(segment_member::Column::Source.eq(source.as_str()));
        }
        query
    };
    let select_customers = |condition: Cond| {
        Query::select()
            .expr_as(customer_id(), Alias::new(CUSTOMER_ID))
            .from(customer::Entity)
            .cond_where(condition)
            .to_owned()
    };
    let joining = select_customers(
        target
            .clone()
            .add(customer_id().not_in_subquery(members(None))),
    );
    let leaving = select_customers(
        Cond::all()
            .add(customer_id().in_subquery(members(Some(Source::Rule))))
            .add(target.not()),
    );
    Ok(Diff {
        joining: count_and_sample(db, joining, sample_size).await?,
        leaving: count_and_sample(db, leaving, sample_size).await?,
    })
}

async fn count_and_sample(
    db: &impl ConnectionTrait,
    customers: SelectStatement,
    sample_size: u64,
) -> Result<Preview, StoreError> {
    let count = db
        .query_one(
            Query::select()
                .expr_as(Expr::col(Alias::new(CUSTOMER_ID)).count(), Alias::new("n"))
                .from_subquery(customers.clone(), Alias::new("matching")),
        )
        .await?
        .map(|row| row.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0);
    let sample = db
        .query_all(
            Query::select()
                .column(Alias::new(CUSTOMER_ID))
                .from_subquery(customers, Alias::new("matching"))
                .order_by(Alias::new(CUSTOMER_ID), Order::Asc)
                .limit(sample_size),
        )
        .await?
        .into_iter()
        .map(|row| row.try_get::<i64>("", CUSTOMER_ID))
        .collect::<Result<_, _>>()?;
    Ok(Preview {
        count: u64::try_from(count).unwrap_or(0),
        sample,
    })
}
