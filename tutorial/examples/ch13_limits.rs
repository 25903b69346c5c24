//! Chapter 13: the limits at work. Starts the demo server in this process
//! with small limits, plays a series of hostile clients against it over
//! real TCP, and prints what the server answered to each — then checks that
//! a polite client is still served. Finishes by itself.
//!
//! `cargo run --example ch13_limits`

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use realtime_events::app;
use realtime_events::http::Limits;
use realtime_events::server::{Server, ServerConfig, Shutdown};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

// ANCHOR: config
/// Deliberately tight limits, so every probe below hits one quickly.
fn tight() -> ServerConfig {
    ServerConfig::default()
        .with_limits(
            Limits::default()
                .with_max_head_bytes(1024)
                .with_max_headers(16)
                .with_max_target_len(128)
                .with_max_body_bytes(4096),
        )
        .with_header_read_timeout(Duration::from_millis(400))
        .with_body_timeout(Duration::from_millis(400))
        .with_write_timeout(Duration::from_millis(400))
}
// ANCHOR_END: config

/// Sends `request` (then keeps sending `filler` for up to a second, like a
/// client that never stops) and returns the first line of the answer.
async fn probe(addr: SocketAddr, request: &[u8], filler: Option<u8>) -> String {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut read, mut write) = stream.into_split();
    let request = request.to_vec();
    let writer = tokio::spawn(async move {
        let _ = write.write_all(&request).await;
        if let Some(byte) = filler {
            let chunk = vec![byte; 16 * 1024];
            let until = Instant::now() + Duration::from_secs(1);
            while Instant::now() < until && write.write_all(&chunk).await.is_ok() {}
        }
        write
    });
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), read.read_to_end(&mut reply)).await;
    drop(writer.await);
    let text = String::from_utf8_lossy(&reply);
    text.lines()
        .next()
        .unwrap_or("(connection closed without an answer)")
        .to_string()
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let server = Server::bind("127.0.0.1:0", app::router(), tight()).await?;
    let addr = server.local_addr();
    let shutdown = Shutdown::new();
    let serving = tokio::spawn(server.serve(shutdown.clone()));

    let long_target = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(200));
    let many = format!("GET / HTTP/1.1\r\nHost: x\r\n{}\r\n", "X: 1\r\n".repeat(20));
    // ANCHOR: probes
    let probes: Vec<(&str, Vec<u8>, Option<u8>)> = vec![
        ("an endless header line", b"GET / HTTP/1.1\r\nHost: x\r\nX: ".to_vec(), Some(b'a')),
        ("an endless chunk-size line", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;".to_vec(), Some(b'x')),
        ("a 200-byte target", long_target.into_bytes(), None),
        ("20 header fields", many.into_bytes(), None),
        ("a 1 GB Content-Length", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n".to_vec(), None),
        ("a body that never comes", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab".to_vec(), None),
        ("half a head, then silence", b"GET / HTTP/1.1\r\nHo".to_vec(), None),
        ("CL.TE smuggling", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX".to_vec(), None),
        ("a bare LF", b"GET / HTTP/1.1\nHost: x\n\n".to_vec(), None),
    ];
    // ANCHOR_END: probes
    for (name, request, filler) in &probes {
        let started = Instant::now();
        let answer = probe(addr, request, *filler).await;
        println!(
            "{name:<28} -> {answer}  ({} ms)",
            started.elapsed().as_millis()
        );
    }

    let polite = probe(
        addr,
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        None,
    )
    .await;
    println!("{:<28} -> {polite}", "and then a polite client");
    shutdown.trigger();
    let _ = serving.await;
    Ok(())
}
