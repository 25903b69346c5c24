//! Property tests for the request-head parser:
//!
//! (a) heads generated from the RFC 9112 grammar parse to exactly the
//!     generated fields, whatever byte boundaries the input arrives at;
//! (b) differential: on arbitrary bytes and on mutated valid heads, our
//!     parser and `httparse` agree on accept/reject and on every field,
//!     except for the deliberate differences listed in
//!     `support/differential.rs`.
//!
//! `PROPTEST_CASES` sets the number of cases (CI runs 10,000).

use proptest::prelude::*;
use realtime_events::http::{Limits, ParseError, RequestParser, Status, Version};

#[path = "support/differential.rs"]
mod differential;

fn check_against_httparse(buf: &[u8]) -> Result<(), TestCaseError> {
    differential::check_against_httparse(buf).map_err(TestCaseError::fail)
}

// ---------------------------------------------------------------------
// Generators, straight from the grammar.

const TCHAR: &str = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

fn token() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(TCHAR.as_bytes().to_vec()), 1..12)
        .prop_map(|b| String::from_utf8(b).unwrap())
}

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(vec!["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"])
            .prop_map(String::from),
        token(),
    ]
}

fn origin_target() -> impl Strategy<Value = String> {
    // pchar-ish: unreserved, sub-delims, ':' '@', percent-escapes; then a query.
    let segment = "[A-Za-z0-9._~!$&'()*+,;=:@%-]{0,10}";
    (
        proptest::collection::vec(segment, 1..4),
        proptest::option::of("[A-Za-z0-9=&/?._-]{0,12}"),
    )
        .prop_map(|(segments, query)| {
            let mut t = String::new();
            for s in segments {
                t.push('/');
                t.push_str(&s);
            }
            if let Some(q) = query {
                t.push('?');
                t.push_str(&q);
            }
            t
        })
}

/// A field value: visible ASCII, obs-text and inner spaces/tabs, with no
/// whitespace at either end (that would be OWS, trimmed).
fn field_value() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        8 => 0x21u8..=0x7e,
        1 => Just(b' '),
        1 => Just(b'\t'),
        1 => 0x80u8..=0xff,
    ];
    proptest::collection::vec(byte, 0..24).prop_map(|mut v| {
        while matches!(v.first(), Some(b' ' | b'\t')) {
            v.remove(0);
        }
        while matches!(v.last(), Some(b' ' | b'\t')) {
            v.pop();
        }
        v
    })
}

#[derive(Debug, Clone)]
struct GeneratedHead {
    method: String,
    target: String,
    version: Version,
    headers: Vec<(String, Vec<u8>)>,
    /// OWS written before and after each value.
    padding: Vec<(String, String)>,
}

impl GeneratedHead {
    fn wire(&self) -> Vec<u8> {
        let mut out = format!(
            "{} {} {}\r\n",
            self.method,
            self.target,
            self.version.as_str()
        )
        .into_bytes();
        for ((name, value), (before, after)) in self.headers.iter().zip(&self.padding) {
            out.extend_from_slice(name.as_bytes());
            out.push(b':');
            out.extend_from_slice(before.as_bytes());
            out.extend_from_slice(value);
            out.extend_from_slice(after.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    }
}

fn generated_head() -> impl Strategy<Value = GeneratedHead> {
    let header =
        (token(), field_value()).prop_filter("framing and Host are set apart", |(n, _)| {
            !["host", "content-length", "transfer-encoding"]
                .contains(&n.to_ascii_lowercase().as_str())
        });
    (
        method(),
        origin_target(),
        prop_oneof![Just(Version::Http11), Just(Version::Http10)],
        proptest::collection::vec(header, 0..12),
        "[a-z0-9.-]{1,20}",
        any::<proptest::sample::Index>(),
        proptest::collection::vec(("[ \t]{0,2}", "[ \t]{0,2}"), 13),
    )
        .prop_map(
            |(method, target, version, mut headers, host, at, padding)| {
                let at = at.index(headers.len() + 1);
                headers.insert(at, ("Host".to_string(), host.into_bytes()));
                let padding = padding
                    .into_iter()
                    .map(|(a, b): (String, String)| (a, b))
                    .take(headers.len())
                    .collect();
                GeneratedHead {
                    method,
                    target,
                    version,
                    headers,
                    padding,
                }
            },
        )
}

/// Random cut points, sorted: the buffer grows through them as reads would.
fn cuts(len: usize, raw: &[proptest::sample::Index]) -> Vec<usize> {
    let mut cuts: Vec<usize> = raw.iter().map(|i| i.index(len + 1)).collect();
    cuts.push(len);
    cuts.sort_unstable();
    cuts
}

proptest! {
    /// (a) A generated head parses to exactly what was generated, however it arrives.
    #[test]
    fn grammar_heads_parse_exactly(head in generated_head(), raw_cuts in proptest::collection::vec(any::<proptest::sample::Index>(), 0..6)) {
        let wire = head.wire();
        let mut parser = RequestParser::default();
        let mut result = None;
        for cut in cuts(wire.len(), &raw_cuts) {
            match parser.parse(&wire[..cut]) {
                Ok(Status::Partial) => prop_assert!(cut < wire.len(), "partial on a whole head"),
                Ok(Status::Complete(index)) => { result = Some(index); break; }
                Err(err) => return Err(TestCaseError::fail(format!("{err:?} for {:?}", String::from_utf8_lossy(&wire)))),
            }
        }
        let index = result.expect("the whole head was fed");
        let parsed = index.view(&wire);
        prop_assert_eq!(index.len(), wire.len());
        prop_assert_eq!(parsed.method(), head.method.as_str());
        prop_assert_eq!(parsed.target(), head.target.as_str());
        prop_assert_eq!(parsed.version(), head.version);
        let fields: Vec<(String, Vec<u8>)> = parsed.headers().iter().map(|(n, v)| (n.to_string(), v.to_vec())).collect();
        prop_assert_eq!(fields, head.headers);
    }
}

// ---------------------------------------------------------------------
// (b) Differential testing against httparse.

/// One edit to a valid head.
#[derive(Debug, Clone)]
enum Mutation {
    Replace(proptest::sample::Index, u8),
    Insert(proptest::sample::Index, u8),
    Delete(proptest::sample::Index),
}

fn interesting_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        4 => any::<u8>(),
        1 => proptest::sample::select(b" \t\r\n:\x00\x7f,;/\\\"".to_vec()),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<proptest::sample::Index>(), interesting_byte())
            .prop_map(|(i, b)| Mutation::Replace(i, b)),
        (any::<proptest::sample::Index>(), interesting_byte())
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<proptest::sample::Index>().prop_map(Mutation::Delete),
    ]
}

