//! Chapter 12: bytes of overhead per message, computed with the crate's own
//! encoders rather than by hand. `cargo run --example ch12_overhead`
//!
//! For each payload size it encodes the same payload as an SSE event (with
//! and without the `id:` line a resumable stream needs) and as a WebSocket
//! frame in each direction, and prints the bytes beyond the payload. A binary
//! payload must be base64-encoded to travel over SSE; the last column counts
//! that too.

use base64::Engine as _;
use realtime_events::sse::Event;
use realtime_events::ws::{frame::write_frame, BytesMut, FrameHeader, Opcode};

// ANCHOR: overhead
/// Bytes an SSE event adds to `payload` (one `data:` line, as text).
fn sse_overhead(payload: &str, id: Option<&str>) -> usize {
    let mut event = Event::new(payload);
    if let Some(id) = id {
        event = event.id(id);
    }
    event.to_bytes().map_or(0, |b| b.len()) - payload.len()
}

/// Bytes a WebSocket frame adds to a `len`-byte payload; client frames
/// carry a 4-byte masking key.
fn ws_overhead(len: usize, from_client: bool) -> usize {
    let header = FrameHeader {
        fin: true,
        rsv1: false,
        rsv2: false,
        rsv3: false,
        opcode: Opcode::Text,
        mask: from_client.then_some([1, 2, 3, 4]),
        payload_len: 0,
    };
    let mut out = BytesMut::new();
    write_frame(&mut out, &header, &vec![b'a'; len]);
    out.len() - len
}

/// Extra bytes when `len` binary bytes go over SSE as base64 data.
fn base64_overhead(len: usize) -> usize {
    base64::engine::general_purpose::STANDARD
        .encode(vec![0u8; len])
        .len()
        - len
}
// ANCHOR_END: overhead

fn main() {
    println!("payload  sse  sse+id(6 digits)  ws server->client  ws client->server  base64 (binary over sse)");
    for len in [20usize, 125, 126, 1024, 65535, 65536] {
        let payload = "a".repeat(len);
        println!(
            "{len:>7}  {:>3}  {:>16}  {:>17}  {:>17}  {:>24}",
            sse_overhead(&payload, None),
            sse_overhead(&payload, Some("123456")),
            ws_overhead(len, false),
            ws_overhead(len, true),
            base64_overhead(len),
        );
    }
    // A payload with line breaks costs SSE one `data: ` prefix per line.
    let ten_lines = vec!["a".repeat(10); 10].join("\n");
    println!(
        "10 lines of 10 bytes: sse {} bytes, ws server->client {} bytes",
        sse_overhead(&ten_lines, None),
        ws_overhead(ten_lines.len(), false)
    );
}
