//! One harness for driving the real `storebot-admin` binary through its flags: [`AdminTool`]
//! runs it on a test database (the URL of a `storebot::testing::TestDb`) with a scratch
//! directory as its working directory, and checks the two contracts every command keeps: a
//! success prints what it did on standard output, and a refusal exits non-zero with one
//! sentence on standard error, nothing on standard output, and the store left as it was.
//!
//! A module with more state (a seeded demo, a fake Telegram, its own snapshot of what a
//! refusal must not change) keeps its own fixture and holds an `AdminTool` inside it. The
//! caller keeps the `TestDb` alive for as long as the tool is used: the tool holds only its
//! URL.

use std::fmt::Debug;
use std::path::Path;
use std::process::{Output, Stdio};

use serde_json::Value;

use crate::{command, stderr, stdout};

/// `storebot-admin` on one database, with a scratch directory for the files it reads and
/// writes (removed when the tool is dropped).
pub struct AdminTool {
    url: String,
    dir: tempfile::TempDir,
}

impl AdminTool {
    /// A tool on the database at `url`, with a fresh scratch directory.
    ///
    /// # Panics
    /// When the scratch directory can't be created: a test can't go on without it.
    pub fn new(url: &str) -> Self {
        let dir = tempfile::tempdir()
            .unwrap_or_else(|error| panic!("can't create a scratch directory: {error}"));
        Self {
            url: url.to_owned(),
            dir,
        }
    }

    /// The database URL the tool runs on.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The scratch directory: the tool's working directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs the tool with `args`, whatever the outcome.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, &[])
    }

    /// Runs the tool with `args` and the extra environment variables in `env` (set after the
    /// database URL, so they may override it). Standard input is closed: a command that would
    /// ask a question sees end of input.
    ///
    /// # Panics
    /// When the binary can't be started.
    pub fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = command("storebot-admin", self.dir());
        command.env("STOREBOT_DATABASE__URL", &self.url);
        for (key, value) in env {
            command.env(key, value);
        }
        command
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|error| panic!("storebot-admin {args:?} does not run: {error}"))
    }

    /// Runs a command that must succeed, returning its standard output.
    ///
    /// # Panics
    /// When it fails, showing its standard error and output.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "{args:?} failed: {}{}",
            stderr(&output),
            stdout(&output)
        );
        stdout(&output)
    }

    /// [`Self::ok`] with the extra environment variables in `env`, e.g. `COLUMNS` for a table
    /// as wide as a wide terminal's.
    ///
    /// # Panics
    /// When it fails, showing its standard error and output.
    pub fn ok_with(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let output = self.run_with(args, env);
        assert!(
            output.status.success(),
            "{args:?} failed: {}{}",
            stderr(&output),
            stdout(&output)
        );
        stdout(&output)
    }

    /// Runs a command with `--json` appended that must succeed, and parses what it prints.
    ///
    /// # Panics
    /// When it fails or prints something that is not JSON.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let text = self.ok(&all);
        serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("{all:?} printed no JSON ({error}): {text}"))
    }

    /// Runs a command that must be refused: a non-zero exit, a message on standard error that
    /// contains `expected` and is no panic, nothing on standard output, and `state` (what the
    /// command must not change, read through the tool) equal before and after. Returns the
    /// message, for further checks.
    ///
    /// # Panics
    /// When any of those does not hold.
    pub fn refused<T: PartialEq + Debug>(
        &self,
        args: &[&str],
        expected: &str,
        state: impl Fn(&AdminTool) -> T,
    ) -> String {
        let before = state(self);
        let output = self.run(args);
        assert!(!output.status.success(), "{args:?} succeeded");
        let message = stderr(&output);
        assert!(message.contains(expected), "{args:?}: {message}");
        assert!(!message.contains("panicked"), "{args:?}: {message}");
        assert!(
            stdout(&output).is_empty(),
            "{args:?} printed {}",
            stdout(&output)
        );
        assert_eq!(state(self), before, "{args:?} changed the store");
        message
    }

    /// Writes `text` to the file `name` in the scratch directory, returning its path.
    ///
    /// # Panics
    /// When the file can't be written or its path is not UTF-8.
    pub fn write(&self, name: &str, text: &str) -> String {
        let path = self.dir().join(name);
        std::fs::write(&path, text)
            .unwrap_or_else(|error| panic!("can't write {}: {error}", path.display()));
        path.to_str()
            .unwrap_or_else(|| panic!("{} is not UTF-8", path.display()))
            .to_owned()
    }
}
