//! Beyond one machine: the demo's `/ticker` and `/chat` on Redis Streams,
//! so that several instances behind one load balancer serve the same
//! events under the same ids (feature `redis`, flag `--redis URL`).
//!
//! * [`log`]: the rules, without I/O: stream ids, judging a client's
//!   `Last-Event-ID` against what the stream holds, the `reset` event;
//! * `conn`: connecting, reconnecting, the Lua scripts and their replies;
//! * [`feed`]: [`RedisFeed`], a [`Feed`](crate::sse::Feed) on a Redis
//!   stream, tailed by each instance into its own fan-out;
//! * [`lease`]: [`Lease`], which one instance produces the ticker's quotes;
//! * [`chat_relay`]: [`ChatRelay`], the chat room across instances.
//!
//! [`RedisBroker::connect`] wires them together for the demo binary.

pub mod chat_relay;
mod conn;
pub mod feed;
pub mod lease;
pub mod log;

use std::fmt;
use std::time::Duration;

pub use chat_relay::ChatRelay;
pub use feed::{FeedConfig, RedisFeed, RedisSubscription};
pub use lease::Lease;
pub use log::{StreamId, Verdict};

use crate::app::chat::{Room, RoomConfig};
use crate::app::ticker::Market;

/// How the demo uses Redis. From [`RedisConfig::new`] with `with_` setters.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RedisConfig {
    /// `redis://host:port[/db]`.
    pub url: String,
    /// Prefix of every key: `PREFIX:ticker`, `PREFIX:chat`, their
    /// `:origin` keys, and the lease `PREFIX:ticker:lease`. Default
    /// `realtime-events`.
    pub prefix: String,
    /// The ticker stream's feed settings (its retention window is
    /// [`FeedConfig::max_len`]).
    pub ticker: FeedConfig,
    /// How long a producer lease lasts without renewal: a dead producer
    /// is replaced within about this long (plus a third of it). Default 3 s.
    pub lease_ttl: Duration,
    /// Time between two quotes. Default 500 ms, the in-memory ticker's.
    pub ticker_interval: Duration,
}

impl RedisConfig {
    /// The defaults, for the server at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        RedisConfig {
            url: url.into(),
            prefix: "realtime-events".into(),
            ticker: FeedConfig::default(),
            lease_ttl: Duration::from_secs(3),
            ticker_interval: Duration::from_millis(500),
        }
    }

    /// Sets [`prefix`](Self::prefix).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets [`ticker`](Self::ticker).
    pub fn with_ticker(mut self, feed: FeedConfig) -> Self {
        self.ticker = feed;
        self
    }

    /// Sets [`lease_ttl`](Self::lease_ttl).
    pub fn with_lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }

    /// Sets [`ticker_interval`](Self::ticker_interval).
    pub fn with_ticker_interval(mut self, every: Duration) -> Self {
        self.ticker_interval = every;
        self
    }
}

/// Redis could not be used at start.
#[derive(Debug)]
pub struct ConnectError {
    url: String,
    source: redis::RedisError,
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot use Redis at {}: {}", self.url, self.source)
    }
}

impl std::error::Error for ConnectError {}

/// The demo's broker: the ticker feed, the chat relay and the lease.
/// Cloning gives another handle to the same broker.
#[derive(Debug, Clone)]
pub struct RedisBroker {
    ticker: RedisFeed,
    chat: ChatRelay,
    lease: Lease,
}

impl RedisBroker {
    /// Connects, checks that Redis answers, and starts the tails, the
    /// lease and the ticker's producer. Must be called inside a tokio
    /// runtime.
    ///
    /// # Errors
    ///
    /// The URL is not a Redis URL, or Redis does not answer now.
    pub async fn connect(config: RedisConfig) -> Result<RedisBroker, ConnectError> {
        let fail = |source| ConnectError {
            url: config.url.clone(),
            source,
        };
        let client = redis::Client::open(config.url.as_str()).map_err(fail)?;
        let mut check = conn::connect(&client, conn::CONNECT_TIMEOUT)
            .await
            .map_err(fail)?;
        redis::cmd("PING")
            .query_async::<String>(&mut check)
            .await
            .map_err(fail)?;
        let prefix = &config.prefix;
        let ticker = RedisFeed::start(
            client.clone(),
            format!("{prefix}:ticker"),
            config.ticker,
            None,
        )
        .await
        .map_err(fail)?;
        let chat_feed = FeedConfig::default().with_max_len(1000).with_ring(0);
        let chat = ChatRelay::start(client.clone(), format!("{prefix}:chat"), chat_feed)
            .await
            .map_err(fail)?;
        let lease = Lease::start(
            conn::Shared::new(client),
            format!("{prefix}:ticker:lease"),
            instance_id(),
            config.lease_ttl,
        );
        spawn_producer(ticker.clone(), lease.clone(), config.ticker_interval);
        Ok(RedisBroker {
            ticker,
            chat,
            lease,
        })
    }

    /// The ticker's feed, for `/ticker`.
    pub fn ticker(&self) -> &RedisFeed {
        &self.ticker
    }

    /// This instance's chat room, relayed through Redis.
    pub fn chat_room(&self, config: RoomConfig) -> Room {
        self.chat.room(config)
    }

    /// The ticker's producer lease.
    pub fn lease(&self) -> &Lease {
        &self.lease
    }

    /// Whether both tails are connected.
    pub fn is_up(&self) -> bool {
        self.ticker.is_up() && self.chat.is_up()
    }
}

// ANCHOR: producer
/// Publishes a quote every `interval`, but only while this instance holds
/// the lease; the others wait their turn. A new holder first reads the
/// latest quotes, so prices carry on where the previous producer left them.
fn spawn_producer(feed: RedisFeed, lease: Lease, interval: Duration) {
    tokio::spawn(async move {
        let seed = u64::from_str_radix(&lease.id()[..16.min(lease.id().len())], 16).unwrap_or(1);
        let mut market = Market::new(seed);
        let mut every = tokio::time::interval(interval);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut producing = false;
        loop {
            every.tick().await;
            if !lease.is_held() {
                producing = false;
                continue;
            }
            if !producing {
                // Taking over: carry on from the last published prices,
                // so the quotes do not jump back to the opening ones.
                if let Ok(recent) = feed.recent(64).await {
                    for entry in recent
                        .iter()
                        .filter(|e| e.event.as_deref() == Some("quote"))
                    {
                        market.resume_from(&entry.data);
                    }
                }
                producing = true;
            }
            let quote = market.next_quote();
            if let Err(err) = feed.publish("quote", &quote.to_json()).await {
                tracing::debug!(%err, "ticker: quote not published (redis unreachable)");
            }
        }
    });
}
// ANCHOR_END: producer

/// A name for this process in the lease: random, so two instances on one
/// host never share it.
fn instance_id() -> String {
    let mut bytes = [0u8; 8];
    // Without entropy, the clock still tells two processes apart.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        bytes = (nanos ^ u64::from(std::process::id())).to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
