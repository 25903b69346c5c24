//! Responses: the head writer a server uses, and the head parser our
//! WebSocket and EventSource clients use.

use std::borrow::Cow;
use std::fmt::Write as _;

use bytes::{BufMut, BytesMut};

use super::head::{is_field_byte, is_token, parse_version, HeadScanner, StartLine};
use super::{BodyFraming, HeadIndex, Headers, Limits, ParseError, Status, StatusCode, Version};

/// A response head to write: status, fields, and (at encode time) how the
/// body is framed and whether the connection stays open.
///
/// ```
/// use bytes::BytesMut;
/// use realtime_events::http::{BodyFraming, ResponseHead, StatusCode};
/// let mut out = BytesMut::new();
/// ResponseHead::new(StatusCode::OK)
///     .header("Content-Type", "text/plain")
///     .encode(BodyFraming::Length(2), true, &mut out)
///     .unwrap();
/// assert_eq!(&out[..], b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// The status code.
    pub status: StatusCode,
    /// Header fields in the order they will be written.
    pub headers: Vec<(Cow<'static, str>, Cow<'static, str>)>,
}

/// Why a response head could not be written: a field that would break the
/// head apart (response splitting) if it were.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteError {
    /// A field name that is not a token.
    InvalidName(String),
    /// A field value with CR, LF or another control character.
    InvalidValue(String),
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteError::InvalidName(n) => write!(f, "invalid header name {n:?}"),
            WriteError::InvalidValue(n) => write!(f, "invalid value for header {n:?}"),
        }
    }
}

impl std::error::Error for WriteError {}

impl ResponseHead {
    /// A head with `status` and no fields yet.
    pub fn new(status: StatusCode) -> Self {
        ResponseHead {
            status,
            headers: Vec::new(),
        }
    }

    /// Adds a field (validated when encoded).
    pub fn header(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The first value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }

    // ANCHOR: encode
    /// Writes the head. `framing` adds `Content-Length` or
    /// `Transfer-Encoding: chunked`; `keep_alive == false` adds
    /// `Connection: close` unless a `Connection` field is already set
    /// (as in a 101 upgrade).
    ///
    /// # Errors
    /// [`WriteError`] if a field would inject a line into the head.
    pub fn encode(
        &self,
        framing: BodyFraming,
        keep_alive: bool,
        out: &mut BytesMut,
    ) -> Result<(), WriteError> {
        for (name, value) in &self.headers {
            if name.is_empty() || !name.bytes().all(is_token) {
                return Err(WriteError::InvalidName(name.to_string()));
            }
            if !value.bytes().all(is_field_byte) {
                return Err(WriteError::InvalidValue(name.to_string()));
            }
        }
        let code = self.status.as_u16();
        // `write!` into BytesMut cannot fail: it grows as needed.
        let _ = write!(out, "HTTP/1.1 {} {}\r\n", code, self.status.reason());
        for (name, value) in &self.headers {
            put_field(out, name, value);
        }
        let bodyless = (100..200).contains(&code) || code == 204 || code == 304;
        match framing {
            BodyFraming::Length(n) => {
                let _ = write!(out, "Content-Length: {n}\r\n");
            }
            BodyFraming::Empty if !bodyless => put_field(out, "Content-Length", "0"),
            BodyFraming::Chunked => put_field(out, "Transfer-Encoding", "chunked"),
            BodyFraming::Empty | BodyFraming::UntilClose => {}
        }
        let close = !keep_alive || framing == BodyFraming::UntilClose;
        if close && self.get("connection").is_none() {
            put_field(out, "Connection", "close");
        }
        out.put_slice(b"\r\n");
        Ok(())
    }
    // ANCHOR_END: encode
}

fn put_field(out: &mut BytesMut, name: &str, value: &str) {
    out.put_slice(name.as_bytes());
    out.put_slice(b": ");
    out.put_slice(value.as_bytes());
    out.put_slice(b"\r\n");
}

/// Writes one chunk of a chunked body (nothing for empty data, since an
/// empty chunk would end the body).
pub fn encode_chunk(data: &[u8], out: &mut BytesMut) {
    if data.is_empty() {
        return;
    }
    let _ = write!(out, "{:x}\r\n", data.len());
    out.put_slice(data);
    out.put_slice(b"\r\n");
}

