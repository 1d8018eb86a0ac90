//! Progress bars (indicatif) for long work: imports and `segments recompute`. Drawn on standard
//! error only when it is a terminal and the output is not `--json`, so neither a script's
//! parsed output nor a log ever holds one.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::context::Context;

/// A bar for `total` steps of `what` ("rows", "segments"), or a hidden one that draws nothing.
pub fn bar(cx: &Context, total: usize, what: &str) -> ProgressBar {
    let total = u64::try_from(total).unwrap_or(u64::MAX);
    if cx.json || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    // The template is fixed and known to parse; should it not, the default style still counts.
    if let Ok(style) = ProgressStyle::with_template(&format!(
        "{{bar:30}} {{pos}}/{{len}} {what} ({{per_sec}}, {{elapsed}}) {{msg}}"
    )) {
        bar.set_style(style);
    }
    bar
}
