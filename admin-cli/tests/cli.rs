//! The `storebot-admin` binary's own command line. The end-to-end tests of each command live
//! in the `tests/` package; these make sure `cargo test` builds the binary they drive.

use std::process::Command;

#[test]
fn help_lists_the_commands() {
    let output = Command::new(env!("CARGO_BIN_EXE_storebot-admin"))
        .arg("--help")
        .output()
        .expect("runs");
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    for word in ["migrate", "--json", "--config"] {
        assert!(stdout.contains(word), "{word} missing from help: {stdout}");
    }
}

#[test]
fn version_names_the_package_version() {
    let output = Command::new(env!("CARGO_BIN_EXE_storebot-admin"))
        .arg("--version")
        .output()
        .expect("runs");
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stdout.trim(),
        format!("storebot-admin {}", env!("CARGO_PKG_VERSION"))
    );
}
