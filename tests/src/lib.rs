//! Helpers for the end-to-end suite in `tests/e2e`: locating and running the real binaries
//! against a test database.
//!
//! The binaries are found next to the test executable (`target/<profile>/`), where
//! `cargo test --workspace` has built them: the `bot` and `admin-cli` packages each carry an
//! integration test, which makes cargo build their binaries before any test runs.
//!
//! The admin binary is driven through one harness, [`admin::AdminTool`]: its run, success,
//! JSON and refusal checks, used by every e2e module that runs `storebot-admin` on a test
//! database, so that the contract of a refusal (non-zero exit, one sentence on standard
//! error, nothing on standard output, nothing changed) is checked the same way everywhere.

pub mod admin;
pub mod bot;
pub mod fake_telegram;
pub mod shopper;
pub mod tcp_proxy;
pub mod terminal;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The path of a workspace binary built beside this test executable.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    // target/<profile>/deps/<test>-<hash> → target/<profile>/<name>; a bench binary
    // (target/<profile>/<bench>) has its siblings beside it.
    let dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    let profile_dir = if dir.file_name().is_some_and(|name| name == "deps") {
        dir.parent().map(Path::to_path_buf).unwrap_or_default()
    } else {
        dir
    };
    profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// A command for a workspace binary with a clean storebot environment: no inherited
/// `STOREBOT_*` variables, and the working directory in `cwd` so that nothing lands in the
/// repository.
pub fn command(name: &str, cwd: &Path) -> Command {
    let path = binary(name);
    assert!(
        path.exists(),
        "{} is not built: run the suite with `cargo test --workspace`",
        path.display()
    );
    let mut command = Command::new(path);
    for (key, _) in std::env::vars() {
        if key.starts_with("STOREBOT_") {
            command.env_remove(key);
        }
    }
    command.current_dir(cwd);
    command
}

/// Standard error as text, for assertions on messages.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Standard output as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}
