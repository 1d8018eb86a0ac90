//! The rule language's parser and printer: examples of every condition, errors that point at
//! their word, and a property test that printing and parsing agree.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::segments::Rule;

/// A small store: questions (one archived, one with awkward names), products (two share a
/// title), SKUs and segments.
pub(crate) fn names() -> RuleNames {
    let option = |text: &str, archived| OptionName {
        text: text.to_owned(),
        archived,
    };
    RuleNames {
        currency: "EUR".to_owned(),
        questions: [
            (
                1,
                QuestionName {
                    text: "What do you drink?".to_owned(),
                    archived: false,
                    options: [
                        (10, option("Coffee", false)),
                        (11, option("Tea", false)),
                        (12, option("Water", true)),
                    ]
                    .into(),
                },
            ),
            (
                2,
                QuestionName {
                    text: "Pets?".to_owned(),
                    archived: true,
                    options: [(20, option("Cat", false))].into(),
                },
            ),
            (
                3,
                QuestionName {
                    text: r#"Say "hi" \ back?"#.to_owned(),
                    archived: false,
                    options: [(30, option("A, B", false)), (31, option("and", false))].into(),
                },
            ),
        ]
        .into(),
        products: [
            (100, "Sencha".to_owned()),
            (101, "Matcha".to_owned()),
            (102, "Matcha".to_owned()),
            (103, "or".to_owned()),
        ]
        .into(),
        variants: [(200, "ETH-RES".to_owned()), (201, "a sku (2)".to_owned())].into(),
        segments: [
            (300, "Staff".to_owned()),
            (301, "VIP".to_owned()),
            (302, "not in segment".to_owned()),
        ]
        .into(),
    }
}

fn rule(value: Value) -> Rule {
    serde_json::from_value(value).expect("a rule")
}

/// `text` parses to `expected` and prints back as `printed`.
fn check(text: &str, expected: Value, printed: &str) {
    let parsed = parse(text, &names()).unwrap_or_else(|error| panic!("{}", error.show(text)));
    assert_eq!(parsed, rule(expected), "{text}");
    assert_eq!(to_text(&parsed, &names()), printed, "{text}");
}

#[test]
fn every_condition_reads_and_prints() {
    check(
        r#"answer "What do you drink?" is "Coffee""#,
        json!({"type": "answer", "question": 1, "options": [10]}),
        r#"answer "What do you drink?" is "Coffee""#,
    );
    check(
        r#"answer "what do you drink?" is any of "Tea", "coffee""#,
        json!({"type": "answer", "question": 1, "options": [10, 11]}),
        r#"answer "What do you drink?" is any of "Coffee", "Tea""#,
    );
    check(
        r#"answer "Say \"hi\" \\ back?" is any of "A, B", "and""#,
        json!({"type": "answer", "question": 3, "options": [30, 31]}),
        r#"answer "Say \"hi\" \\ back?" is any of "A, B", "and""#,
    );
    check(
        "first interaction within last 30 days",
        json!({"type": "first_interaction", "when": {"within_last_days": 30}}),
        "first interaction within last 30 days",
    );
    check(
        "last interaction not within last 1 day",
        json!({"type": "last_interaction", "when": {"not_within_last_days": 1}}),
        "last interaction not within last 1 day",
    );
    check(
        "first interaction from 2024-01-01 until 2024-12-31",
        json!({"type": "first_interaction", "when": {"dates": {"from": "2024-01-01", "to": "2024-12-31"}}}),
        "first interaction from 2024-01-01 until 2024-12-31",
    );
    check(
        "last interaction until 2024-12-31",
        json!({"type": "last_interaction", "when": {"dates": {"to": "2024-12-31"}}}),
        "last interaction until 2024-12-31",
    );
    check(
        "average check >= 20 during last 90 days",
        json!({"type": "average_check", "min": 2000, "frame": {"last_days": 90}}),
        "average check >= 20.00 during last 90 days",
    );
    check(
        "total check between 10.5 and 99.99 from 2024-01-01",
        json!({"type": "total_check", "min": 1050, "max": 9999, "frame": {"dates": {"from": "2024-01-01"}}}),
        "total check between 10.50 and 99.99 from 2024-01-01",
    );
    check(
        "order count <= 2",
        json!({"type": "order_count", "max": 2}),
        "order count <= 2",
    );
    check(
        r#"bought product "Sencha" during last 7 days"#,
        json!({"type": "bought", "item": {"product": 100}, "frame": {"last_days": 7}}),
        r#"bought product "Sencha" during last 7 days"#,
    );
    check(
        "bought product #102",
        json!({"type": "bought", "item": {"product": 102}}),
        "bought product #102",
    );
    check(
        r#"bought sku "ETH-RES""#,
        json!({"type": "bought", "item": {"variant": 200}}),
        r#"bought sku "ETH-RES""#,
    );
    check(
        r#"language is any of "en", "de""#,
        json!({"type": "language", "codes": ["de", "en"]}),
        r#"language is any of "de", "en""#,
    );
    check(
        r#"in segment "VIP""#,
        json!({"type": "segment", "segment": 301, "member": true}),
        r#"in segment "VIP""#,
    );
    check(
        r#"not in segment "Staff""#,
        json!({"type": "segment", "segment": 300, "member": false}),
        r#"not in segment "Staff""#,
    );
}

