//! Progress bars (indicatif) for long work: imports, `segments recompute`, `apply`, `backup`
//! and `restore`. Drawn on standard error only when it is a terminal and the output is not
//! `--json`, so neither a script's parsed output nor a log ever holds one.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use crate::context::Context;

/// A bar for `total` steps of `what` ("rows", "segments"), or a hidden one that draws nothing.
pub fn bar(cx: &Context, total: usize, what: &str) -> ProgressBar {
    let total = u64::try_from(total).unwrap_or(u64::MAX);
    styled(
        cx.json,
        total,
        &format!("{{bar:30}} {{pos}}/{{len}} {what} ({{rate}}, {{elapsed}}) {{msg}}"),
    )
}

/// A bar counting the bytes of a file being written (`what`: "written", "copied"), its length
/// learned from the reports; or a hidden one. For the commands that run without a [`Context`]
/// (backup and restore open no migrated database), hence `json` on its own.
pub fn bytes(json: bool, what: &str) -> ProgressBar {
    styled(
        json,
        0,
        &format!(
            "{{bar:30}} {{bytes}}/{{total_bytes}} {what} ({{bytes_per_sec}}, {{elapsed}}) {{msg}}"
        ),
    )
}

fn styled(json: bool, total: u64, template: &str) -> ProgressBar {
    if json || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    // The templates are fixed and known to parse; should one not, the default style still
    // counts.
    if let Ok(style) = ProgressStyle::with_template(template) {
        // indicatif's own `{per_sec}` prints four decimals ("2,572.9261/s"): whole steps read
        // better.
        bar.set_style(style.with_key(
            "rate",
            |state: &ProgressState, out: &mut dyn std::fmt::Write| {
                let _ = write!(out, "{:.0}/s", state.per_sec());
            },
        ));
    }
    bar
}

/// Moves `bar` to `done` of `total` steps: what every report of a store function's progress
/// comes down to (`total` learned from the first report where it is only known then).
pub fn show(bar: &ProgressBar, done: usize, total: Option<usize>) {
    let steps = |count: usize| u64::try_from(count).unwrap_or(u64::MAX);
    if let Some(total) = total {
        bar.set_length(steps(total));
    }
    bar.set_position(steps(done));
}

/// Ends `bar` after its work: full when the work succeeded, left where it stopped when it
/// failed (a refused import must not look complete).
pub fn end<T, E>(bar: &ProgressBar, outcome: &Result<T, E>) {
    if outcome.is_ok() {
        bar.finish();
    } else {
        bar.abandon();
    }
}

/// Shows one report of a backup or a restore on a [`bytes`] bar.
pub fn show_copy(bar: &ProgressBar, progress: storebot::store::operations::backup::Progress) {
    use storebot::store::operations::backup::Progress;
    match progress {
        Progress::Copied { bytes, total } => {
            bar.set_length(total);
            bar.set_position(bytes);
            bar.set_message("");
        }
        Progress::Checking => bar.set_message("checking…"),
    }
}
