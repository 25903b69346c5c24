//! The response writer and the client-side response parser.

use bytes::BytesMut;
use realtime_events::http::{
    encode_chunk, encode_last_chunk, BodyFraming, ParseError, ResponseHead, ResponseParser, Status,
    StatusCode, WriteError,
};

fn encode(head: &ResponseHead, framing: BodyFraming, keep_alive: bool) -> String {
    let mut out = BytesMut::new();
    head.encode(framing, keep_alive, &mut out).unwrap();
    String::from_utf8(out.to_vec()).unwrap()
}

#[test]
fn framing_fields_follow_the_body() {
    let head = ResponseHead::new(StatusCode::OK).header("X-A", "1");
    assert_eq!(
        encode(&head, BodyFraming::Length(5), true),
        "HTTP/1.1 200 OK\r\nX-A: 1\r\nContent-Length: 5\r\n\r\n"
    );
    assert_eq!(
        encode(&head, BodyFraming::Empty, true),
        "HTTP/1.1 200 OK\r\nX-A: 1\r\nContent-Length: 0\r\n\r\n"
    );
    assert_eq!(
        encode(&head, BodyFraming::Chunked, true),
        "HTTP/1.1 200 OK\r\nX-A: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    // A body that runs to the close forces the close.
    assert_eq!(
        encode(&head, BodyFraming::UntilClose, true),
        "HTTP/1.1 200 OK\r\nX-A: 1\r\nConnection: close\r\n\r\n"
    );
}

#[test]
fn connection_close_unless_already_set() {
    let head = ResponseHead::new(StatusCode::NOT_FOUND);
    assert_eq!(
        encode(&head, BodyFraming::Empty, false),
        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let upgrade = ResponseHead::new(StatusCode::SWITCHING_PROTOCOLS)
        .header("Connection", "Upgrade")
        .header("Upgrade", "websocket");
    assert_eq!(
        encode(&upgrade, BodyFraming::Empty, false),
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
    );
    // 204 and 304 carry no Content-Length.
    assert_eq!(
        encode(
            &ResponseHead::new(StatusCode::NO_CONTENT),
            BodyFraming::Empty,
            true
        ),
        "HTTP/1.1 204 No Content\r\n\r\n"
    );
}

#[test]
fn response_splitting_is_refused() {
    let mut out = BytesMut::new();
    let evil = ResponseHead::new(StatusCode::OK).header("Location", "/x\r\nSet-Cookie: a=b");
    assert_eq!(
        evil.encode(BodyFraming::Empty, true, &mut out),
        Err(WriteError::InvalidValue("Location".into()))
    );
    let evil = ResponseHead::new(StatusCode::OK).header("Bad Name", "x");
    assert_eq!(
        evil.encode(BodyFraming::Empty, true, &mut out),
        Err(WriteError::InvalidName("Bad Name".into()))
    );
    assert!(out.is_empty(), "nothing written on refusal");
}

#[test]
fn chunks_encode_in_hex_and_skip_empty_data() {
    let mut out = BytesMut::new();
    encode_chunk(&[b'x'; 26], &mut out);
    encode_chunk(b"", &mut out);
    encode_last_chunk(&mut out);
    assert_eq!(&out[..4], b"1a\r\n");
    assert!(out.ends_with(b"xx\r\n0\r\n\r\n"));
}

#[test]
fn response_heads_parse() {
    let wire = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x02hi";
    let Ok(Status::Complete(index)) = ResponseParser::default().parse(wire) else {
        panic!()
    };
    let view = index.view_response(wire);
    assert_eq!(view.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(view.reason(), b"Switching Protocols");
    assert!(view.headers().has_token("connection", "upgrade"));
    assert_eq!(&wire[index.len()..], b"\x81\x02hi");
    assert_eq!(view.framing("GET"), Ok(BodyFraming::Empty));
}

#[test]
fn response_framing_rules() {
    let cases: [(&[u8], &str, BodyFraming); 5] = [
        (
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n",
            "GET",
            BodyFraming::UntilClose,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET",
            BodyFraming::Chunked,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n",
            "GET",
            BodyFraming::Length(12),
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n",
            "HEAD",
            BodyFraming::Empty,
        ),
        (
            b"HTTP/1.1 204 No Content\r\n\r\n",
            "GET",
            BodyFraming::Empty,
        ),
    ];
    for (wire, method, framing) in cases {
        let Ok(Status::Complete(index)) = ResponseParser::default().parse(wire) else {
            panic!("{wire:?}")
        };
        assert_eq!(
            index.view_response(wire).framing(method),
            Ok(framing),
            "{wire:?}"
        );
    }
}

#[test]
fn bad_status_lines_are_refused() {
    for wire in [
        &b"HTTP/1.1 2000 OK\r\n\r\n"[..],
        b"HTTP/1.1 20 OK\r\n\r\n",
        b"HTTP/1.1  200 OK\r\n\r\n",
        b"ICY 200 OK\r\n\r\n",
        b"HTTP/1.1 200OK\r\n\r\n",
    ] {
        assert!(ResponseParser::default().parse(wire).is_err(), "{wire:?}");
    }
    assert_eq!(
        ResponseParser::default().parse(b"HTTP/2.0 200 OK\r\n\r\n"),
        Err(ParseError::UnsupportedVersion)
    );
    // A reason phrase may be empty.
    let Ok(Status::Complete(index)) = ResponseParser::default().parse(b"HTTP/1.1 200 \r\n\r\n")
    else {
        panic!()
    };
    assert_eq!(
        index.view_response(b"HTTP/1.1 200 \r\n\r\n").status(),
        StatusCode::OK
    );
}
