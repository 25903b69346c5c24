//! The event-stream response over real TCP: its head, the ticker as
//! `curl -N` sees it, Last-Event-ID replay, slow and vanished clients,
//! shutdown.

mod support;

use std::time::Duration;

use realtime_events::app;
use realtime_events::server::Router;
use realtime_events::sse::{
    stream_response, ClientConfig, Event, EventSource, EventStreamParser, Hub, HubConfig, Item,
    StreamConfig,
};
use support::{quick_config, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn router_for(hub: &Hub, config: StreamConfig) -> Router {
    let hub = hub.clone();
    Router::new().get("/events", move |req| {
        let response = stream_response(&hub, req.header("last-event-id"), config);
        std::future::ready(response)
    })
}

async fn open(addr: std::net::SocketAddr, extra: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req =
        format!("GET /events HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n{extra}\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    s
}

/// Reads until `bytes` contains `needle` (5 s at most).
async fn read_until(s: &mut TcpStream, bytes: &mut Vec<u8>, needle: &str) {
    tokio::time::timeout(Duration::from_secs(5), async {
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(bytes).contains(needle) {
            let n = s.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed early: {:?}", String::from_utf8_lossy(bytes));
            bytes.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {needle:?} in {:?}", String::from_utf8_lossy(bytes)));
}

fn split_head(bytes: &[u8]) -> (String, &[u8]) {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    (
        String::from_utf8(bytes[..end].to_vec()).unwrap(),
        &bytes[end..],
    )
}

fn parse_ids(body: &[u8]) -> Vec<u64> {
    let mut p = EventStreamParser::new();
    let mut items = Vec::new();
    p.feed(body, &mut items).unwrap();
    items
        .into_iter()
        .filter_map(|i| match i {
            Item::Event(e) => Some(e.last_event_id.parse().unwrap()),
            _ => None,
        })
        .collect()
}

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool, within: Duration) {
    let start = tokio::time::Instant::now();
    while !cond() {
        assert!(start.elapsed() < within, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn head_is_exact_and_has_no_length() {
    let hub = Hub::default();
    let server = start(router_for(&hub, StreamConfig::default()), quick_config()).await;
    let mut s = open(server.addr, "").await;
    let mut bytes = Vec::new();
    read_until(&mut s, &mut bytes, "\r\n\r\n").await;
    let (head, body) = split_head(&bytes);
    assert_eq!(
        head,
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\
         Connection: close\r\n\r\n"
    );
    // At most the hub's position marker (an id, no data) before events.
    assert!(b"id: 0\n\n".starts_with(body), "{body:?}");
    assert_eq!(hub.subscriber_count(), 1);
}

#[tokio::test]
async fn ticker_as_curl_sees_it() {
    let server = start(app::router(), quick_config()).await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(b"GET /ticker HTTP/1.1\r\nHost: t\r\nAccept: */*\r\n\r\n")
        .await
        .unwrap();
    let mut bytes = Vec::new();
    // The first quote comes at once (the interval's first tick), the
    // second ~500 ms later.
    read_until(&mut s, &mut bytes, "id: 2\n").await;
    while !bytes.ends_with(b"}\n\n") {
        let mut more = [0u8; 256];
        let got = tokio::time::timeout(Duration::from_secs(5), s.read(&mut more))
            .await
            .unwrap()
            .unwrap();
        assert!(got > 0, "closed");
        bytes.extend_from_slice(&more[..got]);
    }
    let (head, body) = split_head(&bytes);
    assert!(
        head.contains("Content-Type: text/event-stream\r\n"),
        "{head}"
    );
    assert!(
        !head.to_ascii_lowercase().contains("content-length"),
        "{head}"
    );
    let text = String::from_utf8(body.to_vec()).unwrap();
    // The retry hint, the position marker, then quotes.
    assert!(text.starts_with("retry: 1000\nid: "), "{text}");
    assert_eq!(parse_ids(body).last(), Some(&2));
    assert!(
        text.contains("event: quote\nid: 2\ndata: {\"symbol\":\""),
        "{text}"
    );
    let data = text.lines().find(|l| l.starts_with("data: ")).unwrap();
    assert!(
        data.contains(",\"price\":") && data.contains(",\"change\":"),
        "{data}"
    );
}

#[tokio::test]
async fn last_event_id_replays_exactly_what_follows() {
    let hub = Hub::new(
        HubConfig::default()
            .with_replay_capacity(100)
            .with_subscriber_queue(16),
    );
    for i in 1..=50 {
        hub.publish(Event::new(format!("n{i}"))).unwrap();
    }
    let server = start(router_for(&hub, StreamConfig::default()), quick_config()).await;
    for k in [0u64, 1, 17, 49, 50] {
        let mut s = open(server.addr, &format!("Last-Event-ID: {k}\r\n")).await;
        let mut bytes = Vec::new();
        read_until(&mut s, &mut bytes, "\r\n\r\n").await;
        if k < 50 {
            read_until(&mut s, &mut bytes, "id: 50\n").await;
            read_until(&mut s, &mut bytes, "n50\n\n").await;
        }
        // Nothing else was published: the body is exactly k+1..=50.
        let (_, body) = split_head(&bytes);
        assert_eq!(parse_ids(body), (k + 1..=50).collect::<Vec<_>>(), "k={k}");
    }
    // No header: live events only.
    let mut s = open(server.addr, "").await;
    let mut bytes = Vec::new();
    read_until(&mut s, &mut bytes, "\r\n\r\n").await;
    wait_for(
        "subscribed",
        || hub.subscriber_count() >= 1,
        Duration::from_secs(1),
    )
    .await;
    hub.publish(Event::new("live")).unwrap();
    read_until(&mut s, &mut bytes, "live\n\n").await;
    assert_eq!(parse_ids(split_head(&bytes).1), [51]);
}

#[tokio::test]
async fn vanished_client_is_unsubscribed_within_a_second() {
    let hub = Hub::default();
    let server = start(router_for(&hub, StreamConfig::default()), quick_config()).await;
    let mut s = open(server.addr, "").await;
    let mut bytes = Vec::new();
    read_until(&mut s, &mut bytes, "\r\n\r\n").await;
    assert_eq!(hub.subscriber_count(), 1);
    let gone_at = tokio::time::Instant::now();
    drop(s);
    // Nothing is published and keep-alives are 15 s away: only the
    // concurrent read can notice.
    wait_for(
        "unsubscribe",
        || hub.subscriber_count() == 0,
        Duration::from_secs(1),
    )
    .await;
    eprintln!("unsubscribed {:?} after the client left", gone_at.elapsed());
}

#[tokio::test]
async fn keep_alive_comments_when_idle() {
    let hub = Hub::default();
    let config = StreamConfig::default().with_keep_alive(Some(Duration::from_millis(100)));
    let server = start(router_for(&hub, config), quick_config()).await;
    let mut s = open(server.addr, "").await;
    let mut bytes = Vec::new();
    read_until(&mut s, &mut bytes, ":\n:\n").await;
    let (_, body) = split_head(&bytes);
    assert_eq!(body, b"id: 0\n\n:\n:\n");
}

#[tokio::test]
async fn shutdown_ends_the_stream_at_an_event_boundary() {
    let hub = Hub::new(
        HubConfig::default()
            .with_replay_capacity(0)
            .with_subscriber_queue(100_000),
    );
    let server = start(router_for(&hub, StreamConfig::default()), quick_config()).await;
    let mut s = open(server.addr, "").await;
    let mut bytes = Vec::new();
    read_until(&mut s, &mut bytes, "\r\n\r\n").await;
    // Large multi-line events, published faster than they are written.
    let publisher = {
        let hub = hub.clone();
        tokio::spawn(async move {
            let line = "x".repeat(3000);
            for i in 0..20_000u32 {
                let _ = hub.publish(Event::new(format!("{i}\n{line}\n{line}\nend {i}")));
                if i % 50 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        })
    };
    read_until(&mut s, &mut bytes, "end 100\n").await;
    server.shutdown.trigger();
    let rest = support::read_to_close(&mut s).await;
    bytes.extend_from_slice(&rest);
    publisher.abort();
    let (_, body) = split_head(&bytes);
    assert!(body.ends_with(b"\n\n"), "stream cut mid-event");
    // Every event is whole: the parser has nothing pending at the end.
    let mut p = EventStreamParser::new();
    let mut items = Vec::new();
    p.feed(body, &mut items).unwrap();
    let n = items.len();
    assert!(n > 100, "{n} events");
    for (i, item) in items.iter().enumerate() {
        let Item::Event(e) = item else {
            panic!("{item:?}")
        };
        assert!(e.data.starts_with(&format!(
            "{}\n",
            e.last_event_id.parse::<u32>().unwrap() - 1
        )));
        assert!(e.data.ends_with(&format!("end {i}")), "event {i}");
    }
    tokio::time::timeout(Duration::from_secs(3), server.task)
        .await
        .expect("server stops")
        .unwrap();
}

#[tokio::test]
async fn slow_subscriber_is_dropped_and_resumes() {
    // A small queue: a subscriber more than 4 events behind is a laggard.
    let hub = Hub::new(
        HubConfig::default()
            .with_replay_capacity(4096)
            .with_subscriber_queue(4),
    );
    let server = start(router_for(&hub, StreamConfig::default()), quick_config()).await;
    let client = || ClientConfig::default().with_retry(Duration::from_millis(10));
    let mut fast = EventSource::connect_to(server.addr, "/events", client())
        .await
        .unwrap();
    // The slow one connects, then is not read from for a while.
    let mut slow = EventSource::connect_to(server.addr, "/events", client())
        .await
        .unwrap();
    wait_for(
        "both subscribed",
        || hub.subscriber_count() == 2,
        Duration::from_secs(1),
    )
    .await;

    // Big events fill the slow client's socket buffers quickly; the fast
    // reader keeps up throughout.
    let payload = "p".repeat(32 * 1024);
    let mut total = 0u64;
    let mut fast_ids = Vec::new();
    while hub.laggards_disconnected() == 0 {
        assert!(total < 4000, "the slow client was never disconnected");
        let id = hub
            .publish(Event::new(format!("{total} {payload}")))
            .unwrap();
        total = id;
        let event = tokio::time::timeout(Duration::from_secs(2), fast.next())
            .await
            .expect("the fast client was held up")
            .unwrap()
            .unwrap();
        fast_ids.push(event.last_event_id.parse::<u64>().unwrap());
    }
    assert_eq!(hub.laggards_disconnected(), 1);
    assert_eq!(fast_ids, (1..=total).collect::<Vec<_>>());
    eprintln!("slow client disconnected after {total} events of 32 KiB");
    // A few more while the slow one is away.
    for _ in 0..5 {
        total = hub.publish(Event::new(format!("late {payload}"))).unwrap();
    }

    // Now it reads: what was buffered, an end of stream, a reconnect with
    // its last id, the replay. No gap, no duplicate.
    let mut slow_ids = Vec::new();
    while slow_ids.last() != Some(&total) {
        let event = tokio::time::timeout(Duration::from_secs(5), slow.next())
            .await
            .expect("the slow client resumes")
            .unwrap()
            .unwrap();
        slow_ids.push(event.last_event_id.parse::<u64>().unwrap());
    }
    assert_eq!(slow_ids, (1..=total).collect::<Vec<_>>());
    assert_eq!(slow.connections(), 2, "resumed over a second connection");
}

#[tokio::test]
async fn a_reader_that_never_reads_is_dropped_after_the_write_timeout() {
    // A queue so deep that the hub never calls it a laggard: only the
    // stream's write timeout can let go of it.
    let hub = Hub::new(
        HubConfig::default()
            .with_replay_capacity(0)
            .with_subscriber_queue(1_000_000),
    );
    let config = StreamConfig::default().with_write_timeout(Duration::from_millis(300));
    let server = start(router_for(&hub, config), quick_config()).await;
    let mut s = open(server.addr, "").await;
    let mut bytes = Vec::new();
    read_until(&mut s, &mut bytes, "id: 0\n\n").await;
    // From here on the client reads nothing, and never closes.
    let payload = "w".repeat(64 * 1024);
    let started = tokio::time::Instant::now();
    while hub.subscriber_count() == 1 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "a reader that never reads was kept for 10 s"
        );
        hub.publish(Event::new(payload.as_str())).unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(
        hub.laggards_disconnected(),
        0,
        "the write timeout let go, not the queue"
    );
    assert_eq!(hub.stats().queued_events, 0);
    drop(s);
}
