//! Fuzzes the SSE client core: a whole response (head, then a body that is
//! chunked, length-framed or read until close) fed to `EventSourceCore`.
//!
//! Invariants: never a panic; the outcome is progress or a documented
//! `ResponseError` consistent with the head; and the events, progress,
//! error, last event ID and reconnection time are the same whether the
//! response comes whole or in pieces.

#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use realtime_events::http::Limits;
use realtime_events::sse::handshake::{EventSourceCore, Progress, ResponseError};
use realtime_events::sse::{ParsedEvent, ParserConfig};
use realtime_events::ws::BytesMut;

/// Small limits so the parser's and the chunk decoder's limits are reached.
const LIMITS: Limits = Limits::DEFAULT
    .with_max_head_bytes(1024)
    .with_max_headers(16)
    .with_max_target_len(64)
    .with_max_method_len(16)
    .with_max_body_bytes(4096)
    .with_max_chunk_line(32)
    .with_max_trailer_bytes(64);

#[derive(Debug, PartialEq)]
struct Outcome {
    progress: Vec<Progress>,
    events: Vec<ParsedEvent>,
    error: Option<ResponseError>,
    last_event_id: String,
    retry: Option<Duration>,
}

fn run(data: &[u8], step: usize) -> Outcome {
    let config = ParserConfig::default()
        .with_max_line_bytes(64)
        .with_max_event_bytes(256);
    let mut core = EventSourceCore::new(config, LIMITS);
    let mut request = BytesMut::new();
    core.start("example.org", "/feed", &mut request);
    let mut out = Outcome {
        progress: Vec::new(),
        events: Vec::new(),
        error: None,
        last_event_id: String::new(),
        retry: None,
    };
    let mut input = BytesMut::new();
    'feed: for piece in data.chunks(step) {
        input.extend_from_slice(piece);
        loop {
            match core.receive(&mut input, &mut out.events) {
                Ok(Progress::NeedMore) => break,
                Ok(Progress::Open) => out.progress.push(Progress::Open),
                Ok(done) => {
                    out.progress.push(done);
                    break 'feed;
                }
                Err(err) => {
                    match &err {
                        ResponseError::Status(code) => assert!(*code != 200 && *code != 204),
                        ResponseError::ContentType(ct) => {
                            let ct = ct.to_ascii_lowercase();
                            assert!(ct != "text/event-stream");
                            assert!(!ct.starts_with("text/event-stream;"));
                        }
                        ResponseError::Http(_) | ResponseError::Events(_) => {}
                    }
                    // Only the head can fail the source for good.
                    assert!(!err.is_fatal() || out.progress.is_empty());
                    out.error = Some(err);
                    break 'feed;
                }
            }
        }
    }
    // Events only ever follow an accepted head.
    assert!(out.events.is_empty() || out.progress.first() == Some(&Progress::Open));
    core.disconnected();
    out.last_event_id = core.last_event_id().to_string();
    out.retry = core.reconnection_time();
    out
}

fuzz_target!(|data: &[u8]| {
    let whole = run(data, data.len().max(1));
    for step in [1, 2, 7] {
        assert_eq!(run(data, step), whole, "step {step}");
    }
});
