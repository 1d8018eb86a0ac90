//! A real pseudo-terminal for the admin tool's wizards: [`Terminal`] starts its own tmux
//! server (on a private socket) running one `storebot-admin` command in a shell, reads the
//! screen, types keys, and reports what a person would see that text can't show: whether the
//! cursor is visible. The shell prints `EXIT=<code>` when the command ends and keeps the
//! screen open; it survives a Ctrl-C (its trap does nothing), so the code stays readable.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use storebot::testing::TestDb;

/// How long a screen may take to show what a test waits for before the test fails.
const PATIENCE: Duration = Duration::from_secs(60);

/// One tmux server with one window running a storebot-admin command.
pub struct Terminal {
    socket: String,
}

static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

impl Terminal {
    /// Runs `storebot-admin ARGS` (a shell command line's words) in `dir` on the test
    /// database, in a 160×50 terminal.
    pub fn start(test: &TestDb, dir: &Path, args: &str) -> Self {
        let socket = format!(
            "storebot-admin-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        // The shell prints the exit code and then waits, so the screen stays readable.
        let script = format!(
            "trap true INT; {} {args}; echo EXIT=$?; read keep_open",
            crate::binary("storebot-admin").display()
        );
        let mut tmux = Command::new("tmux");
        for (key, _) in std::env::vars() {
            if key.starts_with("STOREBOT_") {
                tmux.env_remove(key);
            }
        }
        let status = tmux
            .current_dir(dir)
            .env("STOREBOT_DATABASE__URL", test.url())
            .args([
                "-L",
                &socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                "160",
                "-y",
                "50",
            ])
            .args(["sh", "-c", &script])
            .status()
            .unwrap_or_else(|error| panic!("tmux does not run: {error}"));
        assert!(status.success(), "tmux could not start");
        Self { socket }
    }

    fn tmux(&self, args: &[&str]) -> String {
        let output = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .unwrap_or_else(|error| panic!("tmux {args:?} does not run: {error}"));
        assert!(output.status.success(), "tmux {args:?} failed");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-J"])
    }

    /// Waits until `text` is on the screen. Polls the screen's content (the condition itself),
    /// with a generous cap so that a broken wizard fails the test instead of hanging it.
    pub fn expect(&self, text: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "`{text}` never appeared; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends tmux key names (`Enter`, `Down`, `Space`, `C-c`) or literal text.
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    pub fn type_line(&self, text: &str) {
        self.tmux(&["send-keys", "-l", text]);
        self.keys(&["Enter"]);
    }

    /// Whether the terminal shows its cursor now (a program may hide it while it draws a menu).
    pub fn cursor_visible(&self) -> bool {
        self.tmux(&["display", "-p", "#{cursor_flag}"]).trim() == "1"
    }

    /// The process id of the running storebot-admin (the shell's one child).
    pub fn program_pid(&self) -> String {
        let shell = self.tmux(&["display", "-p", "#{pane_pid}"]);
        let output = Command::new("pgrep")
            .args(["-P", shell.trim()])
            .output()
            .unwrap_or_else(|error| panic!("pgrep does not run: {error}"));
        let pid = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        assert!(
            !pid.is_empty() && !pid.contains('\n'),
            "expected one program under the shell, found {pid:?}"
        );
        pid
    }

    /// Sends SIGINT to the program from outside, as `kill -INT` would.
    pub fn interrupt_program(&self) {
        let status = Command::new("kill")
            .args(["-INT", &self.program_pid()])
            .status()
            .unwrap_or_else(|error| panic!("kill does not run: {error}"));
        assert!(status.success(), "kill -INT failed");
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}
