//! The property that ties the two evaluations together: on random customers, answers, orders,
//! memberships, time zones and rules, the compiled SQL selects exactly the shoppers that the
//! in-memory evaluation accepts. One database per test, emptied of customers between cases.

use chrono::{NaiveDate, TimeDelta};
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use storebot_entity::{
    customer, customer_answer, membership_event, order, order_item, segment, segment_member,
};

use super::{Shop, context_in, evaluated, now, selected};
use crate::segments::{DateRange, Item, OrderBounds, Rule, TimeFrame, When};
use crate::store::membership::manual::add_member;
use crate::store::membership::recompute::{Trigger, recompute_all};
use crate::testing::TestDb;

/// The fixed parts of the shop that rules refer to.
#[derive(Debug, Clone)]
struct Fixtures {
    questions: Vec<(i64, Vec<i64>)>,
    products: Vec<(i64, Vec<i64>)>,
    segments: Vec<i64>,
}

impl Fixtures {
    fn options(&self) -> Vec<i64> {
        self.questions
            .iter()
            .flat_map(|(_, options)| options.clone())
            .collect()
    }

    fn items(&self) -> Vec<(i64, i64)> {
        self.products
            .iter()
            .flat_map(|(product, variants)| variants.iter().map(|variant| (*product, *variant)))
            .collect()
    }
}

#[derive(Debug, Clone)]
struct OrderSpec {
    status: &'static str,
    total: i64,
    hours_ago: i64,
    items: Vec<(i64, i64)>,
}

#[derive(Debug, Clone)]
struct CustomerSpec {
    first_hours_ago: i64,
    last_hours_ago: i64,
    language: Option<&'static str>,
    /// (question, chosen options); an empty choice is stored as a skipped question.
    answers: Vec<(i64, Vec<i64>)>,
    orders: Vec<OrderSpec>,
    segments: Vec<i64>,
}

#[derive(Debug, Clone)]
struct Case {
    time_zone: chrono_tz::Tz,
    counted: Vec<&'static str>,
    customers: Vec<CustomerSpec>,
    rule: Rule,
}

const STATUSES: [&str; 4] = ["new", "paid", "shipped", "cancelled"];
/// Hours before `now`, on a grid so that instants often land exactly on window edges (whole
/// days back from noon UTC, local midnights of whole-hour zones). Negative: in the future.
const HOURS: std::ops::Range<i64> = -48..24 * 40;

fn customer_spec(fixtures: &Fixtures) -> impl Strategy<Value = CustomerSpec> + use<> {
    let questions = fixtures.questions.clone();
    let answers = questions
        .into_iter()
        .map(|(question, options)| {
            prop::option::of(subsequence(options.clone(), 0..=options.len()))
                .prop_map(move |chosen| chosen.map(|chosen| (question, chosen)))
        })
        .collect::<Vec<_>>();
    let order = (
        select(&STATUSES[..]),
        0_i64..400,
        HOURS,
        subsequence(fixtures.items(), 0..=2),
    )
        .prop_map(|(status, total, hours_ago, items)| OrderSpec {
            status,
            total: total * 5,
            hours_ago,
            items,
        });
    (
        HOURS,
        HOURS,
        select(vec![
            None,
            Some("en"),
            Some("en-GB"),
            Some("EN"),
            Some("de"),
            Some("pt_BR"),
            Some("e"),
        ]),
        answers,
        prop::collection::vec(order, 0..4),
        subsequence(fixtures.segments.clone(), 0..=fixtures.segments.len()),
    )
        .prop_map(
            |(first, last, language, answers, orders, segments)| CustomerSpec {
                first_hours_ago: first.max(last),
                last_hours_ago: first.min(last),
                language,
                answers: answers.into_iter().flatten().collect(),
                orders,
                segments,
            },
        )
}

fn day() -> impl Strategy<Value = Option<NaiveDate>> {
    prop::option::of((-3_i64..42).prop_map(|back| now().date_naive() - TimeDelta::days(back)))
}

fn date_range() -> impl Strategy<Value = DateRange> {
    (day(), day()).prop_map(|(from, to)| DateRange { from, to })
}

