//! The request head: `method SP request-target SP HTTP-version CRLF`,
//! then field lines, then an empty line (RFC 9112 §3).

use super::head::{is_token, parse_version, HeadScanner, StartLine};
use super::{BodyFraming, HeadIndex, Headers, Limits, ParseError, Status, Version};

/// An incremental, allocation-light parser for request heads.
///
/// Feed it the bytes read so far; it remembers where it stopped, so a head
/// that arrives one byte at a time is still scanned once. After
/// `Complete`, the same parser is ready for the next pipelined request
/// (call it with the bytes after [`HeadIndex::len`]).
///
/// ```
/// use realtime_events::http::{RequestParser, Status};
/// let mut parser = RequestParser::default();
/// let wire = b"GET /ticker?x=1 HTTP/1.1\r\nHost: example.org\r\n\r\n";
/// assert_eq!(parser.parse(&wire[..10]).unwrap(), Status::Partial);
/// let Status::Complete(index) = parser.parse(wire).unwrap() else { unreachable!() };
/// let head = index.view(wire);
/// assert_eq!((head.method(), head.path(), head.query()), ("GET", "/ticker", Some("x=1")));
/// assert_eq!(index.len(), wire.len());
/// ```
#[derive(Debug, Clone)]
pub struct RequestParser {
    scanner: HeadScanner,
}

impl Default for RequestParser {
    fn default() -> Self {
        RequestParser::new(Limits::default())
    }
}

impl RequestParser {
    /// A parser that enforces `limits`.
    pub fn new(limits: Limits) -> Self {
        RequestParser {
            scanner: HeadScanner::new(limits),
        }
    }

    /// The limits this parser enforces.
    pub fn limits(&self) -> &Limits {
        self.scanner.limits()
    }

    /// Feeds the bytes of the head so far (see the type docs).
    ///
    /// # Errors
    /// A [`ParseError`] whose [`status`](ParseError::status) is the answer
    /// to send before closing the connection.
    pub fn parse(&mut self, buf: &[u8]) -> Result<Status<HeadIndex>, ParseError> {
        self.scanner.parse::<Request>(buf)
    }
}

/// The shape of a request-target (RFC 9112 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetForm {
    /// `/path?query`, what browsers send to servers.
    Origin,
    /// `http://host/path`, what clients send to proxies.
    Absolute,
    /// `host:port`, only with CONNECT.
    Authority,
    /// `*`, only with OPTIONS.
    Asterisk,
}

struct Request;

// ANCHOR: request_line
impl StartLine for Request {
    fn parse(
        line: &[u8],
        offset: usize,
        limits: &Limits,
        index: &mut HeadIndex,
    ) -> Result<(), ParseError> {
        let (method, rest) = split_at_space(line).ok_or(ParseError::MalformedRequestLine)?;
        let (target, version) = split_at_space(rest).ok_or(ParseError::MalformedRequestLine)?;
        if method.is_empty() || target.is_empty() {
            return Err(ParseError::MalformedRequestLine);
        }
        if method.len() > limits.max_method_len {
            return Err(ParseError::MethodTooLong);
        }
        if !method.iter().all(|&b| is_token(b)) {
            return Err(ParseError::InvalidMethod);
        }
        if target.len() > limits.max_target_len {
            return Err(ParseError::TargetTooLong);
        }
        // Visible ASCII only: anything else must be percent-encoded.
        if !target.iter().all(|&b| (0x21..=0x7e).contains(&b)) {
            return Err(ParseError::InvalidTarget);
        }
        target_form(method, target)?;
        index.version = Some(parse_version(version)?);
        let target_start = method.len() + 1;
        index.parts = [
            span(offset, 0, method.len()),
            span(offset, target_start, target.len()),
            span(offset, target_start + target.len() + 1, version.len()),
        ];
        Ok(())
    }
    // ANCHOR_END: request_line

    fn check_partial(line: &[u8], limits: &Limits) -> Result<(), ParseError> {
        // The longest request line we could accept; past it, say why.
        let longest = limits.max_method_len + limits.max_target_len + b"  HTTP/1.1".len();
        if line.len() <= longest {
            return Ok(());
        }
        match line.iter().position(|&b| b == b' ') {
            Some(sp) if sp <= limits.max_method_len => Err(ParseError::TargetTooLong),
            _ => Err(ParseError::MethodTooLong),
        }
    }

    fn finish(buf: &[u8], index: &mut HeadIndex, limits: &Limits) -> Result<(), ParseError> {
        // One pass over the names finds what the checks below need; asking
        // `Headers` for each name was a pass per name, 15% of a parse.
        let (mut hosts, mut framed) = (0, false);
        // Telling names apart by length first leaves one comparison for
        // the few fields whose length fits.
        for (span, _) in index.headers.iter() {
            let name = || span.slice(buf);
            match span.end - span.start {
                4 => hosts += usize::from(name().eq_ignore_ascii_case(b"host")),
                14 => framed |= name().eq_ignore_ascii_case(b"content-length"),
                17 => framed |= name().eq_ignore_ascii_case(b"transfer-encoding"),
                _ => {}
            }
        }
        // RFC 9112 §3.2: exactly one Host in HTTP/1.1, at most one before.
        if hosts > 1 || (hosts == 0 && index.version == Some(Version::Http11)) {
            return Err(ParseError::BadHost);
        }
        // With neither field there is no body, which is what `of_request`
        // would say too; only a head that frames a body needs its rules.
        index.framing = if framed {
            BodyFraming::of_request(&Headers::new(buf, &index.headers), limits)?
        } else {
            BodyFraming::Empty
        };
        Ok(())
    }
}

