//! An `EventSource` for Rust programs and tests: the tokio shell around
//! [`EventSourceCore`]. It connects over TCP (and TLS for `https://`),
//! writes the request the
//! core builds, hands it every byte received (the core checks the response
//! the way a browser does, undoes the body's framing and parses events),
//! and reconnects by itself after the reconnection time.
//!
//! The browser rules it follows (WHATWG HTML, "Server-sent events"):
//!
//! * the request carries `Accept: text/event-stream` and
//!   `Cache-Control: no-cache`, and, once an id has been seen, `Last-Event-ID`;
//! * a response that is not `200` with a `text/event-stream` content type
//!   *fails* the source: no reconnect, ever (`204 No Content` is how a server
//!   says "stop" without it being an error);
//! * a connection that drops or simply ends is re-established after the
//!   reconnection time, which the server may change with `retry:`;
//! * an event cut off by the drop is discarded, never half-delivered.
//!
//! `https://` URLs need the `tls` feature (on by default); without it they
//! are refused with [`ClientError::TlsNotSupported`]. Redirects are not
//! followed: a 3xx fails the source like any other non-200 status.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::tls::ClientStream;

use super::handshake::{EventSourceCore, Progress, ResponseError};
use super::parser::{ParsedEvent, ParserConfig};
use crate::http::{self, origin_form, Limits, Scheme, Status, Url, UrlError};
use crate::http_io::{read_head, HeadReadError};

/// Settings for an [`EventSource`], built from the default with chained
/// setters so that a new setting is not a breaking change:
///
/// ```
/// use std::time::Duration;
/// use realtime_events::sse::ClientConfig;
/// let config = ClientConfig::default()
///     .with_retry(Duration::from_millis(500))
///     .with_last_event_id("41");
/// assert_eq!(config.last_event_id.as_deref(), Some("41"));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The reconnection time until the server sends `retry:`. Browsers
    /// use about 3 s; so do we.
    pub retry: Duration,
    /// Time allowed for connecting and receiving the response head.
    pub connect_timeout: Duration,
    /// Reconnect if nothing at all (not even a keep-alive comment) arrives
    /// for this long: a connection can die without either side hearing
    /// about it. `None` (the default, as in browsers) waits forever.
    pub idle_timeout: Option<Duration>,
    /// Give up after this many reconnection attempts in a row that failed
    /// to connect. `None` (the default, as in browsers) keeps trying.
    pub max_failed_attempts: Option<u32>,
    /// The last event ID to start from, sent with the very first request:
    /// for a client that stored its place. `None` (a first visit) by
    /// default.
    pub last_event_id: Option<String>,
    /// Memory limits for the event-stream parser.
    pub parser: ParserConfig,
    /// Limits for the response head (and chunk lines).
    pub limits: Limits,
    /// Whom to trust for `https://`: the system's roots by default.
    #[cfg(feature = "tls")]
    pub tls: crate::tls::ClientTls,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            retry: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(10),
            idle_timeout: None,
            max_failed_attempts: None,
            last_event_id: None,
            parser: ParserConfig::default(),
            limits: Limits::default(),
            #[cfg(feature = "tls")]
            tls: crate::tls::ClientTls::default(),
        }
    }
}

impl ClientConfig {
    /// The reconnection time until the server sends `retry:`.
    #[must_use]
    pub fn with_retry(mut self, retry: Duration) -> Self {
        self.retry = retry;
        self
    }

    /// Time allowed for connecting and receiving the response head.
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Reconnect when nothing arrives for this long (`None`: never).
    #[must_use]
    pub fn with_idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Give up after this many failed attempts in a row (`None`: never).
    #[must_use]
    pub fn with_max_failed_attempts(mut self, attempts: Option<u32>) -> Self {
        self.max_failed_attempts = attempts;
        self
    }

    /// Start from this last event ID.
    #[must_use]
    pub fn with_last_event_id(mut self, id: impl Into<String>) -> Self {
        self.last_event_id = Some(id.into());
        self
    }

