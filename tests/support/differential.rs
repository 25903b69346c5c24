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

/// The request-target of the first non-empty line, if it has one.
fn request_target(buf: &[u8]) -> Option<&[u8]> {
    let line = buf
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .find(|l| !l.is_empty())?;
    line.split(|&b| b == b' ').nth(1)
}

/// Which listed difference explains this disagreement, if any.
pub fn explain(
    buf: &[u8],
    our: &Verdict,
    err: Option<&ParseError>,
    their: &Verdict,
) -> Option<Difference> {
    use ParseError::*;
    match (our, err, their) {
        // httparse accepts a bare LF where we stop with an error.
        (Verdict::Reject, Some(BareLineEnd), _) if has_bare_line_end(buf) => {
            Some(Difference::BareLf)
        }
        (Verdict::Reject, Some(BadHost | InvalidHost), Verdict::Accept { .. }) => {
            Some(Difference::HostRule)
        }
        (
            Verdict::Reject,
            Some(
                InvalidContentLength
                | ContentLengthWithTransferEncoding
                | InvalidTransferEncoding
                | UnsupportedTransferEncoding
                | TransferEncodingInHttp10
                | BodyTooLarge,
            ),
            Verdict::Accept { .. },
        ) => Some(Difference::Framing),
        // httparse has no target rules: it accepts the line, or is still
        // waiting for the rest of the head.
        (Verdict::Reject, Some(InvalidTarget), Verdict::Accept { .. } | Verdict::Partial) => {
            if request_target(buf).is_some_and(|t| t.iter().any(|&b| b > 0x7f)) {
                Some(Difference::NonAsciiTarget)
            } else {
                Some(Difference::TargetForm)
            }
        }
        (Verdict::Reject, Some(MethodTooLong), _) => Some(Difference::Limit),
        (Verdict::Partial, None, Verdict::Reject) => {
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
