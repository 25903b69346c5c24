//! The tokio shell: a [`WebSocket`] over any already-upgraded byte stream.
//!
//! Every protocol decision (answering pings, echoing and timing closes,
//! keepalive, failing with a close code) is made by the sans-IO
//! [`Connection`]; this file only moves bytes and time between it and the
//! stream, and decides nothing that the core could decide.
//!
//! To let one task read while another writes, the two halves share the
//! core behind a short `std::sync::Mutex` (never held across an `.await`)
//! and the stream's write half behind a `tokio::sync::Mutex`. Whoever holds
//! the write lock writes *everything* the core has queued, including the
//! pong or close echo that the reading half queued meanwhile. A reader that
//! finds the write lock busy does not wait for it (if the writer is pushing
//! a large message to a peer that is slow to read, both ends could block
//! writing to each other): it leaves its reply queued in the core, and the
//! lock holder sends it. Sends wait until their bytes are written, so a
//! slow peer slows the sender instead of filling a buffer, and every write
//! is bounded by [`Config::write_timeout`].

use bytes::{Buf, Bytes, BytesMut};
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::time::Instant;

use super::close::GOING_AWAY;
use super::extensions::{DeflateConfig, DeflateParams};
use super::message::{CloseFrame, Message};
use super::protocol::{
    CloseState, Connection, Limits, ProtocolError, Role, SendError, TimedOut, Timers,
};
use crate::server::Shutdown;

// ANCHOR: config
/// Settings for a [`WebSocket`]. Built from [`Config::default`] with the
/// `with_` setters, so a setting added later breaks no caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Size limits for what the peer sends us.
    pub limits: Limits,
    /// The most bytes to ask the stream for per read. Together with the
    /// limits this bounds the memory one connection uses. Reads start at
    /// [`MIN_READ`] (or this, if smaller) and grow toward it only while the
    /// peer keeps them full (see [`ReadSize`]), so an idle connection does
    /// not hold a large buffer.
    pub read_chunk: usize,
    /// How long to wait for the peer's answer once our close frame is out.
    /// After it the stream is shut down and `recv` returns
    /// [`WsError::CloseTimeout`].
    pub close_timeout: Duration,
    /// Ping a peer that has sent nothing for this long (`None`: never).
    pub ping_after: Option<Duration>,
    /// How long a pinged peer has to send anything back before the
    /// connection is closed with 1011 ([`WsError::KeepaliveTimeout`]).
    pub pong_timeout: Duration,
    /// The longest one send (or an automatic reply) may take to write. A
    /// peer that stops reading cannot hold a sender, or its task, for ever.
    pub write_timeout: Duration,
    /// permessage-deflate (RFC 7692): what a client offers, and what a
    /// server accepts unless its `HandshakeConfig` says otherwise. `None`
    /// (the default): no compression.
    pub compression: Option<DeflateConfig>,
}

impl Default for Config {
    /// 16 KiB reads at most, the default [`Limits`] and [`Timers`] (5 s to
    /// close, a ping after 30 s of silence answered within 20 s), and 30 s
    /// to write a message.
    fn default() -> Self {
        let timers = Timers::default();
        Config {
            limits: Limits::default(),
            read_chunk: 16 * 1024,
            close_timeout: timers.close_timeout,
            ping_after: timers.ping_after,
            pong_timeout: timers.pong_timeout,
            write_timeout: Duration::from_secs(30),
            compression: None,
        }
    }
}
// ANCHOR_END: config

impl Config {
    /// Sets [`Config::limits`].
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets [`Config::read_chunk`].
    pub fn with_read_chunk(mut self, bytes: usize) -> Self {
        self.read_chunk = bytes;
        self
    }

    /// Sets [`Config::close_timeout`].
    pub fn with_close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// Sets [`Config::ping_after`] (`None`: no keepalive pings).
    pub fn with_ping_after(mut self, idle: Option<Duration>) -> Self {
        self.ping_after = idle;
        self
    }

    /// Sets [`Config::pong_timeout`].
    pub fn with_pong_timeout(mut self, timeout: Duration) -> Self {
        self.pong_timeout = timeout;
        self
    }

    /// Sets [`Config::write_timeout`].
    pub fn with_write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout;
        self
    }

    /// Sets [`Config::compression`].
    pub fn with_compression(mut self, compression: Option<DeflateConfig>) -> Self {
        self.compression = compression;
        self
    }

    fn timers(&self) -> Timers {
        Timers::default()
            .with_close_timeout(self.close_timeout)
            .with_ping_after(self.ping_after)
            .with_pong_timeout(self.pong_timeout)
    }
}

/// The most bytes [`WebSocket::feed`] holds back: a handler that feeds
/// faster than `recv` flushes writes once this much is queued, so fed
/// messages cost bounded memory.
pub const FEED_LIMIT: usize = 64 * 1024;

/// The smallest read buffer a connection offers the stream: enough for a
/// typical chat or ticker message in one read, small enough that ten
/// thousand idle connections cost little.
pub const MIN_READ: usize = 2 * 1024;

// ANCHOR: read_size
/// How much buffer the next read offers: it doubles after a read that
/// filled all of it (the peer is sending faster than we read) up to
/// `max`, and halves after [`SHRINK_AFTER`] reads in a row that each used
/// less than a quarter of it. One short read is normal (the tail of a
/// large message); only a run of them means the traffic got smaller.
///
/// A fixed large buffer makes big messages cheap but costs every idle
/// connection that much memory; a fixed small one costs large messages
/// many reads. Following the traffic gets both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ReadSize {
    next: usize,
    min: usize,
    max: usize,
    short_reads: u8,
}

/// How many short reads in a row halve the read size.
const SHRINK_AFTER: u8 = 4;

impl ReadSize {
    fn new(max: usize) -> Self {
        let max = max.max(1);
        let min = MIN_READ.min(max);
        ReadSize {
            next: min,
            min,
            max,
            short_reads: 0,
        }
    }

