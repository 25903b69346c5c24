//! Arbitrary bytes into the request-head parser. The invariant: a head, a
//! "need more", or one of the documented errors — never a panic — and the
//! same answer whether the bytes arrive whole, split once, or byte by byte.

#![no_main]

use libfuzzer_sys::fuzz_target;
use realtime_events::http::{HeadIndex, Limits, ParseError, RequestParser, Status};

/// Small limits, so the fuzzer reaches every limit path.
const LIMITS: Limits = Limits::DEFAULT
    .with_max_head_bytes(512)
    .with_max_headers(8)
    .with_max_target_len(64)
    .with_max_method_len(16)
    .with_max_body_bytes(1000)
    .with_max_chunk_line(32)
    .with_max_trailer_bytes(64);

/// A comparable description of one parse result, checking on the way that
/// everything a complete head hands out is consistent.
fn describe(buf: &[u8], parsed: Result<Status<HeadIndex>, ParseError>) -> String {
    match parsed {
        Ok(Status::Complete(index)) => {
            assert!(index.len() <= buf.len() && index.len() <= LIMITS.max_head_bytes);
            let head = index.view(buf);
            let fields: Vec<_> = head.headers().iter().collect();
            assert!(fields.len() <= LIMITS.max_headers);
            assert!(head.target().len() <= LIMITS.max_target_len);
            assert!(!head.method().is_empty() && head.method().len() <= LIMITS.max_method_len);
            format!(
                "head {} {} {:?} {:?} {:?} {}",
                head.method(),
                head.target(),
                head.version(),
                fields,
                head.framing(),
                index.len()
            )
        }
        Ok(Status::Partial) => {
            assert!(
                buf.len() <= LIMITS.max_head_bytes,
                "partial past the head limit"
            );
            "partial".to_string()
        }
        Err(err) => {
            let status = err.status().as_u16();
            assert!([400, 413, 414, 431, 501, 505].contains(&status), "{err:?}");
            format!("error {err:?}")
        }
    }
}

/// Feeds growing prefixes ending at each of `cuts` (then the whole input),
/// stopping at the first answer that is not "partial".
fn feed(data: &[u8], cuts: impl Iterator<Item = usize>) -> String {
    let mut parser = RequestParser::new(LIMITS);
    for end in cuts.chain(std::iter::once(data.len())) {
        let answer = describe(&data[..end], parser.parse(&data[..end]));
        if answer != "partial" {
            return answer;
        }
    }
    "partial".to_string()
}

fuzz_target!(|data: &[u8]| {
    let whole = feed(data, std::iter::empty());
    let cut = data.first().map_or(0, |&b| b as usize % (data.len() + 1));
    assert_eq!(feed(data, std::iter::once(cut)), whole, "split at {cut}");
    assert_eq!(feed(data, 1..data.len()), whole, "byte by byte");
});