fn apply(mut wire: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        match m {
            Mutation::Replace(i, b) if !wire.is_empty() => {
                let at = i.index(wire.len());
                wire[at] = *b;
            }
            Mutation::Insert(i, b) => {
                let at = i.index(wire.len() + 1);
                wire.insert(at, *b);
            }
            Mutation::Delete(i) if !wire.is_empty() => {
                let at = i.index(wire.len());
                wire.remove(at);
            }
            _ => {}
        }
    }
    wire
}

/// Heads as people send them, with framing fields now and then, so that
/// the mutations reach the framing rules too.
fn differential_head() -> impl Strategy<Value = Vec<u8>> {
    (
        generated_head(),
        proptest::option::of(prop_oneof![
            Just("Content-Length: 5".to_string()),
            Just("Content-Length: 5, 5".to_string()),
            Just("Transfer-Encoding: chunked".to_string()),
            Just("Transfer-Encoding: gzip, chunked".to_string()),
        ]),
    )
        .prop_map(|(head, framing)| {
            let mut wire = head.wire();
            if let Some(field) = framing {
                let at = wire.len() - 2;
                wire.splice(at..at, format!("{field}\r\n").into_bytes());
            }
            wire
        })
}

proptest! {
    /// (b) Arbitrary bytes, terminated like a head so both parsers reach a verdict.
    #[test]
    fn differential_arbitrary_bytes(mut bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        bytes.extend_from_slice(b"\r\n\r\n");
        check_against_httparse(&bytes)?;
    }

    /// (b) Arbitrary bytes after a valid request-line prefix, to get past the method.
    #[test]
    fn differential_arbitrary_after_request_line(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut wire = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
        wire.extend_from_slice(&bytes);
        wire.extend_from_slice(b"\r\n\r\n");
        check_against_httparse(&wire)?;
    }

    /// (b) Valid heads with a few random edits: the interesting boundary.
    #[test]
    fn differential_mutated_heads(wire in differential_head(), mutations in proptest::collection::vec(mutation(), 1..4)) {
        check_against_httparse(&wire)?;
        check_against_httparse(&apply(wire, &mutations))?;
    }
}

// ---------------------------------------------------------------------
// (c) Whole against byte by byte. A head fed whole takes the one-pass
// path for its field lines; fed a byte at a time, every line is still
// arriving when first seen, so the careful path takes it. Both must give
// the same answer, error included, also at tight limits.

/// What one parse ended in, comparable across feeding styles.
fn verdict(
    result: Result<Status<realtime_events::http::HeadIndex>, ParseError>,
    buf: &[u8],
) -> String {
    match result {
        Ok(Status::Complete(index)) => {
            let head = index.view(buf);
            let fields: Vec<(&str, &[u8])> = head.headers().iter().collect();
            format!(
                "{} {} {:?} {fields:?} {:?} {}",
                head.method(),
                head.target(),
                head.version(),
                head.framing(),
                index.len()
            )
        }
        Ok(Status::Partial) => "partial".to_string(),
        Err(err) => format!("{err:?}"),
    }
}