    /// Memory limits for the event-stream parser.
    #[must_use]
    pub fn with_parser(mut self, parser: ParserConfig) -> Self {
        self.parser = parser;
        self
    }

    /// Limits for the response head (and chunk lines).
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Also trusts this root certificate for `https://` (a private or
    /// test CA), besides the system's.
    #[cfg(feature = "tls")]
    #[must_use]
    pub fn with_root_certificate(
        mut self,
        cert: rustls_pki_types::CertificateDer<'static>,
    ) -> Self {
        self.tls = self.tls.with_root_certificate(cert);
        self
    }

    /// Uses these TLS settings for `https://`.
    #[cfg(feature = "tls")]
    #[must_use]
    pub fn with_tls(mut self, tls: crate::tls::ClientTls) -> Self {
        self.tls = tls;
        self
    }
}

/// Why an [`EventSource`] stopped for good, or could not start.
#[derive(Debug)]
pub enum ClientError {
    /// Not an `http://host[:port][/path]` URL we accept (or a path given
    /// to [`EventSource::connect_to`] that cannot be a request-target).
    InvalidUrl(UrlError),
    /// An `https://` URL, in a build without the `tls` feature.
    TlsNotSupported,
    /// The TLS handshake failed: an unknown CA, a certificate for another
    /// name, a server that does not speak TLS. Retried like any network
    /// error, as a browser does.
    Tls(io::Error),
    /// Connecting, or reading the response head, failed (only reported for
    /// the first connection or after [`ClientConfig::max_failed_attempts`];
    /// other drops are retried).
    Io(io::Error),
    /// The response head was malformed.
    Http(http::ParseError),
    /// The server answered with a status other than 200 (and 204).
    Status(u16),
    /// The response's `Content-Type` is not `text/event-stream` (the value
    /// received, empty if there was none).
    ContentType(String),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::InvalidUrl(err) => write!(f, "invalid URL: {err}"),
            ClientError::TlsNotSupported => f.write_str("https:// needs the crate's `tls` feature"),
            ClientError::Tls(err) => write!(f, "TLS handshake failed: {err}"),
            ClientError::Io(err) => write!(f, "connection failed: {err}"),
            ClientError::Http(err) => write!(f, "malformed response: {err}"),
            ClientError::Status(code) => write!(f, "server answered {code}, not 200"),
            ClientError::ContentType(ct) => {
                write!(f, "Content-Type {ct:?} is not text/event-stream")
            }
        }
    }
}

impl std::error::Error for ClientError {}

/// Where to connect and what to ask for.
#[derive(Debug, Clone)]
struct Target {
    /// An address, or a name and port to resolve.
    connect: Connect,
    /// The `Host` header.
    host: String,
    /// Path and query.
    path: String,
    /// For `https://`: the name the certificate must be for.
    tls_host: Option<String>,
}

#[derive(Debug, Clone)]
enum Connect {
    Addr(SocketAddr),
    Name(String, u16),
}

/// One open response body.
struct Connection {
    stream: ClientStream,
    /// Bytes read but not yet used by the core.
    buf: BytesMut,
}

/// What one attempt to open the stream gave.
enum Opened {
    Stream(Connection),
    /// 204: the server asks us to stop.
    NoContent,
}

/// A failed attempt: either worth retrying (the network) or final (the
/// server said no).
enum AttemptError {
    Retry(ClientError),
    Fatal(ClientError),
}

/// A Rust `EventSource`. See the module docs for the rules it follows.
///
/// ```no_run
/// use realtime_events::sse::{ClientConfig, EventSource};
/// # async fn run() -> Result<(), realtime_events::sse::ClientError> {
/// let mut source = EventSource::connect("http://127.0.0.1:8080/ticker", ClientConfig::default()).await?;
/// while let Some(event) = source.next().await {
///     let event = event?;
///     println!("{} {} {}", event.last_event_id, event.event_type, event.data);
/// }
/// # Ok(()) }
/// ```
pub struct EventSource {
    target: Target,
    config: ClientConfig,
    core: EventSourceCore,
    conn: Option<Connection>,
    /// When the next connection attempt may start.
    reconnect_at: Option<Instant>,
    /// Events parsed but not yet handed out.
    ready: VecDeque<ParsedEvent>,
    /// Closed for good: `next` returns `None`.
    closed: bool,
    failed_attempts: u32,
    connections: u64,
}