    /// Records that a read offered `offered` bytes and got `got`.
    fn record(&mut self, offered: usize, got: usize) {
        if got >= offered {
            self.next = (self.next * 2).min(self.max);
            self.short_reads = 0;
        } else if got < offered / 4 {
            self.short_reads += 1;
            if self.short_reads == SHRINK_AFTER {
                self.next = (self.next / 2).max(self.min);
                self.short_reads = 0;
            }
        } else {
            self.short_reads = 0;
        }
    }
}
// ANCHOR_END: read_size

/// Everything that can go wrong on a [`WebSocket`].
#[derive(Debug)]
#[non_exhaustive]
pub enum WsError {
    /// The peer broke the protocol; we sent it a close frame with
    /// [`ProtocolError::close_code`] and the connection is over.
    Protocol(ProtocolError),
    /// The message could not be sent (e.g. after the close handshake).
    Send(SendError),
    /// The underlying stream failed.
    Io(io::Error),
    /// The stream ended without a closing handshake.
    UnexpectedEof,
    /// We sent a close frame and the peer did not answer within
    /// [`Config::close_timeout`]; we shut the stream down.
    CloseTimeout,
    /// The peer stayed silent after a keepalive ping for
    /// [`Config::pong_timeout`]; we sent a 1011 close and shut the stream
    /// down.
    KeepaliveTimeout,
    /// A write did not finish within [`Config::write_timeout`] (the peer
    /// stopped reading); the connection is over.
    WriteTimeout,
}

impl fmt::Display for WsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WsError::Protocol(e) => write!(f, "protocol error: {e}"),
            WsError::Send(e) => write!(f, "cannot send: {e}"),
            WsError::Io(e) => write!(f, "I/O error: {e}"),
            WsError::UnexpectedEof => f.write_str("connection closed without a close frame"),
            WsError::CloseTimeout => write!(f, "{}", TimedOut::Close),
            WsError::KeepaliveTimeout => write!(f, "{}", TimedOut::Keepalive),
            WsError::WriteTimeout => f.write_str("the peer did not take our bytes in time"),
        }
    }
}

impl std::error::Error for WsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WsError::Protocol(e) => Some(e),
            WsError::Send(e) => Some(e),
            WsError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for WsError {
    fn from(e: io::Error) -> Self {
        WsError::Io(e)
    }
}

impl From<SendError> for WsError {
    fn from(e: SendError) -> Self {
        WsError::Send(e)
    }
}

impl From<TimedOut> for WsError {
    fn from(e: TimedOut) -> Self {
        match e {
            TimedOut::Close => WsError::CloseTimeout,
            TimedOut::Keepalive => WsError::KeepaliveTimeout,
        }
    }
}

/// The stream's write half and the bytes taken from the core but not yet
/// written. They stay here, not in a local, so a cancelled write loses
/// nothing.
struct WriteSide<S> {
    io: WriteHalf<S>,
    pending: BytesMut,
    /// The write half was shut down: nothing more goes out.
    ended: bool,
}

impl<S: AsyncRead + AsyncWrite> WriteSide<S> {
    /// Writes `pending`, then `payload`, as one vectored write where the
    /// stream takes both at once (a TCP stream does): a large message goes
    /// out without being copied and without a system call of its own.
    /// Small writes use a plain `write`, which costs less than `writev`.
    async fn write_out(&mut self, payload: &[u8]) -> io::Result<()> {
        let mut payload_sent = 0;
        while !self.pending.is_empty() {
            let n = if payload.is_empty() {
                self.io.write(&self.pending).await?
            } else {
                let bufs = [io::IoSlice::new(&self.pending), io::IoSlice::new(payload)];
                self.io.write_vectored(&bufs).await?
            };
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            let from_pending = n.min(self.pending.len());
            self.pending.advance(from_pending);
            payload_sent += n - from_pending;
        }
        while payload_sent < payload.len() {
            let n = self.io.write(&payload[payload_sent..]).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            payload_sent += n;
        }
        Ok(())
    }
}

struct Shared<S> {
    core: std::sync::Mutex<Connection>,
    write: tokio::sync::Mutex<WriteSide<S>>,
    write_timeout: Duration,
}

impl<S: AsyncRead + AsyncWrite> Shared<S> {
    fn core(&self) -> MutexGuard<'_, Connection> {
        // A poisoned lock only means another thread panicked mid-call; the
        // core's state is still a valid state.
        self.core.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves what the core has queued behind what is already pending.
    fn take_output(&self, w: &mut WriteSide<S>) {
        let mut core = self.core();
        let output = core.output_mut();
        if w.ended {
            output.clear();
        } else if w.pending.is_empty() {
            // The two buffers change places instead of the output being
            // split off: a split shares one allocation between both, so
            // the core's next frame would need a new one (and the split a
            // shared header), three allocations per message in all. Swapped,
            // each buffer keeps its own allocation and is reused.
            w.pending.clear();
            std::mem::swap(&mut w.pending, output);
        } else {
            w.pending.extend_from_slice(output);
            output.clear();
        }
    }

    /// With the write lock held: writes what is pending, then `payload`,
    /// then whatever the core queued meanwhile, and ends the write half
    /// once the core says the connection is over. Bounded by the write
    /// timeout; a failed or late write ends the connection.
    async fn flush(&self, w: &mut WriteSide<S>, payload: &[u8]) -> Result<(), WsError> {
        let outcome = {
            let mut work = std::pin::pin!(async {
                w.write_out(payload).await?;
                loop {
                    self.take_output(w);
                    if w.pending.is_empty() {
                        break;
                    }
                    w.write_out(&[]).await?;
                }
                w.io.flush().await?;
                if !w.ended && self.core().is_closed() {
                    w.ended = true;
                    // The peer may already be gone; that is not our error.
                    let _ = w.io.shutdown().await;
                }
                Ok::<_, io::Error>(())
            });
            // Most writes are done at the first try: the timer is armed only
            // for one that has to wait. Registering and cancelling a timer for
            // every message cost more than the rest of the write path.
            let first = std::future::poll_fn(|cx| Poll::Ready(work.as_mut().poll(cx))).await;
            // Boxed there, the timer makes no future that writes larger.
            match first {
                Poll::Ready(done) => Ok(done),
                Poll::Pending => Box::pin(tokio::time::timeout(self.write_timeout, work)).await,
            }
        };
        let result = match outcome {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => WsError::Io(e),
            Err(_) => WsError::WriteTimeout,
        };
        self.core().abort();
        w.pending.clear();
        Err(result)
    }

