//! The sans-IO WebSocket message layer: bytes in, messages out, and back.
//!
//! Nothing here touches a socket. A [`Reader`] is fed whatever bytes have
//! arrived and turns them into complete [`Message`]s, enforcing every rule
//! of RFC 6455 that a receiver must check. A [`Writer`] turns messages into
//! frames in an output buffer and keeps the closing handshake state. A
//! [`Connection`] glues the two together the way a real endpoint needs
//! (answer pings, echo a close, send a close on a protocol error), so a shell
//! only has to move bytes: feed input, take events, write the output.
//!
//! Payloads are processed *as they stream in*: a frame's header is checked
//! against the limits before any of its payload is buffered, and text is
//! UTF-8 validated piece by piece, so a bad byte fails the connection the
//! moment it arrives, even in the middle of a frame.

use bytes::{Buf, BufMut, BytesMut};
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher;
use std::time::{Duration, Instant};

use super::close::{self, is_valid_close_code, parse_close_payload, ClosePayloadError};
use super::deflate::{Deflater, InflateError, Inflater};
use super::extensions::DeflateParams;
use super::frame::{write_frame, FrameError, FrameHeader, Opcode, MAX_CONTROL_PAYLOAD};
use super::mask::apply_mask;
use super::message::{CloseFrame, Message};
use super::utf8::Utf8Validator;

/// Which end of the connection we are. It decides masking (RFC 6455 §5.1):
/// clients mask every frame they send, servers never do, and each side
/// refuses frames that break that rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// We accepted the connection.
    Server,
    /// We opened the connection.
    Client,
}

// ANCHOR: ws_limits
/// Size limits for received data, so a peer cannot make us allocate at will.
///
/// Both are checked against frame headers *before* the payload is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest payload a single frame may declare.
    pub max_frame_size: u64,
    /// The largest reassembled data message (sum of its fragments).
    pub max_message_size: u64,
}

impl Default for Limits {
    /// 16 MiB per frame, 64 MiB per message.
    ///
    /// The Autobahn test suite sends single-frame messages of up to 16 MiB,
    /// so that is the floor for a conforming default. Allowing messages of
    /// several frames to grow to 64 MiB leaves room for fragmented streams
    /// while still capping what one connection can pin in memory; servers
    /// with many connections should lower both.
    fn default() -> Self {
        Limits {
            max_frame_size: 16 << 20,
            max_message_size: 64 << 20,
        }
    }
}
// ANCHOR_END: ws_limits

/// A rule of RFC 6455 the peer broke. The connection must be failed, after
/// sending a close frame with [`ProtocolError::close_code`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    /// The frame header itself is malformed (1002).
    Frame(FrameError),
    /// RSV1–3 set where no negotiated extension defines them (1002): any
    /// bit without an extension, RSV1 on a control frame or a
    /// continuation with permessage-deflate, RSV2 and RSV3 always.
    ReservedBits,
    /// A compressed message is not valid DEFLATE data (1002).
    Inflate,
    /// A server got an unmasked frame: clients must mask (1002).
    UnmaskedFrame,
    /// A client got a masked frame: servers must not mask (1002).
    MaskedFrame,
    /// A control frame with FIN clear: control frames are never fragmented (1002).
    FragmentedControl,
    /// A control frame with more than 125 bytes of payload (1002).
    ControlTooLong,
    /// A continuation frame with no message in progress (1002).
    UnexpectedContinuation,
    /// A new text/binary frame while a fragmented message is in progress (1002).
    ExpectedContinuation,
    /// Text that is not UTF-8 (1007).
    InvalidUtf8,
    /// A frame larger than [`Limits::max_frame_size`] (1009).
    FrameTooLarge {
        /// The declared payload length.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// A message growing past [`Limits::max_message_size`] (1009).
    MessageTooLarge {
        /// The size the message would reach with this frame.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// An invalid close frame payload (1002, or 1007 for a non-UTF-8 reason).
    InvalidClose(ClosePayloadError),
}

impl ProtocolError {
    /// The status code to send in our close frame (RFC 6455 §7.4.1).
    pub fn close_code(&self) -> u16 {
        match self {
            ProtocolError::Frame(e) => e.close_code(),
            ProtocolError::InvalidUtf8 => close::INVALID_PAYLOAD,
            ProtocolError::FrameTooLarge { .. } | ProtocolError::MessageTooLarge { .. } => {
                close::MESSAGE_TOO_BIG
            }
            ProtocolError::InvalidClose(e) => e.close_code(),
            ProtocolError::ReservedBits
            | ProtocolError::Inflate
            | ProtocolError::UnmaskedFrame
            | ProtocolError::MaskedFrame
            | ProtocolError::FragmentedControl
            | ProtocolError::ControlTooLong
            | ProtocolError::UnexpectedContinuation
            | ProtocolError::ExpectedContinuation => close::PROTOCOL_ERROR,
        }
    }
}

impl From<FrameError> for ProtocolError {
    fn from(e: FrameError) -> Self {
        ProtocolError::Frame(e)
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::Frame(e) => write!(f, "{e}"),
            ProtocolError::ReservedBits => f.write_str("reserved bits set"),
            ProtocolError::Inflate => f.write_str("invalid compressed data"),
            ProtocolError::UnmaskedFrame => f.write_str("client frame not masked"),
            ProtocolError::MaskedFrame => f.write_str("server frame masked"),
            ProtocolError::FragmentedControl => f.write_str("fragmented control frame"),
            ProtocolError::ControlTooLong => f.write_str("control frame payload over 125 bytes"),
            ProtocolError::UnexpectedContinuation => f.write_str("continuation without a message"),
            ProtocolError::ExpectedContinuation => f.write_str("new message before the last ended"),
            ProtocolError::InvalidUtf8 => f.write_str("invalid UTF-8 in text"),
            ProtocolError::FrameTooLarge { len, max } => {
                write!(f, "frame of {len} bytes exceeds limit {max}")
            }
            ProtocolError::MessageTooLarge { len, max } => {
                write!(f, "message of {len} bytes exceeds limit {max}")
            }
            ProtocolError::InvalidClose(ClosePayloadError::TooShort) => {
                f.write_str("close payload of 1 byte")
            }
            ProtocolError::InvalidClose(ClosePayloadError::InvalidCode(c)) => {
                write!(f, "invalid close code {c}")
            }
            ProtocolError::InvalidClose(ClosePayloadError::InvalidReason) => {
                f.write_str("close reason not UTF-8")
            }
        }
    }
}

