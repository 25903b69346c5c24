//! WebSockets (RFC 6455), written by hand.
//!
//! The module is layered so each piece can be read, tested and fuzzed on
//! its own:
//!
//! - [`frame`]: the frame header codec (bytes ⇄ [`FrameHeader`]).
//! - [`mask`]: the XOR masking clients apply to every payload.
//! - [`utf8`]: incremental UTF-8 validation, so bad text fails fast.
//! - [`close`]: close codes and the close frame payload.
//! - [`message`]: the [`Message`] type applications see.
//! - [`extensions`]: `Sec-WebSocket-Extensions` and the negotiation of
//!   permessage-deflate (RFC 7692).
//! - [`deflate`]: the permessage-deflate codec, bounded by the size limit.
//! - [`protocol`]: the sans-IO state machine ([`Reader`], [`Writer`],
//!   [`Connection`]): fragmentation, control frames, limits, closing.
//! - [`socket`]: the tokio shell, [`WebSocket`], over any upgraded stream.
//! - [`handshake`]: the opening handshake, sans-IO, both roles.
//! - [`server`] and [`client`]: the handshake in the tokio shell,
//!   [`upgrade`] a routed request, or [`connect`] to a server.
//!
//! Nothing below `socket` does I/O: feed bytes in, get messages or a typed
//! error (carrying the close code to send) out.

pub mod client;
pub mod close;
pub mod deflate;
pub mod extensions;
pub mod frame;
pub mod handshake;
pub mod mask;
pub mod message;
pub mod protocol;
pub mod server;
pub mod socket;
pub mod utf8;

/// The buffer types the API speaks in, re-exported so callers (and the
/// fuzz crate) need not depend on a matching `bytes` version themselves.
pub use bytes::{Bytes, BytesMut};
pub use client::{client_handshake, connect, ClientConfig, ConnectError, WsUrl};
pub use extensions::{DeflateConfig, DeflateParams, ExtensionError};
pub use frame::{FrameError, FrameHeader, Opcode};
pub use handshake::{accept_key, Accepted, ClientHandshakeError, HandshakeConfig, HandshakeError};
pub use mask::apply_mask;
pub use message::{CloseFrame, Message};
pub use protocol::{
    CloseState, Connection, Limits, ProtocolError, Reader, Role, SendError, TimedOut, Timers,
    Writer, ZERO_COPY_FROM,
};
pub use server::upgrade;
pub use socket::{Config, WebSocket, WsError, WsReader, WsWriter};
pub use utf8::{Utf8Error, Utf8Validator};