    /// Writes the core's automatic replies if the write lock is free; if
    /// not, its holder writes them (see [`Shared::flush_leftovers`]).
    async fn write_replies(&self) -> Result<(), WsError> {
        {
            let core = self.core();
            if !core.has_output() && !core.is_closed() {
                return Ok(());
            }
        }
        match self.write.try_lock() {
            Ok(mut w) => self.flush(&mut w, &[]).await,
            Err(_) => Ok(()),
        }
    }

    /// Called after releasing the write lock: a reply the reader queued
    /// while we held it, and could not write itself, goes out now.
    async fn flush_leftovers(&self) -> Result<(), WsError> {
        while self.core().has_output() {
            let mut w = self.lock_write().await;
            self.flush(&mut w, &[]).await?;
        }
        Ok(())
    }

    /// The write lock. Usually free: taking it then is one atomic step,
    /// where waiting for it builds and polls a queue entry first.
    async fn lock_write(&self) -> tokio::sync::MutexGuard<'_, WriteSide<S>> {
        match self.write.try_lock() {
            Ok(w) => w,
            Err(_) => self.write.lock().await,
        }
    }

    /// Writes whatever is queued: fed messages and automatic replies.
    async fn flush_queued(&self) -> Result<(), WsError> {
        let mut w = self.lock_write().await;
        if w.pending.is_empty() && !self.core().has_output() {
            return Ok(());
        }
        self.flush(&mut w, &[]).await
    }

    /// Queues `msg` in the core, then writes everything queued, waiting
    /// for the write lock; with [`Write::WhenFull`] (a feed), only if more
    /// than [`FEED_LIMIT`] bytes are queued or the message has a large
    /// payload the core left where it lies (it must follow its header at
    /// once, and is not copied to be held back).
    async fn send(&self, msg: &Message, when: Write) -> Result<(), WsError> {
        let mut w = self.lock_write().await;
        let payload = {
            let mut core = self.core();
            let payload = core.send_zero_copy(msg)?;
            drop(core);
            // Take the output now: the frame header is its last bytes,
            // and the payload must follow it directly.
            self.take_output(&mut w);
            payload
        };
        if when == Write::WhenFull && payload.is_none() && w.pending.len() <= FEED_LIMIT {
            return Ok(());
        }
        self.flush(&mut w, payload.unwrap_or(&[])).await?;
        drop(w);
        self.flush_leftovers().await
    }
}

/// When [`Shared::send`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Write {
    /// At once, and returns when the bytes are out.
    Now,
    /// When enough is queued (see [`WebSocket::feed`]).
    WhenFull,
}

/// A WebSocket connection over the stream `S`, in either role.
pub struct WebSocket<S> {
    reader: WsReader<S>,
    writer: WsWriter<S>,
    subprotocol: Option<String>,
}

/// The receiving half of a split [`WebSocket`]. It still answers pings and
/// closes, through the write side it shares with [`WsWriter`].
pub struct WsReader<S> {
    io: ReadHalf<S>,
    buf: BytesMut,
    read_size: ReadSize,
    shared: Arc<Shared<S>>,
    /// Server shutdown, if the socket should react to it (see `recv`).
    shutdown: Option<Shutdown>,
    /// Waits for `shutdown`, made once the connection has delivered a
    /// message, and kept: it stays registered with the switch across
    /// reads, where a wait made per read registers and unregisters for
    /// every message. A connection that has carried nothing makes its wait
    /// afresh each time instead (it waits rarely), so ten thousand idle
    /// connections do not hold one each.
    going_away: Option<Pin<Box<dyn Future<Output = ()> + Send + Sync>>>,
    /// A message was delivered: the connection is worth a kept wait.
    delivered: bool,
    /// [`WebSocket::feed`] queued bytes that `recv` must write before it
    /// waits for input.
    fed: bool,
    /// The wakers `timer` and `going_away` were last polled with (see
    /// [`WhenDue`]).
    timer_waker: Option<Waker>,
    going_away_waker: Option<Waker>,
    /// Fires when the core's next deadline may be due (see `arm_timer`).
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

/// The sending half of a split [`WebSocket`]. Clones share the connection;
/// each message is written whole, so clones never interleave frames.
pub struct WsWriter<S> {
    shared: Arc<Shared<S>>,
}

impl<S> Clone for WsWriter<S> {
    fn clone(&self) -> Self {
        WsWriter {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S> fmt::Debug for WebSocket<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocket").finish_non_exhaustive()
    }
}

impl<S> fmt::Debug for WsReader<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsReader").finish_non_exhaustive()
    }
}

