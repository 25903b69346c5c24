//! The server shell over real TCP: routing, keep-alive, pipelining, every
//! refusal with its status and a closed connection, timeouts, limits and
//! shutdown.

mod support;

use std::time::Duration;

use realtime_events::http::Limits;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn root_serves_the_page_and_unknown_paths_are_404() {
    let server = start(demo_with_body_echo(), quick_config()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let (status, head, body) = read_response(&mut stream).await;
    assert_eq!(status, 200);
    assert!(head.contains("Content-Type: text/html"));
    assert!(String::from_utf8(body)
        .unwrap()
        .contains("<title>realtime-events</title>"));
    // Same connection, kept alive.
    stream
        .write_all(b"GET /missing HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let (status, _, body) = read_response(&mut stream).await;
    assert_eq!((status, body.as_slice()), (404, &b"not found\n"[..]));
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let server = start(demo_with_body_echo(), quick_config()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(
            b"POST /body HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\none\
              POST /body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n\
              GET /missing HTTP/1.1\r\nHost: t\r\n\r\n",
        )
        .await
        .unwrap();
    assert_eq!(read_response(&mut stream).await.2, b"one");
    assert_eq!(read_response(&mut stream).await.2, b"two");
    assert_eq!(read_response(&mut stream).await.0, 404);
}

#[tokio::test]
async fn method_rules() {
    let server = start(demo_with_body_echo(), quick_config()).await;
    let head = exchange(
        server.addr,
        b"HEAD / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    let text = String::from_utf8(head).unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.contains("Content-Length: ") && text.ends_with("\r\n\r\n"),
        "HEAD has no body: {text}"
    );
    let wrong = exchange(
        server.addr,
        b"DELETE / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&wrong), 405);
    assert!(String::from_utf8_lossy(&wrong).contains("Allow: GET"));
    let unknown = exchange(
        server.addr,
        b"BREW / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&unknown), 501);
}

#[tokio::test]
async fn http_1_0_closes_after_the_answer() {
    let server = start(demo_with_body_echo(), quick_config()).await;
    let reply = exchange(server.addr, b"GET / HTTP/1.0\r\n\r\n").await;
    assert_eq!(status_of(&reply), 200);
    assert!(String::from_utf8_lossy(&reply).contains("Connection: close"));
}

#[tokio::test]
async fn expect_100_continue_is_honoured() {
    let server = start(demo_with_body_echo(), quick_config()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(
            b"POST /body HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n",
        )
        .await
        .unwrap();
    let mut interim = [0u8; 25];
    stream.read_exact(&mut interim).await.unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    stream.write_all(b"hi").await.unwrap();
    assert_eq!(read_response(&mut stream).await.2, b"hi");
}

/// Every malformed head gets its status, then the connection closes.
#[tokio::test]
async fn malformed_requests_get_their_status_and_a_close() {
    let config = quick_config().with_limits(
        Limits::default()
            .with_max_head_bytes(2048)
            .with_max_target_len(256)
            .with_max_body_bytes(1000),
    );
    let server = start(demo_with_body_echo(), config).await;
    let long_header = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX: {}\r\n\r\n",
        "a".repeat(4000)
    );
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(300));
    let many = format!(
        "GET / HTTP/1.1\r\nHost: t\r\n{}\r\n",
        "A: 1\r\n".repeat(150)
    );
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("bare LF", b"GET / HTTP/1.1\nHost: t\n\n".to_vec(), 400),
        ("no Host", b"GET / HTTP/1.1\r\n\r\n".to_vec(), 400),
        ("two Hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".to_vec(), 400),
        ("HTTP/2.0", b"GET / HTTP/2.0\r\nHost: t\r\n\r\n".to_vec(), 505),
        ("garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n".to_vec(), 400),
        ("obs-fold", b"GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n b\r\n\r\n".to_vec(), 400),
        ("space before colon", b"GET / HTTP/1.1\r\nHost : t\r\n\r\n".to_vec(), 400),
        ("NUL in value", b"GET / HTTP/1.1\r\nHost: t\r\nX: a\x00b\r\n\r\n".to_vec(), 400),
        ("CL and TE", b"POST /body HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(), 400),
        ("two lengths", b"POST /body HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n".to_vec(), 400),
        ("gzip coding", b"POST /body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n".to_vec(), 501),
        ("body too large", b"POST /body HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n".to_vec(), 413),
        ("chunked too large", b"POST /body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n".to_vec(), 413),
        ("bad chunk", b"POST /body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec(), 400),
        ("long header", long_header.into_bytes(), 431),
        ("many headers", many.into_bytes(), 431),
        ("long target", long_target.into_bytes(), 414),
    ];
    for (name, request, expected) in cases {
        let reply = exchange(server.addr, &request).await;
        assert_eq!(
            status_of(&reply),
            expected,
            "{name}: {:?}",
            String::from_utf8_lossy(&reply)
        );
        assert!(
            String::from_utf8_lossy(&reply).contains("Connection: close"),
            "{name}"
        );
    }
    // The server is still fine.
    let reply = exchange(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&reply), 200);
}

#[tokio::test]
async fn requests_after_a_malformed_one_are_not_served() {
    let server = start(demo_with_body_echo(), quick_config()).await;
    let reply = exchange(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: x\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&reply), 400);
    assert_eq!(
        String::from_utf8_lossy(&reply).matches("HTTP/1.1").count(),
        1,
        "only the 400"
    );
    assert_healthy(server.addr).await;
}

#[tokio::test]
async fn slowloris_gets_408_and_close() {
    let server = start(demo_with_body_echo(), quick_config()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let started = std::time::Instant::now();
    // One byte every 100 ms: the 500 ms head deadline passes long before the head is done.
    for &b in b"GET / HTTP/1.1\r\nHost: t\r\n" {
        if stream.write_all(&[b]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        if started.elapsed() > Duration::from_millis(800) {
            break;
        }
    }
    let reply = read_to_close(&mut stream).await;
    assert_eq!(status_of(&reply), 408);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_healthy(server.addr).await;
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed() {
    let config = quick_config().with_idle_timeout(Duration::from_millis(300));
    let server = start(demo_with_body_echo(), config).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_response(&mut stream).await.0, 200);
    let started = std::time::Instant::now();
    let rest = read_to_close(&mut stream).await;
    assert!(rest.is_empty(), "an idle close sends nothing");
    assert!(started.elapsed() >= Duration::from_millis(250));
}

/// Streams `total` bytes at the server, returns (bytes it accepted before
/// the connection broke, what it answered).
async fn flood(
    addr: std::net::SocketAddr,
    prefix: &'static [u8],
    filler: u8,
    total: usize,
) -> (usize, Vec<u8>) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let writing = tokio::spawn(async move {
        let mut sent = 0;
        if writer.write_all(prefix).await.is_err() {
            return sent;
        }
        let chunk = vec![filler; 64 * 1024];
        while sent < total {
            match tokio::time::timeout(Duration::from_secs(2), writer.write_all(&chunk)).await {
                Ok(Ok(())) => sent += chunk.len(),
                _ => break,
            }
        }
        sent
    });
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), reader.read_to_end(&mut reply)).await;
    (writing.await.unwrap(), reply)
}

#[tokio::test]
async fn endless_header_line_is_cut_off_with_memory_bounded() {
    let server = start(demo_with_body_echo(), quick_config()).await;
    let before = rss_kib();
    let (sent, reply) = flood(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: t\r\nX: ",
        b'a',
        256 * 1024 * 1024,
    )
    .await;
    assert_eq!(status_of(&reply), 431);
    assert!(
        sent < 64 * 1024 * 1024,
        "the server stopped reading early (sent {sent})"
    );
    let grown = rss_kib().saturating_sub(before);
    assert!(grown < 32 * 1024, "memory grew by {grown} KiB");
    assert_healthy(server.addr).await;
}

#[tokio::test]
async fn endless_chunk_size_line_is_cut_off() {
    let server = start(demo_with_body_echo(), quick_config()).await;
    let (sent, reply) = flood(
        server.addr,
        b"POST /body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n1;",
        b'x',
        256 * 1024 * 1024,
    )
    .await;
    assert_eq!(status_of(&reply), 400);
    assert!(sent < 64 * 1024 * 1024, "sent {sent}");
    assert_healthy(server.addr).await;
}

#[tokio::test]
async fn shutdown_closes_idle_connections_and_refuses_new_ones() {
    let server = start(demo_with_body_echo(), quick_config()).await;
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    idle.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_response(&mut idle).await.0, 200);
    server.shutdown.trigger();
    let closed = read_to_close(&mut idle).await;
    assert!(closed.is_empty());
    tokio::time::timeout(Duration::from_secs(3), server.task)
        .await
        .expect("serve returns")
        .unwrap();
    assert!(
        TcpStream::connect(server.addr).await.is_err(),
        "listener is gone"
    );
}

#[tokio::test]
async fn curl_gets_the_page() {
    // curl is a stated prerequisite (README, introduction): a missing curl
    // fails here rather than passing a test that checked nothing.
    let version = std::process::Command::new("curl")
        .arg("--version")
        .output()
        .expect("curl must be installed to run the tests (see the README)");
    assert!(version.status.success());
    let server = start(demo_with_body_echo(), quick_config()).await;
    let url = format!("http://{}/", server.addr);
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("curl")
            .args(["-s", "-i", "--max-time", "5", &url])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    // curl sends a chunked upload with -T -; our decoder reassembles it.
    let url = format!("http://{}/body", server.addr);
    let out = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = std::process::Command::new("curl")
            .args([
                "-s",
                "--max-time",
                "5",
                "-X",
                "POST",
                "-H",
                "Transfer-Encoding: chunked",
                "--data-binary",
                "@-",
                &url,
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"sent by curl")
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.stdout, b"sent by curl");
}
