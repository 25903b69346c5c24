//! The part shared by request and response heads: finding line ends
//! without rescanning, enforcing the size limits as bytes arrive, and
//! validating field lines.

use super::{BodyFraming, Limits, ParseError, Version};

/// The outcome of feeding bytes to an incremental parser: a finished value,
/// or "not enough bytes yet". Errors travel separately, in `Result`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status<T> {
    /// A complete value.
    Complete(T),
    /// The input ends before the value does: read more and call again.
    Partial,
}

/// A byte range inside the buffer a head was parsed from. Heads store
/// ranges rather than slices so that a parsed head can outlive the borrow
/// of the read buffer (the server keeps the head's bytes as `Bytes`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// The bytes this span covers in `buf` (empty if `buf` is too short,
    /// which only happens when a caller mixes up buffers).
    pub fn slice(self, buf: &[u8]) -> &[u8] {
        buf.get(self.start..self.end).unwrap_or_default()
    }

    fn within(start: usize, offset: usize, len: usize) -> Span {
        Span {
            start: start + offset,
            end: start + offset + len,
        }
    }
}

/// Where everything in a parsed head is: the start line's three parts, the
/// version, the header fields, the body framing, and the head's length.
/// Read it through a view ([`RequestHead`](super::RequestHead) or
/// [`ResponseView`](super::ResponseView)) over the same bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeadIndex {
    pub(crate) len: usize,
    pub(crate) parts: [Span; 3],
    pub(crate) version: Option<Version>,
    pub(crate) code: u16,
    pub(crate) headers: Fields,
    pub(crate) framing: BodyFraming,
}

/// Field lines kept inside the index itself; more than this go to the heap.
const INLINE_FIELDS: usize = 20;

/// Where the field lines are, in arrival order. The first
/// [`INLINE_FIELDS`] live in the index, so a typical head (browsers send
/// 10 to 20 fields) costs no allocation: the `Vec` it used to be was one
/// `malloc` and one `free` per request, a fifth of parsing a small head.
#[derive(Clone, Default)]
pub(crate) struct Fields {
    len: usize,
    inline: [(Span, Span); INLINE_FIELDS],
    /// All the fields, once there are more than fit inline.
    spilled: Vec<(Span, Span)>,
}

impl Fields {
    #[inline]
    fn push(&mut self, field: (Span, Span)) {
        match self.inline.get_mut(self.len) {
            Some(slot) => *slot = field,
            None => self.spill(field),
        }
        self.len += 1;
    }

    /// Moves the fields out, leaving an empty list: only `len` is reset,
    /// as the inline slots past it are never read.
    fn take(&mut self) -> Fields {
        let fields = Fields {
            len: self.len,
            inline: self.inline,
            spilled: std::mem::take(&mut self.spilled),
        };
        self.len = 0;
        fields
    }

    /// The rare case, out of line so that `push` stays small enough to inline.
    #[cold]
    fn spill(&mut self, field: (Span, Span)) {
        if self.spilled.is_empty() {
            self.spilled.extend_from_slice(&self.inline);
        }
        self.spilled.push(field);
    }
}

impl std::ops::Deref for Fields {
    type Target = [(Span, Span)];

    fn deref(&self) -> &Self::Target {
        if self.len <= INLINE_FIELDS {
            &self.inline[..self.len]
        } else {
            &self.spilled
        }
    }
}

