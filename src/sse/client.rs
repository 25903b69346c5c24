//! An `EventSource` for Rust programs and tests: connects over plain TCP,
//! checks the response the way a browser does, feeds the body to
//! [`EventStreamParser`], and reconnects by itself with `Last-Event-ID`.
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
//! Only `http://` URLs are supported (no TLS), and redirects are not
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

use super::parser::{EventStreamParser, Item, ParseError, ParsedEvent, ParserConfig};
use crate::http::{self, BodyFraming, ChunkedDecoder, Limits, ResponseParser, Status};

/// Settings for an [`EventSource`].
#[derive(Debug, Clone)]
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
        }
    }
}

/// Why an [`EventSource`] stopped for good, or could not start.
#[derive(Debug)]
pub enum ClientError {
    /// Not an `http://host[:port][/path]` URL.
    InvalidUrl(String),
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
            ClientError::InvalidUrl(url) => write!(f, "not an http:// URL: {url:?}"),
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
    /// `host:port` for `lookup_host`, or an address.
    connect: Connect,
    /// The `Host` header.
    host: String,
    /// Path and query.
    path: String,
}

#[derive(Debug, Clone)]
enum Connect {
    Addr(SocketAddr),
    Name(String),
}

/// One open response body.
struct Connection {
    stream: TcpStream,
    /// Bytes read but not yet decoded.
    buf: BytesMut,
    body: BodyReader,
}

/// Undoes the body framing, so that the parser only ever sees the event
/// stream itself.
enum BodyReader {
    /// Everything until the server closes (our server, and most).
    UntilClose,
    /// `Content-Length`: the stream ends after this many more bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked` (axum, hyper, nginx as a proxy...).
    Chunked(ChunkedDecoder),
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
    parser: EventStreamParser,
    conn: Option<Connection>,
    /// When the next connection attempt may start.
    reconnect_at: Option<Instant>,
    /// Events parsed but not yet handed out.
    ready: VecDeque<ParsedEvent>,
    items: Vec<Item>,
    /// Closed for good: `next` returns `None`.
    closed: bool,
    failed_attempts: u32,
    connections: u64,
}