#[test]
fn and_binds_tighter_than_or_and_parentheses_keep_the_shape() {
    let vip = json!({"type": "segment", "segment": 301, "member": true});
    let staff = json!({"type": "segment", "segment": 300, "member": true});
    let count = json!({"type": "order_count", "min": 1});
    check(
        r#"in segment "VIP" and order count >= 1 or in segment "Staff""#,
        json!({"type": "any", "rules": [{"type": "all", "rules": [vip, count]}, staff]}),
        r#"(in segment "VIP" and order count >= 1) or in segment "Staff""#,
    );
    check(
        r#"in segment "VIP" and (order count >= 1 or in segment "Staff")"#,
        json!({"type": "all", "rules": [vip, {"type": "any", "rules": [count, staff]}]}),
        r#"in segment "VIP" and (order count >= 1 or in segment "Staff")"#,
    );
    check(
        r#"not (in segment "VIP" or in segment "Staff")"#,
        json!({"type": "none", "rules": [vip, staff]}),
        r#"not (in segment "VIP" or in segment "Staff")"#,
    );
    check(
        r#"not ((in segment "VIP" or in segment "Staff"))"#,
        json!({"type": "none", "rules": [{"type": "any", "rules": [vip, staff]}]}),
        r#"not ((in segment "VIP" or in segment "Staff"))"#,
    );
    check(
        r#"not (in segment "VIP")"#,
        json!({"type": "none", "rules": [vip]}),
        r#"not (in segment "VIP")"#,
    );
    check(
        "all of (order count >= 1)",
        json!({"type": "all", "rules": [count]}),
        "all of (order count >= 1)",
    );
    check(
        r#"IN SEGMENT "not in segment" AND NOT order count >= 1"#,
        json!({"type": "all", "rules": [
            {"type": "segment", "segment": 302, "member": true},
            {"type": "none", "rules": [count]},
        ]}),
        r#"in segment "not in segment" and not order count >= 1"#,
    );
}

#[test]
fn the_issue_example_reads() {
    let text = r#"answer "What do you drink?" is "Coffee" and average check >= 20.00 during last 90 days and not in segment "Staff""#;
    check(
        text,
        json!({"type": "all", "rules": [
            {"type": "answer", "question": 1, "options": [10]},
            {"type": "average_check", "min": 2000, "frame": {"last_days": 90}},
            {"type": "segment", "segment": 300, "member": false},
        ]}),
        text,
    );
}

/// The error of `text`, shown with its caret.
fn error(text: &str) -> String {
    match parse(text, &names()) {
        Ok(rule) => panic!("{text} parsed as {rule:?}"),
        Err(error) => error.show(text),
    }
}

