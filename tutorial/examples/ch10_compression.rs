//! Chapter 10.1: the same message on the wire with and without
//! permessage-deflate, and what compression costs in memory.
//!
//! It builds two server endpoints with the sans-IO `Connection`, one
//! plain and one with compression as a handshake would have agreed, sends
//! the same JSON chat message through both, and prints both frames as a
//! hex dump with their sizes. Then it measures the memory a compressed
//! connection holds: idle, and after a message each way, with and without
//! context takeover.

use realtime_events::ws::extensions::{negotiate_server, parse, DeflateParams};
use realtime_events::ws::{BytesMut, Connection, DeflateConfig, Limits, Message, Role};

/// This process's resident memory in KiB (Linux; 0 elsewhere).
fn rss_kib() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

/// How many connections to average the memory over.
const N: usize = 1000;

/// RSS per connection (bytes) for `N` server connections with `agreed`:
/// idle, after sending one message, after also receiving one.
fn memory(agreed: Option<&DeflateParams>, message: &Message) -> [usize; 3] {
    let mut client = Connection::new(Role::Client, Limits::default()).with_deflate(agreed);
    client.send(message).expect("open");
    let from_client = client.output_mut().split();
    let base = rss_kib();
    let mut conns: Vec<Connection> = (0..N)
        .map(|_| Connection::new(Role::Server, Limits::default()).with_deflate(agreed))
        .collect();
    let idle = rss_kib();
    for c in &mut conns {
        c.send(message).expect("open");
        c.output_mut().clear();
    }
    let sent = rss_kib();
    for c in &mut conns {
        let mut input = BytesMut::from(&from_client[..]);
        while let Ok(Some(_)) = c.receive(&mut input) {}
    }
    let received = rss_kib();
    drop(conns);
    [idle, sent, received].map(|kib| kib.saturating_sub(base) * 1024 / N)
}

/// Prints `bytes` as hex, 16 to a line.
fn dump(bytes: &[u8]) {
    for line in bytes.chunks(16) {
        let hex: Vec<String> = line.iter().map(|b| format!("{b:02x}")).collect();
        println!("    {}", hex.join(" "));
    }
}

fn main() {
    // What Chromium offers, and what our server answers under the default
    // policy.
    let offer = "permessage-deflate; client_max_window_bits";
    let offers = parse([offer.as_bytes()]).expect("a valid offer");
    let policy = DeflateConfig::default().with_own_no_context_takeover(false);
    let agreed = negotiate_server(&offers, &policy).expect("accepted");
    println!("client offers:   Sec-WebSocket-Extensions: {offer}");
    println!(
        "server answers:  Sec-WebSocket-Extensions: {}",
        agreed.response_value()
    );

    let message = Message::Text(
        r#"{"type":"chat","room":"lobby","nick":"ada","text":"hello, hello, is anybody there?","ts":1733300000}"#
            .to_owned(),
    );
    let mut plain = Connection::new(Role::Server, Limits::default());
    let mut compressed =
        Connection::new(Role::Server, Limits::default()).with_deflate(Some(&agreed));
    plain.send(&message).expect("open");
    compressed.send(&message).expect("open");
    let plain_wire = plain.output_mut().split();
    let first = compressed.output_mut().split();
    println!(
        "\nwithout compression: {} bytes (first byte {:#04x}: FIN, text)",
        plain_wire.len(),
        plain_wire[0]
    );
    dump(&plain_wire);
    println!(
        "with permessage-deflate: {} bytes (first byte {:#04x}: FIN, RSV1, text)",
        first.len(),
        first[0]
    );
    dump(&first);
    compressed.send(&message).expect("open");
    let second = compressed.output_mut().split();
    println!(
        "the same message again, with context takeover: {} bytes",
        second.len()
    );
    dump(&second);

    // Memory: what a connection holds, averaged over many.
    println!("\nmemory per server connection (RSS over {N} connections; idle / after sending one message / after also receiving one):");
    let plain = memory(None, &message);
    println!(
        "  {:>32}: {:>6} / {:>6} / {:>6} bytes",
        "no compression", plain[0], plain[1], plain[2]
    );
    for (label, reset) in [
        ("permessage-deflate, no takeover", true),
        ("permessage-deflate, takeover", false),
    ] {
        let policy = DeflateConfig::default()
            .with_own_no_context_takeover(reset)
            .with_peer_no_context_takeover(reset);
        let offers =
            parse([b"permessage-deflate; client_max_window_bits".as_slice()]).expect("valid");
        let agreed = negotiate_server(&offers, &policy).expect("accepted");
        let m = memory(Some(&agreed), &message);
        println!(
            "  {label:>32}: {:>6} / {:>6} / {:>6} bytes",
            m[0], m[1], m[2]
        );
    }
}
