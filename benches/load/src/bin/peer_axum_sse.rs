//! Peer: an SSE broadcast server on axum, the idiomatic way: a publisher
//! task sends each event's data into a `tokio::sync::broadcast` channel and
//! every subscriber turns it into an `axum::response::sse::Event` (axum
//! encodes per subscriber). `GET /events`; `--addr`, `--rate HZ`,
//! `--size BYTES` as for the crate's `ch12_fanout` example, and the same
//! data line: `<send time ns> <seq> <padding>`; and, as there,
//! `--wait-subs N` (hold the first event until N clients are subscribed)
//! and `--events K` (stop after K events), for `instructions-sse.sh`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::response::sse::{Event, Sse};
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use futures_util::{Stream, StreamExt};
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr = realtime_events_load::arg(&args, "--addr", "127.0.0.1:9003");
    let rate: f64 = realtime_events_load::arg_num(&args, "--rate", "10");
    let size: usize = realtime_events_load::arg_num(&args, "--size", "64");
    let wait_subs: usize = realtime_events_load::arg_num(&args, "--wait-subs", "0");
    let count: u64 = realtime_events_load::arg_num(&args, "--events", &u64::MAX.to_string());

    let (tx, _) = broadcast::channel::<(u64, Arc<str>)>(64);
    let publisher = tx.clone();
    // `--rate 0` publishes nothing, for the idle-memory measurement.
    tokio::spawn(async move {
        if rate <= 0.0 {
            return;
        }
        while publisher.receiver_count() < wait_subs {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        for seq in 1..=count {
            tick.tick().await;
            // No subscriber yet is fine: the send fails and nobody misses it.
            let _ = publisher.send((seq, realtime_events_load::fanout_data(seq, size).into()));
        }
    });

    let app = Router::new().route(
        "/events",
        get(move || {
            let rx = tx.subscribe();
            async move { Sse::new(events(rx)) }
        }),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    // The same socket option as our server: each event goes out at once
    // instead of waiting on Nagle's algorithm. (Fair to both sides: the
    // comparison is of the servers, not of their defaults.)
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await
}

/// A subscriber's stream; a lagging one skips what it missed, as the
/// broadcast channel reports it.
fn events(
    rx: broadcast::Receiver<(u64, Arc<str>)>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    BroadcastStream::new(rx).filter_map(|item| async move {
        item.ok()
            .map(|(seq, data)| Ok(Event::default().id(seq.to_string()).data(&*data)))
    })
}