impl fmt::Debug for EventSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventSource")
            .field("target", &self.target)
            .field("last_event_id", &self.core.last_event_id())
            .field("connected", &self.conn.is_some())
            .field("closed", &self.closed)
            .field("connections", &self.connections)
            .finish()
    }
}

impl EventSource {
    /// Opens `url` (`http://host[:port][/path][?query]`). This first
    /// connection is made before returning, and its failure is returned
    /// as is; after that, drops are retried by [`next`](Self::next).
    ///
    /// A `204 No Content` answer gives a source that is already closed.
    ///
    /// # Errors
    /// [`ClientError::InvalidUrl`] or [`ClientError::TlsNotSupported`] for
    /// the URL; otherwise why the first connection failed.
    pub async fn connect(url: &str, config: ClientConfig) -> Result<EventSource, ClientError> {
        let url =
            Url::parse_for(url, &[Scheme::Http, Scheme::Https]).map_err(ClientError::InvalidUrl)?;
        if url.scheme().is_tls() && cfg!(not(feature = "tls")) {
            return Err(ClientError::TlsNotSupported);
        }
        let connect = match url.connect_host().parse() {
            Ok(ip) => Connect::Addr(SocketAddr::new(ip, url.port())),
            Err(_) => Connect::Name(url.connect_host().to_string(), url.port()),
        };
        let target = Target {
            connect,
            host: url.host_header(),
            path: url.path().to_string(),
            tls_host: url
                .scheme()
                .is_tls()
                .then(|| url.connect_host().to_string()),
        };
        Self::start(target, config).await
    }

    /// Opens `path` on the server at `addr`.
    ///
    /// # Errors
    /// [`ClientError::InvalidUrl`] for a path that cannot be a
    /// request-target (see [`origin_form`]); otherwise why the first
    /// connection failed.
    pub async fn connect_to(
        addr: SocketAddr,
        path: &str,
        config: ClientConfig,
    ) -> Result<EventSource, ClientError> {
        let path = origin_form(path).map_err(ClientError::InvalidUrl)?;
        let target = Target {
            connect: Connect::Addr(addr),
            host: addr.to_string(),
            path,
            tls_host: None,
        };
        Self::start(target, config).await
    }

    async fn start(target: Target, config: ClientConfig) -> Result<EventSource, ClientError> {
        let mut core = EventSourceCore::new(config.parser, config.limits);
        if let Some(id) = &config.last_event_id {
            core.set_last_event_id(id);
        }
        let mut source = EventSource {
            target,
            core,
            config,
            conn: None,
            reconnect_at: None,
            ready: VecDeque::new(),
            closed: false,
            failed_attempts: 0,
            connections: 0,
        };
        match source.open().await {
            Ok(Opened::Stream(conn)) => source.conn = Some(conn),
            Ok(Opened::NoContent) => source.closed = true,
            Err(AttemptError::Retry(err) | AttemptError::Fatal(err)) => return Err(err),
        }
        Ok(source)
    }

    /// The last event ID string: what the next reconnect sends as
    /// `Last-Event-ID` (nothing is sent while it is empty).
    pub fn last_event_id(&self) -> &str {
        self.core.last_event_id()
    }

    /// The current reconnection time: the server's last `retry:`, or the
    /// configured default.
    pub fn retry(&self) -> Duration {
        self.core.reconnection_time().unwrap_or(self.config.retry)
    }

    /// How many connections have been opened (with a 200 answer) so far.
    pub fn connections(&self) -> u64 {
        self.connections
    }