impl std::error::Error for ProtocolError {}

/// Why a message could not be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// We already sent a close frame; RFC 6455 §5.5.1 forbids sending more.
    Closed,
    /// A ping/pong payload over 125 bytes or a close reason over 123 bytes.
    ControlTooLong,
    /// A close code that may not appear on the wire (e.g. 1005, 1006).
    InvalidCloseCode(u16),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Closed => f.write_str("close frame already sent"),
            SendError::ControlTooLong => f.write_str("control frame payload too long"),
            SendError::InvalidCloseCode(c) => write!(f, "close code {c} may not be sent"),
        }
    }
}

impl std::error::Error for SendError {}

/// Where the reader is within the current frame.
#[derive(Debug, Clone, Copy)]
enum ReadState {
    /// Waiting for (the rest of) a frame header.
    Header,
    /// Inside a frame's payload.
    Payload {
        header: FrameHeader,
        /// Payload bytes still to come.
        remaining: u64,
        /// Payload bytes already seen, for unmasking in pieces.
        offset: usize,
    },
}

/// A data message being reassembled from its fragments.
#[derive(Debug)]
struct Partial {
    text: bool,
    /// RSV1 was set on the first frame: the payload is deflated.
    compressed: bool,
    data: BytesMut,
    utf8: Utf8Validator,
}

/// The receiving half of the protocol: bytes in, messages out.
#[derive(Debug)]
pub struct Reader {
    role: Role,
    limits: Limits,
    state: ReadState,
    partial: Option<Partial>,
    /// The payload of the control frame being read (at most 125 bytes).
    control: BytesMut,
    /// A close frame was received or an error occurred: nothing more to read.
    closed: bool,
    /// permessage-deflate, if the handshake agreed on it.
    inflater: Option<Inflater>,
}

// ANCHOR: reassemble
impl Reader {
    /// A reader for our `role`, refusing data beyond `limits`.
    pub fn new(role: Role, limits: Limits) -> Self {
        Reader {
            role,
            limits,
            state: ReadState::Header,
            partial: None,
            control: BytesMut::new(),
            closed: false,
            inflater: None,
        }
    }

    /// Decompresses messages the peer marks with RSV1, as `params` (from
    /// the handshake) agreed.
    pub fn set_deflate(&mut self, params: &DeflateParams) {
        self.inflater = Inflater::new(self.role, params);
    }

    /// Does the reader hold decompressor state (a window) right now?
    pub fn holds_inflate_state(&self) -> bool {
        self.inflater.as_ref().is_some_and(Inflater::has_state)
    }

    /// Has the reader finished, by receiving a close frame or an error?
    /// From then on every input byte is discarded.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Consumes bytes from the front of `input` and returns the next complete
    /// message or control frame, `Ok(None)` if more input is needed (in which
    /// case all of `input` that could be used has been consumed; at most an
    /// incomplete header of < 14 bytes is left), or the first protocol error.
    ///
    /// Call it again after each message: `input` may hold more.
    pub fn receive(&mut self, input: &mut BytesMut) -> Result<Option<Message>, ProtocolError> {
        let result = self.receive_inner(input);
        if result.is_err() {
            self.closed = true;
            self.partial = None;
            self.control.clear();
            input.clear();
        }
        result
    }

