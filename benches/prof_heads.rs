//! A fixed-count loop over one head, for `valgrind --tool=callgrind` or
//! `perf record`: `prof_heads <minimal|browser|upgrade> <ours|httparse> N`.
use realtime_events::http::RequestParser;
use std::hint::black_box;

#[path = "common/heads.rs"]
mod heads;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let input = match args.first().map(String::as_str) {
        Some("minimal") => heads::MINIMAL,
        Some("upgrade") => heads::UPGRADE,
        _ => heads::BROWSER,
    };
    let peer = args.get(1).is_some_and(|s| s == "httparse");
    let n: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let mut parser = RequestParser::default();
    for _ in 0..n {
        if peer {
            black_box(heads::httparse_len(input));
        } else {
            black_box(heads::ours_len(&mut parser, input));
        }
    }
}
