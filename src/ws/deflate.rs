//! The permessage-deflate codec (RFC 7692 §7.2), sans-IO.
//!
//! A compressed message is raw DEFLATE (RFC 1951, no zlib header) ended by
//! a *sync flush*, an empty stored block that always reads `00 00 ff ff`.
//! Since every message ends with those four bytes, the sender drops them
//! and the receiver puts them back (§7.2.1, §7.2.2): four bytes saved per
//! message, and the flush leaves the stream byte-aligned so the next
//! message can go on from the same LZ77 window ("context takeover").
//!
//! [`Inflater`] decompresses pieces of a message as they arrive, in steps
//! of at most [`STEP`] bytes of output, and stops the moment the message
//! would pass its size limit: a few kilobytes that inflate to gigabytes
//! (a "deflate bomb") cost at most the limit. [`Deflater`] compresses a
//! whole message. Both create their zlib state on first use and drop it
//! after each message when context takeover is off, so an idle connection
//! holds none.
//!
//! Without the `deflate` cargo feature both types are uninhabited: the
//! handshake never agrees to compress, so none is ever made.

use bytes::BytesMut;
use std::fmt;

use super::extensions::DeflateParams;
use super::protocol::Role;

/// What ends every sync-flushed message, removed on the wire (§7.2.1).
pub const TRAILER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The most output one inflate step may produce, so the limit is checked
/// at least this often and the buffer grows in bounded steps.
pub const STEP: usize = 64 * 1024;

/// Why a compressed message could not be inflated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InflateError {
    /// The bytes are not valid DEFLATE data.
    Corrupt,
    /// Inflating would pass the message size limit; `len` is what the
    /// message had grown to when we stopped (at most the limit + 1).
    TooLarge {
        /// Bytes inflated before stopping.
        len: u64,
    },
}

impl fmt::Display for InflateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InflateError::Corrupt => f.write_str("invalid compressed data"),
            InflateError::TooLarge { len } => write!(f, "inflated past the limit ({len} bytes)"),
        }
    }
}

impl std::error::Error for InflateError {}

/// The window a codec needs: zlib's raw deflate takes 9–15 bits. A peer
/// limited to 8 bits is served with 9: see
/// [`negotiate_server`](super::extensions::negotiate_server) for why the
/// output still fits an 8-bit window; inflating with a larger window than
/// the sender's is always safe.
#[cfg(feature = "deflate")]
fn zlib_bits(bits: u8) -> u8 {
    bits.clamp(9, 15)
}

/// The (compressor, decompressor) settings for our `role`:
/// `(window bits, reset after each message)` for each.
#[cfg(feature = "deflate")]
fn directions(role: Role, p: &DeflateParams) -> ((u8, bool), (u8, bool)) {
    let server = (p.server_max_window_bits, p.server_no_context_takeover);
    let client = (p.client_max_window_bits, p.client_no_context_takeover);
    let (own, peer) = match role {
        Role::Server => (server, client),
        Role::Client => (client, server),
    };
    let own_bits = own.0.min(p.config.own_max_window_bits);
    let own_reset = own.1 || p.config.own_no_context_takeover;
    ((own_bits, own_reset), peer)
}

#[cfg(feature = "deflate")]
pub use imp::{Deflater, Inflater};
#[cfg(not(feature = "deflate"))]
pub use stub::{Deflater, Inflater};

#[cfg(feature = "deflate")]
mod imp {
    use super::*;
    use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

    // ANCHOR: inflater
    /// Decompresses the messages the peer sends.
    #[derive(Debug)]
    pub struct Inflater {
        window_bits: u8,
        /// The peer resets its window after each message, so we may too.
        reset: bool,
        /// Created at the first compressed message; `None` while idle
        /// without context takeover.
        state: Option<Decompress>,
        /// A DEFLATE block with BFINAL set ended the stream (§7.2.3.4):
        /// ignore the rest of the message, start afresh with the next.
        ended: bool,
    }

    impl Inflater {
        /// An inflater for what the peer of `role` sends under `params`.
        pub fn new(role: Role, params: &DeflateParams) -> Option<Self> {
            let (_, (bits, reset)) = directions(role, params);
            Some(Inflater {
                window_bits: zlib_bits(bits),
                reset,
                state: None,
                ended: false,
            })
        }

        /// Does it hold zlib state (a window) right now?
        pub fn has_state(&self) -> bool {
            self.state.is_some()
        }

