//! What an event stream is fed from: the seam between [`stream_response`]
//! (which owns the socket) and whatever produces the events.
//!
//! The in-memory [`Hub`] is one [`Feed`]; a broker (Redis Streams, a
//! database's change feed) can be another, by answering the same two
//! questions: "subscribe me, resuming after this `Last-Event-ID`", and
//! "what is ready for me now?". The stream neither knows nor cares where
//! the bytes come from, so keep-alives, the client-gone check, write
//! batching and the write timeout are written once, in `stream.rs`.
//!
//! [`stream_response`]: super::stream_response
//! [`Hub`]: super::Hub

use std::ops::RangeInclusive;
use std::task::{Context, Poll};

use bytes::Bytes;

use super::replay::missed_event;

// ANCHOR: feed
/// A source of events that a stream can subscribe to.
pub trait Feed {
    /// One subscriber's view of the feed.
    type Subscription: Subscribe;

    /// Subscribes, resuming after `last_event_id` (the request's
    /// `Last-Event-ID` header) if the feed can. Called before the response
    /// head is written, so nothing published meanwhile is lost.
    fn subscribe(&self, last_event_id: Option<&str>) -> Self::Subscription;
}

/// One subscription: polled by the stream for whatever is ready.
pub trait Subscribe: Send + 'static {
    /// Moves everything that is ready into `out`, oldest first.
    ///
    /// * `Ready(FeedState::Open)`: at least one chunk was added, and, as
    ///   for `Pending`, `cx` will be woken when more is ready. (So the
    ///   stream asks once per wake-up, not once more after each write to
    ///   learn that nothing new came.)
    /// * `Ready(FeedState::Ended)`: the feed is over for this subscriber
    ///   (chunks added before the end are still to be written); the client
    ///   should reconnect with its last event ID.
    /// * `Pending`: nothing is ready; `cx` will be woken when something is.
    fn poll_ready_chunks(&mut self, cx: &mut Context<'_>, out: &mut Vec<Chunk>) -> Poll<FeedState>;
}
// ANCHOR_END: feed

/// What a subscription hands the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk {
    /// One or more whole encoded events, ready for the wire. Shared: the
    /// same bytes go to every subscriber.
    Events(Bytes),
    /// The events with these ids (inclusive) are lost for this subscriber;
    /// the stream tells the client with a `missed` event.
    Missed(RangeInclusive<u64>),
}

impl Chunk {
    /// The chunk's bytes on the wire.
    pub fn into_bytes(self) -> Bytes {
        match self {
            Chunk::Events(bytes) => bytes,
            Chunk::Missed(ids) => missed_event(&ids),
        }
    }
}

/// Whether a subscription goes on after this poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedState {
    /// More may come.
    Open,
    /// Nothing more will come.
    Ended,
}
