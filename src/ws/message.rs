//! What applications send and receive: whole messages, not frames.
//!
//! Fragmentation is a transport detail (RFC 6455 §5.4); the message layer
//! reassembles fragments so users only ever see complete messages, plus the
//! control frames, which are never fragmented.

use bytes::Bytes;

/// A complete WebSocket message or control frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message; always valid UTF-8, hence a `String`.
    Text(String),
    /// A binary message.
    Binary(Bytes),
    /// A ping; the library answers it with a pong automatically.
    Ping(Bytes),
    /// A pong, the answer to our ping (or an unsolicited heartbeat).
    Pong(Bytes),
    /// The closing handshake, with an optional code and reason.
    Close(Option<CloseFrame>),
}

impl Message {
    /// Is this a close, ping or pong rather than application data?
    pub fn is_control(&self) -> bool {
        matches!(
            self,
            Message::Ping(_) | Message::Pong(_) | Message::Close(_)
        )
    }
}

/// The body of a close frame: why the sender is closing (RFC 6455 §5.5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// The status code (§7.4), e.g. 1000 for a normal closure.
    pub code: u16,
    /// A human-readable reason, at most 123 bytes of UTF-8.
    pub reason: String,
}
