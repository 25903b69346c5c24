//! A broadcast hub: one publisher side, many subscribers, and a bounded
//! replay buffer so that a client that reconnects with `Last-Event-ID`
//! gets what it missed.
//!
//! Design choices, each for a reason:
//!
//! * **Encode once.** [`Hub::publish`] encodes the event a single time into
//!   [`Bytes`]; every subscriber and the replay buffer get a cheap clone
//!   (a reference count bump) of the same bytes, ready for the socket.
//! * **Ids are the hub's.** Every published event gets the next decimal id,
//!   starting at 1 (an id the event already had is replaced). Because ids are
//!   consecutive, a client or a tool reading the stream sees a gap as a gap.
//! * **Publishing never waits.** Each subscriber has a bounded queue and the
//!   hub uses `try_send`. A subscriber whose queue is full is a *laggard* and
//!   is disconnected: the hub drops its queue sender, so its stream ends
//!   after the events already queued. Its client reconnects with
//!   `Last-Event-ID` and resumes from the replay buffer, or learns through a
//!   `missed` event that history was lost. One slow reader therefore never
//!   blocks the publisher or the other readers, and never grows memory.
//! * **Subscribe is atomic with publish.** Both take the same lock, so the
//!   replay a new subscriber receives and the live events that follow meet
//!   exactly: no gap, no duplicate.
//!
//! The `missed` event: when a subscriber's last id is older than the oldest
//! event still buffered, it first receives
//!
//! ```text
//! event: missed
//! data: {"first":5,"last":9}
//!
//! ```
//!
//! naming the range of ids (inclusive) that can no longer be replayed, and
//! then everything still buffered. It carries `id: 9`, the last id it
//! reports: an event without an id would set the client's last event ID
//! to "" (a new stream starts with an empty id buffer, and every dispatch
//! copies it), so a drop right after it would lose the client's place.
//!
//! The position marker: a subscriber with no usable `Last-Event-ID` (a
//! first visit) receives `id: 41` and an empty line first, 41 being the
//! latest id at subscribe time. It has no data, so the client fires no
//! event, but it now holds an id: if this very first connection drops
//! before any event arrives, it reconnects with `Last-Event-ID: 41` and
//! misses nothing. (On an empty hub the marker is `id: 0`.)
//!
//! Ids belong to one `Hub` value: after a server restart they start again
//! at 1. A client whose last id is higher than anything this hub has
//! published therefore comes from an earlier run, and it is treated as
//! having seen nothing of this one: it gets the whole buffer (after a
//! `missed` event if the buffer no longer starts at 1), never a silent gap.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::event::{EncodeError, Event};

/// Sizes for a [`Hub`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubConfig {
    /// How many of the most recent events are kept for replay. 0 disables
    /// replay.
    pub replay_capacity: usize,
    /// How many events may wait in one subscriber's queue before it counts
    /// as a laggard and is disconnected. Values below 1 are treated as 1.
    pub subscriber_queue: usize,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            replay_capacity: 256,
            subscriber_queue: 64,
        }
    }
}

/// The broadcast hub. Cloning gives another handle to the same hub.
#[derive(Debug, Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: HubConfig,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The id of the most recently published event; 0 before the first.
    last_id: u64,
    /// `(id, encoded event)`, oldest first, ids consecutive.
    replay: VecDeque<(u64, Bytes)>,
    subscribers: HashMap<u64, mpsc::Sender<Bytes>>,
    next_subscriber: u64,
    laggards_disconnected: u64,
}