impl<S> fmt::Debug for WsWriter<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsWriter").finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// Wraps a stream on which the opening handshake is already done.
    ///
    /// `leftover` holds any bytes the HTTP layer read past the end of the
    /// handshake: they are the start of the first frame, so they are
    /// processed before anything is read from `stream`.
    pub fn from_upgraded(stream: S, role: Role, config: Config, leftover: BytesMut) -> Self {
        let (read_io, write_io) = tokio::io::split(stream);
        let core = Connection::new(role, config.limits).with_timers(config.timers());
        let shared = Arc::new(Shared {
            core: std::sync::Mutex::new(core),
            write: tokio::sync::Mutex::new(WriteSide {
                io: write_io,
                pending: BytesMut::new(),
                ended: false,
            }),
            write_timeout: config.write_timeout,
        });
        WebSocket {
            reader: WsReader {
                io: read_io,
                buf: leftover,
                read_size: ReadSize::new(config.read_chunk),
                shared: Arc::clone(&shared),
                shutdown: None,
                going_away: None,
                delivered: false,
                fed: false,
                timer_waker: None,
                going_away_waker: None,
                timer: None,
            },
            writer: WsWriter { shared },
            subprotocol: None,
        }
    }

    /// Makes the socket close itself with 1001 ("going away") when
    /// `shutdown` fires, so every handler shuts down cleanly without
    /// watching for it: see [`WsReader::recv`]. `ws::upgrade` does this
    /// with the server's shutdown switch.
    pub fn with_shutdown(mut self, shutdown: Shutdown) -> Self {
        self.reader.shutdown = Some(shutdown);
        self
    }

    /// Turns on permessage-deflate as the handshake agreed (`None`: it did
    /// not). Call before the first message.
    pub fn with_deflate(self, params: Option<DeflateParams>) -> Self {
        if let Some(params) = &params {
            self.writer.shared.core().set_deflate(params);
        }
        self
    }

    /// Records the subprotocol the handshake chose.
    pub fn with_subprotocol(mut self, subprotocol: Option<String>) -> Self {
        self.subprotocol = subprotocol;
        self
    }

    /// The subprotocol the handshake chose, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// Waits for the next message. See [`WsReader::recv`].
    pub async fn recv(&mut self) -> Option<Result<Message, WsError>> {
        self.reader.recv().await
    }

    /// Sends a message, waiting until it is written. See [`WsWriter::send`].
    pub async fn send(&mut self, msg: Message) -> Result<(), WsError> {
        self.writer.send(msg).await
    }

    // ANCHOR: feed
    /// Queues a message without writing it, so that several go out in one
    /// write: the next [`send`](Self::send) or [`flush`](Self::flush)
    /// writes everything queued, and so does [`recv`](Self::recv) before
    /// it waits for the peer. A handler that answers each message it
    /// receives can feed its answers: when the peer pipelines requests,
    /// the answers to all those that arrived in one read leave in one
    /// write, and when it does not, `recv` writes each answer at once.
    ///
    /// At most [`FEED_LIMIT`] bytes are held back: past it, everything
    /// queued is written at once, as `send` would. So is a large payload
    /// that the server writes from where it lies, uncopied (see
    /// [`ZERO_COPY_FROM`](super::protocol::ZERO_COPY_FROM)): holding it
    /// back would mean copying it. What is queued when the socket is
    /// dropped is lost.
    pub async fn feed(&mut self, msg: Message) -> Result<(), WsError> {
        self.writer.shared.send(&msg, Write::WhenFull).await?;
        self.reader.fed = true;
        Ok(())
    }
    // ANCHOR_END: feed

    /// Writes every message [`feed`](Self::feed) queued.
    pub async fn flush(&mut self) -> Result<(), WsError> {
        self.writer.shared.flush_queued().await?;
        self.reader.fed = false;
        Ok(())
    }

    /// Sends a ping with `payload` (at most 125 bytes).
    pub async fn ping(&mut self, payload: Bytes) -> Result<(), WsError> {
        self.writer.ping(payload).await
    }

    /// Starts the closing handshake. See [`WsWriter::close`].
    pub async fn close(&mut self, code: u16, reason: &str) -> Result<(), WsError> {
        self.writer.close(code, reason).await
    }

    /// Splits into halves that can be moved to different tasks.
    pub fn split(self) -> (WsReader<S>, WsWriter<S>) {
        (self.reader, self.writer)
    }
}

/// What the core asked for after it was handed the buffered input.
enum Step {
    Deliver(Message),
    Fail(ProtocolError),
    /// Read more, until the core's next deadline (if any); `open` says
    /// whether a shutdown should still send our 1001.
    Read {
        deadline: Option<Instant>,
        open: bool,
    },
    Over,
}

