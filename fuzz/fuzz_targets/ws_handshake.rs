//! Fuzzes the server's handshake check on arbitrary request heads.
//!
//! Invariants: never a panic; a head the HTTP parser accepts either fails
//! the check with one of the handshake's statuses (400, 403, 405, 426),
//! or succeeds, and then it has exactly one key, the 101 it produces
//! encodes, and its `Sec-WebSocket-Accept` is `accept_key` of that key.

#![no_main]

use libfuzzer_sys::fuzz_target;
use realtime_events::http::{BodyFraming, RequestParser, ResponseParser, Status};
use realtime_events::ws::handshake::accept;
use realtime_events::ws::{accept_key, BytesMut, HandshakeConfig};

fuzz_target!(|data: &[u8]| {
    let Ok(Status::Complete(index)) = RequestParser::default().parse(data) else {
        return;
    };
    let head = index.view(data);
    let config = HandshakeConfig {
        protocols: vec!["chat".into(), "superchat".into()],
        allowed_origins: Some(vec!["http://good.example".into()]),
        compression: Some(realtime_events::ws::DeflateConfig::default()),
    };
    match accept(&head, &config) {
        Err(err) => assert!(matches!(err.status().as_u16(), 400 | 403 | 405 | 426)),
        Ok(accepted) => {
            assert_eq!(head.headers().count("sec-websocket-key"), 1);
            let key = head.headers().get("sec-websocket-key").unwrap();
            assert_eq!(accepted.accept, accept_key(key));
            if let Some(p) = &accepted.protocol {
                assert!(config.protocols.contains(p));
            }
            let mut out = BytesMut::new();
            accepted
                .response_head()
                .encode(BodyFraming::Empty, false, &mut out)
                .expect("a 101 always encodes");
            let Ok(Status::Complete(parsed)) = ResponseParser::default().parse(&out) else {
                panic!("our 101 must parse");
            };
            let view = parsed.view_response(&out);
            assert_eq!(view.status().as_u16(), 101);
            assert_eq!(
                view.header("sec-websocket-accept"),
                Some(accepted.accept.as_bytes())
            );
        }
    }
});
