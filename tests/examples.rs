//! Every chapter's example runs: servers are started on port 0 and asked
//! something; one-shot programs are run and their output checked.

mod support;

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
fn ch04_ticker_streams_quotes_with_ids() {
    let server = start_server("ch04_sse_ticker", &[]);
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"GET /ticker HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    let mut buf = [0u8; 1024];
    while !text.contains("id: 2\ndata: {\"symbol\":") {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "closed: {text}");
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("Content-Type: text/event-stream\r\n"));
    assert!(text.contains("event: quote\nid: 1\n") || text.contains("event: quote\nid: 2\n"));
}

#[test]
fn ch05_feed_resumes_without_gaps() {
    let out = example("ch05_resumable_feed").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("-- dropped; reconnected (connection 2)"),
        "{text}"
    );
    assert!(text.contains("id 30  tick: tick 30 ✓"), "{text}");
    assert!(
        text.contains("received ids 1..=30 exactly once, in order"),
        "{text}"
    );
}

/// Runs a one-shot example and returns its stdout, checking it exits 0.
fn run_ok(name: &str) -> String {
    let out = example(name).output().unwrap();
    assert!(
        out.status.success(),
        "{name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Writes one masked client frame.
fn send_frame(stream: &mut TcpStream, opcode: u8, payload: &[u8]) {
    assert!(payload.len() < 126);
    let key = [1u8, 2, 3, 4];
    let mut frame = vec![0x80 | opcode, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&key);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    stream.write_all(&frame).unwrap();
}

/// Reads one short unmasked server frame: (opcode, payload).
fn read_frame(stream: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).unwrap();
    assert!(head[1] < 126, "short frames only");
    let mut payload = vec![0u8; head[1] as usize];
    stream.read_exact(&mut payload).unwrap();
    (head[0] & 0x0f, payload)
}

#[test]
fn ch06_prints_a_real_handshake() {
    let text = run_ok("ch06_handshake");
    assert!(
        text.contains("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\n"),
        "{text}"
    );
    assert!(text.contains("= s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{text}");
    assert!(
        text.contains("HTTP/1.1 101 Switching Protocols\\r\\n"),
        "{text}"
    );
    assert!(
        text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\\r\\n"),
        "{text}"
    );
    assert!(text.contains("HTTP/1.1 426 Upgrade Required"), "{text}");
    assert!(
        text.contains("with a bad key: HTTP/1.1 400 Bad Request"),
        "{text}"
    );
}

#[test]
fn ch07_inspector_dumps_real_frames_both_ways() {
    let text = run_ok("ch07_frame_inspector");
    // The client's "Hello" is masked, the echo is not.
    assert!(text.contains("client -> server: 11 bytes"), "{text}");
    assert!(text.contains("MASK=1 len7=5"), "{text}");
    assert!(
        text.contains("payload unmasked:         48 65 6c 6c 6f  \"Hello\""),
        "{text}"
    );
    assert!(
        text.contains("server -> client: 7 bytes\n  81 05 48 65 6c 6c 6f"),
        "{text}"
    );
    assert!(text.contains("opcode=0x2 (Binary)"), "{text}");
    assert!(text.contains("bytes 2-3: 01 2c = 300"), "{text}");
    assert!(text.contains("opcode=0xa (Pong)"), "{text}");
    assert!(
        text.contains("server -> client: 4 bytes\n  88 02 03 e8"),
        "{text}"
    );
}

#[test]
fn ch08_echo_server_echoes_text_and_binary() {
    let server = start_server("ch08_echo", &[]);
    let mut stream = support::ws_handshake_std(&server.addr, "/echo");
    send_frame(&mut stream, 0x1, b"two-way");
    assert_eq!(read_frame(&mut stream), (0x1, b"two-way".to_vec()));
    send_frame(&mut stream, 0x2, &[0, 159, 146, 150]);
    assert_eq!(read_frame(&mut stream), (0x2, vec![0, 159, 146, 150]));
    send_frame(&mut stream, 0x8, &[0x03, 0xe8]);
    assert_eq!(read_frame(&mut stream), (0x8, vec![0x03, 0xe8]));
}

#[test]
fn ch09_chat_server_broadcasts() {
    let server = start_server("ch09_chat", &[]);
    let mut ada = support::ws_handshake_std(&server.addr, "/chat?nick=ada");
    assert_eq!(read_frame(&mut ada), (0x1, b"* ada joined".to_vec()));
    let mut bob = support::ws_handshake_std(&server.addr, "/chat?nick=bob");
    assert_eq!(read_frame(&mut ada), (0x1, b"* bob joined".to_vec()));
    assert_eq!(read_frame(&mut bob), (0x1, b"* bob joined".to_vec()));
    send_frame(&mut bob, 0x1, b"hello");
    assert_eq!(read_frame(&mut ada), (0x1, b"bob: hello".to_vec()));
}

/// Runs `cmd` with `input` on stdin, and returns what it printed, failing
/// the test if it does not finish within ten seconds.
fn run_with_stdin(mut cmd: Command, input: &str) -> String {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "did not finish"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn ch01_client_sends_lines_and_prints_each_read() {
    let server = start_server("ch01_tcp_echo", &[]);
    let mut cmd = example("ch01_tcp_echo");
    cmd.args(["--client", "--addr", &server.addr]);
    let out = run_with_stdin(cmd, "one\ntwo\n");
    // However the reads were cut, the bytes come back whole and in order.
    let echoed: String = out
        .lines()
        .map(|l| {
            let quoted = l.split_once(": ").expect("read N byte(s): \"...\"").1;
            quoted.trim_matches('"').replace("\\n", "\n")
        })
        .collect();
    assert_eq!(echoed, "one\ntwo\n", "{out}");
}

#[test]
fn ch09_client_chats_from_stdin() {
    let server = start_server("ch09_chat", &[]);
    let mut bob = support::ws_handshake_std(&server.addr, "/chat?nick=bob");
    assert_eq!(read_frame(&mut bob), (0x1, b"* bob joined".to_vec()));

    let mut ada = example("ch09_chat")
        .args(["--client", &format!("ws://{}/chat?nick=ada", server.addr)])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut ada_out = BufReader::new(ada.stdout.take().unwrap());
    let mut line = String::new();
    ada_out.read_line(&mut line).unwrap();
    assert_eq!(line, "* ada joined\n");
    assert_eq!(read_frame(&mut bob), (0x1, b"* ada joined".to_vec()));

    let mut ada_in = ada.stdin.take().unwrap();
    ada_in.write_all(b"hi bob\n").unwrap();
    assert_eq!(read_frame(&mut bob), (0x1, b"ada: hi bob".to_vec()));
    // Ada hears her own message too: the room sends to every member.
    line.clear();
    ada_out.read_line(&mut line).unwrap();
    assert_eq!(line, "ada: hi bob\n");

    send_frame(&mut bob, 0x1, b"hello ada");
    assert_eq!(read_frame(&mut bob), (0x1, b"bob: hello ada".to_vec()));
    line.clear();
    ada_out.read_line(&mut line).unwrap();
    assert_eq!(line, "bob: hello ada\n");

    // End of input: Ada leaves and the client exits cleanly.
    drop(ada_in);
    assert_eq!(read_frame(&mut bob), (0x1, b"* ada left".to_vec()));
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = ada.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
}

/// The server examples and their default ports: distinct from each other
/// and from the demo's 8080, so a reader can keep them all running.
const SERVER_PORTS: [(&str, u16); 5] = [
    ("ch01_tcp_echo", 8081),
    ("ch03_hello_http", 8083),
    ("ch04_sse_ticker", 8084),
    ("ch08_echo", 8088),
    ("ch09_chat", 8089),
];

#[test]
fn server_examples_document_distinct_default_ports() {
    for (name, port) in SERVER_PORTS {
        let out = example(name).arg("--help").output().unwrap();
        assert!(out.status.success(), "{name} --help: {out:?}");
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            help.contains(&format!("[default: 127.0.0.1:{port}]")),
            "{name}: {help}"
        );
    }
    let mut ports: Vec<u16> = SERVER_PORTS.iter().map(|(_, p)| *p).collect();
    ports.push(8080);
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), SERVER_PORTS.len() + 1);
}