    fn receive_inner(&mut self, input: &mut BytesMut) -> Result<Option<Message>, ProtocolError> {
        loop {
            if self.closed {
                input.clear();
                return Ok(None);
            }
            if let ReadState::Header = self.state {
                let Some((header, consumed)) = FrameHeader::decode(input)? else {
                    return Ok(None);
                };
                self.start_frame(&header)?;
                input.advance(consumed);
                self.state = ReadState::Payload {
                    header,
                    remaining: header.payload_len,
                    offset: 0,
                };
            }
            let ReadState::Payload {
                header,
                remaining,
                offset,
            } = self.state
            else {
                continue;
            };
            // Take whatever part of the payload has arrived.
            let take = usize::try_from(remaining)
                .unwrap_or(usize::MAX)
                .min(input.len());
            let mut chunk = input.split_to(take);
            if let Some(key) = header.mask {
                apply_mask(&mut chunk, key, offset);
            }
            let remaining = remaining - take as u64;
            self.state = ReadState::Payload {
                header,
                remaining,
                offset: offset.wrapping_add(take),
            };
            if header.opcode.is_control() {
                self.control.extend_from_slice(&chunk);
            } else {
                self.data_chunk(chunk, remaining == 0 && header.fin)?;
            }
            if remaining > 0 {
                return Ok(None); // input is exhausted
            }
            self.state = ReadState::Header;
            if header.opcode.is_control() {
                return self.finish_control(header.opcode).map(Some);
            }
            if header.fin {
                return self.finish_message().map(Some);
            }
        }
    }

