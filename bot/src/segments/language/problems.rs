//! A refused rule said in words: the problem with names instead of ids, and the condition it
//! is about as the merchant would write it.

use super::super::rule::Rule;
use super::super::validate::{Problem, RuleError};
use super::names::RuleNames;
use super::print::{condition, quote};

/// `the answer "Cat" is archived, in: answer "Pets?" is "Cat"`.
pub fn error_in_words(error: &RuleError, rule: &Rule, names: &RuleNames) -> String {
    let problem = problem_in_words(&error.problem, names);
    match node_at(rule, &error.path) {
        Some(node) if node.as_group().is_none() => {
            format!("{problem}, in: {}", condition(node, names))
        }
        _ => problem,
    }
}

fn problem_in_words(problem: &Problem, names: &RuleNames) -> String {
    let option_text = |id: &i64| {
        names
            .questions
            .values()
            .find_map(|q| q.options.get(id))
            .map(|o| quote(&o.text))
    };
    let segment = |id: &i64| {
        names
            .segments
            .get(id)
            .map_or_else(|| format!("#{id}"), |name| quote(name))
    };
    match problem {
        Problem::UnknownQuestion(_) => "the question no longer exists".to_owned(),
        Problem::ArchivedQuestion(id) => match names.questions.get(id) {
            Some(q) => format!("the question {} is archived", quote(&q.text)),
            None => "the question is archived".to_owned(),
        },
        Problem::NoOptions(_) => "no answer is chosen".to_owned(),
        Problem::UnknownOption(_) => "an answer no longer exists".to_owned(),
        Problem::ForeignOption { option, .. } => match option_text(option) {
            Some(text) => format!("the answer {text} belongs to another question"),
            None => "an answer belongs to another question".to_owned(),
        },
        Problem::ArchivedOption(id) => match option_text(id) {
            Some(text) => format!("the answer {text} is archived"),
            None => "an answer is archived".to_owned(),
        },
        Problem::UnknownSegment(_) => "the segment no longer exists".to_owned(),
        Problem::SegmentCycle(chain) => format!(
            "segments refer to each other in a circle: {}",
            chain.iter().map(segment).collect::<Vec<_>>().join(" → ")
        ),
        other => other.to_string(),
    }
}

/// The node a validation path such as `all[2].any[0]` leads to.
fn node_at<'r>(rule: &'r Rule, path: &str) -> Option<&'r Rule> {
    let mut node = rule;
    for step in path.split('.').filter(|step| !step.is_empty()) {
        let index: usize = step.split_once('[')?.1.strip_suffix(']')?.parse().ok()?;
        node = node.as_group()?.1.get(index)?;
    }
    Some(node)
}
