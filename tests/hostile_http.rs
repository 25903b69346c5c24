//! Hostile HTTP clients against the real server over TCP. Each case
//! asserts the protocol's answer, then that the server still serves a
//! well-behaved client, and, for the floods, that memory stays bounded.

mod support;

use std::time::{Duration, Instant};

use realtime_events::http::{BodyFraming, ResponseParser, Status};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The status codes of the responses in `bytes`, read one after another
/// with their Content-Length (our error bodies always have one).
fn statuses(bytes: &[u8]) -> Vec<u16> {
    let mut codes = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let Ok(Status::Complete(index)) = ResponseParser::default().parse(rest) else {
            panic!("not a response: {:?}", String::from_utf8_lossy(rest));
        };
        let view = index.view_response(rest);
        codes.push(view.status().as_u16());
        let body = match view.framing("GET") {
            Ok(BodyFraming::Length(n)) => n as usize,
            _ => 0,
        };
        rest = &rest[(index.len() + body).min(rest.len())..];
    }
    codes
}

/// Request-smuggling shapes from public research (CL.TE, TE.CL,
/// obfuscated Transfer-Encoding, duplicate lengths, overflowing sizes,
/// bare CR, NUL, obs-fold). Each must be refused: a front end and this
/// server can then never disagree on where a request ends.
#[tokio::test]
async fn smuggling_shapes_are_refused() {
    let server = start(demo_with_body_echo(), quick_config()).await;
    // ANCHOR: smuggling
    let cases: &[(&str, &[u8], u16)] = &[
        ("CL.TE", b"POST /body HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG", 400),
        ("TE.CL", b"POST /body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n", 400),
        ("TE.TE duplicate", b"POST /body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n", 501),
        ("TE chunked twice", b"POST /body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("TE space before colon", b"POST /body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding : chunked\r\n\r\n", 400),
        ("TE vertical tab", b"POST /body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding:\x0bchunked\r\n\r\n", 400),
        ("TE xchunked", b"POST /body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: xchunked\r\n\r\n", 501),
        ("TE chunked then identity", b"POST /body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 501),
        ("TE obs-fold", b"POST /body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding:\r\n chunked\r\n\r\n", 400),
        ("TE quoted", b"POST /body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", 400),
        ("duplicate CL", b"POST /body HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nContent-Length: 44\r\n\r\n", 400),
        ("CL list", b"POST /body HTTP/1.1\r\nHost: t\r\nContent-Length: 1, 2\r\n\r\n", 400),
        ("CL signed", b"POST /body HTTP/1.1\r\nHost: t\r\nContent-Length: +4\r\n\r\n", 400),
        ("CL hex", b"POST /body HTTP/1.1\r\nHost: t\r\nContent-Length: 0x4\r\n\r\n", 400),
        ("chunk-size overflow", b"POST /body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000001\r\nx\r\n0\r\n\r\n", 413),
        ("chunk-size with junk", b"POST /body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n1 x\r\nx\r\n0\r\n\r\n", 400),
        ("chunk LF only", b"POST /body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n1\nx\n0\n\n", 400),
        ("bare CR in header", b"GET / HTTP/1.1\r\nHost: t\r\nX: a\rTransfer-Encoding: chunked\r\n\r\n", 400),
        ("bare LF in header", b"GET / HTTP/1.1\r\nHost: t\r\nX: a\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("NUL in header", b"GET / HTTP/1.1\r\nHost: t\r\nX: a\x00b\r\n\r\n", 400),
        ("obs-fold", b"GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n\tb\r\n\r\n", 400),
        ("Host twice", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("space in request line", b"GET /a b HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    ];
    // ANCHOR_END: smuggling
    for (name, request, expected) in cases {
        let reply = exchange(server.addr, request).await;
        let text = String::from_utf8_lossy(&reply);
        assert_eq!(status_of(&reply), *expected, "{name}: {text}");
        // Exactly one answer: nothing smuggled behind it was served.
        assert_eq!(statuses(&reply), vec![*expected], "{name}: {text}");
    }
    assert_healthy(server.addr).await;
}

#[tokio::test]
async fn huge_declared_length_without_body() {
    let server = start(demo_with_body_echo(), quick_config()).await;
    // Over the body limit: refused from the head alone.
    let reply = exchange(
        server.addr,
        b"POST /body HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&reply), 413);
    // Within the limit, but the body never comes: the body timeout answers.
    let started = Instant::now();
    let reply = exchange(
        server.addr,
        b"POST /body HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\nabc",
    )
    .await;
    assert_eq!(status_of(&reply), 408);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_healthy(server.addr).await;
}

/// Open descriptors of this process (Linux).
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Thousands of clients that connect, send half a head and go quiet: the
/// head deadline closes every one, and descriptors and memory come back.
#[tokio::test]
async fn abandoned_half_heads_are_reaped() {
    let config = quick_config().with_header_read_timeout(Duration::from_millis(300));
    let server = start(demo_with_body_echo(), config).await;
    let fds_before = open_fds();
    let rss_before = rss_kib();
    let mut clients = Vec::new();
    for i in 0..2000 {
        let mut stream = TcpStream::connect(server.addr).await.expect("connect");
        let partial: &[u8] = if i % 2 == 0 {
            b"GET / HTTP/1.1\r\nHost: t\r\nX-Half: "
        } else {
            b"GE"
        };
        stream.write_all(partial).await.unwrap();
        clients.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The stated bound: under 32 KiB of server (and client) memory per
    // half-open connection while all of them are open (measured: ~11 KiB).
    let peak = rss_kib().saturating_sub(rss_before);
    assert!(
        peak < 2000 * 32,
        "2000 half-open connections grew memory by {peak} KiB"
    );
    // Every one gets a 408 and a close from the server side.
    let mut timed_out = 0;
    for stream in &mut clients {
        let mut reply = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut reply)).await;
        if reply.starts_with(b"HTTP/1.1 408") {
            timed_out += 1;
        }
    }
    assert_eq!(timed_out, 2000);
    drop(clients);
    // Our client sockets plus the server's: both sides close. The server's
    // tasks see the clients' ends within milliseconds on a quiet machine;
    // on a loaded one it takes longer, so wait for them (5 s at most)
    // rather than for a fixed time.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while open_fds() > fds_before + 16 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        open_fds() <= fds_before + 16,
        "descriptors leaked: {} -> {}",
        fds_before,
        open_fds()
    );
    assert_healthy(server.addr).await;
}

/// Garbage after a valid request on a kept-alive connection: the first is
/// answered, the garbage gets its 400, and nothing after it is served.
#[tokio::test]
async fn pipelined_garbage_after_a_good_request() {
    let server = start(demo_with_body_echo(), quick_config()).await;
    let reply = exchange(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: t\r\n\r\n\x00\x01\x02 garbage\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n",
    )
    .await;
    let text = String::from_utf8_lossy(&reply);
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert_eq!(statuses(&reply), vec![200, 400], "{text}");
    assert_healthy(server.addr).await;
}

// ANCHOR: slow_body
/// A body dripped one byte at a time, each byte well inside any silence
/// limit: the whole-body deadline still ends it with 408, on time.
#[tokio::test]
async fn a_dripped_body_gets_408_at_the_body_deadline() {
    let bound = Duration::from_millis(400);
    let server = start(
        demo_with_body_echo(),
        quick_config().with_body_timeout(bound),
    )
    .await;
    let stream = TcpStream::connect(server.addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    write
        .write_all(b"POST /body HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let drip = tokio::spawn(async move {
        for _ in 0..1000 {
            if write.write_all(b"x").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), read.read_to_end(&mut reply)).await;
    let took = started.elapsed();
    drip.abort();
    assert_eq!(
        status_of(&reply),
        408,
        "{:?}",
        String::from_utf8_lossy(&reply)
    );
    assert!(
        took >= bound && took < bound + Duration::from_millis(700),
        "answered after {took:?}, the bound is {bound:?}"
    );
    assert_healthy(server.addr).await;
}
// ANCHOR_END: slow_body

/// A client that asks for a large response and never reads it: once the
/// write timeout passes, the server drops the connection instead of
/// holding the response for ever.
#[tokio::test]
async fn a_client_that_never_reads_is_dropped_after_the_write_timeout() {
    let big = bytes::Bytes::from(vec![b'z'; 32 << 20]);
    let router = demo_with_body_echo().get("/big", move |_req| {
        let big = big.clone();
        async move { realtime_events::server::Response::new(200, big) }
    });
    let limit = Duration::from_millis(300);
    let server = start(router, quick_config().with_write_timeout(limit)).await;
    // A small receive window, so the kernel cannot absorb the response.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    // Not reading for well past the write timeout...
    tokio::time::sleep(limit * 4).await;
    // ...then the connection must already be over: what was in flight
    // drains, followed by the end, and far less than the whole body came.
    let mut got = 0usize;
    let ended = tokio::time::timeout(Duration::from_secs(3), async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got += n,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the server still holds the connection");
    assert!(got < 32 << 20, "the whole response arrived ({got} bytes)");
    assert_healthy(server.addr).await;
}

/// Past `max_connections`, a new connection is answered 503 with
/// `Retry-After` and closed, without its request being read; a connection
/// already open still gets its answers.
#[tokio::test]
async fn connections_past_the_cap_get_503_and_the_others_go_on() {
    let config = quick_config()
        .with_max_connections(4)
        .with_header_read_timeout(Duration::from_secs(3));
    let server = start(demo_with_body_echo(), config).await;
    let mut kept = TcpStream::connect(server.addr).await.unwrap();
    let request = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";
    kept.write_all(request).await.unwrap();
    assert_eq!(read_response(&mut kept).await.0, 200);
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(TcpStream::connect(server.addr).await.unwrap());
    }
    for _ in 0..5 {
        let started = Instant::now();
        let reply = exchange(server.addr, request).await;
        let text = String::from_utf8_lossy(&reply);
        assert_eq!(status_of(&reply), 503, "{text}");
        let lower = text.to_ascii_lowercase();
        assert!(lower.contains("\r\nretry-after: 1\r\n"), "{text}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "refused in bounded time"
        );
    }
    kept.write_all(request).await.unwrap();
    assert_eq!(
        read_response(&mut kept).await.0,
        200,
        "the open connection goes on"
    );
    // Once the idle ones leave, there is room again.
    drop(idle);
    drop(kept);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_healthy(server.addr).await;
}

/// RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 request is faulty
/// framing. 400, close, and the pipelined request after it is not served.
#[tokio::test]
async fn http_1_0_with_transfer_encoding_is_400_and_closed() {
    let server = start(demo_with_body_echo(), quick_config()).await;
    let reply = exchange(
        server.addr,
        b"POST /body HTTP/1.0\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n",
    )
    .await;
    assert_eq!(
        statuses(&reply),
        vec![400],
        "{:?}",
        String::from_utf8_lossy(&reply)
    );
    assert_healthy(server.addr).await;
}

/// RFC 9110 §7.2: a Host that is a list, or carries userinfo, is 400.
#[tokio::test]
async fn invalid_host_values_are_400() {
    let server = start(demo_with_body_echo(), quick_config()).await;
    for host in ["a, b", "user@a"] {
        let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
        let reply = exchange(server.addr, request.as_bytes()).await;
        assert_eq!(statuses(&reply), vec![400], "Host: {host}");
    }
    assert_healthy(server.addr).await;
}

/// RFC 9110 §7.8: `Upgrade` in HTTP/1.0 is ignored, so a WebSocket route
/// answers as to a plain GET: 426.
#[tokio::test]
async fn an_http_1_0_upgrade_is_answered_as_a_plain_get() {
    let server = start(demo_with_body_echo(), quick_config()).await;
    let handshake = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let with_upgrade = format!("GET /echo HTTP/1.0\r\n{handshake}");
    let plain = b"GET /echo HTTP/1.0\r\n\r\n";
    for request in [with_upgrade.as_bytes(), plain] {
        let reply = exchange(server.addr, request).await;
        assert_eq!(
            statuses(&reply),
            vec![426],
            "{:?}",
            String::from_utf8_lossy(&reply)
        );
    }
    assert_healthy(server.addr).await;
}
