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

impl StartLine for Request {
    fn parse(
        line: &[u8],
        offset: usize,
        limits: &Limits,
        index: &mut HeadIndex,
    ) -> Result<(), ParseError> {
        let parts = match quick_request_line(line, limits) {
            Some(parts) => parts,
            None => request_line(line, limits)?,
        };
        index.version = Some(parts.version);
        index.parts = parts.spans(offset);
        Ok(())
    }

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
        let (mut hosts, mut host, mut framed, mut chunked) = (0, None, false, false);
        // Telling names apart by length first leaves one comparison for
        // the few fields whose length fits.
        for (span, value) in index.headers.iter() {
            let name = || span.slice(buf);
            match span.end - span.start {
                4 if name().eq_ignore_ascii_case(b"host") => {
                    hosts += 1;
                    host = Some(value.slice(buf));
                }
                14 => framed |= name().eq_ignore_ascii_case(b"content-length"),
                17 if name().eq_ignore_ascii_case(b"transfer-encoding") => {
                    framed = true;
                    chunked = true;
                }
                _ => {}
            }
        }
        // RFC 9112 §3.2: exactly one Host in HTTP/1.1, at most one before.
        if hosts > 1 || (hosts == 0 && index.version == Some(Version::Http11)) {
            return Err(ParseError::BadHost);
        }
        if host.is_some_and(|value| !is_host_value(value)) {
            return Err(ParseError::InvalidHost);
        }
        // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means the
        // framing is faulty (1.0 has no chunked coding, and a 1.0 proxy
        // would pass the body on as if it had none). We answer 400 and
        // close rather than guess where the body ends.
        if chunked && index.version == Some(Version::Http10) {
            return Err(ParseError::TransferEncodingInHttp10);
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

// ANCHOR: quick_request_line
/// The lengths of a request line's parts, and its version.
struct RequestLine {
    method: usize,
    target: usize,
    version: Version,
}

impl RequestLine {
    fn spans(&self, offset: usize) -> [super::Span; 3] {
        let target_start = self.method + 1;
        [
            span(offset, 0, self.method),
            span(offset, target_start, self.target),
            span(offset, target_start + self.target + 1, 8),
        ]
    }
}

/// The usual request line, `token SP /path SP HTTP/1.x`, checked in one
/// pass (splitting at spaces first and then checking each part looked at
/// every byte twice). `None` for anything else, even a valid line (say an
/// absolute-form target): the careful checks in `parse` then decide, and
/// on a line this accepts they would find the same parts.
fn quick_request_line(line: &[u8], limits: &Limits) -> Option<RequestLine> {
    let method = line.iter().position(|&b| !is_token(b))?;
    if method == 0 || method > limits.max_method_len || line[method] != b' ' {
        return None;
    }
    let rest = &line[method + 1..];
    if rest.first() != Some(&b'/') || &line[..method] == b"CONNECT" {
        return None;
    }
    let target = rest.iter().position(|&b| !(0x21..=0x7e).contains(&b))?;
    if target > limits.max_target_len || rest[target] != b' ' {
        return None;
    }
    let version = match &rest[target + 1..] {
        b"HTTP/1.1" => Version::Http11,
        b"HTTP/1.0" => Version::Http10,
        _ => return None,
    };
    Some(RequestLine {
        method,
        target,
        version,
    })
}
// ANCHOR_END: quick_request_line

// ANCHOR: request_line
/// `method SP request-target SP HTTP-version`, every rule checked, each
/// refusal with its own error.
fn request_line(line: &[u8], limits: &Limits) -> Result<RequestLine, ParseError> {
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
    Ok(RequestLine {
        method: method.len(),
        target: target.len(),
        version: parse_version(version)?,
    })
}
// ANCHOR_END: request_line

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

// ANCHOR: host_value
/// `uri-host [ ":" port ]` (RFC 9110 §7.2, RFC 3986 §3.2.2), or empty
/// (RFC 9112 §3.2 asks for an empty Host when the target has no
/// authority). The host is an IP literal in brackets, or registered-name
/// characters: unreserved, `%`-escapes and sub-delimiters — except the
/// comma, which makes the value a list of hosts, and a singleton field
/// cannot be a list. Userinfo (`user@`) is not part of a Host.
fn is_host_value(value: &[u8]) -> bool {
    let (host, port) = if value.first() == Some(&b'[') {
        let Some(close) = value.iter().position(|&b| b == b']') else {
            return false;
        };
        let literal = &value[1..close];
        let ip_literal = !literal.is_empty()
            && literal
                .iter()
                .all(|&b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.' | b'v' | b'V'));
        if !ip_literal {
            return false;
        }
        (&value[..0], &value[close + 1..])
    } else {
        match value.iter().position(|&b| b == b':') {
            Some(colon) => (&value[..colon], &value[colon..]),
            None => (value, &value[value.len()..]),
        }
    };
    let reg_name = host.iter().all(|&b| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'%'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b';'
                    | b'='
            )
    });
    let port_ok = match port.split_first() {
        None => true,
        Some((b':', digits)) => digits.iter().all(u8::is_ascii_digit),
        Some(_) => false,
    };
    reg_name && port_ok
}
// ANCHOR_END: host_value

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
    /// Always false in HTTP/1.0: RFC 9110 §7.8 has a server ignore
    /// `Upgrade` there, so such a request is treated as if it had none.
    pub fn upgrade_has(&self, protocol: &str) -> bool {
        self.version() == Version::Http11 && self.headers().has_token("upgrade", protocol)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-pass request line accepts only what the careful checks
    /// accept, with the same parts: every byte value at every position of
    /// a few lines, and at the method and target limits.
    #[test]
    fn quick_request_line_agrees_with_the_careful_checks() {
        let tight = Limits {
            max_method_len: 3,
            max_target_len: 6,
            ..Limits::default()
        };
        let lines: [&[u8]; 4] = [
            b"GET /a?b=c HTTP/1.1",
            b"OPTIONS * HTTP/1.0",
            b"CONNECT /x HTTP/1.1",
            b"GET http://h/ HTTP/1.1",
        ];
        for base in lines {
            for at in 0..base.len() {
                for b in 0..=255u8 {
                    let mut line = base.to_vec();
                    line[at] = b;
                    for limits in [Limits::default(), tight] {
                        if let Some(quick) = quick_request_line(&line, &limits) {
                            let careful = request_line(&line, &limits).unwrap();
                            assert_eq!(quick.spans(0), careful.spans(0), "{line:?}");
                            assert_eq!(quick.version, careful.version, "{line:?}");
                        }
                    }
                }
            }
        }
        assert!(quick_request_line(lines[0], &Limits::default()).is_some());
    }
}
