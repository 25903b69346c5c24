//! Every chapter's example runs: servers are started on port 0 and asked
//! something; one-shot programs are run and their output checked.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// Where cargo put the example binaries (it builds them for `cargo test`).
fn example(name: &str) -> Command {
    let mut dir = std::env::current_exe().expect("test binary path");
    dir.pop(); // deps/
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path: PathBuf = dir.join("examples").join(name);
    assert!(
        path.exists(),
        "example {name} not built at {}",
        path.display()
    );
    Command::new(path)
}

/// A running example server; killed when dropped.
struct Running {
    child: Child,
    addr: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a server example on port 0 and reads the address it prints.
fn start_server(name: &str, extra: &[&str]) -> Running {
    let mut child = example(name)
        .args(["--addr", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start example");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .rsplit("://")
        .next()
        .expect("a listening line")
        .trim_end_matches('/')
        .to_string();
    Running { child, addr }
}

/// Sends a request and reads the whole answer (the request asks to close).
pub fn http(addr: &str, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    String::from_utf8_lossy(&reply).into_owned()
}

#[test]
fn ch01_echo_server_echoes() {
    let server = start_server("ch01_tcp_echo", &[]);
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    stream.write_all(b"hello, stream").unwrap();
    let mut back = [0u8; 13];
    stream.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"hello, stream");
}

#[test]
fn ch01_demo_shows_the_bytes_in_order() {
    let out = example("ch01_tcp_echo").arg("--demo").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("echoed back: \"onetwothree\""), "{text}");
}

#[test]
fn ch02_parser_demo_accepts_and_refuses() {
    let out = example("ch02_parse_http").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("complete after 104 bytes: GET /ticker?symbol=ACME HTTP/1.1"),
        "{text}"
    );
    assert!(text.contains("Last-Event-ID: 41"));
    assert!(text.contains("Content-Length and Transfer-Encoding together (400 Bad Request)"));
    assert!(
        text.contains("only HTTP/1.0 and HTTP/1.1 are supported (505 HTTP Version Not Supported)")
    );
    assert!(text.contains("transfer-coding not implemented (501 Not Implemented)"));

    let mut child = example("ch02_parse_http")
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"GET /x HTTP/1.0\r\n\r\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        "complete after 19 bytes: GET /x HTTP/1.0\n    body framing: Empty"
    );
}

#[test]
fn ch03_server_routes_and_refuses() {
    let server = start_server("ch03_hello_http", &[]);
    let reply = http(
        &server.addr,
        b"GET / HTTP/1.1\r\nHost: t\r\nUser-Agent: tester\r\nConnection: close\r\n\r\n",
    );
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(reply.ends_with("hello, tester\n"), "{reply}");
    let reply = http(
        &server.addr,
        b"POST /reverse HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n4\r\nstre\r\n4\r\nssed\r\n0\r\n\r\n",
    );
    assert!(reply.ends_with("\r\n\r\ndesserts"), "{reply}");
    let reply = http(&server.addr, b"GET / HTTP/1.1\r\n\r\n");
    assert!(reply.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{reply}");
}

#[test]
fn ch12_fanout_streams_timestamped_numbered_events() {
    let server = start_server("ch12_fanout", &["--rate", "50", "--size", "80"]);
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"GET /events HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    // Read until three whole events (blank-line terminated) are in.
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    while text.matches("\n\n").count() < 3 {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "stream ended early: {text}");
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/event-stream"),
        "{head}"
    );
    let now_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let mut seqs = Vec::new();
    for event in body.split("\n\n").filter(|e| !e.is_empty()).take(3) {
        let data = event
            .lines()
            .find_map(|l| l.strip_prefix("data: "))
            .unwrap_or_else(|| panic!("no data line in {event:?}"));
        assert_eq!(data.len(), 80, "{data:?}");
        let mut parts = data.split(' ');
        let sent: u128 = parts.next().unwrap().parse().unwrap();
        assert!(sent <= now_ns && now_ns - sent < 10_000_000_000, "{sent}");
        seqs.push(parts.next().unwrap().parse::<u64>().unwrap());
    }
    assert_eq!(seqs.len(), 3);
    assert_eq!(seqs[1], seqs[0] + 1, "{seqs:?}");
    assert_eq!(seqs[2], seqs[0] + 2, "{seqs:?}");
}

#[test]
fn ch12_overhead_counts_exact_bytes() {
    let out = example("ch12_overhead").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    // "data: " + "\n" + "\n" = 8; "id: 123456\n" = 11 more. WebSocket: 2, 4
    // or 10 header bytes, plus a 4-byte key from a client. base64: 4 per 3.
    for row in [
        "     20    8                19                  2                  6                         8",
        "    125    8                19                  2                  6                        43",
        "    126    8                19                  4                  8                        42",
        "  65536    8                19                 10                 14                     21848",
    ] {
        assert!(text.contains(row), "missing {row:?} in\n{text}");
    }
    assert!(
        text.contains("10 lines of 10 bytes: sse 62 bytes, ws server->client 2 bytes"),
        "{text}"
    );
}
