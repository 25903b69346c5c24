//! The client side of an SSE exchange, sans-IO: the request an
//! `EventSource` sends, the check of the server's response head, and the
//! body, whose HTTP framing is undone before the event-stream parser sees
//! it. [`EventSourceCore`] is to [`EventSource`](super::EventSource) what
//! [`ws::handshake`](crate::ws::handshake) is to the WebSocket client: the
//! shell only opens connections, moves bytes and keeps time.
//!
//! The browser's rules (WHATWG HTML, "Server-sent events"): a response
//! that is not `200` with a `text/event-stream` content type *fails* the
//! source for good (redirects are not followed, so a 3xx fails it too);
//! `204 No Content` closes it quietly; a garbled response, like a dropped
//! connection, is a network error and is retried.

use std::fmt;
use std::fmt::Write as _;
use std::time::Duration;

use bytes::BytesMut;

use super::parser::{EventStreamParser, Item, ParseError, ParsedEvent, ParserConfig};
use crate::http::{self, trim_ows, BodyFraming, ChunkedDecoder, Limits, ResponseParser, Status};

/// What [`EventSourceCore::receive`] made of the bytes so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Everything given was used (or is kept until it can be): read more.
    NeedMore,
    /// The head was a `200 text/event-stream`: the stream is open. Bytes
    /// after the head are still in the input; call again for them.
    Open,
    /// `204 No Content`: the server asks the client to stop, without an
    /// error and without reconnecting.
    NoContent,
    /// The body is over (its length reached, or its last chunk read), or
    /// no request is in progress: reconnect.
    End,
}

/// Why a response could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseError {
    /// The head, or the body's chunked framing, is not valid HTTP.
    Http(http::ParseError),
    /// A status other than 200 and 204.
    Status(u16),
    /// A `Content-Type` other than `text/event-stream` (the value received,
    /// empty if there was none).
    ContentType(String),
    /// The event stream broke a [`ParserConfig`] limit.
    Events(ParseError),
}

impl ResponseError {
    /// Whether the source must fail for good rather than reconnect: the
    /// server answered, and its answer was "no".
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            ResponseError::Status(_) | ResponseError::ContentType(_)
        )
    }
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseError::Http(err) => write!(f, "malformed response: {err}"),
            ResponseError::Status(code) => write!(f, "server answered {code}, not 200"),
            ResponseError::ContentType(ct) => {
                write!(f, "Content-Type {ct:?} is not text/event-stream")
            }
            ResponseError::Events(err) => write!(f, "event stream: {err}"),
        }
    }
}

impl std::error::Error for ResponseError {}

/// Where the current response is.
#[derive(Debug)]
enum Phase {
    /// No request sent, or the last response is over.
    Idle,
    /// Waiting for the whole response head. Boxed: the head parser is
    /// large, and a stream spends its life in `Body`.
    Head(Box<ResponseParser>),
    /// Reading the event stream through its framing.
    Body(Body),
}

/// Undoes the body framing, so that the parser only ever sees the event
/// stream itself.
#[derive(Debug)]
enum Body {
    /// Everything until the server closes (our server, and most).
    UntilClose,
    /// `Content-Length`: the stream ends after this many more bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked` (axum, hyper, nginx as a proxy...).
    Chunked(ChunkedDecoder),
}

/// The sans-IO client: one per `EventSource`, across all its connections,
/// since the last event ID and the reconnection time outlive each one.
///
/// ```
/// use std::collections::VecDeque;
/// use realtime_events::http::Limits;
/// use realtime_events::sse::handshake::{EventSourceCore, Progress};
/// use realtime_events::sse::ParserConfig;
/// use realtime_events::ws::BytesMut;
///
/// let mut core = EventSourceCore::new(ParserConfig::default(), Limits::default());
/// let mut request = BytesMut::new();
/// core.start("example.org", "/feed", &mut request);
/// let mut input = BytesMut::from(
///     &b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\nid: 7\ndata: hi\n\n"[..],
/// );
/// let mut events = VecDeque::new();
/// assert_eq!(core.receive(&mut input, &mut events), Ok(Progress::Open));
/// assert_eq!(core.receive(&mut input, &mut events), Ok(Progress::NeedMore));
/// assert_eq!(events[0].data, "hi");
/// assert_eq!(core.last_event_id(), "7");
/// ```
#[derive(Debug)]
pub struct EventSourceCore {
    parser: EventStreamParser,
    limits: Limits,
    phase: Phase,
    items: Vec<Item>,
}

