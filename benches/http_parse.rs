//! Request-head parsing, ours against httparse on the same inputs.
//! `cargo bench --bench http_parse`; compare the two lines of each group
//! (a ratio, since the machines are shared and absolute times drift).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use realtime_events::http::RequestParser;
use std::hint::black_box;

#[path = "common/heads.rs"]
mod heads;
use heads::{BROWSER, MINIMAL, UPGRADE};

fn heads(c: &mut Criterion) {
    for (name, input) in [
        ("minimal_get", MINIMAL),
        ("browser_get", BROWSER),
        ("ws_upgrade", UPGRADE),
    ] {
        let mut group = c.benchmark_group(format!("parse_head/{name}"));
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_with_input(BenchmarkId::new("ours", input.len()), input, |b, input| {
            let mut parser = RequestParser::default();
            b.iter(|| black_box(heads::ours_len(&mut parser, input)))
        });
        group.bench_with_input(
            BenchmarkId::new("httparse", input.len()),
            input,
            |b, input| b.iter(|| black_box(heads::httparse_len(input))),
        );
        group.finish();
    }
}

criterion_group!(benches, heads);
criterion_main!(benches);
