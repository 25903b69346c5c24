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
//! # Who sees what
//!
//! A viewer sees only its own page's connections. The page makes up a
//! random id when it loads and adds it as `?wire=ID` to every URL it
//! opens (`/echo`, `/chat`, `/ticker`, ...) and to `/wire` itself; a tapped
//! connection's records go only to the viewers of the same id, and a
//! connection without an id is not tapped at all. We chose a page id over
//! the peer's address because many users share an address (a NAT, a
//! proxy, every browser tab on one machine), and over a cookie because a
//! cookie would ride along on a foreign page's requests too. The id is
//! not a password — anyone who knows it sees that page's traffic — so the
//! request lines shown never carry credentials either: the values of
//! `Cookie`, `Authorization`, `Proxy-Authorization` and
//! `Sec-WebSocket-Key` are replaced by [`REDACTED`] in any case.
//!
//! The tap does not see the HTTP request head or the response head: the
//! HTTP layer reads and writes those before the hand-over. The tap reports
//! the request as parsed, and the response head encoded again by the same
//! [`encode_takeover_head`] the connection loop uses, so its bytes are the
//! ones sent.

mod cutter;
mod frames;
mod record;
mod tap;

pub use cutter::Cutter;
pub use frames::{FrameTracker, FrameView, PAYLOAD_PREVIEW};
pub use record::{Direction, Kind, Protocol, Record};
pub use tap::Tapped;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::broadcast;

use crate::http::ResponseHead;
use crate::server::{encode_takeover_head, Body, Request, Response, Upgraded};
use crate::sse::{encode_comment, Event};
use tap::Tap;

/// How many records the channel keeps for viewers that are behind.
pub const CHANNEL_CAPACITY: usize = 512;
/// Bytes of one read or write copied into a record; the record's `len`
/// still says how many crossed the wire.
pub const MAX_RECORD_BYTES: usize = 4096;
/// Frames listed in one record; a read full of tiny frames lists the
/// first ones and counts the rest.
pub const MAX_FRAMES_PER_RECORD: usize = 32;
/// The query parameter that carries a page's view id.
pub const VIEW_PARAM: &str = "wire";
/// What a credential's value is shown as.
pub const REDACTED: &str = "[redacted]";
/// Fields whose values the wire view never shows.
const SECRET_FIELDS: [&str; 4] = [
    "cookie",
    "authorization",
    "proxy-authorization",
    "sec-websocket-key",
];

/// The view id a request carries (`?wire=ID`): 8 to 64 letters, digits,
/// `-` or `_`, so it can be neither empty nor guessed from a short list.
pub fn view_id(request: &Request) -> Option<Arc<str>> {
    let id = request.query_param(VIEW_PARAM)?;
    let valid = (8..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    valid.then(|| Arc::from(id))
}

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

    /// Receives every record sent from now on, of every view (tests use
    /// it directly; `/wire` filters by view).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Record>> {
        self.tx.subscribe()
    }

    fn send(&self, record: Record) {
        // An error only means nobody is watching.
        let _ = self.tx.send(Arc::new(record));
    }

    // ANCHOR: tap_response
    /// Wraps a handler's response so that, if it takes the connection over
    /// (a 101 for a WebSocket, a 200 event stream) and the request names a
    /// view, the connection is tapped for that view. A plain response (a
    /// refused handshake, say) or a request without a view passes as is.
    pub fn tap(&self, request: &Request, protocol: Protocol, response: Response) -> Response {
        let Some(view) = view_id(request) else {
            return response;
        };
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
            let mut tap = Tap::new(wire, view, path, protocol);
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
    /// `GET /wire?wire=ID`: an event stream with one `wire` event per
    /// record of view `ID`, its data the record's JSON. A viewer that falls
    /// behind gets a `lagged` event with the number of records it lost,
    /// and carries on. The stream has no ids: the records are a live view,
    /// not a history. Without a valid view id: 400.
    pub fn stream_response(&self, request: &Request) -> Response {
        let Some(view) = view_id(request) else {
            return Response::text(400, "/wire needs ?wire=ID (8-64 of A-Z a-z 0-9 - _)\n");
        };
        let records = self.subscribe();
        Response::takeover(200, move |upgraded| serve_wire(upgraded, records, view))
            .header("Content-Type", "text/event-stream")
            .header("Cache-Control", "no-cache")
    }
    // ANCHOR_END: wire_stream
}

/// The request line and fields, as parsed, with credentials redacted.
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
        let secret = SECRET_FIELDS
            .iter()
            .any(|field| name.eq_ignore_ascii_case(field));
        let value = if secret {
            REDACTED.into()
        } else {
            String::from_utf8_lossy(value)
        };
        lines.push(format!("{name}: {value}"));
    }
    lines
}

/// The head exactly as the connection loop writes it for a takeover.
fn encode_head(head: &ResponseHead) -> Bytes {
    let mut out = BytesMut::new();
    let _ = encode_takeover_head(head, &mut out);
    out.freeze()
}

/// Writes wire records as events until the viewer leaves or the server
/// stops.
async fn serve_wire(
    upgraded: Upgraded,
    mut records: broadcast::Receiver<Arc<Record>>,
    view: Arc<str>,
) {
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
                    // Another page's record: not ours to see.
                    Ok(record) if record.view != view => continue,
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
