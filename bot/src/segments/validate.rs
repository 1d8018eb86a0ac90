//! Refusing rules that refer to what does not exist or cannot mean anything, with the path to
//! the bad node.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use chrono::NaiveDate;

use super::rule::{DateRange, GroupKind, OrderBounds, Rule, TimeFrame, When};

/// What the caller knows about the store that a rule may refer to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationFacts {
    /// Every registration question, by id.
    pub questions: BTreeMap<i64, QuestionFacts>,
    /// Every answer option, by id.
    pub options: BTreeMap<i64, OptionFacts>,
    /// Every segment by id, with its rule (`None` for a manual segment). The entry of the
    /// segment being validated, if any, is ignored: its new rule is the one that counts.
    pub segments: BTreeMap<i64, Option<Rule>>,
    /// The id of the segment whose rule is validated, to detect references that lead back to
    /// it; `None` for a segment not saved yet, which nothing can refer to.
    pub segment_id: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuestionFacts {
    pub archived: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionFacts {
    /// The question the option answers.
    pub question: i64,
    pub archived: bool,
}

/// A refused rule: where the bad node is, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {problem}", if path.is_empty() { "rule" } else { path })]
pub struct RuleError {
    /// The groups leading to the bad node, each as its kind and the node's index in it, like
    /// `all[2].any[0]`; empty when the root itself is bad (displayed as `rule`).
    pub path: String,
    pub problem: Problem,
}

/// What is wrong with a node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// Empty groups are refused everywhere, even where logic gives them a meaning (`all` of
    /// nothing matches everybody), because an empty group is always a half-built rule.
    #[error("the `{0}` group is empty")]
    EmptyGroup(GroupKind),
    #[error("question {0} does not exist")]
    UnknownQuestion(i64),
    #[error("question {0} is archived")]
    ArchivedQuestion(i64),
    #[error("no option of question {0} is chosen")]
    NoOptions(i64),
    #[error("option {0} does not exist")]
    UnknownOption(i64),
    #[error("option {option} belongs to question {owner}, not to question {question}")]
    ForeignOption {
        option: i64,
        question: i64,
        owner: i64,
    },
    #[error("option {0} is archived")]
    ArchivedOption(i64),
    /// A date range without either end would be "any time": leave the frame out instead.
    #[error("the date range has neither `from` nor `to`")]
    OpenDateRange,
    #[error("`from` {from} is after `to` {to}")]
    InvertedDates { from: NaiveDate, to: NaiveDate },
    /// A day a shop can't mean: the store's days run from [`FIRST_DAY`] to [`LAST_DAY`], so
    /// that a day's bounds in any time zone stay within what both databases compare alike.
    #[error("the date {0} is outside {FIRST_DAY} to {LAST_DAY}")]
    DateOutOfRange(NaiveDate),
    #[error("the day count must be at least 1")]
    ZeroDays,
    /// Bounds without either end would match everybody.
    #[error("neither `min` nor `max` is set")]
    NoBounds,
    #[error("`min` {min} is greater than `max` {max}")]
    InvertedBounds { min: i64, max: i64 },
    /// Checks are sums of what shoppers pay, never negative, so a negative bound is a typo.
    #[error("`{bound}` {value} is negative")]
    NegativeAmount { bound: &'static str, value: i64 },
    #[error("no language is chosen")]
    NoLanguages,
    #[error("language code `{0}` is not a two- or three-letter language such as `en`")]
    BadLanguageCode(String),
    #[error("segment {0} does not exist")]
    UnknownSegment(i64),
    /// Membership of each segment would depend on itself and never settle.
    #[error("segment references make a cycle: {}", chain_text(.0))]
    SegmentCycle(Vec<i64>),
}

/// Accepts the rule, or says what its first bad node (depth first) is and where.
pub fn validate(rule: &Rule, facts: &ValidationFacts) -> Result<(), RuleError> {
    validate_node(rule, "", facts)
}

fn validate_node(rule: &Rule, path: &str, facts: &ValidationFacts) -> Result<(), RuleError> {
    let problem = match rule {
        Rule::All { rules } => return validate_group(GroupKind::All, rules, path, facts),
        Rule::Any { rules } => return validate_group(GroupKind::Any, rules, path, facts),
        Rule::None { rules } => return validate_group(GroupKind::None, rules, path, facts),
        Rule::Answer { question, options } => answer_problem(*question, options, facts),
        Rule::FirstInteraction { when } | Rule::LastInteraction { when } => match when {
            When::Dates(range) => date_range_problem(range),
            When::WithinLastDays(days) | When::NotWithinLastDays(days) => day_count_problem(*days),
        },
        Rule::AverageCheck(bounds) | Rule::TotalCheck(bounds) => money_bounds_problem(bounds),
        Rule::OrderCount(bounds) => bounds_problem(bounds, i64::from),
        Rule::Bought { frame, .. } => frame_problem(frame),
        Rule::Language { codes } => language_problem(codes),
        Rule::Segment { segment, .. } => segment_problem(*segment, facts),
    };
    match problem {
        Some(problem) => Err(RuleError {
            path: path.to_owned(),
            problem,
        }),
        None => Ok(()),
    }
}

fn validate_group(
    kind: GroupKind,
    rules: &[Rule],
    path: &str,
    facts: &ValidationFacts,
) -> Result<(), RuleError> {
    if rules.is_empty() {
        return Err(RuleError {
            path: path.to_owned(),
            problem: Problem::EmptyGroup(kind),
        });
    }
    rules.iter().enumerate().try_for_each(|(index, child)| {
        let child_path = if path.is_empty() {
            format!("{kind}[{index}]")
        } else {
            format!("{path}.{kind}[{index}]")
        };
        validate_node(child, &child_path, facts)
    })
}

fn answer_problem(
    question: i64,
    options: &BTreeSet<i64>,
    facts: &ValidationFacts,
) -> Option<Problem> {
    match facts.questions.get(&question) {
        None => return Some(Problem::UnknownQuestion(question)),
        Some(found) if found.archived => return Some(Problem::ArchivedQuestion(question)),
        Some(_) => {}
    }
    if options.is_empty() {
        return Some(Problem::NoOptions(question));
    }
    options
        .iter()
        .find_map(|&option| match facts.options.get(&option) {
            None => Some(Problem::UnknownOption(option)),
            Some(found) if found.question != question => Some(Problem::ForeignOption {
                option,
                question,
                owner: found.question,
            }),
            Some(found) if found.archived => Some(Problem::ArchivedOption(option)),
            Some(_) => None,
        })
}

/// The first day a rule may name.
pub const FIRST_DAY: NaiveDate = match NaiveDate::from_ymd_opt(1900, 1, 1) {
    Some(day) => day,
    None => NaiveDate::MIN,
};
/// The last day a rule may name: a day of year 9999 ends in year 10000 in UTC west of the store,
/// which SQLite's text timestamps compare wrongly, so the year before is the last.
pub const LAST_DAY: NaiveDate = match NaiveDate::from_ymd_opt(9998, 12, 31) {
    Some(day) => day,
    None => NaiveDate::MAX,
};

fn date_range_problem(range: &DateRange) -> Option<Problem> {
    if let Some(day) = [range.from, range.to]
        .into_iter()
        .flatten()
        .find(|day| !(FIRST_DAY..=LAST_DAY).contains(day))
    {
        return Some(Problem::DateOutOfRange(day));
    }
    match (range.from, range.to) {
        (None, None) => Some(Problem::OpenDateRange),
        (Some(from), Some(to)) if from > to => Some(Problem::InvertedDates { from, to }),
        _ => None,
    }
}

fn day_count_problem(days: u32) -> Option<Problem> {
    (days == 0).then_some(Problem::ZeroDays)
}

fn frame_problem(frame: &TimeFrame) -> Option<Problem> {
    match frame {
        TimeFrame::WholeHistory => None,
        TimeFrame::Dates(range) => date_range_problem(range),
        TimeFrame::LastDays(days) => day_count_problem(*days),
    }
}

fn money_bounds_problem(bounds: &OrderBounds<i64>) -> Option<Problem> {
    let negative = [("min", bounds.min), ("max", bounds.max)]
        .into_iter()
        .find_map(|(bound, value)| value.filter(|value| *value < 0).map(|value| (bound, value)));
    match negative {
        Some((bound, value)) => Some(Problem::NegativeAmount { bound, value }),
        None => bounds_problem(bounds, |amount| amount),
    }
}

/// Checks what every order condition shares: some bound, in order, and a sane frame.
fn bounds_problem<T: Copy>(bounds: &OrderBounds<T>, widen: impl Fn(T) -> i64) -> Option<Problem> {
    match (bounds.min.map(&widen), bounds.max.map(&widen)) {
        (None, None) => Some(Problem::NoBounds),
        (Some(min), Some(max)) if min > max => Some(Problem::InvertedBounds { min, max }),
        _ => frame_problem(&bounds.frame),
    }
}

fn language_problem(codes: &BTreeSet<String>) -> Option<Problem> {
    if codes.is_empty() {
        return Some(Problem::NoLanguages);
    }
    // Only primary subtags: a regional code such as `en-GB` would suggest that British
    // shoppers are told apart from American ones, which matching on the primary subtag
    // does not do.
    codes
        .iter()
        .find(|code| {
            !(2..=3).contains(&code.len()) || !code.bytes().all(|byte| byte.is_ascii_alphabetic())
        })
        .map(|code| Problem::BadLanguageCode(code.clone()))
}

fn segment_problem(segment: i64, facts: &ValidationFacts) -> Option<Problem> {
    let own = facts.segment_id;
    if own != Some(segment) && !facts.segments.contains_key(&segment) {
        return Some(Problem::UnknownSegment(segment));
    }
    own.and_then(|own| cycle_back(segment, own, facts))
        .map(Problem::SegmentCycle)
}

/// The shortest chain of references `own → start → … → own`, if `start` leads back to `own`.
/// Breadth first with a seen set, so stored cycles elsewhere cannot loop it forever.
fn cycle_back(start: i64, own: i64, facts: &ValidationFacts) -> Option<Vec<i64>> {
    let mut came_from = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    let mut seen = BTreeSet::from([start]);
    while let Some(id) = queue.pop_front() {
        if id == own {
            let mut chain = vec![own];
            let mut at = id;
            while let Some(&previous) = came_from.get(&at) {
                chain.push(previous);
                at = previous;
            }
            chain.push(own);
            chain.reverse();
            return Some(chain);
        }
        let Some(Some(rule)) = facts.segments.get(&id) else {
            continue;
        };
        for next in rule.references().segments {
            if seen.insert(next) {
                came_from.insert(next, id);
                queue.push_back(next);
            }
        }
    }
    None
}

fn chain_text(chain: &[i64]) -> String {
    chain
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(" → ")
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn rule(json: Value) -> Rule {
        serde_json::from_value(json).expect("a rule")
    }

    fn member_of(segment: i64) -> Value {
        json!({"type": "segment", "segment": segment, "member": true})
    }

    /// Question 3 is live with options 5 and 6 and archived option 17; question 4 is archived,
    /// with option 8. Segment 7 is being validated; 2 refers to 3, which refers to 7; 1 is
    /// manual; 9 and 10 refer to each other.
    fn facts() -> ValidationFacts {
        let segment_rule = |json| Some(rule(json));
        ValidationFacts {
            questions: [
                (3, QuestionFacts { archived: false }),
                (4, QuestionFacts { archived: true }),
            ]
            .into(),
            options: [
                (
                    5,
                    OptionFacts {
                        question: 3,
                        archived: false,
                    },
                ),
                (
                    6,
                    OptionFacts {
                        question: 3,
                        archived: false,
                    },
                ),
                (
                    17,
                    OptionFacts {
                        question: 3,
                        archived: true,
                    },
                ),
                (
                    8,
                    OptionFacts {
                        question: 4,
                        archived: false,
                    },
                ),
            ]
            .into(),
            segments: [
                (1, None),
                (2, segment_rule(member_of(3))),
                (
                    3,
                    segment_rule(json!({"type": "none", "rules": [member_of(7)]})),
                ),
                (7, segment_rule(member_of(1))),
                (9, segment_rule(member_of(10))),
                (10, segment_rule(member_of(9))),
            ]
            .into(),
            segment_id: Some(7),
        }
    }

    fn answer(question: i64, options: &[i64]) -> Value {
        json!({"type": "answer", "question": question, "options": options})
    }

    /// Validates each rule, expecting either acceptance (`""`) or exactly this error text.
    fn check(facts: &ValidationFacts, cases: &[(Value, &str)]) {
        for (json, expected) in cases {
            let outcome = validate(&rule(json.clone()), facts).map_err(|error| error.to_string());
            let expected = if expected.is_empty() {
                Ok(())
            } else {
                Err(expected.to_string())
            };
            assert_eq!(outcome, expected, "{json}");
        }
    }

    #[test]
    fn errors_name_the_path_to_the_bad_node() {
        let nested = json!({"type": "all", "rules": [
            answer(3, &[5]),
            member_of(1),
            {"type": "any", "rules": [answer(3, &[6, 17]), member_of(1)]},
        ]});
        check(
            &facts(),
            &[
                (nested, "all[2].any[0]: option 17 is archived"),
                (answer(3, &[17]), "rule: option 17 is archived"),
                (
                    json!({"type": "none", "rules": [member_of(1), {"type": "any", "rules": []}]}),
                    "none[1]: the `any` group is empty",
                ),
            ],
        );
        let error = validate(&rule(answer(4, &[8])), &facts()).expect_err("archived question");
        assert_eq!(error.path, "");
        assert_eq!(error.problem, Problem::ArchivedQuestion(4));
    }

    #[test]
    fn answers_must_name_live_options_of_a_live_question() {
        check(
            &facts(),
            &[
                (answer(3, &[5, 6]), ""),
                (answer(2, &[5]), "rule: question 2 does not exist"),
                (answer(4, &[8]), "rule: question 4 is archived"),
                (answer(3, &[]), "rule: no option of question 3 is chosen"),
                (answer(3, &[5, 99]), "rule: option 99 does not exist"),
                (
                    answer(3, &[8]),
                    "rule: option 8 belongs to question 4, not to question 3",
                ),
                (answer(3, &[5, 17]), "rule: option 17 is archived"),
            ],
        );
    }

    #[test]
    fn empty_groups_are_refused_everywhere() {
        check(
            &facts(),
            &[
                (
                    json!({"type": "all", "rules": []}),
                    "rule: the `all` group is empty",
                ),
                (
                    json!({"type": "any", "rules": []}),
                    "rule: the `any` group is empty",
                ),
                (
                    json!({"type": "any", "rules": [member_of(1), {"type": "all", "rules": [{"type": "none", "rules": []}]}]}),
                    "any[1].all[0]: the `none` group is empty",
                ),
            ],
        );
    }

    #[test]
    fn time_spans_must_be_ordered_and_not_empty() {
        let interaction = |when: Value| json!({"type": "last_interaction", "when": when});
        let bought =
            |frame: Value| json!({"type": "bought", "item": {"product": 1}, "frame": frame});
        check(
            &facts(),
            &[
                (
                    interaction(json!({"dates": {"from": "2024-03-01", "to": "2024-03-01"}})),
                    "",
                ),
                (
                    interaction(json!({"dates": {"from": "2024-03-02", "to": "2024-03-01"}})),
                    "rule: `from` 2024-03-02 is after `to` 2024-03-01",
                ),
                (
                    interaction(json!({"dates": {}})),
                    "rule: the date range has neither `from` nor `to`",
                ),
                (interaction(json!({"within_last_days": 1})), ""),
                (
                    interaction(json!({"within_last_days": 0})),
                    "rule: the day count must be at least 1",
                ),
                (
                    interaction(json!({"not_within_last_days": 0})),
                    "rule: the day count must be at least 1",
                ),
                (bought(json!("whole_history")), ""),
                (
                    bought(json!({"last_days": 0})),
                    "rule: the day count must be at least 1",
                ),
                (
                    bought(json!({"dates": {"from": "2024-03-02", "to": "2024-03-01"}})),
                    "rule: `from` 2024-03-02 is after `to` 2024-03-01",
                ),
                (
                    interaction(json!({"dates": {"from": "1900-01-01", "to": "9998-12-31"}})),
                    "",
                ),
                (
                    interaction(json!({"dates": {"to": "9999-12-31"}})),
                    "rule: the date 9999-12-31 is outside 1900-01-01 to 9998-12-31",
                ),
                (
                    json!({"type": "all", "rules": [
                        member_of(1),
                        bought(json!({"dates": {"from": "+10000-01-01"}})),
                    ]}),
                    "all[1]: the date +10000-01-01 is outside 1900-01-01 to 9998-12-31",
                ),
                (
                    bought(json!({"dates": {"from": "1899-12-31"}})),
                    "rule: the date 1899-12-31 is outside 1900-01-01 to 9998-12-31",
                ),
            ],
        );
    }

    #[test]
    fn bounds_must_be_set_ordered_and_not_negative() {
        check(
            &facts(),
            &[
                (json!({"type": "total_check", "min": 0}), ""),
                (json!({"type": "average_check", "min": 500, "max": 500}), ""),
                (
                    json!({"type": "total_check", "min": 501, "max": 500}),
                    "rule: `min` 501 is greater than `max` 500",
                ),
                (
                    json!({"type": "order_count", "min": 3, "max": 2}),
                    "rule: `min` 3 is greater than `max` 2",
                ),
                (
                    json!({"type": "average_check"}),
                    "rule: neither `min` nor `max` is set",
                ),
                (
                    json!({"type": "order_count", "frame": {"last_days": 5}}),
                    "rule: neither `min` nor `max` is set",
                ),
                (
                    json!({"type": "total_check", "max": -1}),
                    "rule: `max` -1 is negative",
                ),
                (
                    json!({"type": "average_check", "min": -5, "max": -10}),
                    "rule: `min` -5 is negative",
                ),
                (
                    json!({"type": "total_check", "min": 1, "frame": {"last_days": 0}}),
                    "rule: the day count must be at least 1",
                ),
            ],
        );
    }

    #[test]
    fn languages_are_primary_subtags() {
        let language = |codes: &[&str]| json!({"type": "language", "codes": codes});
        check(
            &facts(),
            &[
                (language(&["en", "ukr"]), ""),
                (language(&[]), "rule: no language is chosen"),
                (
                    language(&["en-GB"]),
                    "rule: language code `en-GB` is not a two- or three-letter language such as `en`",
                ),
                (
                    language(&[""]),
                    "rule: language code `` is not a two- or three-letter language such as `en`",
                ),
            ],
        );
    }

    #[test]
    fn segment_references_must_exist_and_not_lead_back() {
        check(
            &facts(),
            &[
                (member_of(1), ""),
                (member_of(4), "rule: segment 4 does not exist"),
                (member_of(7), "rule: segment references make a cycle: 7 → 7"),
                (
                    json!({"type": "all", "rules": [member_of(1), {"type": "segment", "segment": 2, "member": false}]}),
                    "all[1]: segment references make a cycle: 7 → 2 → 3 → 7",
                ),
                // A cycle elsewhere is not this rule's doing, and must not hang the search.
                (member_of(9), ""),
            ],
        );
    }

    #[test]
    fn unsaved_segments_cannot_be_part_of_a_cycle() {
        let facts = ValidationFacts {
            segment_id: None,
            ..facts()
        };
        check(&facts, &[(member_of(2), ""), (member_of(7), "")]);
    }
}