/// What came of waiting for input.
enum Waited {
    Read(io::Result<usize>),
    Deadline,
    Shutdown,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsReader<S> {
    // ANCHOR: recv
    /// Waits for the next message.
    ///
    /// Pings are answered and closes echoed (by the core) before they are
    /// returned. After a close (ours answered, or the answer to ours) the
    /// write side is shut down and the next call returns `None`. On a
    /// protocol error the close frame with the matching code is sent
    /// first, then the error is returned, then `None`. Memory stays
    /// bounded: at most one read chunk plus the message being reassembled
    /// (capped by [`Limits`]); the read buffer follows the traffic.
    ///
    /// Safe to use in `tokio::select!`: a cancelled call loses no input
    /// bytes and no data message.
    ///
    /// With a shutdown switch ([`WebSocket::with_shutdown`]), a `recv` that
    /// is waiting for input when the switch fires sends a 1001 close
    /// itself, then keeps reading for the peer's answer: the caller sees
    /// that close (then `None`), exactly as if it had closed the socket.
    pub async fn recv(&mut self) -> Option<Result<Message, WsError>> {
        loop {
            match self.step() {
                Step::Over => return None,
                Step::Deliver(msg) => {
                    self.delivered = true;
                    return Some(self.shared.write_replies().await.map(|()| msg));
                }
                Step::Fail(e) => {
                    // The peer may already be gone; the error is what matters.
                    // Our close is out: let the peer read it before we drop.
                    // (Boxed, this rare path's buffer and timer make the
                    // future of every `recv` no larger.)
                    if self.shared.write_replies().await.is_ok() {
                        Box::pin(crate::http_io::linger(&mut self.io)).await;
                    }
                    return Some(Err(WsError::Protocol(e)));
                }
                Step::Read { deadline, open } => {
                    // Every fed message goes out before we wait for the
                    // peer, who may be waiting for them. Writing moves no
                    // deadline, so the core is not asked again.
                    if self.fed {
                        if let Err(e) = self.shared.flush_queued().await {
                            return Some(Err(e));
                        }
                        self.fed = false;
                    }
                    match self.wait(deadline, open).await {
                        Waited::Read(Ok(0)) => {
                            self.shared.core().abort();
                            return Some(Err(WsError::UnexpectedEof));
                        }
                        Waited::Read(Ok(_)) => {}
                        Waited::Read(Err(e)) => {
                            self.shared.core().abort();
                            return Some(Err(WsError::Io(e)));
                        }
                        Waited::Deadline => {
                            // Quiet for a keepalive period (or at least until
                            // a close deadline): an empty read buffer is given
                            // back, and the next read starts without one.
                            if self.buf.is_empty() {
                                self.buf = BytesMut::new();
                            }
                            let now = Instant::now().into_std();
                            let timed_out = self.shared.core().handle_timeout(now);
                            // A keepalive ping, or the 1011 close, goes out.
                            let written = self.shared.write_replies().await;
                            if let Err(e) = timed_out {
                                return Some(Err(e.into()));
                            }
                            if let Err(e) = written {
                                return Some(Err(e));
                            }
                        }
                        Waited::Shutdown => {
                            let going_away = Message::Close(Some(CloseFrame {
                                code: GOING_AWAY,
                                reason: "server shutting down".to_owned(),
                            }));
                            match Box::pin(self.shared.send(&going_away, Write::Now)).await {
                                // Already closing: the close under way stands.
                                Ok(()) | Err(WsError::Send(SendError::Closed)) => {}
                                Err(e) => return Some(Err(e)),
                            }
                        }
                    }
                }
            }
        }
    }
    // ANCHOR_END: recv

    /// Hands the buffered input to the core and says what it wants next.
    fn step(&mut self) -> Step {
        let mut core = self.shared.core();
        if core.is_closed() {
            return Step::Over;
        }
        match core.receive(&mut self.buf) {
            Ok(Some(msg)) => Step::Deliver(msg),
            Err(e) => Step::Fail(e),
            Ok(None) => Step::Read {
                deadline: core
                    .poll_timeout(Instant::now().into_std())
                    .map(Instant::from_std),
                open: core.state() == CloseState::Open,
            },
        }
    }

    /// One read into the buffer, unless the core's deadline or the server's
    /// shutdown comes first.
    async fn wait(&mut self, deadline: Option<Instant>, open: bool) -> Waited {
        // A buffer grown for earlier traffic is let go once it is drained,
        // so a quiet connection shrinks back.
        if self.buf.is_empty() && self.buf.capacity() > 2 * self.read_size.next {
            self.buf = BytesMut::new();
        }
        // A connection without a buffer (new, or quiet for a keepalive
        // period: see `recv`) waits without one; see [`read_some`].
        let offered = if self.buf.capacity() == 0 {
            self.read_size.next.min(MIN_READ)
        } else {
            self.buf.reserve(self.read_size.next);
            self.buf.capacity() - self.buf.len()
        };
        let grow_to = self.read_size.next;
        self.arm_timer(deadline);
        if open && self.delivered && self.going_away.is_none() {
            if let Some(shutdown) = &self.shutdown {
                let shutdown = shutdown.clone();
                self.going_away = Some(Box::pin(async move { shutdown.wait().await }));
            }
        }
        let WsReader {
            io,
            buf,
            timer,
            going_away,
            timer_waker,
            going_away_waker,
            shutdown,
            ..
        } = self;
        let going_away = going_away.as_mut().filter(|_| open);
        // `select!` builds every branch's future, enabled or not.
        let (timed, stoppable) = (timer.is_some(), going_away.is_some());
        let fresh_wait = open && !stoppable && shutdown.is_some();
        let waited = tokio::select! {
            read = read_some(io, buf, grow_to) => Waited::Read(read),
            () = WhenDue {
                inner: timer.as_mut().map(|sleep| sleep.as_mut()),
                due: |sleep: &tokio::time::Sleep| sleep.is_elapsed(),
                waker: timer_waker,
            }, if timed => Waited::Deadline,
            () = WhenDue {
                inner: going_away.map(|wait| wait.as_mut()),
                due: |_: &_| shutdown.as_ref().is_some_and(Shutdown::is_triggered),
                waker: going_away_waker,
            }, if stoppable => Waited::Shutdown,
            () = async { shutdown.as_ref().expect("checked").wait().await }, if fresh_wait => {
                Waited::Shutdown
            }
        };
        if let Waited::Shutdown = waited {
            // Done: a finished future must not be polled again.
            self.going_away = None;
            self.shutdown = None;
        }
        if let Waited::Read(Ok(got)) = waited {
            self.read_size.record(offered, got);
        }
        waited
    }

    /// Makes the timer fire no later than `deadline`. A timer that will
    /// fire earlier is left alone: while data flows, the keepalive
    /// deadline moves with every read, and resetting a timer per read
    /// costs more than one early wake-up per keepalive period (at which the
    /// core finds nothing due and the timer is set again).
    fn arm_timer(&mut self, deadline: Option<Instant>) {
        let Some(deadline) = deadline else {
            self.timer = None;
            return;
        };
        match &mut self.timer {
            Some(timer) if timer.deadline() <= deadline && !timer.is_elapsed() => {}
            Some(timer) => {
                timer.as_mut().reset(deadline);
                self.timer_waker = None;
            }
            None => {
                self.timer = Some(Box::pin(tokio::time::sleep_until(deadline)));
                self.timer_waker = None;
            }
        }
    }
}

// ANCHOR: read_some
/// One read from `io` into `buf`. A `buf` without an allocation is not
/// given one to wait with: the read goes into an array on the stack, which
/// exists only while the stream is polled, and only bytes that arrived are
/// moved into `buf` (then allocated at `grow_to`). Ten thousand connections
/// waiting for their first message, or quiet for a keepalive period, so
/// hold no read buffers at all; the price is one copy of the first read
/// after such a wait.
fn read_some<'a, R: AsyncRead + Unpin>(
    io: &'a mut R,
    buf: &'a mut BytesMut,
    grow_to: usize,
) -> impl Future<Output = io::Result<usize>> + 'a {
    std::future::poll_fn(move |cx| {
        if buf.capacity() > 0 {
            return std::pin::pin!(io.read_buf(&mut *buf)).poll(cx);
        }
        let mut stack = [0u8; MIN_READ];
        let offer = grow_to.clamp(1, MIN_READ);
        let mut read = tokio::io::ReadBuf::new(&mut stack[..offer]);
        match Pin::new(&mut *io).poll_read(cx, &mut read) {
            Poll::Ready(Ok(())) => {
                let got = read.filled();
                if !got.is_empty() {
                    buf.reserve(grow_to.max(got.len()));
                    buf.extend_from_slice(got);
                }
                Poll::Ready(Ok(got.len()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    })
}
// ANCHOR_END: read_some

/// Polls `inner`, a future that stays registered to wake the task once it
/// was polled (a timer, a wait for the shutdown switch), only when that can
/// tell anything new: the first time, when the task's waker is another one
/// (the half moved to another task), or when `due` says its event may have
/// come. Every poll of a timer or of a `watch` takes a lock, and a busy
/// connection's `select!` polls both about twice per message, for events
/// that come once per keepalive period or once per server.
struct WhenDue<'a, F: ?Sized, D> {
    /// `None`: nothing to wait for, never ready.
    inner: Option<Pin<&'a mut F>>,
    due: D,
    /// The waker of the last poll that left `inner` registered.
    waker: &'a mut Option<Waker>,
}

impl<F: Future + ?Sized, D: Fn(&F) -> bool + Unpin> Future for WhenDue<'_, F, D> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Pending;
        };
        let registered = this.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker()));
        if registered && !(this.due)(inner) {
            return Poll::Pending;
        }
        let out = inner.as_mut().poll(cx);
        *this.waker = out.is_pending().then(|| cx.waker().clone());
        out
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsWriter<S> {
    /// Sends a message and waits until it is written to the stream, so a
    /// slow peer slows the sender down instead of filling a buffer.
    ///
    /// Sending a close starts the closing handshake; keep calling `recv`
    /// on the reading side until it returns the peer's close (or `None`).
    pub async fn send(&self, msg: Message) -> Result<(), WsError> {
        self.shared.send(&msg, Write::Now).await
    }

    /// Sends a ping with `payload` (at most 125 bytes).
    pub async fn ping(&self, payload: Bytes) -> Result<(), WsError> {
        self.send(Message::Ping(payload)).await
    }

    /// Sends a close frame with `code` and `reason` (at most 123 bytes).
    pub async fn close(&self, code: u16, reason: &str) -> Result<(), WsError> {
        self.send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.to_owned(),
        })))
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::frame::{write_frame, FrameHeader, Opcode};
    use crate::ws::protocol::{Reader, Writer, ZERO_COPY_FROM};
    use std::time::Duration;

    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn read_size_grows_while_reads_are_full_and_shrinks_when_they_are_not() {
        let mut size = ReadSize::new(64 * 1024);
        assert_eq!(size.next, MIN_READ);
        let mut steps = 0;
        while size.next < 64 * 1024 {
            size.record(size.next, size.next);
            steps += 1;
        }
        assert_eq!(steps, 5, "2 KiB doubles to 64 KiB in five full reads");
        size.record(size.next, size.next);
        assert_eq!(size.next, 64 * 1024, "never past the configured chunk");
        // A read that used half the space changes nothing, and so do
        // short reads that are not a run.
        size.record(size.next, size.next / 2);
        for _ in 0..3 {
            size.record(size.next, 10);
        }
        size.record(size.next, size.next / 2);
        for _ in 0..3 {
            size.record(size.next, 10);
        }
        assert_eq!(size.next, 64 * 1024);
        size.record(size.next, 10);
        assert_eq!(
            size.next,
            32 * 1024,
            "the fourth short read in a row halves it"
        );
        for _ in 0..40 {
            size.record(size.next, 10);
        }
        assert_eq!(size.next, MIN_READ, "never below the minimum");
        // A configured chunk under the minimum is used as both bounds.
        let mut tiny = ReadSize::new(100);
        tiny.record(100, 100);
        assert_eq!((tiny.next, tiny.min, tiny.max), (100, 100, 100));
    }

    /// A stream that takes at most 7 bytes per write, vectored or not, so
    /// every way a header-then-payload write can be cut happens.
    struct SevenAtATime(Arc<std::sync::Mutex<Vec<u8>>>);

    impl AsyncRead for SevenAtATime {
        fn poll_read(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            _: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            std::task::Poll::Pending
        }
    }

    impl AsyncWrite for SevenAtATime {
        fn poll_write(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<io::Result<usize>> {
            let n = buf.len().min(7);
            self.0.lock().unwrap().extend_from_slice(&buf[..n]);
            std::task::Poll::Ready(Ok(n))
        }

        fn poll_write_vectored(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            bufs: &[io::IoSlice<'_>],
        ) -> std::task::Poll<io::Result<usize>> {
            let mut room = 7;
            let mut out = self.0.lock().unwrap();
            for buf in bufs {
                let n = buf.len().min(room);
                out.extend_from_slice(&buf[..n]);
                room -= n;
            }
            std::task::Poll::Ready(Ok(7 - room))
        }

        fn is_write_vectored(&self) -> bool {
            true
        }

        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }

        fn poll_shutdown(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
    }

    /// Large messages take the zero-copy path; cut into 7-byte vectored
    /// writes, they still arrive whole and in order.
    #[tokio::test]
    async fn large_messages_survive_short_vectored_writes() {
        let wire = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sent = [
            Message::Binary(Bytes::from(
                (0..20_000u32).map(|i| i as u8).collect::<Vec<_>>(),
            )),
            Message::Text("small".into()),
            Message::Text("x".repeat(5_000)),
        ];
        let stream = SevenAtATime(Arc::clone(&wire));
        let mut ws =
            WebSocket::from_upgraded(stream, Role::Server, Config::default(), BytesMut::new());
        for msg in &sent {
            ws.send(msg.clone()).await.unwrap();
        }
        let mut bytes = BytesMut::from(&wire.lock().unwrap()[..]);
        let mut client = Reader::new(Role::Client, Limits::default());
        let mut got = Vec::new();
        while let Some(msg) = client.receive(&mut bytes).unwrap() {
            got.push(msg);
        }
        assert_eq!(got, sent);
        assert!(bytes.is_empty());
    }

    /// A peer that never answers our close, even one that keeps sending
    /// data to look alive, is hung up on when the close timeout passes.
    #[tokio::test]
    async fn a_close_the_peer_never_answers_times_out() {
        let (ours, mut raw) = tokio::io::duplex(1 << 16);
        let config = Config {
            close_timeout: Duration::from_millis(500),
            ..Config::default()
        };
        let mut ws = WebSocket::from_upgraded(ours, Role::Server, config, BytesMut::new());
        ws.close(1000, "bye").await.unwrap();
        let trickle = tokio::spawn(async move {
            let mut client = Writer::new(Role::Client);
            // Two seconds of data, every 100 ms.
            for i in 0..20 {
                client
                    .send(&Message::Text(format!("still here {i}")))
                    .unwrap();
                if raw.write_all(&client.take_output()).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            raw
        });
        let started = std::time::Instant::now();
        let result = ws.recv().await;
        let waited = started.elapsed();
        assert!(
            matches!(result, Some(Err(WsError::CloseTimeout))),
            "{result:?}"
        );
        assert!(
            waited >= Duration::from_millis(500) && waited < Duration::from_millis(1500),
            "the data the peer kept sending must not move the deadline: {waited:?}"
        );
        assert!(ws.recv().await.is_none(), "the connection is over");
        // Our side of the stream was shut down: the peer reads our close
        // frame, then end-of-file.
        let mut raw = trickle.await.unwrap();
        let mut seen = Vec::new();
        raw.read_to_end(&mut seen).await.unwrap();
        let mut reader = Reader::new(Role::Client, Limits::default());
        let mut seen = BytesMut::from(&seen[..]);
        assert_eq!(
            reader.receive(&mut seen).unwrap(),
            Some(Message::Close(Some(CloseFrame {
                code: 1000,
                reason: "bye".into()
            })))
        );
    }

    /// A connection that carried a large message gives its big buffer back
    /// once the traffic is small again, and starts small.
    #[tokio::test]
    async fn the_read_buffer_follows_the_traffic() {
        let (ours, mut raw) = tokio::io::duplex(1 << 20);
        let config = Config {
            read_chunk: 64 * 1024,
            ..Config::default()
        };
        let ws = WebSocket::from_upgraded(ours, Role::Server, config, BytesMut::new());
        let (mut reader, _writer) = ws.split();
        let mut client = Writer::new(Role::Client);
        let frame = |client: &mut Writer, msg: Message| {
            client.send(&msg).unwrap();
            client.take_output()
        };

        let small = frame(&mut client, Message::Text("hi".into()));
        raw.write_all(&small).await.unwrap();
        assert_eq!(
            reader.recv().await.unwrap().unwrap(),
            Message::Text("hi".into())
        );
        assert!(
            reader.buf.capacity() <= MIN_READ,
            "{}",
            reader.buf.capacity()
        );

        let big = vec![7u8; 1 << 20];
        let big_frame = frame(&mut client, Message::Binary(Bytes::from(big.clone())));
        let writing = tokio::spawn(async move {
            raw.write_all(&big_frame).await.unwrap();
            raw
        });
        assert_eq!(
            reader.recv().await.unwrap().unwrap(),
            Message::Binary(Bytes::from(big))
        );
        let mut raw = writing.await.unwrap();
        assert_eq!(reader.read_size.next, 64 * 1024, "full reads grew it");

        // Five halvings, four short reads each.
        for i in 0..5 * SHRINK_AFTER {
            let text = format!("small {i}");
            raw.write_all(&frame(&mut client, Message::Text(text.clone())))
                .await
                .unwrap();
            assert_eq!(reader.recv().await.unwrap().unwrap(), Message::Text(text));
        }
        assert_eq!(reader.read_size.next, MIN_READ, "small reads shrank it");
        assert!(
            reader.buf.capacity() <= 2 * MIN_READ,
            "the large buffer was let go: {}",
            reader.buf.capacity()
        );
    }

    /// A stream that counts the writes that took bytes.
    struct CountWrites {
        inner: tokio::io::DuplexStream,
        writes: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl AsyncRead for CountWrites {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_read(cx, buf)
        }
    }

    impl AsyncWrite for CountWrites {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let out = Pin::new(&mut self.inner).poll_write(cx, buf);
            if let Poll::Ready(Ok(n)) = out {
                if n > 0 {
                    self.writes
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
            out
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_flush(cx)
        }

        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_shutdown(cx)
        }
    }

    /// Fed answers to messages that came in one read leave in one write,
    /// made when `recv` runs out of input; past `FEED_LIMIT` a feed writes.
    #[tokio::test]
    async fn fed_messages_leave_together_when_recv_would_wait() {
        let (ours, mut raw) = tokio::io::duplex(1 << 20);
        let writes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stream = CountWrites {
            inner: ours,
            writes: Arc::clone(&writes),
        };
        let mut ws =
            WebSocket::from_upgraded(stream, Role::Server, Config::default(), BytesMut::new());
        let mut client = Writer::new(Role::Client);
        for i in 0..3 {
            client.send(&Message::Text(format!("m{i}"))).unwrap();
        }
        raw.write_all(&client.take_output()).await.unwrap();
        for i in 0..3 {
            let msg = ws.recv().await.unwrap().unwrap();
            assert_eq!(msg, Message::Text(format!("m{i}")));
            ws.feed(msg).await.unwrap();
        }
        assert_eq!(
            writes.load(std::sync::atomic::Ordering::Relaxed),
            0,
            "fed, not written"
        );
        // The input is used up: `recv` writes the three before it waits.
        let waited = tokio::time::timeout(Duration::from_millis(50), ws.recv()).await;
        assert!(waited.is_err(), "nothing more was sent: {waited:?}");
        assert_eq!(
            writes.load(std::sync::atomic::Ordering::Relaxed),
            1,
            "one write"
        );
        let mut reader = Reader::new(Role::Client, Limits::default());
        let mut wire = BytesMut::new();
        let mut echoes = Vec::new();
        while echoes.len() < 3 {
            raw.read_buf(&mut wire).await.unwrap();
            while let Some(msg) = reader.receive(&mut wire).unwrap() {
                echoes.push(msg);
            }
        }
        let expected: Vec<_> = (0..3).map(|i| Message::Text(format!("m{i}"))).collect();
        assert_eq!(echoes, expected);

        // Feeding past the limit writes at once, the earlier ones first.
        let count = || writes.load(std::sync::atomic::Ordering::Relaxed);
        let small = Message::Binary(Bytes::from(vec![1u8; 1000]));
        let mut fed = 0;
        while count() == 1 {
            ws.feed(small.clone()).await.unwrap();
            fed += 1;
            assert!(fed <= FEED_LIMIT / 1000 + 1, "a write by the limit");
        }
        assert_eq!(
            fed,
            FEED_LIMIT / 1004 + 1,
            "the feed that passed the limit wrote"
        );
        // A large payload is written at once, uncopied.
        let large = Message::Binary(Bytes::from(vec![2u8; 2 * ZERO_COPY_FROM]));
        ws.feed(large.clone()).await.unwrap();
        assert!(count() > 2, "the large one went out at once");
        let mut got = Vec::new();
        while got.len() < fed + 1 {
            raw.read_buf(&mut wire).await.unwrap();
            while let Some(msg) = reader.receive(&mut wire).unwrap() {
                got.push(msg);
            }
        }
        let mut expected = vec![small; fed];
        expected.push(large);
        assert_eq!(got, expected);
    }

    /// A connection waiting for its first message holds no read buffer;
    /// one that carried traffic gets one, and gives it back after a quiet
    /// keepalive period.
    #[tokio::test]
    async fn a_waiting_connection_holds_no_read_buffer() {
        let (ours, mut raw) = tokio::io::duplex(1 << 16);
        let config = Config::default().with_ping_after(Some(Duration::from_millis(100)));
        let ws = WebSocket::from_upgraded(ours, Role::Server, config, BytesMut::new());
        let (mut reader, _writer) = ws.split();
        let waited = tokio::time::timeout(Duration::from_millis(10), reader.recv()).await;
        assert!(waited.is_err(), "nothing was sent: {waited:?}");
        assert_eq!(reader.buf.capacity(), 0, "waiting costs no buffer");

        let mut client = Writer::new(Role::Client);
        client.send(&Message::Text("hi".into())).unwrap();
        raw.write_all(&client.take_output()).await.unwrap();
        assert_eq!(
            reader.recv().await.unwrap().unwrap(),
            Message::Text("hi".into())
        );
        assert!(reader.buf.capacity() > 0, "the message brought a buffer");

        // Quiet past the keepalive period: the ping goes out, the buffer
        // goes back.
        let waited = tokio::time::timeout(Duration::from_secs(1), reader.recv()).await;
        assert!(waited.is_err(), "no message came: {waited:?}");
        assert_eq!(reader.buf.capacity(), 0);
        let mut ping = [0u8; 2];
        raw.read_exact(&mut ping).await.unwrap();
        assert_eq!(ping[0], 0x89, "the keepalive ping was sent");

        // The next message is read as before.
        client
            .send(&Message::Binary(Bytes::from_static(b"again")))
            .unwrap();
        raw.write_all(&client.take_output()).await.unwrap();
        assert_eq!(
            reader.recv().await.unwrap().unwrap(),
            Message::Binary(Bytes::from_static(b"again"))
        );
    }

    /// Both halves, and the futures of their methods, can move to spawned
    /// tasks (a chat server needs exactly that).
    #[tokio::test]
    async fn halves_and_futures_are_send() {
        let (ours, _peer) = tokio::io::duplex(64);
        let ws = WebSocket::from_upgraded(ours, Role::Server, Config::default(), BytesMut::new());
        assert_send(&ws);
        let (mut reader, writer) = ws.split();
        assert_send(&reader.recv());
        assert_send(&writer.send(Message::Text(String::new())));
        assert_send(&writer);
    }

    #[tokio::test]
    async fn ping_while_writer_busy_does_not_block_reader() {
        let (ours, mut raw) = tokio::io::duplex(4096);
        let ws = WebSocket::from_upgraded(ours, Role::Server, Config::default(), BytesMut::new());
        let (mut reader, writer) = ws.split();
        // Simulate a writer stuck mid-send.
        let busy = writer.shared.write.lock().await;
        let mut ping = BytesMut::new();
        let header = FrameHeader {
            fin: true,
            rsv1: false,
            rsv2: false,
            rsv3: false,
            opcode: Opcode::Ping,
            mask: Some([1, 2, 3, 4]),
            payload_len: 0,
        };
        write_frame(&mut ping, &header, b"hb");
        raw.write_all(&ping).await.unwrap();
        let msg = tokio::time::timeout(Duration::from_secs(5), reader.recv())
            .await
            .expect("the reader must not wait for the writer");
        assert_eq!(
            msg.unwrap().unwrap(),
            Message::Ping(Bytes::from_static(b"hb"))
        );
        drop(busy);
        // The writer's next send also delivers the pong left for it, which
        // the core queued first.
        writer.send(Message::Text("x".into())).await.unwrap();
        let mut buf = BytesMut::new();
        let mut client = Reader::new(Role::Client, Limits::default());
        let mut got = Vec::new();
        while got.len() < 2 {
            raw.read_buf(&mut buf).await.unwrap();
            while let Some(m) = client.receive(&mut buf).unwrap() {
                got.push(m);
            }
        }
        assert_eq!(
            got,
            vec![
                Message::Pong(Bytes::from_static(b"hb")),
                Message::Text("x".into())
            ]
        );
    }
}
