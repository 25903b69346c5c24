//! Chapter 5: a feed that survives dropped connections.
//!
//! `cargo run --example ch05_resumable_feed` runs, in one process, a
//! server that publishes 30 events and *cuts every connection after
//! 200 ms* (wherever it is, even in the middle of an event), and our
//! `EventSource`, which reconnects with `Last-Event-ID` each time. It
//! prints what arrives and checks that ids 1..=30 came exactly once, in
//! order. It finishes by itself in about a second.

use std::time::Duration;

use realtime_events::server::{Response, Router, Server, ServerConfig, Shutdown};
use realtime_events::sse::{serve_stream, ClientConfig, Event, EventSource, Hub, StreamConfig};

const EVENTS: u64 = 30;

// ANCHOR: cutting_route
/// A normal event stream, except that the connection is dropped after
/// 200 ms: a stand-in for Wi-Fi, a phone going to sleep, a proxy restart.
fn routes(hub: Hub) -> Router {
    Router::new().get("/feed", move |req| {
        let subscription = hub.subscribe(req.header("last-event-id"));
        // Ask the client to come back after 50 ms instead of 3 s.
        let config = StreamConfig::default().with_retry(Some(Duration::from_millis(50)));
        let response = Response::takeover(200, move |upgraded| async move {
            let stream = serve_stream(upgraded, subscription, config);
            // Dropping the future drops the socket: a hard cut.
            let _ = tokio::time::timeout(Duration::from_millis(200), stream).await;
        })
        .header("Content-Type", "text/event-stream")
        .header("Cache-Control", "no-cache");
        std::future::ready(response)
    })
}
// ANCHOR_END: cutting_route

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let hub = Hub::default();
    let server = Server::bind("127.0.0.1:0", routes(hub.clone()), ServerConfig::default()).await?;
    let addr = server.local_addr();
    let shutdown = Shutdown::new();
    tokio::spawn(server.serve(shutdown.clone()));

    // ANCHOR: client
    let mut source = EventSource::connect_to(addr, "/feed", ClientConfig::default()).await?;
    // Publish only once the client is connected: a first visit starts at
    // "now", as in a browser.
    let publisher = tokio::spawn(async move {
        for n in 1..=EVENTS {
            hub.publish(Event::new(format!("tick {n} ✓")).event("tick"))?;
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Ok::<_, realtime_events::sse::EncodeError>(())
    });

    let mut ids = Vec::new();
    let mut connection = source.connections();
    while (ids.len() as u64) < EVENTS {
        let event = source.next().await.ok_or("source closed")??;
        if source.connections() != connection {
            connection = source.connections();
            println!(
                "-- dropped; reconnected (connection {connection}), resumed after id {}",
                ids.last().copied().unwrap_or(0)
            );
        }
        println!(
            "id {:>2}  {}: {}",
            event.last_event_id, event.event_type, event.data
        );
        ids.push(event.last_event_id.parse::<u64>()?);
    }
    // ANCHOR_END: client
    publisher.await??;
    shutdown.trigger();

    let expected: Vec<u64> = (1..=EVENTS).collect();
    if ids != expected {
        return Err(format!("ids were {ids:?}").into());
    }
    println!(
        "received ids 1..={EVENTS} exactly once, in order, over {} connections: no gap, no duplicate",
        source.connections()
    );
    Ok(())
}
