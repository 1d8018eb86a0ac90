//! `storebot-admin lint`: what is hidden from everybody, empty, unused, or refers to what is
//! gone. It reports and never changes anything.

use anyhow::{Result, bail};

use crate::context::Context;
use crate::table::Table;

pub async fn run(cx: &Context, strict: bool) -> Result<()> {
    let findings =
        storebot::store::operations::lint::check(&cx.db, &cx.settings.store.currency, cx.now())
            .await?;
    if !cx.json_out(&findings)? {
        let mut table = Table::new(["check", "finding"]);
        for finding in &findings {
            table.row(vec![finding.kind.to_owned(), finding.message.clone()]);
        }
        table.print("Nothing to report: every check passed.");
    }
    if strict && !findings.is_empty() {
        bail!("lint found {} problem(s)", findings.len());
    }
    Ok(())
}
