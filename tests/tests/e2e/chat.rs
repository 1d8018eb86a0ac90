//! `storebot chat --demo`: the real binary on a fresh demo store, driven through piped stdin
//! the way a newcomer without a token would type it.

use std::io::Write;
use std::process::Stdio;

use storebot_tests::{command, stderr, stdout};

/// Runs `storebot chat --demo` in `dir` with `lines` as its input, returning standard output.
fn chat(dir: &std::path::Path, lines: &[&str]) -> String {
    let mut child = command("storebot", dir)
        .args(["chat", "--demo"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    {
        let mut stdin = child.stdin.take().expect("stdin");
        for line in lines {
            writeln!(stdin, "{line}").expect("write");
        }
        // Dropping stdin ends the input: the chat must stop by itself.
    }
    let output = child.wait_with_output().expect("finishes");
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!stderr(&output).contains("panicked"), "{}", stderr(&output));
    stdout(&output)
}

#[test]
fn a_newcomer_registers_browses_and_orders_in_the_demo_store() {
    let dir = tempfile::tempdir().expect("dir");
    let transcript = chat(
        dir.path(),
        &[
            "/start",
            "1", // 18–25
            "2", // Coffee
            "4", // Done
            "3", // Skip the optional diet question
            "1", // Catalog
            "1", // Tea
            "1", // Green tea
            "1", // 100 g
            "2", // quantity 2
            "1", // Cart
            "4", // Checkout (after −, +, Remove)
            "+49 30 1234567",
            "Main street 1, Berlin",
            "1", // Confirm order
            "/orders",
            "/quit",
            "this line is never read",
        ],
    );
    for expected in [
        "Welcome to storebot demo store!",
        "How old are you?",
        "  [1] 18–25",
        "[2] ✓ Coffee",
        "you're all set",
        "Main menu",
        "  [1] Tea (2)\n  [2] Coffee (1)\n",
        "Added 2 × Green tea, 100 g to your cart.",
        "Green tea, 100 g: 2 × 4.50 EUR = 9.00 EUR",
        "(Share my phone number: type your number here)",
        "Please check your order:",
        "Address: Main street 1, Berlin",
        "is placed",
        "· new · 9.00 EUR",
    ] {
        assert!(
            transcript.contains(expected),
            "expected {expected:?} in:\n{transcript}"
        );
    }
    assert!(!transcript.contains("never read"));
    assert!(dir.path().join("storebot-demo.db").exists());
}

/// With payments in the chat configured, the terminal chat places the order awaiting payment
/// and says it can't pay; the order can be cancelled from Orders.
#[test]
fn the_terminal_chat_cannot_pay_and_leaves_the_order_awaiting_payment() {
    let dir = tempfile::tempdir().expect("dir");
    let mut child = command("storebot", dir.path())
        .args(["chat", "--demo"])
        .env("STOREBOT_PAYMENTS__PROVIDER", "stars")
        .env("STOREBOT_PAYMENTS__STARS_PER_UNIT", "50")
        .env("STOREBOT_CHECKOUT__ASK_CONTACT", "false")
        .env("STOREBOT_CHECKOUT__ASK_ADDRESS", "false")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    {
        let mut stdin = child.stdin.take().expect("stdin");
        for line in [
            "/start", "1", "2", "4", "3", // registered
            "1", "1", "1", "1", "2", // 2 × Green tea, 100 g
            "1", "4", // Cart, Checkout
            "1", // Confirm order
            "/orders", "2", // Cancel the unpaid order (after "Order again")
        ] {
            writeln!(stdin, "{line}").expect("write");
        }
    }
    let output = child.wait_with_output().expect("finishes");
    assert!(output.status.success(), "{}", stderr(&output));
    let transcript = stdout(&output);
    for expected in [
        "is reserved for you until",
        "The terminal chat can't pay",
        "450 ⭐",
        "· awaiting_payment ·",
        "is cancelled; nothing was charged",
    ] {
        assert!(
            transcript.contains(expected),
            "expected {expected:?} in:\n{transcript}"
        );
    }
}

#[test]
fn the_demo_store_is_fresh_each_time() {
    let dir = tempfile::tempdir().expect("dir");
    chat(dir.path(), &["/start", "1", "1", "4", "3", "/cart"]);
    let again = chat(dir.path(), &["/start"]);
    // The shopper registered in the first run is unknown to the new demo store.
    assert!(again.contains("How old are you?"), "{again}");
}

/// `storebot chat` on the configured database (SQLite or PostgreSQL, as the suite runs): the
/// terminal shopper sees what their segments allow and their order lands in that database.
#[test]
fn the_chat_runs_on_the_configured_database() {
    use sea_orm::{EntityTrait, PaginatorTrait};
    use storebot::testing::TestDb;

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let test = runtime.block_on(TestDb::new()).expect("test db");
    let demo = runtime
        .block_on(storebot::store::operations::demo::seed(
            &test.db,
            chrono::Utc::now(),
        ))
        .expect("demo");
    let dir = tempfile::tempdir().expect("dir");
    let mut child = command("storebot", dir.path())
        .arg("chat")
        .env("STOREBOT_DATABASE__URL", test.url())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    {
        let mut stdin = child.stdin.take().expect("stdin");
        for line in [
            "/start".to_owned(),
            "3".into(), // 41+
            "1".into(), // Tea
            "4".into(), // Done
            "1".into(), // Vegan
            format!("/start p_{}", demo.members_blend),
            format!("/start p_{}", demo.oolong),
            "1".into(), // 100 g
            "1".into(), // quantity 1
            "1".into(), // Cart
            "4".into(), // Checkout
            "+1 202 555 0100".into(),
            "1600 Pennsylvania Ave, Washington".into(),
            "1".into(), // Confirm order
        ] {
            writeln!(stdin, "{line}").expect("write");
        }
    }
    let output = child.wait_with_output().expect("finishes");
    let transcript = stdout(&output);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        transcript.contains("Sorry, that product is not available."),
        "{transcript}"
    );
    assert!(!transcript.contains("Reserve lot"), "{transcript}");
    assert!(transcript.contains("is placed"), "{transcript}");
    let orders = runtime
        .block_on(storebot_entity::order::Entity::find().count(&test.db))
        .expect("count");
    assert_eq!(orders, 3 + 1);
}