/// Writes the last chunk of a chunked body, with no trailers.
pub fn encode_last_chunk(out: &mut BytesMut) {
    out.put_slice(b"0\r\n\r\n");
}

/// An incremental parser for response heads, the client-side twin of
/// [`RequestParser`](super::RequestParser).
#[derive(Debug, Clone)]
pub struct ResponseParser {
    scanner: HeadScanner,
}

impl Default for ResponseParser {
    fn default() -> Self {
        ResponseParser::new(Limits::default())
    }
}

impl ResponseParser {
    /// A parser that enforces `limits`.
    pub fn new(limits: Limits) -> Self {
        ResponseParser {
            scanner: HeadScanner::new(limits),
        }
    }

    /// Feeds the bytes of the head so far.
    ///
    /// # Errors
    /// A [`ParseError`] if the head is malformed or too large.
    pub fn parse(&mut self, buf: &[u8]) -> Result<Status<HeadIndex>, ParseError> {
        self.scanner.parse::<Response>(buf)
    }
}

struct Response;

impl StartLine for Response {
    fn parse(
        line: &[u8],
        offset: usize,
        _limits: &Limits,
        index: &mut HeadIndex,
    ) -> Result<(), ParseError> {
        // status-line = HTTP-version SP 3DIGIT SP [ reason-phrase ]
        let (version, rest) = match line.get(..8) {
            Some(v) if line.get(8) == Some(&b' ') => (v, &line[9..]),
            _ => return Err(ParseError::MalformedStatusLine),
        };
        let code = match rest.get(..3) {
            Some(&[a, b, c]) if [a, b, c].iter().all(u8::is_ascii_digit) && a != b'0' => {
                u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
            }
            _ => return Err(ParseError::MalformedStatusLine),
        };
        let reason = match rest.get(3) {
            None => &[][..],
            Some(b' ') => &rest[4..],
            Some(_) => return Err(ParseError::MalformedStatusLine),
        };
        if !reason.iter().all(|&b| is_field_byte(b)) {
            return Err(ParseError::MalformedStatusLine);
        }
        index.version = Some(parse_version(version)?);
        index.code = code;
        let reason_at = line.len() - reason.len();
        index.parts = [
            super::Span {
                start: offset,
                end: offset + 8,
            },
            super::Span {
                start: offset + 9,
                end: offset + 12,
            },
            super::Span {
                start: offset + reason_at,
                end: offset + line.len(),
            },
        ];
        Ok(())
    }

    fn check_partial(_line: &[u8], _limits: &Limits) -> Result<(), ParseError> {
        Ok(())
    }

    fn finish(_buf: &[u8], _index: &mut HeadIndex, _limits: &Limits) -> Result<(), ParseError> {
        // Framing depends on the request method, so it is worked out by
        // the caller with `BodyFraming::of_response`.
        Ok(())
    }
}

/// A parsed response head over the bytes it came from.
#[derive(Debug, Clone, Copy)]
pub struct ResponseView<'a> {
    buf: &'a [u8],
    index: &'a HeadIndex,
}

impl HeadIndex {
    /// Views this (response) index over the bytes it was parsed from.
    pub fn view_response<'a>(&'a self, buf: &'a [u8]) -> ResponseView<'a> {
        ResponseView { buf, index: self }
    }
}

impl<'a> ResponseView<'a> {
    /// The status code.
    pub fn status(&self) -> StatusCode {
        StatusCode(self.index.code)
    }

    /// The reason phrase as sent (may be empty).
    pub fn reason(&self) -> &'a [u8] {
        self.index.parts[2].slice(self.buf)
    }

    /// The protocol version.
    pub fn version(&self) -> Version {
        self.index.version.unwrap_or(Version::Http11)
    }

    /// The header fields.
    pub fn headers(&self) -> Headers<'a> {
        Headers::new(self.buf, &self.index.headers)
    }

    /// Shorthand for `headers().get(name)`.
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers().get(name)
    }

    /// How the body of this response to a `method` request is framed.
    ///
    /// # Errors
    /// A malformed Content-Length or Transfer-Encoding.
    pub fn framing(&self, method: &str) -> Result<BodyFraming, ParseError> {
        BodyFraming::of_response(&self.headers(), self.index.code, method)
    }
}
