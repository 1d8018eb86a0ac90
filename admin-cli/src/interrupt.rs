//! Ctrl-C. dialoguer hides the cursor while a menu is on screen and reads keys in raw mode,
//! where Ctrl-C arrives as a key: the terminal library raises SIGINT and the prompt returns an
//! `Interrupted` error. Left alone, the signal kills the process with the cursor still hidden
//! and no word said. Here both roads end the same way: the cursor is shown again, one sentence
//! goes to standard error, and the tool exits with 130 (the shell's code for SIGINT).
//!
//! A signal sent from elsewhere (`kill -INT`) can arrive while a prompt holds the terminal in
//! raw mode; the terminal's settings read at start are put back before exiting, so the shell
//! gets its echo and line editing back.
//!
//! Why exiting at once is safe: a wizard writes only after its last question (each command's
//! save is one transaction, after `prompt`'s final confirmation), so Ctrl-C at a prompt changes
//! nothing. Outside a prompt the tool may be writing; a transaction that has not committed is
//! rolled back by the database when the connection goes (SQLite's journal, PostgreSQL's closed
//! session), so what was reported as done stays and nothing is left half written. This module
//! never writes to the database and never waits for it.

use std::io::Write;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

/// The exit code of a command ended by Ctrl-C (128 + SIGINT, as shells report it).
pub const EXIT_CODE: i32 = 130;

/// What Ctrl-C at a prompt says.
pub const CANCELLED: &str = "Cancelled, nothing was changed.";

/// What Ctrl-C while the tool is working says: it can't know whether the write under way had
/// committed, only that the database keeps a transaction whole or not at all.
pub const INTERRUPTED: &str =
    "Interrupted: a change already reported as made stays; one still being written was not made.";

/// Whether a prompt is on screen: set for the time of each dialoguer call.
static ASKING: AtomicBool = AtomicBool::new(false);
/// Whether refusals are JSON (`--json`), so a script reads the cancellation as one.
static JSON: AtomicBool = AtomicBool::new(false);
/// The signal's task and the prompt's error can both arrive: only the first one speaks.
static ENDING: Once = Once::new();
/// The terminal's settings before any prompt, when standard input is a terminal.
#[cfg(unix)]
static TERMINAL: std::sync::OnceLock<rustix::termios::Termios> = std::sync::OnceLock::new();

/// Installs the SIGINT handler on `runtime` (its own task, so it runs while the main thread
/// waits for a key). If it can't be installed, Ctrl-C keeps its default: the process ends, and
/// the database rolls back what was not committed.
pub fn install(runtime: &tokio::runtime::Runtime, json: bool) {
    JSON.store(json, Ordering::Relaxed);
    #[cfg(unix)]
    if let Ok(settings) = rustix::termios::tcgetattr(std::io::stdin()) {
        let _ = TERMINAL.set(settings);
    }
    // The handler is registered here, before any prompt, not when the task first runs.
    let _entered = runtime.enter();
    #[cfg(unix)]
    let signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt());
    #[cfg(not(unix))]
    let signal = tokio::signal::windows::ctrl_c();
    if let Ok(mut signal) = signal {
        runtime.spawn(async move {
            if signal.recv().await.is_some() {
                let asking = ASKING.load(Ordering::SeqCst);
                end(if asking { CANCELLED } else { INTERRUPTED });
            }
        });
    }
}

/// Marks a prompt as on screen until the guard is dropped.
pub fn asking() -> Asking {
    ASKING.store(true, Ordering::SeqCst);
    Asking(())
}

/// While alive, Ctrl-C means "cancel the wizard".
pub struct Asking(());

impl Drop for Asking {
    fn drop(&mut self) {
        ASKING.store(false, Ordering::SeqCst);
    }
}

/// A prompt reported Ctrl-C: cancel the command.
pub fn cancelled() -> ! {
    end(CANCELLED)
}

/// Shows the cursor, says `sentence` (as a refusal object under `--json`) and exits with
/// [`EXIT_CODE`]. A second caller (the signal and the prompt's error both arriving) waits here
/// until the first has ended the process.
fn end(sentence: &str) -> ! {
    ENDING.call_once(|| {
        // Only a prompt changes the terminal's mode, and only then is the tool sure to be in the
        // foreground: a background job setting them would be stopped (SIGTTOU), not ended.
        #[cfg(unix)]
        if ASKING.load(Ordering::SeqCst)
            && let Some(settings) = TERMINAL.get()
        {
            let _ = rustix::termios::tcsetattr(
                std::io::stdin(),
                rustix::termios::OptionalActions::Now,
                settings,
            );
        }
        let _ = dialoguer::console::Term::stderr().show_cursor();
        let line = if JSON.load(Ordering::Relaxed) {
            serde_json::json!({ "error": {
                "code": "cancelled",
                "message": sentence,
                "problems": [],
            } })
            .to_string()
        } else {
            sentence.to_owned()
        };
        let mut stderr = std::io::stderr().lock();
        // The prompt's line is left as dialoguer drew it: the sentence starts on its own.
        let _ = writeln!(stderr);
        let _ = writeln!(stderr, "{line}");
        let _ = stderr.flush();
        std::process::exit(EXIT_CODE);
    });
    // Only reached by a second caller while the first is exiting.
    loop {
        std::thread::park();
    }
}
