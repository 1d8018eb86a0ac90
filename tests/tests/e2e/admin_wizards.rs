//! storebot-admin's wizards, typed into a real pseudo-terminal: each test starts its own tmux
//! server (`storebot_tests::terminal`) running the binary, waits for each prompt to appear on
//! the screen, answers it with key presses, and checks the database afterwards with `--json`.

use serde_json::Value;
use storebot::testing::TestDb;
// The progress tests drive the same terminal.
pub(crate) use storebot_tests::terminal::Terminal;
use storebot_tests::{command, stderr, stdout};

pub(crate) fn admin_json(test: &TestDb, dir: &std::path::Path, args: &[&str]) -> Value {
    let output = command("storebot-admin", dir)
        .env("STOREBOT_DATABASE__URL", test.url())
        .args(args)
        .arg("--json")
        .output()
        .expect("runs");
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    serde_json::from_str(&stdout(&output)).expect("json")
}

#[tokio::test]
async fn question_wizard_asks_for_everything_and_shows_it_before_saving() {
    let test = TestDb::new().await.expect("test db");
    let dir = tempfile::tempdir().expect("dir");
    admin_json(&test, dir.path(), &["migrate"]);
    let terminal = Terminal::start(&test, dir.path(), "questions add");
    terminal.expect("Question text");
    terminal.type_line("Favourite tea?");
    terminal.expect("Kind");
    terminal.keys(&["Down", "Enter"]);
    terminal.expect("Must shoppers answer it?");
    terminal.keys(&["n"]);
    terminal.expect("Option 1 (empty to finish)");
    terminal.type_line("Green");
    terminal.expect("Option 2 (empty to finish)");
    terminal.type_line("Black");
    terminal.expect("Option 3 (empty to finish)");
    terminal.keys(&["Enter"]);
    terminal.expect(
        "Will add the optional multiple question \"Favourite tea?\" with options: Green, Black.",
    );
    terminal.expect("Add this question. Go ahead?");
    terminal.keys(&["y"]);
    terminal.expect("EXIT=0");

    let list = admin_json(&test, dir.path(), &["questions", "list"]);
    assert_eq!(list[0]["text"], "Favourite tea?");
    assert_eq!(list[0]["kind"], "multiple");
    assert_eq!(list[0]["required"], false);
    let options: Vec<&str> = list[0]["options"]
        .as_array()
        .expect("options")
        .iter()
        .filter_map(|option| option["text"].as_str())
        .collect();
    assert_eq!(options, ["Green", "Black"]);
}

#[tokio::test]
async fn question_wizard_cancelled_at_the_end_saves_nothing() {
    let test = TestDb::new().await.expect("test db");
    let dir = tempfile::tempdir().expect("dir");
    admin_json(&test, dir.path(), &["migrate"]);
    let terminal = Terminal::start(&test, dir.path(), "questions add --option Yes --option No");
    terminal.expect("Question text");
    terminal.type_line("Newsletter?");
    terminal.expect("Kind");
    terminal.keys(&["Enter"]);
    terminal.expect("Must shoppers answer it?");
    terminal.keys(&["y"]);
    terminal.expect("Go ahead?");
    terminal.keys(&["n"]);
    terminal.expect("cancelled, nothing was changed");
    terminal.expect("EXIT=1");
    assert_eq!(
        admin_json(&test, dir.path(), &["questions", "list", "--all"]),
        Value::Array(vec![])
    );
}

