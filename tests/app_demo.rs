//! The demo's own routes over TCP, with the crate's own clients: the wire
//! view reports what a WebSocket really sent, `POST /ticker/drop` cuts the
//! ticker and the client resumes without a gap, and foreign `Origin`s are
//! refused. (The same, in a real browser, is in `tests/browser/`.)

mod support;

use std::time::Duration;

use base64::Engine as _;
use realtime_events::app;
use realtime_events::sse::{self, EventSource};
use realtime_events::ws::{self, Message};
use support::{exchange, quick_config, start};

/// The view id our connections carry, as the demo page's do.
const VIEW: &str = "test-view-1";

/// The next event of `source` whose data contains every one of `needles`.
async fn wait_for(source: &mut EventSource, needles: &[&str]) -> String {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let event = source
                .next()
                .await
                .expect("stream goes on")
                .expect("no error");
            if needles.iter().all(|n| event.data.contains(n)) {
                return event.data;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no wire record with {needles:?}"))
}

/// The id of the ticker's next quote.
async fn next_quote_id(ticker: &mut EventSource) -> u64 {
    let event = tokio::time::timeout(Duration::from_secs(10), ticker.next())
        .await
        .expect("a quote in time")
        .expect("the stream goes on")
        .expect("no error");
    assert_eq!(event.event_type, "quote");
    event.last_event_id.parse().expect("numeric id")
}

#[tokio::test]
async fn the_wire_view_shows_a_websocket_frame_as_sent() {
    let server = start(app::router(), quick_config()).await;
    let mut wire = EventSource::connect(
        &format!("http://{}/wire?wire={VIEW}", server.addr),
        sse::ClientConfig::default(),
    )
    .await
    .expect("wire view");
    let mut socket = ws::connect(
        &format!("ws://{}/echo?wire={VIEW}", server.addr),
        &ws::ClientConfig::default(),
    )
    .await
    .expect("echo");
    socket
        .send(Message::Text("hello wire".into()))
        .await
        .unwrap();
    let echoed = socket.recv().await.unwrap().unwrap();
    assert_eq!(echoed, Message::Text("hello wire".into()));

    let payload = base64::engine::general_purpose::STANDARD.encode("hello wire");
    // Our client masks, as a browser does; the tracker unmasked the preview.
    let inbound = wait_for(
        &mut wire,
        &[
            "\"path\":\"/echo\"",
            "\"dir\":\"in\"",
            "\"opcode\":\"text\"",
            &payload,
        ],
    )
    .await;
    assert!(!inbound.contains("\"mask\":null"), "{inbound}");
    assert!(inbound.contains("\"len\":10,"), "{inbound}");
    // The server's echo: the same payload, no mask, a 2-byte header 81 0a.
    let outbound = wait_for(
        &mut wire,
        &["\"dir\":\"out\"", "\"head\":\"810a\"", &payload],
    )
    .await;
    assert!(outbound.contains("\"mask\":null"), "{outbound}");
    server.shutdown.trigger();
}

#[tokio::test]
async fn a_ticker_drop_is_resumed_without_gap_and_foreign_origins_are_refused() {
    let server = start(app::router(), quick_config()).await;
    let mut ticker = EventSource::connect(
        &format!("http://{}/ticker", server.addr),
        sse::ClientConfig::default(),
    )
    .await
    .expect("ticker");
    let mut ids = Vec::new();
    for _ in 0..2 {
        ids.push(next_quote_id(&mut ticker).await);
    }

    // A foreign page's POST is refused and cuts nothing.
    let refused = exchange(
        server.addr,
        b"POST /ticker/drop HTTP/1.1\r\nHost: 127.0.0.1:1\r\nOrigin: http://evil.example\r\nContent-Length: 0\r\n\r\n",
    )
    .await;
    assert!(refused.starts_with(b"HTTP/1.1 403 "), "{refused:?}");
    // From our own origin it cuts every ticker stream.
    let host = format!("127.0.0.1:{}", server.addr.port());
    let request = format!("POST /ticker/drop HTTP/1.1\r\nHost: {host}\r\nOrigin: http://{host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let cut = exchange(server.addr, request.as_bytes()).await;
    assert!(cut.starts_with(b"HTTP/1.1 200 "), "{cut:?}");

    while ticker.connections() < 2 || ids.len() < 6 {
        ids.push(next_quote_id(&mut ticker).await);
    }
    assert_eq!(ticker.connections(), 2, "reconnected once");
    let first = ids[0];
    assert_eq!(
        ids,
        (first..first + ids.len() as u64).collect::<Vec<_>>(),
        "no gap, no duplicate"
    );

    // The chat refuses a handshake from a foreign page.
    let foreign = ws::ClientConfig {
        origin: Some("http://evil.example".into()),
        ..ws::ClientConfig::default()
    };
    assert!(ws::connect(&format!("ws://{}/chat", server.addr), &foreign)
        .await
        .is_err());
    server.shutdown.trigger();
}
