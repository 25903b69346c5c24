//! Incremental UTF-8 validation for text messages.
//!
//! A text message must be valid UTF-8 (RFC 6455 §8.1), and a receiver should
//! fail the connection as soon as it sees bytes that cannot be the start of
//! valid UTF-8, not only once the whole message is in (Autobahn cases 6.4.x
//! check exactly this). The payload arrives in arbitrary pieces, so a
//! character may be cut in two: we remember the up-to-3 bytes of an
//! unfinished character and complete it with the next piece.
//!
//! The heavy lifting is done by `simdutf8` (SIMD-speed validation with the
//! same error details as `std::str::from_utf8`), whose error tells us which
//! case we are in: `error_len() == Some(_)` means the bytes are wrong
//! (an overlong form, a surrogate, a code point above U+10FFFF, a stray
//! continuation byte...), detected on the first offending byte, while
//! `error_len() == None` means "fine so far, but cut short".

use std::fmt;

/// The bytes seen so far are not a prefix of any valid UTF-8 text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utf8Error;

impl fmt::Display for Utf8Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid UTF-8")
    }
}

impl std::error::Error for Utf8Error {}

/// Validates UTF-8 fed in chunks, failing on the earliest bad byte.
#[derive(Debug, Clone, Default)]
pub struct Utf8Validator {
    /// The start of a character cut off at the end of the previous chunk.
    pending: [u8; 4],
    /// How many bytes of `pending` are in use (0..=3).
    pending_len: usize,
}

/// The length of the sequence a (valid) leading byte announces.
fn sequence_len(lead: u8) -> usize {
    match lead {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

// ANCHOR: utf8
impl Utf8Validator {
    /// A validator that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks the next chunk. Fails if the bytes seen so far (across all
    /// chunks) cannot be the beginning of valid UTF-8.
    pub fn feed(&mut self, mut chunk: &[u8]) -> Result<(), Utf8Error> {
        if self.pending_len > 0 {
            // Complete the character left over from the previous chunk.
            let need = sequence_len(self.pending[0]) - self.pending_len;
            let take = need.min(chunk.len());
            let mut char_buf = self.pending;
            char_buf[self.pending_len..self.pending_len + take].copy_from_slice(&chunk[..take]);
            let have = self.pending_len + take;
            match std::str::from_utf8(&char_buf[..have]) {
                Ok(_) => self.pending_len = 0,
                Err(e) if e.error_len().is_some() => return Err(Utf8Error),
                Err(_) => {
                    // Still incomplete: the chunk was too short to finish it.
                    self.pending = char_buf;
                    self.pending_len = have;
                    return Ok(());
                }
            }
            chunk = &chunk[take..];
        }
        // The fast check first: most chunks are whole, valid runs. Only
        // when it fails do we ask where, and whether the bytes are wrong
        // or just cut short.
        if simdutf8::basic::from_utf8(chunk).is_ok() {
            return Ok(());
        }
        match simdutf8::compat::from_utf8(chunk) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_some() => Err(Utf8Error),
            Err(e) => {
                // A valid but unfinished character at the very end (1-3 bytes).
                let tail = &chunk[e.valid_up_to()..];
                self.pending[..tail.len()].copy_from_slice(tail);
                self.pending_len = tail.len();
                Ok(())
            }
        }
    }

    /// Call at the end of the message: fails if a character is unfinished.
    /// The validator is reset either way, ready for the next message.
    pub fn finish(&mut self) -> Result<(), Utf8Error> {
        let incomplete = self.pending_len > 0;
        self.pending_len = 0;
        if incomplete {
            Err(Utf8Error)
        } else {
            Ok(())
        }
    }

    /// Is a character currently cut in two?
    pub fn is_incomplete(&self) -> bool {
        self.pending_len > 0
    }
}
// ANCHOR_END: utf8

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Feeds byte by byte; returns the index of the byte that failed.
    fn fail_at(bytes: &[u8]) -> Option<usize> {
        let mut v = Utf8Validator::new();
        for (i, b) in bytes.iter().enumerate() {
            if v.feed(std::slice::from_ref(b)).is_err() {
                return Some(i);
            }
        }
        None
    }

    #[test]
    fn fails_on_earliest_byte() {
        assert_eq!(fail_at(&[0xF4, 0x90, 0x80, 0x80]), Some(1)); // > U+10FFFF
        assert_eq!(fail_at(&[0xED, 0xA0, 0x80]), Some(1)); // surrogate
        assert_eq!(fail_at(&[0xE0, 0x80, 0x80]), Some(1)); // overlong
        assert_eq!(fail_at(&[0xF0, 0x80, 0x80, 0x80]), Some(1)); // overlong
        assert_eq!(fail_at(&[0xC0, 0x80]), Some(0)); // overlong
        assert_eq!(fail_at(&[0xF5]), Some(0));
        assert_eq!(fail_at(&[0x80]), Some(0));
        assert_eq!(
            fail_at(b"ab\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5\xED\xA0"),
            Some(14)
        );
        assert_eq!(fail_at("κόσμε €𝄞".as_bytes()), None);
    }

    #[test]
    fn finish_reports_incomplete() {
        let mut v = Utf8Validator::new();
        v.feed(&[0xE2, 0x82]).unwrap();
        assert!(v.is_incomplete());
        assert_eq!(v.finish(), Err(Utf8Error));
        v.feed(b"ok").unwrap();
        assert_eq!(v.finish(), Ok(()));
    }

    proptest! {
        /// Any split of any byte string gives the same verdict as std, and
        /// fails exactly where std says the first invalid sequence begins
        /// or later, never earlier.
        #[test]
        fn agrees_with_std(bytes in proptest::collection::vec(
                               prop_oneof![any::<u8>(), 0x80u8..0xC0, 0xE0u8..0xF5], 0..40),
                           cuts in proptest::collection::vec(0usize..40, 0..5)) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            cuts.sort_unstable();
            let mut v = Utf8Validator::new();
            let mut start = 0;
            let mut ok = true;
            for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
                if v.feed(&bytes[start..cut]).is_err() {
                    ok = false;
                    break;
                }
                start = cut;
            }
            let ok = ok && v.finish().is_ok();
            prop_assert_eq!(ok, std::str::from_utf8(&bytes).is_ok());
        }

        #[test]
        fn valid_text_in_pieces(s in "\\PC*", cut in 0usize..64) {
            let bytes = s.as_bytes();
            let cut = cut.min(bytes.len());
            let mut v = Utf8Validator::new();
            prop_assert!(v.feed(&bytes[..cut]).is_ok());
            prop_assert!(v.feed(&bytes[cut..]).is_ok());
            prop_assert!(v.finish().is_ok());
        }
    }
}
