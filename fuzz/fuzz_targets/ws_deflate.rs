//! Fuzzes permessage-deflate in the sans-IO endpoint (`ws::Connection`
//! with negotiated compression), in both roles.
//!
//! The first two bytes choose the role and the negotiated parameters
//! (context takeover each way, window bits 8–15 each way), the next four
//! the chunk sizes. The rest is a list of records `[flags, len, payload]`
//! turned into well-formed frames: the flags choose the opcode, FIN, RSV1
//! and whether the payload is first compressed by our own deflater (so
//! valid DEFLATE streams are reached as well as garbage). The wire is fed
//! once whole and once cut into chunks. Invariants: never a panic; errors
//! carry only the documented close codes (1002, 1007, 1009); the messages
//! and the error are the same however the input was cut; no message is
//! larger than the limit.

#![no_main]

#[path = "common/chunks.rs"]
mod chunks;

use libfuzzer_sys::fuzz_target;
use realtime_events::ws::deflate::Deflater;
use realtime_events::ws::frame::write_frame;
use realtime_events::ws::{
    BytesMut, Connection, DeflateConfig, DeflateParams, FrameHeader, Limits, Message, Opcode,
    ProtocolError, Role,
};

/// Small limits so the fuzzer reaches the 1009 paths (a bomb) quickly.
const LIMITS: Limits = Limits {
    max_frame_size: 1 << 14,
    max_message_size: 1 << 16,
};

fn params(a: u8, b: u8) -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: a & 2 != 0,
        client_no_context_takeover: a & 4 != 0,
        server_max_window_bits: 8 + (b & 7),
        client_max_window_bits: 8 + ((b >> 3) & 7),
        config: DeflateConfig::default()
            .with_own_no_context_takeover(a & 8 != 0)
            .with_threshold(0),
    }
}

/// Builds the peer's frames from the records in `body`.
fn frames(peer: Role, p: &DeflateParams, mut body: &[u8]) -> BytesMut {
    let mut deflater = Deflater::new(peer, p).expect("the deflate feature is on");
    let mut wire = BytesMut::new();
    while let [flags, len, rest @ ..] = body {
        let len = usize::from(*len).min(rest.len());
        let (raw, tail) = rest.split_at(len);
        body = tail;
        let mut payload = BytesMut::new();
        if flags & 0x80 != 0 {
            deflater.compress(raw, &mut payload);
        } else {
            payload.extend_from_slice(raw);
        }
        let opcode = match flags & 3 {
            0 => Opcode::Continuation,
            1 => Opcode::Text,
            2 => Opcode::Binary,
            _ => Opcode::Ping,
        };
        let header = FrameHeader {
            fin: flags & 4 == 0,
            rsv1: flags & 8 != 0,
            rsv2: false,
            rsv3: false,
            opcode,
            mask: (peer == Role::Client).then_some([*flags, 1, 2, 3]),
            payload_len: 0,
        };
        write_frame(&mut wire, &header, &payload);
    }
    wire
}

fn run(
    role: Role,
    p: &DeflateParams,
    wire: &[u8],
    sizes: &[u8],
) -> (Vec<Message>, Option<ProtocolError>) {
    let mut conn = Connection::new(role, LIMITS).with_deflate(Some(p));
    let mut input = BytesMut::new();
    let mut messages = Vec::new();
    for chunk in chunks::chunks(wire, sizes) {
        input.extend_from_slice(chunk);
        loop {
            match conn.receive(&mut input) {
                Ok(Some(m)) => {
                    if let Message::Text(t) = &m {
                        assert!(t.len() as u64 <= LIMITS.max_message_size);
                    }
                    if let Message::Binary(b) = &m {
                        assert!(b.len() as u64 <= LIMITS.max_message_size);
                    }
                    messages.push(m);
                }
                Ok(None) => break,
                Err(e) => {
                    assert!(matches!(e.close_code(), 1002 | 1007 | 1009), "{e:?}");
                    return (messages, Some(e));
                }
            }
        }
    }
    (messages, None)
}

fuzz_target!(|data: &[u8]| {
    let [a, b, rest @ ..] = data else {
        return;
    };
    let (role, peer) = if a & 1 == 0 {
        (Role::Server, Role::Client)
    } else {
        (Role::Client, Role::Server)
    };
    let p = params(*a, *b);
    let (sizes, body) = rest.split_at(rest.len().min(4));
    let wire = frames(peer, &p, body);
    let whole = run(role, &p, &wire, &[]);
    let split = run(role, &p, &wire, sizes);
    // A MessageTooLarge carries how far inflating got, which depends on
    // where the input was cut; compare the close codes instead.
    assert_eq!(whole.0, split.0);
    assert_eq!(
        whole.1.map(|e| e.close_code()),
        split.1.map(|e| e.close_code())
    );
});
