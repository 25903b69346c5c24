//! The server side of an event stream: one long `200 text/event-stream`
//! response fed from a [`Hub`] subscription.
//!
//! The HTTP layer writes the head (with no length and `Connection: close`,
//! so the body runs until the connection ends) and hands the connection
//! over; [`serve_stream`] then owns it. At any moment it is waiting for one
//! of five things, and each has one answer:
//!
//! | what happens                        | what the stream does                  |
//! |-------------------------------------|---------------------------------------|
//! | the subscription yields an event    | write it and flush at once            |
//! | nothing was written for a while     | write a keep-alive comment (`:`)      |
//! | the client closes or errors         | stop, dropping the subscription       |
//! | the server shuts down               | stop between two events, close        |
//! | the subscription ends (laggard)     | close, so the client reconnects       |
//!
//! The client is watched by reading from the socket all along: a browser
//! sends nothing after its request, so a read that returns end-of-file or
//! an error means it is gone. Waiting for a write to fail instead could
//! take until the next event, or, behind a keep-alive interval, 15 s.

use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::event::encode_comment;
use super::hub::{Hub, Subscription};
use crate::server::{Response, Upgraded};

/// How a stream behaves on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamConfig {
    /// Write a comment line after this much silence, so that proxies and
    /// load balancers do not close an idle connection. `None` disables it.
    /// Default 15 s.
    pub keep_alive: Option<Duration>,
    /// A `retry:` hint written first: how long the client should wait
    /// before reconnecting. `None` leaves the client's default (3 s in
    /// browsers).
    pub retry: Option<Duration>,
    /// Longest time one write may take. A client that stops reading fills
    /// the socket buffers and then blocks our write; past this it is
    /// dropped. (The hub has usually disconnected it as a laggard long
    /// before.) Default 30 s.
    pub write_timeout: Duration,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            keep_alive: Some(Duration::from_secs(15)),
            retry: None,
            write_timeout: Duration::from_secs(30),
        }
    }
}

/// Why a stream ended, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// The client closed the connection or it failed.
    ClientGone,
    /// The server is shutting down; the stream stopped between events.
    Shutdown,
    /// The subscription ended: the hub disconnected this subscriber for
    /// lagging, or the hub is gone. The client reconnects and resumes.
    SubscriptionEnded,
    /// A write took longer than [`StreamConfig::write_timeout`].
    WriteTimeout,
}

// ANCHOR: stream_response
/// The response for an event-stream request: `200`, `Content-Type:
/// text/event-stream`, `Cache-Control: no-cache`, then the events.
///
/// The subscription is taken *here*, before the response is returned, not
/// when the body starts: so the replay after `last_event_id` and the live
/// events that follow meet exactly, whatever is published meanwhile.
pub fn stream_response(hub: &Hub, last_event_id: Option<&str>, config: StreamConfig) -> Response {
    let subscription = hub.subscribe(last_event_id);
    Response::takeover(200, move |upgraded| async move {
        let end = serve_stream(upgraded, subscription, config).await;
        tracing::debug!(?end, "sse stream ended");
    })
    .header("Content-Type", "text/event-stream")
    // Events are live: a cache or proxy must not store and replay them.
    .header("Cache-Control", "no-cache")
}
// ANCHOR_END: stream_response

/// Writes `subscription` to a connection taken over after a 200 head,
/// until one of the endings in [`StreamEnd`]. Then it closes the connection
/// (unless the client already did) and drops the subscription.
pub async fn serve_stream(
    upgraded: Upgraded,
    subscription: Subscription,
    config: StreamConfig,
) -> StreamEnd {
    let Upgraded { io, shutdown, .. } = upgraded;
    let (reader, writer) = tokio::io::split(io);
    let shutdown = async move { shutdown.wait().await };
    run(reader, writer, subscription, config, shutdown).await
}

