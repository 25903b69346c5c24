//! The tokio shell: a [`WebSocket`] over any already-upgraded byte stream.
//!
//! All protocol decisions are made by the sans-IO [`Reader`] and [`Writer`];
//! this file only moves bytes between them and the stream.
//!
//! To let one task read while another writes, the stream is split in two
//! and the write side (stream half + [`Writer`]) sits behind a
//! `tokio::sync::Mutex` shared by both halves. The reading half needs it
//! too, because answering pings and closes is part of reading. We chose a
//! shared mutex over a channel from reader to writer because it keeps
//! backpressure simple: every send waits until its bytes are written, so
//! nothing queues without bound. The lock is held for one message at a time.
//!
//! One refinement: if a ping arrives while the writer is busy (say, pushing
//! a large message to a peer that is slow to read), the reader must not
//! wait for the lock, or both ends could end up blocked writing to each
//! other. It leaves the pong in a one-slot mailbox instead, and whoever
//! holds the lock sends it after releasing. One slot is enough: RFC 6455
//! §5.5.3 allows answering only the most recent ping.

use bytes::{Buf, Bytes, BytesMut};
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::Mutex;

use super::close::GOING_AWAY;
use super::message::{CloseFrame, Message};
use super::protocol::{Limits, ProtocolError, Reader, Role, SendError, Writer};
use crate::server::Shutdown;

/// Settings for a [`WebSocket`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// A peer that never answers (and never hangs up) would otherwise hold
    /// the connection open for ever; after this the stream is shut down and
    /// `recv` returns [`WsError::CloseTimeout`].
    pub close_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            limits: Limits::default(),
            read_chunk: 16 * 1024,
            close_timeout: Duration::from_secs(5),
        }
    }
}

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
}

impl fmt::Display for WsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WsError::Protocol(e) => write!(f, "protocol error: {e}"),
            WsError::Send(e) => write!(f, "cannot send: {e}"),
            WsError::Io(e) => write!(f, "I/O error: {e}"),
            WsError::UnexpectedEof => f.write_str("connection closed without a close frame"),
            WsError::CloseTimeout => f.write_str("the peer did not answer our close frame in time"),
        }
    }
}

impl std::error::Error for WsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WsError::Protocol(e) => Some(e),
            WsError::Send(e) => Some(e),
            WsError::Io(e) => Some(e),
            WsError::UnexpectedEof | WsError::CloseTimeout => None,
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

/// The write side, shared by both halves.
struct WriteSide<S> {
    io: WriteHalf<S>,
    core: Writer,
}

impl<S: AsyncRead + AsyncWrite> WriteSide<S> {
    /// Writes out everything the core has queued. Bytes are only removed
    /// from the queue once written, so a cancelled flush loses nothing.
    async fn flush(&mut self) -> io::Result<()> {
        while !self.core.output().is_empty() {
            let n = self.io.write(self.core.output()).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            self.core.output_mut().advance(n);
        }
        self.io.flush().await
    }

    /// Writes the output, then `payload`, as one vectored write where the
    /// stream takes both at once (a TCP stream does): a large message goes
    /// out without being copied and without a system call of its own.
    async fn flush_then(&mut self, payload: &[u8]) -> io::Result<()> {
        let mut payload_sent = 0;
        while !self.core.output().is_empty() {
            let output = self.core.output();
            let n = self
                .io
                .write_vectored(&[io::IoSlice::new(output), io::IoSlice::new(payload)])
                .await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            let from_output = n.min(output.len());
            self.core.output_mut().advance(from_output);
            payload_sent += n - from_output;
        }
        while payload_sent < payload.len() {
            let n = self.io.write(&payload[payload_sent..]).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            payload_sent += n;
        }
        self.io.flush().await
    }
}

struct Shared<S> {
    write: Mutex<WriteSide<S>>,
    /// Mirrors `Writer::close_sent` so the reader can check it without
    /// taking the lock for every data message.
    close_sent: AtomicBool,
    /// The payload of a ping not yet answered because the lock was busy.
    pending_pong: std::sync::Mutex<Option<Bytes>>,
}

impl<S: AsyncRead + AsyncWrite> Shared<S> {
    fn take_pending_pong(&self) -> Option<Bytes> {
        // A poisoned lock only means another thread panicked; the slot is fine.
        let mut slot = self.pending_pong.lock().unwrap_or_else(|e| e.into_inner());
        slot.take()
    }

