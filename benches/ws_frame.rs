//! WebSocket frame handling, ours beside tungstenite's public frame API and
//! beside a plain copy. `cargo bench --bench ws_frame`.
//!
//! Read each group as ratios: machines are shared and absolute times drift,
//! but two lines measured in the same run compare fairly.
//!
//! * `header_decode` / `header_encode`: the 2–14 byte header alone, ours
//!   (`FrameHeader::decode/encode`) against tungstenite's
//!   (`FrameHeader::parse/format`).
//! * `unmask/N`: XORing N payload bytes in place (`apply_mask`) against
//!   `copy_from_slice` of N bytes, which touches the same memory once and is
//!   the bandwidth limit any unmasking loop can hope to reach.
//! * `masked_frame/N`: a whole masked frame written into a buffer, ours
//!   (`write_frame`) against tungstenite's `Frame::format`: header, copy and
//!   mask together, since tungstenite's mask function itself is private.

use std::hint::black_box;
use std::io::Cursor;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use realtime_events::ws::{apply_mask, frame::write_frame, BytesMut, FrameHeader, Opcode};
use tokio_tungstenite::tungstenite::protocol::frame::{
    coding::Data, coding::OpCode as TOpCode, Frame as TFrame, FrameHeader as TFrameHeader,
};

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn ours_header(len: u64, mask: Option<[u8; 4]>) -> FrameHeader {
    FrameHeader::whole(Opcode::Binary, mask, len)
}

fn theirs_header(mask: Option<[u8; 4]>) -> TFrameHeader {
    TFrameHeader {
        is_final: true,
        rsv1: false,
        rsv2: false,
        rsv3: false,
        opcode: TOpCode::Data(Data::Binary),
        mask,
    }
}

fn headers(c: &mut Criterion) {
    // A small masked text frame (the common client case), a 16-bit and a
    // 64-bit length, each as encoded bytes.
    for (name, len) in [("7bit", 20u64), ("16bit", 1024), ("64bit", 1 << 20)] {
        let mut wire = BytesMut::new();
        ours_header(len, Some(KEY)).encode(&mut wire);
        let wire = wire.to_vec();

        let mut group = c.benchmark_group(format!("header_decode/{name}"));
        group.throughput(Throughput::Elements(1));
        group.bench_with_input(BenchmarkId::new("ours", len), &wire, |b, wire| {
            b.iter(|| match FrameHeader::decode(black_box(wire)) {
                Ok(Some((h, n))) => black_box((h.payload_len, n)),
                other => panic!("{other:?}"),
            })
        });
        group.bench_with_input(BenchmarkId::new("tungstenite", len), &wire, |b, wire| {
            b.iter(|| {
                let mut cursor = Cursor::new(black_box(wire.as_slice()));
                match TFrameHeader::parse(&mut cursor) {
                    Ok(Some((h, n))) => black_box((h.mask, n)),
                    other => panic!("{other:?}"),
                }
            })
        });
        group.finish();

        let mut group = c.benchmark_group(format!("header_encode/{name}"));
        group.throughput(Throughput::Elements(1));
        let ours = ours_header(len, Some(KEY));
        let mut out = BytesMut::with_capacity(64);
        group.bench_function(BenchmarkId::new("ours", len), |b| {
            b.iter(|| {
                out.clear();
                black_box(&ours).encode(&mut out);
                black_box(out.len())
            })
        });
        let theirs = theirs_header(Some(KEY));
        let mut vec = Vec::with_capacity(64);
        group.bench_function(BenchmarkId::new("tungstenite", len), |b| {
            b.iter(|| {
                vec.clear();
                black_box(&theirs)
                    .format(black_box(len), &mut vec)
                    .expect("writing to a Vec");
                black_box(vec.len())
            })
        });
        group.finish();
    }
}

const SIZES: [(&str, usize); 4] = [
    ("16B", 16),
    ("1KiB", 1024),
    ("64KiB", 64 * 1024),
    ("1MiB", 1024 * 1024),
];

fn unmask(c: &mut Criterion) {
    for (name, size) in SIZES {
        let src: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
        let mut group = c.benchmark_group(format!("unmask/{name}"));
        group.throughput(Throughput::Bytes(size as u64));
        let mut buf = src.clone();
        group.bench_function(BenchmarkId::new("ours", size), |b| {
            b.iter(|| {
                apply_mask(black_box(&mut buf), KEY, 0);
                black_box(buf.first().copied())
            })
        });
        let mut dst = vec![0u8; size];
        group.bench_function(BenchmarkId::new("plain_copy", size), |b| {
            b.iter(|| {
                dst.copy_from_slice(black_box(&src));
                black_box(dst.first().copied())
            })
        });
        group.finish();
    }
}

fn masked_frames(c: &mut Criterion) {
    for (name, size) in SIZES {
        let payload: Vec<u8> = (0..size).map(|i| (i * 7 % 253) as u8).collect();
        let shared = tokio_tungstenite::tungstenite::Bytes::from(payload.clone());
        let mut group = c.benchmark_group(format!("masked_frame/{name}"));
        group.throughput(Throughput::Bytes(size as u64));
        let header = ours_header(0, Some(KEY));
        let mut out = BytesMut::with_capacity(size + 16);
        group.bench_function(BenchmarkId::new("ours", size), |b| {
            b.iter(|| {
                out.clear();
                write_frame(&mut out, &header, black_box(&payload));
                black_box(out.len())
            })
        });
        let mut vec = Vec::with_capacity(size + 16);
        group.bench_function(BenchmarkId::new("tungstenite", size), |b| {
            b.iter(|| {
                vec.clear();
                // `Frame::format` consumes the frame; building one from a
                // shared `Bytes` is a reference-count bump, not a copy.
                let frame = TFrame::from_payload(theirs_header(Some(KEY)), shared.clone());
                frame.format(&mut vec).expect("writing to a Vec");
                black_box(vec.len())
            })
        });
        group.finish();
    }
}

criterion_group!(benches, headers, unmask, masked_frames);
criterion_main!(benches);
