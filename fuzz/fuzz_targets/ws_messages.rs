//! Fuzzes the sans-IO endpoint (`ws::Connection`, the code every
//! `WebSocket` runs) in both roles.
//!
//! The first byte chooses the role (server: the peer must mask; client:
//! it must not), the next few choose chunk sizes; the rest is fed once whole and
//! once cut into those chunks. Invariants: never a panic; errors carry only
//! the documented close codes; and the messages, the error and the bytes
//! we would write back are identical however the input was cut.

#![no_main]

#[path = "common/chunks.rs"]
mod chunks;

use libfuzzer_sys::fuzz_target;
use realtime_events::ws::{BytesMut, Connection, Limits, Message, ProtocolError, Reader, Role};

/// Small limits so the fuzzer can reach the 1009 paths.
const LIMITS: Limits = Limits {
    max_frame_size: 1 << 16,
    max_message_size: 1 << 18,
};

/// The messages, the error, and our replies as the peer decodes them (a
/// client masks with fresh random keys, so the bytes themselves differ).
type Outcome = (Vec<Message>, Option<ProtocolError>, Vec<Message>);

fn run(role: Role, body: &[u8], sizes: &[u8]) -> Outcome {
    let mut conn = Connection::new(role, LIMITS);
    let mut input = BytesMut::new();
    let mut messages = Vec::new();
    let mut written = Vec::new();
    for chunk in chunks::chunks(body, sizes) {
        input.extend_from_slice(chunk);
        loop {
            match conn.receive(&mut input) {
                Ok(Some(m)) => messages.push(m),
                Ok(None) => break,
                Err(e) => {
                    assert!(matches!(e.close_code(), 1002 | 1007 | 1009), "{e:?}");
                    written.extend_from_slice(conn.output_mut());
                    return (messages, Some(e), as_peer_sees(role, &written));
                }
            }
            written.extend_from_slice(&conn.output_mut().split());
        }
        written.extend_from_slice(&conn.output_mut().split());
    }
    (messages, None, as_peer_sees(role, &written))
}

fn as_peer_sees(role: Role, written: &[u8]) -> Vec<Message> {
    let peer = match role {
        Role::Server => Role::Client,
        Role::Client => Role::Server,
    };
    let mut reader = Reader::new(peer, Limits::default());
    let mut bytes = BytesMut::from(written);
    let mut out = Vec::new();
    while let Some(msg) = reader.receive(&mut bytes).expect("we write valid frames") {
        out.push(msg);
    }
    assert!(bytes.is_empty(), "we write whole frames");
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&role, data)) = data.split_first() else {
        return;
    };
    let role = if role & 1 == 0 {
        Role::Server
    } else {
        Role::Client
    };
    let (sizes, body) = data.split_at(data.len().min(4));
    let whole = run(role, body, &[]);
    let split = run(role, body, sizes);
    assert_eq!(whole, split);
});