fn span(offset: usize, at: usize, len: usize) -> super::Span {
    super::Span {
        start: offset + at,
        end: offset + at + len,
    }
}

/// Splits at the first space: exactly one SP separates the parts.
fn split_at_space(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let sp = bytes.iter().position(|&b| b == b' ')?;
    Some((&bytes[..sp], &bytes[sp + 1..]))
}

fn target_form(method: &[u8], target: &[u8]) -> Result<TargetForm, ParseError> {
    let form = if target.starts_with(b"/") {
        TargetForm::Origin
    } else if target == b"*" {
        TargetForm::Asterisk
    } else if is_absolute(target) {
        TargetForm::Absolute
    } else {
        TargetForm::Authority
    };
    let fits = match form {
        TargetForm::Asterisk => method == b"OPTIONS",
        TargetForm::Authority => method == b"CONNECT" && is_authority(target),
        TargetForm::Origin | TargetForm::Absolute => method != b"CONNECT",
    };
    if fits {
        Ok(form)
    } else {
        Err(ParseError::InvalidTarget)
    }
}

/// `scheme ":" hier-part`, where scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
fn is_absolute(target: &[u8]) -> bool {
    let Some(colon) = target.iter().position(|&b| b == b':') else {
        return false;
    };
    let scheme = &target[..colon];
    scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        && target[colon + 1..].starts_with(b"//")
}

/// `host ":" port` with a non-empty host and a decimal port.
fn is_authority(target: &[u8]) -> bool {
    match target.iter().rposition(|&b| b == b':') {
        Some(colon) => {
            colon > 0
                && colon + 1 < target.len()
                && target[colon + 1..].iter().all(u8::is_ascii_digit)
                && !target[..colon].contains(&b'/')
        }
        None => false,
    }
}

/// A parsed request head, read through its [`HeadIndex`] over the bytes it
/// was parsed from.
#[derive(Debug, Clone, Copy)]
pub struct RequestHead<'a> {
    buf: &'a [u8],
    index: &'a HeadIndex,
}

impl HeadIndex {
    /// Views this (request) index over the bytes it was parsed from.
    pub fn view<'a>(&'a self, buf: &'a [u8]) -> RequestHead<'a> {
        RequestHead { buf, index: self }
    }
}

impl<'a> RequestHead<'a> {
    fn text(&self, i: usize) -> &'a str {
        // Method and target were checked to be ASCII.
        std::str::from_utf8(self.index.parts[i].slice(self.buf)).unwrap_or_default()
    }

    /// The method, exactly as sent (methods are case-sensitive).
    pub fn method(&self) -> &'a str {
        self.text(0)
    }

    /// The request-target as sent, query included.
    pub fn target(&self) -> &'a str {
        self.text(1)
    }

    /// Which of the four forms the target has.
    pub fn target_form(&self) -> TargetForm {
        target_form(self.method().as_bytes(), self.target().as_bytes())
            .unwrap_or(TargetForm::Origin)
    }

    /// The path: the target up to `?`, or the path of an absolute-form target.
    pub fn path(&self) -> &'a str {
        let target = self.target();
        let target = match self.target_form() {
            TargetForm::Absolute => {
                let after_scheme = target.find("//").map_or(target, |i| &target[i + 2..]);
                after_scheme.find('/').map_or("/", |i| &after_scheme[i..])
            }
            _ => target,
        };
        target.split('?').next().unwrap_or(target)
    }

    /// The query, without its `?`.
    pub fn query(&self) -> Option<&'a str> {
        self.target().split_once('?').map(|(_, q)| q)
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

    /// How the body is framed (already validated).
    pub fn framing(&self) -> BodyFraming {
        self.index.framing
    }

    /// The validated Content-Length, if the body has one.
    pub fn content_length(&self) -> Option<u64> {
        match self.index.framing {
            BodyFraming::Length(n) => Some(n),
            BodyFraming::Empty if self.header("content-length").is_some() => Some(0),
            _ => None,
        }
    }

    /// Whether the `Connection` field lists `token` (`close`, `upgrade`, ...).
    pub fn connection_has(&self, token: &str) -> bool {
        self.headers().has_token("connection", token)
    }

    /// Whether the `Upgrade` field lists `protocol` (case-insensitive).
    pub fn upgrade_has(&self, protocol: &str) -> bool {
        self.headers().has_token("upgrade", protocol)
    }

    /// The `Last-Event-ID` an EventSource sends when it reconnects.
    pub fn last_event_id(&self) -> Option<&'a str> {
        self.headers().get_str("last-event-id")
    }

    /// Whether the client wants the connection kept open after this
    /// request: the default in HTTP/1.1, opt-in in HTTP/1.0.
    pub fn keep_alive(&self) -> bool {
        match self.version() {
            Version::Http11 => !self.connection_has("close"),
            Version::Http10 => self.connection_has("keep-alive"),
        }
    }
}