    // ANCHOR: header_rules
    /// Checks a header against the rules before any payload is accepted.
    fn start_frame(&mut self, h: &FrameHeader) -> Result<(), ProtocolError> {
        // RSV1 means "compressed", on the first frame of a data message
        // only (RFC 7692 §6.1), and only if the handshake agreed.
        let compressed_start =
            self.inflater.is_some() && matches!(h.opcode, Opcode::Text | Opcode::Binary);
        if (h.rsv1 && !compressed_start) || h.rsv2 || h.rsv3 {
            return Err(ProtocolError::ReservedBits);
        }
        match (self.role, h.mask.is_some()) {
            (Role::Server, false) => return Err(ProtocolError::UnmaskedFrame),
            (Role::Client, true) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        if h.opcode.is_control() {
            if !h.fin {
                return Err(ProtocolError::FragmentedControl);
            }
            if h.payload_len > MAX_CONTROL_PAYLOAD as u64 {
                return Err(ProtocolError::ControlTooLong);
            }
            self.control.clear();
            return Ok(());
        }
        if h.payload_len > self.limits.max_frame_size {
            return Err(ProtocolError::FrameTooLarge {
                len: h.payload_len,
                max: self.limits.max_frame_size,
            });
        }
        let so_far = match (&self.partial, h.opcode) {
            (None, Opcode::Continuation) => return Err(ProtocolError::UnexpectedContinuation),
            (Some(_), Opcode::Text | Opcode::Binary) => {
                return Err(ProtocolError::ExpectedContinuation)
            }
            (Some(p), _) => p.data.len() as u64,
            (None, _) => 0,
        };
        // A compressed frame's wire length says nothing about what it
        // inflates to: that is limited while inflating (`inflate_chunk`).
        let compressed = h.rsv1 || self.partial.as_ref().is_some_and(|p| p.compressed);
        let len = if compressed {
            so_far
        } else {
            so_far.saturating_add(h.payload_len)
        };
        if len > self.limits.max_message_size {
            return Err(ProtocolError::MessageTooLarge {
                len,
                max: self.limits.max_message_size,
            });
        }
        if self.partial.is_none() {
            self.partial = Some(Partial {
                text: h.opcode == Opcode::Text,
                compressed: h.rsv1,
                data: BytesMut::new(),
                utf8: Utf8Validator::new(),
            });
        }
        Ok(())
    }
    // ANCHOR_END: header_rules

    /// Adds a piece of payload to the message, validating text on the way
    /// (`last`: the piece ends the message).
    fn data_chunk(&mut self, chunk: BytesMut, last: bool) -> Result<(), ProtocolError> {
        let Some(p) = self.partial.as_mut() else {
            return Ok(()); // start_frame guarantees a message; nothing to add to
        };
        if p.compressed {
            return self.inflate_chunk(Some(&chunk));
        }
        // A text message that arrives whole, in one piece, is checked once,
        // by `finish_message`, which this same call reaches next: the same
        // bytes are consumed and the same error returned as if the piece
        // were checked here too, and a small message is checked once, not
        // twice. Pieces of a longer message are checked as they come, so
        // that bad text fails the connection before the rest arrives.
        let whole = last && p.data.is_empty();
        if p.text && !whole {
            p.utf8
                .feed(&chunk)
                .map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        p.data.unsplit(chunk);
        Ok(())
    }

    // ANCHOR: inflate_chunk
    /// Inflates a piece of a compressed message into it (`None`: the end
    /// of the message, which puts the trailer back), then validates the
    /// new text. The size limit applies to the inflated bytes and is
    /// checked while inflating, so a bomb stops at the limit.
    fn inflate_chunk(&mut self, chunk: Option<&[u8]>) -> Result<(), ProtocolError> {
        let (Some(p), Some(inflater)) = (self.partial.as_mut(), self.inflater.as_mut()) else {
            return Ok(());
        };
        let max = usize::try_from(self.limits.max_message_size).unwrap_or(usize::MAX);
        let before = p.data.len();
        let result = match chunk {
            Some(chunk) => inflater.inflate(chunk, &mut p.data, max),
            None => inflater.finish(&mut p.data, max),
        };
        // What was inflated before an error comes first in the stream:
        // check it first, so the verdict does not depend on how the input
        // was cut into reads.
        if p.text {
            p.utf8
                .feed(&p.data[before..])
                .map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        result.map_err(|e| match e {
            InflateError::Corrupt => ProtocolError::Inflate,
            InflateError::TooLarge { len } => ProtocolError::MessageTooLarge {
                len,
                max: self.limits.max_message_size,
            },
        })
    }
    // ANCHOR_END: inflate_chunk

    fn finish_message(&mut self) -> Result<Message, ProtocolError> {
        if self.partial.as_ref().is_some_and(|p| p.compressed) {
            self.inflate_chunk(None)?;
        }
        let Some(mut p) = self.partial.take() else {
            return Err(ProtocolError::UnexpectedContinuation);
        };
        if !p.text {
            return Ok(Message::Binary(p.data.freeze()));
        }
        p.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
        // Validated piece by piece if it came in pieces, but making a
        // `String` without `unsafe` means proving it once more (a message
        // that came whole is checked only here): a SIMD pass and a copy
        // cost a fraction of std's byte-at-a-time check of non-ASCII text.
        simdutf8::basic::from_utf8(&p.data)
            .map(|text| Message::Text(text.to_owned()))
            .map_err(|_| ProtocolError::InvalidUtf8)
    }

    fn finish_control(&mut self, opcode: Opcode) -> Result<Message, ProtocolError> {
        let payload = self.control.split().freeze();
        Ok(match opcode {
            Opcode::Ping => Message::Ping(payload),
            Opcode::Pong => Message::Pong(payload),
            _ => {
                let frame = parse_close_payload(&payload).map_err(ProtocolError::InvalidClose)?;
                self.closed = true;
                Message::Close(frame)
            }
        })
    }
}
// ANCHOR_END: reassemble

// ANCHOR: mask_keys
/// Masking keys for the client role, from the operating system's random
/// source as RFC 6455 §5.3 asks ("a strong source of entropy"): a script
/// in the page must not be able to predict the key of the next frame, or
/// it could choose payload bytes that read as something else to a proxy
/// on the way.
///
/// One system call per key would cost more than masking a small frame, so
/// keys are drawn from a pool of random bytes refilled 256 at a time.
#[derive(Debug)]
struct MaskKeys {
    pool: [u8; 256],
    used: usize,
}

impl MaskKeys {
    fn new() -> Self {
        MaskKeys {
            pool: [0; 256],
            used: 256,
        }
    }

    fn next_key(&mut self) -> [u8; 4] {
        if self.used + 4 > self.pool.len() {
            if let Err(err) = getrandom::fill(&mut self.pool) {
                // Every platform tokio runs on has a random source; if it
                // fails anyway, masking with hashed counters still defeats
                // byte patterns chosen in advance, which is its purpose.
                tracing::warn!(
                    "OS random source failed ({err}); masking keys fall back to hashing"
                );
                fallback_fill(&mut self.pool);
            }
            self.used = 0;
        }
        let key = [
            self.pool[self.used],
            self.pool[self.used + 1],
            self.pool[self.used + 2],
            self.pool[self.used + 3],
        ];
        self.used += 4;
        key
    }
}
// ANCHOR_END: mask_keys

/// Fills `pool` from std's per-process random hasher keys.
fn fallback_fill(pool: &mut [u8]) {
    let seed = RandomState::new();
    for (i, chunk) in pool.chunks_mut(8).enumerate() {
        let word = seed.hash_one(i).to_le_bytes();
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
}

/// From this payload size on, [`Writer::send_zero_copy`] leaves a server's
/// payload where it lies: below it, copying it behind the header costs less
/// than a second buffer in the write.
pub const ZERO_COPY_FROM: usize = 4 * 1024;

/// The sending half of the protocol: messages in, frame bytes out, plus the
/// closing handshake state.
#[derive(Debug)]
pub struct Writer {
    role: Role,
    output: BytesMut,
    close_sent: bool,
    /// Made at the first masked frame: only a client masks, and a server
    /// with ten thousand connections need not hold a pool for each.
    keys: Option<Box<MaskKeys>>,
    /// permessage-deflate, if the handshake agreed on it.
    deflater: Option<Deflater>,
}

impl Writer {
    /// A writer for our `role` (clients mask, servers don't).
    pub fn new(role: Role) -> Self {
        Writer {
            role,
            output: BytesMut::new(),
            close_sent: false,
            keys: None,
            deflater: None,
        }
    }

    /// Compresses data messages from the configured threshold on, as
    /// `params` (from the handshake) agreed.
    pub fn set_deflate(&mut self, params: &DeflateParams) {
        self.deflater = Deflater::new(self.role, params);
    }

    /// Does the writer hold compressor state right now?
    pub fn holds_deflate_state(&self) -> bool {
        self.deflater.as_ref().is_some_and(Deflater::has_state)
    }

    // ANCHOR: encode_message
    // ANCHOR: send
    /// Encodes `msg` as one frame at the end of the output buffer.
    ///
    /// Sending a close marks the writer closed; any later send fails with
    /// [`SendError::Closed`].
    pub fn send(&mut self, msg: &Message) -> Result<(), SendError> {
        if self.close_sent {
            return Err(SendError::Closed);
        }
        match msg {
            Message::Text(s) => self.data_frame(Opcode::Text, s.as_bytes()),
            Message::Binary(b) => self.data_frame(Opcode::Binary, b),
            Message::Ping(p) | Message::Pong(p) if p.len() > MAX_CONTROL_PAYLOAD => {
                return Err(SendError::ControlTooLong)
            }
            Message::Ping(p) => self.frame(Opcode::Ping, p),
            Message::Pong(p) => self.frame(Opcode::Pong, p),
            Message::Close(None) => {
                self.frame(Opcode::Close, &[]);
                self.close_sent = true;
            }
            Message::Close(Some(c)) => {
                if !is_valid_close_code(c.code) {
                    return Err(SendError::InvalidCloseCode(c.code));
                }
                if c.reason.len() > close::MAX_REASON_LEN {
                    return Err(SendError::ControlTooLong);
                }
                let mut payload = BytesMut::with_capacity(2 + c.reason.len());
                payload.put_u16(c.code);
                payload.put_slice(c.reason.as_bytes());
                self.frame(Opcode::Close, &payload);
                self.close_sent = true;
            }
        }
        Ok(())
    }
    // ANCHOR_END: send

    // ANCHOR: send_zero_copy
    /// Like [`send`](Self::send), but a server's large data message leaves
    /// its payload where it is: only the frame header goes into the output,
    /// and the payload is returned, to be written to the stream right after
    /// the output. Server frames are not masked, so the payload's bytes are
    /// the wire bytes, and copying a large one into the output buffer would
    /// be wasted work. Everything else is encoded whole, as by `send`, and
    /// `None` is returned: a client's frames (which must be masked), control
    /// messages, and payloads under [`ZERO_COPY_FROM`].
    pub fn send_zero_copy<'m>(&mut self, msg: &'m Message) -> Result<Option<&'m [u8]>, SendError> {
        let (opcode, payload) = match msg {
            Message::Text(s) => (Opcode::Text, s.as_bytes()),
            Message::Binary(b) => (Opcode::Binary, &b[..]),
            _ => return self.send(msg).map(|()| None),
        };
        if self.role == Role::Client || payload.len() < ZERO_COPY_FROM || self.compresses(payload) {
            return self.send(msg).map(|()| None);
        }
        if self.close_sent {
            return Err(SendError::Closed);
        }
        FrameHeader::whole(opcode, None, payload.len() as u64).encode(&mut self.output);
        Ok(Some(payload))
    }
    // ANCHOR_END: send_zero_copy

    fn compresses(&self, payload: &[u8]) -> bool {
        self.deflater
            .as_ref()
            .is_some_and(|d| d.wants(payload.len()))
    }

    // ANCHOR: deflate_frame
    /// A data message as one frame: compressed, with RSV1 set, if
    /// permessage-deflate is on and the message is long enough to gain.
    fn data_frame(&mut self, opcode: Opcode, payload: &[u8]) {
        let Some(deflater) = self.deflater.as_mut().filter(|d| d.wants(payload.len())) else {
            return self.frame(opcode, payload);
        };
        let mut compressed = BytesMut::new();
        deflater.compress(payload, &mut compressed);
        let header = FrameHeader {
            rsv1: true,
            ..FrameHeader::whole(opcode, self.mask_key(), 0)
        };
        write_frame(&mut self.output, &header, &compressed);
    }
    // ANCHOR_END: deflate_frame

    fn mask_key(&mut self) -> Option<[u8; 4]> {
        match self.role {
            Role::Client => Some(
                self.keys
                    .get_or_insert_with(|| Box::new(MaskKeys::new()))
                    .next_key(),
            ),
            Role::Server => None,
        }
    }

    fn frame(&mut self, opcode: Opcode, payload: &[u8]) {
        let header = FrameHeader::whole(opcode, self.mask_key(), payload.len() as u64);
        write_frame(&mut self.output, &header, payload);
    }
    // ANCHOR_END: encode_message

    // ANCHOR: respond
    /// Queues the automatic answer to a received message, if it needs one:
    /// a pong with the same payload for a ping (§5.5.2), and for a close a
    /// close echoing its status code, which completes the closing handshake
    /// (§5.5.1). Nothing is sent once our own close has gone out.
    pub fn respond(&mut self, received: &Message) {
        if self.close_sent {
            return;
        }
        let reply = match received {
            Message::Ping(p) => Message::Pong(p.clone()),
            Message::Close(frame) => Message::Close(frame.as_ref().map(|f| CloseFrame {
                code: f.code,
                reason: String::new(),
            })),
            _ => return,
        };
        // Cannot fail: the reader only yields valid control frames.
        let _ = self.send(&reply);
    }

    /// Queues the close frame that fails the connection after `error`.
    pub fn fail(&mut self, error: &ProtocolError) {
        if self.close_sent {
            return;
        }
        let mut reason = error.to_string();
        truncate_at_char(&mut reason, close::MAX_REASON_LEN);
        let _ = self.send(&Message::Close(Some(CloseFrame {
            code: error.close_code(),
            reason,
        })));
    }
    // ANCHOR_END: respond

    /// Have we sent (queued) our close frame?
    pub fn close_sent(&self) -> bool {
        self.close_sent
    }

    /// The bytes waiting to be written to the peer.
    pub fn output(&self) -> &[u8] {
        &self.output
    }

    /// The output buffer, for a shell to `advance` past what it wrote.
    pub fn output_mut(&mut self) -> &mut BytesMut {
        &mut self.output
    }

    /// Takes all pending output bytes.
    pub fn take_output(&mut self) -> BytesMut {
        self.output.split()
    }
}

fn truncate_at_char(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

// ANCHOR: timers
/// The endpoint's clocks: how long a closing handshake may take, and the
/// keepalive that finds a peer which went silent without hanging up (a
/// laptop that slept, a NAT that forgot the connection). Without them such
/// a peer holds its socket, its task and its buffers for ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timers {
    /// How long to wait for the peer's close once ours is out. RFC 6455
    /// leaves the wait to the implementation.
    pub close_timeout: Duration,
    /// Ping the peer after this long without hearing a byte from it;
    /// `None` turns keepalive off.
    pub ping_after: Option<Duration>,
    /// How long the peer has to answer (with anything) once pinged; then
    /// the connection is failed with 1011.
    pub pong_timeout: Duration,
}

impl Default for Timers {
    /// 5 s to close; a ping after 30 s of silence, answered within 20 s.
    /// A dead peer is found within 50 s, and a live idle one costs one
    /// small ping each way every 30 s.
    fn default() -> Self {
        Timers {
            close_timeout: Duration::from_secs(5),
            ping_after: Some(Duration::from_secs(30)),
            pong_timeout: Duration::from_secs(20),
        }
    }
}

impl Timers {
    /// Sets [`Timers::close_timeout`].
    pub fn with_close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// Sets [`Timers::ping_after`] (`None`: no keepalive).
    pub fn with_ping_after(mut self, idle: Option<Duration>) -> Self {
        self.ping_after = idle;
        self
    }

    /// Sets [`Timers::pong_timeout`].
    pub fn with_pong_timeout(mut self, timeout: Duration) -> Self {
        self.pong_timeout = timeout;
        self
    }
}
// ANCHOR_END: timers

// ANCHOR: close_state
/// Where the endpoint is in its life. One value instead of a set of flags
/// that must agree: every rule below asks this, and the shell asks it too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseState {
    /// Messages flow both ways.
    Open,
    /// We sent a close and wait for the peer's; data from it is dropped.
    /// The deadline is armed at the next [`Connection::poll_timeout`],
    /// that is, once the shell has written the close out.
    CloseSent {
        /// When we give up waiting.
        deadline: Option<Instant>,
    },
    /// Both closes were exchanged: write what is left, then end the
    /// transport (a server closes TCP first, RFC 6455 §7.1.1).
    Closed,
    /// The connection failed (a protocol error, a timeout, the transport
    /// broke). A close frame may still be queued; write it if the stream
    /// allows, then end the transport.
    Failed,
}
// ANCHOR_END: close_state

/// Why [`Connection::handle_timeout`] ended the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimedOut {
    /// The peer did not answer our close within [`Timers::close_timeout`].
    Close,
    /// The peer stayed silent after our keepalive ping; a 1011 close is
    /// queued.
    Keepalive,
}

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimedOut::Close => f.write_str("the peer did not answer our close in time"),
            TimedOut::Keepalive => f.write_str("the peer did not answer a keepalive ping in time"),
        }
    }
}

