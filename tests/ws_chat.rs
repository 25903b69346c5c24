//! The chat room's backpressure, alone in its own test binary so the
//! memory measurement sees no other test's traffic.

mod support;

use std::time::Duration;

use realtime_events::app::chat;
use realtime_events::server::Router;
use realtime_events::ws::{self, ClientConfig, Message};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), fut)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

async fn join(
    addr: std::net::SocketAddr,
    nick: &str,
) -> ws::WebSocket<realtime_events::tls::ClientStream> {
    ws::connect(
        &format!("ws://{addr}/chat?nick={nick}"),
        &ClientConfig::default(),
    )
    .await
    .unwrap()
}

async fn next_text(socket: &mut ws::WebSocket<realtime_events::tls::ClientStream>) -> String {
    loop {
        match within("chat line", socket.recv()).await {
            Some(Ok(Message::Text(t))) => return t,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("expected a text, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_member_that_never_reads_is_dropped_and_blocks_nobody() {
    let room = chat::Room::new(
        chat::RoomConfig::default()
            .with_queue(16)
            .with_max_message(4096),
    );
    let for_route = room.clone();
    let router = Router::new().get("/chat", move |req| chat::handle(req, for_route.clone()));
    let server = support::start(router, support::quick_config()).await;

    // The slow member completes the handshake by hand, then never reads.
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(
        b"GET /chat?nick=slow HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut ada = join(server.addr, "ada").await;
    let mut bob = join(server.addr, "bob").await;
    assert_eq!(room.len(), 3);
    while next_text(&mut ada).await != "* bob joined" {}
    while next_text(&mut bob).await != "* bob joined" {}

    let rss_before = support::rss_kib();
    let mut longest_queue = 0;
    let line = "x".repeat(4000);
    // 4000 × 4 KB = 16 MB in total: far more than the slow member's
    // socket buffers and queue hold, so it must be dropped on the way.
    for i in 0..4000 {
        ada.send(Message::Text(format!("{i} {line}")))
            .await
            .unwrap();
        // Every member's queue holds refcounted lines, which RSS barely
        // shows: count them instead.
        longest_queue = longest_queue.max(room.longest_queue());
        let expect = format!("ada: {i} {line}");
        // Both active members get every message, in order, without waiting on `slow`.
        loop {
            let got = next_text(&mut ada).await;
            if got == expect {
                break;
            }
            assert!(got.starts_with("* slow left"), "unexpected {:.40}", got);
        }
        loop {
            let got = next_text(&mut bob).await;
            if got == expect {
                break;
            }
            assert!(got.starts_with("* slow left"), "unexpected {:.40}", got);
        }
    }
    assert_eq!(room.len(), 2, "the slow member was removed");
    assert!(
        longest_queue <= 16,
        "a queue held {longest_queue} lines, past its bound of 16"
    );
    let grown = support::rss_kib().saturating_sub(rss_before);
    assert!(grown < 64 * 1024, "memory grew by {grown} KiB");
    // The server hung up on the slow member.
    let mut sink = vec![0u8; 1 << 20];
    let closed = within("slow member hung up", async {
        loop {
            match slow.read(&mut sink).await {
                Ok(0) | Err(_) => break true,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed);
}
