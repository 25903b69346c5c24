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
//!
//! TLS is an [`Acceptor`]: [`Server::with_tls`] serves https and wss on the
//! same listener, and [`Server::serve_with`] takes any other acceptor.

mod accept;
mod config;
mod conn;
mod request;
mod response;
mod router;
mod shutdown;

pub use accept::{Acceptor, PlainTcp};
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
use tokio::time::Instant;

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
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::TlsAcceptor>,
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
                        #[cfg(feature = "tls")]
                        tls: None,
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

    /// Serves https and wss instead of http and ws, on the same listener,
    /// with this rustls configuration (see
    /// [`tls::server_config_from_pem_files`](crate::tls::server_config_from_pem_files)).
    /// [`serve`](Self::serve) then runs every connection through a
    /// [`TlsAcceptor`](crate::tls::TlsAcceptor).
    #[cfg(feature = "tls")]
    #[must_use]
    pub fn with_tls(mut self, config: Arc<rustls::ServerConfig>) -> Server {
        self.tls = Some(crate::tls::TlsAcceptor::new(config));
        self
    }

    /// Whether [`with_tls`](Self::with_tls) was called: the scheme to
    /// print is then `https`.
    pub fn is_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.tls.is_some();
        #[cfg(not(feature = "tls"))]
        return false;
    }

    /// Serves connections, each in its own task, until `shutdown` is
    /// triggered: plain TCP, or TLS after [`with_tls`](Self::with_tls).
    /// See [`serve_with`](Self::serve_with).
    pub async fn serve(self, shutdown: Shutdown) {
        #[cfg(feature = "tls")]
        if let Some(tls) = self.tls.clone() {
            return self.serve_with(tls, shutdown).await;
        }
        self.serve_with(PlainTcp, shutdown).await;
    }

    // ANCHOR: serve
    /// Serves connections, each in its own task, turning each accepted TCP
    /// stream into the stream to serve with `acceptor` (TLS, or anything
    /// else), until `shutdown` is triggered. Then it stops accepting (the
    /// listener is dropped, so new connections are refused), lets open
    /// connections finish — idle ones close, WebSockets get a 1001 close,
    /// SSE streams end at an event boundary — and returns once all are
    /// done or the grace period ends.
    ///
    /// The acceptor's work (a TLS handshake) counts against the header-read
    /// timeout, like the request head after it: a client that stalls the
    /// handshake is a slowloris too. Its failures are logged at debug level
    /// and end only that connection.
    ///
    /// At most [`ServerConfig::max_connections`] are served at once; one
    /// more is answered `503 Service Unavailable` with `Retry-After` and
    /// closed, without its request being read.
    pub async fn serve_with<A: Acceptor>(self, acceptor: A, shutdown: Shutdown) {
        let acceptor = Arc::new(acceptor);
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
                                let refusal = refuse_over_cap(
                                    acceptor.clone(), stream, self.config.clone(), permit,
                                );
                                tokio::spawn(refusal);
                            }
                            continue;
                        };
                        // Spawned as it is, not inside an `async` block: one
                        // that awaits a captured future holds it twice.
                        connections.spawn(accept_and_serve(
                            acceptor.clone(),
                            stream,
                            peer,
                            self.router.clone(),
                            self.config.clone(),
                            shutdown.clone(),
                            slot,
                        ));
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

// ANCHOR: accept_and_serve
/// One connection: the acceptor's work, then [`serve_connection`], both
/// within one header-read deadline that starts at the TCP accept. The two
/// are boxed, so an upgraded connection's task keeps only its handler (see
/// `conn::Handover`). `slot`, its place under the connection cap, is given
/// back when it ends.
async fn accept_and_serve<A: Acceptor>(
    acceptor: Arc<A>,
    tcp: TcpStream,
    peer: SocketAddr,
    router: Arc<Router>,
    config: Arc<ServerConfig>,
    shutdown: Shutdown,
    slot: tokio::sync::OwnedSemaphorePermit,
) {
    let until_handover = Box::pin(async move {
        let deadline = Instant::now() + config.header_read_timeout;
        let accepting = tokio::time::timeout_at(deadline, acceptor.accept(tcp, config.clone()));
        let stream = tokio::select! {
            accepted = accepting => match accepted {
                Ok(Ok(stream)) => stream,
                Ok(Err(err)) => {
                    tracing::debug!(%peer, "handshake failed: {err}");
                    return None;
                }
                Err(_elapsed) => {
                    tracing::debug!(%peer, "handshake too slow");
                    return None;
                }
            },
            () = shutdown.wait() => return None,
        };
        conn::serve_connection_by(stream, Some(peer), router, config, shutdown, deadline).await
    });
    if let Some(handover) = until_handover.await {
        handover.run().await;
    }
    drop(slot);
}
// ANCHOR_END: accept_and_serve

/// Answers `status` with a short text and closes, lingering: for the
/// acceptors' own refusals (plain HTTP on the TLS port).
#[cfg(feature = "tls")]
pub(crate) async fn refuse<S>(
    io: &mut S,
    status: StatusCode,
    why: &'static str,
    config: &ServerConfig,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    conn::refuse(io, status, why, None, config).await;
}

/// Answers a connection over the cap: 503, `Retry-After: 1`, close. Its
/// request is never parsed; the acceptor runs first (a TLS client can
/// only read an answer inside TLS), within the write timeout, and the
/// rest is bounded by the write timeout and the lingering close.
async fn refuse_over_cap<A: Acceptor>(
    acceptor: Arc<A>,
    tcp: TcpStream,
    config: Arc<ServerConfig>,
    _permit: tokio::sync::OwnedSemaphorePermit,
) {
    let accepting = acceptor.accept(tcp, config.clone());
    let Ok(Ok(mut stream)) = tokio::time::timeout(config.write_timeout, accepting).await else {
        return;
    };
    let status = StatusCode::SERVICE_UNAVAILABLE;
    let why = "too many connections, try again";
    conn::refuse(&mut stream, status, why, Some("1"), &config).await;
    tracing::info!("connection over the cap of {}: 503", config.max_connections);
}
