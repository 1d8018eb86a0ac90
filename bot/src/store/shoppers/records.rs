//! Shoppers as the merchant looks them up: a filtered list, and one shopper's whole record
//! (answers, interaction times, checks, segments with their cause, user groups).
//!
//! Read-only: this module must never change a shopper, their answers or their membership.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::Serialize;
use storebot_entity::{
    answer_option, customer, customer_answer, customer_group, order, question, segment,
    segment_member,
};

use crate::store::StoreError;
use crate::store::bulk::in_chunks;
use crate::store::membership::in_force::is_in_force;

/// How to narrow the customer list; every field that is set must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerFilter {
    /// Part of the first name, last name or username, ignoring case.
    pub text: Option<String>,
    /// Member of this segment id.
    pub segment: Option<i64>,
    /// Registered (answered every required question) or not.
    pub registered: Option<bool>,
    /// At most this many, most recently active first.
    pub limit: Option<u64>,
}

/// A customer with their order figures over counted orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomerRow {
    #[serde(flatten)]
    pub customer: customer::Model,
    pub orders: u64,
    pub total_check: i64,
}

/// One answered question: the options chosen, or none when skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnswerLine {
    pub question_id: i64,
    pub question: String,
    pub options: Vec<String>,
}

/// A segment the customer is in, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MembershipLine {
    pub segment_id: i64,
    pub name: String,
    /// `rule` or `manual`.
    pub source: String,
    pub since: DateTime<Utc>,
    pub in_force: bool,
}

/// Everything the merchant sees about one shopper.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomerRecord {
    #[serde(flatten)]
    pub row: CustomerRow,
    /// Average of the counted orders' totals, rounded down; None without orders.
    pub average_check: Option<i64>,
    pub answers: Vec<AnswerLine>,
    pub segments: Vec<MembershipLine>,
    /// Hand-set groups and those inherited from segments in force, each once.
    pub user_groups: Vec<String>,
}

/// The customers a filter matches, most recently active first, without its limit.
fn matching(filter: &CustomerFilter) -> sea_orm::Select<customer::Entity> {
    let mut query = customer::Entity::find()
        .order_by_desc(customer::Column::LastInteractionAt)
        .order_by_asc(customer::Column::Id);
    if let Some(text) = filter
        .text
        .as_deref()
        .filter(|text| !text.trim().is_empty())
    {
        let pattern = format!("%{}%", text.trim().to_lowercase().replace(['%', '_'], ""));
        let contains = |column: customer::Column| {
            Expr::expr(Func::lower(Expr::col(column))).like(LikeExpr::new(pattern.clone()))
        };
        query = query.filter(
            sea_orm::Condition::any()
                .add(contains(customer::Column::FirstName))
                .add(contains(customer::Column::LastName))
                .add(contains(customer::Column::Username)),
        );
    }
    if let Some(segment_id) = filter.segment {
        query = query.filter(
            customer::Column::Id.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(segment_member::Column::CustomerId)
                    .from(segment_member::Entity)
                    .and_where(segment_member::Column::SegmentId.eq(segment_id))
                    .to_owned(),
            ),
        );
    }
    match filter.registered {
        Some(true) => query = query.filter(customer::Column::RegisteredAt.is_not_null()),
        Some(false) => query = query.filter(customer::Column::RegisteredAt.is_null()),
        None => {}
    }
    query
}

/// How many customers match the filter, its `limit` aside: what a first page leaves out.
pub async fn count(db: &impl ConnectionTrait, filter: &CustomerFilter) -> Result<u64, StoreError> {
    Ok(matching(filter).count(db).await?)
}

/// Customers matching the filter, most recently active first.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &CustomerFilter,
    counted_statuses: &[String],
) -> Result<Vec<CustomerRow>, StoreError> {
    let mut query = matching(filter);
    if let Some(limit) = filter.limit {
        query = query.limit(limit);
    }
    let customers = query.all(db).await?;
    let ids: Vec<i64> = customers.iter().map(|customer| customer.id).collect();
    // Summed here rather than with SQL SUM, whose type differs between the engines (integer
    // on SQLite, numeric on PostgreSQL); the list is capped by the merchant's filter anyway.
    let mut figures: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    let counted = in_chunks(&ids, |chunk| {
        order::Entity::find()
            .filter(order::Column::CustomerId.is_in(chunk))
            .filter(order::Column::Status.is_in(counted_statuses.to_vec()))
            .all(db)
    })
    .await?;
    for order in counted {
        let entry = figures.entry(order.customer_id).or_default();
        entry.0 += 1;
        entry.1 += order.total;
    }
    Ok(customers
        .into_iter()
        .map(|customer| {
            let (orders, total_check) = figures.get(&customer.id).copied().unwrap_or((0, 0));
            CustomerRow {
                customer,
                orders: orders.unsigned_abs(),
                total_check,
            }
        })
        .collect())
}

