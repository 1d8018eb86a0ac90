//! The store's names as a value: what the rule language reads and writes in place of database
//! ids. `store` builds it; the parser and printer only look things up in it.

use std::collections::BTreeMap;

/// Every name a rule can mention, by id, with the store's currency for amounts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleNames {
    /// `store.currency`: amounts are written in its major units.
    pub currency: String,
    /// Registration questions by id, archived ones included (old rules still show).
    pub questions: BTreeMap<i64, QuestionName>,
    /// Product titles by id.
    pub products: BTreeMap<i64, String>,
    /// Variant SKUs by id.
    pub variants: BTreeMap<i64, String>,
    /// Segment names by id.
    pub segments: BTreeMap<i64, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuestionName {
    pub text: String,
    pub archived: bool,
    /// The question's answer options by id.
    pub options: BTreeMap<i64, OptionName>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OptionName {
    pub text: String,
    pub archived: bool,
}

/// How a name was found, or why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Lookup {
    Found(i64),
    /// Nothing is called that; the closest existing name, if there is any name at all.
    Unknown {
        closest: Option<String>,
    },
    /// Several things are called that (only product titles can repeat).
    Ambiguous,
}

/// Finds `wanted` among `names`: exactly first, then ignoring case when that picks one.
/// `live` says which entries may be chosen (archived questions and options may not).
pub(super) fn lookup<'n>(
    names: impl Iterator<Item = (i64, &'n str, bool)> + Clone,
    wanted: &str,
) -> Lookup {
    let wanted = wanted.trim();
    let exact: Vec<i64> = names
        .clone()
        .filter(|(_, name, live)| *live && *name == wanted)
        .map(|(id, _, _)| id)
        .collect();
    let folded: Vec<i64> = names
        .clone()
        .filter(|(_, name, live)| *live && name.to_lowercase() == wanted.to_lowercase())
        .map(|(id, _, _)| id)
        .collect();
    match (exact.as_slice(), folded.as_slice()) {
        ([id], _) => Lookup::Found(*id),
        ([_, _, ..], _) => Lookup::Ambiguous,
        ([], [id]) => Lookup::Found(*id),
        ([], [_, _, ..]) => Lookup::Ambiguous,
        ([], []) => Lookup::Unknown {
            closest: closest(
                names.filter(|(_, _, live)| *live).map(|(_, name, _)| name),
                wanted,
            ),
        },
    }
}

/// The name most like `wanted` (by normalised edit distance, ignoring case).
pub(super) fn closest<'n>(names: impl Iterator<Item = &'n str>, wanted: &str) -> Option<String> {
    let wanted = wanted.to_lowercase();
    names
        .map(|name| {
            let score = strsim::normalized_damerau_levenshtein(&name.to_lowercase(), &wanted);
            (score, name)
        })
        .max_by(|(a, _), (b, _)| a.total_cmp(b))
        .map(|(_, name)| name.to_owned())
}

impl RuleNames {
    /// Whether exactly one product has this title, so that the title alone names it.
    pub(super) fn product_title_is_unique(&self, title: &str) -> bool {
        self.products.values().filter(|t| *t == title).count() == 1
    }
}
