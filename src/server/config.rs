use std::time::Duration;

use crate::http::Limits;

// ANCHOR: server_config
/// Limits and timeouts for the server. The defaults are safe on a public
/// port; tests shorten the timeouts.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Size limits for heads and bodies.
    pub limits: Limits,
    /// Time for a whole request head to arrive, from the connection's
    /// start or from the first byte of a later request. Past it: 408 and
    /// close. This is what stops a slowloris client holding a connection
    /// open with one header byte every few seconds.
    pub header_read_timeout: Duration,
    /// Longest silence allowed between two reads of a body.
    pub body_read_timeout: Duration,
    /// How long a kept-alive connection may sit idle between requests.
    pub idle_timeout: Duration,
    /// How long shutdown waits for open connections before aborting them.
    pub shutdown_grace: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            limits: Limits::default(),
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}
// ANCHOR_END: server_config
