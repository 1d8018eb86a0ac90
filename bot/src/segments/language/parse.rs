//! Reading the rule language into a rule of ids, with the store's names. Every refusal points at
//! the word it is about; the words are documented in README.md ("The rule language").
//!
//! Grammar (`and` binds tighter than `or`; a parenthesised group is never merged into the one
//! around it, so the text keeps the tree's shape):
//!
//! ```text
//! rule      = and-chain { "or" and-chain }
//! and-chain = unary { "and" unary }
//! unary     = "not" "in" "segment" NAME | "not" unary | "(" rule ")"
//!           | "all" "of" "(" rule ")" | "any" "of" "(" rule ")" | condition
//! ```

use std::collections::BTreeSet;

use chrono::NaiveDate;

use super::super::rule::{DateRange, Item, OrderBounds, Rule, TimeFrame, When};
use super::super::validate::{FIRST_DAY, LAST_DAY};
use super::error::LanguageError;
use super::lexer::{Spanned, Token, tokens};
use super::names::{Lookup, RuleNames, closest, lookup};
use crate::money::parse_major_units;

/// The words a condition starts with, for "did you mean" on a misspelt one.
const CONDITION_WORDS: [&str; 11] = [
    "answer",
    "first interaction",
    "last interaction",
    "average check",
    "total check",
    "order count",
    "bought",
    "language",
    "in segment",
    "not",
    "(",
];

/// Reads `text` as a rule, naming things with `names`.
pub fn parse(text: &str, names: &RuleNames) -> Result<Rule, LanguageError> {
    let tokens = tokens(text)?;
    if tokens.is_empty() {
        return Err(LanguageError::new(
            "the rule is empty: write a condition such as `order count >= 1`",
            0,
            text.len(),
        ));
    }
    let mut parser = Parser {
        tokens,
        at: 0,
        names,
        text_len: text.len(),
    };
    let (rule, _) = parser.rule()?;
    if let Some(extra) = parser.tokens.get(parser.at) {
        let message = match extra.token {
            Token::Close => "this `)` closes no `(`".to_owned(),
            _ => format!(
                "expected `and`, `or` or the end of the rule, found {}",
                shown(&extra.token)
            ),
        };
        return Err(LanguageError::new(message, extra.start, extra.end));
    }
    Ok(rule)
}

fn shown(token: &Token) -> String {
    match token {
        Token::Word(word) => format!("`{word}`"),
        Token::Quoted(name) => format!("\"{name}\""),
        Token::Open => "`(`".to_owned(),
        Token::Close => "`)`".to_owned(),
        Token::Comma => "`,`".to_owned(),
    }
}

