//! The in-memory broadcast hub: one publisher side, many subscribers, and a
//! [`ReplayLog`] so that a client that reconnects with `Last-Event-ID` gets
//! what it missed. It is the [`Feed`] that `/ticker` serves.
//!
//! The log (`replay.rs`) numbers events and keeps the recent ones; this
//! file is the fan-out around it. Design choices, each for a reason:
//!
//! * **Encode once.** [`Hub::publish`] has the log encode the event a
//!   single time into [`Bytes`]; every subscriber and the ring get a cheap
//!   clone (a reference count bump) of the same bytes, ready for the
//!   socket.
//! * **Publishing never waits.** Each subscriber has a bounded queue
//!   ([`HubConfig::subscriber_queue`]). A subscriber whose queue is full is
//!   a *laggard* and is disconnected: the hub forgets it, and its stream
//!   ends after the events already queued. Its client reconnects with
//!   `Last-Event-ID` and resumes from the ring, or learns through a
//!   `missed` event that history was lost. One slow reader therefore never
//!   blocks the publisher or the other readers, and never grows memory.
//! * **Small subscribers.** A subscriber is a queue and a waker behind one
//!   small lock: no channel, no allocation per event once its queue has
//!   grown to its usual depth, and a wake-up only when it is waiting. It
//!   takes everything queued at once, so the stream can write it in one
//!   go.
//! * **Subscribe is atomic with publish.** Both take the same lock, so the
//!   replay a new subscriber receives and the live events that follow meet
//!   exactly: no gap, no duplicate.
//!
//! What a subscriber receives first depends on its `Last-Event-ID` and the
//! log's answer ([`Resume`]):
//!
//! * none, or not a decimal number (hubs only hand out numbers, so it
//!   cannot be ours): the position marker `id: N` (N the latest id, 0 on
//!   an empty hub), then live events;
//! * an id whose successors are all held: those, then live events;
//! * an id older than the oldest held: a `missed` event naming the lost
//!   ids, then everything held;
//! * an id past the latest: ids belong to one `Hub` value and start again
//!   at 1 after a restart, so the client comes from an earlier run and is
//!   treated as having seen nothing of this one (replay after 0).
//!
//! [`Feed`]: super::feed::Feed

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;

use super::event::{EncodeError, Event};
use super::feed::{Chunk, Feed, FeedState, Subscribe};
use super::replay::{parse_id, position_marker, ReplayLog, Resume};

/// Sizes for a [`Hub`]. Built from the default with `with_` setters, so
/// that new sizes can be added without breaking callers:
///
/// ```
/// use realtime_events::sse::HubConfig;
/// let config = HubConfig::default()
///     .with_replay_capacity(1024)
///     .with_subscriber_queue(16);
/// assert_eq!(config.replay_capacity, 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HubConfig {
    /// How many of the most recent events are kept for replay. 0 disables
    /// replay. Default 256.
    pub replay_capacity: usize,
    /// How many events may wait in one subscriber's queue before it counts
    /// as a laggard and is disconnected. Values below 1 are treated as 1.
    /// Default 64.
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

impl HubConfig {
    /// Sets [`replay_capacity`](Self::replay_capacity).
    pub fn with_replay_capacity(mut self, events: usize) -> Self {
        self.replay_capacity = events;
        self
    }

    /// Sets [`subscriber_queue`](Self::subscriber_queue).
    pub fn with_subscriber_queue(mut self, events: usize) -> Self {
        self.subscriber_queue = events;
        self
    }
}

/// A snapshot of what a hub holds, for tests and metrics: enough to see
/// that memory is bounded even when every queued event is a shared clone
/// (which a process's RSS would hide).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct HubStats {
    /// Subscribers currently registered.
    pub subscribers: usize,
    /// Events waiting in all subscribers' queues together, now.
    pub queued_events: usize,
    /// The longest any one subscriber's queue has ever been. Never above
    /// [`HubConfig::subscriber_queue`].
    pub peak_queue: usize,
    /// Subscribers disconnected for lagging, in total.
    pub laggards_disconnected: u64,
    /// Events held for replay.
    pub replay_events: usize,
    /// Encoded bytes held for replay.
    pub replay_bytes: usize,
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
    log: ReplayLog,
    subscribers: HashMap<u64, Arc<Slot>>,
    next_subscriber: u64,
    laggards_disconnected: u64,
    peak_queue: usize,
}

