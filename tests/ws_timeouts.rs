//! The WebSocket's clocks over real TCP: a peer that goes silent is pinged
//! and then closed with 1011, a peer that answers stays, and a peer that
//! stops reading cannot hold a sender past the write timeout. The timers
//! are shortened through `ws::Config` so each case takes about a second.

mod support;

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use realtime_events::server::{Router, ServerConfig};
use realtime_events::ws::{self, Config, HandshakeConfig, Limits, Message, Reader, Role, WsError};
use support::*;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as TMsg;

const PING_AFTER: Duration = Duration::from_millis(300);
const PONG_TIMEOUT: Duration = Duration::from_millis(300);

fn quick_ws() -> Config {
    Config::default()
        .with_ping_after(Some(PING_AFTER))
        .with_pong_timeout(PONG_TIMEOUT)
        .with_write_timeout(Duration::from_millis(300))
}

/// An echo route with the quick clocks.
fn echo_router() -> Router {
    Router::new().get("/echo", |request| async move {
        ws::upgrade(
            &request,
            &HandshakeConfig::default(),
            quick_ws(),
            |mut socket| async move {
                while let Some(Ok(msg)) = socket.recv().await {
                    if matches!(msg, Message::Text(_) | Message::Binary(_))
                        && socket.send(msg).await.is_err()
                    {
                        break;
                    }
                }
            },
        )
    })
}

#[tokio::test]
async fn a_silent_peer_is_pinged_then_closed_with_1011() {
    let server = start(echo_router(), ServerConfig::default()).await;
    let mut stream = open_ws(server.addr, "/echo").await;
    let opened = Instant::now();
    // Say nothing; read everything the server sends until it hangs up.
    let mut wire = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut wire))
        .await
        .expect("the server hangs up on a silent peer")
        .expect("a clean end of stream");
    let waited = opened.elapsed();
    let mut reader = Reader::new(Role::Client, Limits::default());
    let mut bytes = BytesMut::from(&wire[..]);
    let mut got = Vec::new();
    while let Some(msg) = reader.receive(&mut bytes).unwrap() {
        got.push(msg);
    }
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0], Message::Ping(Bytes::new()));
    assert!(
        matches!(&got[1], Message::Close(Some(c)) if c.code == 1011),
        "{got:?}"
    );
    assert!(
        waited >= PING_AFTER + PONG_TIMEOUT,
        "closed too early: {waited:?}"
    );
    assert_echo_still_works(server.addr).await;
}

#[tokio::test]
async fn a_peer_that_answers_pings_stays_connected() {
    let server = start(echo_router(), ServerConfig::default()).await;
    let url = format!("ws://{}/echo", server.addr);
    let (mut client, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    // Five keepalive periods of silence from the application; tungstenite
    // answers the server's pings while it reads.
    let mut pings = 0;
    let quiet = tokio::time::sleep(5 * (PING_AFTER + PONG_TIMEOUT) / 2);
    tokio::pin!(quiet);
    loop {
        tokio::select! {
            () = &mut quiet => break,
            msg = client.next() => match msg {
                Some(Ok(TMsg::Ping(_))) => pings += 1,
                other => panic!("unexpected {other:?}"),
            },
        }
    }
    assert!(pings >= 2, "pinged {pings} times");
    client.send(TMsg::text("still here")).await.unwrap();
    let echoed = loop {
        match client.next().await.unwrap().unwrap() {
            TMsg::Ping(_) => continue,
            other => break other,
        }
    };
    assert_eq!(echoed, TMsg::text("still here"));
}

#[tokio::test]
async fn a_peer_that_never_reads_cannot_hold_a_sender() {
    let (report, mut reports) = mpsc::unbounded_channel::<(WsError, Duration)>();
    let router = Router::new().get("/flood", move |request| {
        let report = report.clone();
        async move {
            ws::upgrade(
                &request,
                &HandshakeConfig::default(),
                quick_ws(),
                move |mut socket| async move {
                    let started = Instant::now();
                    let big = Bytes::from(vec![7u8; 1 << 20]);
                    let error = loop {
                        if let Err(e) = socket.send(Message::Binary(big.clone())).await {
                            break e;
                        }
                    };
                    let _ = report.send((error, started.elapsed()));
                },
            )
        }
    });
    let server = start(router, ServerConfig::default()).await;
    let stream = open_ws(server.addr, "/flood").await;
    // Never read: the socket buffers fill, then a send stalls.
    let (error, elapsed) = tokio::time::timeout(Duration::from_secs(10), reports.recv())
        .await
        .expect("the stalled send gave up within its bound")
        .expect("the handler reported");
    assert!(matches!(error, WsError::WriteTimeout), "{error:?}");
    assert!(elapsed < Duration::from_secs(8), "{elapsed:?}");
    drop(stream);
}

/// A fresh client still gets its echo.
async fn assert_echo_still_works(addr: std::net::SocketAddr) {
    let url = format!("ws://{addr}/echo");
    let (mut client, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    client.send(TMsg::text("ok?")).await.unwrap();
    assert_eq!(client.next().await.unwrap().unwrap(), TMsg::text("ok?"));
}
