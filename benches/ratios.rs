//! Every micro-benchmark pair as one ratio, measured so that a busy machine
//! does not bias it: `cargo bench --bench ratios`.
//!
//! Criterion (the other benches) runs one side for seconds, then the other;
//! on a shared machine the load changes in between and the two figures are
//! not comparable. Here the two sides alternate in short batches (A B A B,
//! 40 rounds of about a millisecond each) and each side keeps its fastest
//! batch: interference only ever adds time, so the minimum is the closest
//! to the code's own cost, for both sides alike. Prints one line per pair:
//! both times per operation and `ours/peer` as a speed ratio (above 1:
//! ours is faster), with the project's target where it has one.

use std::hint::black_box;
use std::io::Cursor;
use std::time::{Duration, Instant};

use realtime_events::http::RequestParser;
use realtime_events::sse::{Event, EventStreamParser};
use realtime_events::ws::{apply_mask, frame::write_frame, BytesMut, FrameHeader, Opcode};
use tokio_tungstenite::tungstenite::protocol::frame::{
    coding::Data, coding::OpCode as TOpCode, Frame as TFrame, FrameHeader as TFrameHeader,
    FrameSocket,
};

#[path = "common/heads.rs"]
mod heads;

const ROUNDS: usize = 40;
const BATCH: Duration = Duration::from_millis(1);

/// How many calls of `f` take about [`BATCH`].
fn calibrate(f: &mut impl FnMut()) -> u64 {
    let mut n = 1u64;
    loop {
        let start = Instant::now();
        for _ in 0..n {
            f();
        }
        if start.elapsed() >= BATCH || n >= 1 << 30 {
            return n;
        }
        n *= 2;
    }
}

/// The fastest batch's time per call, in nanoseconds.
fn batch(f: &mut impl FnMut(), n: u64) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    start.elapsed().as_nanos() as f64 / n as f64
}

/// Alternates `ours` and `peer` and prints their fastest times and the ratio.
fn compare(
    name: &str,
    peer_name: &str,
    target: Option<f64>,
    mut ours: impl FnMut(),
    mut peer: impl FnMut(),
) {
    let (n_ours, n_peer) = (calibrate(&mut ours), calibrate(&mut peer));
    let (mut best_ours, mut best_peer) = (f64::MAX, f64::MAX);
    for _ in 0..ROUNDS {
        best_ours = best_ours.min(batch(&mut ours, n_ours));
        best_peer = best_peer.min(batch(&mut peer, n_peer));
    }
    let ratio = best_peer / best_ours;
    let verdict = match target {
        Some(t) if ratio >= t => format!("  target >= {t}: met"),
        Some(t) => format!("  target >= {t}: MISSED"),
        None => String::new(),
    };
    println!(
        "{name:<28} ours {best_ours:>10.1} ns  {peer_name:<12} {best_peer:>10.1} ns  ours/{peer_name} speed {ratio:>5.2}{verdict}"
    );
}

fn heads() {
    for (name, input) in [
        ("parse_head/minimal_get", heads::MINIMAL),
        ("parse_head/browser_get", heads::BROWSER),
        ("parse_head/ws_upgrade", heads::UPGRADE),
    ] {
        let mut parser = RequestParser::default();
        compare(
            name,
            "httparse",
            Some(0.8),
            || {
                black_box(heads::ours_len(&mut parser, input));
            },
            || {
                black_box(heads::httparse_len(input));
            },
        );
    }
}

fn header(len: u64) -> FrameHeader {
    FrameHeader::whole(Opcode::Binary, Some(KEY), len)
}

