//! Server-Sent Events (WHATWG HTML, "Server-sent events"): a one-way stream
//! of text events from server to browser over a single long HTTP response
//! with `Content-Type: text/event-stream`.
//!
//! Where WebSockets give a full-duplex channel with its own framing, SSE is
//! plain text over plain HTTP: each event is a few `field: value` lines and
//! an empty line. The browser's `EventSource` parses it, fires events, and
//! reconnects on its own when the connection drops, sending the id of the
//! last event it saw in a `Last-Event-ID` header so the server can resume.
//!
//! The module is split the same way as the rest of the crate, a sans-IO core
//! that tests and fuzzers drive directly:
//!
//! * [`event`]: [`Event`] and its encoder, which refuses or splits anything
//!   that could smuggle a line break into another field;
//! * [`parser`]: [`EventStreamParser`], the client-side algorithm, bytes in
//!   and [`Item`]s out, with bounded memory;
//! * [`replay`]: [`ReplayLog`], which numbers events, keeps the recent ones
//!   encoded in a bounded ring, and answers a reconnecting client's "what
//!   came after id X?" with a typed [`Resume`];
//! * [`feed`]: the [`Feed`] trait, the seam between a stream and whatever
//!   produces its events (the hub today, a broker later);
//! * [`hub`]: [`Hub`], the in-memory feed: the fan-out around a replay log,
//!   which shares each encoded event with every subscriber and never waits
//!   on a slow one;
//! * [`stream`]: the tokio shell on the server side, [`stream_response`],
//!   which turns any feed's subscription into a long `text/event-stream`
//!   response;
//! * [`handshake`]: [`EventSourceCore`](handshake::EventSourceCore), the
//!   client side sans-IO: the request, the response check, the body's
//!   framing and the parser, bytes in and events out;
//! * [`client`]: [`EventSource`], the tokio shell on the client side, which
//!   reconnects by itself and resumes with `Last-Event-ID`.

pub mod client;
pub mod event;
pub mod feed;
pub mod handshake;
pub mod hub;
pub mod parser;
pub mod replay;
pub mod stream;

pub use client::{ClientConfig, ClientError, EventSource};
pub use event::{encode_comment, EncodeError, Event};
pub use feed::{Chunk, Feed, FeedState, Subscribe};
pub use hub::{Hub, HubConfig, HubStats, Subscription};
pub use parser::{
    parse_line, EventStreamParser, Item, Line, ParseError, ParsedEvent, ParserConfig,
};
pub use replay::{ReplayLog, Resume};
pub use stream::{serve_stream, stream_response, StreamConfig, StreamEnd};
