//! `GET /chat?nick=NAME`: a chat room over WebSocket.
//!
//! Every text message a member sends is broadcast to every member as
//! `NAME: text`; joins and departures are announced as `* NAME joined` and
//! `* NAME left`. Names are 1–24 letters, digits, `-` or `_` (anything else
//! becomes `guest-N`).
//!
//! # Backpressure
//!
//! Each member has a bounded queue of [`RoomConfig::queue`] messages
//! between the room and its socket. Broadcasting never waits: when a
//! member's queue is full, that member is *disconnected* (and the others
//! are told `* NAME left (too slow)`). We chose disconnecting over dropping
//! messages because a chat with silent gaps is worse than a reconnect, and
//! because it frees the slow member's memory at once. A member that never
//! reads therefore costs at most `queue` messages of at most
//! [`RoomConfig::max_message`] bytes, and never slows anyone else down.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, Notify};

use crate::server::{Request, Response};
use crate::ws::{self, close, Config, HandshakeConfig, Limits, Message};

/// Settings for a [`Room`]. `#[non_exhaustive]`: start from the default
/// and chain the `with_*` setters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RoomConfig {
    /// Messages that may wait for one member before it is disconnected.
    pub queue: usize,
    /// The longest text message a member may send, in bytes.
    pub max_message: usize,
    /// How long the room tries to send a close frame to a member it
    /// disconnects (too slow, or it sent binary) before hanging up. The
    /// member's socket may be full, so the close must not be awaited for
    /// ever.
    pub close_timeout: Duration,
}

impl Default for RoomConfig {
    fn default() -> Self {
        RoomConfig {
            queue: 64,
            max_message: 4096,
            close_timeout: Duration::from_secs(1),
        }
    }
}

impl RoomConfig {
    /// Sets [`RoomConfig::queue`].
    pub fn with_queue(mut self, queue: usize) -> Self {
        self.queue = queue;
        self
    }

    /// Sets [`RoomConfig::max_message`].
    pub fn with_max_message(mut self, bytes: usize) -> Self {
        self.max_message = bytes;
        self
    }

    /// Sets [`RoomConfig::close_timeout`].
    pub fn with_close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }
}

struct Member {
    nick: String,
    queue: mpsc::Sender<Arc<str>>,
    /// Woken when the room gives up on this member.
    kicked: Arc<Notify>,
}

/// A broadcast room. Cheap to clone: clones share the room.
#[derive(Clone)]
pub struct Room {
    inner: Arc<Inner>,
}

struct Inner {
    config: RoomConfig,
    members: Mutex<HashMap<u64, Member>>,
    next_id: AtomicU64,
    relay: Option<Relay>,
}

/// Where a room sends what is said in it instead of straight to its
/// members: a broker that delivers each line to the room of every
/// instance, this one's included (see `broker::ChatRelay`).
pub type Relay = Arc<dyn Fn(&str) + Send + Sync>;

impl std::fmt::Debug for Room {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Room")
            .field("members", &self.len())
            .field("relayed", &self.inner.relay.is_some())
            .finish()
    }
}

impl Default for Room {
    fn default() -> Self {
        Room::new(RoomConfig::default())
    }
}

// ANCHOR: broadcast
impl Room {
    /// An empty room.
    pub fn new(config: RoomConfig) -> Self {
        Room::build(config, None)
    }

    /// A room whose lines go through `relay`, which must hand every line
    /// back to [`broadcast`](Self::broadcast) (here and on the other
    /// instances).
    pub fn with_relay(config: RoomConfig, relay: Relay) -> Self {
        Room::build(config, Some(relay))
    }

    fn build(config: RoomConfig, relay: Option<Relay>) -> Self {
        Room {
            inner: Arc::new(Inner {
                config,
                members: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(1),
                relay,
            }),
        }
    }

    /// Says `line` in the room: through the relay if there is one, else
    /// straight to this room's members.
    pub fn say(&self, line: &str) {
        match &self.inner.relay {
            Some(relay) => relay(line),
            None => self.broadcast(line),
        }
    }

    /// How many members are in the room.
    pub fn len(&self) -> usize {
        self.members().len()
    }

    /// True when nobody is in the room.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most messages waiting in any one member's queue: never more
    /// than [`RoomConfig::queue`], which is what keeps a member that does
    /// not read from holding the room's history.
    pub fn longest_queue(&self) -> usize {
        self.members()
            .values()
            .map(|m| m.queue.max_capacity() - m.queue.capacity())
            .max()
            .unwrap_or(0)
    }

