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

#[test]
fn the_demo_store_is_fresh_each_time() {
    let dir = tempfile::tempdir().expect("dir");
    chat(dir.path(), &["/start", "1", "1", "4", "3", "/cart"]);
    let again = chat(dir.path(), &["/start"]);
    // The shopper registered in the first run is unknown to the new demo store.
    assert!(again.contains("How old are you?"), "{again}");
}
