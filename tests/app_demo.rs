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
    let foreign = ws::ClientConfig::default().with_origin("http://evil.example");
    assert!(ws::connect(&format!("ws://{}/chat", server.addr), &foreign)
        .await
        .is_err());
    server.shutdown.trigger();
}

/// A masked client text frame carrying `payload` (under 126 bytes).
fn masked_text(payload: &[u8]) -> Vec<u8> {
    let key = [0x11, 0x22, 0x33, 0x44];
    let mut frame = vec![0x81, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&key);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    frame
}

/// A viewer of `/wire` sees its own page's connections and none of
/// another's: not the other's request lines, not its payloads. Its own
/// request lines show credentials redacted.
#[tokio::test]
async fn a_wire_viewer_sees_only_its_own_page_with_credentials_redacted() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = start(app::router(), quick_config()).await;
    let mut viewer = EventSource::connect(
        &format!("http://{}/wire?wire={VIEW}", server.addr),
        sse::ClientConfig::default(),
    )
    .await
    .expect("wire view");

    // Another page's echo, with its own view id: a secret payload.
    let mut other = ws::connect(
        &format!("ws://{}/echo?wire=someone-else", server.addr),
        &ws::ClientConfig::default(),
    )
    .await
    .expect("echo");
    other
        .send(Message::Text("their-secret-payload".into()))
        .await
        .unwrap();
    other.recv().await.unwrap().unwrap();
    // And one with no view at all.
    let mut untagged = ws::connect(
        &format!("ws://{}/echo", server.addr),
        &ws::ClientConfig::default(),
    )
    .await
    .expect("echo");
    untagged
        .send(Message::Text("untagged-payload".into()))
        .await
        .unwrap();
    untagged.recv().await.unwrap().unwrap();

    // Our own page's echo, by hand, with credentials in its head.
    let mut ours = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "GET /echo?wire={VIEW} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nCookie: session=cookie-secret\r\nAuthorization: Bearer token-secret\r\n\r\n",
        server.addr
    );
    ours.write_all(head.as_bytes()).await.unwrap();
    ours.write_all(&masked_text(b"our-payload")).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let mut got = 0;
    while !answer[..got].ends_with(b"our-payload") {
        let n = tokio::time::timeout(Duration::from_secs(5), ours.read(&mut answer[got..]))
            .await
            .expect("echo in time")
            .unwrap();
        assert!(n > 0, "echo closed");
        got += n;
    }

    // Records reach viewers in order, so everything the other connections
    // did comes before our echo's outbound record.
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut seen = Vec::new();
    let ours_out = b64("our-payload");
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let event = viewer.next().await.expect("stream").expect("event");
            let done = event.data.contains("\"dir\":\"out\"") && event.data.contains(&ours_out);
            seen.push(event.data);
            if done {
                break;
            }
        }
    })
    .await
    .expect("our own echo on the wire view");
    let all = seen.join("\n");
    for hidden in [
        b64("their-secret-payload"),
        b64("untagged-payload"),
        "someone-else".to_string(),
        "cookie-secret".into(),
        "token-secret".into(),
        "dGhlIHNhbXBsZSBub25jZQ==".into(),
    ] {
        assert!(!all.contains(&hidden), "{hidden} on the wire view:\n{all}");
    }
    assert!(all.contains("Cookie: [redacted]"), "{all}");
    assert!(all.contains("Authorization: [redacted]"), "{all}");
    assert!(all.contains("Sec-WebSocket-Key: [redacted]"), "{all}");
    server.shutdown.trigger();
}

/// One Origin policy on every WebSocket route and `/wire`: a foreign page
/// gets 403, the page's own origin and a non-browser client get through,
/// and so does an origin on the allow-list.
#[tokio::test]
async fn foreign_origins_get_403_on_every_websocket_route_and_the_wire() {
    let config = app::AppConfig::default().with_allowed_origin("https://friend.example");
    let server = start(app::router_with(config), quick_config()).await;
    let host = format!("127.0.0.1:{}", server.addr.port());
    // `close` too, so that a refusal ends its connection at once.
    let upgrade = "Upgrade: websocket\r\nConnection: Upgrade, close\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
    let status = |reply: Vec<u8>| support::status_of(&reply);
    for path in ["/echo", "/chat", "/blob/ws", &format!("/wire?wire={VIEW}")] {
        let ask = |origin: Option<&str>| {
            let origin = origin.map_or(String::new(), |o| format!("Origin: {o}\r\n"));
            format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{origin}{upgrade}\r\n")
        };
        let reply = exchange(server.addr, ask(Some("http://evil.example")).as_bytes()).await;
        assert_eq!(status(reply), 403, "{path} from a foreign page");
        // DNS rebinding: the foreign name in both Host and Origin.
        let rebound = format!(
            "GET {path} HTTP/1.1\r\nHost: evil.example:{0}\r\nOrigin: http://evil.example:{0}\r\n{upgrade}\r\n",
            server.addr.port()
        );
        assert_eq!(
            status(exchange(server.addr, rebound.as_bytes()).await),
            403,
            "{path} rebound"
        );
        let wanted = if path.starts_with("/wire") { 200 } else { 101 };
        for origin in [
            None,
            Some(format!("http://{host}")),
            Some("https://friend.example".into()),
        ] {
            let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
            use tokio::io::AsyncWriteExt;
            stream
                .write_all(ask(origin.as_deref()).as_bytes())
                .await
                .unwrap();
            let (code, ..) = support::read_response(&mut stream).await;
            assert_eq!(code, wanted, "{path} from {origin:?}");
        }
    }
    // /wire without a view id has nothing to show.
    let reply = exchange(
        server.addr,
        format!("GET /wire HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await;
    assert_eq!(status(reply), 400);
    server.shutdown.trigger();
}
