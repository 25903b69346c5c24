//! The differential oracle shared by the property test
//! (`tests/http_proptest.rs`) and the fuzz target (`fuzz_targets/http_differential.rs`):
//! run our parser and httparse on the same bytes and explain every
//! disagreement by one of the deliberate differences listed here.

use realtime_events::http::{Limits, ParseError, RequestParser, Status, Version};

// ANCHOR: differences
/// Where our parser and httparse are allowed to disagree, each for a
/// reason in the RFCs. Every disagreement the differential test finds
/// must be one of these, checked against the input that caused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Difference {
    /// RFC 9112 §2.2 lets a recipient accept a bare LF as a line end;
    /// httparse does, we refuse it (two parsers disagreeing on line ends
    /// is a smuggling vector).
    BareLf,
    /// RFC 9112 §3.2: a server must answer 400 to HTTP/1.1 without exactly
    /// one Host, or to a Host value that is not `uri-host[:port]` (RFC 9110
    /// §7.2). httparse parses syntax only.
    HostRule,
    /// RFC 9112 §6: body framing (Content-Length values, Transfer-Encoding
    /// codings, both at once, Transfer-Encoding in HTTP/1.0) is checked
    /// with the head. httparse leaves it
    /// to its caller.
    Framing,
    /// RFC 9112 §3.2: the target's form must fit the method (`*` only for
    /// OPTIONS, authority-form only for CONNECT). httparse does not check.
    TargetForm,
    /// RFC 9112 §3.2 / RFC 3986: a request-target is visible ASCII; we
    /// refuse raw bytes over 0x7F, which httparse lets through.
    NonAsciiTarget,
    /// Our limits (method length; see `Limits`) have no httparse twin.
    Limit,
    /// We judge a line once its CRLF has arrived (except line ends and
    /// limits, judged at once); httparse may refuse a bad byte at the start
    /// of an unfinished line. Checked: once the line ends, we refuse too.
    LineAtATime,
}
// ANCHOR_END: differences

/// What a parser made of the input.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    Accept {
        method: String,
        target: String,
        version: u8,
        headers: Vec<(String, Vec<u8>)>,
        len: usize,
    },
    Partial,
    Reject,
}

/// Our parser's verdict (and its error).
pub fn ours(buf: &[u8]) -> (Verdict, Option<ParseError>) {
    match RequestParser::new(Limits::default()).parse(buf) {
        Ok(Status::Complete(index)) => {
            let head = index.view(buf);
            let verdict = Verdict::Accept {
                method: head.method().to_string(),
                target: head.target().to_string(),
                version: if head.version() == Version::Http11 {
                    1
                } else {
                    0
                },
                headers: head
                    .headers()
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_vec()))
                    .collect(),
                len: index.len(),
            };
            (verdict, None)
        }
        Ok(Status::Partial) => (Verdict::Partial, None),
        Err(err) => (Verdict::Reject, Some(err)),
    }
}

/// httparse's verdict.
pub fn theirs(buf: &[u8]) -> Verdict {
    let mut headers = [httparse::EMPTY_HEADER; 100];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => Verdict::Accept {
            method: req.method.unwrap_or_default().to_string(),
            target: req.path.unwrap_or_default().to_string(),
            version: req.version.unwrap_or_default(),
            headers: req
                .headers
                .iter()
                .map(|h| (h.name.to_string(), h.value.to_vec()))
                .collect(),
            len,
        },
        Ok(httparse::Status::Partial) => Verdict::Partial,
        Err(_) => Verdict::Reject,
    }
}

/// Whether `buf` holds a line end that is not CRLF: a bare LF or a lone CR.
fn has_bare_line_end(buf: &[u8]) -> bool {
    buf.iter().enumerate().any(|(i, &b)| match b {
        b'\n' => i == 0 || buf[i - 1] != b'\r',
        b'\r' => buf.get(i + 1).is_some_and(|&next| next != b'\n'),
        _ => false,
    })
}

/// The first non-empty line (without its CR), as far as it has arrived.
fn first_line(buf: &[u8]) -> Option<&[u8]> {
    buf.split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .find(|l| !l.is_empty())
}

/// The request-target of the first non-empty line, if it has one.
fn request_target(buf: &[u8]) -> Option<&[u8]> {
    first_line(buf)?.split(|&b| b == b' ').nth(1)
}

/// The head as httparse read it: what the checks below look at, so that
/// none of them trusts our own parser's reading of the input.
struct Theirs<'a> {
    method: &'a str,
    target: &'a str,
    version: u8,
    headers: &'a [(String, Vec<u8>)],
}

