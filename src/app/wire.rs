//! The wire view: the bytes the demo's connections really exchanged,
//! mirrored to the page over `GET /wire` so that what it shows is not a
//! simulation.
//!
//! The app wraps the connection of each tapped route (`/ticker`, `/chat`,
//! `/echo`, ...) in a [`Tapped`] stream once the HTTP layer hands it over.
//! `Tapped` passes every read and write straight through and copies what
//! went by into a bounded `tokio::sync::broadcast` channel. Sending on a
//! broadcast channel never waits: when a wire viewer falls behind, the
//! channel overwrites the oldest records and that viewer is told how many
//! it lost. A slow page can therefore never slow a connection down, and
//! the channel never holds more than [`CHANNEL_CAPACITY`] records of at
//! most [`MAX_RECORD_BYTES`] bytes (plus frame previews) each.
//!
//! For WebSocket connections, each direction also runs a small frame
//! tracker that feeds the bytes to the crate's own
//! [`FrameHeader::decode`] and skips the payloads, so the page sees each
//! frame's FIN, opcode, mask and length as the library reads them, plus the
//! first [`PAYLOAD_PREVIEW`] bytes of the payload, unmasked.
//!
//! The tap does not see the HTTP request head or the response head: the
//! HTTP layer reads and writes those before the hand-over. The tap reports
//! the request as parsed, and the response head encoded again by the same
//! [`ResponseHead::encode`](crate::http::ResponseHead::encode) call with the
//! same arguments the connection loop uses, so its bytes are the ones sent.

use std::fmt::Write as _;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::broadcast;

use crate::http::{BodyFraming, ResponseHead, StatusCode};
use crate::server::{Body, Request, Response, Upgraded};
use crate::sse::{encode_comment, Event};
use crate::ws::{apply_mask, FrameError, FrameHeader, Opcode};

/// How many records the channel keeps for viewers that are behind.
pub const CHANNEL_CAPACITY: usize = 512;
/// Bytes of one read or write copied into a record; the record's `len`
/// still says how many crossed the wire.
pub const MAX_RECORD_BYTES: usize = 4096;
/// Payload bytes of one WebSocket frame shown (unmasked).
pub const PAYLOAD_PREVIEW: usize = 256;
/// Frames listed in one record; a read full of tiny frames lists the
/// first ones and counts the rest.
pub const MAX_FRAMES_PER_RECORD: usize = 32;

/// Which protocol a tapped connection speaks, so the viewer knows how to
/// show its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// An event stream: the bytes are `text/event-stream` lines.
    Sse,
    /// A WebSocket: the bytes are frames, decoded in each record.
    WebSocket,
}

impl Protocol {
    fn as_str(self) -> &'static str {
        match self {
            Protocol::Sse => "sse",
            Protocol::WebSocket => "ws",
        }
    }
}

/// Seen from the server: `In` was read from the browser, `Out` written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Read from the client.
    In,
    /// Written to the client.
    Out,
}

impl Direction {
    fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

/// What a record reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// The request that opened the connection, as the server parsed it.
    Request {
        /// `GET /ticker HTTP/1.1` and then one `name: value` per field.
        lines: Vec<String>,
    },
    /// The response head, as encoded for the wire.
    Head,
    /// Bytes read or written on the taken-over connection.
    Data,
    /// The client closed its side (a read returned end-of-file).
    Eof,
    /// The server dropped the connection.
    Closed,
}

/// One frame header seen on a WebSocket connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameView {
    /// The header as [`FrameHeader::decode`] returned it.
    pub header: FrameHeader,
    /// The header's own bytes (2 to 14).
    pub raw_header: Bytes,
    /// The first bytes of the payload, unmasked.
    pub preview: Bytes,
}

/// One thing the tap saw.
#[derive(Debug, Clone)]
pub struct Record {
    /// The connection's number, unique while the server runs.
    pub conn: u64,
    /// The protocol on this connection.
    pub protocol: Protocol,
    /// The path that was requested.
    pub path: Arc<str>,
    /// Which way the bytes went.
    pub direction: Direction,
    /// What this record reports.
    pub kind: Kind,
    /// How many bytes crossed the wire in this read or write.
    pub len: usize,
    /// The first [`MAX_RECORD_BYTES`] of them.
    pub bytes: Bytes,
    /// WebSocket frames whose payload ended in these bytes.
    pub frames: Vec<FrameView>,
    /// Frames that ended here but were not listed (over
    /// [`MAX_FRAMES_PER_RECORD`]).
    pub frames_omitted: usize,
    /// Set once when the bytes stop being valid frames: the tracker stops.
    pub frame_error: Option<FrameError>,
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
}