/// A customer by Telegram user id, by database id written as `#12`, by `@username` (or the
/// username alone), or by name.
pub async fn find(db: &impl ConnectionTrait, key: &str) -> Result<customer::Model, StoreError> {
    let key = key.trim();
    let found = if let Some(id) = key.strip_prefix('#') {
        let id: i64 = id
            .parse()
            .map_err(|_| StoreError::Invalid(format!("`{key}` is not a customer id")))?;
        customer::Entity::find_by_id(id).one(db).await?
    } else if let Ok(telegram_id) = key.parse::<i64>() {
        customer::Entity::find()
            .filter(customer::Column::TelegramUserId.eq(telegram_id))
            .one(db)
            .await?
    } else if let Some(username) = key.strip_prefix('@') {
        customer::Entity::find()
            .filter(customer::Column::Username.eq(username))
            .one(db)
            .await?
    } else {
        let by_username = customer::Entity::find()
            .filter(customer::Column::Username.eq(key))
            .one(db)
            .await?;
        match by_username {
            Some(found) => Some(found),
            None => by_name(db, key).await?,
        }
    };
    found.ok_or_else(|| StoreError::not_found("customer", format!("`{key}`")))
}

/// A customer by first name, or first and last name, ignoring case; several are refused with
/// the candidates listed, so the merchant can pick one by an unambiguous key.
async fn by_name(
    db: &impl ConnectionTrait,
    name: &str,
) -> Result<Option<customer::Model>, StoreError> {
    let lower = |column: customer::Column| Expr::expr(Func::lower(Expr::col(column)));
    let mut condition = Condition::any()
        .add(customer::Column::FirstName.eq(name))
        .add(lower(customer::Column::FirstName).eq(name.to_lowercase()));
    if let Some((first, last)) = name.split_once(' ') {
        condition = condition.add(
            Condition::all()
                .add(lower(customer::Column::FirstName).eq(first.trim().to_lowercase()))
                .add(lower(customer::Column::LastName).eq(last.trim().to_lowercase())),
        );
    }
    let mut found = customer::Entity::find()
        .filter(condition)
        .order_by_asc(customer::Column::Id)
        .limit(11)
        .all(db)
        .await?;
    match found.len() {
        0 | 1 => Ok(found.pop()),
        count => {
            let listed: Vec<String> = found
                .iter()
                .take(10)
                .map(|c| {
                    let full = match &c.last_name {
                        Some(last) => format!("{} {last}", c.first_name),
                        None => c.first_name.clone(),
                    };
                    let username = c
                        .username
                        .as_deref()
                        .map(|u| format!("@{u}, "))
                        .unwrap_or_default();
                    format!(
                        "#{} {full} ({username}Telegram {})",
                        c.id, c.telegram_user_id
                    )
                })
                .collect();
            let more = if count > 10 { ", and more" } else { "" };
            Err(StoreError::Invalid(format!(
                "several customers are called `{name}`: {}{more}; name one by Telegram id, @username or #id",
                listed.join("; ")
            )))
        }
    }
}

