//! The server side of an event stream: one long `200 text/event-stream`
//! response fed from a [`Feed`] subscription (the in-memory [`Hub`](super::Hub)
//! today, a broker tomorrow).
//!
//! The HTTP layer writes the head (with no length and `Connection: close`,
//! so the body runs until the connection ends) and hands the connection
//! over; [`serve_stream`] then owns it. At any moment it is waiting for one
//! of five things, and each has one answer:
//!
//! | what happens                        | what the stream does                  |
//! |-------------------------------------|---------------------------------------|
//! | the subscription yields events      | write all that is ready, in one write |
//! | nothing was written for a while     | write a keep-alive comment (`:`)      |
//! | the client closes or errors         | stop, dropping the subscription       |
//! | the server shuts down               | stop between two events, close        |
//! | the subscription ends (laggard)     | close, so the client reconnects       |
//! | a write is stuck past its timeout   | drop the client                       |
//!
//! The client is watched by reading from the socket all along: a browser
//! sends nothing after its request, so a read that returns end-of-file or
//! an error means it is gone. Waiting for a write to fail instead could
//! take until the next event, or, behind a keep-alive interval, 15 s.
//!
//! The loop is a single poll function over the socket, so that one task
//! reads, writes and waits without splitting the connection or arming a
//! timer per event: every event a subscriber has queued since its last
//! wake-up goes out in one write of the shared bytes (vectored when there
//! are several), the write timer is armed only when a write actually has
//! to wait, and the keep-alive timer is moved only when it fires: a write
//! just sets a flag, with no clock read.

use std::future::Future;
use std::io::IoSlice;
use std::pin::{pin, Pin};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::feed::{Chunk, Feed, FeedState, Subscribe};
use crate::server::{Response, Shutdown, Upgraded};

/// How a stream behaves on the wire. Built from the default with `with_`
/// setters, so that new settings can be added without breaking callers:
///
/// ```
/// use std::time::Duration;
/// use realtime_events::sse::StreamConfig;
/// let config = StreamConfig::default()
///     .with_retry(Some(Duration::from_secs(1)))
///     .with_write_timeout(Duration::from_secs(10));
/// assert_eq!(config.keep_alive, Some(Duration::from_secs(15)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamConfig {
    /// Never let this much time pass without writing: a comment line
    /// breaks the silence, so that proxies and load balancers do not close
    /// an idle connection. The stream checks twice per interval, so the
    /// comment goes out after between half and all of it. `None` disables
    /// it. Default 15 s.
    pub keep_alive: Option<Duration>,
    /// A `retry:` hint written first: how long the client should wait
    /// before reconnecting. `None` leaves the client's default (3 s in
    /// browsers).
    pub retry: Option<Duration>,
    /// Longest time one write may wait. A client that stops reading fills
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

impl StreamConfig {
    /// Sets [`keep_alive`](Self::keep_alive).
    pub fn with_keep_alive(mut self, every: Option<Duration>) -> Self {
        self.keep_alive = every;
        self
    }

    /// Sets [`retry`](Self::retry).
    pub fn with_retry(mut self, hint: Option<Duration>) -> Self {
        self.retry = hint;
        self
    }

