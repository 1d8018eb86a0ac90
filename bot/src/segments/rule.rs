//! The rule tree, its stored JSON form, and walks over it that later stages (validation, SQL
//! compilation, recompute planning) share.

use std::collections::BTreeSet;
use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The version written next to every stored rule. Bump it, and keep reading the old one, when
/// the format changes in a way old readers would misread.
pub const RULE_FORMAT_VERSION: u32 = 1;

/// One node of a segment rule: a group over other nodes, or a condition on one shopper.
///
/// The tree is one flat enum, tagged by `"type"`, rather than groups wrapping a separate
/// condition enum: serde's fallback for mixed tagging loses every error message, and a
/// merchant's typo deserves `unknown field "mni"` rather than "data did not match".
/// [`Rule::as_group`] gives walkers the group/condition split back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Rule {
    /// Matches when every child matches.
    All { rules: Vec<Rule> },
    /// Matches when at least one child matches.
    Any { rules: Vec<Rule> },
    /// Matches when no child matches.
    None { rules: Vec<Rule> },
    /// The shopper chose at least one of `options` when answering `question`. Several options
    /// of one question are alternatives. A shopper who has not answered does not match.
    Answer {
        /// The registration question's id.
        question: i64,
        /// Answer option ids, all belonging to `question`.
        options: BTreeSet<i64>,
    },
    /// The shopper's first update to the bot happened `when`.
    FirstInteraction { when: When },
    /// The shopper's latest update to the bot happened `when`.
    LastInteraction { when: When },
    /// The mean total of the counted orders in the frame, compared exactly (as
    /// `min × count ≤ sum ≤ max × count`, so no rounding). A shopper with no counted orders in
    /// the frame has no average and never matches.
    AverageCheck(OrderBounds<i64>),
    /// The sum of the totals of the counted orders in the frame; 0 when there are none, so a
    /// shopper without orders matches only when `min` is absent or 0.
    TotalCheck(OrderBounds<i64>),
    /// How many counted orders the shopper placed in the frame.
    OrderCount(OrderBounds<u32>),
    /// A counted order in the frame contains `item`.
    Bought {
        item: Item,
        /// Absent in JSON means the whole history.
        #[serde(default, skip_serializing_if = "TimeFrame::is_whole_history")]
        frame: TimeFrame,
    },
    /// The shopper's Telegram language matches one of `codes`.
    Language {
        /// Primary language subtags such as `en`, compared case-insensitively with the
        /// primary subtag of the shopper's code, so `en-GB` matches `en`.
        codes: BTreeSet<String>,
    },
    /// The shopper is (or, with `member: false`, is not) currently a member of `segment`.
    Segment {
        /// The other segment's id.
        segment: i64,
        member: bool,
    },
}

/// An inclusive range over the counted orders of a time frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderBounds<T> {
    /// Inclusive lower bound (money in integer minor units, e.g. cents); absent = none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<T>,
    /// Inclusive upper bound (money in integer minor units); absent = none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<T>,
    /// Which orders are looked at; absent in JSON means the whole history.
    #[serde(default, skip_serializing_if = "TimeFrame::is_whole_history")]
    pub frame: TimeFrame,
}

/// When an interaction must have happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum When {
    /// On one of these whole days in the store's time zone.
    Dates(DateRange),
    /// At or after `now` minus this many days (24-hour days, not calendar days).
    WithinLastDays(u32),
    /// Strictly before `now` minus this many days: the exact opposite of `within_last_days`.
    NotWithinLastDays(u32),
}

/// Which orders an order condition looks at.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum TimeFrame {
    /// Every order the shopper ever placed.
    #[default]
    WholeHistory,
    /// Orders placed on these whole days in the store's time zone.
    Dates(DateRange),
    /// Orders placed at or after `now` minus this many days.
    LastDays(u32),
}

impl TimeFrame {
    /// Lets serde leave the default frame out of the stored JSON.
    pub fn is_whole_history(&self) -> bool {
        *self == TimeFrame::WholeHistory
    }
}

/// Whole days in the store's time zone, both ends inclusive: `from` starts at the first
/// instant of that local day, `to` runs until the first instant of the next local day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DateRange {
    /// First day included; absent = no lower bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<NaiveDate>,
    /// Last day included; absent = no upper bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<NaiveDate>,
}

/// What a `bought` condition looks for in an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Item {
    /// Any variant of this product.
    Product(i64),
    /// This variant only.
    Variant(i64),
}

/// The three ways a group combines its children.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupKind {
    All,
    Any,
    None,
}

impl GroupKind {
    /// The group's verdict from its children's verdicts. Empty groups follow logic (`all`
    /// and `none` of nothing hold, `any` of nothing fails), though validation refuses them.
    pub fn combine(self, mut verdicts: impl Iterator<Item = bool>) -> bool {
        match self {
            GroupKind::All => verdicts.all(|matched| matched),
            GroupKind::Any => verdicts.any(|matched| matched),
            GroupKind::None => !verdicts.any(|matched| matched),
        }
    }
}

impl fmt::Display for GroupKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GroupKind::All => "all",
            GroupKind::Any => "any",
            GroupKind::None => "none",
        })
    }
}