impl EventSourceCore {
    /// A client whose event parser has `config` and whose response heads
    /// (and chunk lines) are bounded by `limits`.
    pub fn new(config: ParserConfig, limits: Limits) -> Self {
        EventSourceCore {
            parser: EventStreamParser::with_config(config),
            limits,
            phase: Phase::Idle,
            items: Vec::new(),
        }
    }

    /// The last event ID string: what the next request sends as
    /// `Last-Event-ID` (nothing is sent while it is empty).
    pub fn last_event_id(&self) -> &str {
        self.parser.last_event_id()
    }

    /// Starts from a stored place: the next request carries `id`.
    pub fn set_last_event_id(&mut self, id: &str) {
        self.parser.set_last_event_id(id);
    }

    /// The server's last valid `retry:`, if it sent one.
    pub fn reconnection_time(&self) -> Option<Duration> {
        self.parser.reconnection_time()
    }

    // ANCHOR: request
    /// Writes the request for `path` on `host` (the `Host` value) into
    /// `out`, and waits for its response.
    pub fn start(&mut self, host: &str, path: &str, out: &mut BytesMut) {
        let _ = write!(
            out,
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n"
        );
        let last = self.parser.last_event_id();
        // Empty means "no id yet": send nothing. An id with a control
        // character cannot be a header value; sending none is the
        // honest fallback (the server then starts from live events).
        if !last.is_empty() && last.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f)) {
            let _ = write!(out, "Last-Event-ID: {last}\r\n");
        }
        out.extend_from_slice(b"\r\n");
        self.phase = Phase::Head(Box::new(ResponseParser::new(self.limits)));
    }
    // ANCHOR_END: request

    /// Feeds the response bytes received so far. Used bytes are taken off
    /// the front of `input`; events are added to `events`.
    ///
    /// Call again while it returns [`Progress::Open`]; after `NeedMore`,
    /// read more first. An error ends the response, as `End` does.
    ///
    /// # Errors
    /// A [`ResponseError`]; [`ResponseError::is_fatal`] says whether to
    /// reconnect.
    pub fn receive(
        &mut self,
        input: &mut BytesMut,
        events: &mut impl Extend<ParsedEvent>,
    ) -> Result<Progress, ResponseError> {
        let result = match &mut self.phase {
            Phase::Idle => return Ok(Progress::End),
            Phase::Head(parser) => match parser.parse(input) {
                Ok(Status::Partial) => return Ok(Progress::NeedMore),
                Ok(Status::Complete(index)) => {
                    let head = input.split_to(index.len());
                    check_head(&index.view_response(&head), self.limits)
                }
                Err(err) => Err(ResponseError::Http(err)),
            },
            Phase::Body(body) => {
                let (decoded, done) = body.decode(input);
                let parsed = self.parser.feed(&decoded, &mut self.items);
                events.extend(self.items.drain(..).filter_map(|item| match item {
                    Item::Event(event) => Some(event),
                    Item::Retry(_) | Item::Comment(_) => None,
                }));
                match (parsed, done) {
                    (Err(err), _) => Err(ResponseError::Events(err)),
                    (Ok(()), Err(err)) => Err(ResponseError::Http(err)),
                    (Ok(()), Ok(false)) => return Ok(Progress::NeedMore),
                    (Ok(()), Ok(true)) => Ok(None),
                }
            }
        };
        match result {
            Ok(Some(body)) => {
                self.phase = Phase::Body(body);
                Ok(Progress::Open)
            }
            Ok(None) => {
                let no_content = matches!(self.phase, Phase::Head(_));
                self.phase = Phase::Idle;
                Ok(if no_content {
                    Progress::NoContent
                } else {
                    Progress::End
                })
            }
            Err(err) => {
                self.phase = Phase::Idle;
                Err(err)
            }
        }
    }

    /// The connection is gone (or about to be dropped): an event cut off by
    /// it is discarded, never half-delivered; the last event ID and the
    /// reconnection time are kept for the next [`start`](Self::start).
    pub fn disconnected(&mut self) {
        self.parser.finish();
        self.phase = Phase::Idle;
    }
}