impl Record {
    /// The record as one line of JSON, the `data` of a `wire` event.
    /// Bytes are base64 so that binary survives the UTF-8-only stream.
    pub fn to_json(&self) -> String {
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut out = String::with_capacity(128 + self.bytes.len() * 4 / 3);
        let kind = match &self.kind {
            Kind::Request { .. } => "request",
            Kind::Head => "head",
            Kind::Data => "data",
            Kind::Eof => "eof",
            Kind::Closed => "closed",
        };
        let _ = write!(
            out,
            "{{\"conn\":{},\"proto\":\"{}\",\"path\":{},\"dir\":\"{}\",\"kind\":\"{}\",\"at\":{},\"len\":{},\"b64\":\"{}\",\"cut\":{}",
            self.conn,
            self.protocol.as_str(),
            json_string(&self.path),
            self.direction.as_str(),
            kind,
            self.at_ms,
            self.len,
            b64.encode(&self.bytes),
            self.bytes.len() < self.len,
        );
        if let Kind::Request { lines } = &self.kind {
            out.push_str(",\"lines\":[");
            for (i, line) in lines.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&json_string(line));
            }
            out.push(']');
        }
        if self.protocol == Protocol::WebSocket && self.kind == Kind::Data {
            out.push_str(",\"frames\":[");
            for (i, frame) in self.frames.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let h = &frame.header;
                let mask = h
                    .mask
                    .map_or_else(|| "null".to_string(), |k| format!("\"{}\"", hex(&k)));
                let _ = write!(
                    out,
                    "{{\"fin\":{},\"rsv1\":{},\"rsv2\":{},\"rsv3\":{},\"opcode\":\"{}\",\"op\":{},\"mask\":{},\"len\":{},\"head\":\"{}\",\"payload\":\"{}\",\"cut\":{}}}",
                    h.fin,
                    h.rsv1,
                    h.rsv2,
                    h.rsv3,
                    opcode_name(h.opcode),
                    h.opcode.as_u8(),
                    mask,
                    h.payload_len,
                    hex(&frame.raw_header),
                    b64.encode(&frame.preview),
                    (frame.preview.len() as u64) < h.payload_len,
                );
            }
            let _ = write!(out, "],\"framesOmitted\":{}", self.frames_omitted);
            if let Some(err) = &self.frame_error {
                let _ = write!(out, ",\"frameError\":{}", json_string(&err.to_string()));
            }
        }
        out.push('}');
        out
    }
}