fn whole_matches_bytewise(wire: &[u8], limits: Limits) -> Result<(), TestCaseError> {
    let whole = verdict(RequestParser::new(limits).parse(wire), wire);
    let mut parser = RequestParser::new(limits);
    let mut bytewise = "partial".to_string();
    for end in 1..=wire.len() {
        bytewise = verdict(parser.parse(&wire[..end]), &wire[..end]);
        if bytewise != "partial" {
            break;
        }
    }
    prop_assert_eq!(whole, bytewise, "{:?}", String::from_utf8_lossy(wire));
    Ok(())
}

fn tight_limits() -> impl Strategy<Value = Limits> {
    (20..400usize, 0..8usize).prop_map(|(max_head_bytes, max_headers)| {
        Limits::default()
            .with_max_head_bytes(max_head_bytes)
            .with_max_headers(max_headers)
    })
}

proptest! {
    /// (c) Mutated heads, at the default limits and at tight ones.
    #[test]
    fn whole_and_bytewise_agree(wire in differential_head(), mutations in proptest::collection::vec(mutation(), 0..4), limits in tight_limits()) {
        let wire = apply(wire, &mutations);
        whole_matches_bytewise(&wire, Limits::default())?;
        whole_matches_bytewise(&wire, limits)?;
    }
}

/// Inputs the fuzzer (`http_differential`) found; each stays a test.
#[test]
fn differential_fuzz_regressions() {
    let found: &[&[u8]] = &[
        // A target that is no form at all, in a head httparse is still reading.
        b"GET 1/echo HTTP/1.1\r\nHost: x\r\nUperade: websocket. 6\r\nCo7nnection: Upgrade\r\nSec-W",
        // A bare LF after skipped empty lines.
        b"\r\n\r\n\n",
    ];
    for input in found {
        differential::check_against_httparse(input).unwrap();
        let mut terminated = input.to_vec();
        terminated.extend_from_slice(b"\r\n\r\n");
        differential::check_against_httparse(&terminated).unwrap();
    }
}

/// The oracle's excuses look at the input: the same error on a head that
/// does not show the difference is not excused, and each head that does
/// show it is (including the Host and HTTP/1.0 framing refusals that are
/// stricter than our parser may be today).
#[test]
fn excuses_are_checked_against_the_input() {
    use differential::{explain, theirs, Difference, Verdict};
    use ParseError::*;
    let valid: &[&[u8]] = &[
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"POST /x HTTP/1.1\r\nHost: a:80\r\nContent-Length: 5, 5\r\n\r\n",
        b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"OPTIONS * HTTP/1.0\r\n\r\n",
        b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
    ];
    for buf in valid {
        let their = theirs(buf);
        assert!(matches!(their, Verdict::Accept { .. }));
        for spurious in [
            BadHost,
            InvalidContentLength,
            ContentLengthWithTransferEncoding,
            InvalidTransferEncoding,
            UnsupportedTransferEncoding,
            BodyTooLarge,
            InvalidTarget,
            MethodTooLong,
        ] {
            assert_eq!(
                explain(buf, &Verdict::Reject, Some(&spurious), &their),
                None,
                "{spurious:?} excused on {:?}",
                String::from_utf8_lossy(buf)
            );
        }
    }
    let shown: &[(&[u8], ParseError, Difference)] = &[
        (b"GET / HTTP/1.1\r\n\r\n", BadHost, Difference::HostRule),
        (b"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", BadHost, Difference::HostRule),
        (b"GET / HTTP/1.1\r\nHost: a, b\r\n\r\n", BadHost, Difference::HostRule),
        (b"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", BadHost, Difference::HostRule),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            ContentLengthWithTransferEncoding,
            Difference::Framing,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n",
            InvalidContentLength,
            Difference::Framing,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n",
            InvalidContentLength,
            Difference::Framing,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999\r\n\r\n",
            BodyTooLarge,
            Difference::Framing,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            UnsupportedTransferEncoding,
            Difference::Framing,
        ),
        (
            b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
            InvalidTransferEncoding,
            Difference::Framing,
        ),
        (b"GET * HTTP/1.1\r\nHost: a\r\n\r\n", InvalidTarget, Difference::TargetForm),
        (b"CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n", InvalidTarget, Difference::TargetForm),
        (b"GET a:80 HTTP/1.1\r\nHost: a\r\n\r\n", InvalidTarget, Difference::TargetForm),
        (
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGH / HTTP/1.1\r\nHost: a\r\n\r\n",
            MethodTooLong,
            Difference::Limit,
        ),
    ];
    for (buf, err, want) in shown {
        let got = explain(buf, &Verdict::Reject, Some(err), &theirs(buf));
        assert_eq!(
            got,
            Some(*want),
            "{err:?} on {:?}",
            String::from_utf8_lossy(buf)
        );
    }
}
