//! Pieces of the opening handshake (RFC 6455 §4).
//!
//! The full HTTP Upgrade exchange comes later; for now this holds the one
//! computation both roles need: the `Sec-WebSocket-Accept` value.

use base64::Engine as _;
use sha1::{Digest, Sha1};

/// The GUID the RFC appends to the client's key (§1.3). Any server that
/// knows it proves it understood the WebSocket request, which a plain HTTP
/// server (or a cache replaying an old answer) would not.
pub const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

// ANCHOR: accept_key
/// Computes `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: the base64 of
/// the SHA-1 of the key (as sent, not decoded) followed by [`WS_GUID`].
pub fn accept_key(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(WS_GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}
// ANCHOR_END: accept_key

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6455_example() {
        // RFC 6455 §1.3.
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
