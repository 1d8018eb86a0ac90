//! Segment rules: the model of an auto segment's rule, its stored JSON form, validation against
//! what the store knows, and evaluation (with reasons) for one shopper.
//!
//! This module is pure: it must never do I/O or read the clock. Callers pass in the facts
//! (questions, options, other segments' rules, a shopper's answers and orders) and `now`.
//! Recompute evaluates the same tree in SQL; [`Rule::as_group`], [`Rule::time_frames`] and
//! [`TimeFrame::window`] are the pieces that compilation walks, so both draw the same edges.
//!
//! Semantics pinned by the tests below:
//! - Date ranges are whole days in the store's time zone, both ends inclusive: `from` starts at
//!   the first instant of that local day, `to` ends just before the first instant of the next.
//! - "Within the last N days" means at or after `now - N × 24 h`; "not within" is its opposite.
//! - Only orders whose status is counted exist for check, count and `bought` conditions. With
//!   none in the frame, the total check is 0 and there is no average check: an average-check
//!   condition never matches, a total-check condition only when its `min` is absent or 0.
//! - Empty groups, open date ranges, bounds with neither end, zero day counts and negative money
//!   bounds are refused by [`validate`], never given a meaning.
//!
//! A stored rule (money in minor units; ids are database ids):
//!
//! ```json
//! {
//!   "version": 1,
//!   "rule": {
//!     "type": "all",
//!     "rules": [
//!       { "type": "answer", "question": 3, "options": [5, 6] },
//!       { "type": "last_interaction", "when": { "within_last_days": 30 } },
//!       {
//!         "type": "total_check",
//!         "min": 10000,
//!         "frame": { "dates": { "from": "2024-01-01", "to": "2024-12-31" } }
//!       },
//!       {
//!         "type": "any",
//!         "rules": [
//!           { "type": "language", "codes": ["en", "de"] },
//!           { "type": "bought", "item": { "variant": 42 }, "frame": { "last_days": 90 } }
//!         ]
//!       },
//!       { "type": "none", "rules": [{ "type": "segment", "segment": 4, "member": true }] }
//!     ]
//!   }
//! }
//! ```

pub mod compile;
mod evaluate;
pub mod language;
#[cfg(test)]
mod proptests;
mod render;
mod rule;
mod time;
mod validate;

pub use compile::matching_customers;
pub use evaluate::{
    Context, Detail, Explanation, Interaction, OrderFacts, OrderSummary, ShopperFacts, evaluate,
    explain,
};
pub use rule::{
    DateRange, FormatError, GroupKind, Item, OrderBounds, RULE_FORMAT_VERSION, References, Rule,
    TimeFrame, When, from_json, to_json,
};
pub use time::{Window, start_of_day};
pub use validate::{OptionFacts, Problem, QuestionFacts, RuleError, ValidationFacts, validate};

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the module documentation, cut out of this file so the two cannot drift.
    fn documented_example() -> String {
        let source = include_str!("mod.rs");
        let start = source.find("```json\n").expect("an example") + "```json\n".len();
        let end = start + source[start..].find("//! ```").expect("its end");
        source[start..end]
            .lines()
            .map(|line| line.trim_start_matches("//!"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn documented_example_parses_and_survives_a_round_trip() {
        let rule = from_json(&documented_example()).expect("the example parses");
        let Rule::All { rules } = &rule else {
            panic!("the example is an `all` group: {rule:?}");
        };
        assert_eq!(rules.len(), 5);
        let stored = to_json(&rule).expect("serializes");
        assert_eq!(from_json(&stored).expect("reparses"), rule);
    }

    #[test]
    fn stored_form_is_versioned_and_leaves_defaults_out() {
        let rule = Rule::All {
            rules: vec![
                Rule::TotalCheck(OrderBounds {
                    min: Some(10_000),
                    max: None,
                    frame: TimeFrame::WholeHistory,
                }),
                Rule::FirstInteraction {
                    when: When::Dates(DateRange {
                        from: "2024-01-01".parse().ok(),
                        to: None,
                    }),
                },
            ],
        };
        assert_eq!(
            to_json(&rule).expect("serializes"),
            r#"{"version":1,"rule":{"type":"all","rules":[{"type":"total_check","min":10000},{"type":"first_interaction","when":{"dates":{"from":"2024-01-01"}}}]}}"#
        );
    }

    #[test]
    fn unreadable_stored_rules_say_why() {
        for (json, expected) in [
            (
                r#"{"version":2,"rule":{"type":"all","rules":[]}}"#,
                "rule format version 2 is not supported (this build reads version 1)",
            ),
            (
                r#"{"rule":{"type":"all","rules":[]}}"#,
                "the rule does not follow the rule format: missing field `version` at line 1 column 34",
            ),
            (
                r#"{"version":1,"rule":{"type":"answr","question":3}}"#,
                "the rule does not follow the rule format: unknown variant `answr`, expected one of \
                 `all`, `any`, `none`, `answer`, `first_interaction`, `last_interaction`, \
                 `average_check`, `total_check`, `order_count`, `bought`, `language`, `segment`",
            ),
            (
                r#"{"version":1,"rule":{"type":"total_check","mni":5}}"#,
                "the rule does not follow the rule format: unknown field `mni`, expected one of \
                 `min`, `max`, `frame`",
            ),
            (
                r#"{"version":1,"rule":{"type":"order_count","min":-1}}"#,
                "the rule does not follow the rule format: invalid value: integer `-1`, expected u32",
            ),
        ] {
            let error = from_json(json).expect_err(json);
            assert_eq!(error.to_string(), expected, "{json}");
        }
    }
}
