//! The tokio shell around the sans-IO HTTP core: accept connections, read
//! heads and bodies under time limits, route requests to handlers, write
//! responses, hand upgraded connections (WebSocket, SSE) to their owners,
//! and shut down gracefully.
//!
//! ```no_run
//! use realtime_events::server::{Response, Router, Server, ServerConfig, Shutdown};
//! # async fn run() -> std::io::Result<()> {
//! let router = Router::new().get("/", |_req| async { Response::text(200, "hello\n") });
//! let server = Server::bind("127.0.0.1:0", router, ServerConfig::default()).await?;
//! println!("listening on http://{}", server.local_addr());
//! let shutdown = Shutdown::new();
//! server.serve(shutdown).await;
//! # Ok(()) }
//! ```

mod config;
mod conn;
mod request;
mod response;
mod router;
mod shutdown;

pub use config::ServerConfig;
pub use conn::serve_connection;
pub use request::Request;
pub use response::{
    encode_takeover_head, takeover_framing, Body, Io, Response, TakeoverFn, Upgraded,
};
pub use router::{BoxFuture, Handler, Router};
pub use shutdown::Shutdown;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpSocket, TcpStream, ToSocketAddrs};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::http::StatusCode;

/// Refusals of connections over the cap that may be in progress at once;
/// past it an extra connection is dropped without an answer. Each one
/// lasts at most the write timeout plus a second of lingering.
const MAX_REFUSING: usize = 256;

/// A bound listener with its router and configuration.
pub struct Server {
    listener: TcpListener,
    router: Arc<Router>,
    config: Arc<ServerConfig>,
}

impl Server {
    /// Binds `addr` (port 0 picks a free port; see [`Server::local_addr`])
    /// with the configured listen backlog. Like `std`, it sets
    /// `SO_REUSEADDR`, so a restarted server can bind while the old
    /// connections linger in TIME_WAIT.
    ///
    /// # Errors
    /// When the address cannot be resolved or bound.
    pub async fn bind(
        addr: impl ToSocketAddrs,
        router: Router,
        config: ServerConfig,
    ) -> std::io::Result<Server> {
        let mut last_err = None;
        for addr in tokio::net::lookup_host(addr).await? {
            match listen(addr, config.backlog) {
                Ok(listener) => {
                    return Ok(Server {
                        listener,
                        router: Arc::new(router),
                        config: Arc::new(config),
                    })
                }
                Err(err) => last_err = Some(err),
            }
        }
        Err(last_err.unwrap_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the address resolved to nothing",
            )
        }))
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound TCP listener has an address")
    }

    // ANCHOR: serve
    /// Serves connections, each in its own task, until `shutdown` is
    /// triggered. Then it stops accepting (the listener is dropped, so new
    /// connections are refused), lets open connections finish — idle ones
    /// close, WebSockets get a 1001 close, SSE streams end at an event
    /// boundary — and returns once all are done or the grace period ends.
    ///
    /// At most [`ServerConfig::max_connections`] are served at once; one
    /// more is answered `503 Service Unavailable` with `Retry-After` and
    /// closed, without its request being read.
    pub async fn serve(self, shutdown: Shutdown) {
        let mut connections = JoinSet::new();
        let slots = Arc::new(Semaphore::new(self.config.max_connections));
        let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
        loop {
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let _ = stream.set_nodelay(true);
                        let Ok(slot) = slots.clone().try_acquire_owned() else {
                            if let Ok(permit) = refusing.clone().try_acquire_owned() {
                                tokio::spawn(refuse_over_cap(stream, self.config.clone(), permit));
                            }
                            continue;
                        };
                        let serving = serve_connection(
                            stream,
                            Some(peer),
                            self.router.clone(),
                            self.config.clone(),
                            shutdown.clone(),
                        );
                        connections.spawn(async move {
                            serving.await;
                            drop(slot);
                        });
                    }
                    // Out of file descriptors and the like: back off
                    // briefly instead of spinning on the error.
                    Err(err) => {
                        tracing::warn!("accept failed: {err}");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                },
                // Reap finished connection tasks so the set stays small.
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                () = shutdown.wait() => break,
            }
        }
        drop(self.listener);
        let drain = async { while connections.join_next().await.is_some() {} };
        if tokio::time::timeout(self.config.shutdown_grace, drain)
            .await
            .is_err()
        {
            tracing::warn!(
                "{} connections still open after the grace period; aborting them",
                connections.len()
            );
            connections.shutdown().await;
        }
    }
    // ANCHOR_END: serve
}

/// A listening socket on `addr` with `backlog`.
fn listen(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

/// Answers a connection over the cap: 503, `Retry-After: 1`, close. Its
/// request is never parsed; the time it takes is bounded by the write
/// timeout and the lingering close.
async fn refuse_over_cap(
    mut stream: TcpStream,
    config: Arc<ServerConfig>,
    _permit: tokio::sync::OwnedSemaphorePermit,
) {
    let status = StatusCode::SERVICE_UNAVAILABLE;
    let why = "too many connections, try again";
    conn::refuse(&mut stream, status, why, Some("1"), &config).await;
    tracing::info!("connection over the cap of {}: 503", config.max_connections);
}