    /// Sets [`write_timeout`](Self::write_timeout).
    pub fn with_write_timeout(mut self, limit: Duration) -> Self {
        self.write_timeout = limit;
        self
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
    /// lagging, or the feed is gone. The client reconnects and resumes.
    SubscriptionEnded,
    /// A write waited longer than [`StreamConfig::write_timeout`].
    WriteTimeout,
}

// ANCHOR: stream_response
/// The response for an event-stream request: `200`, `Content-Type:
/// text/event-stream`, `Cache-Control: no-cache`, then the events of
/// `feed` (a [`Hub`](super::Hub), or any other [`Feed`]).
///
/// The subscription is taken *here*, before the response is returned, not
/// when the body starts: so the replay after `last_event_id` and the live
/// events that follow meet exactly, whatever is published meanwhile.
pub fn stream_response<F: Feed + ?Sized>(
    feed: &F,
    last_event_id: Option<&str>,
    config: StreamConfig,
) -> Response {
    let subscription = feed.subscribe(last_event_id);
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
pub async fn serve_stream<S: Subscribe>(
    upgraded: Upgraded,
    subscription: S,
    config: StreamConfig,
) -> StreamEnd {
    let Upgraded {
        io,
        shutdown,
        read_buf,
    } = upgraded;
    // An event-stream client has nothing to say after its request; and an
    // idle stream should not keep the buffer alive.
    drop(read_buf);
    run(io, subscription, config, shutdown).await
}

/// A keep-alive: a lone comment line, which no client turns into an event
/// (what [`encode_comment`](super::encode_comment) writes for `""`).
const KEEP_ALIVE: &[u8] = b":\n";

/// At most this many chunks go into one vectored write.
const MAX_SLICES: usize = 64;

// ANCHOR: stream_loop
/// The loop under [`serve_stream`], generic so that tests can run it over
/// an in-memory pipe.
///
/// Each wake-up looks at every source at most once: the socket (has the
/// client gone?), the shutdown signal, the keep-alive timer and the feed.
/// The signal and the timer keep the task's waker from their first poll,
/// so while the waker stays the same (it does, for a tokio task) a flag
/// says whether they fired, without polling them again. A subscriber woken
/// for one event therefore costs one look at each, one write, and no clock
/// read or timer reset.
async fn run<IO, S>(mut io: IO, mut feed: S, config: StreamConfig, shutdown: Shutdown) -> StreamEnd
where
    IO: AsyncRead + AsyncWrite + Unpin,
    S: Subscribe,
{
    // The loop's own state (timers, the shutdown wait, the batch) lives in
    // this block, so that it is gone, not kept beside the closing write's
    // timer, for the rest of the connection: an idle stream's task is that
    // much smaller.
    let end = {
        let mut stop = pin!(shutdown.wait());
        // What is ready to go out, oldest first; `sent` of it is written.
        let mut out: Vec<Chunk> = Vec::new();
        let mut sent = 0;
        if let Some(retry) = config.retry {
            // A lone `retry:` line, deliberately *without* the empty line that
            // would end an event: an empty line dispatches, and a dispatch at
            // the start of a stream sets the client's last event ID to the
            // (still empty) buffer, so a drop right after would make it
            // reconnect with no Last-Event-ID at all. The field takes effect
            // as soon as its line ends; the next event's lines simply follow.
            let line = format!("retry: {}\n", retry.as_millis());
            out.push(Chunk::Events(line.into()));
        }
        let mut feed_ended = false;
        let mut stopping = false;
        // Keep-alive: a tick every half interval; a tick that finds nothing
        // written since the one before queues a comment. So silence never
        // lasts a whole interval, and a write only sets a flag (no clock read,
        // no timer reset per event).
        let tick = config
            .keep_alive
            .map(|idle| (idle / 2).max(Duration::from_millis(1)));
        let mut keep_alive = pin!(tokio::time::sleep(
            tick.unwrap_or(Duration::from_secs(86_400 * 365))
        ));
        let mut wrote = false;
        let mut silent = false;
        // The waker the signal and the timer were last polled with.
        let mut registered: Option<Waker> = None;
        // Armed only while a write is waiting: the common write does not wait.
        let mut write_deadline: Option<Pin<Box<Sleep>>> = None;

        std::future::poll_fn(|cx| {
            if client_gone(&mut io, cx).is_ready() {
                return Poll::Ready(StreamEnd::ClientGone);
            }
            let fresh = !registered.as_ref().is_some_and(|w| w.will_wake(cx.waker()));
            if fresh {
                registered = Some(cx.waker().clone());
            }
            if !stopping {
                stopping = if fresh {
                    stop.as_mut().poll(cx).is_ready()
                } else {
                    shutdown.is_triggered()
                };
            }
            if let Some(tick) = tick {
                let fired = if fresh {
                    keep_alive.as_mut().poll(cx).is_ready()
                } else {
                    keep_alive.is_elapsed()
                };
                if fired {
                    silent = !std::mem::take(&mut wrote);
                    keep_alive.as_mut().reset(Instant::now() + tick);
                    // Polled again so that the new deadline wakes this task.
                    let _ = keep_alive.as_mut().poll(cx);
                }
            }
            // Whether the feed was asked already in this wake-up: when it
            // answers with chunks it also registers the wake-up for the next
            // ones (the `Subscribe` contract), so once is enough.
            let mut asked = false;
            loop {
                if out.is_empty() {
                    // Between two writes, so between two events: a stream that
                    // is told to stop does not start another one.
                    if stopping {
                        return Poll::Ready(StreamEnd::Shutdown);
                    }
                    if feed_ended {
                        return Poll::Ready(StreamEnd::SubscriptionEnded);
                    }
                    if !asked {
                        asked = true;
                        if let Poll::Ready(state) = feed.poll_ready_chunks(cx, &mut out) {
                            feed_ended = state == FeedState::Ended;
                            if out.is_empty() && !feed_ended {
                                // `Open` with nothing ready breaks the contract;
                                // yield rather than spin on it.
                                cx.waker().wake_by_ref();
                                return Poll::Pending;
                            }
                        }
                    }
                    if out.is_empty() {
                        if feed_ended {
                            continue;
                        }
                        if !std::mem::take(&mut silent) {
                            return Poll::Pending;
                        }
                        out.push(Chunk::Events(Bytes::from_static(KEEP_ALIVE)));
                    }
                    encode_notices(&mut out);
                    if out.len() > 1 && !io.is_write_vectored() {
                        merge(&mut out);
                    }
                }
                match poll_write_out(&mut io, cx, &mut out, &mut sent) {
                    Poll::Ready(Ok(())) => {
                        out.clear();
                        sent = 0;
                        write_deadline = None;
                        wrote = true;
                        silent = false;
                    }
                    Poll::Ready(Err(_)) => return Poll::Ready(StreamEnd::ClientGone),
                    Poll::Pending => {
                        let deadline = write_deadline.get_or_insert_with(|| {
                            Box::pin(tokio::time::sleep(config.write_timeout))
                        });
                        if deadline.as_mut().poll(cx).is_ready() {
                            return Poll::Ready(StreamEnd::WriteTimeout);
                        }
                        return Poll::Pending;
                    }
                }
            }
        })
        .await
    };
    drop(feed);
    if end != StreamEnd::ClientGone && end != StreamEnd::WriteTimeout {
        // A clean end: FIN after the last whole event. Bounded, since a
        // client that stopped reading could hold the flush forever.
        let _ = tokio::time::timeout(config.write_timeout, io.shutdown()).await;
    }
    end
}
// ANCHOR_END: stream_loop

/// Writes `out[sent..]` until all of it is written (one plain write for one
/// chunk, vectored for several), then flushes. `sent` counts whole chunks
/// done; a chunk written in part is advanced in place.
fn poll_write_out<IO: AsyncWrite + Unpin>(
    io: &mut IO,
    cx: &mut Context<'_>,
    out: &mut [Chunk],
    sent: &mut usize,
) -> Poll<std::io::Result<()>> {
    loop {
        // (Nothing to write for an empty chunk; an all-empty write would
        // look like a closed connection.)
        while out.get(*sent).is_some_and(|c| bytes_of(c).is_empty()) {
            *sent += 1;
        }
        if *sent == out.len() {
            break;
        }
        let rest = &out[*sent..];
        let mut n = if rest.len() == 1 {
            // The usual case, one event per wake-up: a plain write.
            std::task::ready!(Pin::new(&mut *io).poll_write(cx, bytes_of(&rest[0])))?
        } else {
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let mut count = 0;
            for (slot, chunk) in slices.iter_mut().zip(rest) {
                *slot = IoSlice::new(bytes_of(chunk));
                count += 1;
            }
            std::task::ready!(Pin::new(&mut *io).poll_write_vectored(cx, &slices[..count]))?
        };
        if n == 0 {
            return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
        }
        while n > 0 && *sent < out.len() {
            if let Chunk::Events(bytes) = &mut out[*sent] {
                let take = n.min(bytes.len());
                bytes.advance(take);
                n -= take;
                if !bytes.is_empty() {
                    break;
                }
            }
            *sent += 1;
        }
    }
    Pin::new(io).poll_flush(cx)
}

/// Encodes every `missed` notice in place (rare: once per resumed
/// connection at most), so that everything in `out` is wire bytes.
fn encode_notices(out: &mut [Chunk]) {
    for chunk in out {
        if let Chunk::Missed(_) = chunk {
            let notice = std::mem::replace(chunk, Chunk::Events(Bytes::new()));
            *chunk = Chunk::Events(notice.into_bytes());
        }
    }
}

/// The wire bytes of a chunk (after [`encode_notices`]).
fn bytes_of(chunk: &Chunk) -> &[u8] {
    match chunk {
        Chunk::Events(bytes) => bytes,
        Chunk::Missed(_) => &[],
    }
}

/// For a connection that cannot write vectored: one buffer, one write.
fn merge(out: &mut Vec<Chunk>) {
    let mut all = BytesMut::with_capacity(out.iter().map(|c| bytes_of(c).len()).sum());
    for chunk in out.iter() {
        all.extend_from_slice(bytes_of(chunk));
    }
    out.clear();
    out.push(Chunk::Events(all.freeze()));
}

/// Ready when the client has closed its side or the connection failed.
/// Anything it sends is read and dropped: an event-stream client has
/// nothing to say after its request.
fn client_gone<R: AsyncRead + Unpin>(reader: &mut R, cx: &mut Context<'_>) -> Poll<()> {
    let mut scratch = [0u8; 64];
    // A bounded number of reads per wake-up, so that a client that keeps
    // sending cannot keep this task from yielding.
    for _ in 0..16 {
        let mut buf = ReadBuf::new(&mut scratch);
        match Pin::new(&mut *reader).poll_read(cx, &mut buf) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(())) if !buf.filled().is_empty() => {}
            Poll::Ready(_) => return Poll::Ready(()),
        }
    }
    cx.waker().wake_by_ref();
    Poll::Pending
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::{encode_comment, Event, Hub, HubConfig};
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn retry_hint_comes_first_without_an_empty_line() {
        let hub = Hub::new(HubConfig::default());
        let sub = hub.subscribe(Some("0"));
        hub.publish(Event::new("a")).unwrap();
        let (client, server) = tokio::io::duplex(4096);
        let config = StreamConfig::default().with_retry(Some(Duration::from_millis(250)));
        let shutdown = Shutdown::new();
        let task = tokio::spawn(run(server, sub, config, shutdown.clone()));
        let (mut cr, _cw) = tokio::io::split(client);
        let mut buf = vec![0u8; 64];
        let mut got = Vec::new();
        while !got.ends_with(b"\n\n") {
            let n = cr.read(&mut buf).await.unwrap();
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"retry: 250\nid: 1\ndata: a\n\n");
        shutdown.trigger();
        assert_eq!(task.await.unwrap(), StreamEnd::Shutdown);
    }

    #[test]
    fn keep_alive_is_the_encoders_empty_comment() {
        let mut encoded = BytesMut::new();
        encode_comment("", &mut encoded).unwrap();
        assert_eq!(&encoded[..], KEEP_ALIVE);
    }
}
