//! A fixed-count loop over the WebSocket receive path, for
//! `valgrind --tool=callgrind` or `perf record`: a server-role `Connection`
//! (the code every `WebSocket` runs) takes one masked frame N times.
//! `prof_ws <text64k|binary64k|text20> N`.
use realtime_events::ws::{BytesMut, Connection, FrameHeader, Limits, Opcode, Role};
use std::hint::black_box;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let (opcode, payload) = match args.first().map(String::as_str) {
        Some("binary64k") => (Opcode::Binary, vec![0x5a; 64 * 1024]),
        Some("text20") => (Opcode::Text, b"{\"price\":101.25,\"q\":}".to_vec()),
        // JSON-like text with some multi-byte characters, as chat carries.
        _ => (
            Opcode::Text,
            "{\"user\":\"zoë\",\"text\":\"héllo wörld\"}"
                .repeat(64 * 1024 / 38)
                .into_bytes(),
        ),
    };
    let n: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let mut frame = BytesMut::new();
    let header = FrameHeader::whole(opcode, Some([1, 2, 3, 4]), payload.len() as u64);
    realtime_events::ws::frame::write_frame(&mut frame, &header, &payload);
    let mut conn = Connection::new(Role::Server, Limits::default());
    for _ in 0..n {
        let mut input = frame.clone();
        black_box(conn.receive(&mut input).expect("valid frame"));
    }
}
