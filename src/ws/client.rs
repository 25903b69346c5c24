//! The client side in the tokio shell: open a connection, send the
//! handshake, check the answer, and hand the stream to a [`WebSocket`].

use std::fmt;
use std::io;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::handshake::{ClientHandshakeError, ClientRequest};
use super::protocol::Role;
use super::socket::{Config, WebSocket};
use crate::http::{ParseError, ResponseParser, Status};

/// Settings for [`connect`] and [`client_handshake`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Subprotocols to offer, most preferred first.
    pub protocols: Vec<String>,
    /// An `Origin` to send, for servers that check it.
    pub origin: Option<String>,
    /// Settings for the WebSocket once it is open.
    pub socket: Config,
    /// Time for the TCP connect plus the whole handshake.
    pub handshake_timeout: Duration,
    /// Size limits for the server's response head.
    pub http_limits: crate::http::Limits,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            protocols: Vec::new(),
            origin: None,
            socket: Config::default(),
            handshake_timeout: Duration::from_secs(10),
            http_limits: crate::http::Limits::default(),
        }
    }
}

/// Why a client could not open a WebSocket.
#[derive(Debug)]
pub enum ConnectError {
    /// The URL is not `ws://host[:port][/path]` (we do not speak TLS, so
    /// `wss://` is refused too).
    InvalidUrl(String),
    /// Connecting, writing or reading failed.
    Io(io::Error),
    /// The server closed the connection before its answer was complete.
    Closed,
    /// The answer is not valid HTTP.
    Http(ParseError),
    /// The answer is HTTP but not an acceptable 101.
    Handshake(ClientHandshakeError),
    /// [`ClientConfig::handshake_timeout`] passed.
    Timeout,
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::InvalidUrl(u) => write!(f, "not a ws:// URL: {u:?}"),
            ConnectError::Io(e) => write!(f, "I/O error: {e}"),
            ConnectError::Closed => {
                f.write_str("server closed the connection during the handshake")
            }
            ConnectError::Http(e) => write!(f, "invalid HTTP response: {}", e.message()),
            ConnectError::Handshake(e) => write!(f, "handshake refused: {e}"),
            ConnectError::Timeout => f.write_str("handshake timed out"),
        }
    }
}

impl std::error::Error for ConnectError {}

impl From<io::Error> for ConnectError {
    fn from(e: io::Error) -> Self {
        ConnectError::Io(e)
    }
}

/// A parsed `ws://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsUrl {
    /// The host, as written (a name, an IPv4 address or `[v6]`).
    pub host: String,
    /// The port (80 when the URL has none).
    pub port: u16,
    /// Path and query, at least `/`.
    pub path: String,
}

impl WsUrl {
    /// Parses `ws://host[:port][/path][?query]`.
    ///
    /// # Errors
    /// [`ConnectError::InvalidUrl`] for anything else.
    pub fn parse(url: &str) -> Result<WsUrl, ConnectError> {
        let bad = || ConnectError::InvalidUrl(url.to_string());
        let rest = url.strip_prefix("ws://").ok_or_else(bad)?;
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let path = if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_string()
        };
        // The port follows the last colon, unless that colon is inside [v6].
        let (host, port) = match authority.rfind(':') {
            Some(i) if !authority[i..].contains(']') => {
                let port = authority[i + 1..].parse().map_err(|_| bad())?;
                (&authority[..i], port)
            }
            _ => (authority, 80),
        };
        if host.is_empty() || authority.contains('@') {
            return Err(bad());
        }
        Ok(WsUrl {
            host: host.to_string(),
            port,
            path,
        })
    }

    /// The `Host` header value: the host, and the port unless it is 80.
    pub fn host_header(&self) -> String {
        if self.port == 80 {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

// ANCHOR: connect
/// Opens a WebSocket to `url` (`ws://host:port/path`) over TCP.
///
/// # Errors
/// A [`ConnectError`] saying which step failed.
pub async fn connect(
    url: &str,
    config: &ClientConfig,
) -> Result<WebSocket<TcpStream>, ConnectError> {
    let url = WsUrl::parse(url)?;
    let work = async {
        let host = url.host.trim_start_matches('[').trim_end_matches(']');
        let stream = TcpStream::connect((host, url.port)).await?;
        let _ = stream.set_nodelay(true);
        client_handshake(stream, &url.host_header(), &url.path, config).await
    };
    tokio::time::timeout(config.handshake_timeout, work)
        .await
        .map_err(|_| ConnectError::Timeout)?
}
// ANCHOR_END: connect

// ANCHOR: client_handshake
/// Runs the client's side of the handshake over any stream (TCP, TLS, an
/// in-memory pipe) and returns the open WebSocket.
///
/// Bytes the server sent after its 101 (it may start talking at once) are
/// not lost: they become the start of the WebSocket's input.
///
/// # Errors
/// A [`ConnectError`] saying which step failed.
pub async fn client_handshake<S>(
    mut stream: S,
    host: &str,
    path: &str,
    config: &ClientConfig,
) -> Result<WebSocket<S>, ConnectError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut request = ClientRequest::new(host, path);
    request.protocols.clone_from(&config.protocols);
    request.origin.clone_from(&config.origin);
    request.compression = config.socket.compression;
    let mut out = BytesMut::new();
    request.encode(&mut out);
    stream.write_all(&out).await?;
    stream.flush().await?;

    let mut parser = ResponseParser::new(config.http_limits);
    let mut buf = BytesMut::with_capacity(1024);
    let index = loop {
        if !buf.is_empty() {
            match parser.parse(&buf).map_err(ConnectError::Http)? {
                Status::Complete(index) => break index,
                Status::Partial => {}
            }
        }
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(ConnectError::Closed);
        }
    };
    let negotiated = request
        .verify_negotiated(&index.view_response(&buf))
        .map_err(ConnectError::Handshake)?;
    let leftover = buf.split_off(index.len());
    Ok(
        WebSocket::from_upgraded(stream, Role::Client, config.socket, leftover)
            .with_subprotocol(negotiated.protocol)
            .with_deflate(negotiated.deflate),
    )
}
// ANCHOR_END: client_handshake

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = WsUrl::parse("ws://127.0.0.1:9001/runCase?case=1&agent=x").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("127.0.0.1", 9001, "/runCase?case=1&agent=x")
        );
        assert_eq!(u.host_header(), "127.0.0.1:9001");
        let u = WsUrl::parse("ws://example.org").unwrap();
        assert_eq!(
            (u.port, u.path.as_str(), u.host_header().as_str()),
            (80, "/", "example.org")
        );
        let u = WsUrl::parse("ws://[::1]:8080?x").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("[::1]", 8080, "/?x")
        );
        assert_eq!(WsUrl::parse("ws://[::1]").unwrap().port, 80);
        for bad in [
            "wss://example.org/",
            "http://x/",
            "ws://",
            "ws://:80/",
            "ws://h:99999/",
            "ws://u@h/",
        ] {
            assert!(
                matches!(WsUrl::parse(bad), Err(ConnectError::InvalidUrl(_))),
                "{bad}"
            );
        }
    }
}
