//! Chapter 12: the SSE fan-out server the load comparison measures.
//!
//! `cargo run --release --example ch12_fanout -- --addr 127.0.0.1:9103 --rate 10 --size 64`
//!
//! Serves `GET /events` from the crate's [`Hub`]: a publisher task publishes
//! `--rate` events per second (0 publishes none, for memory measurements),
//! each with one `data:` line of `--size` bytes that starts with the send
//! time in nanoseconds since the Unix epoch, a space and a sequence number,
//! so a client can compute delivery latency and spot gaps. The hub encodes
//! each event once; every subscriber writes clones of the same bytes.
//!
//! For a count instead of a rate (`benches/load/instructions-sse.sh`),
//! `--wait-subs N` holds the first event until N clients are subscribed and
//! `--events K` stops after K events.
//!
//! The route is the library's own [`stream_response`], the path `/ticker`
//! runs, with its keep-alives, client-gone check and write timeout: what
//! the load comparison measures is what ships.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use realtime_events::server::{Router, Server, ServerConfig, Shutdown};
use realtime_events::sse::{stream_response, Event, Hub, HubConfig, StreamConfig};

/// Reads `--name VALUE`, or the default; a bad value ends the program with
/// a message (exit code 2) rather than a panic.
fn flag<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    match args.iter().position(|a| a == name) {
        None => default,
        Some(i) => match args.get(i + 1).map(|v| v.parse()) {
            Some(Ok(value)) => value,
            _ => {
                eprintln!(
                    "usage: ch12_fanout [--addr HOST:PORT] [--rate HZ] [--size BYTES] \
                     [--wait-subs N] [--events K]"
                );
                std::process::exit(2)
            }
        },
    }
}

// ANCHOR: data
/// The data of event `seq`: `"<ns since epoch> <seq> "`, then `x` up to
/// `size` bytes (longer if `size` is too small for the two numbers).
fn event_data(seq: u64, size: usize) -> String {
    let ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut data = format!("{ns} {seq} ");
    let pad = size.saturating_sub(data.len());
    data.extend(std::iter::repeat_n('x', pad));
    data
}
// ANCHOR_END: data

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr: String = flag(&args, "--addr", "127.0.0.1:9103".to_string());
    let rate: f64 = flag(&args, "--rate", 10.0);
    let size: usize = flag(&args, "--size", 64);
    let wait_subs: usize = flag(&args, "--wait-subs", 0);
    let events: u64 = flag(&args, "--events", u64::MAX);

    let hub = Hub::new(HubConfig::default());
    if rate > 0.0 {
        let publisher = hub.clone();
        tokio::spawn(async move {
            while publisher.subscriber_count() < wait_subs {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            for seq in 1..=events {
                tick.tick().await;
                // Our data has no line breaks, so encoding cannot fail.
                let _ = publisher.publish(Event::new(event_data(seq, size)));
            }
        });
    }

    // ANCHOR: route
    let router = Router::new().get("/events", move |req| {
        let response = stream_response(&hub, req.header("last-event-id"), StreamConfig::default());
        std::future::ready(response)
    });
    // ANCHOR_END: route
    let server = Server::bind(addr, router, ServerConfig::default()).await?;
    println!("listening on http://{}", server.local_addr());
    // Ctrl-C starts a graceful shutdown.
    let shutdown = Shutdown::on_ctrl_c();
    server.serve(shutdown).await;
    Ok(())
}
