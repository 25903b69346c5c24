//! `GET /echo`: a WebSocket that sends every text and binary message back.
//!
//! It is the endpoint Autobahn|Testsuite tests. Its limits are the demo's
//! ([`DEMO_LIMITS`], 1 MiB); the suite's run raises them through the
//! binary's flags to admit its largest messages (16 MiB in one frame).

use crate::server::{Request, Response};
use crate::ws::{self, Config, HandshakeConfig, Limits, Message};

/// What one `/echo` socket may make the server hold on a public port:
/// a message (or frame) of 1 MiB.
pub const DEMO_LIMITS: Limits = Limits {
    max_frame_size: 1 << 20,
    max_message_size: 1 << 20,
};

/// Socket settings for the echo endpoint: `limits`, and reads that may
/// grow to 64 KiB while large messages stream in, so they take fewer reads,
/// and permessage-deflate when the client offers it (every browser does).
pub fn config(limits: Limits) -> Config {
    Config {
        limits,
        read_chunk: 64 * 1024,
        compression: Some(ws::DeflateConfig::default()),
        ..Config::default()
    }
}

/// The `/echo` handler, with [`DEMO_LIMITS`].
pub async fn handle(request: Request) -> Response {
    handle_with_limits(request, DEMO_LIMITS).await
}

// ANCHOR: echo
/// The `/echo` handler with the given message limits.
pub async fn handle_with_limits(request: Request, limits: Limits) -> Response {
    ws::upgrade(
        &request,
        &HandshakeConfig::default(),
        config(limits),
        |mut socket| async move {
            while let Some(Ok(msg)) = socket.recv().await {
                match msg {
                    // Fed, not sent: `recv` writes it before it waits, so
                    // echoes of messages that came in one read leave in
                    // one write.
                    Message::Text(_) | Message::Binary(_) => {
                        if socket.feed(msg).await.is_err() {
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
