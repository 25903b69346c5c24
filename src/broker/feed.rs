//! [`RedisFeed`]: a [`Feed`] whose events live in a Redis stream, so that
//! every instance serves the same events under the same ids.
//!
//! Each instance runs one *tail*: a task that reads the stream with
//! `XREAD BLOCK` and hands every batch to the in-memory [`Hub`]'s fan-out
//! (bounded queues, laggards disconnected), which this file borrows rather
//! than repeats. The tail also keeps the most recent entries in a ring,
//! each encoded once.
//!
//! A subscriber that sends `Last-Event-ID: X` is resumed in one of two
//! ways:
//!
//! * **From the ring**, when the ring holds everything after X (the common
//!   reconnect): the replay and the registration happen under the lock
//!   the tail takes to publish, so they meet exactly, as in the hub.
//! * **From Redis**, when X is older than the ring (or newer than the
//!   tail has read, because another instance's tail is ahead): one atomic
//!   script reads the entries after X and the trimming state, which
//!   decides between a plain replay and a `reset` event
//!   ([`judge`](super::log::judge)). Pages are read until the tail has
//!   reached them and the ring takes over; then the subscriber is
//!   registered under the tail's lock as above. No entry is sent twice and
//!   none is skipped at the seam.
//!
//! When the tail loses Redis, every open stream ends (after a `retry:`
//! line), the feed reports itself down, and the tail reconnects with
//! backoff. New streams meanwhile end at once, and their clients retry.
//! When it is back, the tail carries on after the last id it read, so
//! nothing that was added meanwhile is skipped; if Redis lost the stream
//! (a restart without persistence: a new origin), the ring starts afresh.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use redis::{Client, RedisResult, Value};

use super::conn::{self, Shared};
use super::log::{self, judge, Entry, LogInfo, StreamId, Verdict};
use crate::sse::{Chunk, Feed, FeedState, Hub, HubConfig, Subscribe, Subscription};

/// Settings of one [`RedisFeed`], from the default with `with_` setters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct FeedConfig {
    /// Roughly how many entries the stream keeps (between this and a
    /// tenth more, like `XADD MAXLEN ~`): the retention window a resuming
    /// client can come back within. Default 10 000.
    pub max_len: usize,
    /// How many recent entries each instance keeps in memory to resume
    /// clients without asking Redis. Default 1024.
    pub ring: usize,
    /// The subscribers' queue bound (in batches read from Redis).
    pub hub: HubConfig,
    /// How long one `XREAD` blocks. Default 1 s.
    pub block: Duration,
}

impl Default for FeedConfig {
    fn default() -> Self {
        FeedConfig {
            max_len: 10_000,
            ring: 1024,
            hub: HubConfig::default().with_replay_capacity(0),
            block: Duration::from_secs(1),
        }
    }
}

impl FeedConfig {
    /// Sets [`max_len`](Self::max_len).
    pub fn with_max_len(mut self, entries: usize) -> Self {
        self.max_len = entries;
        self
    }

    /// Sets [`ring`](Self::ring).
    pub fn with_ring(mut self, entries: usize) -> Self {
        self.ring = entries;
        self
    }
}

/// What the tail hands each entry to besides the subscribers (the chat
/// relay's room).
pub type Tap = Arc<dyn Fn(&[Entry]) + Send + Sync>;

/// A feed on one Redis stream. Cloning gives another handle to it.
#[derive(Clone)]
pub struct RedisFeed {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RedisFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisFeed")
            .field("stream", &self.inner.keys.stream)
            .field("up", &self.is_up())
            .finish()
    }
}

struct Inner {
    keys: conn::Keys,
    config: FeedConfig,
    redis: Shared,
    hub: Hub,
    ring: Mutex<Ring>,
    up: AtomicBool,
    tap: Option<Tap>,
}

/// What the tail has read, under one lock with the hub's registrations.
struct Ring {
    /// Recent entries, oldest first.
    entries: VecDeque<(StreamId, Bytes)>,
    /// The ring holds every entry after `floor` up to `latest`.
    floor: StreamId,
    /// The last id the tail has read (and published).
    latest: StreamId,
    /// The origin of the stream's life the ring belongs to.
    origin: StreamId,
    /// Whether the tail is connected.
    up: bool,
}

