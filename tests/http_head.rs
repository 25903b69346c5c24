//! One test per parsing rule of the request head (RFC 9112), each case fed
//! whole, one byte at a time, and followed by the next pipelined request:
//! all three must give the same answer.

use realtime_events::http::{
    BodyFraming, Limits, ParseError, RequestParser, Status, TargetForm, Version,
};

/// What a parse ended in, in a form the three feeding styles can compare.
#[derive(Debug, PartialEq)]
enum Outcome {
    Head {
        method: String,
        target: String,
        version: Version,
        headers: Vec<(String, Vec<u8>)>,
        framing: BodyFraming,
        len: usize,
    },
    Partial,
    Error(ParseError),
}

fn outcome(parser: &mut RequestParser, buf: &[u8]) -> Outcome {
    match parser.parse(buf) {
        Ok(Status::Complete(index)) => {
            let head = index.view(buf);
            Outcome::Head {
                method: head.method().to_string(),
                target: head.target().to_string(),
                version: head.version(),
                headers: head
                    .headers()
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_vec()))
                    .collect(),
                framing: head.framing(),
                len: index.len(),
            }
        }
        Ok(Status::Partial) => Outcome::Partial,
        Err(err) => Outcome::Error(err),
    }
}

fn parse_with(limits: Limits, input: &[u8]) -> Outcome {
    let whole = outcome(&mut RequestParser::new(limits), input);

    // Byte by byte, growing the buffer as a socket would.
    let mut parser = RequestParser::new(limits);
    let mut bytewise = Outcome::Partial;
    for end in 1..=input.len() {
        bytewise = outcome(&mut parser, &input[..end]);
        if bytewise != Outcome::Partial {
            break;
        }
    }
    assert_eq!(whole, bytewise, "whole vs byte-by-byte for {input:?}");

    // With the next pipelined request behind it.
    let mut followed = input.to_vec();
    followed.extend_from_slice(b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
    let trailing = outcome(&mut RequestParser::new(limits), &followed);
    if let Outcome::Head { .. } = whole {
        assert_eq!(whole, trailing, "whole vs followed for {input:?}");
    }
    whole
}

fn parse(input: &[u8]) -> Outcome {
    parse_with(Limits::default(), input)
}

fn error(input: &[u8]) -> ParseError {
    match parse(input) {
        Outcome::Error(err) => err,
        other => panic!("expected an error for {input:?}, got {other:?}"),
    }
}

fn status(input: &[u8]) -> u16 {
    error(input).status().as_u16()
}

fn head(input: &[u8]) -> (String, String, Version, Vec<(String, Vec<u8>)>) {
    match parse(input) {
        Outcome::Head {
            method,
            target,
            version,
            headers,
            len,
            ..
        } => {
            assert_eq!(len, input.len(), "consumed length");
            (method, target, version, headers)
        }
        other => panic!("expected a head for {input:?}, got {other:?}"),
    }
}

#[test]
fn minimal_get() {
    let (method, target, version, headers) = head(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!((method.as_str(), target.as_str()), ("GET", "/"));
    assert_eq!(version, Version::Http11);
    assert_eq!(headers, vec![("Host".to_string(), b"a".to_vec())]);
}

#[test]
fn partial_heads_need_more() {
    for cut in [0, 1, 5, 14, 15, 16, 24, 25, 26] {
        let wire = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(parse(&wire[..cut]), Outcome::Partial, "cut at {cut}");
    }
}

#[test]
fn http_1_0_needs_no_host() {
    let (_, _, version, headers) = head(b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!((version, headers.len()), (Version::Http10, 0));
}

#[test]
fn other_versions_are_505() {
    for v in ["HTTP/2.0", "HTTP/1.2", "HTTP/0.9", "HTTP/3.0"] {
        let wire = format!("GET / {v}\r\nHost: a\r\n\r\n");
        assert_eq!(
            error(wire.as_bytes()),
            ParseError::UnsupportedVersion,
            "{v}"
        );
        assert_eq!(status(wire.as_bytes()), 505);
    }
}

#[test]
fn malformed_versions_are_400() {
    for v in ["HTTP/1", "http/1.1", "HTTP/1.1 ", "HTTP/11", "HTTP/a.b", ""] {
        let wire = format!("GET / {v}\r\nHost: a\r\n\r\n");
        assert_eq!(status(wire.as_bytes()), 400, "{v:?}");
    }
}

#[test]
fn method_must_be_a_token() {
    assert_eq!(
        error(b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n"),
        ParseError::InvalidMethod
    );
    assert_eq!(
        error(b"GE\x7fT / HTTP/1.1\r\nHost: a\r\n\r\n"),
        ParseError::InvalidMethod
    );
    let (method, ..) = head(b"M-SEARCH /upnp HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(method, "M-SEARCH");
}

#[test]
fn request_line_needs_single_spaces() {
    for line in [
        "GET  / HTTP/1.1",
        "GET /  HTTP/1.1",
        " GET / HTTP/1.1",
        "GET\t/ HTTP/1.1",
        "GET /",
        "GET",
    ] {
        let wire = format!("{line}\r\nHost: a\r\n\r\n");
        assert_eq!(status(wire.as_bytes()), 400, "{line:?}");
    }
}

#[test]
fn the_four_target_forms() {
    let cases: [(&str, &str, TargetForm); 4] = [
        ("GET", "/where?q=now", TargetForm::Origin),
        (
            "GET",
            "http://www.example.org/pub/WWW/TheProject.html",
            TargetForm::Absolute,
        ),
        ("CONNECT", "www.example.com:80", TargetForm::Authority),
        ("OPTIONS", "*", TargetForm::Asterisk),
    ];
    for (method, target, form) in cases {
        let wire = format!("{method} {target} HTTP/1.1\r\nHost: www.example.com\r\n\r\n");
        let mut parser = RequestParser::default();
        let Ok(Status::Complete(index)) = parser.parse(wire.as_bytes()) else {
            panic!("{wire:?} should parse");
        };
        let head = index.view(wire.as_bytes());
        assert_eq!((head.target(), head.target_form()), (target, form));
    }
}

#[test]
fn absolute_form_path_and_origin_query() {
    let wire = b"GET http://a.example/x/y?z=1 HTTP/1.1\r\nHost: a.example\r\n\r\n";
    let Ok(Status::Complete(index)) = RequestParser::default().parse(wire) else {
        panic!()
    };
    let head = index.view(wire);
    assert_eq!((head.path(), head.query()), ("/x/y", Some("z=1")));
}

#[test]
fn target_forms_must_fit_the_method() {
    assert_eq!(
        error(b"GET * HTTP/1.1\r\nHost: a\r\n\r\n"),
        ParseError::InvalidTarget
    );
    assert_eq!(
        error(b"CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n"),
        ParseError::InvalidTarget
    );
    assert_eq!(
        error(b"GET example.com:80 HTTP/1.1\r\nHost: a\r\n\r\n"),
        ParseError::InvalidTarget
    );
    assert_eq!(
        error(b"CONNECT example.com HTTP/1.1\r\nHost: a\r\n\r\n"),
        ParseError::InvalidTarget
    );
}

#[test]
fn target_bytes_are_visible_ascii() {
    assert_eq!(
        error(b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n"),
        ParseError::InvalidTarget
    );
    assert_eq!(
        error(b"GET /a\x00b HTTP/1.1\r\nHost: a\r\n\r\n"),
        ParseError::InvalidTarget
    );
    assert_eq!(
        error(b"GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n"),
        ParseError::InvalidTarget
    );
}

#[test]
fn field_name_is_a_token() {
    assert_eq!(
        error(b"GET / HTTP/1.1\r\nHost: a\r\nX(y): 1\r\n\r\n"),
        ParseError::InvalidHeaderName
    );
    assert_eq!(
        error(b"GET / HTTP/1.1\r\nHost: a\r\n: 1\r\n\r\n"),
        ParseError::InvalidHeaderName
    );
    assert_eq!(
        error(b"GET / HTTP/1.1\r\nHost: a\r\nX\xc3\xa9: 1\r\n\r\n"),
        ParseError::InvalidHeaderName
    );
}

#[test]
fn whitespace_before_colon_is_rejected() {
    assert_eq!(
        error(b"GET / HTTP/1.1\r\nHost : a\r\n\r\n"),
        ParseError::WhitespaceBeforeColon
    );
    assert_eq!(
        error(b"GET / HTTP/1.1\r\nHost: a\r\nX\t: 1\r\n\r\n"),
        ParseError::WhitespaceBeforeColon
    );
}

#[test]
fn field_line_without_colon_is_rejected() {
    assert_eq!(
        error(b"GET / HTTP/1.1\r\nHost: a\r\nJunk\r\n\r\n"),
        ParseError::MissingColon
    );
}

#[test]
fn field_values_are_trimmed_of_ows_only() {
    let (.., headers) = head(
        b"GET / HTTP/1.1\r\nHost:\t a \t\r\nX-Words:\t a b \t\r\nX-Empty:\r\nX-Spaces:    \r\n\r\n",
    );
    assert_eq!(headers[0].1, b"a");
    assert_eq!(headers[1].1, b"a b");
    assert_eq!(headers[2].1, b"");
    assert_eq!(headers[3].1, b"");
}

#[test]
fn obs_text_is_allowed_in_values() {
    let (.., headers) = head(b"GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf\xc3\xa9 \xff\r\n\r\n");
    assert_eq!(headers[1].1, b"caf\xc3\xa9 \xff");
}

#[test]
fn controls_in_values_are_rejected() {
    for bad in [b'\0', b'\x01', b'\x0b', b'\x0c', b'\x1f', b'\x7f'] {
        let mut wire = b"GET / HTTP/1.1\r\nHost: a\r\nX: a".to_vec();
        wire.push(bad);
        wire.extend_from_slice(b"b\r\n\r\n");
        assert_eq!(
            error(&wire),
            ParseError::InvalidHeaderValue,
            "byte {bad:#x}"
        );
        assert_eq!(status(&wire), 400);
    }
}

#[test]
fn obs_fold_is_rejected() {
    assert_eq!(
        error(b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n"),
        ParseError::ObsoleteFold
    );
    assert_eq!(
        error(b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\t2\r\n\r\n"),
        ParseError::ObsoleteFold
    );
}

#[test]
fn bare_lf_and_bare_cr_are_rejected() {
    assert_eq!(
        error(b"GET / HTTP/1.1\nHost: a\r\n\r\n"),
        ParseError::BareLineEnd
    );
    assert_eq!(
        error(b"GET / HTTP/1.1\r\nHost: a\n\r\n"),
        ParseError::BareLineEnd
    );
    assert_eq!(
        error(b"GET / HTTP/1.1\r\nHost: a\r\n\n"),
        ParseError::BareLineEnd
    );
    assert_eq!(status(b"GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n"), 400);
    assert_eq!(status(b"GET / HTTP/1.1\r\r\nHost: a\r\n\r\n"), 400);
}

#[test]
fn leading_empty_lines_are_skipped() {
    let wire = b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    let (method, ..) = head(wire);
    assert_eq!(method, "GET");
}

#[test]
fn host_is_required_once_in_http_1_1() {
    assert_eq!(error(b"GET / HTTP/1.1\r\n\r\n"), ParseError::BadHost);
    assert_eq!(
        error(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
        ParseError::BadHost
    );
    assert_eq!(
        error(b"GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n"),
        ParseError::BadHost
    );
    assert_eq!(status(b"GET / HTTP/1.1\r\n\r\n"), 400);
}

#[test]
fn host_value_must_be_a_host_and_port() {
    for bad in [
        "a, b",
        "a,b",
        "user@a",
        "user:pw@a:80",
        "a b",
        "a/b",
        "a:8x",
        "[::1",
        "[]",
    ] {
        let wire = format!("GET / HTTP/1.1\r\nHost: {bad}\r\n\r\n");
        assert_eq!(error(wire.as_bytes()), ParseError::InvalidHost, "{bad}");
        assert_eq!(status(wire.as_bytes()), 400, "{bad}");
    }
    let http10 = b"GET / HTTP/1.0\r\nHost: user@a\r\n\r\n";
    assert_eq!(error(http10), ParseError::InvalidHost);
    for good in [
        "a",
        "a:80",
        "a:",
        "127.0.0.1:8080",
        "[::1]:9",
        "[::ffff:1.2.3.4]",
        "xn--bcher-kva.example",
        "",
    ] {
        let wire = format!("GET / HTTP/1.1\r\nHost: {good}\r\n\r\n");
        let (.., headers) = head(wire.as_bytes());
        assert_eq!(headers[0].1, good.as_bytes(), "{good}");
    }
}

#[test]
fn transfer_encoding_in_http_1_0_is_faulty_framing() {
    let wire =
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n0\r\n\r\n";
    assert_eq!(error(wire), ParseError::TransferEncodingInHttp10);
    assert_eq!(status(wire), 400);
    // Only the coding field matters: a 1.0 body with a length is fine.
    let framed = b"POST / HTTP/1.0\r\nContent-Length: 2\r\n\r\nab";
    assert_eq!(framing(framed), BodyFraming::Length(2));
}

#[test]
fn upgrade_is_ignored_in_http_1_0() {
    let wire = b"GET /echo HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n";
    let Ok(Status::Complete(index)) = RequestParser::default().parse(wire) else {
        panic!()
    };
    assert!(!index.view(wire).upgrade_has("websocket"));
}

#[test]
fn header_lookup_is_case_insensitive() {
    let wire = b"GET / HTTP/1.1\r\nHOST: a\r\nconnection: Keep-Alive, UPGRADE\r\nupgrade: WebSocket\r\nLast-Event-ID: 42\r\n\r\n";
    let Ok(Status::Complete(index)) = RequestParser::default().parse(wire) else {
        panic!()
    };
    let head = index.view(wire);
    assert_eq!(head.header("host"), Some(&b"a"[..]));
    assert!(head.connection_has("upgrade"));
    assert!(head.connection_has("keep-alive"));
    assert!(!head.connection_has("close"));
    assert!(head.upgrade_has("websocket"));
    assert_eq!(head.last_event_id(), Some("42"));
}

#[test]
fn keep_alive_defaults_differ_by_version() {
    let cases: [(&[u8], bool); 4] = [
        (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", true),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            false,
        ),
        (b"GET / HTTP/1.0\r\n\r\n", false),
        (b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true),
    ];
    for (wire, keep) in cases {
        let Ok(Status::Complete(index)) = RequestParser::default().parse(wire) else {
            panic!()
        };
        assert_eq!(index.view(wire).keep_alive(), keep, "{wire:?}");
    }
}

fn framing(wire: &[u8]) -> BodyFraming {
    match parse(wire) {
        Outcome::Head { framing, .. } => framing,
        other => panic!("{other:?}"),
    }
}

#[test]
fn content_length_framing() {
    assert_eq!(
        framing(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n"),
        BodyFraming::Length(5)
    );
    assert_eq!(
        framing(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"),
        BodyFraming::Empty
    );
    assert_eq!(
        framing(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
        BodyFraming::Empty
    );
    // The same value repeated is one length (RFC 9110 §8.6).
    assert_eq!(
        framing(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\n"),
        BodyFraming::Length(5)
    );
}

#[test]
fn bad_content_lengths_are_400() {
    for value in [
        "5, 6",
        "-1",
        "+5",
        "0x10",
        "5 5",
        "",
        "99999999999999999999999",
        "1.0",
    ] {
        let wire = format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {value}\r\n\r\n");
        assert_eq!(
            error(wire.as_bytes()),
            ParseError::InvalidContentLength,
            "{value:?}"
        );
    }
    assert_eq!(
        error(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
        ParseError::InvalidContentLength
    );
}

#[test]
fn content_length_over_the_limit_is_413() {
    let limits = Limits::default().with_max_body_bytes(100);
    let out = parse_with(
        limits,
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\n",
    );
    assert_eq!(out, Outcome::Error(ParseError::BodyTooLarge));
    assert_eq!(ParseError::BodyTooLarge.status().as_u16(), 413);
}

#[test]
fn chunked_framing_and_its_rules() {
    assert_eq!(
        framing(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"),
        BodyFraming::Chunked
    );
    assert_eq!(
        framing(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\n\r\n"),
        BodyFraming::Chunked
    );
    for value in ["chunked, chunked", "", ",", "chunked;x=1"] {
        let wire = format!("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: {value}\r\n\r\n");
        assert_eq!(
            error(wire.as_bytes()),
            ParseError::InvalidTransferEncoding,
            "{value:?}"
        );
    }
}

#[test]
fn unknown_transfer_codings_are_501() {
    for value in [
        "gzip, chunked",
        "gzip",
        "chunked, gzip",
        "xchunked",
        "identity",
    ] {
        let wire = format!("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: {value}\r\n\r\n");
        assert_eq!(
            error(wire.as_bytes()),
            ParseError::UnsupportedTransferEncoding,
            "{value:?}"
        );
        assert_eq!(status(wire.as_bytes()), 501);
    }
}

#[test]
fn content_length_with_transfer_encoding_is_400() {
    let wire =
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_eq!(error(wire), ParseError::ContentLengthWithTransferEncoding);
    assert_eq!(status(wire), 400);
}

#[test]
fn too_many_headers_is_431() {
    let limits = Limits::default().with_max_headers(3);
    let ok = b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n";
    assert!(matches!(parse_with(limits, ok), Outcome::Head { .. }));
    let over = b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    assert_eq!(
        parse_with(limits, over),
        Outcome::Error(ParseError::TooManyHeaders)
    );
    assert_eq!(ParseError::TooManyHeaders.status().as_u16(), 431);
}

#[test]
fn head_over_the_limit_is_431_even_unfinished() {
    let limits = Limits::default().with_max_head_bytes(64);
    let mut wire = b"GET / HTTP/1.1\r\nHost: a\r\nX: ".to_vec();
    wire.resize(65, b'a');
    // No line end yet: the limit still applies.
    assert_eq!(
        parse_with(limits, &wire),
        Outcome::Error(ParseError::HeadTooLarge)
    );
}

#[test]
fn head_of_exactly_the_limit_passes_and_one_byte_more_is_431() {
    // The last byte over the limit in a field line, then in the empty line.
    let wire = b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\n";
    for max_head_bytes in [wire.len() - 3, wire.len() - 1] {
        let limits = Limits::default().with_max_head_bytes(max_head_bytes);
        assert_eq!(
            parse_with(limits, wire),
            Outcome::Error(ParseError::HeadTooLarge)
        );
    }
    let exact = Limits::default().with_max_head_bytes(wire.len());
    assert!(matches!(parse_with(exact, wire), Outcome::Head { .. }));
}

#[test]
fn long_target_is_414_even_unfinished() {
    let limits = Limits::default().with_max_target_len(100);
    let mut wire = b"GET /".to_vec();
    wire.resize(200, b'a');
    assert_eq!(
        parse_with(limits, &wire),
        Outcome::Error(ParseError::TargetTooLong)
    );
    let mut whole = b"GET /".to_vec();
    whole.resize(105, b'a');
    whole.extend_from_slice(b" HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(
        parse_with(limits, &whole),
        Outcome::Error(ParseError::TargetTooLong)
    );
    assert_eq!(ParseError::TargetTooLong.status().as_u16(), 414);
}

#[test]
fn long_method_is_501() {
    let wire = format!("{} / HTTP/1.1\r\nHost: a\r\n\r\n", "X".repeat(40));
    assert_eq!(error(wire.as_bytes()), ParseError::MethodTooLong);
    assert_eq!(status(wire.as_bytes()), 501);
}

#[test]
fn parser_is_reusable_for_pipelined_requests() {
    let wire = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut parser = RequestParser::default();
    let Ok(Status::Complete(first)) = parser.parse(wire) else {
        panic!()
    };
    assert_eq!(first.view(wire).target(), "/a");
    let rest = &wire[first.len()..];
    let Ok(Status::Complete(second)) = parser.parse(rest) else {
        panic!()
    };
    assert_eq!(second.view(rest).target(), "/b");
    assert_eq!(first.len() + second.len(), wire.len());
}