// ANCHOR: check_head
/// The browser's checks on a response head: `Some(body)` for a usable
/// stream, `None` for 204.
fn check_head(
    head: &http::ResponseView<'_>,
    limits: Limits,
) -> Result<Option<Body>, ResponseError> {
    match head.status().as_u16() {
        204 => return Ok(None),
        200 => {}
        other => return Err(ResponseError::Status(other)),
    }
    let content_type = head.header("content-type").unwrap_or_default();
    if !is_event_stream(content_type) {
        let ct = String::from_utf8_lossy(content_type).into_owned();
        return Err(ResponseError::ContentType(ct));
    }
    Ok(Some(
        match head.framing("GET").map_err(ResponseError::Http)? {
            BodyFraming::UntilClose => Body::UntilClose,
            BodyFraming::Length(n) => Body::Length(n),
            BodyFraming::Empty => Body::Length(0),
            BodyFraming::Chunked => Body::Chunked(ChunkedDecoder::new(Limits {
                // A stream has no total size; only the framing lines are
                // bounded.
                max_body_bytes: u64::MAX,
                ..limits
            })),
        },
    ))
}
// ANCHOR_END: check_head

impl Body {
    /// Takes what it can from `input`: the event-stream bytes in it, and
    /// whether the body is over (or an error in its framing, after which
    /// the bytes decoded before it are still returned).
    fn decode(&mut self, input: &mut BytesMut) -> (BytesMut, Result<bool, http::ParseError>) {
        match self {
            Body::UntilClose => (input.split(), Ok(false)),
            Body::Length(left) => {
                let take = (*left).min(input.len() as u64);
                *left -= take;
                // `take` is at most `input.len()`, so it fits a usize.
                (input.split_to(take as usize), Ok(*left == 0))
            }
            Body::Chunked(decoder) => {
                let mut body = BytesMut::new();
                match decoder.decode(input, &mut body) {
                    Ok(status) => {
                        let _ = input.split_to(status.consumed);
                        (body, Ok(status.done))
                    }
                    Err(err) => (body, Err(err)),
                }
            }
        }
    }
}