fn frame() -> impl Strategy<Value = TimeFrame> {
    prop_oneof![
        Just(TimeFrame::WholeHistory),
        date_range().prop_map(TimeFrame::Dates),
        (0_u32..42).prop_map(TimeFrame::LastDays),
    ]
}

fn when() -> impl Strategy<Value = When> {
    prop_oneof![
        date_range().prop_map(When::Dates),
        (0_u32..42).prop_map(When::WithinLastDays),
        (0_u32..42).prop_map(When::NotWithinLastDays),
    ]
}

fn money_bounds() -> impl Strategy<Value = OrderBounds<i64>> {
    (
        prop::option::of((0_i64..300).prop_map(|money| money * 10)),
        prop::option::of((0_i64..300).prop_map(|money| money * 10)),
        frame(),
    )
        .prop_map(|(min, max, frame)| OrderBounds { min, max, frame })
}

fn condition(fixtures: &Fixtures) -> impl Strategy<Value = Rule> + use<> {
    let questions: Vec<i64> = fixtures.questions.iter().map(|(id, _)| *id).collect();
    let options = fixtures.options();
    let items: Vec<Item> = fixtures
        .products
        .iter()
        .flat_map(|(product, variants)| {
            std::iter::once(Item::Product(*product))
                .chain(variants.iter().map(|variant| Item::Variant(*variant)))
        })
        .collect();
    prop_oneof![
        (select(questions), subsequence(options.clone(), 1..=3)).prop_map(|(question, options)| {
            Rule::Answer {
                question,
                options: options.into_iter().collect(),
            }
        }),
        when().prop_map(|when| Rule::FirstInteraction { when }),
        when().prop_map(|when| Rule::LastInteraction { when }),
        money_bounds().prop_map(Rule::AverageCheck),
        money_bounds().prop_map(Rule::TotalCheck),
        (
            prop::option::of(0_u32..4),
            prop::option::of(0_u32..4),
            frame()
        )
            .prop_map(|(min, max, frame)| Rule::OrderCount(OrderBounds {
                min,
                max,
                frame
            })),
        (select(items), frame()).prop_map(|(item, frame)| Rule::Bought { item, frame }),
        subsequence(vec!["en", "de", "pt", "fr"], 1..=2).prop_map(|codes| Rule::Language {
            codes: codes.into_iter().map(String::from).collect(),
        }),
        (select(fixtures.segments.clone()), any::<bool>())
            .prop_map(|(segment, member)| Rule::Segment { segment, member }),
    ]
}

fn rule(fixtures: &Fixtures) -> impl Strategy<Value = Rule> + use<> {
    condition(fixtures).prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(|rules| Rule::All { rules }),
            prop::collection::vec(inner.clone(), 0..3).prop_map(|rules| Rule::Any { rules }),
            prop::collection::vec(inner, 0..3).prop_map(|rules| Rule::None { rules }),
        ]
    })
}

fn case(fixtures: &Fixtures) -> impl Strategy<Value = Case> + use<> {
    (
        select(vec![
            chrono_tz::UTC,
            chrono_tz::Europe::Berlin,
            chrono_tz::America::Havana,
            chrono_tz::Asia::Kolkata,
        ]),
        subsequence(STATUSES.to_vec(), 0..=STATUSES.len()),
        prop::collection::vec(customer_spec(fixtures), 0..7),
        rule(fixtures),
    )
        .prop_map(|(time_zone, counted, customers, rule)| Case {
            time_zone,
            counted,
            customers,
            rule,
        })
}

async fn empty_customers(db: &sea_orm::DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    membership_event::Entity::delete_many().exec(db).await?;
    segment_member::Entity::delete_many().exec(db).await?;
    order_item::Entity::delete_many().exec(db).await?;
    order::Entity::delete_many().exec(db).await?;
    customer_answer::Entity::delete_many().exec(db).await?;
    customer::Entity::delete_many().exec(db).await?;
    Ok(())
}