#[test]
fn mistakes_point_at_their_word_and_name_the_closest() {
    for (text, message, marked) in [
        (
            r#"answer "What do you drnk?" is "Coffee""#,
            r#"no question is called "What do you drnk?"; the closest is "What do you drink?""#,
            r#""What do you drnk?""#,
        ),
        (
            r#"answer "What do you drink?" is "Cofee""#,
            r#"the question "What do you drink?" has no answer "Cofee"; the closest is "Coffee""#,
            r#""Cofee""#,
        ),
        (
            r#"answer "What do you drink?" is "Water""#,
            r#"the answer "Water" of "What do you drink?" is archived: a rule can't use it"#,
            r#""Water""#,
        ),
        (
            r#"answer "Pets?" is "Cat""#,
            r#"the question "Pets?" is archived: a rule can't use it"#,
            r#""Pets?""#,
        ),
        (
            r#"bought product "Sench""#,
            r#"no product is called "Sench"; the closest is "Sencha""#,
            r#""Sench""#,
        ),
        (
            r#"bought product "Matcha""#,
            r#"several products are called "Matcha": name one by its id (`product #12`) or one variant with `sku "…"`"#,
            r#""Matcha""#,
        ),
        (
            r#"bought sku "ETH-RS""#,
            r#"no variant has the SKU "ETH-RS"; the closest is "ETH-RES""#,
            r#""ETH-RS""#,
        ),
        (
            r#"in segment "Stuff""#,
            r#"no segment is called "Stuff"; the closest is "Staff""#,
            r#""Stuff""#,
        ),
        (
            "average check >= 20,00",
            "`20,00` is not an amount like 12.50 (EUR, no thousands separators)",
            "20,00",
        ),
        (
            "order count between 5 and 2",
            "the range is the wrong way round: the first number must not be larger than the second",
            "between 5 and 2",
        ),
        (
            "first interaction from 31.12.2025",
            "`31.12.2025` is not a date like 2026-11-01 (year-month-day)",
            "31.12.2025",
        ),
        (
            "total check >= 1 from 2025-02-01 until 2025-01-01",
            "the dates are the wrong way round: 2025-02-01 is after 2025-01-01",
            "from 2025-02-01 until 2025-01-01",
        ),
        (
            "first interaction within last 0 days",
            "the number of days must be at least 1",
            "0",
        ),
        (
            "order count > 2",
            "`>` is not a bound here: write `>=`, `<=` or `between A and B`",
            ">",
        ),
        ("(order count >= 1", "this `(` is never closed", "("),
        ("order count >= 1)", "this `)` closes no `(`", ")"),
        (
            "avrage check >= 1",
            "`avrage` does not start a condition; did you mean `average check`?",
            "avrage",
        ),
        (
            r#"language is "english""#,
            r#""english" is not a two- or three-letter language code such as "en""#,
            r#""english""#,
        ),
    ] {
        let shown = error(text);
        let start = text.find(marked).expect("the marked part");
        let caret = format!(
            "{message}\n  {text}\n  {}{}",
            " ".repeat(text[..start].chars().count()),
            "^".repeat(marked.chars().count())
        );
        assert_eq!(shown, caret, "{text}");
    }
    assert_eq!(
        error("order count >="),
        "the rule ends where an amount should follow\n  order count >=\n                ^"
    );
}

#[test]
fn a_long_rule_is_shortened_with_an_ellipsis() {
    let rule = rule(json!({"type": "all", "rules": [
        {"type": "order_count", "min": 1},
        {"type": "segment", "segment": 301, "member": true},
    ]}));
    assert_eq!(to_short_text(&rule, &names(), 20), "order count >= 1 an…");
    assert_eq!(
        to_short_text(&rule, &names(), 80),
        r#"order count >= 1 and in segment "VIP""#
    );
}

#[test]
fn a_validation_error_is_said_in_words() {
    let stored = rule(json!({"type": "all", "rules": [
        {"type": "order_count", "min": 1},
        {"type": "answer", "question": 1, "options": [12]},
    ]}));
    let facts = crate::segments::ValidationFacts {
        questions: [(1, crate::segments::QuestionFacts { archived: false })].into(),
        options: [(
            12,
            crate::segments::OptionFacts {
                question: 1,
                archived: true,
            },
        )]
        .into(),
        ..Default::default()
    };
    let error = crate::segments::validate(&stored, &facts).expect_err("an archived option");
    assert_eq!(
        error_in_words(&error, &stored, &names()),
        r#"the answer "Water" is archived, in: answer "What do you drink?" is "Water""#
    );
}

fn any_days() -> impl Strategy<Value = u32> {
    prop_oneof![1_u32..400, 1_u32..=u32::MAX]
}

fn any_day() -> impl Strategy<Value = chrono::NaiveDate> {
    // 1900-01-01 to 9998-12-31, the days a rule may name.
    (0_i64..2_914_000).prop_map(|days| {
        chrono::NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or_default()
            + chrono::Duration::days(days)
    })
}

