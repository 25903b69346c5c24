use std::time::Duration;

use crate::http::Limits;

// ANCHOR: server_config
/// Limits and timeouts for the server. The defaults are safe on a public
/// port; tests shorten the timeouts.
///
/// The type is `#[non_exhaustive]`: start from [`ServerConfig::default`]
/// and change what you need with the `with_*` setters, so your code keeps
/// compiling when a limit is added.
///
/// ```
/// use std::time::Duration;
/// use realtime_events::server::ServerConfig;
/// let config = ServerConfig::default()
///     .with_write_timeout(Duration::from_secs(5))
///     .with_max_connections(1_000);
/// assert_eq!(config.max_connections, 1_000);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Size limits for heads and bodies.
    pub limits: Limits,
    /// Time for a whole request head to arrive, from its first byte (and
    /// for that first byte to arrive on a new connection, a TLS handshake
    /// included). Past it: 408 and close (a stalled TLS handshake is just
    /// closed). This is what stops a slowloris client holding a
    /// connection open with one header byte every few seconds.
    pub header_read_timeout: Duration,
    /// Time for a whole request body to arrive, from the end of its head.
    /// A total, not a silence between reads: a body dripped one byte at a
    /// time still ends here, with 408 and close. 30 s lets a 1 MiB body
    /// (the default body limit) through at 35 KB/s.
    pub body_timeout: Duration,
    /// Time for one whole response to be written: the head and body of an
    /// answer, a `100 Continue`, a refusal, the head before a takeover.
    /// Past it the connection is dropped, so a client that never reads
    /// cannot pin the response in memory.
    pub write_timeout: Duration,
    /// How long a kept-alive connection may sit idle between requests.
    pub idle_timeout: Duration,
    /// How long shutdown waits for open connections before aborting them.
    pub shutdown_grace: Duration,
    /// Connections served at once, upgraded ones included. A connection
    /// past the cap is answered `503` with `Retry-After` and closed,
    /// without reading its request; the others are not disturbed.
    pub max_connections: usize,
    /// The listen backlog: connections the kernel completes and queues
    /// before we accept them. 128 (what `std` asks for) overflows in a
    /// burst of thousands of clients, and each overflow costs a client a
    /// one-second SYN retry. Linux caps it at `net.core.somaxconn`.
    pub backlog: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            limits: Limits::default(),
            header_read_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(15),
            idle_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(5),
            // An idle connection costs a few KB here and two socket buffers
            // in the kernel; 10,000 stays within a small VM's memory and
            // under a typical `ulimit -n` raised for a server.
            max_connections: 10_000,
            backlog: 1024,
        }
    }
}
// ANCHOR_END: server_config

/// Chained setters, one per field.
impl ServerConfig {
    /// Sets [`ServerConfig::limits`].
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets [`ServerConfig::header_read_timeout`].
    pub fn with_header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// Sets [`ServerConfig::body_timeout`].
    pub fn with_body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// Sets [`ServerConfig::write_timeout`].
    pub fn with_write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout;
        self
    }

    /// Sets [`ServerConfig::idle_timeout`].
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Sets [`ServerConfig::shutdown_grace`].
    pub fn with_shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// Sets [`ServerConfig::max_connections`].
    pub fn with_max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// Sets [`ServerConfig::backlog`].
    pub fn with_backlog(mut self, backlog: u32) -> Self {
        self.backlog = backlog;
        self
    }
}
