//! The opening handshake, sans-IO: every refusal with its status, the RFC
//! example, subprotocol choice, the Origin allow-list, and the client's
//! checks of the server's answer.

use realtime_events::http::{BodyFraming, RequestParser, ResponseParser, Status};
use realtime_events::ws::handshake::{accept, ClientRequest};
use realtime_events::ws::{Accepted, ClientHandshakeError, HandshakeConfig, HandshakeError};

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fn request(lines: &[&str]) -> String {
    let mut text = lines.join("\r\n");
    text.push_str("\r\n\r\n");
    text
}

fn good(extra: &[&str]) -> String {
    let mut lines = vec![
        "GET /chat HTTP/1.1",
        "Host: server.example.com",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    ];
    lines.extend_from_slice(extra);
    request(&lines)
}

fn check(wire: &str, config: &HandshakeConfig) -> Result<Accepted, HandshakeError> {
    let Ok(Status::Complete(index)) = RequestParser::default().parse(wire.as_bytes()) else {
        panic!("test request must parse: {wire:?}");
    };
    accept(&index.view(wire.as_bytes()), config)
}

fn refusal(wire: &str) -> (HandshakeError, u16) {
    let err = check(wire, &HandshakeConfig::default()).unwrap_err();
    let status = err.status().as_u16();
    (err, status)
}

#[test]
fn rfc_example_is_accepted_with_its_accept_value() {
    let accepted = check(&good(&[]), &HandshakeConfig::default()).unwrap();
    assert_eq!(accepted.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_eq!(accepted.protocol, None);
    let mut out = realtime_events::ws::BytesMut::new();
    accepted
        .response_head()
        .encode(BodyFraming::Empty, false, &mut out)
        .unwrap();
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
    );
}

#[test]
fn header_names_and_tokens_are_case_insensitive() {
    let wire = good(&[])
        .replace("Upgrade: websocket", "UPGRADE: WebSocket")
        .replace("Connection: Upgrade", "connection: keep-alive, upgrade");
    assert!(check(&wire, &HandshakeConfig::default()).is_ok());
}

#[test]
fn each_refusal_has_its_status() {
    let cases: Vec<(String, HandshakeError, u16)> = vec![
        (
            good(&[]).replace("GET", "POST"),
            HandshakeError::NotGet,
            405,
        ),
        // RFC 9110 §7.8: Upgrade is ignored in HTTP/1.0, so this is a plain
        // GET of a WebSocket-only resource.
        (
            good(&[]).replace("HTTP/1.1", "HTTP/1.0"),
            HandshakeError::NoUpgrade,
            426,
        ),
        (
            good(&[]).replace("Upgrade: websocket\r\n", ""),
            HandshakeError::NoUpgrade,
            426,
        ),
        (
            good(&[]).replace("Upgrade: websocket", "Upgrade: h2c"),
            HandshakeError::NoUpgrade,
            426,
        ),
        (
            good(&[]).replace("Connection: Upgrade", "Connection: keep-alive"),
            HandshakeError::NoConnectionUpgrade,
            400,
        ),
        (
            good(&[]).replace("Version: 13", "Version: 8"),
            HandshakeError::BadVersion,
            426,
        ),
        (
            good(&[]).replace("Sec-WebSocket-Version: 13\r\n", ""),
            HandshakeError::BadVersion,
            426,
        ),
        (
            good(&["Sec-WebSocket-Version: 13"]),
            HandshakeError::BadVersion,
            426,
        ),
        (
            good(&[]).replace(&format!("Sec-WebSocket-Key: {KEY}\r\n"), ""),
            HandshakeError::MissingKey,
            400,
        ),
        (
            good(&["Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA=="]),
            HandshakeError::DuplicateKey,
            400,
        ),
        // 15 bytes, 17 bytes, not base64, non-canonical padding bits.
        (
            good(&[]).replace(KEY, "AAAAAAAAAAAAAAAAAAAA"),
            HandshakeError::BadKey,
            400,
        ),
        (
            good(&[]).replace(KEY, "AAAAAAAAAAAAAAAAAAAAAAA="),
            HandshakeError::BadKey,
            400,
        ),
        (
            good(&[]).replace(KEY, "!!!!!!!!!!!!!!!!!!!!!!=="),
            HandshakeError::BadKey,
            400,
        ),
        (
            good(&[]).replace(KEY, "AAAAAAAAAAAAAAAAAAAAAB=="),
            HandshakeError::BadKey,
            400,
        ),
    ];
    for (wire, want, status) in cases {
        assert_eq!(refusal(&wire), (want, status), "{wire:?}");
    }
}

#[test]
fn refusals_carry_the_fields_the_rfc_asks_for() {
    assert!(HandshakeError::BadVersion
        .headers()
        .contains(&("Sec-WebSocket-Version", "13")));
    assert!(HandshakeError::NoUpgrade
        .headers()
        .contains(&("Upgrade", "websocket")));
    assert!(HandshakeError::NotGet.headers().contains(&("Allow", "GET")));
}

