//! A subscriber that never reads while the hub publishes fast: the others
//! keep receiving, the server's memory stays bounded, and the laggard,
//! once it reads again, resumes from its last id with nothing lost.
//!
//! "Bounded" is checked on what the hub holds, not only on the process's
//! memory: every queued event is a shared clone of bytes the replay ring
//! holds anyway, so an unbounded queue of them would cost a few words per
//! event and hide inside RSS noise. The hub's own counts cannot hide it.

mod support;

use std::time::Duration;

use realtime_events::server::Router;
use realtime_events::sse::{
    stream_response, ClientConfig, Event, EventSource, Hub, HubConfig, StreamConfig,
};
use support::{quick_config, rss_kib, start};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

fn router_for(hub: &Hub) -> Router {
    let hub = hub.clone();
    Router::new().get("/events", move |req| {
        std::future::ready(stream_response(
            &hub,
            req.header("last-event-id"),
            StreamConfig::default(),
        ))
    })
}

#[tokio::test]
async fn a_subscriber_that_never_reads_costs_bounded_memory() {
    let hub = Hub::new(
        HubConfig::default()
            .with_replay_capacity(20_000)
            .with_subscriber_queue(64),
    );
    let server = start(router_for(&hub), quick_config()).await;

    // The hostile one: subscribes over raw TCP and never reads a byte.
    let mut never_reads = TcpStream::connect(server.addr).await.unwrap();
    never_reads
        .write_all(b"GET /events HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let config = ClientConfig::default().with_retry(Duration::from_millis(10));
    let mut reader = EventSource::connect_to(server.addr, "/events", config)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while hub.subscriber_count() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "both subscribe");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let before = rss_kib();
    let payload = "x".repeat(1024);
    let total = 20_000u64;
    let mut received = Vec::with_capacity(total as usize);
    for n in 1..=total {
        let id = hub
            .publish(Event::new(format!("{n} {payload}")).event("tick"))
            .unwrap();
        assert_eq!(id, n);
        // The well-behaved reader keeps up, event by event.
        let event = tokio::time::timeout(Duration::from_secs(2), reader.next())
            .await
            .expect("the reader was held up by the laggard")
            .unwrap()
            .unwrap();
        received.push(event.last_event_id.parse::<u64>().unwrap());
        if n % 64 == 0 {
            let stats = hub.stats();
            // Between them, the two subscribers never hold more than their
            // two queues' worth.
            assert!(stats.queued_events <= 2 * 64, "{stats:?}");
        }
    }
    assert_eq!(received, (1..=total).collect::<Vec<_>>());
    // 20 MiB were published; the laggard was cut off instead of buffered.
    assert_eq!(hub.laggards_disconnected(), 1);
    let stats = hub.stats();
    // The longest any queue ever was: exactly its bound of 64 events. The
    // laggard was cut off there, neither earlier nor later.
    assert_eq!(stats.peak_queue, 64, "{stats:?}");
    // The replay ring is the only other holder, and it is bounded too.
    assert!(stats.replay_events <= 20_000, "{stats:?}");
    let grown = rss_kib().saturating_sub(before);
    // Bound: the replay ring (20,000 events of ~1 KiB) plus queues and buffers.
    assert!(grown < 40 * 1024, "memory grew by {grown} KiB");
    assert_eq!(
        hub.subscriber_count(),
        1,
        "the laggard's subscription is gone"
    );

    // The laggard comes back with its last id and gets the rest, exactly.
    let resume = ClientConfig::default().with_last_event_id("15000");
    let mut back = EventSource::connect_to(server.addr, "/events", resume)
        .await
        .unwrap();
    for expected in 15_001..=total {
        let event = tokio::time::timeout(Duration::from_secs(2), back.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(event.last_event_id, expected.to_string());
        assert!(event.data.starts_with(&format!("{expected} ")));
    }
    drop(never_reads);
}
