//! `segments members SEGMENT --import FILE`: a CSV of customers (a `customer` column, each
//! named as everywhere else, with optional `name` and `note` columns for the merchant's own
//! use) read and looked up line by line, every bad or repeated line named, then added to the
//! segment all or nothing in one transaction (`roster::add_all_with_progress`): manual members
//! of a manual segment, include overrides on an auto one. At a terminal a bar shows the lines
//! checked, then another the customers added.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Result, anyhow, bail};
use storebot::segments;
use storebot::store::StoreError;
use storebot::store::membership::roster;
use storebot::store::shoppers::records;

use crate::context::Context;
use crate::csv;

/// What an import did: how many customers joined, of how many the file listed.
pub struct Imported {
    pub added: u64,
    pub listed: usize,
}

/// Adds every customer listed in the file at `path` to the segment `segment_id`, or none.
pub async fn import(
    cx: &Context,
    context: &segments::Context,
    segment_id: i64,
    path: &Path,
) -> Result<Imported> {
    let ids = read_customer_list(cx, path).await?;
    let bar = crate::progress::bar(cx, ids.len(), "customers added");
    let added = roster::add_all_with_progress(&cx.db, context, segment_id, &ids, &mut |done| {
        crate::progress::show(&bar, done, None);
    })
    .await;
    crate::progress::end(&bar, &added);
    Ok(Imported {
        added: added?,
        listed: ids.len(),
    })
}

/// The customers of a CSV file with a `customer` column, or every bad line named (the store's
/// `BadLines` refusal, which `--json` lists as `problems`).
async fn read_customer_list(cx: &Context, path: &Path) -> Result<Vec<i64>> {
    let text = crate::files::read_text(path)?;
    let nothing = |problems: String| anyhow!("nothing was imported:\n  {problems}");
    let records = csv::records(&text, &["customer"], &["name", "note"]).map_err(nothing)?;
    let mut problems = Vec::new();
    let mut seen: BTreeMap<i64, usize> = BTreeMap::new();
    let mut ids = Vec::new();
    let bar = crate::progress::bar(cx, records.len(), "lines checked");
    for (done, record) in records.into_iter().enumerate() {
        crate::progress::show(&bar, done, None);
        let Some(key) = record.get("customer") else {
            problems.push((record.line, "`customer` is empty".to_owned()));
            continue;
        };
        match records::find(&cx.db, key).await {
            Ok(customer) => {
                if let Some(first) = seen.insert(customer.id, record.line) {
                    problems.push((
                        record.line,
                        format!("customer `{key}` already appears on line {first}"),
                    ));
                } else {
                    ids.push(customer.id);
                }
            }
            // The database failing is no problem of the line's: it stops the import.
            Err(error @ StoreError::Database(_)) => return Err(error.into()),
            Err(error) => problems.push((record.line, error.to_string())),
        }
    }
    // Every line was looked at, whatever was found wrong with them.
    bar.finish();
    if !problems.is_empty() {
        return Err(StoreError::bad_lines(problems).into());
    }
    if ids.is_empty() {
        bail!("{} lists no customers", path.display());
    }
    Ok(ids)
}