impl std::error::Error for TimedOut {}

/// Keepalive bookkeeping: when we last heard the peer, and the ping we are
/// waiting on.
#[derive(Debug, Clone, Copy)]
struct Liveness {
    /// Bytes arrived since the clock was last read; the next
    /// [`Connection::poll_timeout`] turns this into `last_heard`. Receiving
    /// needs no clock this way.
    heard: bool,
    last_heard: Option<Instant>,
    ping_sent: Option<Instant>,
}

// ANCHOR: connection
/// A whole WebSocket endpoint, sans IO: a [`Reader`] and a [`Writer`] wired
/// together the way RFC 6455 requires, with the closing handshake and the
/// keepalive on their clocks. Every rule of the endpoint lives here; the
/// tokio shell ([`crate::ws::WebSocket`]) only moves bytes and time.
///
/// The shell's loop, in the style of quinn-proto's `handle_*`/`poll_*`:
/// - bytes arrive: append them to an input buffer and call
///   [`receive`](Self::receive) until it returns `Ok(None)`;
/// - before waiting for input: [`poll_timeout`](Self::poll_timeout) says
///   until when; if that passes, call [`handle_timeout`](Self::handle_timeout);
/// - after any call: write out [`output_mut`](Self::output_mut);
/// - [`state`](Self::state) says when to end the transport.
#[derive(Debug)]
pub struct Connection {
    reader: Reader,
    writer: Writer,
    state: CloseState,
    timers: Timers,
    liveness: Liveness,
}