    fn members(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Member>> {
        // A panic elsewhere while holding the lock leaves the map usable.
        self.inner.members.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `line` for every member of this room without ever waiting. Members whose
    /// queue is full are removed and told to disconnect; their departure
    /// is announced in turn (which can only remove more slow members, so
    /// this ends).
    pub fn broadcast(&self, line: &str) {
        let mut pending = vec![Arc::<str>::from(line)];
        while let Some(line) = pending.pop() {
            let mut members = self.members();
            let mut too_slow = Vec::new();
            members.retain(|_, m| match m.queue.try_send(line.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    m.kicked.notify_one();
                    too_slow.push(m.nick.clone());
                    false
                }
                // Its connection is already ending; `leave` will announce it.
                Err(mpsc::error::TrySendError::Closed(_)) => true,
            });
            drop(members);
            for nick in too_slow {
                let notice = format!("* {nick} left (too slow)");
                match &self.inner.relay {
                    Some(relay) => relay(&notice),
                    None => pending.push(Arc::from(notice)),
                }
            }
        }
    }

    /// Adds a member and announces it.
    fn join(&self, nick: String) -> (u64, mpsc::Receiver<Arc<str>>, Arc<Notify>) {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (queue, receiver) = mpsc::channel(self.inner.config.queue.max(1));
        let kicked = Arc::new(Notify::new());
        let notice = format!("* {nick} joined");
        self.members().insert(
            id,
            Member {
                nick,
                queue,
                kicked: kicked.clone(),
            },
        );
        self.say(&notice);
        (id, receiver, kicked)
    }

    /// Removes a member (if the room has not already) and announces it.
    fn leave(&self, id: u64) {
        let removed = self.members().remove(&id);
        if let Some(member) = removed {
            self.say(&format!("* {} left", member.nick));
        }
    }
}
// ANCHOR_END: broadcast

/// A valid nickname from `?nick=`, or `guest-N`.
fn nickname(request: &Request, room: &Room) -> String {
    match request.query_param("nick") {
        Some(n)
            if (1..=24).contains(&n.len())
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            n.to_string()
        }
        _ => format!("guest-{}", room.inner.next_id.load(Ordering::Relaxed)),
    }
}

/// The `/chat` handler for `room`.
pub async fn handle(request: Request, room: Room) -> Response {
    let nick = nickname(&request, &room);
    let config = Config {
        limits: Limits {
            max_frame_size: room.inner.config.max_message as u64,
            max_message_size: room.inner.config.max_message as u64,
        },
        compression: Some(ws::DeflateConfig::default()),
        ..Config::default()
    };
    ws::upgrade(
        &request,
        &HandshakeConfig::default(),
        config,
        move |socket| session(socket, room, nick),
    )
}

// ANCHOR: session
/// One member's connection: a task that writes the member's queue to the
/// socket, while this one reads the socket into the room.
async fn session<S>(socket: ws::WebSocket<S>, room: Room, nick: String)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (mut reader, writer) = socket.split();
    let close_timeout = room.inner.config.close_timeout;
    let (id, mut queue, kicked) = room.join(nick.clone());
    let out = writer.clone();
    let mut writing = tokio::spawn(async move {
        while let Some(line) = queue.recv().await {
            if out.send(Message::Text(line.to_string())).await.is_err() {
                break;
            }
        }
    });
    loop {
        tokio::select! {
            msg = reader.recv() => match msg {
                Some(Ok(Message::Text(text))) => room.say(&format!("{nick}: {text}")),
                Some(Ok(Message::Binary(_))) => {
                    let closing = writer.close(close::UNSUPPORTED_DATA, "text only");
                    if tokio::time::timeout(close_timeout, closing).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {} // pings are answered by `recv`
            },
            () = kicked.notified() => {
                // The writer is stuck behind a peer that does not read:
                // stop it, try a close briefly, and hang up.
                writing.abort();
                let closing = writer.close(close::POLICY_VIOLATION, "too slow");
                let _ = tokio::time::timeout(close_timeout, closing).await;
                break;
            }
            _ = &mut writing => break,
        }
    }
    writing.abort();
    room.leave(id);
}
// ANCHOR_END: session
