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
pub use response::{Body, Io, Response, TakeoverFn, Upgraded};
pub use router::{BoxFuture, Handler, Router};
pub use shutdown::Shutdown;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::task::JoinSet;

/// A bound listener with its router and configuration.
pub struct Server {
    listener: TcpListener,
    router: Arc<Router>,
    config: Arc<ServerConfig>,
}

impl Server {
    /// Binds `addr` (port 0 picks a free port; see [`Server::local_addr`]).
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub async fn bind(
        addr: impl ToSocketAddrs,
        router: Router,
        config: ServerConfig,
    ) -> std::io::Result<Server> {
        Ok(Server {
            listener: TcpListener::bind(addr).await?,
            router: Arc::new(router),
            config: Arc::new(config),
        })
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
    pub async fn serve(self, shutdown: Shutdown) {
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let _ = stream.set_nodelay(true);
                        connections.spawn(serve_connection(
                            stream,
                            Some(peer),
                            self.router.clone(),
                            self.config.clone(),
                            shutdown.clone(),
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