impl std::fmt::Debug for Fields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for Fields {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for Fields {}

impl HeadIndex {
    /// How many bytes the head took, final empty line included: the body
    /// (or the next pipelined request) starts here.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True only for the empty index of a parser that has not finished.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How the body that follows this head is delimited.
    pub fn framing(&self) -> BodyFraming {
        self.framing
    }
}

/// What a request or a response parser does with its own first line.
pub(crate) trait StartLine {
    /// Parses the start line (without its CRLF), found at `offset`.
    fn parse(
        line: &[u8],
        offset: usize,
        limits: &Limits,
        index: &mut HeadIndex,
    ) -> Result<(), ParseError>;
    /// Called when the start line is still incomplete, to refuse an
    /// endless one early with the right status.
    fn check_partial(line: &[u8], limits: &Limits) -> Result<(), ParseError>;
    /// Semantic checks once every field has arrived.
    fn finish(buf: &[u8], index: &mut HeadIndex, limits: &Limits) -> Result<(), ParseError>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Before the start line: RFC 9112 §2.2 asks servers to skip empty lines here.
    Leading,
    Fields,
}

/// The incremental engine under both parsers. It remembers how far it has
/// looked (`pos`) and where the current line began, so feeding a head one
/// byte at a time costs one pass over it, not one pass per byte.
#[derive(Debug, Clone)]
pub(crate) struct HeadScanner {
    limits: Limits,
    stage: Stage,
    pos: usize,
    line_start: usize,
    index: HeadIndex,
}

impl HeadScanner {
    pub(crate) fn new(limits: Limits) -> Self {
        HeadScanner {
            limits,
            stage: Stage::Leading,
            pos: 0,
            line_start: 0,
            index: HeadIndex::default(),
        }
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    // ANCHOR: scan
    /// Feeds the buffer so far. `buf` must start where the head starts and
    /// must hold the same bytes as at the previous call, plus any new ones.
    pub(crate) fn parse<K: StartLine>(
        &mut self,
        buf: &[u8],
    ) -> Result<Status<HeadIndex>, ParseError> {
        loop {
            // The common cases first, each taken only when the careful path
            // below would reach the same result: the empty line that ends
            // the head, and a whole, valid field line, in one pass.
            if self.stage == Stage::Fields && self.pos == self.line_start {
                if buf.get(self.line_start) == Some(&b'\r') {
                    let end = self.line_start + 2;
                    if buf.get(end - 1) == Some(&b'\n') && end <= self.limits.max_head_bytes {
                        self.pos = end;
                        return self.finish::<K>(buf);
                    }
                } else if self.quick_field_line(buf) {
                    continue;
                }
            }
            // Look for the next CR or LF, only in bytes we have not seen yet.
            let unseen = buf.get(self.pos..).unwrap_or_default();
            let Some(found) = find_line_end(unseen) else {
                self.pos = buf.len();
                return self.check_partial::<K>(buf).map(|()| Status::Partial);
            };
            let cr = self.pos + found;
            // Apply the limits to the bytes before this line end first, so
            // the answer is the same whether the head came whole or byte by
            // byte (the limit checks are monotone: checking the longest
            // prefix a slow reader would have seen is enough).
            let seen_before = if buf[cr] == b'\r' { cr + 1 } else { cr };
            self.check_partial::<K>(&buf[..seen_before])?;
            // A line must end in CRLF: a bare LF or a lone CR is refused
            // (see the module docs), as soon as it is seen.
            match (buf[cr], buf.get(cr + 1)) {
                (b'\r', None) => {
                    // The LF may be in the next read; look here again then.
                    self.pos = cr;
                    return self.check_partial::<K>(buf).map(|()| Status::Partial);
                }
                (b'\r', Some(b'\n')) => {}
                _ => return Err(ParseError::BareLineEnd),
            }
            let lf = cr + 1;
            self.pos = lf + 1;
            if self.pos > self.limits.max_head_bytes {
                return Err(ParseError::HeadTooLarge);
            }
            let line = &buf[self.line_start..lf - 1];
            let offset = self.line_start;
            self.line_start = self.pos;
            match (self.stage, line.is_empty()) {
                (Stage::Leading, true) => {}
                (Stage::Leading, false) => {
                    K::parse(line, offset, &self.limits, &mut self.index)?;
                    self.stage = Stage::Fields;
                }
                (Stage::Fields, false) => self.field_line(line, offset)?,
                (Stage::Fields, true) => return self.finish::<K>(buf),
            }
        }
    }
    // ANCHOR_END: scan

    fn check_partial<K: StartLine>(&self, buf: &[u8]) -> Result<(), ParseError> {
        if self.stage == Stage::Leading {
            K::check_partial(&buf[self.line_start..], &self.limits)?;
        }
        if buf.len() > self.limits.max_head_bytes {
            return Err(ParseError::HeadTooLarge);
        }
        Ok(())
    }

    fn finish<K: StartLine>(&mut self, buf: &[u8]) -> Result<Status<HeadIndex>, ParseError> {
        self.index.len = self.pos;
        K::finish(buf, &mut self.index, &self.limits)?;
        // Ready for the next head on the same connection. (Resetting the
        // fields in place: building a whole new scanner copied the index,
        // inline field list and all, once more per request.)
        self.stage = Stage::Leading;
        self.pos = 0;
        self.line_start = 0;
        // Copy the index out and reset it by hand rather than `take` it:
        // the copy is needed either way, and this skips zeroing the inline
        // field list (only its `len` says what is valid).
        let index = HeadIndex {
            headers: self.index.headers.take(),
            ..self.index
        };
        let fresh = &mut self.index;
        (fresh.len, fresh.parts, fresh.version, fresh.code) = (0, Default::default(), None, 0);
        fresh.framing = BodyFraming::default();
        Ok(Status::Complete(index))
    }

    // ANCHOR: quick_field_line
    /// Takes the field line at `line_start` if it is whole and valid,
    /// looking at each byte once: the name up to its colon, then the value
    /// up to the first byte that is not a field byte, which must be the CR
    /// of a CRLF. Anything else (a line still arriving, an error, a limit
    /// reached) returns false without changing anything, and the careful
    /// path in `parse` takes the line instead and gives the exact answer.
    /// So this is only ever a shortcut to the same result: the careful path
    /// would find the same line end (no CR or LF comes before it), the
    /// same name and the same trimmed value.
    fn quick_field_line(&mut self, buf: &[u8]) -> bool {
        let start = self.line_start;
        let line = buf.get(start..).unwrap_or_default();
        let colon @ 1.. = token_len(line) else {
            return false;
        };
        if line.get(colon) != Some(&b':') {
            return false;
        }
        let mut value_start = colon + 1;
        while let Some(b' ' | b'\t') = line.get(value_start) {
            value_start += 1;
        }
        let rest = line.get(value_start..).unwrap_or_default();
        let Some(cr) = find_non_field_byte(rest).map(|i| value_start + i) else {
            return false;
        };
        let next = start + cr + 2;
        if line[cr] != b'\r'
            || line.get(cr + 1) != Some(&b'\n')
            || next > self.limits.max_head_bytes
            || self.index.headers.len() == self.limits.max_headers
        {
            return false;
        }
        let mut value_end = cr;
        while value_end > value_start && matches!(line[value_end - 1], b' ' | b'\t') {
            value_end -= 1;
        }
        self.index.headers.push((
            Span::within(start, 0, colon),
            Span::within(start, value_start, value_end - value_start),
        ));
        self.pos = next;
        self.line_start = next;
        true
    }
    // ANCHOR_END: quick_field_line

    // ANCHOR: field_line
    /// `field-line = field-name ":" OWS field-value OWS` (RFC 9112 §5).
    fn field_line(&mut self, line: &[u8], offset: usize) -> Result<(), ParseError> {
        if matches!(line[0], b' ' | b'\t') {
            return Err(ParseError::ObsoleteFold);
        }
        let (name, value) = split_field_line(line)?;
        if self.index.headers.len() == self.limits.max_headers {
            return Err(ParseError::TooManyHeaders);
        }
        let value_offset = value.as_ptr() as usize - line.as_ptr() as usize;
        self.index.headers.push((
            Span::within(offset, 0, name.len()),
            Span::within(offset, value_offset, value.len()),
        ));
        Ok(())
    }
    // ANCHOR_END: field_line
}

/// Splits and validates one field line, returning the name and the value
/// with its surrounding whitespace removed. Also used for chunked trailers.
pub(crate) fn split_field_line(line: &[u8]) -> Result<(&[u8], &[u8]), ParseError> {
    // Fast path, one pass over the name: in a valid line the first byte
    // that is not a token byte is the colon. (Finding the colon and then
    // checking the name were two passes, 50% of this function's time.)
    let name_len = line.iter().position(|&b| !is_token(b));
    if let Some(colon @ 1..) = name_len.filter(|&n| line[n] == b':') {
        let value = trim_ows(&line[colon + 1..]);
        if !all_field_bytes(value) {
            return Err(ParseError::InvalidHeaderValue);
        }
        return Ok((&line[..colon], value));
    }
    // Otherwise the line is invalid; the checks below say how.
    let colon = line
        .iter()
        .position(|&b| b == b':')
        .ok_or(ParseError::MissingColon)?;
    let name = &line[..colon];
    match name.last() {
        None => return Err(ParseError::InvalidHeaderName),
        // A proxy might strip this space and a server keep it: refuse both.
        Some(b' ' | b'\t') => return Err(ParseError::WhitespaceBeforeColon),
        Some(_) => {}
    }
    if !name.iter().all(|&b| is_token(b)) {
        return Err(ParseError::InvalidHeaderName);
    }
    let value = trim_ows(&line[colon + 1..]);
    if !all_field_bytes(value) {
        return Err(ParseError::InvalidHeaderValue);
    }
    Ok((name, value))
}

// ANCHOR: swar
// Scanning a head byte by byte was 85% of its parse time (measured with
// `perf record` on `benches/http_parse.rs`): the line-end search and the
// field-value check both look at every byte. Both now look at eight bytes
// at once, as one `u64`, and only fall back to single bytes for the word
// where something interesting is. No `unsafe`, no SIMD intrinsics: plain
// integer arithmetic ("SIMD within a register").

/// `0x01` in every byte of a word.
const ONES: u64 = u64::from_ne_bytes([0x01; 8]);

/// Whether some byte of `word` is below `n` (for `n` up to 0x80).
///
/// Subtracting `n` from every byte borrows into a byte's top bit exactly
/// when that byte was below `n`; `& !word` drops bytes whose top bit was
/// already set (0x80 and above). A borrow can spill into the next byte and
/// flag it too, but only if some byte really was below `n`, so the yes/no
/// answer is exact.
const fn has_byte_below(word: u64, n: u8) -> bool {
    word.wrapping_sub(ONES * n as u64) & !word & (ONES * 0x80) != 0
}

/// Eight bytes from a chunk of exactly eight, the first one lowest.
fn word(chunk: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(chunk);
    u64::from_le_bytes(bytes)
}

/// The index of the first CR or LF in `bytes`.
///
/// CR (0x0D) and LF (0x0A) are both below 0x0E, and in a head almost no
/// other byte is (HTAB, 0x09, is allowed in values but rare), so whole
/// words with no byte below 0x0E are skipped at once.
fn find_line_end(bytes: &[u8]) -> Option<usize> {
    let mut skipped = 0;
    for chunk in bytes.chunks_exact(8) {
        if has_byte_below(word(chunk), 0x0E) {
            break;
        }
        skipped += 8;
    }
    let rest = &bytes[skipped..];
    let found = rest.iter().position(|&b| b == b'\r' || b == b'\n')?;
    Some(skipped + found)
}

/// The index of the first byte that is not a [field byte](is_field_byte)
/// (in a valid field line, the CR that ends it), a word at a time: the
/// lowest flag of [`non_field_flags`] says which byte it is, so the word
/// that holds the CR needs no byte loop (that loop was a third of the scan).
fn find_non_field_byte(bytes: &[u8]) -> Option<usize> {
    let mut chunks = bytes.chunks_exact(8);
    let mut skipped = 0;
    for chunk in &mut chunks {
        let flags = non_field_flags(word(chunk));
        if flags != 0 {
            let first = flags.trailing_zeros() as usize / 8;
            if chunk[first] != b'\t' {
                return Some(skipped + first);
            }
            // HTAB is allowed, and the flags above it may be false: look
            // at this word byte by byte.
            if let Some(i) = chunk.iter().position(|&b| !is_field_byte(b)) {
                return Some(skipped + i);
            }
        }
        skipped += 8;
    }
    let found = chunks.remainder().iter().position(|&b| !is_field_byte(b))?;
    Some(skipped + found)
}

/// 0x80 in each byte of `w` that is below 0x20 or DEL (0x7F), the bytes
/// that are not field bytes (HTAB aside), the way [`has_byte_below`]
/// finds them; a byte equal to 0x7F is a zero byte once XORed with 0x7F.
/// A borrow can flag a byte above a flagged one, never below it, so the
/// lowest flag (first byte, as words are little-endian) is always true.
const fn non_field_flags(w: u64) -> u64 {
    let del = w ^ (ONES * 0x7F);
    ((w.wrapping_sub(ONES * 0x20) & !w) | (del.wrapping_sub(ONES) & !del)) & (ONES * 0x80)
}

/// Whether every byte is a [field byte](is_field_byte). A word with no
/// byte below 0x20 and no DEL (0x7F) is all field bytes; any other word is
/// checked byte by byte (it may just hold an HTAB).
fn all_field_bytes(bytes: &[u8]) -> bool {
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        if non_field_flags(word(chunk)) != 0 && !chunk.iter().all(|&b| is_field_byte(b)) {
            return false;
        }
    }
    chunks.remainder().iter().all(|&b| is_field_byte(b))
}
// ANCHOR_END: swar

/// How many bytes at the start of `bytes` are token bytes. Still one
/// table lookup per byte, but in runs of eight with no end-of-input check
/// between them: the plain `position` loop cost about 7 instructions a
/// byte, the largest item left in a field line.
fn token_len(bytes: &[u8]) -> usize {
    let mut chunks = bytes.chunks_exact(8);
    let mut len = 0;
    for chunk in &mut chunks {
        let mut eight = [0u8; 8];
        eight.copy_from_slice(chunk);
        if let Some(i) = eight.iter().position(|&b| !is_token(b)) {
            return len + i;
        }
        len += 8;
    }
    let rest = chunks.remainder();
    len + rest
        .iter()
        .position(|&b| !is_token(b))
        .unwrap_or(rest.len())
}

/// Removes optional whitespace (SP and HTAB) from both ends.
pub(crate) fn trim_ows(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

/// `tchar` of RFC 9110 §5.6.2: what a method or field name may contain.
pub(crate) const fn is_token(b: u8) -> bool {
    TOKEN[b as usize]
}

/// A byte allowed inside a field value: HTAB, SP, visible ASCII and
/// obs-text (0x80–0xFF). Every other control, NUL, CR, LF and DEL is not.
pub(crate) const fn is_field_byte(b: u8) -> bool {
    b == b'\t' || (b >= 0x20 && b != 0x7f)
}

const TOKEN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        b += 1;
    }
    table
};