impl<'a> Theirs<'a> {
    fn of(verdict: &'a Verdict) -> Option<Self> {
        match verdict {
            Verdict::Accept {
                method,
                target,
                version,
                headers,
                ..
            } => Some(Theirs {
                method,
                target,
                version: *version,
                headers,
            }),
            _ => None,
        }
    }

    /// The values of every field named `name`, trimmed.
    fn values(&self, name: &str) -> Vec<&'a [u8]> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| trim(v))
            .collect()
    }

    /// The comma-separated elements of every `name` field, empty ones
    /// skipped (RFC 9110 §5.6.1).
    fn elements(&self, name: &str) -> Vec<&'a [u8]> {
        self.values(name)
            .into_iter()
            .flat_map(|v| v.split(|&b| b == b','))
            .map(trim)
            .filter(|e| !e.is_empty())
            .collect()
    }

    /// RFC 9112 §3.2: HTTP/1.1 needs exactly one Host, HTTP/1.0 at most
    /// one; and a Host is `host[:port]`, so a list (a comma) or userinfo
    /// (an `@`) is no Host at all.
    fn host_is_wrong(&self) -> bool {
        let hosts = self.values("host");
        match hosts.as_slice() {
            [] => self.version == 1,
            [one] => !host_grammar(one),
            _ => true,
        }
    }

    /// RFC 9112 §6: the framing fields break a rule. `variant` is our
    /// error; the input must show that very fault.
    fn framing_is_wrong(&self, variant: &ParseError) -> bool {
        let has_te = !self.values("transfer-encoding").is_empty();
        let has_cl = !self.values("content-length").is_empty();
        // Transfer-Encoding is HTTP/1.1's: an HTTP/1.0 message with it
        // cannot be framed safely (RFC 9112 §6.1).
        let te_in_1_0 = has_te && self.version == 0;
        let lengths: Vec<Option<u64>> = self
            .elements("content-length")
            .into_iter()
            .map(decimal)
            .collect();
        let bad_length = has_cl
            && (lengths.is_empty()
                || lengths.iter().any(Option::is_none)
                || lengths.windows(2).any(|w| w[0] != w[1]));
        let codings = self.elements("transfer-encoding");
        // We implement chunked alone, so a coding list is good only when it
        // is exactly that: any other coding is refused (501), and so is
        // chunked twice or not last (400).
        let bad_codings =
            has_te && !matches!(codings.as_slice(), [c] if c.eq_ignore_ascii_case(b"chunked"));
        match variant {
            ParseError::ContentLengthWithTransferEncoding => has_te && has_cl,
            ParseError::InvalidContentLength => bad_length,
            ParseError::BodyTooLarge => {
                !has_te
                    && !bad_length
                    && lengths
                        .first()
                        .is_some_and(|n| n.unwrap_or(0) > Limits::default().max_body_bytes)
            }
            ParseError::TransferEncodingInHttp10 => te_in_1_0,
            ParseError::InvalidTransferEncoding | ParseError::UnsupportedTransferEncoding => {
                te_in_1_0 || (!has_cl && bad_codings)
            }
            _ => false,
        }
    }
}

/// RFC 9112 §3.2: which request-target forms fit which method. True when
/// `target` (visible ASCII) fits none.
fn target_form_is_wrong(method: &[u8], target: &[u8]) -> bool {
    let connect = method == b"CONNECT";
    if target.starts_with(b"/") {
        return connect;
    }
    if target == b"*" {
        return method != b"OPTIONS";
    }
    // absolute-form: scheme ":" "//" ..., scheme = ALPHA *(ALPHA / DIGIT / + - .)
    let absolute = target.iter().position(|&b| b == b':').is_some_and(|colon| {
        let scheme = &target[..colon];
        scheme.first().is_some_and(u8::is_ascii_alphabetic)
            && scheme
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
            && target[colon + 1..].starts_with(b"//")
    });
    if absolute {
        return connect;
    }
    // authority-form, CONNECT only: host ":" port, a non-empty host
    // without a slash and a decimal port.
    let authority = target
        .iter()
        .rposition(|&b| b == b':')
        .is_some_and(|colon| {
            let (host, port) = (&target[..colon], &target[colon + 1..]);
            !host.is_empty()
                && !host.contains(&b'/')
                && !port.is_empty()
                && port.iter().all(u8::is_ascii_digit)
        });
    !(connect && authority)
}