impl Connection {
    /// A fresh connection for `role` with the given receive `limits` and
    /// the default [`Timers`].
    pub fn new(role: Role, limits: Limits) -> Self {
        Connection {
            reader: Reader::new(role, limits),
            writer: Writer::new(role),
            state: CloseState::Open,
            timers: Timers::default(),
            liveness: Liveness {
                heard: false,
                last_heard: None,
                ping_sent: None,
            },
        }
    }

    /// Replaces the timers.
    pub fn with_timers(mut self, timers: Timers) -> Self {
        self.timers = timers;
        self
    }

    // ANCHOR: connection_deflate
    /// Turns on permessage-deflate as the handshake agreed (`None`: it
    /// did not): the reader inflates RSV1 messages, the writer compresses.
    pub fn with_deflate(mut self, params: Option<&DeflateParams>) -> Self {
        if let Some(params) = params {
            self.set_deflate(params);
        }
        self
    }

    /// Like [`with_deflate`](Self::with_deflate), on a connection in place;
    /// call it before any message flows.
    pub fn set_deflate(&mut self, params: &DeflateParams) {
        self.reader.set_deflate(params);
        self.writer.set_deflate(params);
    }
    // ANCHOR_END: connection_deflate

    /// Which compression state is held right now, as (compressor,
    /// decompressor): an idle connection without context takeover holds
    /// neither.
    pub fn holds_deflate_state(&self) -> (bool, bool) {
        (
            self.writer.holds_deflate_state(),
            self.reader.holds_inflate_state(),
        )
    }

