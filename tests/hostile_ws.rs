//! Hostile WebSocket clients against the real `/echo` over TCP. Each case
//! asserts the close code the RFC asks for (or the server's backpressure),
//! then that the server still echoes for a well-behaved client, and, for
//! the floods, that memory stays bounded.

mod support;

use std::time::Duration;

use bytes::BytesMut;
use realtime_events::app;
use realtime_events::ws::{FrameHeader, Opcode};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Tests that measure this process's memory run one at a time, so one
/// flood does not show up in another's figure.
static MEMORY_MEASURED: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Opens `/echo` by hand and returns the stream after the 101.
async fn open_echo(addr: std::net::SocketAddr) -> TcpStream {
    open_ws(addr, "/echo").await
}

/// A client frame: masked, as RFC 6455 §5.3 requires.
fn frame(fin: bool, opcode: Opcode, payload: &[u8]) -> Vec<u8> {
    let header = FrameHeader {
        fin,
        rsv1: false,
        rsv2: false,
        rsv3: false,
        opcode,
        mask: Some([0x37, 0xfa, 0x21, 0x3d]),
        payload_len: payload.len() as u64,
    };
    let mut out = BytesMut::new();
    realtime_events::ws::frame::write_frame(&mut out, &header, payload);
    out.to_vec()
}

/// Reads server frames until a close arrives; returns its code. Data
/// frames before it are skipped. Panics if the connection just ends.
async fn close_code(stream: &mut TcpStream) -> u16 {
    let mut buf = BytesMut::new();
    loop {
        while let Ok(Some((header, used))) = FrameHeader::decode(&buf) {
            let total = used + header.payload_len as usize;
            if buf.len() < total {
                break;
            }
            let payload = buf.split_to(total).split_off(used);
            if header.opcode == Opcode::Close {
                assert!(payload.len() >= 2, "close without a code");
                return u16::from_be_bytes([payload[0], payload[1]]);
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read_buf(&mut buf))
            .await
            .expect("a close frame in time")
            .unwrap_or(0);
        assert!(n > 0, "connection ended without a close frame");
    }
}

/// A well-behaved client still gets its echo.
async fn assert_echo_healthy(addr: std::net::SocketAddr) {
    let mut stream = open_echo(addr).await;
    stream
        .write_all(&frame(true, Opcode::Text, b"still there?"))
        .await
        .unwrap();
    let mut reply = [0u8; 14];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut reply))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&reply[..2], &[0x81, 12]);
    assert_eq!(&reply[2..], b"still there?");
}

#[tokio::test]
async fn a_frame_declaring_2_pow_63_minus_1_bytes_is_refused_with_1009() {
    let _alone = MEMORY_MEASURED.lock().await;
    let server = start(app::router(), quick_config()).await;
    let mut stream = open_echo(server.addr).await;
    let before = rss_kib();
    // FIN + binary, MASK + 127, then the 64-bit length 0x7fff_ffff_ffff_ffff, a key.
    let mut wire = vec![
        0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4,
    ];
    wire.extend_from_slice(&[0u8; 64]);
    stream.write_all(&wire).await.unwrap();
    assert_eq!(close_code(&mut stream).await, 1009);
    assert!(
        rss_kib().saturating_sub(before) < 16 * 1024,
        "nothing was allocated for it"
    );
    assert_echo_healthy(server.addr).await;
}

#[tokio::test]
async fn a_length_with_the_high_bit_set_is_a_protocol_error() {
    let server = start(app::router(), quick_config()).await;
    let mut stream = open_echo(server.addr).await;
    stream
        .write_all(&[0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4])
        .await
        .unwrap();
    assert_eq!(close_code(&mut stream).await, 1002);
}

#[tokio::test]
async fn an_endless_fragmented_message_is_cut_at_the_demo_message_limit() {
    let _alone = MEMORY_MEASURED.lock().await;
    let server = start(app::router(), quick_config()).await;
    let mut stream = open_echo(server.addr).await;
    let before = rss_kib();
    let piece = vec![b'x'; 64 * 1024];
    let total = 16 * 1024 * 1024;
    let mut sent = 0usize;
    let writer = async {
        stream
            .write_all(&frame(false, Opcode::Binary, &piece))
            .await?;
        sent += piece.len();
        // 1 MiB is the demo /echo's message limit; go well past it.
        while sent < total {
            stream
                .write_all(&frame(false, Opcode::Continuation, &piece))
                .await?;
            sent += piece.len();
        }
        Ok::<_, std::io::Error>(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), writer).await;
    // Past the limit the server answers and stops reading: we never get
    // all 16 MiB out.
    assert!(sent < total, "the server read {sent} bytes");
    assert_eq!(close_code(&mut stream).await, 1009);
    let grown = rss_kib().saturating_sub(before);
    // The limit is the bound: 1 MiB buffered at most, plus buffers.
    assert!(grown < 12 * 1024, "memory grew by {grown} KiB");
    assert_echo_healthy(server.addr).await;
}

#[tokio::test]
async fn control_frame_rules() {
    let server = start(app::router(), quick_config()).await;
    // A fragmented ping.
    let mut stream = open_echo(server.addr).await;
    stream
        .write_all(&frame(false, Opcode::Ping, b"x"))
        .await
        .unwrap();
    assert_eq!(close_code(&mut stream).await, 1002);
    // A ping of 126 bytes (control payloads stop at 125).
    let mut stream = open_echo(server.addr).await;
    stream
        .write_all(&frame(true, Opcode::Ping, &[0u8; 126]))
        .await
        .unwrap();
    assert_eq!(close_code(&mut stream).await, 1002);
    assert_echo_healthy(server.addr).await;
}

