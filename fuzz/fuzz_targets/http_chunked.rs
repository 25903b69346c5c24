//! Arbitrary bytes into the chunked-body decoder: never a panic, the body
//! within the limit, and the same body, length and error however the input
//! is split.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use realtime_events::http::{ChunkedDecoder, Limits};

const LIMITS: Limits = Limits::DEFAULT
    .with_max_head_bytes(512)
    .with_max_headers(8)
    .with_max_target_len(64)
    .with_max_method_len(16)
    .with_max_body_bytes(4096)
    .with_max_chunk_line(32)
    .with_max_trailer_bytes(64);

/// Decodes `data` fed in pieces of `step` bytes.
fn decode(data: &[u8], step: usize) -> String {
    let mut decoder = ChunkedDecoder::new(LIMITS);
    let mut body = BytesMut::new();
    let mut pending = Vec::new();
    let mut consumed = 0;
    for piece in data.chunks(step) {
        pending.extend_from_slice(piece);
        match decoder.decode(&pending, &mut body) {
            Ok(status) => {
                assert!(status.consumed <= pending.len());
                consumed += status.consumed;
                pending.drain(..status.consumed);
                assert!(body.len() as u64 <= LIMITS.max_body_bytes);
                if status.done {
                    return format!("done {consumed} {:?}", &body[..]);
                }
            }
            Err(err) => return format!("error {err:?}"),
        }
    }
    format!("incomplete {consumed} {:?}", &body[..])
}

fuzz_target!(|data: &[u8]| {
    let whole = decode(data, data.len().max(1));
    for step in [1, 2, 7] {
        assert_eq!(decode(data, step), whole, "step {step}");
    }
});
