//! Progress bars through a real pseudo-terminal (tmux, with `admin_wizards`' `Terminal`): the
//! members import, `apply`, `backup` and `restore` draw one on standard error at a terminal,
//! and none under `--json` or without a terminal.

use storebot::testing::TestDb;
use storebot_tests::{command, stderr};

use crate::admin_wizards::{Terminal, admin_json};

#[tokio::test]
async fn members_import_apply_backup_and_restore_show_a_bar_in_a_terminal_only() {
    let test = TestDb::new().await.expect("test db");
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path();
    admin_json(&test, path, &["migrate"]);
    // 200 products and 40 customers (from an order history), a manual segment, a document.
    let mut catalog = String::from("sku,product,variant,price,stock\n");
    let mut history = String::from("order,customer,placed_at,status,sku,quantity,unit_price\n");
    let mut members = String::from("customer\n");
    for index in 0..200 {
        catalog.push_str(&format!("S-{index},Tea {index},50 g,1.00,1\n"));
    }
    for index in 0..40 {
        history.push_str(&format!(
            "O{index},{},2026-01-02,delivered,S-{index},1,1.00\n",
            1000 + index
        ));
        members.push_str(&format!("{}\n", 1000 + index));
    }
    for (name, text) in [
        ("catalog.csv", catalog),
        ("orders.csv", history),
        ("members.csv", members),
    ] {
        std::fs::write(path.join(name), text).expect("write");
    }
    // Availability goes through the whole catalog: one segment and 200 products.
    let document = r#"{"segments": [{"name": "regulars", "kind": "manual"}], "availability": []}"#;
    std::fs::write(path.join("store.json"), document).expect("write");
    admin_json(&test, path, &["catalog", "import", "catalog.csv"]);
    admin_json(&test, path, &["orders", "import", "orders.csv"]);
    admin_json(
        &test,
        path,
        &["segments", "create", "--name", "vip", "--kind", "manual"],
    );

    // At a terminal: each pass ends full, with its count and rate, before the summary.
    let terminal = Terminal::start(&test, path, "segments members vip --import members.csv");
    terminal.expect("EXIT=0");
    let screen = terminal.screen();
    assert!(screen.contains("40/40 lines checked ("), "{screen}");
    assert!(screen.contains("40/40 customers added ("), "{screen}");
    assert!(
        screen.contains("40 of 40 customers in the file joined"),
        "{screen}"
    );
    drop(terminal);
    let terminal = Terminal::start(&test, path, "apply store.json --yes");
    terminal.expect("EXIT=0");
    let screen = terminal.screen();
    assert!(screen.contains("201/201 items checked ("), "{screen}");
    assert!(screen.contains("201/201 items applied ("), "{screen}");
    assert!(screen.contains("Applied."), "{screen}");
    drop(terminal);

    // Under --json at a terminal, and without a terminal at all: no bar on standard error.
    // Each apply changes the description, so both its passes run.
    for (index, description) in ["first", "second"].iter().enumerate() {
        let document = format!(
            r#"{{"segments": [{{"name": "regulars", "kind": "manual", "description": "{description}"}}], "availability": []}}"#
        );
        std::fs::write(path.join(format!("store-{index}.json")), document).expect("write");
    }
    let bar_words = [
        "lines checked",
        "customers added",
        "items checked",
        "items applied",
    ];
    let quiet = [
        "segments members vip --import members.csv",
        "apply store-0.json --yes",
    ];
    for args in quiet {
        let terminal = Terminal::start(&test, path, &format!("{args} --json"));
        terminal.expect("EXIT=0");
        let screen = terminal.screen();
        assert!(!screen.contains('█'), "{screen}");
        assert!(
            !bar_words.iter().any(|words| screen.contains(words)),
            "{screen}"
        );
        drop(terminal);
    }
    let quiet_without_terminal = [
        "segments members vip --import members.csv",
        "apply store-1.json --yes",
    ];
    for args in quiet_without_terminal {
        let output = command("storebot-admin", path)
            .env("STOREBOT_DATABASE__URL", test.url())
            .args(args.split(' '))
            .output()
            .expect("runs");
        assert!(output.status.success(), "{}", stderr(&output));
        assert_eq!(stderr(&output), "", "{args}");
    }
    let shown = admin_json(&test, path, &["segments", "show", "regulars"]);
    assert_eq!(shown["segment"]["description"], "second", "{shown}");

    if test.is_postgres() {
        // backup and restore are for SQLite files (PostgreSQL's refusal is tested in `ops`).
        return;
    }
    let terminal = Terminal::start(&test, path, "backup copy.db");
    terminal.expect("EXIT=0");
    let screen = terminal.screen();
    let bytes = std::fs::metadata(path.join("copy.db")).expect("copy").len();
    assert!(screen.contains(" written ("), "{screen}");
    assert!(screen.contains(&format!("({bytes} bytes)")), "{screen}");
    drop(terminal);
    let output = command("storebot-admin", path)
        .env("STOREBOT_DATABASE__URL", test.url())
        .args(["backup", "quiet.db"])
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stderr(&output), "");
    // A restore needs the database closed by everyone, this test included.
    test.db.clone().close().await.expect("close");
    let terminal = Terminal::start(&test, path, "restore copy.db --yes");
    terminal.expect("EXIT=0");
    let screen = terminal.screen();
    assert!(screen.contains(" copied ("), "{screen}");
    assert!(screen.contains("checked"), "{screen}");
    assert!(screen.contains("Restored"), "{screen}");
    drop(terminal);
    let terminal = Terminal::start(&test, path, "restore quiet.db --yes --json");
    terminal.expect("EXIT=0");
    let screen = terminal.screen();
    assert!(!screen.contains(" copied ("), "{screen}");
    drop(terminal);
    let output = command("storebot-admin", path)
        .env("STOREBOT_DATABASE__URL", test.url())
        .args(["restore", "copy.db", "--yes"])
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stderr(&output), "");
}
