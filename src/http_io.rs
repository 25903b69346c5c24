//! The one loop that reads an HTTP head from a stream, shared by the
//! server and both clients. It belongs to the tokio shell: it only moves
//! bytes into a buffer and asks a sans-IO parser, after each read, whether
//! the head is whole yet. Every rule about what a head may contain stays
//! in that parser.
//!
//! Beside it, the other piece of byte-moving both protocols share: the
//! lingering close ([`linger`]).

use std::fmt;
use std::io;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::{timeout_at, Instant};

use crate::http::Status;

/// Why [`read_head`] stopped without a head.
#[derive(Debug)]
pub(crate) enum HeadReadError<E> {
    /// The peer closed the connection before sending a byte.
    Closed,
    /// The peer closed the connection in the middle of the head.
    Incomplete,
    /// The deadline passed with the head still unfinished.
    Timeout,
    /// The parser refused the head.
    Invalid(E),
    /// Reading failed.
    Io(io::Error),
}

impl<E: fmt::Display> fmt::Display for HeadReadError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeadReadError::Closed => f.write_str("connection closed before the head"),
            HeadReadError::Incomplete => f.write_str("connection closed inside the head"),
            HeadReadError::Timeout => f.write_str("head not complete in time"),
            HeadReadError::Invalid(err) => write!(f, "invalid head: {err}"),
            HeadReadError::Io(err) => write!(f, "I/O error: {err}"),
        }
    }
}

// ANCHOR: read_head
/// Reads from `io` into `buf` until `parse` says the head is complete,
/// and returns what it said then. Bytes already in `buf` (the tail of a
/// previous read) are parsed before anything is read.
///
/// `parse` is called with the whole buffer each time; our parsers
/// remember how far they got, so nothing is scanned twice. A `deadline`
/// bounds the whole head: a peer that sends one byte a minute is cut off
/// at the deadline, not after a minute of silence.
pub(crate) async fn read_head<S, T, E>(
    io: &mut S,
    buf: &mut BytesMut,
    deadline: Option<Instant>,
    mut parse: impl FnMut(&mut BytesMut) -> Result<Status<T>, E>,
) -> Result<T, HeadReadError<E>>
where
    S: AsyncRead + Unpin,
{
    loop {
        if !buf.is_empty() {
            match parse(buf).map_err(HeadReadError::Invalid)? {
                Status::Complete(head) => return Ok(head),
                Status::Partial => {}
            }
        }
        let read = io.read_buf(buf);
        let read = match deadline {
            Some(at) => timeout_at(at, read)
                .await
                .map_err(|_| HeadReadError::Timeout)?,
            None => read.await,
        };
        match read {
            Ok(0) if buf.is_empty() => return Err(HeadReadError::Closed),
            Ok(0) => return Err(HeadReadError::Incomplete),
            Ok(_) => {}
            Err(err) => return Err(HeadReadError::Io(err)),
        }
    }
}
// ANCHOR_END: read_head

// ANCHOR: linger
/// Reads and drops what the peer still sends, until it closes, for at most
/// a second and 64 KiB: the last step before a connection we ended is
/// dropped (an HTTP refusal, a failed WebSocket). Closing a socket with
/// unread input makes the kernel send a reset, and a reset can keep the
/// peer from ever reading our last answer: its next write fails and it
/// gives up on what it had received. Autobahn's case 4.1.5 caught this once.
pub(crate) async fn linger<R: AsyncRead + Unpin>(io: &mut R) {
    const FOR: std::time::Duration = std::time::Duration::from_secs(1);
    const AT_MOST: usize = 64 * 1024;
    let drain = async {
        let mut sink = [0u8; 512];
        let mut drained = 0;
        while drained < AT_MOST {
            match io.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    };
    let _ = tokio::time::timeout(FOR, drain).await;
}
// ANCHOR_END: linger

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{ParseError, ResponseParser};
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;

    async fn read(
        input: &'static [&'static [u8]],
        deadline: Option<Duration>,
    ) -> (Result<usize, HeadReadError<ParseError>>, usize) {
        let (mut ours, mut theirs) = tokio::io::duplex(64);
        let writer = tokio::spawn(async move {
            for piece in input {
                theirs.write_all(piece).await.unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            if deadline.is_some() {
                // Hold the connection open past the deadline.
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        });
        let mut parser = ResponseParser::default();
        let mut buf = BytesMut::new();
        let deadline = deadline.map(|d| Instant::now() + d);
        let result = read_head(&mut ours, &mut buf, deadline, |b| {
            Ok(match parser.parse(b)? {
                Status::Complete(index) => Status::Complete(index.len()),
                Status::Partial => Status::Partial,
            })
        })
        .await;
        writer.abort();
        (result, buf.len())
    }

    #[tokio::test]
    async fn each_way_a_head_read_ends() {
        let (ok, buffered) = read(&[b"HTTP/1.1 200 OK\r\n", b"A: b\r\n\r\nbody"], None).await;
        assert_eq!(ok.unwrap(), 25);
        assert_eq!(buffered, 29, "bytes after the head stay in the buffer");
        assert!(matches!(
            read(&[], None).await.0,
            Err(HeadReadError::Closed)
        ));
        assert!(matches!(
            read(&[b"HTTP/1.1 200"], None).await.0,
            Err(HeadReadError::Incomplete)
        ));
        assert!(matches!(
            read(&[b"HTTP/1.1 2x0 OK\r\n"], None).await.0,
            Err(HeadReadError::Invalid(ParseError::MalformedStatusLine))
        ));
        assert!(matches!(
            read(&[b"HTTP/1.1 200 OK\r\n"], Some(Duration::from_millis(50)))
                .await
                .0,
            Err(HeadReadError::Timeout)
        ));
    }
}
