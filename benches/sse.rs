//! Server-Sent Events: encoding and parsing throughput.
//! `cargo bench --bench sse`; criterion prints events/s (elements) and,
//! in the `_bytes` groups, bytes/s of wire text.
//!
//! Each group pairs our code with the trivial baseline for the same job
//! (a `memchr`-free byte copy for encoding, a line count for parsing) so the
//! numbers can be read as ratios measured in the same run.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use realtime_events::sse::{Event, EventStreamParser, Hub, HubConfig, Item};
use realtime_events::ws::BytesMut;

/// A ticker-like event: a name, an id and a short JSON payload.
fn small_event() -> Event {
    Event::new(r#"{"symbol":"ACME","price":101.25,"ts":1733090000000}"#)
        .event("price")
        .id("123456")
}

/// A 4 KiB payload split over 64 lines, the multi-line case.
fn multiline_event() -> Event {
    let line = "x".repeat(63);
    let data: Vec<&str> = std::iter::repeat_n(line.as_str(), 64).collect();
    Event::new(data.join("\n")).id("7")
}

fn encode(c: &mut Criterion) {
    for (name, event) in [
        ("small", small_event()),
        ("multiline_4KiB", multiline_event()),
    ] {
        let wire = event.to_bytes().expect("encodable");
        for (unit, throughput) in [
            ("events", Throughput::Elements(1)),
            ("bytes", Throughput::Bytes(wire.len() as u64)),
        ] {
            let mut group = c.benchmark_group(format!("sse_encode_{unit}/{name}"));
            group.throughput(throughput);
            let mut out = BytesMut::with_capacity(wire.len() * 2);
            group.bench_function(BenchmarkId::new("ours", wire.len()), |b| {
                b.iter(|| {
                    out.clear();
                    black_box(&event).encode(&mut out).expect("encodable");
                    black_box(out.len())
                })
            });
            group.bench_function(BenchmarkId::new("copy_of_wire_form", wire.len()), |b| {
                b.iter(|| {
                    out.clear();
                    out.extend_from_slice(black_box(&wire));
                    black_box(out.len())
                })
            });
            group.finish();
        }
    }
}

fn parse(c: &mut Criterion) {
    for (name, event) in [
        ("small", small_event()),
        ("multiline_4KiB", multiline_event()),
    ] {
        // 100 events back to back, fed as one chunk.
        let one = event.to_bytes().expect("encodable");
        let stream: Vec<u8> = one.iter().copied().cycle().take(one.len() * 100).collect();
        for (unit, throughput) in [
            ("events", Throughput::Elements(100)),
            ("bytes", Throughput::Bytes(stream.len() as u64)),
        ] {
            let mut group = c.benchmark_group(format!("sse_parse_{unit}/{name}"));
            group.throughput(throughput);
            let mut items = Vec::with_capacity(128);
            group.bench_function(BenchmarkId::new("ours", stream.len()), |b| {
                b.iter(|| {
                    let mut parser = EventStreamParser::new();
                    items.clear();
                    parser
                        .feed(black_box(&stream), &mut items)
                        .expect("within limits");
                    assert!(matches!(items.last(), Some(Item::Event(_))));
                    black_box(items.len())
                })
            });
            group.bench_function(BenchmarkId::new("count_lines", stream.len()), |b| {
                b.iter(|| black_box(&stream).iter().filter(|&&b| b == b'\n').count())
            });
            group.finish();
        }
    }
}

/// The hub's user-space cost per delivery: one event published to 1,000
/// subscribers, each of which then takes its queue, against the floor of
/// handing 1,000 clones of the same bytes to 1,000 vectors. (The socket
/// writes are measured by `benches/load/run.sh`.)
fn fanout(c: &mut Criterion) {
    const SUBS: usize = 1000;
    let mut group = c.benchmark_group("sse_hub_fanout/1000_subscribers");
    group.throughput(Throughput::Elements(SUBS as u64));
    let hub = Hub::new(HubConfig::default().with_replay_capacity(16));
    let mut subs: Vec<_> = (0..SUBS).map(|_| hub.subscribe(Some("0"))).collect();
    group.bench_function("ours", |b| {
        b.iter(|| {
            hub.publish(small_event()).expect("encodable");
            for sub in &mut subs {
                black_box(sub.try_next());
            }
        })
    });
    let bytes = small_event().to_bytes().expect("encodable");
    let mut queues: Vec<Vec<_>> = (0..SUBS).map(|_| Vec::with_capacity(1)).collect();
    group.bench_function("clone_into_vecs", |b| {
        b.iter(|| {
            for queue in &mut queues {
                queue.push(bytes.clone());
            }
            for queue in &mut queues {
                black_box(queue.pop());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, encode, parse, fanout);
criterion_main!(benches);
