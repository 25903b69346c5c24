//! The WebSocket frame header (RFC 6455 §5.2).
//!
//! Every WebSocket message travels as one or more *frames*. A frame starts
//! with a 2 to 14 byte header: flags, an opcode, an optional masking key and
//! the payload length, which itself takes 7, 7+16 or 7+64 bits. This module
//! only deals with that header: the payload is handled by the message layer
//! (`protocol.rs`) as it streams in, so a huge frame never has to sit in
//! memory before we can look at it.

use bytes::{BufMut, BytesMut};
use std::fmt;

use super::mask::apply_mask;

/// The largest possible header: 2 fixed bytes, 8 length bytes, 4 mask bytes.
pub const MAX_HEADER_LEN: usize = 14;

/// The largest payload a control frame (close, ping, pong) may carry.
///
/// RFC 6455 §5.5 caps it at 125 so a control frame always fits the 7-bit
/// length form and can be handled without streaming.
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// What a frame carries (RFC 6455 §5.2, "Opcode").
///
/// Opcodes 0x3–0x7 and 0xB–0xF are reserved for future extensions; since we
/// negotiate none, the decoder refuses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Opcode {
    /// 0x0: a further fragment of the message started by a Text or Binary frame.
    Continuation,
    /// 0x1: the first frame of a UTF-8 text message.
    Text,
    /// 0x2: the first frame of a binary message.
    Binary,
    /// 0x8: the closing handshake.
    Close,
    /// 0x9: a heartbeat request; the peer must answer with a Pong.
    Ping,
    /// 0xA: the answer to a Ping (or an unsolicited heartbeat).
    Pong,
}

impl Opcode {
    /// Maps the 4-bit wire value to an opcode, `None` for reserved values.
    pub fn from_u8(value: u8) -> Option<Opcode> {
        match value {
            0x0 => Some(Opcode::Continuation),
            0x1 => Some(Opcode::Text),
            0x2 => Some(Opcode::Binary),
            0x8 => Some(Opcode::Close),
            0x9 => Some(Opcode::Ping),
            0xA => Some(Opcode::Pong),
            _ => None,
        }
    }

    /// The 4-bit wire value.
    pub fn as_u8(self) -> u8 {
        match self {
            Opcode::Continuation => 0x0,
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
            Opcode::Close => 0x8,
            Opcode::Ping => 0x9,
            Opcode::Pong => 0xA,
        }
    }

    /// Control frames (opcode high bit set) may appear between the fragments
    /// of a data message, must be short and must not be fragmented.
    pub fn is_control(self) -> bool {
        self.as_u8() & 0x8 != 0
    }
}

/// Why a frame header could not be decoded.
///
/// Each variant maps to the close code (RFC 6455 §7.4.1) we send before
/// dropping the connection; see [`FrameError::close_code`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The opcode is one of the reserved values (0x3–0x7, 0xB–0xF).
    ReservedOpcode(u8),
    /// The length used a longer form than needed (e.g. 16 bits for 5 bytes).
    /// §5.2 says "the minimal number of bytes MUST be used".
    NonMinimalLength,
    /// A 64-bit length with its most significant bit set (§5.2 forbids it).
    LengthHighBit,
}

impl FrameError {
    /// The close code to send: all header errors are protocol errors (1002).
    pub fn close_code(&self) -> u16 {
        1002
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::ReservedOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            FrameError::NonMinimalLength => f.write_str("payload length not minimally encoded"),
            FrameError::LengthHighBit => f.write_str("64-bit payload length has its high bit set"),
        }
    }
}

impl std::error::Error for FrameError {}

/// A decoded frame header.
///
/// It describes the payload that follows but does not contain it; the
/// payload is read separately so it can be processed in pieces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Final fragment of a message?
    pub fin: bool,
    /// Reserved bit 1 (used by extensions such as permessage-deflate).
    pub rsv1: bool,
    /// Reserved bit 2.
    pub rsv2: bool,
    /// Reserved bit 3.
    pub rsv3: bool,
    /// What the frame carries.
    pub opcode: Opcode,
    /// The masking key, present on every client-to-server frame.
    pub mask: Option<[u8; 4]>,
    /// Payload length in bytes.
    pub payload_len: u64,
}

impl FrameHeader {
    /// The header of an unfragmented frame with no extension bits: how
    /// every frame we send starts, since we never fragment what we send
    /// and negotiate no extensions.
    pub fn whole(opcode: Opcode, mask: Option<[u8; 4]>, payload_len: u64) -> Self {
        FrameHeader {
            fin: true,
            rsv1: false,
            rsv2: false,
            rsv3: false,
            opcode,
            mask,
            payload_len,
        }
    }

