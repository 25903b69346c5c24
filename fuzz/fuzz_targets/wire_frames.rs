//! Fuzzes the wire view's frame tracker (`app::wire::FrameTracker`), which
//! sees every byte of every tapped `/echo` and `/chat` connection.
//!
//! The first two input bytes pick where to cut the stream; the rest is the
//! stream. Invariants: never a panic; fed whole, cut at the two chosen
//! points, or one byte at a time, the tracker yields the same frame views
//! and the same error (a `FrameError`, reported once, after which it stops);
//! each view's header bytes decode to its header, and its preview holds the
//! first `min(PAYLOAD_PREVIEW, payload length)` payload bytes, unmasked.

#![no_main]

use libfuzzer_sys::fuzz_target;
use realtime_events::app::wire::{FrameTracker, FrameView, PAYLOAD_PREVIEW};
use realtime_events::ws::{apply_mask, FrameError, FrameHeader};

/// Feeds `pieces` in order; returns the views and the first error.
fn track<'a>(pieces: impl IntoIterator<Item = &'a [u8]>) -> (Vec<FrameView>, Option<FrameError>) {
    let mut tracker = FrameTracker::new();
    let mut views = Vec::new();
    let mut error = None;
    for piece in pieces {
        let found = tracker.feed(piece, &mut views);
        assert!(
            found.is_none() || error.is_none(),
            "an error is reported once"
        );
        error = error.or(found);
    }
    (views, error)
}

fuzz_target!(|data: &[u8]| {
    let Some((cuts, stream)) = data.split_first_chunk::<2>() else {
        return;
    };
    let whole = track([stream]);
    let mut at = [cuts[0] as usize, cuts[1] as usize * 8].map(|c| c.min(stream.len()));
    at.sort_unstable();
    let split = track([&stream[..at[0]], &stream[at[0]..at[1]], &stream[at[1]..]]);
    assert_eq!(whole, split, "cut at {at:?}");
    if stream.len() <= 512 {
        assert_eq!(whole, track(stream.chunks(1)), "byte by byte");
    }

    // Each view is what the stream said, at its place in the stream.
    let mut offset = 0;
    for view in &whole.0 {
        let (header, len) = FrameHeader::decode(&stream[offset..])
            .expect("a listed frame decoded")
            .expect("a listed frame is complete");
        assert_eq!(header, view.header);
        assert_eq!(&view.raw_header[..], &stream[offset..offset + len]);
        let payload = offset + len;
        let shown = (PAYLOAD_PREVIEW as u64).min(header.payload_len) as usize;
        let mut preview = stream[payload..payload + shown].to_vec();
        if let Some(key) = header.mask {
            apply_mask(&mut preview, key, 0);
        }
        assert_eq!(&view.preview[..], &preview[..]);
        offset = payload + header.payload_len as usize;
    }
});