/// Checks one case; `Ok(true)` when the rule selected some of the customers but not all.
async fn check(shop: &mut Shop<'_>, case: &Case) -> Result<bool, TestCaseError> {
    let db = shop.db;
    empty_customers(db)
        .await
        .map_err(|error| TestCaseError::fail(error.to_string()))?;
    let hours = |ago: i64| now() - TimeDelta::hours(ago);
    let mut ids = Vec::new();
    for spec in &case.customers {
        let id = shop
            .customer_at(
                hours(spec.first_hours_ago),
                hours(spec.last_hours_ago),
                spec.language,
            )
            .await;
        for (question, chosen) in &spec.answers {
            if chosen.is_empty() {
                shop.answer(id, *question, None).await;
            }
            for option in chosen {
                shop.answer(id, *question, Some(*option)).await;
            }
        }
        for order in &spec.orders {
            shop.order(
                id,
                order.status,
                order.total,
                hours(order.hours_ago),
                &order.items,
            )
            .await;
        }
        for segment in &spec.segments {
            add_member(db, *segment, id, now())
                .await
                .map_err(|error| TestCaseError::fail(error.to_string()))?;
        }
        ids.push(id);
    }
    let mut context = context_in(case.time_zone);
    context.counted_statuses = case
        .counted
        .iter()
        .map(|status| status.to_string())
        .collect();
    let in_sql = selected(db, &case.rule, &context).await;
    let in_memory = evaluated(db, &case.rule, &context, &ids).await;
    let partial = !in_sql.is_empty() && in_sql.len() < ids.len();
    prop_assert_eq!(&in_sql, &in_memory, "rule {:?}", case.rule);
    // The recompute path too: its aggregates come from per-run tables, not the statement.
    let under_test = shop.segment("under test", Some(&case.rule)).await;
    let summary = recompute_all(db, &context, Trigger::Admin)
        .await
        .map_err(|error| TestCaseError::fail(error.to_string()))?;
    prop_assert!(summary.errors.is_empty(), "{:?}", summary.errors);
    let recomputed: Vec<i64> = segment_member::Entity::find()
        .filter(segment_member::Column::SegmentId.eq(under_test))
        .order_by_asc(segment_member::Column::CustomerId)
        .all(db)
        .await
        .map_err(|error| TestCaseError::fail(error.to_string()))?
        .into_iter()
        .map(|member| member.customer_id)
        .collect();
    segment::Entity::delete_by_id(under_test)
        .exec(db)
        .await
        .map_err(|error| TestCaseError::fail(error.to_string()))?;
    prop_assert_eq!(recomputed, in_memory, "recompute of rule {:?}", case.rule);
    Ok(partial)
}

#[test]
fn compiled_rules_select_exactly_the_shoppers_that_evaluation_accepts() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let test = runtime.block_on(TestDb::new()).expect("test db");
    let mut shop = Shop::new(&test.db);
    let fixtures = runtime.block_on(async {
        let mut questions = Vec::new();
        for _ in 0..2 {
            questions.push(shop.question(3).await);
        }
        let mut products = Vec::new();
        for _ in 0..2 {
            products.push(shop.product(2).await);
        }
        let segments = vec![shop.segment("a", None).await, shop.segment("b", None).await];
        Fixtures {
            questions,
            products,
            segments,
        }
    });
    let shop = std::cell::RefCell::new(shop);
    let partial_selections = std::cell::Cell::new(0);
    // Random rules select some shoppers but not all only now and then: batches of 64 cases
    // go on (up to four) until enough such cases were checked, so a run never passes on
    // "nobody" and "everybody" alone and a thin random draw does not fail it either.
    for _ in 0..4 {
        let mut runner = TestRunner::new(Config {
            cases: 64,
            failure_persistence: None,
            ..Config::default()
        });
        let result = runner.run(&case(&fixtures), |case| {
            let partial = runtime.block_on(check(&mut shop.borrow_mut(), &case))?;
            partial_selections.set(partial_selections.get() + u32::from(partial));
            Ok(())
        });
        if let Err(error) = result {
            panic!("{error}");
        }
        if partial_selections.get() >= 5 {
            break;
        }
    }
    // Agreement on "nobody" and "everybody" alone would prove little.
    assert!(
        partial_selections.get() >= 5,
        "only {} cases selected some customers but not all",
        partial_selections.get()
    );
}