    // ANCHOR: decode
    /// Decodes a header from the start of `buf`.
    ///
    /// Returns `Ok(None)` when `buf` is too short yet (feed more bytes and
    /// call again), `Ok(Some((header, consumed)))` once a whole header is
    /// there, or an error as soon as the bytes seen prove the header invalid.
    pub fn decode(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, FrameError> {
        let Some(&b0) = buf.first() else {
            return Ok(None);
        };
        // Check the opcode before waiting for more: fail as early as we can.
        let opcode = Opcode::from_u8(b0 & 0x0F).ok_or(FrameError::ReservedOpcode(b0 & 0x0F))?;
        let Some(&b1) = buf.get(1) else {
            return Ok(None);
        };
        let masked = b1 & 0x80 != 0;
        let (payload_len, mut pos) = match b1 & 0x7F {
            126 => {
                let Some(bytes) = buf.get(2..4) else {
                    return Ok(None);
                };
                let len = u64::from(u16::from_be_bytes([bytes[0], bytes[1]]));
                if len < 126 {
                    return Err(FrameError::NonMinimalLength);
                }
                (len, 4)
            }
            127 => {
                // The high bit is visible in the first length byte already.
                if let Some(&hi) = buf.get(2) {
                    if hi & 0x80 != 0 {
                        return Err(FrameError::LengthHighBit);
                    }
                }
                let Some(bytes) = buf.get(2..10) else {
                    return Ok(None);
                };
                let mut be = [0u8; 8];
                be.copy_from_slice(bytes);
                let len = u64::from_be_bytes(be);
                if len <= u64::from(u16::MAX) {
                    return Err(FrameError::NonMinimalLength);
                }
                (len, 10)
            }
            short => (u64::from(short), 2),
        };
        let mask = if masked {
            let Some(bytes) = buf.get(pos..pos + 4) else {
                return Ok(None);
            };
            pos += 4;
            Some([bytes[0], bytes[1], bytes[2], bytes[3]])
        } else {
            None
        };
        let header = FrameHeader {
            fin: b0 & 0x80 != 0,
            rsv1: b0 & 0x40 != 0,
            rsv2: b0 & 0x20 != 0,
            rsv3: b0 & 0x10 != 0,
            opcode,
            mask,
            payload_len,
        };
        Ok(Some((header, pos)))
    }
    // ANCHOR_END: decode

    // ANCHOR: encode
    /// Appends the header to `out`, always with the shortest length form.
    ///
    /// A `payload_len` at or above 2^63 cannot be represented on the wire;
    /// its high bit is cleared here (no real payload gets anywhere near it).
    pub fn encode(&self, out: &mut BytesMut) {
        let mut b0 = self.opcode.as_u8();
        if self.fin {
            b0 |= 0x80;
        }
        if self.rsv1 {
            b0 |= 0x40;
        }
        if self.rsv2 {
            b0 |= 0x20;
        }
        if self.rsv3 {
            b0 |= 0x10;
        }
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        out.reserve(MAX_HEADER_LEN);
        out.put_u8(b0);
        let len = self.payload_len & (u64::MAX >> 1);
        if len < 126 {
            out.put_u8(mask_bit | len as u8);
        } else if let Ok(len16) = u16::try_from(len) {
            out.put_u8(mask_bit | 126);
            out.put_u16(len16);
        } else {
            out.put_u8(mask_bit | 127);
            out.put_u64(len);
        }
        if let Some(key) = self.mask {
            out.put_slice(&key);
        }
    }
    // ANCHOR_END: encode

    /// The number of bytes [`FrameHeader::encode`] will write.
    pub fn encoded_len(&self) -> usize {
        let len_bytes = match self.payload_len {
            0..=125 => 0,
            126..=0xFFFF => 2,
            _ => 8,
        };
        2 + len_bytes + if self.mask.is_some() { 4 } else { 0 }
    }
}

/// Appends a whole frame: `header` (its `payload_len` is overwritten with
/// `payload.len()`) followed by `payload`, masked if the header has a key.
pub fn write_frame(out: &mut BytesMut, header: &FrameHeader, payload: &[u8]) {
    let header = FrameHeader {
        payload_len: payload.len() as u64,
        ..*header
    };
    out.reserve(header.encoded_len() + payload.len());
    header.encode(out);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = header.mask {
        apply_mask(&mut out[start..], key, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(opcode: Opcode, len: u64, mask: Option<[u8; 4]>) -> FrameHeader {
        FrameHeader::whole(opcode, mask, len)
    }

    #[test]
    fn rfc_examples() {
        // RFC 6455 §5.7: unmasked "Hello" and masked "Hello".
        let (h, n) = FrameHeader::decode(&[0x81, 0x05, 0x48]).unwrap().unwrap();
        assert_eq!((h, n), (header(Opcode::Text, 5, None), 2));
        let masked = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let (h, n) = FrameHeader::decode(&masked).unwrap().unwrap();
        assert_eq!(n, 6);
        assert_eq!(h.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
        let mut payload = masked[6..].to_vec();
        apply_mask(&mut payload, h.mask.unwrap(), 0);
        assert_eq!(payload, b"Hello");
        // 256 bytes binary, 16-bit length; 64 KiB binary, 64-bit length.
        let (h, n) = FrameHeader::decode(&[0x82, 0x7E, 0x01, 0x00])
            .unwrap()
            .unwrap();
        assert_eq!((h.payload_len, n), (256, 4));
        let big = [0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0];
        let (h, n) = FrameHeader::decode(&big).unwrap().unwrap();
        assert_eq!((h.payload_len, n), (65536, 10));
    }

    #[test]
    fn refuses_bad_headers_early() {
        assert_eq!(
            FrameHeader::decode(&[0x83]),
            Err(FrameError::ReservedOpcode(3))
        );
        assert_eq!(
            FrameHeader::decode(&[0x82, 0x7E, 0x00, 0x7D]),
            Err(FrameError::NonMinimalLength)
        );
        assert_eq!(
            FrameHeader::decode(&[0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]),
            Err(FrameError::NonMinimalLength)
        );
        assert_eq!(
            FrameHeader::decode(&[0x82, 0x7F, 0x80]),
            Err(FrameError::LengthHighBit)
        );
        assert_eq!(FrameError::LengthHighBit.close_code(), 1002);
    }

    #[test]
    fn encode_is_minimal() {
        for (len, size) in [(0, 2), (125, 2), (126, 4), (65535, 4), (65536, 10)] {
            let mut out = BytesMut::new();
            let h = header(Opcode::Binary, len, None);
            h.encode(&mut out);
            assert_eq!(out.len(), size);
            assert_eq!(h.encoded_len(), size);
        }
    }
}