/// The method, as far as it has arrived, is longer than our limit.
fn method_is_too_long(buf: &[u8]) -> bool {
    let Some(line) = first_line(buf) else {
        return false;
    };
    let method = line.split(|&b| b == b' ').next().unwrap_or_default();
    method.len() > Limits::default().max_method_len
}

fn trim(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

fn decimal(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// Which listed difference explains this disagreement, if any. Each is
/// granted only when the input itself shows the difference (read by
/// httparse, or from the raw bytes), never on our error variant alone: a
/// spurious refusal of a valid head must stay a failure.
pub fn explain(
    buf: &[u8],
    our: &Verdict,
    err: Option<&ParseError>,
    their: &Verdict,
) -> Option<Difference> {
    use ParseError::*;
    let theirs = Theirs::of(their);
    match (our, err) {
        // httparse accepts a bare LF where we stop with an error.
        (Verdict::Reject, Some(BareLineEnd)) if has_bare_line_end(buf) => Some(Difference::BareLf),
        (Verdict::Reject, Some(BadHost | InvalidHost)) => theirs
            .filter(Theirs::host_is_wrong)
            .map(|_| Difference::HostRule),
        (
            Verdict::Reject,
            Some(
                variant @ (InvalidContentLength
                | ContentLengthWithTransferEncoding
                | InvalidTransferEncoding
                | UnsupportedTransferEncoding
                | TransferEncodingInHttp10
                | BodyTooLarge),
            ),
        ) => theirs
            .filter(|t| t.framing_is_wrong(variant))
            .map(|_| Difference::Framing),
        // httparse has no target rules: it accepts the line, or is still
        // waiting for the rest of the head.
        (Verdict::Reject, Some(InvalidTarget))
            if matches!(their, Verdict::Accept { .. } | Verdict::Partial) =>
        {
            let target = request_target(buf)?;
            if target.iter().any(|&b| b > 0x7f) {
                return Some(Difference::NonAsciiTarget);
            }
            let method = match &theirs {
                Some(t) => {
                    // httparse read the same line: it must agree on the target.
                    if t.target.as_bytes() != target {
                        return None;
                    }
                    t.method.as_bytes()
                }
                None => first_line(buf)?.split(|&b| b == b' ').next()?,
            };
            target_form_is_wrong(method, target).then_some(Difference::TargetForm)
        }
        (Verdict::Reject, Some(MethodTooLong)) if method_is_too_long(buf) => {
            Some(Difference::Limit)
        }
        (Verdict::Partial, None) if matches!(their, Verdict::Reject) => {
            let mut finished = buf.to_vec();
            finished.extend_from_slice(b"\r\n");
            matches!(ours(&finished).0, Verdict::Reject).then_some(Difference::LineAtATime)
        }
        _ => None,
    }
}

/// `Ok` when both parsers agree or a listed difference explains why not.
pub fn check_against_httparse(buf: &[u8]) -> Result<(), String> {
    let (our, err) = ours(buf);
    let their = theirs(buf);
    if our == their {
        return Ok(());
    }
    match explain(buf, &our, err.as_ref(), &their) {
        Some(_) => Ok(()),
        None => Err(format!(
            "unexplained disagreement on {:?}\n ours:   {our:?} ({err:?})\n theirs: {their:?}",
            String::from_utf8_lossy(buf)
        )),
    }
}

/// RFC 3986 §3.2.2 and RFC 9110 §7.2, written apart from the parser's
/// own check: `uri-host [ ":" port ]` or empty, where the host is an IP
/// literal in brackets or a reg-name (unreserved, pct-encoded, sub-delims)
/// less the comma, which would make a singleton field a list.
fn host_grammar(value: &[u8]) -> bool {
    let (host, rest): (&[u8], &[u8]) = if let Some(inner) = value.strip_prefix(b"[") {
        match inner.iter().position(|&b| b == b']') {
            Some(end) if end > 0 => {
                let literal = &inner[..end];
                if !literal
                    .iter()
                    .all(|b| b.is_ascii_hexdigit() || b":.vV".contains(b))
                {
                    return false;
                }
                (b"", &inner[end + 1..])
            }
            _ => return false,
        }
    } else {
        let colon = value.iter().position(|&b| b == b':').unwrap_or(value.len());
        value.split_at(colon)
    };
    let reg_name_ok = host
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~%!$&'()*+;=".contains(b));
    let port_ok = rest.is_empty() || (rest[0] == b':' && rest[1..].iter().all(u8::is_ascii_digit));
    reg_name_ok && port_ok
}
