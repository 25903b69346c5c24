//! The chunked-body decoder: framing rules, limits, and a round trip
//! through our own chunk encoder at every split point.

use bytes::BytesMut;
use proptest::prelude::*;
use realtime_events::http::{encode_chunk, encode_last_chunk, ChunkedDecoder, Limits, ParseError};

/// Decodes `input` fed in pieces of `step` bytes; returns the body and the
/// bytes consumed, or the error.
fn decode_in_steps(
    limits: Limits,
    input: &[u8],
    step: usize,
) -> Result<(Vec<u8>, usize), ParseError> {
    let mut decoder = ChunkedDecoder::new(limits);
    let mut body = BytesMut::new();
    let mut consumed = 0;
    let mut pending = Vec::new();
    for piece in input.chunks(step.max(1)) {
        pending.extend_from_slice(piece);
        let status = decoder.decode(&pending, &mut body)?;
        consumed += status.consumed;
        pending.drain(..status.consumed);
        if status.done {
            return Ok((body.to_vec(), consumed));
        }
    }
    // The input ran out before the body did.
    Err(ParseError::InvalidChunk)
}

fn decode(input: &[u8]) -> Result<(Vec<u8>, usize), ParseError> {
    let whole = decode_in_steps(Limits::default(), input, input.len());
    for step in [1, 2, 3, 7] {
        assert_eq!(
            decode_in_steps(Limits::default(), input, step),
            whole,
            "step {step} for {input:?}"
        );
    }
    whole
}

#[test]
fn simple_body() {
    assert_eq!(
        decode(b"4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n"),
        Ok((b"Wikipedia".to_vec(), 24))
    );
}

#[test]
fn stops_at_the_end_of_the_body() {
    let (body, used) = decode(b"1\r\na\r\n0\r\n\r\nGET / HTTP/1.1").unwrap();
    assert_eq!((body.as_slice(), used), (&b"a"[..], 11));
}

#[test]
fn hex_sizes_in_both_cases() {
    let data = vec![b'x'; 0x1a];
    let mut wire = b"1A\r\n".to_vec();
    wire.extend_from_slice(&data);
    wire.extend_from_slice(b"\r\n0\r\n\r\n");
    assert_eq!(decode(&wire).unwrap().0, data);
    wire[..2].copy_from_slice(b"1a");
    assert_eq!(decode(&wire).unwrap().0, data);
}

#[test]
fn extensions_are_skipped() {
    let wire = b"3;name=value;flag\r\nabc\r\n0;last\r\n\r\n";
    assert_eq!(decode(wire).unwrap().0, b"abc");
    let spaced = b"3 ;name=\"quoted value\"\r\nabc\r\n0\r\n\r\n";
    assert_eq!(decode(spaced).unwrap().0, b"abc");
}

#[test]
fn trailers_are_read_and_validated() {
    assert_eq!(
        decode(b"1\r\na\r\n0\r\nExpires: never\r\nX: y\r\n\r\n")
            .unwrap()
            .0,
        b"a"
    );
    assert_eq!(
        decode(b"0\r\nBad : x\r\n\r\n"),
        Err(ParseError::WhitespaceBeforeColon)
    );
    assert_eq!(
        decode(b"0\r\nX: a\x00b\r\n\r\n"),
        Err(ParseError::InvalidHeaderValue)
    );
    assert_eq!(
        decode(b"0\r\n folded\r\n\r\n"),
        Err(ParseError::ObsoleteFold)
    );
}

#[test]
fn malformed_framing_is_refused() {
    for wire in [
        &b"\r\n"[..],
        b"g\r\n",
        b"-1\r\n",
        b"1\na\r\n0\r\n\r\n",
        b"1\r\nab\r\n0\r\n\r\n",
        b"1\r\na\n0\r\n\r\n",
        b"5 5\r\nhello\r\n",
        b"0x5\r\nhello\r\n",
        b"1\r\na\r\n0\r\n\n",
    ] {
        // The decoder itself must say no (not merely run out of input).
        let refused = ChunkedDecoder::new(Limits::default()).decode(wire, &mut BytesMut::new());
        assert!(
            refused.is_err(),
            "{wire:?} should be refused, got {refused:?}"
        );
    }
}

#[test]
fn size_overflow_is_refused_before_any_data() {
    let wire = b"ffffffffffffffffff\r\n";
    assert_eq!(decode(wire), Err(ParseError::BodyTooLarge));
    assert_eq!(
        decode(b"10000000000000000\r\n"),
        Err(ParseError::BodyTooLarge)
    );
}

#[test]
fn body_limit_counts_every_chunk() {
    let limits = Limits::default().with_max_body_bytes(5);
    assert!(decode_in_steps(limits, b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", 100).is_ok());
    assert_eq!(
        decode_in_steps(limits, b"3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n", 100),
        Err(ParseError::BodyTooLarge)
    );
    assert_eq!(ParseError::BodyTooLarge.status().as_u16(), 413);
}

#[test]
fn endless_size_line_is_cut_at_the_limit() {
    let limits = Limits::default().with_max_chunk_line(64);
    let mut decoder = ChunkedDecoder::new(limits);
    let mut body = BytesMut::new();
    let mut line = b"1;".to_vec();
    line.resize(63, b'x');
    assert!(decoder.decode(&line, &mut body).is_ok());
    assert_eq!(
        decoder.decode(b"xx", &mut body),
        Err(ParseError::ChunkLineTooLong)
    );
    // A run of leading zeros is a long line too.
    let zeros = vec![b'0'; 100];
    let mut decoder = ChunkedDecoder::new(limits);
    assert_eq!(
        decoder.decode(&zeros, &mut body),
        Err(ParseError::ChunkLineTooLong)
    );
}

#[test]
fn trailer_section_is_bounded() {
    let limits = Limits::default().with_max_trailer_bytes(32);
    let mut wire = b"0\r\nX: ".to_vec();
    wire.resize(100, b'a');
    assert_eq!(
        decode_in_steps(limits, &wire, 7),
        Err(ParseError::TrailersTooLarge)
    );
}

proptest! {
    /// Whatever chunks a body is cut into, and however the wire is split
    /// on arrival, the decoder gives back the body and stops at its end.
    #[test]
    fn encode_decode_round_trip(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..8),
        step in 1usize..64,
    ) {
        let mut wire = BytesMut::new();
        for chunk in &chunks {
            encode_chunk(chunk, &mut wire);
        }
        encode_last_chunk(&mut wire);
        let end = wire.len();
        wire.extend_from_slice(b"NEXT");
        let expected: Vec<u8> = chunks.concat();
        prop_assert_eq!(decode_in_steps(Limits::default(), &wire, step), Ok((expected, end)));
    }
}
