//! The chat room across instances: every line said in a room goes into a
//! Redis stream, and every instance's tail hands each line it reads to its
//! own room, which sends it to its members.
//!
//! A stream rather than pub/sub: the tail reads after the last id it has
//! seen, so a line said while an instance was briefly cut off from Redis
//! still reaches that instance's members when it reconnects, in order;
//! pub/sub would drop it silently. The stream is trimmed short (chat keeps
//! no history for newcomers), and the same [`RedisFeed`] that serves the
//! ticker does the tailing, reconnecting and health reporting.
//!
//! Lines are appended by one task per instance, in the order they were
//! said there. If Redis is down, a line is dropped (with a log line)
//! rather than queued without bound.

use std::sync::{Arc, Mutex};

use redis::{Client, RedisResult};
use tokio::sync::mpsc;

use super::feed::{FeedConfig, RedisFeed, Tap};
use super::log::Entry;
use crate::app::chat::{Room, RoomConfig};

/// Lines that may wait to be appended before new ones are dropped.
const PENDING_LINES: usize = 1024;

/// The relay between this instance's room and the chat stream.
#[derive(Debug, Clone)]
pub struct ChatRelay {
    feed: RedisFeed,
    room: Arc<Mutex<Option<Room>>>,
    lines: mpsc::Sender<String>,
}

impl ChatRelay {
    /// Starts tailing `stream` and the task that appends to it.
    pub(crate) async fn start(
        client: Client,
        stream: String,
        config: FeedConfig,
    ) -> RedisResult<ChatRelay> {
        let room: Arc<Mutex<Option<Room>>> = Arc::default();
        let to_room = room.clone();
        // ANCHOR: tap
        let tap: Tap = Arc::new(move |entries: &[Entry]| {
            let room = to_room.lock().unwrap_or_else(|e| e.into_inner()).clone();
            if let Some(room) = room {
                for entry in entries {
                    room.broadcast(&entry.data);
                }
            }
        });
        // ANCHOR_END: tap
        let feed = RedisFeed::start(client, stream, config, Some(tap)).await?;
        let (lines, mut pending) = mpsc::channel::<String>(PENDING_LINES);
        let appender = feed.clone();
        tokio::spawn(async move {
            while let Some(line) = pending.recv().await {
                if let Err(err) = appender.publish("chat", &line).await {
                    tracing::warn!(%err, "chat: a line was not relayed (redis unreachable)");
                }
            }
        });
        Ok(ChatRelay { feed, room, lines })
    }

    /// The room of this instance: what is said in it goes through Redis.
    pub fn room(&self, config: RoomConfig) -> Room {
        let lines = self.lines.clone();
        let room = Room::with_relay(
            config,
            Arc::new(move |line: &str| {
                if lines.try_send(line.to_string()).is_err() {
                    tracing::warn!("chat: too many lines waiting for redis; one dropped");
                }
            }),
        );
        *self.room.lock().unwrap_or_else(|e| e.into_inner()) = Some(room.clone());
        room
    }

    /// Whether the relay's tail is connected.
    pub fn is_up(&self) -> bool {
        self.feed.is_up()
    }
}
