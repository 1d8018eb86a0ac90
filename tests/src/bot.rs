//! Starting the bot for end-to-end tests and benchmarks: in-process (`storebot::telegram::serve`
//! with any [`Dialogue`], or `storebot::run` with the real one) or as the real `storebot`
//! binary, always against a [`FakeTelegram`]. Also a scripted dialogue, and a bare HTTP/1.1
//! client for webhook mode. Nothing here sleeps to synchronise: callers wait on the fake.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use storebot::Settings;
use storebot::conversation::{Input, Outcome, Reply, TelegramUser};
use storebot::telegram::Dialogue;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::fake_telegram::{FakeTelegram, TEST_TOKEN, TestUser};

/// Settings that point the bot at `fake`, plus `extra` (`STOREBOT_*` name, value) pairs.
pub fn settings(fake: &FakeTelegram, extra: &[(&str, &str)]) -> anyhow::Result<Settings> {
    let mut env = vec![
        ("STOREBOT_TELEGRAM__TOKEN".to_owned(), TEST_TOKEN.to_owned()),
        ("STOREBOT_TELEGRAM__API_URL".to_owned(), fake.url()),
    ];
    env.extend(
        extra
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned())),
    );
    Ok(Settings::load_from(None, env)?)
}

/// A bot running in this process until [`RunningBot::stop`].
pub struct RunningBot {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl RunningBot {
    /// Signals shutdown (as SIGTERM does) and waits for the bot to return.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.context("the bot task failed")?
    }

    /// Waits for the bot to return on its own (a start-up error, say).
    pub async fn finished(mut self) -> anyhow::Result<()> {
        (&mut self.task).await.context("the bot task failed")?
    }
}

impl Drop for RunningBot {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RunningBot {
    /// A bot started some other way (a benchmark's own bot): `stop` asks it to stop, `task`
    /// is its run.
    pub fn from_parts(stop: oneshot::Sender<()>, task: JoinHandle<anyhow::Result<()>>) -> Self {
        Self {
            stop: Some(stop),
            task,
        }
    }
}

fn spawn_with<F>(start: impl FnOnce(oneshot::Receiver<()>) -> F) -> RunningBot
where
    F: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(start(stopped));
    RunningBot {
        stop: Some(stop),
        task,
    }
}

/// Runs `storebot::telegram::serve` with `dialogue`.
pub fn spawn_bot<D: Dialogue>(settings: Settings, dialogue: D) -> RunningBot {
    spawn_with(move |stopped| {
        storebot::telegram::serve(Arc::new(settings), dialogue, async move {
            let _ = stopped.await;
        })
    })
}

/// Runs `storebot::run`: the real dialogue and the jobs, on `db`.
pub fn spawn_run(settings: Settings, db: sea_orm::DatabaseConnection) -> RunningBot {
    spawn_with(move |stopped| {
        storebot::run(settings, db, async move {
            let _ = stopped.await;
        })
    })
}

/// What a [`Scripted`] dialogue was told, in order.
#[derive(Clone, Default)]
pub struct Heard(Arc<Mutex<Vec<(TelegramUser, Input)>>>);

impl Heard {
    pub fn all(&self) -> Vec<(TelegramUser, Input)> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn inputs(&self) -> Vec<Input> {
        self.all().into_iter().map(|(_, input)| input).collect()
    }
}

/// A dialogue whose answers a test writes as a function of the sender and the input.
pub struct Scripted<F> {
    respond: F,
    heard: Heard,
}

impl<F> Scripted<F>
where
    F: Fn(&TelegramUser, &Input) -> Outcome + Send + Sync + 'static,
{
    /// The dialogue, and the record of what it is told.
    pub fn new(respond: F) -> (Self, Heard) {
        let heard = Heard::default();
        (
            Self {
                respond,
                heard: heard.clone(),
            },
            heard,
        )
    }
}

impl<F> Dialogue for Scripted<F>
where
    F: Fn(&TelegramUser, &Input) -> Outcome + Send + Sync + 'static,
{
    async fn handle(&self, sender: &TelegramUser, input: Input, _now: DateTime<Utc>) -> Outcome {
        let outcome = (self.respond)(sender, &input);
        self.heard
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((sender.clone(), input));
        outcome
    }

    async fn ready(&self) -> bool {
        true
    }
}

/// A plain reply with no keyboard.
pub fn text(text: &str) -> Reply {
    Reply {
        text: text.to_owned(),
        markup: storebot::conversation::Markup::None,
        edit: false,
        photo: None,
    }
}

/// An outcome of plain replies.
pub fn say(texts: &[&str]) -> Outcome {
    Outcome {
        replies: texts.iter().map(|line| text(line)).collect(),
        ..Outcome::default()
    }
}

/// A Bot API update carrying a text message from `user` in their private chat, as Telegram
/// would post it to a webhook.
pub fn message_update(update_id: i64, message_id: i64, user: &TestUser, text: &str) -> Value {
    json!({
        "update_id": update_id,
        "message": {
            "message_id": message_id,
            "from": user.to_json(),
            "chat": user.chat_json(),
            "date": Utc::now().timestamp(),
            "text": text,
        }
    })
}

/// A loopback address that was free a moment ago, for a webhook server to listen on.
pub fn free_local_addr() -> anyhow::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}

