//! `GET /echo`: a WebSocket that sends every text and binary message back.
//!
//! It is the endpoint Autobahn|Testsuite tests, so its limits admit the
//! suite's largest messages (16 MiB in one frame).

use crate::server::{Request, Response};
use crate::ws::{self, Config, HandshakeConfig, Limits, Message};

/// Socket settings for the echo endpoint: 16 MiB frames, 64 MiB messages
/// (the defaults, which Autobahn needs), permessage-deflate when the
/// client offers it (every browser does), and reads that may grow to 64 KiB
/// while large messages stream in, so they take fewer reads.
pub fn config() -> Config {
    Config {
        limits: Limits::default(),
        read_chunk: 64 * 1024,
        compression: Some(ws::DeflateConfig::default()),
        ..Config::default()
    }
}

// ANCHOR: echo
/// The `/echo` handler.
pub async fn handle(request: Request) -> Response {
    ws::upgrade(
        &request,
        &HandshakeConfig::default(),
        config(),
        |mut socket| async move {
            while let Some(Ok(msg)) = socket.recv().await {
                match msg {
                    Message::Text(_) | Message::Binary(_) => {
                        if socket.send(msg).await.is_err() {
                            break;
                        }
                    }
                    // Pings are answered and closes echoed inside `recv`.
                    Message::Ping(_) | Message::Pong(_) | Message::Close(_) => {}
                }
            }
        },
    )
}
// ANCHOR_END: echo