/// The ids a rule refers to, so that callers can tell whether deleting or archiving something
/// would break a segment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct References {
    pub questions: BTreeSet<i64>,
    pub options: BTreeSet<i64>,
    pub segments: BTreeSet<i64>,
}

impl Rule {
    /// The group's kind and children, or `None` for a condition.
    pub fn as_group(&self) -> Option<(GroupKind, &[Rule])> {
        match self {
            Rule::All { rules } => Some((GroupKind::All, rules)),
            Rule::Any { rules } => Some((GroupKind::Any, rules)),
            Rule::None { rules } => Some((GroupKind::None, rules)),
            _ => None,
        }
    }

    /// Calls `visit` on every condition of the tree, depth first, in document order.
    pub fn for_each_condition<'r>(&'r self, visit: &mut impl FnMut(&'r Rule)) {
        match self.as_group() {
            Some((_, rules)) => rules.iter().for_each(|rule| rule.for_each_condition(visit)),
            None => visit(self),
        }
    }

    /// The distinct order time frames the rule's order conditions use (checks, counts and
    /// `bought`), so that order aggregates can be computed once per frame.
    pub fn time_frames(&self) -> BTreeSet<TimeFrame> {
        let mut frames = BTreeSet::new();
        self.for_each_condition(&mut |rule| {
            if let Some(frame) = rule.order_frame() {
                frames.insert(frame.clone());
            }
        });
        frames
    }

    /// The question, option and segment ids the rule refers to.
    pub fn references(&self) -> References {
        let mut references = References::default();
        self.for_each_condition(&mut |rule| match rule {
            Rule::Answer { question, options } => {
                references.questions.insert(*question);
                references.options.extend(options);
            }
            Rule::Segment { segment, .. } => {
                references.segments.insert(*segment);
            }
            _ => {}
        });
        references
    }

    /// The frame of an order condition.
    fn order_frame(&self) -> Option<&TimeFrame> {
        match self {
            Rule::AverageCheck(bounds) | Rule::TotalCheck(bounds) => Some(&bounds.frame),
            Rule::OrderCount(bounds) => Some(&bounds.frame),
            Rule::Bought { frame, .. } => Some(frame),
            _ => None,
        }
    }
}

/// Why a stored rule could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error(
        "rule format version {0} is not supported (this build reads version {RULE_FORMAT_VERSION})"
    )]
    UnsupportedVersion(u32),
    #[error("the rule does not follow the rule format: {0}")]
    Json(#[from] serde_json::Error),
}

/// The stored envelope: `{"version": 1, "rule": {...}}`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored<R> {
    version: u32,
    rule: R,
}

/// Reads a stored rule, refusing versions this build does not know.
pub fn from_json(json: &str) -> Result<Rule, FormatError> {
    // The version is read before the tree so that a newer format is reported as such, not
    // as whatever field of it this build happens to trip over.
    let stored: Stored<serde_json::Value> = serde_json::from_str(json)?;
    if stored.version != RULE_FORMAT_VERSION {
        return Err(FormatError::UnsupportedVersion(stored.version));
    }
    Ok(serde_json::from_value(stored.rule)?)
}

/// Writes a rule in the stored form, with the current version.
pub fn to_json(rule: &Rule) -> Result<String, FormatError> {
    let stored = Stored {
        version: RULE_FORMAT_VERSION,
        rule,
    };
    Ok(serde_json::to_string(&stored)?)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn example() -> Rule {
        serde_json::from_value(json!({"type": "any", "rules": [
            {"type": "answer", "question": 3, "options": [5, 6]},
            {"type": "total_check", "min": 1, "frame": {"last_days": 30}},
            {"type": "all", "rules": [
                {"type": "average_check", "max": 9, "frame": {"last_days": 30}},
                {"type": "order_count", "min": 1},
                {"type": "answer", "question": 4, "options": [8]},
                {"type": "none", "rules": [{"type": "segment", "segment": 2, "member": true}]},
            ]},
            {"type": "bought", "item": {"product": 1}, "frame": {"dates": {"from": "2024-01-01"}}},
            {"type": "segment", "segment": 9, "member": false},
            {"type": "last_interaction", "when": {"within_last_days": 7}},
        ]}))
        .expect("a rule")
    }

    #[test]
    fn time_frames_lists_each_order_frame_once() {
        let frames: Vec<_> = example().time_frames().into_iter().collect();
        assert_eq!(
            frames,
            [
                TimeFrame::WholeHistory,
                TimeFrame::Dates(DateRange {
                    from: "2024-01-01".parse().ok(),
                    to: None,
                }),
                TimeFrame::LastDays(30),
            ]
        );
    }

    #[test]
    fn references_lists_questions_options_and_segments() {
        assert_eq!(
            example().references(),
            References {
                questions: [3, 4].into(),
                options: [5, 6, 8].into(),
                segments: [2, 9].into(),
            }
        );
    }

    #[test]
    fn conditions_are_visited_in_document_order() {
        let example = example();
        let mut kinds = Vec::new();
        example.for_each_condition(&mut |rule| {
            kinds.push(serde_json::to_value(rule).expect("serializes")["type"].clone());
        });
        assert_eq!(
            json!(kinds),
            json!([
                "answer",
                "total_check",
                "average_check",
                "order_count",
                "answer",
                "segment",
                "bought",
                "segment",
                "last_interaction"
            ])
        );
    }
}