fn opcode_name(op: Opcode) -> &'static str {
    match op {
        Opcode::Continuation => "continuation",
        Opcode::Text => "text",
        Opcode::Binary => "binary",
        Opcode::Close => "close",
        Opcode::Ping => "ping",
        Opcode::Pong => "pong",
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A JSON string literal for `s`: quotes, backslashes and control
/// characters escaped, everything else as is.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

// ANCHOR: tracker
/// Follows the frames in one direction of a WebSocket byte stream without
/// holding more than one header and one preview: header bytes are
/// collected until [`FrameHeader::decode`] has a whole header, then the
/// payload is counted off (its first bytes kept and unmasked for display).
#[derive(Debug, Default)]
pub struct FrameTracker {
    header: [u8; crate::ws::frame::MAX_HEADER_LEN],
    have: usize,
    /// The frame whose payload is being counted, its header's bytes, and
    /// the payload bytes still to come.
    current: Option<(FrameHeader, Bytes, u64)>,
    preview: Vec<u8>,
    broken: bool,
}

impl FrameTracker {
    /// A tracker at the start of a stream.
    pub fn new() -> Self {
        FrameTracker::default()
    }

    /// Feeds the next bytes of the stream. Frames whose payload ends in
    /// `data` go to `done`; the first bytes that are not a valid header
    /// return their error, after which the tracker ignores everything.
    pub fn feed(&mut self, mut data: &[u8], done: &mut Vec<FrameView>) -> Option<FrameError> {
        while !data.is_empty() && !self.broken {
            match self.current.take() {
                None => {
                    let take = (self.header.len() - self.have).min(data.len());
                    let before = self.have;
                    self.header[before..before + take].copy_from_slice(&data[..take]);
                    self.have += take;
                    match FrameHeader::decode(&self.header[..self.have]) {
                        Ok(Some((header, len))) => {
                            // Bytes copied past the header belong to the
                            // payload. (`len > before` always: the header was
                            // incomplete at `before` bytes.)
                            data = data.get(len.saturating_sub(before)..).unwrap_or(&[]);
                            let raw = Bytes::copy_from_slice(&self.header[..len]);
                            self.have = 0;
                            self.preview.clear();
                            self.current = Some((header, raw, header.payload_len));
                            self.finish_if_done(done);
                        }
                        Ok(None) => data = &data[take..],
                        Err(err) => {
                            self.broken = true;
                            return Some(err);
                        }
                    }
                }
                Some((header, raw, remaining)) => {
                    let n = remaining.min(data.len() as u64) as usize;
                    let keep = PAYLOAD_PREVIEW.saturating_sub(self.preview.len()).min(n);
                    if keep > 0 {
                        let start = self.preview.len();
                        self.preview.extend_from_slice(&data[..keep]);
                        if let Some(key) = header.mask {
                            apply_mask(&mut self.preview[start..], key, start);
                        }
                    }
                    data = &data[n..];
                    self.current = Some((header, raw, remaining - n as u64));
                    self.finish_if_done(done);
                }
            }
        }
        None
    }

    fn finish_if_done(&mut self, done: &mut Vec<FrameView>) {
        if let Some((_, _, 0)) = self.current {
            if let Some((header, raw_header, _)) = self.current.take() {
                done.push(FrameView {
                    header,
                    raw_header,
                    preview: Bytes::copy_from_slice(&self.preview),
                });
            }
        }
    }
}
// ANCHOR_END: tracker

/// The wire: where taps send records and viewers read them. Cloning gives
/// another handle to the same wire.
#[derive(Debug, Clone)]
pub struct Wire {
    tx: broadcast::Sender<Arc<Record>>,
    next_conn: Arc<AtomicU64>,
}

impl Default for Wire {
    fn default() -> Self {
        Wire::new()
    }
}

impl Wire {
    /// A wire with no viewers yet.
    pub fn new() -> Self {
        Wire {
            tx: broadcast::channel(CHANNEL_CAPACITY).0,
            next_conn: Arc::new(AtomicU64::new(1)),
        }
    }

    /// Receives every record sent from now on (tests use it directly).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Record>> {
        self.tx.subscribe()
    }

    fn send(&self, record: Record) {
        // An error only means nobody is watching.
        let _ = self.tx.send(Arc::new(record));
    }

    // ANCHOR: tap_response
    /// Wraps a handler's response so that, if it takes the connection over
    /// (a 101 for a WebSocket, a 200 event stream), the connection is
    /// tapped. A plain response (a refused handshake, say) passes as is.
    pub fn tap(&self, request: &Request, protocol: Protocol, response: Response) -> Response {
        let Response { head, body } = response;
        let run = match body {
            Body::Takeover(run) => run,
            full @ Body::Full(_) => return Response { head, body: full },
        };
        let wire = self.clone();
        let path: Arc<str> = Arc::from(request.path());
        let request_lines = request_lines(request);
        let sent_head = head.clone();
        let tapped = move |mut upgraded: Upgraded| {
            let mut tap = Tap::new(wire, path, protocol);
            tap.emit(
                Direction::In,
                Kind::Request {
                    lines: request_lines,
                },
                &[],
            );
            tap.emit(Direction::Out, Kind::Head, &encode_head(&sent_head));
            // Bytes that arrived with the request head were read by the
            // HTTP layer, before this wrapper existed; they come first.
            if !upgraded.read_buf.is_empty() {
                let early = upgraded.read_buf.clone();
                tap.data(Direction::In, &early);
            }
            upgraded.io = Box::new(Tapped::new(upgraded.io, tap));
            run(upgraded)
        };
        Response {
            head,
            body: Body::Takeover(Box::new(tapped)),
        }
    }
    // ANCHOR_END: tap_response

    // ANCHOR: wire_stream
    /// `GET /wire`: an event stream with one `wire` event per record, its
    /// data the record's JSON. A viewer that falls behind gets a `lagged`
    /// event with the number of records it lost, and carries on. The
    /// stream has no ids: the records are a live view, not a history.
    pub fn stream_response(&self) -> Response {
        let records = self.subscribe();
        Response::takeover(200, move |upgraded| serve_wire(upgraded, records))
            .header("Content-Type", "text/event-stream")
            .header("Cache-Control", "no-cache")
    }
    // ANCHOR_END: wire_stream
}