impl Hub {
    /// A hub with the given sizes.
    pub fn new(config: HubConfig) -> Self {
        Hub {
            inner: Arc::new(Inner {
                config,
                state: Mutex::new(State::default()),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.lock()
    }

    // ANCHOR: publish
    /// Assigns the next id to `event`, encodes it once, keeps it for replay
    /// and offers it to every subscriber without waiting. Returns the id.
    ///
    /// Fails only if the event itself cannot be encoded; the id is then not
    /// used.
    pub fn publish(&self, event: Event) -> Result<u64, EncodeError> {
        let mut state = self.state();
        let id = state.last_id + 1;
        let bytes = event.id(id.to_string()).to_bytes()?;
        state.last_id = id;

        if self.inner.config.replay_capacity > 0 {
            if state.replay.len() == self.inner.config.replay_capacity {
                state.replay.pop_front();
            }
            state.replay.push_back((id, bytes.clone()));
        }

        let mut gone = Vec::new();
        for (&key, tx) in &state.subscribers {
            match tx.try_send(bytes.clone()) {
                Ok(()) => {}
                // Full: a laggard. Closed: its Subscription is being dropped.
                // Either way, forget the sender; for a laggard that ends its
                // stream once it has read what is already queued.
                Err(mpsc::error::TrySendError::Full(_)) => gone.push((key, true)),
                Err(mpsc::error::TrySendError::Closed(_)) => gone.push((key, false)),
            }
        }
        for (key, lagged) in gone {
            state.subscribers.remove(&key);
            if lagged {
                state.laggards_disconnected += 1;
                tracing::debug!(subscriber = key, "sse hub: disconnected lagging subscriber");
            }
        }
        Ok(id)
    }
    // ANCHOR_END: publish

    // ANCHOR: replay
    /// Subscribes to live events, first replaying everything after
    /// `last_event_id` that is still buffered.
    ///
    /// * `None`, or an id that is not a decimal number (hubs only hand out
    ///   numbers, so it cannot be ours): no history, the position marker
    ///   (see the module docs), then live events.
    /// * The latest id: up to date, live events only.
    /// * An id past the latest: from before a restart (see the module docs),
    ///   so replayed as if it were 0.
    /// * An id older than the oldest buffered event: a `missed` event (see
    ///   the module docs), then the whole buffer.
    pub fn subscribe(&self, last_event_id: Option<&str>) -> Subscription {
        let last = last_event_id.and_then(parse_id);
        let (tx, rx) = mpsc::channel(self.inner.config.subscriber_queue.max(1));

        let mut state = self.state();
        let mut replay = VecDeque::new();
        // An id we never issued was issued by an earlier run of the server.
        let last = last.map(|id| if id > state.last_id { 0 } else { id });
        if let Some(last) = last {
            // The first id that can still be replayed.
            let first_kept = state
                .replay
                .front()
                .map_or(state.last_id + 1, |&(id, _)| id);
            // (saturating: the id comes from the client and may be u64::MAX)
            if last.saturating_add(1) < first_kept {
                replay.push_back(missed_event(last + 1, first_kept - 1));
            }
            replay.extend(
                state
                    .replay
                    .iter()
                    .filter(|&&(id, _)| id > last)
                    .map(|(_, bytes)| bytes.clone()),
            );
        } else {
            replay.push_back(position_marker(state.last_id));
        }
        // Registered under the same lock as the replay was taken: the next
        // publish goes to the queue, and nothing published earlier does.
        let key = state.next_subscriber;
        state.next_subscriber += 1;
        state.subscribers.insert(key, tx);
        drop(state);

        Subscription {
            hub: Arc::downgrade(&self.inner),
            key,
            replay,
            rx,
        }
    }
    // ANCHOR_END: replay

    /// How many subscriptions are currently registered. A dropped
    /// subscription or a disconnected laggard no longer counts.
    pub fn subscriber_count(&self) -> usize {
        self.state().subscribers.len()
    }

    /// The id of the most recently published event, 0 if none yet.
    pub fn last_id(&self) -> u64 {
        self.state().last_id
    }

    /// How many subscribers have been disconnected for lagging, in total.
    pub fn laggards_disconnected(&self) -> u64 {
        self.state().laggards_disconnected
    }
}

impl Default for Hub {
    fn default() -> Self {
        Hub::new(HubConfig::default())
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock, but if something ever did,
        // the state is still consistent enough to keep serving.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Only plain decimal digits are ids we could have issued.
fn parse_id(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn missed_event(first: u64, last: u64) -> Bytes {
    Event::new(format!("{{\"first\":{first},\"last\":{last}}}"))
        .event("missed")
        .id(last.to_string())
        .to_bytes()
        .unwrap_or_default()
}

/// `id: N` and an empty line: sets the client's last event ID, fires
/// nothing.
fn position_marker(last_id: u64) -> Bytes {
    Event::default()
        .id(last_id.to_string())
        .to_bytes()
        .unwrap_or_default()
}

/// One subscriber's stream of encoded events, ready to write to a socket.
///
/// Dropping it unregisters it from the hub.
#[derive(Debug)]
pub struct Subscription {
    /// Weak, so that subscriptions do not keep a dropped hub alive: when the
    /// last `Hub` handle goes, the queue senders go with it and every stream
    /// ends.
    hub: Weak<Inner>,
    key: u64,
    replay: VecDeque<Bytes>,
    rx: mpsc::Receiver<Bytes>,
}

impl Subscription {
    /// The next chunk: replayed events first, then live ones. `None` when
    /// the stream is over: the hub is gone, or it disconnected this
    /// subscriber for lagging (the client should reconnect with its last
    /// event ID).
    pub async fn next(&mut self) -> Option<Bytes> {
        if let Some(bytes) = self.replay.pop_front() {
            return Some(bytes);
        }
        self.rx.recv().await
    }

    /// Like [`next`](Self::next) but without waiting: `None` if nothing is
    /// ready right now (or the stream is over).
    pub fn try_next(&mut self) -> Option<Bytes> {
        if let Some(bytes) = self.replay.pop_front() {
            return Some(bytes);
        }
        self.rx.try_recv().ok()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(inner) = self.hub.upgrade() {
            inner.lock().subscribers.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_id_is_strict() {
        assert_eq!(parse_id("42"), Some(42));
        assert_eq!(parse_id("007"), Some(7));
        assert_eq!(parse_id("+4"), None);
        assert_eq!(parse_id(" 4"), None);
        assert_eq!(parse_id(""), None);
        assert_eq!(parse_id("99999999999999999999999"), None);
    }

    #[test]
    fn missed_event_carries_the_last_missed_id() {
        assert_eq!(
            &missed_event(5, 9)[..],
            b"event: missed\nid: 9\ndata: {\"first\":5,\"last\":9}\n\n"
        );
    }

    #[test]
    fn position_marker_is_an_id_alone() {
        assert_eq!(&position_marker(41)[..], b"id: 41\n\n");
    }

    #[test]
    fn failed_publish_does_not_use_an_id() {
        let hub = Hub::default();
        assert!(hub.publish(Event::new("x").comment("a\nb")).is_err());
        assert_eq!(hub.publish(Event::new("x")), Ok(1));
    }
}