impl fmt::Debug for EventSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventSource")
            .field("target", &self.target)
            .field("last_event_id", &self.parser.last_event_id())
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
    pub async fn connect(url: &str, config: ClientConfig) -> Result<EventSource, ClientError> {
        let target = parse_url(url)?;
        Self::start(target, config).await
    }

    /// Opens `path` on the server at `addr`.
    pub async fn connect_to(
        addr: SocketAddr,
        path: &str,
        config: ClientConfig,
    ) -> Result<EventSource, ClientError> {
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        let target = Target {
            connect: Connect::Addr(addr),
            host: addr.to_string(),
            path,
        };
        Self::start(target, config).await
    }

    async fn start(target: Target, config: ClientConfig) -> Result<EventSource, ClientError> {
        let mut parser = EventStreamParser::with_config(config.parser);
        if let Some(id) = &config.last_event_id {
            parser.set_last_event_id(id);
        }
        let mut source = EventSource {
            target,
            parser,
            config,
            conn: None,
            reconnect_at: None,
            ready: VecDeque::new(),
            items: Vec::new(),
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
        self.parser.last_event_id()
    }

    /// The current reconnection time: the server's last `retry:`, or the
    /// configured default.
    pub fn retry(&self) -> Duration {
        self.parser.reconnection_time().unwrap_or(self.config.retry)
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
                self.parser.finish();
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

    /// Reads once and parses what came. False when the stream is over.
    async fn read_some(&mut self) -> bool {
        let Some(conn) = self.conn.as_mut() else {
            return false;
        };
        if matches!(conn.body, BodyReader::Length(0)) {
            return false;
        }
        if conn.buf.is_empty() || matches!(conn.body, BodyReader::Chunked(_)) {
            let read = conn.stream.read_buf(&mut conn.buf);
            let read = match self.config.idle_timeout {
                Some(limit) => match tokio::time::timeout(limit, read).await {
                    Ok(read) => read,
                    Err(_idle) => return false,
                },
                None => read.await,
            };
            match read {
                Ok(0) | Err(_) => {
                    // A chunked body may still hold whole chunks.
                    let rest = std::mem::take(&mut conn.buf);
                    if !rest.is_empty() {
                        let _ = self.decode_and_parse(rest);
                    }
                    return false;
                }
                Ok(_) => {}
            }
        }
        let Some(conn) = self.conn.as_mut() else {
            return false;
        };
        let input = std::mem::take(&mut conn.buf);
        self.decode_and_parse(input)
    }

    /// Undoes the framing of `input` and parses the result. False when the
    /// body is over or broken.
    fn decode_and_parse(&mut self, mut input: BytesMut) -> bool {
        let Some(conn) = self.conn.as_mut() else {
            return false;
        };
        let mut more = true;
        let body = match &mut conn.body {
            BodyReader::UntilClose => input,
            BodyReader::Length(left) => {
                let take = (*left).min(input.len() as u64) as usize;
                *left -= take as u64;
                more = *left > 0;
                input.split_to(take)
            }
            BodyReader::Chunked(decoder) => {
                let mut body = BytesMut::new();
                match decoder.decode(&input, &mut body) {
                    Ok(status) => {
                        more = !status.done;
                        // Whatever the decoder did not use waits for more.
                        conn.buf = input.split_off(status.consumed);
                    }
                    Err(err) => {
                        tracing::debug!("event source: bad chunked body: {err}");
                        more = false;
                    }
                }
                body
            }
        };
        if let Err(err) = self.parse(&body) {
            tracing::debug!("event source: {err}; reconnecting");
            return false;
        }
        more
    }

    fn parse(&mut self, body: &[u8]) -> Result<(), ParseError> {
        let result = self.parser.feed(body, &mut self.items);
        for item in self.items.drain(..) {
            if let Item::Event(event) = item {
                self.ready.push_back(event);
            }
        }
        result
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

    async fn open_inner(&self) -> Result<Opened, AttemptError> {
        let io = |err| AttemptError::Retry(ClientError::Io(err));
        let mut stream = match &self.target.connect {
            Connect::Addr(addr) => TcpStream::connect(addr).await.map_err(io)?,
            Connect::Name(name) => TcpStream::connect(name.as_str()).await.map_err(io)?,
        };
        let _ = stream.set_nodelay(true);
        let request = self.request();
        stream.write_all(request.as_bytes()).await.map_err(io)?;

        let mut parser = ResponseParser::new(self.config.limits);
        let mut buf = BytesMut::with_capacity(4096);
        let index = loop {
            if stream.read_buf(&mut buf).await.map_err(io)? == 0 {
                return Err(io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed before the response head",
                )));
            }
            match parser.parse(&buf) {
                Ok(Status::Complete(index)) => break index,
                Ok(Status::Partial) => {}
                // A garbled head is a network error, as for a browser.
                Err(err) => return Err(AttemptError::Retry(ClientError::Http(err))),
            }
        };
        let head = index.view_response(&buf);
        let status = head.status().as_u16();
        if status == 204 {
            return Ok(Opened::NoContent);
        }
        if status != 200 {
            return Err(AttemptError::Fatal(ClientError::Status(status)));
        }
        let content_type = head.header("content-type").unwrap_or_default();
        if !is_event_stream(content_type) {
            let ct = String::from_utf8_lossy(content_type).into_owned();
            return Err(AttemptError::Fatal(ClientError::ContentType(ct)));
        }
        let body = match head.framing("GET") {
            Ok(BodyFraming::UntilClose) => BodyReader::UntilClose,
            Ok(BodyFraming::Length(n)) => BodyReader::Length(n),
            Ok(BodyFraming::Empty) => BodyReader::Length(0),
            Ok(BodyFraming::Chunked) => BodyReader::Chunked(ChunkedDecoder::new(Limits {
                // A stream has no total size; only the framing lines are
                // bounded.
                max_body_bytes: u64::MAX,
                ..self.config.limits
            })),
            Err(err) => return Err(AttemptError::Retry(ClientError::Http(err))),
        };
        let _ = buf.split_to(index.len());
        Ok(Opened::Stream(Connection { stream, buf, body }))
    }
    // ANCHOR_END: open

    // ANCHOR: request
    fn request(&self) -> String {
        let mut request = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n",
            self.target.path, self.target.host
        );
        let last = self.parser.last_event_id();
        // Empty means "no id yet": send nothing. An id with a control
        // character cannot be a header value; sending none is the
        // honest fallback (the server then starts from live events).
        if !last.is_empty() && last.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f)) {
            request.push_str("Last-Event-ID: ");
            request.push_str(last);
            request.push_str("\r\n");
        }
        request.push_str("\r\n");
        request
    }
    // ANCHOR_END: request
}