/// One shopper's whole record.
pub async fn show(
    db: &impl ConnectionTrait,
    customer_id: i64,
    counted_statuses: &[String],
    now: DateTime<Utc>,
) -> Result<CustomerRecord, StoreError> {
    let customer = customer::Entity::find_by_id(customer_id)
        .one(db)
        .await?
        .ok_or_else(|| StoreError::not_found("customer", customer_id))?;
    let totals: Vec<i64> = order::Entity::find()
        .filter(order::Column::CustomerId.eq(customer_id))
        .filter(order::Column::Status.is_in(counted_statuses.to_vec()))
        .all(db)
        .await?
        .into_iter()
        .map(|order| order.total)
        .collect();
    let total_check: i64 = totals.iter().sum();
    let average_check = (!totals.is_empty()).then(|| total_check / totals.len() as i64);

    let answers = customer_answer::Entity::find()
        .filter(customer_answer::Column::CustomerId.eq(customer_id))
        .order_by_asc(customer_answer::Column::Id)
        .all(db)
        .await?;
    let question_ids: BTreeSet<i64> = answers.iter().map(|a| a.question_id).collect();
    let questions = question::Entity::find()
        .filter(question::Column::Id.is_in(question_ids))
        .order_by_asc(question::Column::Position)
        .all(db)
        .await?;
    let option_texts: BTreeMap<i64, String> = answer_option::Entity::find()
        .filter(answer_option::Column::Id.is_in(answers.iter().filter_map(|a| a.option_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|option| (option.id, option.text))
        .collect();
    let answers = questions
        .into_iter()
        .map(|question| AnswerLine {
            options: answers
                .iter()
                .filter(|answer| answer.question_id == question.id)
                .filter_map(|answer| answer.option_id)
                .filter_map(|id| option_texts.get(&id).cloned())
                .collect(),
            question_id: question.id,
            question: question.text,
        })
        .collect();

    let memberships = segment_member::Entity::find()
        .filter(segment_member::Column::CustomerId.eq(customer_id))
        .all(db)
        .await?;
    let mut segment_rows: BTreeMap<i64, segment::Model> = segment::Entity::find()
        .filter(segment::Column::Id.is_in(memberships.iter().map(|m| m.segment_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|segment| (segment.id, segment))
        .collect();
    let mut groups: BTreeSet<String> = customer_group::Entity::find()
        .filter(customer_group::Column::CustomerId.eq(customer_id))
        .all(db)
        .await?
        .into_iter()
        .map(|group| group.user_group)
        .collect();
    let mut segments = Vec::new();
    for member in memberships {
        let Some(segment) = segment_rows.remove(&member.segment_id) else {
            continue;
        };
        let in_force = is_in_force(&segment, now);
        if in_force && let Some(group) = &segment.user_group {
            groups.insert(group.clone());
        }
        segments.push(MembershipLine {
            segment_id: segment.id,
            name: segment.name,
            source: member.source,
            since: member.since,
            in_force,
        });
    }
    segments.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(CustomerRecord {
        row: CustomerRow {
            customer,
            orders: totals.len() as u64,
            total_check,
        },
        average_check,
        answers,
        segments,
        user_groups: groups.into_iter().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::catalog::import::tests::now;
    use crate::store::shoppers::customers::{TelegramUser, record_interaction};
    use crate::testing::TestDb;
    use sea_orm::ActiveModelTrait;
    use sea_orm::ActiveValue::Set;

    fn user(id: i64, name: &str) -> TelegramUser {
        TelegramUser {
            telegram_user_id: id,
            chat_id: id,
            first_name: name.into(),
            last_name: None,
            username: Some(name.to_lowercase()),
            language_code: Some("en".into()),
        }
    }

    async fn place(
        db: &impl ConnectionTrait,
        customer_id: i64,
        total: i64,
        status: &str,
        key: &str,
    ) {
        order::ActiveModel {
            customer_id: Set(customer_id),
            status: Set(status.into()),
            total: Set(total),
            discount_total: Set(0),
            currency: Set("EUR".into()),
            placed_at: Set(now()),
            idempotency_key: Set(key.into()),
            ..Default::default()
        }
        .insert(db)
        .await
        .expect("order");
    }

    #[tokio::test]
    async fn list_filters_and_show_sums_only_counted_orders() {
        let test = TestDb::new().await.expect("test db");
        let db = &test.db;
        let ann = record_interaction(db, &user(1, "Ann"), now())
            .await
            .expect("ann");
        record_interaction(db, &user(2, "Bob"), now())
            .await
            .expect("bob");
        place(db, ann.id, 1000, "paid", "a").await;
        place(db, ann.id, 3000, "new", "b").await;
        place(db, ann.id, 5000, "cancelled", "c").await;
        let counted = ["new".to_owned(), "paid".to_owned()];

        let all = list(db, &CustomerFilter::default(), &counted)
            .await
            .expect("all");
        assert_eq!(all.len(), 2);
        let found = list(
            db,
            &CustomerFilter {
                text: Some("AN".into()),
                ..Default::default()
            },
            &counted,
        )
        .await
        .expect("filtered");
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].orders, found[0].total_check), (2, 4000));

        let record = show(db, ann.id, &counted, now()).await.expect("show");
        assert_eq!(record.row.total_check, 4000);
        assert_eq!(record.average_check, Some(2000));
        assert_eq!(find(db, "1").await.expect("by telegram id").id, ann.id);
        assert_eq!(
            find(db, "@bob").await.expect("by username").first_name,
            "Bob"
        );
        let error = find(db, "42").await.expect_err("absent");
        assert_eq!(error.to_string(), "customer `42` does not exist");
    }
}