/// Parses `HTTP/1.0` or `HTTP/1.1`; any other `HTTP/d.d` is unsupported.
pub(crate) fn parse_version(bytes: &[u8]) -> Result<Version, ParseError> {
    match bytes {
        b"HTTP/1.1" => Ok(Version::Http11),
        b"HTTP/1.0" => Ok(Version::Http10),
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            Err(ParseError::UnsupportedVersion)
        }
        _ => Err(ParseError::InvalidVersion),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_at_a_time_scans_match_byte_at_a_time() {
        // Every byte value at every position of a 19-byte line (two whole
        // words and a tail), against the obvious byte loops.
        for at in 0..19 {
            for b in 0..=255u8 {
                let mut line = *b"Accept: text/html.x";
                line[at] = b;
                let slow_end = line.iter().position(|&c| c == b'\r' || c == b'\n');
                assert_eq!(find_line_end(&line), slow_end, "byte {b:#x} at {at}");
                let slow_ok = line.iter().all(|&c| is_field_byte(c));
                assert_eq!(all_field_bytes(&line), slow_ok, "byte {b:#x} at {at}");
                let slow_bad = line.iter().position(|&c| !is_field_byte(c));
                assert_eq!(find_non_field_byte(&line), slow_bad, "byte {b:#x} at {at}");
                let slow_token = line.iter().position(|&c| !is_token(c)).unwrap_or(19);
                assert_eq!(token_len(&line), slow_token, "byte {b:#x} at {at}");
            }
        }
    }

    #[test]
    fn word_at_a_time_scans_match_with_two_odd_bytes() {
        // Two bytes near the edges of the classes, at every pair of
        // positions: a borrow out of the first must not move the answer.
        const ODD: [u8; 12] = [
            0, 0x08, 0x09, 0x0a, 0x0d, 0x1f, 0x20, 0x7e, 0x7f, 0x80, 0xa0, 0xff,
        ];
        for at in 0..19 {
            for also in at + 1..19 {
                for a in ODD {
                    for b in ODD {
                        let mut line = *b"Accept: text/html.x";
                        (line[at], line[also]) = (a, b);
                        let slow_end = line.iter().position(|&c| c == b'\r' || c == b'\n');
                        assert_eq!(find_line_end(&line), slow_end, "{a:#x} {b:#x} {at} {also}");
                        let slow_bad = line.iter().position(|&c| !is_field_byte(c));
                        assert_eq!(
                            find_non_field_byte(&line),
                            slow_bad,
                            "{a:#x} {b:#x} {at} {also}"
                        );
                        let slow_ok = slow_bad.is_none();
                        assert_eq!(all_field_bytes(&line), slow_ok, "{a:#x} {b:#x} {at} {also}");
                    }
                }
            }
        }
    }

    #[test]
    fn fields_keep_order_past_the_inline_room() {
        let mut fields = Fields::default();
        let field = |i| (Span::within(i, 0, 1), Span::within(i, 2, 3));
        let all: Vec<_> = (0..INLINE_FIELDS + 5).map(field).collect();
        for (i, f) in all.iter().enumerate() {
            fields.push(*f);
            assert_eq!(&*fields, &all[..=i]);
        }
        assert_eq!(fields.clone(), fields);
    }

    #[test]
    fn has_byte_below_is_exact() {
        assert!(has_byte_below(u64::from_ne_bytes(*b"abcdefg\x0d"), 0x0E));
        assert!(!has_byte_below(u64::from_ne_bytes(*b"abcdefg\x0e"), 0x0E));
        assert!(!has_byte_below(
            u64::from_ne_bytes([0x80, 0xff, 0x20, 0x7f, 0x41, 0x0e, 0x90, 0xfe]),
            0x0E
        ));
        assert!(has_byte_below(
            u64::from_ne_bytes([0x80, 0xff, 0x20, 0x7f, 0x41, 0x00, 0x90, 0xfe]),
            1
        ));
    }
}