#[tokio::test]
async fn availability_wizard_sets_each_variant() {
    let test = TestDb::new().await.expect("test db");
    let dir = tempfile::tempdir().expect("dir");
    let catalog = dir.path().join("catalog.csv");
    std::fs::write(
        &catalog,
        "sku,product,variant,price,stock\nT-50,Tea,50 g,4.50,10\nT-100,Tea,100 g,8.00,4\n",
    )
    .expect("write");
    admin_json(
        &test,
        dir.path(),
        &["catalog", "import", catalog.to_str().expect("path")],
    );
    admin_json(
        &test,
        dir.path(),
        &["segments", "create", "--name", "staff", "--kind", "manual"],
    );
    let vip = admin_json(
        &test,
        dir.path(),
        &["segments", "create", "--name", "vip", "--kind", "manual"],
    );

    let terminal = Terminal::start(&test, dir.path(), "availability set");
    terminal.expect("Which product?");
    terminal.keys(&["Enter"]);
    terminal.expect("Availability of `Tea`");
    terminal.keys(&["Down", "Enter"]);
    terminal.expect("Who may see `50 g` (T-50)?");
    terminal.keys(&["Enter"]);
    terminal.expect("Who may see `100 g` (T-100)?");
    terminal.keys(&["Down", "Enter"]);
    terminal.expect("Which segments?");
    // The list is by name: staff, vip. Tick vip only.
    terminal.keys(&["Down", "Space", "Enter"]);
    terminal.expect("T-100: vip");
    terminal.expect("Apply. Go ahead?");
    terminal.keys(&["y"]);
    terminal.expect("EXIT=0");

    let product = admin_json(&test, dir.path(), &["catalog", "product", "list"])[0]["id"]
        .as_i64()
        .expect("id");
    let shown = admin_json(
        &test,
        dir.path(),
        &["availability", "show", &product.to_string()],
    );
    assert_eq!(shown["by_variant"], true);
    assert_eq!(shown["variants"][0]["audience"], "all_segments");
    assert_eq!(
        shown["variants"][1]["audience"]["segments"],
        serde_json::json!([vip["id"]])
    );
}

#[tokio::test]
async fn segment_wizard_builds_a_rule() {
    let test = TestDb::new().await.expect("test db");
    let dir = tempfile::tempdir().expect("dir");
    let question = admin_json(
        &test,
        dir.path(),
        &[
            "questions",
            "add",
            "--text",
            "Pets?",
            "--option",
            "Cat",
            "--option",
            "Dog",
        ],
    );
    let terminal = Terminal::start(&test, dir.path(), "segments create");
    terminal.expect("Segment name");
    terminal.type_line("english cat people");
    terminal.expect("Kind");
    terminal.keys(&["Enter"]);
    terminal.expect("Shoppers match when they meet");
    terminal.keys(&["Enter"]);
    terminal.expect("Add a condition");
    terminal.keys(&["Enter"]);
    terminal.expect("Which question?");
    terminal.keys(&["Enter"]);
    terminal.expect("Which answers?");
    terminal.keys(&["Space", "Enter"]);
    terminal.expect("done");
    // Items now: done, registration answer, first interaction, last interaction, average
    // check, total check, order count, bought, Telegram language, ...
    terminal.keys(&[
        "Down", "Down", "Down", "Down", "Down", "Down", "Down", "Down", "Enter",
    ]);
    terminal.expect("Language codes");
    terminal.type_line("en");
    terminal.expect("Add a condition");
    terminal.keys(&["Enter"]);
    // The window and the user group, each left blank.
    terminal.expect("Starts granting");
    terminal.keys(&["Enter"]);
    terminal.expect("Expires");
    terminal.keys(&["Enter"]);
    terminal.expect("User group its members get");
    terminal.keys(&["Enter"]);
    terminal.expect("Create it. Go ahead?");
    terminal.keys(&["y"]);
    terminal.expect("EXIT=0");

    let shown = admin_json(
        &test,
        dir.path(),
        &["segments", "show", "english cat people"],
    );
    assert_eq!(
        shown["rule"]["rule"],
        serde_json::json!({
            "type": "all",
            "rules": [
                { "type": "answer", "question": question["id"], "options": [question["options"][0]["id"]] },
                { "type": "language", "codes": ["en"] }
            ]
        })
    );
}