#[test]
fn subprotocol_is_the_servers_first_choice_among_the_offered() {
    let config = HandshakeConfig {
        protocols: vec!["chat.v2".into(), "chat.v1".into()],
        ..HandshakeConfig::default()
    };
    let offered = good(&["Sec-WebSocket-Protocol: chat.v1, chat.v2"]);
    assert_eq!(
        check(&offered, &config).unwrap().protocol.as_deref(),
        Some("chat.v2")
    );
    // Split over two fields, the same.
    let split = good(&[
        "Sec-WebSocket-Protocol: chat.v1",
        "Sec-WebSocket-Protocol: chat.v2",
    ]);
    assert_eq!(
        check(&split, &config).unwrap().protocol.as_deref(),
        Some("chat.v2")
    );
    let only_v1 = good(&["Sec-WebSocket-Protocol: soap, chat.v1"]);
    assert_eq!(
        check(&only_v1, &config).unwrap().protocol.as_deref(),
        Some("chat.v1")
    );
    // Nothing in common: accepted without a subprotocol; names are case-sensitive.
    let none = good(&["Sec-WebSocket-Protocol: CHAT.V2"]);
    let accepted = check(&none, &config).unwrap();
    assert_eq!(accepted.protocol, None);
    assert_eq!(accepted.response_head().get("sec-websocket-protocol"), None);
    let chosen = check(&offered, &config).unwrap().response_head();
    assert_eq!(chosen.get("sec-websocket-protocol"), Some("chat.v2"));
}

#[test]
fn origin_allow_list() {
    let config = HandshakeConfig {
        allowed_origins: Some(vec!["https://chat.example".into()]),
        ..HandshakeConfig::default()
    };
    assert!(check(&good(&["Origin: https://chat.example"]), &config).is_ok());
    assert!(check(&good(&["Origin: HTTPS://CHAT.EXAMPLE"]), &config).is_ok());
    let evil = check(&good(&["Origin: https://evil.example"]), &config).unwrap_err();
    assert_eq!(
        (evil.clone(), evil.status().as_u16()),
        (HandshakeError::OriginNotAllowed, 403)
    );
    let two = check(
        &good(&[
            "Origin: https://chat.example",
            "Origin: https://evil.example",
        ]),
        &config,
    )
    .unwrap_err();
    assert_eq!(two.status().as_u16(), 400);
    // Non-browser clients send no Origin; they could forge one anyway.
    assert!(check(&good(&[]), &config).is_ok());
    // Without a list, any origin is fine.
    assert!(check(
        &good(&["Origin: https://evil.example"]),
        &HandshakeConfig::default()
    )
    .is_ok());
}

fn client_verdict(
    req: &ClientRequest,
    response: &str,
) -> Result<Option<String>, ClientHandshakeError> {
    let Ok(Status::Complete(index)) = ResponseParser::default().parse(response.as_bytes()) else {
        panic!("test response must parse: {response:?}");
    };
    req.verify(&index.view_response(response.as_bytes()))
}

#[test]
fn client_checks_the_answer() {
    let mut req = ClientRequest::new("server.example.com", "/chat");
    req.key = KEY.to_string();
    req.protocols = vec!["chat.v1".into()];
    let ok = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    assert_eq!(client_verdict(&req, ok), Ok(None));
    let with_proto = ok.replace("\r\n\r\n", "\r\nSec-WebSocket-Protocol: chat.v1\r\n\r\n");
    assert_eq!(
        client_verdict(&req, &with_proto),
        Ok(Some("chat.v1".into()))
    );
    let cases = [
        (
            ok.replace("101 Switching Protocols", "200 OK"),
            ClientHandshakeError::Status(realtime_events::http::StatusCode::OK),
        ),
        (
            ok.replace("Upgrade: websocket\r\n", ""),
            ClientHandshakeError::NoUpgrade,
        ),
        (
            ok.replace("Connection: Upgrade", "Connection: close"),
            ClientHandshakeError::NoConnectionUpgrade,
        ),
        (
            ok.replace(
                "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
                "AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            ),
            ClientHandshakeError::BadAccept,
        ),
        (
            ok.replace("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n", ""),
            ClientHandshakeError::BadAccept,
        ),
        (
            ok.replace("\r\n\r\n", "\r\nSec-WebSocket-Protocol: soap\r\n\r\n"),
            ClientHandshakeError::UnexpectedProtocol,
        ),
        (
            ok.replace(
                "\r\n\r\n",
                "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
            ),
            ClientHandshakeError::UnexpectedExtension,
        ),
    ];
    for (response, want) in cases {
        assert_eq!(client_verdict(&req, &response), Err(want), "{response:?}");
    }
}

#[test]
fn client_request_parses_and_passes_the_server() {
    let mut req = ClientRequest::new("localhost:8080", "/chat?nick=ada");
    req.origin = Some("http://localhost:8080".into());
    let mut wire = realtime_events::ws::BytesMut::new();
    req.encode(&mut wire);
    let text = std::str::from_utf8(&wire).unwrap();
    assert!(
        text.starts_with("GET /chat?nick=ada HTTP/1.1\r\nHost: localhost:8080\r\n"),
        "{text}"
    );
    let accepted = check(text, &HandshakeConfig::default()).unwrap();
    assert_eq!(
        accepted.accept,
        realtime_events::ws::accept_key(req.key.as_bytes())
    );
}