/// `text/event-stream`, any case, parameters (`; charset=utf-8`) allowed.
fn is_event_stream(content_type: &[u8]) -> bool {
    let essence = content_type
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default();
    http_trim(essence).eq_ignore_ascii_case(b"text/event-stream")
}

fn http_trim(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

/// `http://host[:port][/path][?query]`, host a name, an IPv4 address or
/// a bracketed IPv6 address.
fn parse_url(url: &str) -> Result<Target, ClientError> {
    let bad = || ClientError::InvalidUrl(url.to_string());
    let rest = url
        .get(..7)
        .filter(|scheme| scheme.eq_ignore_ascii_case("http://"))
        .map(|_| &url[7..])
        .ok_or_else(bad)?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'?' => (&rest[..i], format!("/{}", &rest[i..])),
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let path = match path.find('#') {
        Some(i) => path[..i].to_string(),
        None => path,
    };
    if authority.is_empty()
        || authority.contains('@')
        || !path.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(bad());
    }
    // Is there a port? For `[::1]:80` the colon comes after the bracket.
    let has_port = match authority.rfind(':') {
        Some(i) => !authority[i..].contains(']'),
        None => false,
    };
    let host_port = if has_port {
        let port = &authority[authority.rfind(':').unwrap_or(0) + 1..];
        if port.is_empty() || port.parse::<u16>().is_err() {
            return Err(bad());
        }
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    if !authority
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._:[]".contains(&b))
    {
        return Err(bad());
    }
    let connect = match host_port.parse::<SocketAddr>() {
        Ok(addr) => Connect::Addr(addr),
        Err(_) => Connect::Name(host_port),
    };
    Ok(Target {
        connect,
        host: authority.to_string(),
        path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = parse_url("http://127.0.0.1:8080/ticker?x=1").unwrap();
        assert!(matches!(t.connect, Connect::Addr(a) if a.port() == 8080));
        assert_eq!(
            (t.host.as_str(), t.path.as_str()),
            ("127.0.0.1:8080", "/ticker?x=1")
        );
        let t = parse_url("HTTP://localhost").unwrap();
        assert!(matches!(&t.connect, Connect::Name(n) if n == "localhost:80"));
        assert_eq!(t.path, "/");
        let t = parse_url("http://[::1]:9/a#frag").unwrap();
        assert!(matches!(t.connect, Connect::Addr(a) if a.port() == 9));
        assert_eq!(t.path, "/a");
        assert_eq!(parse_url("http://h?q").unwrap().path, "/?q");
        for bad in [
            "https://a/",
            "http://",
            "http://a:99999/",
            "http://a:/",
            "http://u@a/",
            "http://a/b c",
            "ftp://a",
            "",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn content_type_essence() {
        assert!(is_event_stream(b"text/event-stream"));
        assert!(is_event_stream(b"Text/Event-Stream ; charset=utf-8"));
        assert!(!is_event_stream(b"text/plain"));
        assert!(!is_event_stream(b"text/event-streams"));
        assert!(!is_event_stream(b""));
    }
}