#[tokio::test]
async fn coupon_wizard_asks_for_code_discount_and_ties() {
    let test = TestDb::new().await.expect("test db");
    let dir = tempfile::tempdir().expect("dir");
    admin_json(
        &test,
        dir.path(),
        &["segments", "create", "--name", "VIP", "--kind", "manual"],
    );
    let terminal = Terminal::start(&test, dir.path(), "coupons create");
    terminal.expect("Coupon code");
    terminal.type_line("welcome15");
    terminal.expect("Discount");
    terminal.keys(&["Enter"]);
    terminal.expect("Amount");
    terminal.type_line("150");
    terminal.expect("from 1 to 100, not 150");
    terminal.type_line("15");
    terminal.expect("Segments whose members may use it");
    terminal.keys(&["Space", "Enter"]);
    terminal.expect("User groups, comma-separated");
    terminal.type_line("friends, family");
    terminal.expect("Will create coupon WELCOME15 (15% off) for segment VIP, group friends");
    terminal.expect("Create it. Go ahead?");
    terminal.keys(&["y"]);
    terminal.expect("EXIT=0");

    let shown = admin_json(&test, dir.path(), &["coupons", "show", "WELCOME15"]);
    assert_eq!(shown["coupon"]["kind"], "percent");
    assert_eq!(shown["coupon"]["amount"], 15);
    assert_eq!(shown["segments"][0]["name"], "VIP");
    assert_eq!(
        shown["user_groups"],
        serde_json::json!(["family", "friends"])
    );
}

