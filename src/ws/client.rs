//! The client side in the tokio shell: open a connection, send the
//! handshake, check the answer, and hand the stream to a [`WebSocket`].

use std::fmt;
use std::io;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::handshake::{ClientHandshakeError, ClientRequest};
use super::protocol::Role;
use super::socket::{Config, WebSocket};
use crate::http::{ParseError, ResponseParser, Scheme, Url, UrlError};
use crate::http_io::{read_head, HeadReadError};
use crate::tls::ClientStream;

/// Settings for [`connect`] and [`client_handshake`].
///
/// Built from the default with chained setters, so that a new setting is
/// not a breaking change:
///
/// ```
/// use std::time::Duration;
/// use realtime_events::ws::ClientConfig;
/// let config = ClientConfig::default()
///     .with_protocols(["chat"])
///     .with_handshake_timeout(Duration::from_secs(3));
/// assert_eq!(config.protocols, ["chat"]);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
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
    /// Whom to trust for `wss://`: the system's roots by default.
    #[cfg(feature = "tls")]
    pub tls: crate::tls::ClientTls,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            protocols: Vec::new(),
            origin: None,
            socket: Config::default(),
            handshake_timeout: Duration::from_secs(10),
            http_limits: crate::http::Limits::default(),
            #[cfg(feature = "tls")]
            tls: crate::tls::ClientTls::default(),
        }
    }
}

impl ClientConfig {
    /// Offers these subprotocols, most preferred first.
    #[must_use]
    pub fn with_protocols<I, P>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        self.protocols = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// Sends this `Origin`.
    #[must_use]
    pub fn with_origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Uses these settings for the open WebSocket.
    #[must_use]
    pub fn with_socket(mut self, socket: Config) -> Self {
        self.socket = socket;
        self
    }

    /// Allows this long for the TCP connect plus the handshake.
    #[must_use]
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Bounds the server's response head with these limits.
    #[must_use]
    pub fn with_http_limits(mut self, limits: crate::http::Limits) -> Self {
        self.http_limits = limits;
        self
    }

    /// Also trusts this root certificate for `wss://` (a private or test
    /// CA), besides the system's.
    #[cfg(feature = "tls")]
    #[must_use]
    pub fn with_root_certificate(
        mut self,
        cert: rustls_pki_types::CertificateDer<'static>,
    ) -> Self {
        self.tls = self.tls.with_root_certificate(cert);
        self
    }

    /// Uses these TLS settings for `wss://`.
    #[cfg(feature = "tls")]
    #[must_use]
    pub fn with_tls(mut self, tls: crate::tls::ClientTls) -> Self {
        self.tls = tls;
        self
    }
}

/// Why a client could not open a WebSocket.
#[derive(Debug)]
pub enum ConnectError {
    /// The URL is not a `ws://` or `wss://` URL we accept.
    InvalidUrl(UrlError),
    /// A `wss://` URL, in a build without the `tls` feature.
    TlsNotSupported,
    /// The TLS handshake failed: an unknown CA, a certificate for another
    /// name, a server that does not speak TLS.
    Tls(io::Error),
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
            ConnectError::InvalidUrl(e) => write!(f, "invalid URL: {e}"),
            ConnectError::TlsNotSupported => f.write_str("wss:// needs the crate's `tls` feature"),
            ConnectError::Tls(e) => write!(f, "TLS handshake failed: {e}"),
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

impl From<UrlError> for ConnectError {
    fn from(e: UrlError) -> Self {
        ConnectError::InvalidUrl(e)
    }
}

/// The URL type [`connect`] takes apart: the crate's one client URL
/// parser, shared with the SSE client.
pub type WsUrl = Url;

// ANCHOR: connect
/// Opens a WebSocket to `url`: `ws://host:port/path` over TCP, or
/// `wss://` over TLS (the server's certificate checked for the URL's host
/// against [`ClientConfig::tls`]; without the `tls` feature,
/// [`ConnectError::TlsNotSupported`]).
///
/// # Errors
/// A [`ConnectError`] saying which step failed.
pub async fn connect(
    url: &str,
    config: &ClientConfig,
) -> Result<WebSocket<ClientStream>, ConnectError> {
    let url = Url::parse_for(url, &[Scheme::Ws, Scheme::Wss])?;
    let work = async {
        let tcp = TcpStream::connect((url.connect_host(), url.port())).await?;
        let _ = tcp.set_nodelay(true);
        let stream = open_stream(tcp, &url, config).await?;
        client_handshake(stream, &url.host_header(), url.path(), config).await
    };
    tokio::time::timeout(config.handshake_timeout, work)
        .await
        .map_err(|_| ConnectError::Timeout)?
}

// ANCHOR: open_stream
/// The TCP stream as is for `ws://`, wrapped in TLS for `wss://`: the only
/// place where the two differ.
async fn open_stream(
    tcp: TcpStream,
    url: &Url,
    config: &ClientConfig,
) -> Result<ClientStream, ConnectError> {
    if !url.scheme().is_tls() {
        return Ok(ClientStream::Plain(tcp));
    }
    #[cfg(feature = "tls")]
    return crate::tls::wrap_client(tcp, url.connect_host(), &config.tls)
        .await
        .map_err(ConnectError::Tls);
    #[cfg(not(feature = "tls"))]
    {
        let _ = config;
        Err(ConnectError::TlsNotSupported)
    }
}
// ANCHOR_END: open_stream
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
    let index = read_head(&mut stream, &mut buf, None, |buf| parser.parse(buf))
        .await
        .map_err(|err| match err {
            HeadReadError::Closed | HeadReadError::Incomplete => ConnectError::Closed,
            HeadReadError::Timeout => ConnectError::Timeout,
            HeadReadError::Invalid(err) => ConnectError::Http(err),
            HeadReadError::Io(err) => ConnectError::Io(err),
        })?;
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

    #[tokio::test]
    async fn urls_are_checked_before_connecting() {
        let config = ClientConfig::default();
        for (url, want) in [
            ("http://example.org/", "WrongScheme"),
            ("ws://u@h/", "Userinfo"),
            ("ws://h:0/", "InvalidPort"),
        ] {
            let err = connect(url, &config).await.unwrap_err();
            assert!(
                matches!(&err, ConnectError::InvalidUrl(e) if format!("{e:?}").starts_with(want)),
                "{url}: {err:?}"
            );
        }
    }
}