    /// Closes the source, as `EventSource.close()` does: no more events,
    /// no more reconnects.
    pub fn close(&mut self) {
        self.closed = true;
        self.conn = None;
        self.ready.clear();
    }

    // ANCHOR: next
    /// The next event. Connection drops are handled inside: the source
    /// waits the reconnection time, reconnects with `Last-Event-ID`, and
    /// carries on, so a caller only sees events.
    ///
    /// `None` once the source is closed: by [`close`](Self::close), or by
    /// a `204` answer. `Some(Err(_))` when a reconnect is refused (a
    /// non-200 status, a wrong Content-Type) or attempts run out; the
    /// source is closed after it.
    ///
    /// Cancel-safe at event granularity: dropping the future never loses
    /// a received event (a connection attempt in progress starts over).
    pub async fn next(&mut self) -> Option<Result<ParsedEvent, ClientError>> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Some(Ok(event));
            }
            if self.closed {
                return None;
            }
            if self.conn.is_none() {
                if let Err(err) = self.reconnect().await {
                    self.close();
                    return err.map(Err);
                }
                continue;
            }
            if !self.read_some().await {
                // Ended or failed: what was cut off is discarded, ids and
                // retry are kept, and we reconnect after the delay.
                self.core.disconnected();
                self.conn = None;
                self.reconnect_at = Some(Instant::now() + self.retry());
            }
        }
    }
    // ANCHOR_END: next

    /// Waits out the reconnection time and tries once. `Ok` when there is
    /// a connection or a retry is due; `Err(None)` to close quietly (204),
    /// `Err(Some(_))` to close with an error.
    async fn reconnect(&mut self) -> Result<(), Option<ClientError>> {
        if let Some(at) = self.reconnect_at {
            tokio::time::sleep_until(at).await;
        }
        match self.open().await {
            Ok(Opened::Stream(conn)) => {
                self.conn = Some(conn);
                self.reconnect_at = None;
                self.failed_attempts = 0;
                Ok(())
            }
            Ok(Opened::NoContent) => Err(None),
            Err(AttemptError::Fatal(err)) => Err(Some(err)),
            Err(AttemptError::Retry(err)) => {
                self.failed_attempts += 1;
                if self
                    .config
                    .max_failed_attempts
                    .is_some_and(|max| self.failed_attempts >= max)
                {
                    return Err(Some(err));
                }
                tracing::debug!("event source: reconnect failed: {err}");
                self.reconnect_at = Some(Instant::now() + self.retry());
                Ok(())
            }
        }
    }

    /// Hands the core what has been received, reading when it needs
    /// more, until there are events to give out. False when the stream is
    /// over: ended, dropped, silent too long, or broken.
    async fn read_some(&mut self) -> bool {
        let Some(conn) = self.conn.as_mut() else {
            return false;
        };
        loop {
            match self.core.receive(&mut conn.buf, &mut self.ready) {
                Ok(Progress::NeedMore) => {}
                Ok(Progress::Open | Progress::NoContent | Progress::End) => return false,
                Err(err) => {
                    tracing::debug!("event source: {err}; reconnecting");
                    return false;
                }
            }
            if !self.ready.is_empty() {
                return true;
            }
            let read = conn.stream.read_buf(&mut conn.buf);
            let read = match self.config.idle_timeout {
                Some(limit) => match tokio::time::timeout(limit, read).await {
                    Ok(read) => read,
                    Err(_idle) => return false,
                },
                None => read.await,
            };
            if matches!(read, Ok(0) | Err(_)) {
                return false;
            }
        }
    }

    // ANCHOR: open
    /// One connection attempt: connect, send the request, check the head.
    async fn open(&mut self) -> Result<Opened, AttemptError> {
        let limit = self.config.connect_timeout;
        let attempt = tokio::time::timeout(limit, self.open_inner()).await;
        let opened = attempt.unwrap_or_else(|_| {
            Err(AttemptError::Retry(ClientError::Io(io::Error::new(
                io::ErrorKind::TimedOut,
                "no response head in time",
            ))))
        })?;
        if matches!(opened, Opened::Stream(_)) {
            self.connections += 1;
        }
        Ok(opened)
    }

    async fn open_inner(&mut self) -> Result<Opened, AttemptError> {
        let io = |err| AttemptError::Retry(ClientError::Io(err));
        let tcp = match &self.target.connect {
            Connect::Addr(addr) => TcpStream::connect(addr).await.map_err(io)?,
            Connect::Name(name, port) => TcpStream::connect((name.as_str(), *port))
                .await
                .map_err(io)?,
        };
        let _ = tcp.set_nodelay(true);
        let mut stream = self.wrap(tcp).await?;
        let mut request = BytesMut::new();
        self.core
            .start(&self.target.host, &self.target.path, &mut request);
        stream.write_all(&request).await.map_err(io)?;

        let mut buf = BytesMut::with_capacity(4096);
        let (core, ready) = (&mut self.core, &mut self.ready);
        let answer = read_head(&mut stream, &mut buf, None, |buf| {
            Ok(match core.receive(buf, ready)? {
                Progress::NeedMore => Status::Partial,
                done => Status::Complete(done),
            })
        })
        .await;
        match answer {
            Ok(Progress::Open) => Ok(Opened::Stream(Connection { stream, buf })),
            Ok(Progress::NoContent) => Ok(Opened::NoContent),
            // A garbled head is a network error, as for a browser; a clear
            // "no" from the server is final.
            Err(HeadReadError::Invalid(err)) if err.is_fatal() => {
                Err(AttemptError::Fatal(match err {
                    ResponseError::Status(code) => ClientError::Status(code),
                    ResponseError::ContentType(ct) => ClientError::ContentType(ct),
                    other => ClientError::Io(io::Error::new(io::ErrorKind::InvalidData, other)),
                }))
            }
            Err(HeadReadError::Invalid(ResponseError::Http(err))) => {
                Err(AttemptError::Retry(ClientError::Http(err)))
            }
            Err(HeadReadError::Io(err)) => Err(io(err)),
            Ok(Progress::NeedMore | Progress::End)
            | Err(HeadReadError::Closed | HeadReadError::Incomplete | HeadReadError::Timeout)
            | Err(HeadReadError::Invalid(_)) => Err(io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed before the response head",
            ))),
        }
    }
    // ANCHOR_END: open

    /// The TCP stream as is for `http://`, in TLS for `https://`.
    async fn wrap(&self, tcp: TcpStream) -> Result<ClientStream, AttemptError> {
        let Some(host) = &self.target.tls_host else {
            return Ok(ClientStream::Plain(tcp));
        };
        #[cfg(feature = "tls")]
        return crate::tls::wrap_client(tcp, host, &self.config.tls)
            .await
            .map_err(|err| AttemptError::Retry(ClientError::Tls(err)));
        #[cfg(not(feature = "tls"))]
        {
            let _ = host;
            Err(AttemptError::Fatal(ClientError::TlsNotSupported))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn urls_are_checked_before_connecting() {
        let config = ClientConfig::default();
        for (url, want) in [
            ("ws://h/", UrlError::WrongScheme(Scheme::Ws)),
            ("http://u@h/", UrlError::Userinfo),
            ("http://h/#top", UrlError::Fragment),
            ("http://h:0/", UrlError::InvalidPort),
        ] {
            let err = EventSource::connect(url, config.clone()).await.unwrap_err();
            assert!(
                matches!(&err, ClientError::InvalidUrl(e) if *e == want),
                "{url}: {err:?}"
            );
        }
        let addr = SocketAddr::from(([127, 0, 0, 1], 9));
        assert!(matches!(
            EventSource::connect_to(addr, "/a\r\nX: y", config).await,
            Err(ClientError::InvalidUrl(UrlError::InvalidByte))
        ));
    }
}