/// The request line and fields, as parsed.
fn request_lines(request: &Request) -> Vec<String> {
    let target = match request.query() {
        Some(q) => format!("{}?{q}", request.path()),
        None => request.path().to_string(),
    };
    let mut lines = vec![format!(
        "{} {target} {}",
        request.method(),
        request.version().as_str()
    )];
    for (name, value) in request.headers().iter() {
        lines.push(format!("{name}: {}", String::from_utf8_lossy(value)));
    }
    lines
}

/// The head exactly as the connection loop writes it for a takeover: no
/// length, `keep_alive` false, and framing by status.
fn encode_head(head: &ResponseHead) -> Bytes {
    let framing = if head.status == StatusCode::SWITCHING_PROTOCOLS {
        BodyFraming::Empty
    } else {
        BodyFraming::UntilClose
    };
    let mut out = BytesMut::new();
    let _ = head.encode(framing, false, &mut out);
    out.freeze()
}

/// The per-connection half of the tap: who it is and the frame trackers.
#[derive(Debug)]
struct Tap {
    wire: Wire,
    conn: u64,
    path: Arc<str>,
    protocol: Protocol,
    /// One per direction, for WebSocket connections only.
    trackers: Option<(FrameTracker, FrameTracker)>,
    eof_reported: bool,
}

impl Tap {
    fn new(wire: Wire, path: Arc<str>, protocol: Protocol) -> Self {
        let conn = wire.next_conn.fetch_add(1, Ordering::Relaxed);
        let trackers =
            (protocol == Protocol::WebSocket).then(|| (FrameTracker::new(), FrameTracker::new()));
        Tap {
            wire,
            conn,
            path,
            protocol,
            trackers,
            eof_reported: false,
        }
    }

    fn record(&self, direction: Direction, kind: Kind, bytes: &[u8]) -> Record {
        Record {
            conn: self.conn,
            protocol: self.protocol,
            path: self.path.clone(),
            direction,
            kind,
            len: bytes.len(),
            bytes: Bytes::copy_from_slice(&bytes[..bytes.len().min(MAX_RECORD_BYTES)]),
            frames: Vec::new(),
            frames_omitted: 0,
            frame_error: None,
            at_ms: now_ms(),
        }
    }

    fn emit(&self, direction: Direction, kind: Kind, bytes: &[u8]) {
        if self.wire.tx.receiver_count() > 0 {
            self.wire.send(self.record(direction, kind, bytes));
        }
    }

    /// Reports bytes that crossed the wire. The trackers run even with
    /// nobody watching, so that a viewer who arrives mid-connection still
    /// sees frames decoded from their true start.
    fn data(&mut self, direction: Direction, bytes: &[u8]) {
        let mut frames = Vec::new();
        let mut frame_error = None;
        if let Some((inbound, outbound)) = &mut self.trackers {
            let tracker = match direction {
                Direction::In => inbound,
                Direction::Out => outbound,
            };
            frame_error = tracker.feed(bytes, &mut frames);
        }
        if self.wire.tx.receiver_count() == 0 {
            return;
        }
        let mut record = self.record(direction, Kind::Data, bytes);
        record.frames_omitted = frames.len().saturating_sub(MAX_FRAMES_PER_RECORD);
        frames.truncate(MAX_FRAMES_PER_RECORD);
        record.frames = frames;
        record.frame_error = frame_error;
        self.wire.send(record);
    }
}

// ANCHOR: tapped
/// A stream that passes everything through to `inner` and reports what
/// went by to its wire. It adds no buffering and never waits on the wire.
#[derive(Debug)]
pub struct Tapped<IO> {
    inner: IO,
    tap: Tap,
}

