//! Property tests of the rule format and validator: no input, however malformed, makes them
//! panic, and every rule the model can hold survives being stored and read back.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use proptest::prelude::*;
use serde_json::Value;

use super::*;

fn any_date() -> impl Strategy<Value = Option<NaiveDate>> {
    proptest::option::of((-1000_i64..40_000).prop_map(|days| {
        NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default() + chrono::Duration::days(days)
    }))
}

fn any_range() -> impl Strategy<Value = DateRange> {
    (any_date(), any_date()).prop_map(|(from, to)| DateRange { from, to })
}

fn any_frame() -> impl Strategy<Value = TimeFrame> {
    prop_oneof![
        Just(TimeFrame::WholeHistory),
        any_range().prop_map(TimeFrame::Dates),
        any::<u32>().prop_map(TimeFrame::LastDays),
    ]
}

fn any_when() -> impl Strategy<Value = When> {
    prop_oneof![
        any_range().prop_map(When::Dates),
        any::<u32>().prop_map(When::WithinLastDays),
        any::<u32>().prop_map(When::NotWithinLastDays),
    ]
}

fn any_money_bounds() -> impl Strategy<Value = OrderBounds<i64>> {
    (
        proptest::option::of(any::<i64>()),
        proptest::option::of(any::<i64>()),
        any_frame(),
    )
        .prop_map(|(min, max, frame)| OrderBounds { min, max, frame })
}

/// Ids small enough to hit the facts below now and then, and any others.
fn any_id() -> impl Strategy<Value = i64> {
    prop_oneof![3 => 0_i64..25, 1 => any::<i64>()]
}

fn any_condition() -> impl Strategy<Value = Rule> {
    prop_oneof![
        (any_id(), proptest::collection::btree_set(any_id(), 0..4))
            .prop_map(|(question, options)| Rule::Answer { question, options }),
        any_when().prop_map(|when| Rule::FirstInteraction { when }),
        any_when().prop_map(|when| Rule::LastInteraction { when }),
        any_money_bounds().prop_map(Rule::AverageCheck),
        any_money_bounds().prop_map(Rule::TotalCheck),
        (
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<u32>()),
            any_frame()
        )
            .prop_map(|(min, max, frame)| Rule::OrderCount(OrderBounds {
                min,
                max,
                frame
            })),
        (
            prop_oneof![
                any_id().prop_map(Item::Product),
                any_id().prop_map(Item::Variant)
            ],
            any_frame()
        )
            .prop_map(|(item, frame)| Rule::Bought { item, frame }),
        proptest::collection::btree_set("\\PC{0,6}", 0..3)
            .prop_map(|codes| Rule::Language { codes }),
        (any_id(), any::<bool>()).prop_map(|(segment, member)| Rule::Segment { segment, member }),
    ]
}

fn any_rule() -> impl Strategy<Value = Rule> {
    any_condition().prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(|rules| Rule::All { rules }),
            proptest::collection::vec(inner.clone(), 0..4).prop_map(|rules| Rule::Any { rules }),
            proptest::collection::vec(inner, 0..4).prop_map(|rules| Rule::None { rules }),
        ]
    })
}

/// JSON built from the rule format's own words, so that random documents get deep into the
/// parser instead of failing at the first key.
fn any_json() -> impl Strategy<Value = Value> {
    let word = prop_oneof![
        Just("type"),
        Just("rules"),
        Just("all"),
        Just("any"),
        Just("none"),
        Just("answer"),
        Just("question"),
        Just("options"),
        Just("when"),
        Just("within_last_days"),
        Just("dates"),
        Just("from"),
        Just("to"),
        Just("min"),
        Just("max"),
        Just("frame"),
        Just("last_days"),
        Just("total_check"),
        Just("average_check"),
        Just("order_count"),
        Just("bought"),
        Just("item"),
        Just("product"),
        Just("variant"),
        Just("language"),
        Just("codes"),
        Just("segment"),
        Just("member"),
        Just("version"),
        Just("rule"),
        Just("2024-02-30"),
        Just("2024-01-01"),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|number| serde_json::json!(number)),
        word.clone().prop_map(Value::from),
        "\\PC{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 48, 5, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec((word.clone(), inner), 0..5).prop_map(|pairs| {
                Value::Object(
                    pairs
                        .into_iter()
                        .map(|(key, value)| (key.to_owned(), value))
                        .collect(),
                )
            }),
        ]
    })
}