#[test]
fn a_taken_port_is_one_line_for_every_server_example() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    for (name, _) in SERVER_PORTS {
        let out = example(name).args(["--addr", &addr]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{name}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            stderr.trim_end(),
            realtime_events::cli::cannot_listen(&addr, &std::io::ErrorKind::AddrInUse.into()),
            "{name}"
        );
    }
}

#[test]
fn ch10_compression_shows_both_frames_and_the_memory() {
    let text = run_ok("ch10_compression");
    let size = |label: &str| -> usize {
        let line = text.lines().find(|l| l.starts_with(label)).expect(label);
        line[label.len()..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let plain = size("without compression:");
    let deflated = size("with permessage-deflate:");
    let again = size("the same message again, with context takeover:");
    assert!(deflated < plain && again < deflated / 4, "{text}");
    assert!(
        text.contains("(first byte 0xc1: FIN, RSV1, text)"),
        "{text}"
    );
    assert!(text.contains("permessage-deflate, takeover:"), "{text}");
}

#[test]
fn ch10_client_talks_both_ways_with_binary() {
    let text = run_ok("ch10_client");
    assert!(text.contains("received text: \"hello, server\""), "{text}");
    assert!(text.contains("received binary: [de, ad, be, ef]"), "{text}");
    assert!(
        text.contains("server closed with Some(CloseFrame { code: 1000"),
        "{text}"
    );
}

#[test]
fn ch13_limits_answers_every_probe() {
    let out = example("ch13_limits").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let answer = |probe: &str| {
        text.lines()
            .find(|l| l.starts_with(probe))
            .and_then(|l| l.split("-> ").nth(1))
            .map(|a| a[9..12].to_string())
            .unwrap_or_else(|| panic!("no line for {probe}: {text}"))
    };
    assert_eq!(answer("an endless header line"), "431");
    assert_eq!(answer("an endless chunk-size line"), "400");
    assert_eq!(answer("a 200-byte target"), "414");
    assert_eq!(answer("20 header fields"), "431");
    assert_eq!(answer("a 1 GB Content-Length"), "413");
    assert_eq!(answer("a body that never comes"), "408");
    assert_eq!(answer("half a head, then silence"), "408");
    assert_eq!(answer("CL.TE smuggling"), "400");
    assert_eq!(answer("a bare LF"), "400");
    assert_eq!(answer("and then a polite client"), "200");
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
    // Read until three whole events with data are in (the hub first sends
    // a position marker, an `id:` line alone, which fires no event).
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    while text.matches("\n\n").count() < 4 {
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
    let with_data = body.split("\n\n").filter(|e| e.contains("data: "));
    for event in with_data.take(3) {
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
fn the_books_sample_outputs_are_the_examples_real_ones() {
    // ch12_overhead is arithmetic: its whole output is quoted verbatim.
    let chapter = std::fs::read_to_string("tutorial/src/ch12-side-by-side.md").unwrap();
    let overhead = run_ok("ch12_overhead");
    assert!(
        chapter.contains(&overhead),
        "chapter 12 quotes another ch12_overhead output than:\n{overhead}"
    );

    // The ticker is seeded and starts with its first subscriber, so a fresh
    // one always opens with the quotes chapter 4 shows.
    let server = start_server("ch04_sse_ticker", &[]);
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"GET /ticker HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    let mut buf = [0u8; 1024];
    while !text.contains("\nid: 2\n") || !text.ends_with("\n\n") {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "closed: {text}");
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let body = text.split_once("\r\n\r\n").unwrap().1;
    let first_two = &body[..body.find("\nid: 2\n").unwrap()];
    let first_two = &body[..first_two.len() + body[first_two.len()..].find("\n\n").unwrap() + 2];
    let chapter = std::fs::read_to_string("tutorial/src/ch04-server-sent-events.md").unwrap();
    assert!(
        chapter.contains(first_two),
        "chapter 4's sample is not what a fresh ticker sends:\n{first_two}"
    );
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