impl<IO> Tapped<IO> {
    fn new(inner: IO, tap: Tap) -> Self {
        Tapped { inner, tap }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Tapped<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            let new = &buf.filled()[before..];
            if !new.is_empty() {
                this.tap.data(Direction::In, new);
            } else if buf.remaining() > 0 && !this.tap.eof_reported {
                this.tap.eof_reported = true;
                this.tap.emit(Direction::In, Kind::Eof, &[]);
            }
        }
        result
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Tapped<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = result {
            // Only what the stream accepted crossed (or will cross) the wire.
            this.tap.data(Direction::Out, &buf[..n.min(buf.len())]);
        }
        result
    }

    /// Passed through, so a vectored write (frame header and payload)
    /// stays one write; the tap sees the bytes the stream took, in order.
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = result {
            let mut left = n;
            for buf in bufs {
                if left == 0 {
                    break;
                }
                let taken = left.min(buf.len());
                if taken > 0 {
                    this.tap.data(Direction::Out, &buf[..taken]);
                }
                left -= taken;
            }
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<IO> Drop for Tapped<IO> {
    fn drop(&mut self) {
        self.tap.emit(Direction::Out, Kind::Closed, &[]);
    }
}
// ANCHOR_END: tapped

/// Writes wire records as events until the viewer leaves or the server
/// stops.
async fn serve_wire(upgraded: Upgraded, mut records: broadcast::Receiver<Arc<Record>>) {
    let Upgraded { io, shutdown, .. } = upgraded;
    let (mut reader, mut writer) = tokio::io::split(io);
    let mut scratch = [0u8; 256];
    let gone = async {
        // A viewer sends nothing after its request: end-of-file or an
        // error means it left.
        while let Ok(n) = reader.read(&mut scratch).await {
            if n == 0 {
                break;
            }
        }
    };
    let send = async {
        loop {
            let event = tokio::select! {
                next = records.recv() => match next {
                    Ok(record) => Event::new(record.to_json()).event("wire").to_bytes(),
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        Event::new(n.to_string()).event("lagged").to_bytes()
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                () = tokio::time::sleep(Duration::from_secs(15)) => {
                    let mut ping = BytesMut::new();
                    let _ = encode_comment("", &mut ping);
                    Ok(ping.freeze())
                }
            };
            let Ok(bytes) = event else { continue };
            let write = async {
                writer.write_all(&bytes).await?;
                writer.flush().await
            };
            match tokio::time::timeout(Duration::from_secs(10), write).await {
                Ok(Ok(())) => {}
                _ => return,
            }
        }
    };
    tokio::select! {
        () = gone => {}
        () = send => {}
        () = shutdown.wait() => {}
    }
}

/// A switch that ends every connection it was installed on, the way a
/// server shutdown would: for an event stream, at an event boundary.
/// `POST /ticker/drop` pulls it, so the page can watch `EventSource`
/// reconnect by itself.
#[derive(Debug, Clone)]
pub struct Cutter {
    generation: Arc<tokio::sync::watch::Sender<u64>>,
}

impl Default for Cutter {
    fn default() -> Self {
        Cutter::new()
    }
}

impl Cutter {
    /// A switch with no connections yet.
    pub fn new() -> Self {
        Cutter {
            generation: Arc::new(tokio::sync::watch::channel(0).0),
        }
    }

    /// Ends every connection currently running under [`Cutter::install`].
    pub fn cut(&self) {
        self.generation.send_modify(|g| *g = g.wrapping_add(1));
    }

    // ANCHOR: cutter
    /// Wraps a taken-over response so that its connection also ends on
    /// [`Cutter::cut`]. It swaps the connection's shutdown switch for one
    /// of its own, pulled by the server's shutdown *or* by a cut; the
    /// stream code does not know the difference, and stops cleanly.
    pub fn install(&self, response: Response) -> Response {
        let Response { head, body } = response;
        let run = match body {
            Body::Takeover(run) => run,
            full @ Body::Full(_) => return Response { head, body: full },
        };
        let mut cuts = self.generation.subscribe();
        let takeover = move |mut upgraded: Upgraded| -> crate::server::BoxFuture<()> {
            let server = std::mem::take(&mut upgraded.shutdown);
            let ours = upgraded.shutdown.clone();
            Box::pin(async move {
                let stream = run(upgraded);
                tokio::pin!(stream);
                tokio::select! {
                    () = &mut stream => return,
                    () = server.wait() => {}
                    _ = cuts.changed() => {}
                }
                ours.trigger();
                stream.await;
            })
        };
        Response {
            head,
            body: Body::Takeover(Box::new(takeover)),
        }
    }
    // ANCHOR_END: cutter
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::Shutdown;
    use crate::ws::frame::write_frame;

    fn header(opcode: Opcode, mask: Option<[u8; 4]>) -> FrameHeader {
        FrameHeader::whole(opcode, mask, 0)
    }

    #[test]
    fn tracker_decodes_frames_split_anywhere() {
        let mut stream = BytesMut::new();
        write_frame(
            &mut stream,
            &header(Opcode::Text, Some([1, 2, 3, 4])),
            b"Hello",
        );
        write_frame(&mut stream, &header(Opcode::Binary, None), &[7u8; 300]);
        write_frame(&mut stream, &header(Opcode::Ping, None), b"");
        for split in 1..stream.len() {
            let mut tracker = FrameTracker::new();
            let mut frames = Vec::new();
            assert_eq!(tracker.feed(&stream[..split], &mut frames), None);
            assert_eq!(tracker.feed(&stream[split..], &mut frames), None);
            assert_eq!(frames.len(), 3, "split at {split}");
            assert_eq!(frames[0].header.opcode, Opcode::Text);
            assert_eq!(&frames[0].preview[..], b"Hello", "unmasked");
            assert_eq!(&frames[0].raw_header[..], &stream[..6]);
            assert_eq!(frames[1].header.payload_len, 300);
            assert_eq!(frames[1].preview.len(), PAYLOAD_PREVIEW);
            assert_eq!(frames[2].header.opcode, Opcode::Ping);
        }
    }

    #[test]
    fn tracker_stops_at_a_bad_header() {
        let mut tracker = FrameTracker::new();
        let mut frames = Vec::new();
        assert_eq!(
            tracker.feed(&[0x83, 0x00], &mut frames),
            Some(FrameError::ReservedOpcode(3))
        );
        assert_eq!(tracker.feed(&[0x81, 0x00], &mut frames), None);
        assert!(frames.is_empty());
    }

    #[tokio::test]
    async fn cutter_ends_a_stream_through_its_shutdown_switch() {
        let cutter = Cutter::new();
        // A "stream" that runs until its shutdown switch fires.
        let response = cutter.install(Response::takeover(200, |up: Upgraded| async move {
            up.shutdown.wait().await;
        }));
        let Body::Takeover(run) = response.body else {
            panic!("still a takeover");
        };
        let (_client, server) = tokio::io::duplex(64);
        let server_shutdown = Shutdown::new();
        let task = tokio::spawn(run(Upgraded {
            io: Box::new(server),
            read_buf: BytesMut::new(),
            shutdown: server_shutdown.clone(),
        }));
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!task.is_finished(), "runs until cut");
        cutter.cut();
        tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .expect("a cut ends the stream")
            .unwrap();
        assert!(!server_shutdown.is_triggered(), "the server itself goes on");
    }

    #[test]
    fn json_escapes() {
        assert_eq!(json_string("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\u0001\"");
    }

    #[tokio::test]
    async fn tapped_reports_both_directions_and_passes_bytes_through() {
        let wire = Wire::new();
        let mut records = wire.subscribe();
        let (client, server) = tokio::io::duplex(64);
        let tap = Tap::new(wire.clone(), Arc::from("/echo"), Protocol::WebSocket);
        let mut tapped = Tapped::new(server, tap);
        let (mut client_read, mut client_write) = tokio::io::split(client);

        let mut frame = BytesMut::new();
        write_frame(&mut frame, &header(Opcode::Text, Some([9, 9, 9, 9])), b"hi");
        client_write.write_all(&frame).await.unwrap();
        let mut buf = [0u8; 64];
        let n = tapped.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], &frame[..]);
        tapped.write_all(b"\x81\x02hi").await.unwrap();
        let mut echoed = [0u8; 4];
        client_read.read_exact(&mut echoed).await.unwrap();
        drop(tapped);

        let inbound = records.recv().await.unwrap();
        assert_eq!(
            (inbound.direction, inbound.len, inbound.frames.len()),
            (Direction::In, 8, 1)
        );
        assert_eq!(&inbound.frames[0].preview[..], b"hi");
        let outbound = records.recv().await.unwrap();
        assert_eq!((outbound.direction, outbound.len), (Direction::Out, 4));
        assert!(outbound.to_json().contains("\"opcode\":\"text\""));
        let closed = records.recv().await.unwrap();
        assert_eq!(closed.kind, Kind::Closed);
    }
}
