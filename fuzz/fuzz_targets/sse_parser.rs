//! Arbitrary bytes into the event-stream parser: it must never panic, and
//! however the bytes are chunked it must produce the same items and the
//! same error.
//!
//! Small limits make the `LineTooLong` / `EventTooLarge` paths reachable.

#![no_main]

use libfuzzer_sys::fuzz_target;
use realtime_events::sse::{EventStreamParser, Item, ParseError, ParserConfig};

/// Feeds `chunks` in order; stops at the first error, as a caller would.
fn run<'a>(chunks: impl Iterator<Item = &'a [u8]>) -> (Vec<Item>, Result<(), ParseError>) {
    let mut parser = EventStreamParser::with_config(
        ParserConfig::default()
            .with_max_line_bytes(64)
            .with_max_event_bytes(256),
    );
    let mut items = Vec::new();
    for chunk in chunks {
        if let Err(e) = parser.feed(chunk, &mut items) {
            // A failed parser stays failed.
            assert_eq!(parser.feed(b"\n\n", &mut items), Err(e));
            return (items, Err(e));
        }
    }
    parser.finish();
    (items, Ok(()))
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks a chunk size for the chunked run.
    let Some((&size, stream)) = data.split_first() else {
        return;
    };
    let size = usize::from(size % 17) + 1;

    let whole = run(std::iter::once(stream));
    let chunked = run(stream.chunks(size));
    let bytewise = run(stream.chunks(1));
    assert_eq!(whole, chunked);
    assert_eq!(whole, bytewise);
});
