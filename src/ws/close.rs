//! Close codes and the close frame payload (RFC 6455 §5.5.1, §7.4).
//!
//! A close frame's payload is empty, or a 2-byte big-endian status code
//! followed by a UTF-8 reason. Some codes are reserved for local use and
//! must never appear on the wire (1005 "no status", 1006 "abnormal", 1015
//! "TLS failure"), others are simply not assigned.

use super::message::CloseFrame;

/// 1000: the purpose of the connection has been fulfilled.
pub const NORMAL: u16 = 1000;
/// 1001: the endpoint is going away (server shutdown, page navigation).
pub const GOING_AWAY: u16 = 1001;
/// 1002: the peer broke the protocol.
pub const PROTOCOL_ERROR: u16 = 1002;
/// 1003: a data type we cannot accept (e.g. binary where only text makes sense).
pub const UNSUPPORTED_DATA: u16 = 1003;
/// 1007: the payload was inconsistent with its type (invalid UTF-8 text).
pub const INVALID_PAYLOAD: u16 = 1007;
/// 1008: a generic policy violation.
pub const POLICY_VIOLATION: u16 = 1008;
/// 1009: a frame or message is too big to process.
pub const MESSAGE_TOO_BIG: u16 = 1009;
/// 1010: (client) the server did not negotiate a required extension.
pub const MANDATORY_EXTENSION: u16 = 1010;
/// 1011: (server) an unexpected condition stopped us fulfilling the request.
pub const INTERNAL_ERROR: u16 = 1011;

/// The longest reason that fits a control frame: 125 bytes minus the code.
pub const MAX_REASON_LEN: usize = 123;

// ANCHOR: close
/// May `code` be sent in a close frame?
///
/// Accepts the codes RFC 6455 §7.4.1 defines for the wire (1000–1003,
/// 1007–1011) and the ranges for libraries and applications (3000–4999).
/// Everything else is refused: below 1000 is unused, 1004 is reserved,
/// 1005/1006/1015 must never be sent, and the rest of 1000–2999 is kept for
/// future RFCs. (IANA has since registered 1012–1014, but the RFC and the
/// Autobahn test suite treat them as invalid on the wire, and so do we.)
pub fn is_valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1011 | 3000..=4999)
}

/// Why a received close payload is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClosePayloadError {
    /// One byte: a code must be two bytes (1002).
    TooShort,
    /// A code that may not be sent (1002).
    InvalidCode(u16),
    /// The reason is not UTF-8 (1007).
    InvalidReason,
}

impl ClosePayloadError {
    /// The close code to answer with.
    pub fn close_code(&self) -> u16 {
        match self {
            ClosePayloadError::TooShort | ClosePayloadError::InvalidCode(_) => PROTOCOL_ERROR,
            ClosePayloadError::InvalidReason => INVALID_PAYLOAD,
        }
    }
}

/// Parses the (unmasked) payload of a received close frame.
pub fn parse_close_payload(payload: &[u8]) -> Result<Option<CloseFrame>, ClosePayloadError> {
    match payload {
        [] => Ok(None),
        [_] => Err(ClosePayloadError::TooShort),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !is_valid_close_code(code) {
                return Err(ClosePayloadError::InvalidCode(code));
            }
            let reason =
                std::str::from_utf8(reason).map_err(|_| ClosePayloadError::InvalidReason)?;
            Ok(Some(CloseFrame {
                code,
                reason: reason.to_owned(),
            }))
        }
    }
}
// ANCHOR_END: close

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        for ok in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999,
        ] {
            assert!(is_valid_close_code(ok), "{ok}");
        }
        for bad in [
            0, 999, 1004, 1005, 1006, 1012, 1013, 1014, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] {
            assert!(!is_valid_close_code(bad), "{bad}");
        }
    }

    #[test]
    fn payloads() {
        assert_eq!(parse_close_payload(&[]), Ok(None));
        assert_eq!(parse_close_payload(&[3]), Err(ClosePayloadError::TooShort));
        assert_eq!(
            parse_close_payload(&[0x03, 0xE8, b'h', b'i']),
            Ok(Some(CloseFrame {
                code: 1000,
                reason: "hi".into()
            }))
        );
        assert_eq!(
            parse_close_payload(&[0x03, 0xED]).map_err(|e| e.close_code()),
            Err(1002)
        );
        assert_eq!(
            parse_close_payload(&[0x03, 0xE8, 0xFF]).map_err(|e| e.close_code()),
            Err(1007)
        );
    }
}
