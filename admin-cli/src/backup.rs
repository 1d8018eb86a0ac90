//! `storebot-admin backup PATH` and `restore PATH`: a consistent copy of the SQLite database
//! while the bot runs, and putting one back while it is stopped. Both refuse PostgreSQL with
//! the `pg_dump`/`pg_restore` commands to use instead.
//!
//! They run before the tool migrates anything: a backup is a copy of the database as it is,
//! and a restore must not open (let alone migrate) the database it is about to replace.
//!
//! At a terminal both draw a bar of the bytes written (`progress::bytes`).

use std::path::Path;

use anyhow::{Result, bail};
use storebot::Settings;
use storebot::store::operations::backup;

use crate::prompt::Prompt;

pub async fn backup(settings: &Settings, json: bool, target: &Path, force: bool) -> Result<()> {
    let file = backup::sqlite_file(&settings.database.url)?;
    if !file.is_file() {
        bail!(
            "there is no database at {} to back up (database.url)",
            file.display()
        );
    }
    let db = storebot::store::connect(&settings.database).await?;
    let bar = crate::progress::bytes(json, "written");
    let result = backup::backup_sqlite_with_progress(&db, target, force, &mut |progress| {
        crate::progress::show_copy(&bar, progress);
    })
    .await;
    crate::progress::end(&bar, &result);
    let _ = db.close().await;
    result?;
    let bytes = std::fs::metadata(target)
        .map(|meta| meta.len())
        .unwrap_or(0);
    if json {
        println!(
            "{}",
            serde_json::json!({ "backup": target.display().to_string(), "bytes": bytes })
        );
    } else {
        println!(
            "Backed up {} to {} ({bytes} bytes).",
            file.display(),
            target.display()
        );
    }
    Ok(())
}

pub async fn restore(
    settings: &Settings,
    json: bool,
    yes: bool,
    prompt: Prompt,
    source: &Path,
) -> Result<()> {
    let file = backup::sqlite_file(&settings.database.url)?;
    // Check before asking, so that a wrong file is refused without a question.
    let info = backup::check_backup(source).await?;
    prompt.confirm(
        yes,
        &format!(
            "Replace the database {} with the backup {} ({} customers, {} orders); stop the bot \
             first",
            file.display(),
            source.display(),
            info.customers,
            info.orders
        ),
    )?;
    let bar = crate::progress::bytes(json, "copied");
    let restored = backup::restore_sqlite_with_progress(source, &file, &mut |progress| {
        crate::progress::show_copy(&bar, progress);
    })
    .await;
    if restored.is_ok() {
        bar.set_message("checked");
    }
    crate::progress::end(&bar, &restored);
    let info = restored?;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "restored": source.display().to_string(),
                "database": file.display().to_string(),
                "customers": info.customers,
                "orders": info.orders,
                "migrations": info.migrations.len(),
            })
        );
    } else {
        println!(
            "Restored {} from {}: {} customers, {} orders. The replaced database is kept as \
             {}.before-restore; start the bot again.",
            file.display(),
            source.display(),
            info.customers,
            info.orders,
            file.display()
        );
    }
    Ok(())
}