#[tokio::test]
async fn segment_wizard_asks_a_mistyped_field_again_and_nests_groups() {
    let test = TestDb::new().await.expect("test db");
    let dir = tempfile::tempdir().expect("dir");
    admin_json(&test, dir.path(), &["migrate"]);
    let terminal = Terminal::start(&test, dir.path(), "segments create");
    terminal.expect("Segment name");
    terminal.type_line("regulars");
    terminal.expect("Kind");
    terminal.keys(&["Enter"]);
    terminal.expect("Shoppers match when they meet");
    terminal.keys(&["Enter"]);
    terminal.expect("Add a condition");
    // average check
    terminal.keys(&["Down", "Down", "Down", "Enter"]);
    terminal.expect("Minimum in EUR");
    terminal.type_line("20,00");
    terminal.expect("`20,00` is not an amount like 12.50: try again.");
    terminal.type_line("20.00");
    terminal.expect("Maximum in EUR");
    terminal.type_line("10");
    terminal.expect("The maximum is below the minimum (20.00): try again.");
    terminal.keys(&["Enter"]);
    terminal.expect("Over which orders");
    terminal.keys(&["Down", "Down", "Enter"]);
    terminal.expect("From (YYYY-MM-DD");
    terminal.type_line("31.12.2025");
    terminal.expect("`31.12.2025` is not a date like 2026-11-01: try again.");
    terminal.type_line("2026-01-01");
    terminal.expect("To (YYYY-MM-DD");
    terminal.type_line("2025-12-31");
    terminal.expect("The last day is before the first (2026-01-01): try again.");
    terminal.type_line("2026-12-31");
    terminal.expect("done");
    // A group: done, then 10 conditions, then the group.
    terminal.keys(&[
        "Down", "Down", "Down", "Down", "Down", "Down", "Down", "Down", "Down", "Down", "Down",
        "Enter",
    ]);
    terminal.expect("The group matches when shoppers meet");
    terminal.keys(&["Down", "Enter"]);
    // Telegram language is the 8th condition (no `done` in an empty group).
    terminal.keys(&[
        "Down", "Down", "Down", "Down", "Down", "Down", "Down", "Enter",
    ]);
    terminal.expect("Language codes");
    terminal.type_line("english");
    terminal.expect("`english` is not a two- or three-letter code such as en: try again.");
    terminal.type_line("en");
    // order count: done + 5 before it.
    terminal.keys(&["Down", "Down", "Down", "Down", "Down", "Down", "Enter"]);
    terminal.expect("At least");
    terminal.type_line("1");
    terminal.expect("At most");
    terminal.keys(&["Enter"]);
    terminal.keys(&["Enter"]);
    // Done with the group, then with the rule.
    terminal.keys(&["Enter"]);
    terminal.keys(&["Enter"]);
    terminal.expect("Starts granting");
    terminal.type_line("2026-12-01");
    terminal.expect("Expires");
    terminal.type_line("2026-11-01");
    terminal.expect("It must expire after it starts (2026-12-01 00:00): try again.");
    terminal.type_line("2027-01-01");
    terminal.expect("User group its members get");
    terminal.type_line("regulars");
    terminal.expect(r#"Rule: average check >= 20.00 from 2026-01-01 until 2026-12-31 and (language is "en" or order count >= 1)"#);
    terminal.expect("Create it. Go ahead?");
    terminal.keys(&["y"]);
    // Its members are computed at once: a recompute run is on record.
    terminal.expect("It has 0 member(s) now.");
    terminal.expect("EXIT=0");
    let runs = admin_json(&test, dir.path(), &["segments", "runs"]);
    assert_eq!(runs.as_array().map(Vec::len), Some(1));

    let shown = admin_json(&test, dir.path(), &["segments", "show", "regulars"]);
    assert_eq!(
        shown["rule_text"],
        r#"average check >= 20.00 from 2026-01-01 until 2026-12-31 and (language is "en" or order count >= 1)"#
    );
    assert_eq!(shown["segment"]["user_group"], "regulars");
    assert_eq!(shown["segment"]["starts_at"], "2026-12-01T00:00:00Z");
    assert_eq!(shown["segment"]["expires_at"], "2027-01-01T00:00:00Z");
}

#[tokio::test]
async fn long_work_shows_a_progress_bar_in_a_terminal_only() {
    let test = TestDb::new().await.expect("test db");
    let dir = tempfile::tempdir().expect("dir");
    admin_json(&test, dir.path(), &["migrate"]);
    let mut catalog = String::from("sku,product,variant,price,stock\n");
    for index in 0..500 {
        catalog.push_str(&format!("S-{index},Tea {index},50 g,1.00,1\n"));
    }
    std::fs::write(dir.path().join("catalog.csv"), catalog).expect("write");
    let mut history = String::from("order,customer,placed_at,status,sku,quantity,unit_price\n");
    for index in 0..300 {
        history.push_str(&format!(
            "O{index},{},2026-01-02,delivered,S-{index},1,1.00\n",
            1000 + index % 7
        ));
    }
    std::fs::write(dir.path().join("orders.csv"), history).expect("write");

    // At a terminal: the bar ends full, with its count and rate, before the summary.
    let terminal = Terminal::start(&test, dir.path(), "catalog import catalog.csv");
    terminal.expect("EXIT=0");
    let screen = terminal.screen();
    assert!(screen.contains("500/500 rows ("), "{screen}");
    assert!(screen.contains("/s"), "{screen}");
    assert!(screen.contains("Imported 500 rows"), "{screen}");
    drop(terminal);

    let terminal = Terminal::start(&test, dir.path(), "orders import orders.csv");
    terminal.expect("EXIT=0");
    let screen = terminal.screen();
    assert!(screen.contains("300/300 rows ("), "{screen}");
    drop(terminal);

    admin_json(
        &test,
        dir.path(),
        &[
            "segments",
            "create",
            "--name",
            "buyers",
            "--where",
            "order count >= 1",
        ],
    );
    let terminal = Terminal::start(&test, dir.path(), "segments recompute");
    terminal.expect("EXIT=0");
    let screen = terminal.screen();
    assert!(screen.contains("1/1 segments ("), "{screen}");
    drop(terminal);

    // Under --json at a terminal, and without a terminal at all: no bar, standard error empty.
    let terminal = Terminal::start(&test, dir.path(), "segments recompute --json");
    terminal.expect("EXIT=0");
    let screen = terminal.screen();
    assert!(!screen.contains("segments ("), "{screen}");
    drop(terminal);
    let output = command("storebot-admin", dir.path())
        .env("STOREBOT_DATABASE__URL", test.url())
        .args(["segments", "recompute"])
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stderr(&output), "");
}

/// Every list a cancelled wizard could have written to, as `--json` prints them.
fn everything(test: &TestDb, dir: &std::path::Path) -> Vec<Value> {
    [
        &["questions", "list", "--all"][..],
        &["segments", "list"],
        &["coupons", "list"],
        &["catalog", "product", "list"],
    ]
    .iter()
    .map(|args| admin_json(test, dir, args))
    .collect()
}

