//! Helpers shared by the integration tests: start a server in-process on a
//! free port, talk raw TCP to it, read what it answers.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use realtime_events::app;
use realtime_events::server::{Response, Router, Server, ServerConfig, Shutdown};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// A server running in this test process.
pub struct TestServer {
    pub addr: SocketAddr,
    pub shutdown: Shutdown,
    pub task: JoinHandle<()>,
}

/// Starts `router` on 127.0.0.1 with a free port.
pub async fn start(router: Router, config: ServerConfig) -> TestServer {
    let server = Server::bind("127.0.0.1:0", router, config)
        .await
        .expect("bind");
    let addr = server.local_addr();
    let shutdown = Shutdown::new();
    let task = tokio::spawn(server.serve(shutdown.clone()));
    TestServer {
        addr,
        shutdown,
        task,
    }
}

/// Short timeouts so tests about them finish quickly.
pub fn quick_config() -> ServerConfig {
    ServerConfig::default()
        .with_header_read_timeout(Duration::from_millis(500))
        .with_body_timeout(Duration::from_millis(500))
        .with_write_timeout(Duration::from_millis(500))
        .with_idle_timeout(Duration::from_secs(2))
        .with_shutdown_grace(Duration::from_secs(2))
}

/// Sends `request` and reads until the server closes (or 5 s pass).
pub async fn exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("write");
    read_to_close(&mut stream).await
}

/// Reads until EOF; panics if the server keeps the connection open for 5 s.
pub async fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), async {
        let mut buf = [0u8; 8192];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("the server should have closed the connection");
    out
}

/// Reads exactly one response with a Content-Length body.
pub async fn read_response(stream: &mut TcpStream) -> (u16, String, Vec<u8>) {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut byte))
            .await
            .expect("response in time")
            .expect("read");
        assert_eq!(
            n,
            1,
            "connection closed mid-head: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.push(byte[0]);
    }
    let head = String::from_utf8(buf).expect("ASCII head");
    let status: u16 = head[9..12].parse().expect("status code");
    let length = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(|v| v.trim().parse::<usize>().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.expect("body");
    (status, head, body)
}

/// The status code of the first response in `bytes`.
pub fn status_of(bytes: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(bytes);
    assert!(text.starts_with("HTTP/1.1 "), "not a response: {text:?}");
    text[9..12].parse().unwrap()
}

/// This process's resident memory in KiB, from /proc (Linux).
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The demo's routes plus `POST /body`, which answers with the request body
/// (so tests can see what the body decoder made of it).
pub fn demo_with_body_echo() -> Router {
    app::router().route("POST", "/body", |req| async move {
        Response::new(200, req.body().clone())
    })
}

/// Asserts the server still answers a plain request (after a hostile one).
pub async fn assert_healthy(addr: SocketAddr) {
    let reply = exchange(
        addr,
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&reply), 200, "server unhealthy afterwards");
}

/// A WebSocket handshake by hand over blocking std TCP (for tests that
/// drive a separate process); returns the stream after the 101.
pub fn ws_handshake_std(addr: &str, path: &str) -> std::net::TcpStream {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101 "), "{head:?}");
    stream
}

/// Opens a WebSocket at `path` by hand (no client library) and returns the
/// stream right after the 101, for tests that then speak raw frames.
pub async fn open_ws(addr: SocketAddr, path: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101 "),
        "{}",
        String::from_utf8_lossy(&head)
    );
    stream
}

/// The demo binary, started by a test as a user would start it.
pub struct Demo {
    pub child: std::process::Child,
    /// `http` or `https`, from the address line.
    pub scheme: String,
    /// HOST:PORT, from the address line.
    pub addr: String,
}

/// The demo binary on a free port (`--addr 127.0.0.1:0`), stdout piped
/// for its address line, stderr dropped: a test adds its flags, its
/// environment, or a stderr of its own, then calls [`spawn_demo`].
pub fn demo_command() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_realtime-events"));
    command
        .args(["--addr", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    command
}

/// Starts `command` and waits for the one stdout line that says where it
/// listens, `listening on SCHEME://HOST:PORT`.
pub fn spawn_demo(command: &mut std::process::Command) -> Demo {
    use std::io::BufRead;
    let mut child = command.spawn().expect("start the demo binary");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout is piped"))
        .read_line(&mut line)
        .expect("the address line");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("no address line: {line:?}"));
    let (scheme, addr) = url
        .split_once("://")
        .unwrap_or_else(|| panic!("no scheme in {url:?}"));
    Demo {
        scheme: scheme.to_string(),
        addr: addr.to_string(),
        child,
    }
}