/// One HTTP/1.1 request over a fresh connection; returns the status and the body. Retries the
/// connection until `connect_within` has passed, because a server just started may not be
/// listening yet.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> anyhow::Result<(u16, String)> {
    let mut stream = connect(addr, Duration::from_secs(10)).await?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await?;
    // A server refusing an oversized body may answer before reading it and close.
    let _ = stream.write_all(body.as_bytes()).await;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let response = String::from_utf8_lossy(&response);
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| anyhow!("not an HTTP response: {response:?}"))?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

async fn connect(addr: SocketAddr, within: Duration) -> anyhow::Result<tokio::net::TcpStream> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::net::TcpStream::connect(addr).await {
            Ok(stream) => return Ok(stream),
            Err(error) if tokio::time::Instant::now() >= deadline => {
                return Err(error).with_context(|| format!("connecting to {addr}"));
            }
            // Waiting for a server to come up, not for a result: there is nothing to await.
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// The real `storebot` binary, running. Its standard error is read in the background as it
/// comes, so a bot logging at debug level never stalls on a full pipe.
pub struct BotProcess {
    child: tokio::process::Child,
    stderr: Arc<StderrLog>,
    reader: JoinHandle<()>,
    /// How many lines [`BotProcess::wait_for_log`] has looked at already.
    seen: usize,
}

/// Standard error so far, and a wake-up for each new line and for its end.
#[derive(Default)]
struct StderrLog {
    lines: Mutex<Vec<String>>,
    closed: std::sync::atomic::AtomicBool,
    grew: tokio::sync::Notify,
}

impl StderrLog {
    fn lines(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.lines.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn is_closed(&self) -> bool {
        self.closed.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl BotProcess {
    /// Starts `storebot run` in `cwd` with a clean environment plus `env`.
    pub fn start(cwd: &Path, env: &[(&str, &str)]) -> anyhow::Result<Self> {
        let mut command = tokio::process::Command::from(crate::command("storebot", cwd));
        command
            .arg("run")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().context("starting storebot")?;
        let stderr = child
            .stderr
            .take()
            .ok_or_else(|| anyhow!("no standard error"))?;
        let log = Arc::new(StderrLog::default());
        let reader = tokio::spawn({
            let log = Arc::clone(&log);
            async move {
                let mut lines = BufReader::new(stderr).lines();
                // A read error ends the log like the end of the stream does.
                while let Ok(Some(line)) = lines.next_line().await {
                    log.lines().push(line);
                    log.grew.notify_waiters();
                }
                log.closed.store(true, std::sync::atomic::Ordering::SeqCst);
                log.grew.notify_waiters();
            }
        });
        Ok(Self {
            child,
            stderr: log,
            reader,
            seen: 0,
        })
    }

    /// Standard error so far.
    pub fn log(&self) -> Vec<String> {
        self.stderr.lines().clone()
    }

    /// Waits until a line after those already looked at contains `needle`.
    pub async fn wait_for_log(&mut self, needle: &str, within: Duration) -> anyhow::Result<()> {
        let log = Arc::clone(&self.stderr);
        let seen = &mut self.seen;
        let read = async {
            loop {
                // Registered before looking, so a line pushed in between still wakes it.
                let grew = log.grew.notified();
                {
                    let lines = log.lines();
                    if let Some(at) = lines[*seen..].iter().position(|l| l.contains(needle)) {
                        *seen += at + 1;
                        return Ok(());
                    }
                    *seen = lines.len();
                    if log.is_closed() {
                        bail!("storebot exited before logging {needle:?}: {:#?}", *lines)
                    }
                }
                grew.await;
            }
        };
        tokio::time::timeout(within, read)
            .await
            .map_err(|_| anyhow!("storebot did not log {needle:?} in {within:?}"))?
    }

    /// Sends SIGTERM, as a service manager does, and returns the exit status and the rest of
    /// standard error.
    pub async fn terminate(self) -> anyhow::Result<(std::process::ExitStatus, Vec<String>)> {
        let pid = self
            .child
            .id()
            .ok_or_else(|| anyhow!("storebot already exited"))?;
        let killed = tokio::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await?;
        if !killed.success() {
            bail!("kill -TERM {pid} failed");
        }
        self.finish().await
    }

    /// Kills the process with SIGKILL (`kill -9`): no shutdown, no cleanup, as a crash or an
    /// out-of-memory kill ends it. Returns standard error so far.
    pub async fn kill_9(mut self) -> anyhow::Result<Vec<String>> {
        self.child.kill().await.context("kill -9 storebot")?;
        self.finish().await.map(|(_, log)| log)
    }

    /// Waits for the process to exit on its own: at most 60 seconds, after which it is killed
    /// and the wait fails with its log, so a bot that does not stop fails the test instead of
    /// hanging the suite.
    pub async fn finish(mut self) -> anyhow::Result<(std::process::ExitStatus, Vec<String>)> {
        let exited = tokio::time::timeout(Duration::from_secs(60), async {
            let status = self.child.wait().await;
            // The rest of standard error, up to its end.
            let _ = (&mut self.reader).await;
            status
        })
        .await;
        match exited {
            Ok(status) => Ok((status?, self.log())),
            Err(_) => {
                let _ = self.child.kill().await;
                bail!("storebot did not exit within 60 s: {:#?}", self.log())
            }
        }
    }
}