#[test]
fn a_nul_typed_in_the_terminal_is_dropped_like_on_telegram() {
    let dir = tempfile::tempdir().expect("dir");
    let transcript = chat(
        dir.path(),
        &[
            "/start",
            "1", // 18–25
            "2", // Coffee
            "4", // Done
            "3", // Skip the optional diet question
            "sen\u{0}cha",
            "/quit",
        ],
    );
    assert!(transcript.contains("Found for “sencha”"), "{transcript}");
    assert!(!transcript.contains('\u{0}'), "{transcript}");
}

#[test]
fn a_typed_number_on_the_quantity_screen_means_that_quantity_and_notices_print_once() {
    let dir = tempfile::tempdir().expect("dir");
    let transcript = chat(
        dir.path(),
        &[
            "/start", "1", // 18–25
            "1", // Tea
            "4", // Done
            "3", // Skip
            "1", // Catalog
            "1", // Tea
            "1", // Green tea
            "1", // 100 g
            "5", // the label "5", not the fifth button (10)
            "/quit",
        ],
    );
    assert!(
        transcript.contains("[a] 1  [b] 2  [c] 3  [d] 5  [e] 10"),
        "{transcript}"
    );
    let added = "Added 5 × Green tea, 100 g to your cart.";
    assert_eq!(transcript.matches(added).count(), 1, "{transcript}");
    assert!(!transcript.contains("Added 10"), "{transcript}");
}
