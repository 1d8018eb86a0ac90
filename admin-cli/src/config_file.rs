//! `storebot-admin export` and `apply`: the store's configuration (questions, segments,
//! availability) as one TOML or JSON file that merchants keep in version control.
//!
//! `apply` always computes the diff first (a rolled-back apply), prints it, and then needs
//! `--yes` or a confirmation in the terminal; `--dry-run` stops after printing. At a terminal
//! each of the two passes draws a bar of the document's items ("checked", then "applied").

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};
use storebot::store::operations::config_document::{self, ApplyProgress, StoreConfig};

use crate::context::Context;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Toml,
    Json,
}

fn format_of(path: &Path, given: Option<Format>) -> Result<Format> {
    if let Some(format) = given {
        return Ok(format);
    }
    match path.extension().and_then(|ext| ext.to_str()) {
        Some("toml") => Ok(Format::Toml),
        Some("json") => Ok(Format::Json),
        _ => bail!(
            "can't tell the format of {}: name it .toml or .json, or pass --format",
            path.display()
        ),
    }
}

pub async fn export(cx: &Context, output: Option<PathBuf>, format: Option<Format>) -> Result<()> {
    let config = config_document::export(&cx.db, &cx.settings.store.currency).await?;
    let format = match (&output, format) {
        (Some(path), given) => format_of(path, given)?,
        (None, Some(format)) => format,
        (None, None) if cx.json => Format::Json,
        (None, None) => Format::Toml,
    };
    let text = match format {
        Format::Json => serde_json::to_string_pretty(&config)? + "\n",
        Format::Toml => toml::to_string_pretty(&config)?,
    };
    match output {
        Some(path) => {
            std::fs::write(&path, text)
                .with_context(|| format!("can't write {}", path.display()))?;
            eprintln!(
                "Wrote {} questions, {} segments and {} restricted products to {}.",
                config.questions.as_ref().map_or(0, Vec::len),
                config.segments.as_ref().map_or(0, Vec::len),
                config.availability.as_ref().map_or(0, Vec::len),
                path.display()
            );
        }
        None => print!("{text}"),
    }
    Ok(())
}

pub async fn apply(
    cx: &Context,
    file: PathBuf,
    format: Option<Format>,
    dry_run: bool,
) -> Result<()> {
    let text = crate::files::read_text(&file)?;
    let config: StoreConfig = match format_of(&file, format)? {
        Format::Json => {
            serde_json::from_str(&text).map_err(|error| anyhow!("{}: {error}", file.display()))?
        }
        Format::Toml => toml::from_str(&text)
            .map_err(|error| anyhow!("{}: {}", file.display(), error.message()))?,
    };
    let planned = apply_pass(cx, &config, true).await?;
    if cx.json && (dry_run || planned.is_empty()) {
        println!(
            "{}",
            serde_json::json!({ "applied": false, "changes": planned })
        );
        return Ok(());
    }
    if !cx.json {
        if planned.is_empty() {
            println!(
                "Nothing to change: the database already matches {}.",
                file.display()
            );
            return Ok(());
        }
        println!("{} change(s):", planned.len());
        for change in &planned {
            println!("  {change}");
        }
    }
    if dry_run {
        return Ok(());
    }
    cx.prompt
        .confirm(cx.yes, &format!("Apply {} change(s)", planned.len()))?;
    let applied = apply_pass(cx, &config, false).await?;
    if cx.json {
        println!(
            "{}",
            serde_json::json!({ "applied": true, "changes": applied })
        );
    } else {
        println!("Applied.");
    }
    Ok(())
}

/// One pass of the apply (a dry run that is rolled back, or the real one) with its bar.
async fn apply_pass(cx: &Context, config: &StoreConfig, dry_run: bool) -> Result<Vec<String>> {
    let what = if dry_run {
        "items checked"
    } else {
        "items applied"
    };
    // The number of items is counted in the apply's transaction: the bar learns it from the
    // first report.
    let bar = crate::progress::bar(cx, 0, what);
    let mut show_progress = |progress: ApplyProgress| {
        crate::progress::show(&bar, progress.done, Some(progress.total));
        bar.set_message(progress.section);
    };
    let outcome = config_document::apply_with_progress(
        &cx.db,
        config,
        &cx.settings.store.currency,
        cx.now(),
        dry_run,
        &mut show_progress,
    )
    .await;
    crate::progress::end(&bar, &outcome);
    Ok(outcome?)
}