impl Ring {
    /// The entries after `after`, if the ring holds all of them.
    fn after(&self, after: StreamId) -> Option<impl Iterator<Item = &Bytes>> {
        if !self.up || after < self.floor || after > self.latest {
            return None;
        }
        let start = self.entries.partition_point(|(id, _)| *id <= after);
        Some(self.entries.range(start..).map(|(_, bytes)| bytes))
    }
}

/// Entries read per page when resuming from Redis.
const PAGE: usize = 512;
/// Entries per `XREAD`.
const TAIL_COUNT: usize = 1024;
/// What open streams get before they end when Redis is lost: a reconnect
/// hint, as a lone field line (see `sse::stream` on why no empty line).
const FAREWELL: &[u8] = b"retry: 1000\n";

impl RedisFeed {
    /// Connects the tail of `stream` and starts it. Fails if Redis cannot
    /// be reached now; later losses are retried for ever.
    pub async fn start(
        client: Client,
        stream: impl Into<String>,
        config: FeedConfig,
        tap: Option<Tap>,
    ) -> RedisResult<RedisFeed> {
        let stream = stream.into();
        let redis = Shared::new(client.clone());
        let inner = Arc::new(Inner {
            keys: conn::Keys::new(stream),
            config,
            redis,
            hub: Hub::new(config.hub),
            ring: Mutex::new(Ring {
                entries: VecDeque::new(),
                floor: StreamId::ZERO,
                latest: StreamId::ZERO,
                origin: StreamId::ZERO,
                up: false,
            }),
            up: AtomicBool::new(false),
            tap,
        });
        let tail_conn = inner.connect_tail(&client).await?;
        let feed = RedisFeed { inner };
        let inner = feed.inner.clone();
        tokio::spawn(async move { inner.tail(client, tail_conn).await });
        Ok(feed)
    }

    /// Appends an event to the stream (any instance's subscribers get it
    /// through their tail). Returns its id.
    ///
    /// # Errors
    ///
    /// Redis could not be reached, or refused the command.
    pub async fn publish(&self, event: &str, data: &str) -> RedisResult<StreamId> {
        let inner = &self.inner;
        let cmd = conn::append_cmd(&inner.keys, inner.config.max_len, event, data);
        let reply: Value = inner.redis.query(&cmd).await?;
        conn::parse_id_reply(&reply)
    }

    /// The last `count` entries of the stream, oldest first.
    ///
    /// # Errors
    ///
    /// Redis could not be reached, or refused the command.
    pub async fn recent(&self, count: usize) -> RedisResult<Vec<Entry>> {
        let mut cmd = redis::cmd("XREVRANGE");
        cmd.arg(&self.inner.keys.stream)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(count);
        let reply: Value = self.inner.redis.query(&cmd).await?;
        let mut entries = conn::parse_entries(&reply)?;
        entries.reverse();
        Ok(entries)
    }

    /// Whether the tail is connected to Redis.
    pub fn is_up(&self) -> bool {
        self.inner.up.load(Ordering::SeqCst)
    }

    /// The last id the tail has read.
    pub fn latest(&self) -> StreamId {
        self.inner.ring().latest
    }

    /// Subscribers on this instance now.
    pub fn subscriber_count(&self) -> usize {
        self.inner.hub.subscriber_count()
    }
}

impl Inner {
    fn ring(&self) -> MutexGuard<'_, Ring> {
        self.ring.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A connection for the tail, and the ring lined up with the stream's
    /// current life: the same origin carries on after the last id read;
    /// a new one (or the first start) begins at the stream's end.
    async fn connect_tail(
        &self,
        client: &Client,
    ) -> RedisResult<redis::aio::MultiplexedConnection> {
        let mut conn = conn::connect(client, self.config.block + Duration::from_secs(5)).await?;
        let cmd = conn::read_after_cmd(&self.keys, None, 0);
        let reply: Value = cmd.query_async(&mut conn).await?;
        let (info, _) = conn::parse_read_after(&reply)?;
        let mut ring = self.ring();
        if !ring.up && (ring.latest == StreamId::ZERO || ring.origin != info.origin) {
            if ring.latest != StreamId::ZERO {
                tracing::warn!(stream = %self.keys.stream, "redis: the stream is a new one (Redis lost it); starting afresh");
            }
            // A restart's stream begins after its origin; a first start
            // tails from the end.
            let start = if ring.latest == StreamId::ZERO {
                info.last_generated.max(info.origin)
            } else {
                info.origin
            };
            ring.entries.clear();
            ring.floor = start;
            ring.latest = start;
            ring.origin = info.origin;
        } else if info.max_deleted > ring.latest {
            // Away so long that entries we never read were trimmed: the
            // ring cannot vouch for anything before them any more, and
            // resuming from there goes to Redis, which tells the client.
            tracing::warn!(stream = %self.keys.stream, "redis: entries were trimmed while the tail was away");
            ring.entries.clear();
            ring.floor = info.max_deleted;
            ring.latest = info.max_deleted;
        }
        ring.up = true;
        self.up.store(true, Ordering::SeqCst);
        Ok(conn)
    }

