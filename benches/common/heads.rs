//! The request heads the head-parsing benchmarks use (the smallest valid
//! one, what a browser sends for a page, and a WebSocket upgrade), and the
//! one way each side parses them, so every bench measures the same calls.

use realtime_events::http::{RequestParser, Status};
use std::hint::black_box;

/// Our parse of `input`: the head's length. The inputs are fixed and
/// valid, so anything but a complete head is a bug in the bench.
#[inline]
pub fn ours_len(parser: &mut RequestParser, input: &[u8]) -> usize {
    match parser.parse(black_box(input)) {
        Ok(Status::Complete(index)) => index.len(),
        other => panic!("{other:?}"),
    }
}

/// httparse's parse of `input`, into a stack array of 32 fields as its
/// users write it: the head's length.
#[inline]
pub fn httparse_len(input: &[u8]) -> usize {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(black_box(input)) {
        Ok(httparse::Status::Complete(n)) => n,
        other => panic!("{other:?}"),
    }
}

pub const MINIMAL: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";

pub const BROWSER: &[u8] = b"GET /ticker?symbol=ACME&depth=10 HTTP/1.1\r\n\
Host: localhost:8080\r\n\
Connection: keep-alive\r\n\
Cache-Control: max-age=0\r\n\
sec-ch-ua: \"Chromium\";v=\"156\", \"Not=A?Brand\";v=\"24\"\r\n\
sec-ch-ua-mobile: ?0\r\n\
sec-ch-ua-platform: \"Linux\"\r\n\
Upgrade-Insecure-Requests: 1\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n\
Sec-Fetch-Site: none\r\n\
Sec-Fetch-Mode: navigate\r\n\
Sec-Fetch-User: ?1\r\n\
Sec-Fetch-Dest: document\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Accept-Language: en-GB,en;q=0.9,fr;q=0.8\r\n\
Cookie: session=8f14e45fceea167a5a36dedd4bea2543; theme=dark\r\n\r\n";

pub const UPGRADE: &[u8] = b"GET /chat HTTP/1.1\r\n\
Host: localhost:8080\r\n\
Connection: Upgrade\r\n\
Pragma: no-cache\r\n\
Cache-Control: no-cache\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0.0.0 Safari/537.36\r\n\
Upgrade: websocket\r\n\
Origin: http://localhost:8080\r\n\
Sec-WebSocket-Version: 13\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Accept-Language: en-GB,en;q=0.9\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";