/// A store with questions 1 (live) and 2 (archived), their options, a manual segment 1 and an
/// auto segment 2 that names segment 3 (the one validated), so cycles can be found.
fn facts() -> ValidationFacts {
    ValidationFacts {
        questions: BTreeMap::from([
            (1, QuestionFacts { archived: false }),
            (2, QuestionFacts { archived: true }),
        ]),
        options: BTreeMap::from([
            (
                10,
                OptionFacts {
                    question: 1,
                    archived: false,
                },
            ),
            (
                11,
                OptionFacts {
                    question: 1,
                    archived: true,
                },
            ),
            (
                20,
                OptionFacts {
                    question: 2,
                    archived: false,
                },
            ),
        ]),
        segments: BTreeMap::from([
            (1, None),
            (
                2,
                Some(Rule::Segment {
                    segment: 3,
                    member: true,
                }),
            ),
            (3, None),
        ]),
        segment_id: Some(3),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_text_is_read_or_refused_without_panicking(text in "\\PC{0,200}") {
        let _ = from_json(&text);
    }

    #[test]
    fn any_json_is_read_or_refused_and_what_is_read_validates_without_panicking(
        rule in any_json(),
        version in prop_oneof![Just(Value::from(1)), any_json()],
    ) {
        let document = serde_json::json!({ "version": version, "rule": rule }).to_string();
        if let Ok(rule) = from_json(&document) {
            let _ = validate(&rule, &facts());
            let _ = rule.references();
            let _ = rule.time_frames();
        }
        let _ = from_json(&rule.to_string());
    }

    #[test]
    fn every_rule_survives_storing_and_reading_back(rule in any_rule()) {
        let stored = to_json(&rule).unwrap();
        let read = from_json(&stored).unwrap();
        prop_assert_eq!(&read, &rule);
        // The validator's verdict is a function of the rule: the stored copy gets the same one.
        prop_assert_eq!(validate(&read, &facts()), validate(&rule, &facts()));
    }

    #[test]
    fn refusals_name_a_path_to_a_node_of_the_rule(rule in any_rule()) {
        if let Err(error) = validate(&rule, &facts()) {
            prop_assert!(
                node_at(&rule, &error.path).is_some(),
                "{} does not lead into {:?}",
                error,
                rule
            );
        }
    }
}

/// The node a validation path such as `all[2].any[0]` names; `None` when it leads nowhere.
fn node_at<'r>(rule: &'r Rule, path: &str) -> Option<&'r Rule> {
    if path.is_empty() {
        return Some(rule);
    }
    let mut node = rule;
    for step in path.split('.') {
        let (kind, rest) = step.split_once('[')?;
        let index: usize = rest.strip_suffix(']')?.parse().ok()?;
        let (group, children) = node.as_group()?;
        if !group.to_string().eq_ignore_ascii_case(kind) {
            return None;
        }
        node = children.get(index)?;
    }
    Some(node)
}

#[test]
fn the_facts_reach_both_verdicts() {
    // Guards the generators above: they must produce valid rules and refused ones.
    let valid = Rule::Answer {
        question: 1,
        options: BTreeSet::from([10]),
    };
    assert_eq!(validate(&valid, &facts()), Ok(()));
    let cycle = Rule::Segment {
        segment: 2,
        member: true,
    };
    assert!(validate(&cycle, &facts()).is_err());
}
