//! Arbitrary bytes into the response-head parser our clients use (the
//! WebSocket client's 101, the EventSource client's 200): a head, "need
//! more", or a documented error, never a panic; the same answer whole and
//! byte by byte; and a framing decision for every complete head.

#![no_main]

use libfuzzer_sys::fuzz_target;
use realtime_events::http::{Limits, ResponseParser, Status};

const LIMITS: Limits = Limits::DEFAULT
    .with_max_head_bytes(512)
    .with_max_headers(8)
    .with_max_target_len(64)
    .with_max_method_len(16)
    .with_max_body_bytes(1000)
    .with_max_chunk_line(32)
    .with_max_trailer_bytes(64);

fn describe(buf: &[u8], parser: &mut ResponseParser) -> String {
    match parser.parse(buf) {
        Ok(Status::Complete(index)) => {
            assert!(index.len() <= buf.len());
            let view = index.view_response(buf);
            let code = view.status().as_u16();
            assert!((100..=999).contains(&code));
            let fields: Vec<_> = view.headers().iter().collect();
            assert!(fields.len() <= LIMITS.max_headers);
            // Framing is decided (or refused) for both a GET and a HEAD.
            let get = view.framing("GET");
            let head = view.framing("HEAD");
            assert!(head.is_err() || head == Ok(realtime_events::http::BodyFraming::Empty));
            format!("head {code} {fields:?} {get:?} {}", index.len())
        }
        Ok(Status::Partial) => "partial".to_string(),
        Err(err) => format!("error {err:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let whole = describe(data, &mut ResponseParser::new(LIMITS));
    let mut parser = ResponseParser::new(LIMITS);
    let mut bytewise = "partial".to_string();
    for end in 1..=data.len() {
        bytewise = describe(&data[..end], &mut parser);
        if bytewise != "partial" {
            break;
        }
    }
    assert_eq!(whole, bytewise);
});
