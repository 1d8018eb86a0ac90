//! A loopback TCP proxy that a test can cut and restore, to play a database server that goes
//! away and comes back: [`TcpProxy::start`] listens on a free port and forwards each
//! connection to `upstream` while it is [`TcpProxy::resume`]d; [`TcpProxy::cut`] closes every
//! forwarded connection and, from then on, closes each new one as soon as it is accepted (what
//! a client sees of a server that is down or restarting).
//!
//! It never sleeps: connections wait on the mode, and the mode is changed by the test.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A running proxy; it stops when dropped.
pub struct TcpProxy {
    addr: SocketAddr,
    forwarding: Arc<watch::Sender<bool>>,
    accepts: JoinHandle<()>,
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        // Closes the forwarded connections too: each ends when the mode sender is gone.
        self.accepts.abort();
    }
}

impl TcpProxy {
    /// Listens on `127.0.0.1` and a free port; forwards to `upstream` when `forwarding`,
    /// else refuses (accepts and closes) until [`TcpProxy::resume`].
    pub async fn start(upstream: SocketAddr, forwarding: bool) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the proxy")?;
        let addr = listener.local_addr()?;
        let (sender, _) = watch::channel(forwarding);
        let forwarding = Arc::new(sender);
        let mode = Arc::clone(&forwarding);
        let accepts = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !*mode.borrow() {
                    drop(client);
                    continue;
                }
                tokio::spawn(forward(client, upstream, mode.subscribe()));
            }
        });
        Ok(Self {
            addr,
            forwarding,
            accepts,
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Closes every forwarded connection and refuses new ones.
    pub fn cut(&self) {
        self.forwarding.send_replace(false);
    }

    /// Forwards new connections again.
    pub fn resume(&self) {
        self.forwarding.send_replace(true);
    }
}

/// Copies bytes both ways until either side closes or the proxy is cut.
async fn forward(mut client: TcpStream, upstream: SocketAddr, mut mode: watch::Receiver<bool>) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = mode.wait_for(|forwarding| !*forwarding) => {}
    }
}

/// `url` with its host and port replaced by `addr`: a database URL that goes through a proxy.
pub fn via(url: &str, addr: SocketAddr) -> anyhow::Result<String> {
    let mut parsed = url::Url::parse(url).context("parsing the database URL")?;
    parsed
        .set_host(Some(&addr.ip().to_string()))
        .map_err(|error| anyhow::anyhow!("setting the host: {error}"))?;
    parsed
        .set_port(Some(addr.port()))
        .map_err(|()| anyhow::anyhow!("setting the port"))?;
    Ok(parsed.to_string())
}

/// The server address of a PostgreSQL URL (host and port, 5432 by default).
pub fn upstream_of(url: &str) -> anyhow::Result<SocketAddr> {
    let parsed = url::Url::parse(url).context("parsing the database URL")?;
    let host = parsed.host_str().unwrap_or("127.0.0.1");
    let host = if host == "localhost" {
        "127.0.0.1"
    } else {
        host
    };
    let port = parsed.port().unwrap_or(5432);
    format!("{host}:{port}")
        .parse()
        .with_context(|| format!("{host}:{port} is not a loopback address the proxy can use"))
}