/// One subscriber's queue, shared by the hub (which fills it) and the
/// [`Subscription`] (which empties it).
#[derive(Debug, Default)]
struct Slot(Mutex<SlotState>);

#[derive(Debug, Default)]
struct SlotState {
    queue: VecDeque<Bytes>,
    /// The subscriber's task, kept between events (no clone per event).
    waker: Option<Waker>,
    /// Whether the subscriber found its queue empty and is waiting for a
    /// wake-up; a busy subscriber is not woken for every event.
    waiting: bool,
    /// The hub let go of it: a laggard, or the hub is gone.
    ended: bool,
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, SlotState> {
        // Nothing panics while holding these locks; if something ever did,
        // the state is still consistent enough to keep serving.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl SlotState {
    /// Marks the end and wakes the subscriber, waiting or not.
    fn end(&mut self) {
        self.ended = true;
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }
}

impl Hub {
    /// A hub with the given sizes.
    pub fn new(config: HubConfig) -> Self {
        Hub {
            inner: Arc::new(Inner {
                config,
                state: Mutex::new(State {
                    log: ReplayLog::new(config.replay_capacity),
                    ..State::default()
                }),
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
    /// # Errors
    ///
    /// Only if the event itself cannot be encoded; the id is then not used.
    pub fn publish(&self, event: Event) -> Result<u64, EncodeError> {
        let mut state = self.state();
        let (id, bytes) = state.log.push(event)?;
        self.fan_out(&mut state, bytes);
        Ok(id)
    }

    /// Queues `bytes` for every subscriber, disconnecting laggards.
    fn fan_out(&self, state: &mut State, bytes: Bytes) {
        let bound = self.inner.config.subscriber_queue.max(1);
        let mut peak = state.peak_queue;
        let mut lagged = 0;
        state.subscribers.retain(|&key, slot| {
            let mut sub = slot.lock();
            if sub.queue.len() >= bound {
                // A laggard: forget it. Its stream ends once it has taken
                // what is already queued.
                tracing::debug!(subscriber = key, "sse hub: disconnected lagging subscriber");
                lagged += 1;
                sub.end();
                return false;
            }
            sub.queue.push_back(bytes.clone());
            peak = peak.max(sub.queue.len());
            // Wake only a subscriber that is waiting for us.
            if std::mem::take(&mut sub.waiting) {
                if let Some(waker) = &sub.waker {
                    waker.wake_by_ref();
                }
            }
            true
        });
        state.peak_queue = peak;
        state.laggards_disconnected += lagged;
    }
    // ANCHOR_END: publish

    /// Offers `bytes` (whole encoded events that carry their own ids) to
    /// every subscriber, without numbering them or keeping them for replay.
    ///
    /// For a feed that brings its own ids and history, such as a broker's
    /// shared log (the Redis feed in `broker`): it keeps the ids and the
    /// replay, and borrows this fan-out (bounded queues, laggards
    /// disconnected, one wake-up per waiting subscriber).
    pub fn publish_encoded(&self, bytes: Bytes) {
        let mut state = self.state();
        self.fan_out(&mut state, bytes);
    }

    /// Registers a subscriber that first receives `replay`, then every
    /// event published after this call. The counterpart of
    /// [`publish_encoded`](Self::publish_encoded): the caller decides what
    /// the subscriber missed, and must not publish between computing it and
    /// this call (hold its own lock over both).
    pub fn subscribe_with(&self, replay: impl IntoIterator<Item = Chunk>) -> Subscription {
        let mut state = self.state();
        self.register(&mut state, replay.into_iter().collect())
    }

    /// Ends every current subscription after what it has queued and
    /// `farewell` (if any): for a feed whose source is gone for now, so
    /// that clients reconnect and resume elsewhere or later.
    pub fn disconnect_all(&self, farewell: Option<Bytes>) {
        let mut state = self.state();
        for (_, slot) in state.subscribers.drain() {
            let mut sub = slot.lock();
            if let Some(bytes) = &farewell {
                sub.queue.push_back(bytes.clone());
            }
            sub.end();
        }
    }

    // ANCHOR: replay
    /// Subscribes to live events, first replaying what follows
    /// `last_event_id` (see the module docs for each case).
    pub fn subscribe(&self, last_event_id: Option<&str>) -> Subscription {
        let mut state = self.state();
        let mut replay = VecDeque::new();
        match last_event_id.and_then(parse_id) {
            None => replay.push_back(Chunk::Events(position_marker(state.log.last_id()))),
            Some(last) => {
                let answer = match state.log.after(last) {
                    // An id we never issued was issued by an earlier run.
                    Resume::Unknown => state.log.after(0),
                    answer => answer,
                };
                let held = match answer {
                    Resume::Complete(held) => held,
                    Resume::TooOld { missed, then } => {
                        replay.push_back(Chunk::Missed(missed));
                        then
                    }
                    // `after(0)` always knows 0.
                    Resume::Unknown => unreachable!("0 is always known"),
                };
                replay.extend(held.map(|(_, bytes)| Chunk::Events(bytes.clone())));
            }
        }
        // Registered under the same lock as the replay was taken: the next
        // publish goes to the queue, and nothing published earlier does.
        self.register(&mut state, replay)
    }
    // ANCHOR_END: replay

    fn register(&self, state: &mut State, replay: VecDeque<Chunk>) -> Subscription {
        let slot = Arc::new(Slot::default());
        let key = state.next_subscriber;
        state.next_subscriber += 1;
        state.subscribers.insert(key, slot.clone());
        Subscription {
            hub: Arc::downgrade(&self.inner),
            key,
            replay,
            slot,
        }
    }

    /// How many subscriptions are currently registered. A dropped
    /// subscription or a disconnected laggard no longer counts.
    pub fn subscriber_count(&self) -> usize {
        self.state().subscribers.len()
    }

    /// The id of the most recently published event, 0 if none yet.
    pub fn last_id(&self) -> u64 {
        self.state().log.last_id()
    }

    /// How many subscribers have been disconnected for lagging, in total.
    pub fn laggards_disconnected(&self) -> u64 {
        self.state().laggards_disconnected
    }

    /// What the hub holds right now; see [`HubStats`].
    pub fn stats(&self) -> HubStats {
        let state = self.state();
        HubStats {
            subscribers: state.subscribers.len(),
            queued_events: state
                .subscribers
                .values()
                .map(|s| s.lock().queue.len())
                .sum(),
            peak_queue: state.peak_queue,
            laggards_disconnected: state.laggards_disconnected,
            replay_events: state.log.len(),
            replay_bytes: state.log.bytes_held(),
        }
    }
}

impl Default for Hub {
    fn default() -> Self {
        Hub::new(HubConfig::default())
    }
}

impl Feed for Hub {
    type Subscription = Subscription;

    fn subscribe(&self, last_event_id: Option<&str>) -> Subscription {
        Hub::subscribe(self, last_event_id)
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Inner {
    /// The last `Hub` handle is gone: nothing will be published again, so
    /// every stream ends (after what it has queued).
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        for slot in state.subscribers.values() {
            slot.lock().end();
        }
    }
}

/// One subscriber's stream of encoded events, ready to write to a socket.
///
/// Dropping it unregisters it from the hub.
#[derive(Debug)]
pub struct Subscription {
    /// Weak, so that subscriptions do not keep a dropped hub alive.
    hub: Weak<Inner>,
    key: u64,
    /// What the subscriber gets before live events (see [`Hub::subscribe`]).
    replay: VecDeque<Chunk>,
    slot: Arc<Slot>,
}

impl Subscription {
    /// The next chunk: replayed events first, then live ones. `None` when
    /// the stream is over: the hub is gone, or it disconnected this
    /// subscriber for lagging (the client should reconnect with its last
    /// event ID).
    pub async fn next(&mut self) -> Option<Bytes> {
        std::future::poll_fn(|cx| self.poll_next(cx)).await
    }

    /// Like [`next`](Self::next) but without waiting: `None` if nothing is
    /// ready right now (or the stream is over).
    pub fn try_next(&mut self) -> Option<Bytes> {
        if let Some(chunk) = self.replay.pop_front() {
            return Some(chunk.into_bytes());
        }
        self.slot.lock().queue.pop_front()
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        if let Some(bytes) = self.try_next() {
            return Poll::Ready(Some(bytes));
        }
        let mut slot = self.slot.lock();
        if let Some(bytes) = slot.queue.pop_front() {
            return Poll::Ready(Some(bytes));
        }
        if slot.ended {
            return Poll::Ready(None);
        }
        wait(&mut slot, cx);
        Poll::Pending
    }
}

/// Registers `cx` to be woken by the next publish.
fn wait(slot: &mut SlotState, cx: &mut Context<'_>) {
    match &slot.waker {
        Some(waker) if waker.will_wake(cx.waker()) => {}
        _ => slot.waker = Some(cx.waker().clone()),
    }
    slot.waiting = true;
}

impl Subscribe for Subscription {
    fn poll_ready_chunks(&mut self, cx: &mut Context<'_>, out: &mut Vec<Chunk>) -> Poll<FeedState> {
        let before = out.len();
        if !self.replay.is_empty() {
            // Taken whole, so an idle subscriber keeps no replay buffer.
            out.extend(std::mem::take(&mut self.replay));
        }
        let mut slot = self.slot.lock();
        out.reserve(slot.queue.len());
        while let Some(bytes) = slot.queue.pop_front() {
            out.push(Chunk::Events(bytes));
        }
        if slot.ended {
            return Poll::Ready(FeedState::Ended);
        }
        // Registered in both cases (see `Subscribe`): the queue is empty
        // now, so the next publish wakes this task.
        wait(&mut slot, cx);
        if out.len() > before {
            return Poll::Ready(FeedState::Open);
        }
        Poll::Pending
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
    fn failed_publish_does_not_use_an_id() {
        let hub = Hub::default();
        assert!(hub.publish(Event::new("x").comment("a\nb")).is_err());
        assert_eq!(hub.publish(Event::new("x")), Ok(1));
    }

    /// The `Subscribe` contract the stream relies on to ask once per
    /// wake-up: handing over chunks also registers for the next ones.
    #[test]
    fn ready_chunks_register_the_next_wake_up() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        struct Count(AtomicUsize);
        impl std::task::Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let hub = Hub::default();
        let mut sub = hub.subscribe(Some("0"));
        hub.publish(Event::new("a")).unwrap();
        let mut out = Vec::new();
        assert_eq!(
            sub.poll_ready_chunks(&mut cx, &mut out),
            Poll::Ready(FeedState::Open)
        );
        assert_eq!(out.len(), 1);
        hub.publish(Event::new("b")).unwrap();
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        // Woken once, not once per event, until it asks again.
        hub.publish(Event::new("c")).unwrap();
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn the_queue_bound_holds_and_is_reported() {
        let hub = Hub::new(HubConfig::default().with_subscriber_queue(3));
        let _idle = hub.subscribe(Some("0"));
        for _ in 0..10 {
            hub.publish(Event::new("x")).unwrap();
        }
        let stats = hub.stats();
        assert_eq!(stats.peak_queue, 3);
        assert_eq!(stats.laggards_disconnected, 1);
        assert_eq!(stats.subscribers, 0);
        assert_eq!(stats.queued_events, 0);
    }
}