struct Parser<'n> {
    tokens: Vec<Spanned>,
    at: usize,
    names: &'n RuleNames,
    text_len: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Spanned> {
        self.tokens.get(self.at)
    }

    fn peek_word(&self, offset: usize) -> Option<String> {
        match self.tokens.get(self.at + offset) {
            Some(Spanned {
                token: Token::Word(word),
                ..
            }) => Some(word.to_lowercase()),
            _ => None,
        }
    }

    fn next(&mut self, expected: &str) -> Result<Spanned, LanguageError> {
        match self.tokens.get(self.at) {
            Some(token) => {
                self.at += 1;
                Ok(token.clone())
            }
            None => Err(self.at_end(expected)),
        }
    }

    fn at_end(&self, expected: &str) -> LanguageError {
        LanguageError::new(
            format!("the rule ends where {expected} should follow"),
            self.text_len,
            self.text_len,
        )
    }

    /// Consumes the keyword `word` or says what was expected instead.
    fn keyword(&mut self, word: &str) -> Result<Spanned, LanguageError> {
        let token = self.next(&format!("`{word}`"))?;
        match &token.token {
            Token::Word(found) if found.eq_ignore_ascii_case(word) => Ok(token),
            other => Err(LanguageError::new(
                format!("expected `{word}` here, found {}", shown(other)),
                token.start,
                token.end,
            )),
        }
    }

    fn eat(&mut self, word: &str) -> bool {
        if self.peek_word(0).as_deref() == Some(word) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn quoted(&mut self, what: &str) -> Result<(String, Spanned), LanguageError> {
        let token = self.next(&format!("{what} in double quotes"))?;
        match &token.token {
            Token::Quoted(name) => Ok((name.clone(), token)),
            other => Err(LanguageError::new(
                format!("expected {what} in double quotes, found {}", shown(other)),
                token.start,
                token.end,
            )),
        }
    }

    /// `rule = and-chain { "or" and-chain }`; also says whether it was a bare `or` chain.
    fn rule(&mut self) -> Result<(Rule, bool), LanguageError> {
        let mut terms = vec![self.and_chain()?];
        while self.eat("or") {
            terms.push(self.and_chain()?);
        }
        Ok(match terms.len() {
            1 => (terms.remove(0), false),
            _ => (Rule::Any { rules: terms }, true),
        })
    }

    fn and_chain(&mut self) -> Result<Rule, LanguageError> {
        let mut terms = vec![self.unary()?];
        while self.eat("and") {
            terms.push(self.unary()?);
        }
        Ok(match terms.len() {
            1 => terms.remove(0),
            _ => Rule::All { rules: terms },
        })
    }

    /// `( rule )`, with whether the inside was a bare `or` chain.
    fn parenthesised(&mut self) -> Result<(Rule, bool), LanguageError> {
        let open = self.next("`(`")?;
        if open.token != Token::Open {
            return Err(LanguageError::new(
                format!("expected `(` here, found {}", shown(&open.token)),
                open.start,
                open.end,
            ));
        }
        let inside = self.rule()?;
        match self.tokens.get(self.at) {
            Some(Spanned {
                token: Token::Close,
                ..
            }) => {
                self.at += 1;
                Ok(inside)
            }
            Some(other) => Err(LanguageError::new(
                format!(
                    "expected `)` to close the `(` before, found {}",
                    shown(&other.token)
                ),
                other.start,
                other.end,
            )),
            None => Err(LanguageError::new(
                "this `(` is never closed",
                open.start,
                open.end,
            )),
        }
    }

    fn unary(&mut self) -> Result<Rule, LanguageError> {
        let Some(first) = self.peek().cloned() else {
            return Err(self.at_end("a condition"));
        };
        if first.token == Token::Open {
            return Ok(self.parenthesised()?.0);
        }
        match self.peek_word(0).as_deref() {
            Some("not") => {
                self.at += 1;
                if self.peek_word(0).as_deref() == Some("in")
                    && self.peek_word(1).as_deref() == Some("segment")
                {
                    self.at += 2;
                    return self.segment(false);
                }
                if self.peek().map(|t| &t.token) == Some(&Token::Open) {
                    // `not (a or b)` is the `none` group of both children.
                    return Ok(match self.parenthesised()? {
                        (Rule::Any { rules }, true) => Rule::None { rules },
                        (inside, _) => Rule::None {
                            rules: vec![inside],
                        },
                    });
                }
                let operand = self.unary()?;
                Ok(Rule::None {
                    rules: vec![operand],
                })
            }
            Some(group @ ("all" | "any")) if self.peek_word(1).as_deref() == Some("of") => {
                let group = group.to_owned();
                self.at += 2;
                let (inside, _) = self.parenthesised()?;
                Ok(if group == "all" {
                    Rule::All {
                        rules: vec![inside],
                    }
                } else {
                    Rule::Any {
                        rules: vec![inside],
                    }
                })
            }
            _ => self.condition(),
        }
    }

    fn condition(&mut self) -> Result<Rule, LanguageError> {
        let first = self.next("a condition")?;
        let word = match &first.token {
            Token::Word(word) => word.to_lowercase(),
            other => {
                return Err(LanguageError::new(
                    format!("expected a condition here, found {}", shown(other)),
                    first.start,
                    first.end,
                ));
            }
        };
        match word.as_str() {
            "answer" => self.answer(),
            "first" | "last" => {
                self.keyword("interaction")?;
                let when = self.when()?;
                Ok(if word == "first" {
                    Rule::FirstInteraction { when }
                } else {
                    Rule::LastInteraction { when }
                })
            }
            "average" | "total" => {
                self.keyword("check")?;
                let bounds = self.money_bounds()?;
                Ok(if word == "average" {
                    Rule::AverageCheck(bounds)
                } else {
                    Rule::TotalCheck(bounds)
                })
            }
            "order" => {
                self.keyword("count")?;
                let (min, max) = self.bounds(|_, token, word| {
                    word.parse::<u32>().map_err(|_| {
                        LanguageError::new(
                            format!("`{word}` is not a whole number of orders"),
                            token.start,
                            token.end,
                        )
                    })
                })?;
                let frame = self.frame()?;
                Ok(Rule::OrderCount(OrderBounds { min, max, frame }))
            }
            "bought" => self.bought(),
            "language" => {
                let codes = self.one_or_any("a language code such as \"en\"")?;
                let mut set = BTreeSet::new();
                for (code, token) in codes {
                    let valid = (2..=3).contains(&code.len())
                        && code.bytes().all(|byte| byte.is_ascii_alphabetic());
                    if !valid {
                        return Err(LanguageError::new(
                            format!(
                                "\"{code}\" is not a two- or three-letter language code such as \"en\""
                            ),
                            token.start,
                            token.end,
                        ));
                    }
                    set.insert(code);
                }
                Ok(Rule::Language { codes: set })
            }
            "in" => {
                self.keyword("segment")?;
                self.segment(true)
            }
            _ => {
                // Scored on a phrase's first word, which is the one that was typed.
                let first_words =
                    CONDITION_WORDS.map(|phrase| phrase.split(' ').next().unwrap_or(phrase));
                let suggestion = closest(first_words.into_iter(), &word)
                    .and_then(|found| {
                        CONDITION_WORDS
                            .iter()
                            .find(|p| p.starts_with(found.as_str()))
                    })
                    .map(|phrase| format!("; did you mean `{phrase}`?"))
                    .unwrap_or_default();
                Err(LanguageError::new(
                    format!("`{word}` does not start a condition{suggestion}"),
                    first.start,
                    first.end,
                ))
            }
        }
    }

    /// `is NAME` or `is any of NAME, NAME, …`.
    fn one_or_any(&mut self, what: &str) -> Result<Vec<(String, Spanned)>, LanguageError> {
        self.keyword("is")?;
        if self.peek_word(0).as_deref() == Some("any") && self.peek_word(1).as_deref() == Some("of")
        {
            self.at += 2;
            let mut items = vec![self.quoted(what)?];
            while self.peek().map(|t| &t.token) == Some(&Token::Comma) {
                self.at += 1;
                items.push(self.quoted(what)?);
            }
            Ok(items)
        } else {
            Ok(vec![self.quoted(what)?])
        }
    }

    fn answer(&mut self) -> Result<Rule, LanguageError> {
        let (text, token) = self.quoted("the question")?;
        let questions = &self.names.questions;
        let question = match lookup(
            questions
                .iter()
                .map(|(id, q)| (*id, q.text.as_str(), !q.archived)),
            &text,
        ) {
            Lookup::Found(id) => id,
            Lookup::Ambiguous => {
                return Err(LanguageError::new(
                    format!("several questions are called \"{text}\""),
                    token.start,
                    token.end,
                ));
            }
            Lookup::Unknown { closest } => {
                let archived = questions
                    .values()
                    .any(|q| q.archived && q.text == text.trim());
                let message = if archived {
                    format!("the question \"{text}\" is archived: a rule can't use it")
                } else {
                    unknown("question", &text, closest, "questions")
                };
                return Err(LanguageError::new(message, token.start, token.end));
            }
        };
        let found = questions.get(&question);
        let mut options = BTreeSet::new();
        for (option_text, token) in self.one_or_any("an answer")? {
            let choices = found
                .into_iter()
                .flat_map(|q| q.options.iter())
                .map(|(id, o)| (*id, o.text.as_str(), !o.archived));
            match lookup(choices, &option_text) {
                Lookup::Found(id) => {
                    options.insert(id);
                }
                Lookup::Ambiguous => {
                    return Err(LanguageError::new(
                        format!("several answers to \"{text}\" are called \"{option_text}\""),
                        token.start,
                        token.end,
                    ));
                }
                Lookup::Unknown { closest } => {
                    let archived = found.is_some_and(|q| {
                        q.options
                            .values()
                            .any(|o| o.archived && o.text == option_text.trim())
                    });
                    let message = match closest {
                        _ if archived => format!(
                            "the answer \"{option_text}\" of \"{text}\" is archived: a rule can't use it"
                        ),
                        Some(closest) => format!(
                            "the question \"{text}\" has no answer \"{option_text}\"; the closest is \"{closest}\""
                        ),
                        None => format!("the question \"{text}\" has no answers to choose"),
                    };
                    return Err(LanguageError::new(message, token.start, token.end));
                }
            }
        }
        Ok(Rule::Answer { question, options })
    }

    fn segment(&mut self, member: bool) -> Result<Rule, LanguageError> {
        let (name, token) = self.quoted("the segment's name")?;
        let segments = self.names.segments.iter();
        match lookup(segments.map(|(id, n)| (*id, n.as_str(), true)), &name) {
            Lookup::Found(segment) => Ok(Rule::Segment { segment, member }),
            Lookup::Ambiguous => Err(LanguageError::new(
                format!("several segments are called \"{name}\""),
                token.start,
                token.end,
            )),
            Lookup::Unknown { closest } => Err(LanguageError::new(
                unknown("segment", &name, closest, "segments"),
                token.start,
                token.end,
            )),
        }
    }

    fn bought(&mut self) -> Result<Rule, LanguageError> {
        let kind = self.next("`product` or `sku`")?;
        let item = match &kind.token {
            Token::Word(word) if word.eq_ignore_ascii_case("product") => {
                Item::Product(self.product()?)
            }
            Token::Word(word) if word.eq_ignore_ascii_case("sku") => Item::Variant(self.sku()?),
            other => {
                return Err(LanguageError::new(
                    format!(
                        "expected `product \"Title\"` or `sku \"SKU\"` after `bought`, found {}",
                        shown(other)
                    ),
                    kind.start,
                    kind.end,
                ));
            }
        };
        let frame = self.frame()?;
        Ok(Rule::Bought { item, frame })
    }

    /// `#12` when an id is written, for things whose title alone is ambiguous.
    fn hash_id(&mut self) -> Option<i64> {
        let id = self
            .peek_word(0)
            .and_then(|word| word.strip_prefix('#').and_then(|id| id.parse().ok()));
        if id.is_some() {
            self.at += 1;
        }
        id
    }

    fn product(&mut self) -> Result<i64, LanguageError> {
        let start = self.peek().map_or(self.text_len, |t| t.start);
        if let Some(id) = self.hash_id() {
            if self.names.products.contains_key(&id) {
                return Ok(id);
            }
            let end = self.tokens[self.at - 1].end;
            return Err(LanguageError::new(
                format!("no product has the id {id}"),
                start,
                end,
            ));
        }
        let (title, token) = self.quoted("the product's title")?;
        let products = self.names.products.iter();
        match lookup(products.map(|(id, t)| (*id, t.as_str(), true)), &title) {
            Lookup::Found(id) => Ok(id),
            Lookup::Ambiguous => Err(LanguageError::new(
                format!(
                    "several products are called \"{title}\": name one by its id (`product #12`) or one variant with `sku \"…\"`"
                ),
                token.start,
                token.end,
            )),
            Lookup::Unknown { closest } => Err(LanguageError::new(
                unknown("product", &title, closest, "products"),
                token.start,
                token.end,
            )),
        }
    }

    fn sku(&mut self) -> Result<i64, LanguageError> {
        let (sku, token) = self.quoted("the variant's SKU")?;
        let variants = self.names.variants.iter();
        // SKUs are compared exactly: `eth-res` and `ETH-RES` may be two variants.
        match variants
            .clone()
            .find(|(_, known)| known.as_str() == sku.trim())
        {
            Some((id, _)) => Ok(*id),
            None => {
                let closest = closest(variants.map(|(_, known)| known.as_str()), &sku);
                Err(LanguageError::new(
                    unknown("variant has the SKU", &sku, closest, "variants"),
                    token.start,
                    token.end,
                ))
            }
        }
    }

    /// `within last N days`, `not within last N days`, or dates.
    fn when(&mut self) -> Result<When, LanguageError> {
        match self.peek_word(0).as_deref() {
            Some("within") => {
                self.at += 1;
                self.keyword("last")?;
                Ok(When::WithinLastDays(self.days()?))
            }
            Some("not") => {
                self.at += 1;
                self.keyword("within")?;
                self.keyword("last")?;
                Ok(When::NotWithinLastDays(self.days()?))
            }
            Some("from" | "until") => Ok(When::Dates(self.dates()?)),
            _ => {
                let found = self.next("`within last N days`, `from DATE` or `until DATE`")?;
                Err(LanguageError::new(
                    format!(
                        "expected `within last N days`, `not within last N days`, `from DATE` or `until DATE`, found {}",
                        shown(&found.token)
                    ),
                    found.start,
                    found.end,
                ))
            }
        }
    }

    /// An order frame after a condition: `during last N days` or dates; nothing is the whole
    /// history.
    fn frame(&mut self) -> Result<TimeFrame, LanguageError> {
        match self.peek_word(0).as_deref() {
            Some("during") => {
                self.at += 1;
                self.keyword("last")?;
                Ok(TimeFrame::LastDays(self.days()?))
            }
            Some("from" | "until") => Ok(TimeFrame::Dates(self.dates()?)),
            _ => Ok(TimeFrame::WholeHistory),
        }
    }

    fn days(&mut self) -> Result<u32, LanguageError> {
        let token = self.next("a number of days")?;
        let Token::Word(word) = &token.token else {
            return Err(LanguageError::new(
                format!("expected a number of days, found {}", shown(&token.token)),
                token.start,
                token.end,
            ));
        };
        let days: u32 = word.parse().map_err(|_| {
            LanguageError::new(
                format!("`{word}` is not a whole number of days"),
                token.start,
                token.end,
            )
        })?;
        if days == 0 {
            return Err(LanguageError::new(
                "the number of days must be at least 1",
                token.start,
                token.end,
            ));
        }
        let unit = self.next("`days`")?;
        match &unit.token {
            Token::Word(word) if matches!(word.to_lowercase().as_str(), "day" | "days") => Ok(days),
            other => Err(LanguageError::new(
                format!("expected `days` here, found {}", shown(other)),
                unit.start,
                unit.end,
            )),
        }
    }

    /// `from DATE`, `until DATE`, or `from DATE until DATE`.
    fn dates(&mut self) -> Result<DateRange, LanguageError> {
        let start = self.peek().map_or(self.text_len, |t| t.start);
        let from = if self.eat("from") {
            Some(self.date()?)
        } else {
            None
        };
        let to = if self.eat("until") {
            Some(self.date()?)
        } else {
            None
        };
        if let (Some(from), Some(to)) = (from, to)
            && from > to
        {
            let end = self.tokens[self.at - 1].end;
            return Err(LanguageError::new(
                format!("the dates are the wrong way round: {from} is after {to}"),
                start,
                end,
            ));
        }
        Ok(DateRange { from, to })
    }

    fn date(&mut self) -> Result<NaiveDate, LanguageError> {
        let token = self.next("a date like 2026-11-01")?;
        let word = match &token.token {
            Token::Word(word) | Token::Quoted(word) => word.clone(),
            other => {
                return Err(LanguageError::new(
                    format!("expected a date like 2026-11-01, found {}", shown(other)),
                    token.start,
                    token.end,
                ));
            }
        };
        let day = NaiveDate::parse_from_str(&word, "%Y-%m-%d").map_err(|_| {
            LanguageError::new(
                format!("`{word}` is not a date like 2026-11-01 (year-month-day)"),
                token.start,
                token.end,
            )
        })?;
        if !(FIRST_DAY..=LAST_DAY).contains(&day) {
            return Err(LanguageError::new(
                format!("the date {day} is outside {FIRST_DAY} to {LAST_DAY}"),
                token.start,
                token.end,
            ));
        }
        Ok(day)
    }

    fn money_bounds(&mut self) -> Result<OrderBounds<i64>, LanguageError> {
        let currency = self.names.currency.clone();
        let (min, max) = self.bounds(|_, token, word| {
            parse_major_units(word, &currency).map_err(|error| {
                LanguageError::new(
                    format!("{error} ({currency}, no thousands separators)"),
                    token.start,
                    token.end,
                )
            })
        })?;
        let frame = self.frame()?;
        Ok(OrderBounds { min, max, frame })
    }

    /// `>= A`, `<= A`, or `between A and B`, each amount read by `read`.
    fn bounds<T: Copy + PartialOrd>(
        &mut self,
        read: impl Fn(&Self, &Spanned, &str) -> Result<T, LanguageError>,
    ) -> Result<(Option<T>, Option<T>), LanguageError> {
        let operator = self.next("`>=`, `<=` or `between`")?;
        let value = |parser: &mut Self| -> Result<T, LanguageError> {
            let token = parser.next("an amount")?;
            match &token.token {
                Token::Word(word) => read(parser, &token, word),
                other => Err(LanguageError::new(
                    format!("expected a number here, found {}", shown(other)),
                    token.start,
                    token.end,
                )),
            }
        };
        let word = match &operator.token {
            Token::Word(word) => word.to_lowercase(),
            _ => String::new(),
        };
        match word.as_str() {
            ">=" | "≥" => Ok((Some(value(self)?), None)),
            "<=" | "≤" => Ok((None, Some(value(self)?))),
            "between" => {
                let min = value(self)?;
                self.keyword("and")?;
                let max = value(self)?;
                if min > max {
                    let end = self.tokens[self.at - 1].end;
                    return Err(LanguageError::new(
                        "the range is the wrong way round: the first number must not be larger than the second",
                        operator.start,
                        end,
                    ));
                }
                Ok((Some(min), Some(max)))
            }
            ">" | "<" | "=" | "==" => Err(LanguageError::new(
                format!("`{word}` is not a bound here: write `>=`, `<=` or `between A and B`"),
                operator.start,
                operator.end,
            )),
            _ => Err(LanguageError::new(
                format!(
                    "expected `>=`, `<=` or `between` here, found {}",
                    shown(&operator.token)
                ),
                operator.start,
                operator.end,
            )),
        }
    }
}

/// `no question is called "X"; the closest is "Y"`.
fn unknown(what: &str, name: &str, closest: Option<String>, plural: &str) -> String {
    let subject = if what.contains(' ') {
        format!("no {what} \"{name}\"")
    } else {
        format!("no {what} is called \"{name}\"")
    };
    match closest {
        Some(closest) => format!("{subject}; the closest is \"{closest}\""),
        None => format!("{subject}: the store has no {plural} yet"),
    }
}
