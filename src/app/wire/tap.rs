//! The tap: a stream wrapper that passes every byte through and reports
//! what went by to the wire, tagged with the page it belongs to.

use std::io;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::record::now_ms;
use super::{
    Direction, FrameTracker, Kind, Protocol, Record, Wire, MAX_FRAMES_PER_RECORD, MAX_RECORD_BYTES,
};

/// The per-connection half of the tap: who it is and the frame trackers.
#[derive(Debug)]
pub(super) struct Tap {
    wire: Wire,
    view: Arc<str>,
    conn: u64,
    path: Arc<str>,
    protocol: Protocol,
    /// One per direction, for WebSocket connections only.
    trackers: Option<(FrameTracker, FrameTracker)>,
    eof_reported: bool,
}

impl Tap {
    pub(super) fn new(wire: Wire, view: Arc<str>, path: Arc<str>, protocol: Protocol) -> Self {
        let conn = wire.next_conn.fetch_add(1, Ordering::Relaxed);
        let trackers =
            (protocol == Protocol::WebSocket).then(|| (FrameTracker::new(), FrameTracker::new()));
        Tap {
            wire,
            view,
            conn,
            path,
            protocol,
            trackers,
            eof_reported: false,
        }
    }

    fn record(&self, direction: Direction, kind: Kind, bytes: &[u8]) -> Record {
        Record {
            view: self.view.clone(),
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

    pub(super) fn emit(&self, direction: Direction, kind: Kind, bytes: &[u8]) {
        if self.wire.tx.receiver_count() > 0 {
            self.wire.send(self.record(direction, kind, bytes));
        }
    }

    /// Reports bytes that crossed the wire. The trackers run even with
    /// nobody watching, so that a viewer who arrives mid-connection still
    /// sees frames decoded from their true start.
    pub(super) fn data(&mut self, direction: Direction, bytes: &[u8]) {
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
    pub(super) fn new(inner: IO, tap: Tap) -> Self {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::frame::write_frame;
    use crate::ws::{FrameHeader, Opcode};
    use bytes::BytesMut;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn header(opcode: Opcode, mask: Option<[u8; 4]>) -> FrameHeader {
        FrameHeader::whole(opcode, mask, 0)
    }

    #[tokio::test]
    async fn tapped_reports_both_directions_and_passes_bytes_through() {
        let wire = Wire::new();
        let mut records = wire.subscribe();
        let (client, server) = tokio::io::duplex(64);
        let tap = Tap::new(
            wire.clone(),
            Arc::from("page-one"),
            Arc::from("/echo"),
            Protocol::WebSocket,
        );
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