    // ANCHOR: tail
    /// The tail: read, publish, repeat; on a failure, end every stream and
    /// reconnect with backoff.
    async fn tail(self: Arc<Self>, client: Client, mut conn: redis::aio::MultiplexedConnection) {
        loop {
            let after = self.ring().latest;
            let cmd = conn::tail_cmd(&self.keys.stream, after, TAIL_COUNT, self.config.block);
            let read: RedisResult<Value> = cmd.query_async(&mut conn).await;
            match read.and_then(|v| conn::parse_tail(&v)) {
                Ok(entries) => self.publish_batch(&entries),
                Err(err) => {
                    tracing::warn!(stream = %self.keys.stream, %err, "redis: lost the stream; ending open streams");
                    self.went_down();
                    conn = self.reconnect(&client).await;
                    tracing::info!(stream = %self.keys.stream, "redis: reconnected");
                }
            }
        }
    }
    // ANCHOR_END: tail

    /// Publishes one batch read by the tail: each entry encoded once and
    /// kept in the ring, the batch handed to the fan-out as one piece (so
    /// a burst counts once against a subscriber's queue).
    fn publish_batch(&self, entries: &[Entry]) {
        if entries.is_empty() {
            return;
        }
        // Only the tail moves `latest`, so it can be read before locking.
        let latest = self.ring().latest;
        let entries: Vec<&Entry> = entries.iter().filter(|e| e.id > latest).collect();
        if entries.is_empty() {
            return;
        }
        let mut all = BytesMut::new();
        let mut ends = Vec::with_capacity(entries.len());
        for entry in &entries {
            all.extend_from_slice(&log::encode_entry(
                entry.id,
                entry.event.as_deref(),
                &entry.data,
            ));
            ends.push((entry.id, all.len()));
        }
        let all = all.freeze();
        let mut ring = self.ring();
        let mut start = 0;
        for (id, end) in ends {
            if self.config.ring > 0 {
                ring.entries.push_back((id, all.slice(start..end)));
            } else {
                ring.floor = id;
            }
            start = end;
            ring.latest = id;
        }
        while ring.entries.len() > self.config.ring {
            if let Some((id, _)) = ring.entries.pop_front() {
                ring.floor = id;
            }
        }
        // Under the ring's lock: a subscriber registers either before this
        // batch (and gets it live) or after (and got it from the ring).
        self.hub.publish_encoded(all);
        drop(ring);
        if let Some(tap) = &self.tap {
            let entries: Vec<Entry> = entries.into_iter().cloned().collect();
            tap(&entries);
        }
    }

    fn went_down(&self) {
        let mut ring = self.ring();
        ring.up = false;
        self.up.store(false, Ordering::SeqCst);
        self.hub.disconnect_all(Some(Bytes::from_static(FAREWELL)));
    }

