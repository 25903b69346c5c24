//! Fuzzes the WebSocket client role: the check of the server's handshake
//! answer, then the server's frames fed to the client-role message layer.
//!
//! The first few bytes choose chunk sizes; the rest is the server's side of
//! the conversation, fed once whole and once cut into those chunks.
//! Invariants: never a panic; a refused answer is a `ParseError` or a
//! `ClientHandshakeError`, a broken frame stream one of the documented close
//! codes; what the client writes back is frames a server accepts; and all
//! of it is the same however the input was cut.

#![no_main]

#[path = "common/chunks.rs"]
mod chunks;

use libfuzzer_sys::fuzz_target;
use realtime_events::http::{Limits as HttpLimits, ResponseParser, Status};
use realtime_events::ws::handshake::ClientRequest;
use realtime_events::ws::{BytesMut, Connection, Limits, Message, ProtocolError, Role};

/// The key of RFC 6455's example, so that the fuzzer can find the accept
/// value (`s3pPLMBiTxaQ9kYGJRs0pQxsgMo=`) in the seeds.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// Small limits so the fuzzer can reach the 1009 paths.
const LIMITS: Limits = Limits {
    max_frame_size: 1 << 16,
    max_message_size: 1 << 18,
};

#[derive(Debug, PartialEq)]
struct Outcome {
    /// What became of the handshake answer.
    handshake: String,
    messages: Vec<Message>,
    error: Option<ProtocolError>,
    /// What the client wrote back, as a server reads it (the bytes differ
    /// from run to run: client masks are random).
    replies: Vec<Message>,
}

fn run(body: &[u8], sizes: &[u8]) -> Outcome {
    let mut request = ClientRequest::new("example.org", "/chat");
    request.key = KEY.to_string();
    request.protocols = vec!["chat".into()];
    let mut head = ResponseParser::new(HttpLimits::default());
    let mut conn: Option<Connection> = None;
    let mut out = Outcome {
        handshake: "incomplete".into(),
        messages: Vec::new(),
        error: None,
        replies: Vec::new(),
    };
    let mut written = BytesMut::new();
    let mut input = BytesMut::new();
    'feed: for chunk in chunks::chunks(body, sizes) {
        input.extend_from_slice(chunk);
        let conn = match &mut conn {
            Some(conn) => conn,
            None => match head.parse(&input) {
                Ok(Status::Partial) => continue,
                Err(err) => {
                    out.handshake = format!("invalid HTTP: {err:?}");
                    break;
                }
                Ok(Status::Complete(index)) => {
                    match request.verify(&index.view_response(&input)) {
                        Ok(protocol) => {
                            assert!(protocol.is_none() || protocol.as_deref() == Some("chat"));
                            out.handshake = format!("open {protocol:?}");
                        }
                        Err(err) => {
                            out.handshake = format!("refused: {err:?}");
                            break;
                        }
                    }
                    let _ = input.split_to(index.len());
                    conn.insert(Connection::new(Role::Client, LIMITS))
                }
            },
        };
        loop {
            match conn.receive(&mut input) {
                Ok(Some(m)) => out.messages.push(m),
                Ok(None) => break,
                Err(e) => {
                    assert!(matches!(e.close_code(), 1002 | 1007 | 1009), "{e:?}");
                    written.extend_from_slice(&conn.output_mut().split());
                    out.error = Some(e);
                    break 'feed;
                }
            }
            written.extend_from_slice(&conn.output_mut().split());
        }
    }
    // Our pongs and closes must be frames a server takes: masked, whole.
    let mut server = Connection::new(Role::Server, LIMITS);
    loop {
        match server.receive(&mut written) {
            Ok(Some(m)) => out.replies.push(m),
            Ok(None) => break,
            Err(e) => panic!("the client wrote a frame a server refuses: {e:?}"),
        }
    }
    assert!(written.is_empty(), "the client wrote a partial frame");
    out
}

fuzz_target!(|data: &[u8]| {
    let (sizes, body) = data.split_at(data.len().min(4));
    let whole = run(body, &[]);
    let split = run(body, sizes);
    assert_eq!(whole, split);
});