    /// Where the connection is in its life.
    pub fn state(&self) -> CloseState {
        self.state
    }

    /// Is the connection over: both closes exchanged, or failed? The shell
    /// should write the remaining output, then end the transport.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, CloseState::Closed | CloseState::Failed)
    }

    /// Consumes input and returns the next message, like [`Reader::receive`],
    /// while queueing the automatic replies: a pong for each ping, a close
    /// echo for a close, a close with the right code for a protocol error.
    /// After we sent a close, data and pings are dropped until the peer's
    /// close arrives. Once the connection is over, input is discarded.
    pub fn receive(&mut self, input: &mut BytesMut) -> Result<Option<Message>, ProtocolError> {
        if !input.is_empty() {
            self.liveness.heard = true;
        }
        loop {
            if self.is_closed() {
                input.clear();
                return Ok(None);
            }
            match self.reader.receive(input) {
                Ok(Some(msg)) => {
                    let closing = matches!(self.state, CloseState::CloseSent { .. });
                    if closing && !matches!(msg, Message::Close(_)) {
                        continue;
                    }
                    self.writer.respond(&msg);
                    if matches!(msg, Message::Close(_)) {
                        self.state = CloseState::Closed;
                    }
                    return Ok(Some(msg));
                }
                Ok(None) => return Ok(None),
                Err(e) => {
                    self.writer.fail(&e);
                    self.state = CloseState::Failed;
                    return Err(e);
                }
            }
        }
    }

    /// Queues `msg` for sending. A close starts the closing handshake.
    pub fn send(&mut self, msg: &Message) -> Result<(), SendError> {
        self.check_open()?;
        self.writer.send(msg)?;
        self.after_send(msg);
        Ok(())
    }

    /// Queues `msg` like [`send`](Self::send), but may leave a large
    /// payload where it lies: see [`Writer::send_zero_copy`]. A returned
    /// payload must be written right after the output.
    pub fn send_zero_copy<'m>(&mut self, msg: &'m Message) -> Result<Option<&'m [u8]>, SendError> {
        self.check_open()?;
        let payload = self.writer.send_zero_copy(msg)?;
        self.after_send(msg);
        Ok(payload)
    }

    fn check_open(&self) -> Result<(), SendError> {
        match self.state {
            CloseState::Open => Ok(()),
            _ => Err(SendError::Closed),
        }
    }

    fn after_send(&mut self, msg: &Message) {
        if matches!(msg, Message::Close(_)) {
            self.state = CloseState::CloseSent { deadline: None };
        }
    }

    // ANCHOR: poll_timeout
    /// When [`handle_timeout`](Self::handle_timeout) is next due, if ever.
    /// `now` arms the clocks that start "from now": the close deadline
    /// once our close is out, and the keepalive from the last byte heard.
    pub fn poll_timeout(&mut self, now: Instant) -> Option<Instant> {
        if std::mem::take(&mut self.liveness.heard) || self.liveness.last_heard.is_none() {
            self.liveness.last_heard = Some(now);
            self.liveness.ping_sent = None;
        }
        match &mut self.state {
            CloseState::Open => {
                let idle = self.timers.ping_after?;
                Some(match self.liveness.ping_sent {
                    Some(sent) => sent + self.timers.pong_timeout,
                    None => self.liveness.last_heard? + idle,
                })
            }
            CloseState::CloseSent { deadline } => {
                Some(*deadline.get_or_insert(now + self.timers.close_timeout))
            }
            CloseState::Closed | CloseState::Failed => None,
        }
    }

    /// Acts on the clocks at `now`: pings a peer that has been silent for
    /// [`Timers::ping_after`], and ends a connection whose peer did not
    /// answer that ping or our close in time. `Err` means the connection is
    /// over ([`state`](Self::state) is `Failed`); write what is queued (a
    /// 1011 close after a keepalive timeout) and end the transport.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), TimedOut> {
        let Some(due) = self.poll_timeout(now) else {
            return Ok(());
        };
        if now < due {
            return Ok(());
        }
        match self.state {
            CloseState::CloseSent { .. } => {
                self.state = CloseState::Failed;
                Err(TimedOut::Close)
            }
            CloseState::Open if self.liveness.ping_sent.is_some() => {
                let _ = self.writer.send(&Message::Close(Some(CloseFrame {
                    code: close::INTERNAL_ERROR,
                    reason: "keepalive timeout".to_owned(),
                })));
                self.state = CloseState::Failed;
                Err(TimedOut::Keepalive)
            }
            CloseState::Open => {
                let _ = self.writer.send(&Message::Ping(bytes::Bytes::new()));
                self.liveness.ping_sent = Some(now);
                Ok(())
            }
            CloseState::Closed | CloseState::Failed => Ok(()),
        }
    }
    // ANCHOR_END: poll_timeout

    /// Records that the transport broke (an I/O error, or the peer hung up
    /// without a close): nothing more will be read or sent.
    pub fn abort(&mut self) {
        self.state = CloseState::Failed;
    }

    /// The bytes to write to the peer; `advance` it past what was written.
    pub fn output_mut(&mut self) -> &mut BytesMut {
        self.writer.output_mut()
    }

    /// Is anything waiting to be written?
    pub fn has_output(&self) -> bool {
        !self.writer.output().is_empty()
    }
}
// ANCHOR_END: connection
