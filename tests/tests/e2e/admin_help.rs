//! storebot-admin's help through the binary: the top-level help lists every command of every
//! area with its summary, whether asked for (`--help`, `-h`) or shown because no command was
//! given.

use storebot_tests::{command, stderr, stdout};

/// The line of `help` that lists `name`, if any.
fn line_of<'a>(help: &'a str, name: &str) -> Option<&'a str> {
    help.lines()
        .find(|line| line.trim_start().starts_with(&format!("{name}  ")))
}

#[test]
fn the_top_level_help_lists_every_command_with_its_summary() {
    let dir = tempfile::tempdir().expect("dir");
    let output = command("storebot-admin", dir.path())
        .env("COLUMNS", "200")
        .arg("--help")
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    let help = stdout(&output);
    for (name, summary) in [
        (
            "segments members",
            "List a segment's members, or change them",
        ),
        ("catalog product list", "Products with their variants"),
        ("coupons create", "Create a coupon"),
        ("orders import", "Import historical orders from CSV"),
        (
            "product-segments grant",
            "Let a customer segment's members see",
        ),
        ("broadcast status", "One broadcast's progress"),
    ] {
        let line = line_of(&help, name).unwrap_or_else(|| panic!("no `{name}` in:\n{help}"));
        assert!(line.contains(summary), "{line}");
    }
    // Only what can be run: an area that needs a command is not listed as one.
    assert!(line_of(&help, "catalog product").is_none(), "{help}");

    // At 80 columns the summaries wrap under themselves; no line is wider.
    let narrow = command("storebot-admin", dir.path())
        .env("COLUMNS", "80")
        .arg("-h")
        .output()
        .expect("runs");
    let narrow = stdout(&narrow);
    let (_, list) = narrow
        .split_once("Every command")
        .unwrap_or_else(|| panic!("no list of commands in:\n{narrow}"));
    assert!(line_of(list, "orders import").is_some(), "{list}");
    // The whole help, clap's part as well as the list.
    assert!(
        narrow.lines().all(|line| line.chars().count() <= 80),
        "{narrow}"
    );

    // No command at all: clap shows the help, with the same list, and fails.
    let bare = command("storebot-admin", dir.path())
        .output()
        .expect("runs");
    assert!(!bare.status.success());
    let shown = format!("{}{}", stdout(&bare), stderr(&bare));
    assert!(line_of(&shown, "segments members").is_some(), "{shown}");
}
