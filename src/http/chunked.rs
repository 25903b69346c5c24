//! `Transfer-Encoding: chunked` (RFC 9112 §7.1):
//!
//! ```text
//! 1a;name=value\r\n          chunk-size in hex, optional extensions
//! <26 bytes of data>\r\n
//! 0\r\n                      the last chunk
//! Trailer-Field: x\r\n       optional trailer fields
//! \r\n
//! ```

use bytes::BytesMut;

use super::head::{is_field_byte, split_field_line};
use super::{Limits, ParseError};

/// What one call to [`ChunkedDecoder::decode`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkedStatus {
    /// Input bytes used; the rest belongs to whatever follows the body.
    pub consumed: usize,
    /// The last chunk and the trailers have been read.
    pub done: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading hex digits; `digits` counts them.
    Size {
        value: u64,
        digits: usize,
    },
    /// Whitespace after the digits: only `;` or CR may follow.
    Space {
        value: u64,
    },
    /// In `;ext`, until CR.
    Extension {
        value: u64,
    },
    /// Saw the CR ending a size line.
    SizeLf {
        value: u64,
    },
    Data {
        remaining: u64,
    },
    DataCr,
    DataLf,
    /// Reading a trailer line (or the final empty line).
    Trailer,
    TrailerLf,
    Done,
}

/// A sans-IO decoder for chunked bodies. Feed it input as it arrives; it
/// appends the decoded bytes to `body` and tells how much input it used.
/// Sizes are checked before their data arrives, so a declared
/// `ffffffffffffffff` costs nothing but an error.
///
/// ```
/// use bytes::BytesMut;
/// use realtime_events::http::{ChunkedDecoder, Limits};
/// let mut decoder = ChunkedDecoder::new(Limits::default());
/// let mut body = BytesMut::new();
/// let status = decoder.decode(b"5\r\nhello\r\n0\r\n\r\nGET", &mut body).unwrap();
/// assert!(status.done);
/// assert_eq!((&body[..], status.consumed), (&b"hello"[..], 15));
/// ```
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    limits: Limits,
    state: State,
    /// Bytes of the current size line, extensions included.
    line_len: usize,
    /// Decoded body bytes so far.
    total: u64,
    /// The trailer line being read, and the trailer bytes so far.
    trailer_line: Vec<u8>,
    trailer_bytes: usize,
}

impl ChunkedDecoder {
    /// A decoder enforcing `limits` (body size, size-line length, trailer size).
    pub fn new(limits: Limits) -> Self {
        ChunkedDecoder {
            limits,
            state: State::Size {
                value: 0,
                digits: 0,
            },
            line_len: 0,
            total: 0,
            trailer_line: Vec::new(),
            trailer_bytes: 0,
        }
    }

    /// Whether the whole body has been decoded.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    // ANCHOR: decode
    /// Decodes as much of `input` as possible into `body`.
    ///
    /// # Errors
    /// [`ParseError::InvalidChunk`] for malformed framing,
    /// [`ParseError::ChunkLineTooLong`], [`ParseError::BodyTooLarge`] and
    /// [`ParseError::TrailersTooLarge`] at the limits.
    pub fn decode(
        &mut self,
        input: &[u8],
        body: &mut BytesMut,
    ) -> Result<ChunkedStatus, ParseError> {
        let mut i = 0;
        while i < input.len() && self.state != State::Done {
            if let State::Data { remaining } = self.state {
                // Copy as much data as is here in one go.
                let take = remaining.min((input.len() - i) as u64) as usize;
                body.extend_from_slice(&input[i..i + take]);
                i += take;
                self.state = match remaining - take as u64 {
                    0 => State::DataCr,
                    left => State::Data { remaining: left },
                };
                continue;
            }
            let b = input[i];
            i += 1;
            self.state = self.step(b)?;
        }
        Ok(ChunkedStatus {
            consumed: i,
            done: self.state == State::Done,
        })
    }
    // ANCHOR_END: decode

    /// One byte of framing (everything but chunk data).
    fn step(&mut self, b: u8) -> Result<State, ParseError> {
        use State::*;
        if matches!(self.state, Size { .. } | Space { .. } | Extension { .. }) {
            self.line_len += 1;
            if self.line_len > self.limits.max_chunk_line {
                return Err(ParseError::ChunkLineTooLong);
            }
        }
        Ok(match self.state {
            Size { value, digits } => match hex_value(b) {
                Some(digit) => {
                    let value = value
                        .checked_mul(16)
                        .and_then(|v| v.checked_add(u64::from(digit)))
                        .ok_or(ParseError::BodyTooLarge)?;
                    if self.total.saturating_add(value) > self.limits.max_body_bytes {
                        return Err(ParseError::BodyTooLarge);
                    }
                    Size {
                        value,
                        digits: digits + 1,
                    }
                }
                None if digits == 0 => return Err(ParseError::InvalidChunk),
                None => match b {
                    b'\r' => SizeLf { value },
                    b';' => Extension { value },
                    b' ' | b'\t' => Space { value },
                    _ => return Err(ParseError::InvalidChunk),
                },
            },
            Space { value } => match b {
                b' ' | b'\t' => Space { value },
                b';' => Extension { value },
                b'\r' => SizeLf { value },
                _ => return Err(ParseError::InvalidChunk),
            },
            // Extensions are read past, never interpreted: they cannot
            // change where the chunk ends.
            Extension { value } => match b {
                b'\r' => SizeLf { value },
                _ if is_field_byte(b) => Extension { value },
                _ => return Err(ParseError::InvalidChunk),
            },
            SizeLf { value } => {
                if b != b'\n' {
                    return Err(ParseError::InvalidChunk);
                }
                self.line_len = 0;
                self.total += value;
                if value == 0 {
                    Trailer
                } else {
                    Data { remaining: value }
                }
            }
            DataCr if b == b'\r' => DataLf,
            DataLf if b == b'\n' => Size {
                value: 0,
                digits: 0,
            },
            DataCr | DataLf => return Err(ParseError::InvalidChunk),
            Trailer => {
                self.trailer_bytes += 1;
                if self.trailer_bytes > self.limits.max_trailer_bytes {
                    return Err(ParseError::TrailersTooLarge);
                }
                if b == b'\r' {
                    TrailerLf
                } else if b == b'\n' {
                    return Err(ParseError::BareLineEnd);
                } else {
                    self.trailer_line.push(b);
                    Trailer
                }
            }
            TrailerLf => {
                if b != b'\n' {
                    return Err(ParseError::BareLineEnd);
                }
                if self.trailer_line.is_empty() {
                    Done
                } else {
                    // Trailer fields follow the header-field rules; we check
                    // them and drop them, as nothing here uses trailers.
                    if matches!(self.trailer_line[0], b' ' | b'\t') {
                        return Err(ParseError::ObsoleteFold);
                    }
                    split_field_line(&self.trailer_line)?;
                    self.trailer_line.clear();
                    Trailer
                }
            }
            Data { .. } | Done => self.state,
        })
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}
