//! Small fixed streams for the browser tests and the book.
//!
//! * Binary over both protocols: the same 4 KiB, every byte value sixteen
//!   times, sent by the server as one Server-Sent Event (base64, since an
//!   event stream is UTF-8 text) and as one WebSocket binary message. The
//!   page checks both arrive intact, and the wire view shows what each
//!   cost.
//! * [`PARSING_RULES`]: an event stream written by hand to exercise the
//!   parsing rules (BOM, all three line ends, comments, the optional
//!   space, ids that reset), so a test can check that the page's fetch
//!   reader and the browser's `EventSource` read it the same way.

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::server::{Request, Response, Upgraded};
use crate::sse::Event;
use crate::ws::{self, close, Config, HandshakeConfig, Message};

/// The payload's length.
pub const BLOB_LEN: usize = 4096;

/// How long a sample stays open for the page to read it: the page closes
/// the SSE one as soon as the event arrives, and answers the WebSocket
/// close at once.
const LINGER: Duration = Duration::from_secs(30);

/// Every byte value in order, repeated: any byte the transport mangled
/// (a NUL, a CR, an invalid UTF-8 sequence) shows up at its own offset.
pub fn blob() -> Vec<u8> {
    (0..BLOB_LEN).map(|i| (i % 256) as u8).collect()
}

// ANCHOR: sse_blob
/// `GET /blob/sse`: one `blob` event whose data is the payload in base64.
/// Base64 turns every 3 bytes into 4 ASCII characters, none of them a line
/// break, so the data is a single `data:` line.
pub fn sse_blob_response() -> Response {
    let data = base64::engine::general_purpose::STANDARD.encode(blob());
    match Event::new(data).event("blob").id("1").to_bytes() {
        Ok(event) => fixed_stream(event),
        Err(_) => Response::text(500, "cannot encode\n"),
    }
}
// ANCHOR_END: sse_blob

// ANCHOR: ws_blob
/// `GET /blob/ws`: the payload as one binary message, then a normal
/// close. A frame carries bytes as they are, behind a 4-byte header.
pub fn ws_blob_response(request: &Request) -> Response {
    let config = HandshakeConfig::default();
    ws::upgrade(
        request,
        &config,
        Config::default(),
        |mut socket| async move {
            let sent = socket.send(Message::Binary(Bytes::from(blob()))).await;
            if sent.is_err() || socket.close(close::NORMAL, "done").await.is_err() {
                return;
            }
            // Read on until the browser answers the close (then `None`), so
            // that the close is clean on both sides.
            let answered = async { while let Some(Ok(_)) = socket.recv().await {} };
            let _ = tokio::time::timeout(LINGER, answered).await;
        },
    )
}
// ANCHOR_END: ws_blob

/// An event stream written by hand, byte for byte (the crate's encoder
/// would never write most of it): a BOM, CRLF, lone CR and LF line ends, a
/// comment, `data` with and without the space, a field with no colon, an
/// empty `id` that resets the last event ID, an ignored `retry`, and an
/// unknown field. The events it should produce are listed in the browser
/// test that reads it.
pub const PARSING_RULES: &[u8] = b"\xEF\xBB\xBF: a comment, then CRLF line ends\r\n\
event: a\r\n\
data: one\r\n\
data:two\r\n\
\r\n\
id: 7\r\
data:  leading space kept, lone CR line ends\r\
\r\
data\n\
\n\
event: b\n\
data: x\n\
unknown: field\n\
retry: soon\n\
\n\
id\n\
data: the id was reset\n\
\n\
data: not dispatched: no empty line follows\n";

/// `GET /sse/rules`: [`PARSING_RULES`], then the connection stays open.
pub fn parsing_rules_response() -> Response {
    fixed_stream(Bytes::from_static(PARSING_RULES))
}

/// A `200 text/event-stream` response that writes `bytes` and then holds
/// the connection open.
fn fixed_stream(bytes: Bytes) -> Response {
    Response::takeover(200, move |upgraded: Upgraded| async move {
        let Upgraded {
            mut io, shutdown, ..
        } = upgraded;
        if io.write_all(&bytes).await.is_err() || io.flush().await.is_err() {
            return;
        }
        // Keep the stream open (a closed one makes EventSource reconnect)
        // until the page hangs up, the server stops, or LINGER passes.
        let mut scratch = [0u8; 256];
        let hang_up = async {
            while let Ok(n) = io.read(&mut scratch).await {
                if n == 0 {
                    break;
                }
            }
        };
        tokio::select! {
            () = hang_up => {}
            () = shutdown.wait() => {}
            () = tokio::time::sleep(LINGER) => {}
        }
    })
    .header("Content-Type", "text/event-stream")
    .header("Cache-Control", "no-cache")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_has_every_byte_value() {
        let b = blob();
        assert_eq!(b.len(), BLOB_LEN);
        assert!((0..=255u8).all(|v| b.iter().filter(|&&x| x == v).count() == BLOB_LEN / 256));
    }
}
