//! Logging: `tracing` with an `EnvFilter` from `STOREBOT_LOG` (or `RUST_LOG`), and the `log`
//! records of teloxide and sqlx bridged in. Logs go to standard error so that standard output
//! stays clean for the terminal chat and for `--json`.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `default` applies when neither variable is set, e.g.
/// `"info"` for the bot and `"warn"` for the admin tool.
pub fn init(default: &str) {
    let filter = std::env::var("STOREBOT_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|spec| EnvFilter::try_new(spec).ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    // `try_init` also installs the log-to-tracing bridge (the `tracing-log` feature). It fails
    // only when a subscriber is already set, as in tests that start the bot twice: keep that one.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
