//! The demo binary as a user runs it: `--addr 127.0.0.1:0` prints the
//! chosen address on one stdout line, then serves; `--help` documents every
//! flag on stdout; a taken port is one plain line.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

mod support;

/// Starts the binary on port 0 with `stderr` as given, and returns it with
/// the address from its one stdout line.
fn start_binary(stderr: Stdio) -> (Child, String) {
    let demo = support::spawn_demo(
        support::demo_command()
            .env("RUST_LOG", "info")
            .stderr(stderr),
    );
    assert_eq!(demo.scheme, "http");
    (demo.child, demo.addr)
}

#[test]
fn binary_prints_its_address_and_serves() {
    let (mut child, addr) = start_binary(Stdio::piped());

    let mut stream = TcpStream::connect(&addr).unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(reply.contains("<!doctype html>"));

    let mut stream = TcpStream::connect(&addr).unwrap();
    stream
        .write_all(b"GET /nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 404 Not Found\r\n"), "{reply}");

    // One log line per connection: wait for both (the server writes each
    // once the connection has ended on its side), then stop it.
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let mut connection_lines = Vec::new();
    while connection_lines.len() < 2 {
        let line = lines_rx
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("a log line per connection");
        if line.contains("connection closed") {
            connection_lines.push(line);
        }
    }
    assert!(
        connection_lines.iter().all(|l| l.contains("peer")),
        "{connection_lines:?}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let rest: Vec<String> = lines_rx.try_iter().collect();
    assert!(
        !rest.iter().any(|l| l.contains("connection closed")),
        "only two connections were made: {rest:?}"
    );
}

#[test]
fn bad_arguments_exit_with_usage() {
    let out = Command::new(env!("CARGO_BIN_EXE_realtime-events"))
        .args(["--addr", "not-an-address"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("HOST:PORT"));
}

#[test]
fn help_lists_every_flag_on_stdout_and_exits_0() {
    let out = Command::new(env!("CARGO_BIN_EXE_realtime-events"))
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--addr <HOST:PORT>",
        "REALTIME_EVENTS_ADDR",
        "127.0.0.1:8080",
        "--help",
        "--version",
    ] {
        assert!(help.contains(needle), "{needle:?} missing from:\n{help}");
    }
    assert!(out.stderr.is_empty(), "{out:?}");

    let out = Command::new(env!("CARGO_BIN_EXE_realtime-events"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        concat!("realtime-events ", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn the_address_can_come_from_the_environment() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_realtime-events"))
        .env("REALTIME_EVENTS_ADDR", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(line.starts_with("listening on http://127.0.0.1:"), "{line}");
    assert!(!line.contains(":8080"), "{line}");
}

#[test]
fn a_taken_port_is_one_line_not_a_debug_dump() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_realtime-events"))
        .args(["--addr", &addr])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim_end(),
        format!(
            "cannot listen on {addr}: address already in use \
             (is another example or the demo running? try --addr 127.0.0.1:0)"
        )
    );
}

#[test]
fn ctrl_c_shuts_the_server_down() {
    let (mut child, addr) = start_binary(Stdio::null());
    // An idle keep-alive connection must not hold the shutdown up.
    let mut idle = TcpStream::connect(&addr).unwrap();
    idle.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 15];
    idle.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200 OK");

    // What Ctrl-C sends.
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = std::time::Instant::now();
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "did not exit"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(exit.success(), "{exit:?}");
    assert!(TcpStream::connect(&addr).is_err(), "the port is closed");
}