// ANCHOR: stream_loop
/// The loop under [`serve_stream`], generic so that tests can run it over
/// an in-memory pipe.
async fn run<R, W>(
    mut reader: R,
    mut writer: W,
    mut subscription: Subscription,
    config: StreamConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> StreamEnd
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    tokio::pin!(shutdown);
    let mut scratch = [0u8; 512];
    // Never fires when keep-alives are off.
    let idle = config
        .keep_alive
        .unwrap_or(Duration::from_secs(86_400 * 365));
    let keep_alive = tokio::time::sleep(idle);
    tokio::pin!(keep_alive);

    if let Some(retry) = config.retry {
        // A lone `retry:` line, deliberately *without* the empty line that
        // would end an event: an empty line dispatches, and a dispatch at
        // the start of a stream sets the client's last event ID to the
        // (still empty) buffer, so a drop right after would make it
        // reconnect with no Last-Event-ID at all. The field takes effect
        // as soon as its line ends; the next event's lines simply follow.
        let line = format!("retry: {}\n", retry.as_millis());
        if let Err(end) = write(&mut writer, &mut reader, line.as_bytes(), &config).await {
            return end;
        }
    }

    let end = loop {
        tokio::select! {
            // Checked first: a stream that is told to stop does not start
            // another event.
            biased;
            () = &mut shutdown => break StreamEnd::Shutdown,
            () = client_gone(&mut reader, &mut scratch) => return StreamEnd::ClientGone,
            next = subscription.next() => {
                let Some(event) = next else {
                    break StreamEnd::SubscriptionEnded;
                };
                // One whole event per write: stopping between writes is
                // stopping at an event boundary.
                if let Err(end) = write(&mut writer, &mut reader, &event, &config).await {
                    return end;
                }
            }
            () = &mut keep_alive => {
                let mut ping = BytesMut::new();
                let _ = encode_comment("", &mut ping);
                if let Err(end) = write(&mut writer, &mut reader, &ping, &config).await {
                    return end;
                }
            }
        }
        keep_alive
            .as_mut()
            .reset(tokio::time::Instant::now() + idle);
    };
    drop(subscription);
    // A clean end: FIN after the last whole event. Bounded, since a
    // client that stopped reading could hold the flush forever.
    let _ = tokio::time::timeout(config.write_timeout, writer.shutdown()).await;
    end
}
// ANCHOR_END: stream_loop

/// Writes and flushes `bytes`, watching the client and the clock while the
/// write waits.
async fn write<R, W>(
    writer: &mut W,
    reader: &mut R,
    bytes: &[u8],
    config: &StreamConfig,
) -> Result<(), StreamEnd>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut scratch = [0u8; 512];
    let io = async {
        writer.write_all(bytes).await?;
        writer.flush().await
    };
    tokio::select! {
        result = tokio::time::timeout(config.write_timeout, io) => match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(StreamEnd::ClientGone),
            Err(_elapsed) => Err(StreamEnd::WriteTimeout),
        },
        () = client_gone(reader, &mut scratch) => Err(StreamEnd::ClientGone),
    }
}

/// Resolves when the client has closed its side or the connection failed.
/// Anything it sends is read and dropped: an event-stream client has
/// nothing to say after its request. Cancel-safe, since a read is.
async fn client_gone<R: AsyncRead + Unpin>(reader: &mut R, scratch: &mut [u8]) {
    loop {
        match reader.read(scratch).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::{Event, HubConfig};

    #[tokio::test]
    async fn retry_hint_comes_first_without_an_empty_line() {
        let hub = Hub::new(HubConfig::default());
        let sub = hub.subscribe(Some("0"));
        hub.publish(Event::new("a")).unwrap();
        let (client, server) = tokio::io::duplex(4096);
        let (r, w) = tokio::io::split(server);
        let config = StreamConfig {
            retry: Some(Duration::from_millis(250)),
            ..StreamConfig::default()
        };
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(run(r, w, sub, config, async {
            let _ = stop_rx.await;
        }));
        let (mut cr, _cw) = tokio::io::split(client);
        let mut buf = vec![0u8; 64];
        let mut got = Vec::new();
        while !got.ends_with(b"\n\n") {
            let n = cr.read(&mut buf).await.unwrap();
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"retry: 250\nid: 1\ndata: a\n\n");
        stop_tx.send(()).unwrap();
        assert_eq!(task.await.unwrap(), StreamEnd::Shutdown);
    }
}