fn theirs() -> TFrameHeader {
    TFrameHeader {
        is_final: true,
        rsv1: false,
        rsv2: false,
        rsv3: false,
        opcode: TOpCode::Data(Data::Binary),
        mask: Some(KEY),
    }
}

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn frames() {
    for (name, len) in [("7bit", 20u64), ("16bit", 1024), ("64bit", 1 << 20)] {
        let mut wire = BytesMut::new();
        header(len).encode(&mut wire);
        let wire = wire.to_vec();
        compare(
            &format!("header_decode/{name}"),
            "tungstenite",
            None,
            || {
                black_box(FrameHeader::decode(black_box(&wire)).ok());
            },
            || {
                let mut cursor = Cursor::new(black_box(wire.as_slice()));
                black_box(TFrameHeader::parse(&mut cursor).ok());
            },
        );
        let (h, t) = (header(len), theirs());
        let mut out = BytesMut::with_capacity(64);
        let mut vec = Vec::with_capacity(64);
        compare(
            &format!("header_encode/{name}"),
            "tungstenite",
            None,
            || {
                out.clear();
                black_box(&h).encode(&mut out);
                black_box(out.len());
            },
            || {
                vec.clear();
                let _ = black_box(&t).format(black_box(len), &mut vec);
                black_box(vec.len());
            },
        );
    }
    for (name, size) in [
        ("16B", 16usize),
        ("1KiB", 1024),
        ("64KiB", 65536),
        ("1MiB", 1 << 20),
    ] {
        let src: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
        let mut buf = src.clone();
        let mut dst = vec![0u8; size];
        // Unmasking reaching half the bandwidth of a plain copy of the
        // same bytes is the target from 64 KiB up.
        compare(
            &format!("unmask/{name}"),
            "plain_copy",
            (size >= 65536).then_some(0.5),
            || {
                apply_mask(black_box(&mut buf), KEY, 0);
                black_box(buf.first());
            },
            || {
                dst.copy_from_slice(black_box(&src));
                black_box(dst.first());
            },
        );
        let shared = tokio_tungstenite::tungstenite::Bytes::from(src.clone());
        let h = header(0);
        let mut out = BytesMut::with_capacity(size + 16);
        // tungstenite's fastest public way to put a frame into a buffer is
        // the one its own send path takes: `FrameSocket::write`, which
        // formats the frame into the socket's reused output buffer
        // (`format_into_buf`, crate-private: header, one copy of the
        // payload, unmasked in place) and hands it to the stream. The
        // stream here is `io::sink()`, which takes the bytes without
        // copying them, as our side's figure has no write either.
        // (`Frame::format`, timed before, copies the payload into a fresh
        // `Vec` first: slower than the path tungstenite really uses.)
        let mut socket = FrameSocket::new(std::io::sink());
        compare(
            &format!("masked_frame/{name}"),
            "tungstenite",
            None,
            || {
                out.clear();
                write_frame(&mut out, &h, black_box(&src));
                black_box(out.len());
            },
            || {
                let frame = TFrame::from_payload(theirs(), shared.clone());
                black_box(socket.write(frame).is_ok());
            },
        );
    }
}

fn sse() {
    let event = Event::new(r#"{"symbol":"ACME","price":101.25,"ts":1733090000000}"#)
        .event("price")
        .id("123456");
    let wire = event.to_bytes().unwrap_or_default();
    let mut out = BytesMut::with_capacity(256);
    let mut copy = BytesMut::with_capacity(256);
    compare(
        "sse_encode/small",
        "copy_wire",
        None,
        || {
            out.clear();
            let _ = black_box(&event).encode(&mut out);
            black_box(out.len());
        },
        || {
            copy.clear();
            copy.extend_from_slice(black_box(&wire));
            black_box(copy.len());
        },
    );
    let stream: Vec<u8> = wire
        .iter()
        .copied()
        .cycle()
        .take(wire.len() * 100)
        .collect();
    let mut items = Vec::with_capacity(128);
    compare(
        "sse_parse/100_small",
        "count_lines",
        None,
        || {
            let mut parser = EventStreamParser::new();
            items.clear();
            let _ = parser.feed(black_box(&stream), &mut items);
            black_box(items.len());
        },
        || {
            black_box(black_box(&stream).iter().filter(|&&b| b == b'\n').count());
        },
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a filter word picks one family.
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wanted = |family: &str| filter.as_deref().is_none_or(|f| family.contains(f));
    if wanted("heads") {
        heads();
    }
    if wanted("frames") {
        frames();
    }
    if wanted("sse") {
        sse();
    }
}