#[tokio::test]
async fn ctrl_c_at_a_menu_cancels_the_wizard_shows_the_cursor_and_saves_nothing() {
    let test = TestDb::new().await.expect("test db");
    let dir = tempfile::tempdir().expect("dir");
    admin_json(&test, dir.path(), &["migrate"]);
    let before = everything(&test, dir.path());
    let terminal = Terminal::start(&test, dir.path(), "segments create");
    terminal.expect("Segment name");
    terminal.type_line("tea lovers");
    terminal.expect("manual: you add members one by one");
    // dialoguer hides the cursor while its menu is on screen.
    assert!(!terminal.cursor_visible(), "{}", terminal.screen());
    terminal.keys(&["C-c"]);
    terminal.expect("Cancelled, nothing was changed.");
    terminal.expect("EXIT=130");
    assert!(terminal.cursor_visible(), "{}", terminal.screen());
    assert_eq!(everything(&test, dir.path()), before);
}

#[tokio::test]
async fn ctrl_c_at_a_checklist_after_several_answers_saves_nothing_and_says_so_in_json() {
    let test = TestDb::new().await.expect("test db");
    let dir = tempfile::tempdir().expect("dir");
    admin_json(
        &test,
        dir.path(),
        &["segments", "create", "--name", "VIP", "--kind", "manual"],
    );
    let before = everything(&test, dir.path());
    let terminal = Terminal::start(&test, dir.path(), "coupons create --json");
    terminal.expect("Coupon code");
    terminal.type_line("welcome10");
    terminal.expect("Discount");
    terminal.keys(&["Enter"]);
    terminal.expect("Amount");
    terminal.type_line("10");
    terminal.expect("Segments whose members may use it");
    terminal.keys(&["Space", "C-c"]);
    terminal.expect(r#"{"error":{"code":"cancelled","message":"Cancelled, nothing was changed.","problems":[]}}"#);
    terminal.expect("EXIT=130");
    assert!(terminal.cursor_visible(), "{}", terminal.screen());
    assert_eq!(everything(&test, dir.path()), before);
}

#[tokio::test]
async fn sigint_from_outside_at_a_prompt_gives_the_terminal_back_as_it_was() {
    let test = TestDb::new().await.expect("test db");
    let dir = tempfile::tempdir().expect("dir");
    admin_json(&test, dir.path(), &["migrate"]);
    let before = everything(&test, dir.path());
    let terminal = Terminal::start(&test, dir.path(), "questions add");
    terminal.expect("Question text");
    terminal.type_line("Favourite tea?");
    terminal.expect("single choice");
    // The menu holds the terminal in raw mode: no echo, no line editing.
    terminal.interrupt_program();
    terminal.expect("Cancelled, nothing was changed.");
    terminal.expect("EXIT=130");
    assert!(terminal.cursor_visible(), "{}", terminal.screen());
    // The shell reads a line now: what is typed is echoed, as before the tool started.
    terminal.keys(&["-l", "echoed again"]);
    terminal.expect("echoed again");
    assert_eq!(everything(&test, dir.path()), before);
}

#[tokio::test]
async fn ctrl_c_while_the_tool_works_ends_it_with_130_and_one_sentence() {
    let test = TestDb::new().await.expect("test db");
    let dir = tempfile::tempdir().expect("dir");
    admin_json(&test, dir.path(), &["migrate"]);
    // A Bot API that accepts the connection and never answers: `webhook info` waits on it.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    silent.set_nonblocking(true).expect("nonblocking");
    std::fs::write(
        dir.path().join("telegram.toml"),
        format!(
            "[telegram]\ntoken = \"123:abc\"\napi_url = \"http://{}\"\n",
            silent.local_addr().expect("address")
        ),
    )
    .expect("write");
    let terminal = Terminal::start(&test, dir.path(), "webhook info --config telegram.toml");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let _waiting = loop {
        match silent.accept() {
            Ok((connection, _)) => break connection,
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the tool never called the Bot API; the screen:\n{}",
                    terminal.screen()
                );
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(error) => panic!("accept: {error}"),
        }
    };
    terminal.keys(&["C-c"]);
    terminal.expect("Interrupted: a change already reported as made stays");
    terminal.expect("EXIT=130");
    assert!(terminal.cursor_visible(), "{}", terminal.screen());
}
