//! The `storebot` binary's own command line. Most end-to-end tests live in the `tests/`
//! package; these make sure `cargo test` builds the binary those tests drive.

use std::process::Command;

fn storebot() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_storebot"));
    command.env_remove("STOREBOT_CONFIG");
    command
}

#[test]
fn version_names_the_package_version() {
    let output = storebot().arg("--version").output().expect("runs");
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stdout.trim(),
        format!("storebot {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn help_lists_the_commands() {
    let output = storebot().arg("--help").output().expect("runs");
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    for word in ["run", "migrate", "--config"] {
        assert!(stdout.contains(word), "{word} missing from help: {stdout}");
    }
}