    fn leave_pong(&self, payload: Bytes) {
        let mut slot = self.pending_pong.lock().unwrap_or_else(|e| e.into_inner());
        *slot = Some(payload);
    }

    /// Called after releasing the write lock: answers a ping the reader
    /// left while we held it.
    async fn send_pending_pong(&self) -> io::Result<()> {
        while let Some(payload) = self.take_pending_pong() {
            let mut w = self.write.lock().await;
            w.core.respond(&Message::Ping(payload));
            w.flush().await?;
        }
        Ok(())
    }
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
    core: Reader,
    buf: BytesMut,
    read_size: ReadSize,
    close_timeout: Duration,
    /// When the peer's answer to our close is due (set once we see that
    /// our close went out, so data the peer keeps sending cannot move it).
    close_deadline: Option<tokio::time::Instant>,
    shared: Arc<Shared<S>>,
    done: bool,
    /// Server shutdown, if the socket should react to it (see `recv`).
    shutdown: Option<Shutdown>,
    /// Our 1001 close went out because of `shutdown`.
    going_away: bool,
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
        f.debug_struct("WsReader")
            .field("done", &self.done)
            .finish_non_exhaustive()
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
        let shared = Arc::new(Shared {
            write: Mutex::new(WriteSide {
                io: write_io,
                core: Writer::new(role),
            }),
            close_sent: AtomicBool::new(false),
            pending_pong: std::sync::Mutex::new(None),
        });
        WebSocket {
            reader: WsReader {
                io: read_io,
                core: Reader::new(role, config.limits),
                buf: leftover,
                read_size: ReadSize::new(config.read_chunk),
                close_timeout: config.close_timeout,
                close_deadline: None,
                shared: Arc::clone(&shared),
                done: false,
                shutdown: None,
                going_away: false,
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

impl<S: AsyncRead + AsyncWrite + Unpin> WsReader<S> {
    // ANCHOR: recv
    /// Waits for the next message.
    ///
    /// Pings are answered and closes echoed before they are returned.
    /// After a close (ours answered, or the answer to ours) the write side
    /// is shut down and the next call returns `None`. On a protocol error
    /// the close frame with the matching code is sent first, then the error
    /// is returned, then `None`. Memory stays bounded: at most one read
    /// chunk plus the message being reassembled (capped by [`Limits`]);
    /// the read buffer follows the traffic (see [`Config::read_chunk`]).
    ///
    /// Safe to use in `tokio::select!`: a cancelled call loses no input
    /// bytes and no data message (only a close being answered at that very
    /// moment, after which the connection is over anyway).
    ///
    /// With a shutdown switch ([`WebSocket::with_shutdown`]), a `recv` that
    /// is waiting for input when the switch fires sends a 1001 close
    /// itself, then keeps reading for the peer's answer: the caller sees
    /// that close (then `None`), exactly as if it had closed the socket.
    pub async fn recv(&mut self) -> Option<Result<Message, WsError>> {
        loop {
            if self.done {
                return None;
            }
            match self.core.receive(&mut self.buf) {
                Ok(Some(msg)) => {
                    if let Some(result) = self.handle(msg).await {
                        return Some(result);
                    }
                }
                Ok(None) => {
                    // A buffer grown for earlier traffic is let go once it
                    // is drained, so a quiet connection shrinks back.
                    if self.buf.is_empty() && self.buf.capacity() > 2 * self.read_size.next {
                        self.buf = BytesMut::new();
                    }
                    self.buf.reserve(self.read_size.next);
                    let offered = self.buf.capacity() - self.buf.len();
                    let deadline = self.close_deadline();
                    let shutdown = self.shutdown.clone().filter(|_| !self.going_away);
                    let read = match shutdown {
                        Some(shutdown) => tokio::select! {
                            read = read_by(&mut self.io, &mut self.buf, deadline) => read,
                            () = shutdown.wait() => {
                                if let Err(e) = self.go_away().await {
                                    self.done = true;
                                    return Some(Err(e));
                                }
                                continue;
                            }
                        },
                        None => read_by(&mut self.io, &mut self.buf, deadline).await,
                    };
                    match read {
                        Some(Ok(0)) => {
                            self.done = true;
                            return Some(Err(WsError::UnexpectedEof));
                        }
                        Some(Ok(got)) => self.read_size.record(offered, got),
                        Some(Err(e)) => {
                            self.done = true;
                            return Some(Err(WsError::Io(e)));
                        }
                        None => {
                            self.done = true;
                            self.hang_up().await;
                            return Some(Err(WsError::CloseTimeout));
                        }
                    }
                }
                Err(e) => {
                    self.done = true;
                    let mut w = self.shared.write.lock().await;
                    w.core.fail(&e);
                    self.shared.close_sent.store(true, Ordering::Release);
                    // The peer may already be gone; the error is what matters.
                    let _ = w.flush().await;
                    let _ = w.io.shutdown().await;
                    return Some(Err(WsError::Protocol(e)));
                }
            }
        }
    }
    // ANCHOR_END: recv

    /// When the peer's answer to our close frame is due, once one is out.
    fn close_deadline(&mut self) -> Option<tokio::time::Instant> {
        if self.close_deadline.is_none() && self.shared.close_sent.load(Ordering::Acquire) {
            self.close_deadline = Some(tokio::time::Instant::now() + self.close_timeout);
        }
        self.close_deadline
    }

    /// Ends our side of a connection whose peer stopped answering. If a
    /// write is stuck (the peer does not read either), the lock is not
    /// waited for: the stream closes when the socket's owner drops it.
    async fn hang_up(&mut self) {
        if let Ok(mut w) = self.shared.write.try_lock() {
            let _ = w.io.shutdown().await;
        }
    }

    /// Sends our 1001 close because the server is shutting down.
    async fn go_away(&mut self) -> Result<(), WsError> {
        self.going_away = true;
        let mut w = self.shared.write.lock().await;
        if w.core.close_sent() {
            return Ok(());
        }
        w.core.send(&Message::Close(Some(CloseFrame {
            code: GOING_AWAY,
            reason: "server shutting down".to_owned(),
        })))?;
        self.shared.close_sent.store(true, Ordering::Release);
        w.flush().await?;
        Ok(())
    }

    /// Does the automatic work for a received message; `None` means "drop it".
    async fn handle(&mut self, msg: Message) -> Option<Result<Message, WsError>> {
        match msg {
            Message::Close(_) => {
                self.done = true;
                let mut w = self.shared.write.lock().await;
                w.core.respond(&msg);
                self.shared.close_sent.store(true, Ordering::Release);
                // Handshake complete: flush our close and end the stream.
                // A peer that hung up right after its close is not an error.
                if let Err(e) = w.flush().await {
                    tracing::debug!("writing close reply failed: {e}");
                }
                let _ = w.io.shutdown().await;
                Some(Ok(msg))
            }
            // After our close, drop everything until the peer's close.
            _ if self.shared.close_sent.load(Ordering::Acquire) => None,
            Message::Ping(ref payload) => {
                self.shared.leave_pong(payload.clone());
                // If the writer is busy, it will send the pong when done.
                if let Ok(mut w) = self.shared.write.try_lock() {
                    if let Some(p) = self.shared.take_pending_pong() {
                        w.core.respond(&Message::Ping(p));
                    }
                    if let Err(e) = w.flush().await {
                        self.done = true;
                        return Some(Err(WsError::Io(e)));
                    }
                }
                Some(Ok(msg))
            }
            _ => Some(Ok(msg)),
        }
    }
}

/// One read into `buf`, given up at `deadline` (`None` if it passed).
async fn read_by<R: AsyncRead + Unpin>(
    io: &mut R,
    buf: &mut BytesMut,
    deadline: Option<tokio::time::Instant>,
) -> Option<io::Result<usize>> {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, io.read_buf(buf))
            .await
            .ok(),
        None => Some(io.read_buf(buf).await),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsWriter<S> {
    /// Sends a message and waits until it is written to the stream, so a
    /// slow peer slows the sender down instead of filling a buffer.
    ///
    /// Sending a close starts the closing handshake; keep calling `recv`
    /// on the reading side until it returns the peer's close (or `None`).
    pub async fn send(&self, msg: Message) -> Result<(), WsError> {
        let mut w = self.shared.write.lock().await;
        let payload = w.core.send_zero_copy(&msg)?;
        if matches!(msg, Message::Close(_)) {
            self.shared.close_sent.store(true, Ordering::Release);
        }
        match payload {
            Some(payload) => w.flush_then(payload).await?,
            None => w.flush().await?,
        }
        drop(w);
        self.shared.send_pending_pong().await?;
        Ok(())
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
        // The writer's next send also delivers the pong left for it.
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
                Message::Text("x".into()),
                Message::Pong(Bytes::from_static(b"hb"))
            ]
        );
    }
}