fn any_range() -> impl Strategy<Value = Value> {
    (
        proptest::option::of(any_day()),
        proptest::option::of(any_day()),
    )
        .prop_filter("not open", |(from, to)| from.is_some() || to.is_some())
        .prop_map(|(from, to)| match (from, to) {
            (Some(a), Some(b)) => json!({"from": a.min(b), "to": a.max(b)}),
            (Some(from), None) => json!({"from": from}),
            (_, to) => json!({"to": to}),
        })
}

fn any_frame() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        Just(None),
        any_days().prop_map(|days| Some(json!({"last_days": days}))),
        any_range().prop_map(|range| Some(json!({"dates": range}))),
    ]
}

fn any_when() -> impl Strategy<Value = Value> {
    prop_oneof![
        any_days().prop_map(|days| json!({"within_last_days": days})),
        any_days().prop_map(|days| json!({"not_within_last_days": days})),
        any_range().prop_map(|range| json!({"dates": range})),
    ]
}

fn bounds(kind: &str, min: Option<u64>, max: Option<u64>, frame: Option<Value>) -> Value {
    let (min, max) = match (min, max) {
        (Some(a), Some(b)) => (Some(a.min(b)), Some(a.max(b))),
        (None, None) => (Some(0), None),
        other => other,
    };
    let mut node = json!({"type": kind});
    if let Some(min) = min {
        node["min"] = json!(min);
    }
    if let Some(max) = max {
        node["max"] = json!(max);
    }
    if let Some(frame) = frame {
        node["frame"] = frame;
    }
    node
}

/// Valid conditions over the store of [`names`].
fn any_condition() -> impl Strategy<Value = Value> {
    let money = || proptest::option::of(prop_oneof![0_u64..100_000, 0_u64..=i64::MAX as u64]);
    let count = || proptest::option::of(prop_oneof![0_u64..10, 0_u64..=u64::from(u32::MAX)]);
    prop_oneof![
        proptest::sample::subsequence(vec![10, 11], 1..=2)
            .prop_map(|options| json!({"type": "answer", "question": 1, "options": options})),
        proptest::sample::subsequence(vec![30, 31], 1..=2)
            .prop_map(|options| json!({"type": "answer", "question": 3, "options": options})),
        any_when().prop_map(|when| json!({"type": "first_interaction", "when": when})),
        any_when().prop_map(|when| json!({"type": "last_interaction", "when": when})),
        (money(), money(), any_frame()).prop_map(|(min, max, frame)| bounds(
            "average_check",
            min,
            max,
            frame
        )),
        (money(), money(), any_frame()).prop_map(|(min, max, frame)| bounds(
            "total_check",
            min,
            max,
            frame
        )),
        (count(), count(), any_frame()).prop_map(|(min, max, frame)| bounds(
            "order_count",
            min,
            max,
            frame
        )),
        (
            prop_oneof![
                (100_i64..=103).prop_map(|id| json!({"product": id})),
                (200_i64..=201).prop_map(|id| json!({"variant": id})),
            ],
            any_frame()
        )
            .prop_map(|(item, frame)| {
                let mut node = json!({"type": "bought", "item": item});
                if let Some(frame) = frame {
                    node["frame"] = frame;
                }
                node
            }),
        proptest::collection::btree_set("[a-z]{2,3}", 1..4)
            .prop_map(|codes| json!({"type": "language", "codes": codes})),
        (300_i64..=302, any::<bool>()).prop_map(
            |(segment, member)| json!({"type": "segment", "segment": segment, "member": member})
        ),
    ]
}

fn any_valid_rule() -> impl Strategy<Value = Rule> {
    any_condition()
        .prop_recursive(4, 32, 4, |inner| {
            (
                prop_oneof![Just("all"), Just("any"), Just("none")],
                proptest::collection::vec(inner, 1..4),
            )
                .prop_map(|(kind, rules)| json!({"type": kind, "rules": rules}))
        })
        .prop_map(rule)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Printing a valid rule and reading the text back gives the same rule.
    #[test]
    fn printed_rules_parse_back_to_the_same_rule(rule in any_valid_rule()) {
        let text = to_text(&rule, &names());
        let parsed = parse(&text, &names()).map_err(|error| {
            TestCaseError::fail(error.show(&text))
        })?;
        prop_assert_eq!(parsed, rule, "{}", text);
    }

    /// No text, however mangled, makes the parser panic.
    #[test]
    fn the_parser_never_panics(text in "[a-z\"() ,<>=#0-9.\\-]{0,60}") {
        let _ = parse(&text, &names());
    }
}