    /// Reconnects with exponential backoff (100 ms doubling to 2 s).
    async fn reconnect(&self, client: &Client) -> redis::aio::MultiplexedConnection {
        let mut delay = Duration::from_millis(100);
        loop {
            tokio::time::sleep(delay).await;
            match self.connect_tail(client).await {
                Ok(conn) => return conn,
                Err(err) => {
                    tracing::debug!(stream = %self.keys.stream, %err, "redis: still unreachable")
                }
            }
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }

    /// The slow resume: pages from Redis until the ring takes over. `None`
    /// if Redis failed meanwhile (the stream ends; the client retries).
    async fn resume(self: Arc<Self>, last: StreamId) -> Option<Subscription> {
        let mut replay = Vec::new();
        let mut after = last;
        let mut first = true;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::time::Instant::now() < deadline {
            let cmd = conn::read_after_cmd(&self.keys, Some(after), PAGE);
            let reply: Value = self.redis.query(&cmd).await.ok()?;
            let (info, entries) = conn::parse_read_after(&reply).ok()?;
            match judge(after, &info) {
                Verdict::Complete => {}
                // Told once, then replayed from the origin (the next page).
                Verdict::Unknown if first => {
                    replay.push(Chunk::Events(log::reset_event(
                        Verdict::Unknown,
                        last,
                        info.origin,
                    )));
                    after = info.origin;
                    first = false;
                    continue;
                }
                Verdict::Unknown => return None,
                trimmed @ Verdict::Trimmed { lost_through } => {
                    replay.push(Chunk::Events(log::reset_event(
                        trimmed,
                        after,
                        lost_through,
                    )));
                    after = lost_through;
                }
            }
            first = false;
            for entry in &entries {
                if entry.id > after {
                    replay.push(Chunk::Events(log::encode_entry(
                        entry.id,
                        entry.event.as_deref(),
                        &entry.data,
                    )));
                    after = entry.id;
                }
            }
            if entries.len() == PAGE {
                continue;
            }
            // Everything up to `after` is in `replay`: wait for the tail
            // to reach it, then let the ring supply the rest.
            if let Some(sub) = self.join_tail(&info, after, &mut replay).await {
                return sub;
            }
        }
        None
    }

    /// Registers once the tail has read up to `after`, with the ring's
    /// entries after it appended to `replay`. `Some(None)`: give up;
    /// `None`: the ring no longer covers `after`, read another page.
    async fn join_tail(
        &self,
        info: &LogInfo,
        after: StreamId,
        replay: &mut Vec<Chunk>,
    ) -> Option<Option<Subscription>> {
        let waited_from = tokio::time::Instant::now();
        loop {
            {
                let ring = self.ring();
                if !ring.up || ring.origin != info.origin {
                    return Some(None);
                }
                if ring.latest >= after {
                    let held = ring.after(after)?;
                    replay.extend(held.cloned().map(Chunk::Events));
                    let sub = self.hub.subscribe_with(std::mem::take(replay));
                    return Some(Some(sub));
                }
            }
            if waited_from.elapsed() > Duration::from_secs(5) {
                return Some(None);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

// ANCHOR: subscribe
impl Feed for RedisFeed {
    type Subscription = RedisSubscription;

    fn subscribe(&self, last_event_id: Option<&str>) -> RedisSubscription {
        let inner = &self.inner;
        let ring = inner.ring();
        if !ring.up {
            return RedisSubscription::ended();
        }
        let state = match last_event_id.and_then(StreamId::parse) {
            // A first visit (or an id that cannot be ours): from now on.
            None => {
                let marker = Chunk::Events(log::position_marker(ring.latest));
                State::Live(inner.hub.subscribe_with([marker]))
            }
            Some(last) => match ring.after(last) {
                Some(held) => {
                    let replay: Vec<Chunk> = held.cloned().map(Chunk::Events).collect();
                    State::Live(inner.hub.subscribe_with(replay))
                }
                None => State::Loading(Box::pin(inner.clone().resume(last))),
            },
        };
        RedisSubscription { state }
    }
}
// ANCHOR_END: subscribe

/// One subscriber of a [`RedisFeed`]: resuming from Redis first if it has
/// to, then live.
pub struct RedisSubscription {
    state: State,
}

type Resuming = Pin<Box<dyn Future<Output = Option<Subscription>> + Send>>;

enum State {
    Loading(Resuming),
    Live(Subscription),
    Ended(Option<Bytes>),
}

impl RedisSubscription {
    fn ended() -> Self {
        RedisSubscription {
            state: State::Ended(Some(Bytes::from_static(FAREWELL))),
        }
    }
}

impl std::fmt::Debug for RedisSubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            State::Loading(_) => "loading",
            State::Live(_) => "live",
            State::Ended(_) => "ended",
        };
        f.debug_struct("RedisSubscription")
            .field("state", &state)
            .finish()
    }
}

impl Subscribe for RedisSubscription {
    fn poll_ready_chunks(&mut self, cx: &mut Context<'_>, out: &mut Vec<Chunk>) -> Poll<FeedState> {
        loop {
            match &mut self.state {
                State::Loading(resuming) => match resuming.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Some(sub)) => self.state = State::Live(sub),
                    Poll::Ready(None) => *self = RedisSubscription::ended(),
                },
                State::Live(sub) => return sub.poll_ready_chunks(cx, out),
                State::Ended(farewell) => {
                    out.extend(farewell.take().map(Chunk::Events));
                    return Poll::Ready(FeedState::Ended);
                }
            }
        }
    }
}