/// `text/event-stream`, any case, parameters (`; charset=utf-8`) allowed.
fn is_event_stream(content_type: &[u8]) -> bool {
    let essence = content_type
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default();
    trim_ows(essence).eq_ignore_ascii_case(b"text/event-stream")
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n";

    /// Feeds `response` in pieces of `step` bytes; returns the progress
    /// seen, the events' data, and the error.
    fn run(response: &[u8], step: usize) -> (Vec<Progress>, Vec<String>, Option<ResponseError>) {
        let mut core = EventSourceCore::new(ParserConfig::default(), Limits::default());
        core.start("h", "/", &mut BytesMut::new());
        let mut input = BytesMut::new();
        let mut events = Vec::new();
        let mut seen = Vec::new();
        for piece in response.chunks(step) {
            input.extend_from_slice(piece);
            loop {
                match core.receive(&mut input, &mut events) {
                    Ok(Progress::NeedMore) => break,
                    Ok(Progress::Open) => seen.push(Progress::Open),
                    Ok(p) => {
                        seen.push(p);
                        let data = events.into_iter().map(|e: ParsedEvent| e.data).collect();
                        return (seen, data, None);
                    }
                    Err(err) => {
                        let data = events.into_iter().map(|e| e.data).collect();
                        return (seen, data, Some(err));
                    }
                }
            }
        }
        (seen, events.into_iter().map(|e| e.data).collect(), None)
    }

    fn same_every_way(response: &[u8]) -> (Vec<Progress>, Vec<String>, Option<ResponseError>) {
        let whole = run(response, response.len().max(1));
        for step in [1, 2, 5] {
            assert_eq!(run(response, step), whole, "step {step}");
        }
        whole
    }

    fn response(head_rest: &str, body: &str) -> Vec<u8> {
        let mut r = OK.to_vec();
        r.extend_from_slice(head_rest.as_bytes());
        r.extend_from_slice(b"\r\n");
        r.extend_from_slice(body.as_bytes());
        r
    }

    #[test]
    fn until_close_length_and_chunked() {
        let (p, data, err) = same_every_way(&response("", "data: a\n\ndata: b\n\ndata: cut"));
        assert_eq!(
            (p, data, err),
            (vec![Progress::Open], vec!["a".into(), "b".into()], None)
        );

        let (p, data, err) =
            same_every_way(&response("Content-Length: 9\r\n", "data: a\n\ndata: b\n\n"));
        assert_eq!(p, [Progress::Open, Progress::End]);
        assert_eq!((data, err), (vec!["a".to_string()], None));

        let body = "8\r\ndata: a\n\r\n3\r\n\nda\r\n7\r\nta: b\n\n\r\n0\r\n\r\ndata: c\n\n";
        let (p, data, err) = same_every_way(&response("Transfer-Encoding: chunked\r\n", body));
        assert_eq!(p, [Progress::Open, Progress::End]);
        assert_eq!((data, err), (vec!["a".to_string(), "b".into()], None));

        let (p, _, err) = same_every_way(&response("Content-Length: 0\r\n", "data: a\n\n"));
        assert_eq!((p, err), (vec![Progress::Open, Progress::End], None));
    }

    #[test]
    fn refusals() {
        let (p, _, err) = same_every_way(b"HTTP/1.1 204 No Content\r\n\r\n");
        assert_eq!((p, err), (vec![Progress::NoContent], None));
        for (head, want) in [
            (
                &b"HTTP/1.1 500 Oops\r\nContent-Type: text/event-stream\r\n\r\n"[..],
                ResponseError::Status(500),
            ),
            (
                b"HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n",
                ResponseError::Status(302),
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n",
                ResponseError::ContentType("text/plain".into()),
            ),
            (
                b"HTTP/1.1 200 OK\r\n\r\n",
                ResponseError::ContentType(String::new()),
            ),
        ] {
            let (_, _, err) = same_every_way(head);
            assert_eq!(err.as_ref(), Some(&want));
            assert!(want.is_fatal());
        }
        let (_, _, err) = same_every_way(b"HTTP/1.1 2000 OK\r\n\r\n");
        assert!(matches!(err, Some(ResponseError::Http(_))));
        assert!(!err.unwrap().is_fatal());
        let body = "5\r\ndata:\r\nzz\r\n";
        let (p, _, err) = same_every_way(&response("Transfer-Encoding: chunked\r\n", body));
        assert_eq!(p, [Progress::Open]);
        assert!(matches!(err, Some(ResponseError::Http(_))), "{err:?}");
    }

    #[test]
    fn request_and_reconnect() {
        let mut core = EventSourceCore::new(ParserConfig::default(), Limits::default());
        let mut out = BytesMut::new();
        core.start("h:1", "/f?x", &mut out);
        assert_eq!(
            &out[..],
            b"GET /f?x HTTP/1.1\r\nHost: h:1\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n"
        );
        let mut input = BytesMut::from(&response("", "retry: 50\nid: 4\ndata: a\n\ndata: cut")[..]);
        let mut events = Vec::new();
        assert_eq!(core.receive(&mut input, &mut events), Ok(Progress::Open));
        assert_eq!(
            core.receive(&mut input, &mut events),
            Ok(Progress::NeedMore)
        );
        core.disconnected();
        assert_eq!(core.receive(&mut input, &mut events), Ok(Progress::End));
        assert_eq!(events.len(), 1);
        assert_eq!(core.reconnection_time(), Some(Duration::from_millis(50)));
        out.clear();
        core.start("h:1", "/f?x", &mut out);
        assert!(out.ends_with(b"Last-Event-ID: 4\r\n\r\n"));
        // The cut event never arrives on the next stream.
        let mut input = BytesMut::from(&response("", "data: b\n\n")[..]);
        assert_eq!(core.receive(&mut input, &mut events), Ok(Progress::Open));
        assert_eq!(
            core.receive(&mut input, &mut events),
            Ok(Progress::NeedMore)
        );
        let data: Vec<_> = events.iter().map(|e| e.data.as_str()).collect();
        assert_eq!(data, ["a", "b"]);
        core.set_last_event_id("x\ny");
        out.clear();
        core.start("h", "/", &mut out);
        assert!(!out.windows(13).any(|w| w == b"Last-Event-ID"));
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