#[tokio::test]
async fn invalid_utf8_split_across_fragments_is_1007() {
    let server = start(app::router(), quick_config()).await;
    let mut stream = open_echo(server.addr).await;
    // "é" is C3 A9; C3 then 28 is never valid, and it spans two fragments.
    stream
        .write_all(&frame(false, Opcode::Text, b"caf\xc3"))
        .await
        .unwrap();
    stream
        .write_all(&frame(false, Opcode::Continuation, b"\x28 more"))
        .await
        .unwrap();
    assert_eq!(close_code(&mut stream).await, 1007);
    assert_echo_healthy(server.addr).await;
}

#[tokio::test]
async fn a_ping_flood_from_a_client_that_never_reads_stays_bounded() {
    let _alone = MEMORY_MEASURED.lock().await;
    let server = start(app::router(), quick_config()).await;
    let mut stream = open_echo(server.addr).await;
    let before = rss_kib();
    let ping = frame(true, Opcode::Ping, &[7u8; 125]);
    let batch: Vec<u8> = ping
        .iter()
        .copied()
        .cycle()
        .take(ping.len() * 1000)
        .collect();
    // Up to 2 million pings, never reading the pongs: the server must stop
    // reading once its writes back up, so our writes stall.
    let mut sent = 0usize;
    let flood = async {
        for _ in 0..2000 {
            stream.write_all(&batch).await?;
            sent += 1000;
        }
        Ok::<_, std::io::Error>(())
    };
    let finished = tokio::time::timeout(Duration::from_secs(5), flood)
        .await
        .is_ok();
    let grown = rss_kib().saturating_sub(before);
    assert!(
        grown < 32 * 1024,
        "the server buffered pongs: memory grew by {grown} KiB"
    );
    // The pongs back up into the socket, the server stops reading, and
    // our writes stall long before two million pings are out.
    assert!(!finished, "2,000,000 pings went through unread pongs");
    assert!(sent < 2_000_000, "sent {sent} pings");
    // Others are served meanwhile.
    assert_echo_healthy(server.addr).await;
}

#[tokio::test]
async fn a_client_that_never_reads_meets_backpressure() {
    let _alone = MEMORY_MEASURED.lock().await;
    let server = start(app::router(), quick_config()).await;
    let mut stream = open_echo(server.addr).await;
    let before = rss_kib();
    let message = frame(true, Opcode::Binary, &vec![1u8; 256 * 1024]);
    let mut sent = 0usize;
    let writer = async {
        // 1 GiB offered; the echo must block on its own writes long before.
        while sent < 1024 * 1024 * 1024 {
            stream.write_all(&message).await?;
            sent += message.len();
        }
        Ok::<_, std::io::Error>(())
    };
    let finished = tokio::time::timeout(Duration::from_secs(5), writer)
        .await
        .is_ok();
    assert!(!finished, "the server kept reading without writing");
    assert!(
        sent < 64 * 1024 * 1024,
        "accepted {sent} bytes without being read"
    );
    let grown = rss_kib().saturating_sub(before);
    assert!(grown < 32 * 1024, "memory grew by {grown} KiB");
    assert_echo_healthy(server.addr).await;
}

#[tokio::test]
async fn resets_and_bare_closes_end_cleanly() {
    let server = start(app::router(), quick_config()).await;
    // A reset in the middle of a frame.
    let stream = open_echo(server.addr).await;
    let mut half = frame(true, Opcode::Text, &[b'a'; 1000]);
    half.truncate(500);
    let mut stream = stream;
    stream.write_all(&half).await.unwrap();
    // A zero linger makes the close a TCP reset; it does not block.
    #[allow(deprecated)]
    stream.set_linger(Some(Duration::ZERO)).unwrap();
    drop(stream);
    // A TCP close without a close frame.
    let mut stream = open_echo(server.addr).await;
    stream
        .write_all(&frame(true, Opcode::Text, b"bye"))
        .await
        .unwrap();
    stream.shutdown().await.unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest))
        .await
        .expect("the server closes its side after the client's TCP close")
        .expect("a clean end of stream, not an error");
    // The echo of "bye" may arrive; then the end of the stream.
    assert!(rest.len() <= 5 + 4, "{rest:?}");
    assert_echo_healthy(server.addr).await;
}

#[tokio::test]
async fn abandoned_handshakes_are_reaped() {
    let config = quick_config().with_header_read_timeout(Duration::from_millis(300));
    let server = start(app::router(), config).await;
    let mut clients = Vec::new();
    for _ in 0..1000 {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream
            .write_all(
                b"GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nSec-WebSocket-Key: ",
            )
            .await
            .unwrap();
        clients.push(stream);
    }
    let mut refused = 0;
    for stream in &mut clients {
        let mut reply = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut reply)).await;
        refused += usize::from(reply.starts_with(b"HTTP/1.1 408"));
    }
    assert_eq!(refused, 1000);
    assert_echo_healthy(server.addr).await;
}

/// The demo `/echo` takes messages up to 1 MiB, not the library's 64 MiB:
/// one byte more, even announced in a single frame header, is 1009.
#[tokio::test]
async fn the_demo_echo_refuses_a_message_over_1_mib() {
    let server = start(app::router(), quick_config()).await;
    let mut stream = open_echo(server.addr).await;
    let header = FrameHeader {
        fin: true,
        rsv1: false,
        rsv2: false,
        rsv3: false,
        opcode: Opcode::Binary,
        mask: Some([1, 2, 3, 4]),
        payload_len: (1 << 20) + 1,
    };
    let mut out = BytesMut::new();
    header.encode(&mut out);
    stream.write_all(&out).await.unwrap();
    assert_eq!(close_code(&mut stream).await, 1009);
    assert_echo_healthy(server.addr).await;
}