        /// Inflates one piece of a compressed message onto the end of
        /// `out`, which may not grow past `max` bytes.
        ///
        /// # Errors
        /// [`InflateError::TooLarge`] as soon as the output passes `max`
        /// (at most `max + 1` bytes are ever written), or
        /// [`InflateError::Corrupt`].
        pub fn inflate(
            &mut self,
            input: &[u8],
            out: &mut BytesMut,
            max: usize,
        ) -> Result<(), InflateError> {
            if self.ended {
                return Ok(());
            }
            let bits = self.window_bits;
            let z = self
                .state
                .get_or_insert_with(|| Decompress::new_with_window_bits(false, bits));
            let mut input = input;
            loop {
                // One byte of room past the limit tells "exactly at the
                // limit" from "would go past it".
                let room = (max + 1).saturating_sub(out.len()).min(STEP);
                if room == 0 {
                    return Err(InflateError::TooLarge {
                        len: out.len() as u64,
                    });
                }
                let start = out.len();
                out.resize(start + room, 0);
                let (in0, out0) = (z.total_in(), z.total_out());
                let status = z.decompress(input, &mut out[start..], FlushDecompress::None);
                let consumed = (z.total_in() - in0) as usize;
                let produced = (z.total_out() - out0) as usize;
                out.truncate(start + produced);
                input = &input[consumed..];
                match status {
                    Err(_) => return Err(InflateError::Corrupt),
                    Ok(Status::StreamEnd) => {
                        self.ended = true;
                        break;
                    }
                    Ok(_) => {}
                }
                if out.len() > max {
                    return Err(InflateError::TooLarge {
                        len: out.len() as u64,
                    });
                }
                // Done when the input is used up and the output was not
                // full (zlib had nothing more to give).
                if produced < room && (input.is_empty() || consumed == 0) {
                    break;
                }
            }
            if out.len() > max {
                return Err(InflateError::TooLarge {
                    len: out.len() as u64,
                });
            }
            Ok(())
        }

        /// Ends a message: puts the removed trailer back (§7.2.2), then
        /// drops the window if the peer does not keep its own.
        ///
        /// # Errors
        /// As [`inflate`](Self::inflate).
        pub fn finish(&mut self, out: &mut BytesMut, max: usize) -> Result<(), InflateError> {
            let result = self.inflate(&TRAILER, out, max);
            if self.reset || self.ended || result.is_err() {
                self.state = None;
            }
            self.ended = false;
            result
        }
    }
    // ANCHOR_END: inflater

    // ANCHOR: deflater
    /// Compresses the messages we send.
    #[derive(Debug)]
    pub struct Deflater {
        window_bits: u8,
        reset: bool,
        level: u32,
        /// Messages shorter than this go out uncompressed.
        threshold: usize,
        /// Created at the first compressed message; dropped after each
        /// one when we do not keep context (~260 KiB at 15 bits).
        state: Option<Compress>,
    }

    impl Deflater {
        /// A deflater for what `role` sends under `params`.
        pub fn new(role: Role, params: &DeflateParams) -> Option<Self> {
            let ((bits, reset), _) = directions(role, params);
            Some(Deflater {
                window_bits: zlib_bits(bits),
                reset,
                level: params.config.level.min(9),
                threshold: params.config.threshold,
                state: None,
            })
        }

        /// Does it hold zlib state right now?
        pub fn has_state(&self) -> bool {
            self.state.is_some()
        }

        /// Should a payload of `len` bytes be compressed?
        pub fn wants(&self, len: usize) -> bool {
            len >= self.threshold
        }

        /// Appends `payload` compressed, sync-flushed and with the trailer
        /// removed, to `out`.
        pub fn compress(&mut self, payload: &[u8], out: &mut BytesMut) {
            let (bits, level) = (self.window_bits, self.level);
            let z = self.state.get_or_insert_with(|| {
                Compress::new_with_window_bits(Compression::new(level), false, bits)
            });
            let base = out.len();
            let mut input = payload;
            loop {
                // Deflate can grow incompressible data by a few bytes per
                // 16 KiB block; this is enough to finish in one or two steps.
                let room = (input.len() + input.len() / 64 + 64).min(STEP);
                let start = out.len();
                out.resize(start + room, 0);
                let (in0, out0) = (z.total_in(), z.total_out());
                // Compressing from memory into memory cannot fail.
                let _ = z.compress(input, &mut out[start..], FlushCompress::Sync);
                let consumed = (z.total_in() - in0) as usize;
                let produced = (z.total_out() - out0) as usize;
                out.truncate(start + produced);
                input = &input[consumed..];
                if input.is_empty() && produced < room {
                    break;
                }
            }
            if out[base..].ends_with(&TRAILER) {
                out.truncate(out.len() - TRAILER.len());
            }
            if self.reset {
                self.state = None;
            }
        }
    }
    // ANCHOR_END: deflater
}

#[cfg(not(feature = "deflate"))]
mod stub {
    use super::*;

    /// Uninhabited without the `deflate` feature.
    #[derive(Debug)]
    pub enum Inflater {}

    impl Inflater {
        /// Always `None`: compression is not compiled in.
        pub fn new(_role: Role, _params: &DeflateParams) -> Option<Self> {
            None
        }
        /// Never called.
        pub fn has_state(&self) -> bool {
            match *self {}
        }
        /// Never called.
        pub fn inflate(
            &mut self,
            _: &[u8],
            _: &mut BytesMut,
            _: usize,
        ) -> Result<(), InflateError> {
            match *self {}
        }
        /// Never called.
        pub fn finish(&mut self, _: &mut BytesMut, _: usize) -> Result<(), InflateError> {
            match *self {}
        }
    }

    /// Uninhabited without the `deflate` feature.
    #[derive(Debug)]
    pub enum Deflater {}

    impl Deflater {
        /// Always `None`: compression is not compiled in.
        pub fn new(_role: Role, _params: &DeflateParams) -> Option<Self> {
            None
        }
        /// Never called.
        pub fn has_state(&self) -> bool {
            match *self {}
        }
        /// Never called.
        pub fn wants(&self, _: usize) -> bool {
            match *self {}
        }
        /// Never called.
        pub fn compress(&mut self, _: &[u8], _: &mut BytesMut) {
            match *self {}
        }
    }
}
