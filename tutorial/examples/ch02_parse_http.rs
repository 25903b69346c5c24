//! Chapter 2: feed requests to the hand-written parser and see what it
//! makes of them.
//!
//! `cargo run --example ch02_parse_http` parses a set of sample requests,
//! good and bad, one byte at a time, and prints the fields or the error
//! with the status a server would answer.
//!
//! `cargo run --example ch02_parse_http -- -` parses a request from stdin
//! instead (for example `printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' | ...`).

use std::io::Read;

use realtime_events::http::{RequestParser, Status};

const SAMPLES: &[(&str, &[u8])] = &[
    ("a browser GET", b"GET /ticker?symbol=ACME HTTP/1.1\r\nHost: localhost:8080\r\nAccept: text/event-stream\r\nLast-Event-ID: 41\r\n\r\n"),
    ("a chunked POST", b"POST /chat HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"),
    ("bare LF line ends", b"GET / HTTP/1.1\nHost: x\n\n"),
    ("no Host in HTTP/1.1", b"GET / HTTP/1.1\r\n\r\n"),
    ("space before the colon", b"GET / HTTP/1.1\r\nHost : x\r\n\r\n"),
    ("obsolete line folding", b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: a\r\n  b\r\n\r\n"),
    ("Content-Length and Transfer-Encoding", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"),
    ("two different lengths", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n"),
    ("gzip transfer-coding", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
    ("HTTP/2.0 request line", b"GET / HTTP/2.0\r\nHost: x\r\n\r\n"),
];

// ANCHOR: byte_by_byte
/// Feeds `wire` one byte at a time, as the slowest network would, and
/// reports what the parser said once it said something other than "more".
fn parse_byte_by_byte(wire: &[u8]) -> String {
    let mut parser = RequestParser::default();
    for end in 1..=wire.len() {
        match parser.parse(&wire[..end]) {
            Ok(Status::Partial) => continue,
            Ok(Status::Complete(index)) => {
                let head = index.view(&wire[..end]);
                let mut out = format!(
                    "complete after {} bytes: {} {} {}\n",
                    index.len(),
                    head.method(),
                    head.target(),
                    head.version().as_str()
                );
                for (name, value) in head.headers().iter() {
                    out += &format!("    {name}: {}\n", String::from_utf8_lossy(value));
                }
                out += &format!("    body framing: {:?}", head.framing());
                return out;
            }
            Err(err) => return format!("refused at byte {end}: {err}"),
        }
    }
    "incomplete: the parser needs more bytes".to_string()
}
// ANCHOR_END: byte_by_byte

fn main() {
    if std::env::args().nth(1).as_deref() == Some("-") {
        let mut wire = Vec::new();
        std::io::stdin().read_to_end(&mut wire).expect("read stdin");
        println!("{}", parse_byte_by_byte(&wire));
        return;
    }
    for (name, wire) in SAMPLES {
        println!("{name}:\n  {}\n", parse_byte_by_byte(wire));
    }
}
