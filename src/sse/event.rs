//! One server-sent event and its wire encoding.
//!
//! An event on the wire is a block of `field: value` lines ended by an empty
//! line:
//!
//! ```text
//! event: price
//! id: 42
//! data: first line
//! data: second line
//!
//! ```
//!
//! The format has no escaping at all. A parser ends a line at CRLF, at LF
//! *and at a lone CR*, so any line break that slips into a value starts a new
//! line, which the client then reads as a field of its own (`id: 1\rretry: 1`
//! would set the retry time). The encoder's job is therefore mostly to make
//! that impossible:
//!
//! * **data** may contain line breaks: it is split on CRLF, LF and lone CR
//!   and written as one `data:` line per piece. The client joins the pieces
//!   with LF, so **every CRLF and every lone CR in data reaches the client as
//!   LF**. That is a limit of the format, not a choice: a CR cannot be
//!   carried inside data.
//! * **event name, id and comment** are single-line by nature: a CR or LF in
//!   them is refused with a typed [`EncodeError`] rather than silently
//!   altered. An id containing NUL is refused too, because clients ignore
//!   such an `id:` line entirely (the event would keep the previous id).
//! * a value that starts with a space keeps it: we always write the one
//!   separator space after the colon, which the parser strips, so `" x"` is
//!   written `data:  x`.

use std::fmt;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};

/// A server-sent event, built with a small builder API and turned into
/// bytes by [`Event::encode`].
///
/// Every part is optional. Leaving out `data` is legitimate: the client then
/// dispatches nothing, but still applies `id` (its last event ID) and
/// `retry`. An event with `data` set to the empty string *is* dispatched, with
/// empty data.
///
/// ```
/// use realtime_events::sse::Event;
/// use std::time::Duration;
///
/// let bytes = Event::new("hello\nworld")
///     .event("greeting")
///     .id("7")
///     .retry(Duration::from_secs(3))
///     .to_bytes()
///     .unwrap();
/// assert_eq!(
///     &bytes[..],
///     b"event: greeting\nid: 7\nretry: 3000\ndata: hello\ndata: world\n\n"
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    data: Option<String>,
    event: Option<String>,
    id: Option<String>,
    retry: Option<Duration>,
    comment: Option<String>,
}

/// Why an [`Event`] could not be encoded. Each variant names the field that
/// would otherwise have let a value escape into another line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeError {
    /// The event name contains CR or LF.
    EventNameHasLineBreak,
    /// The id contains CR or LF.
    IdHasLineBreak,
    /// The id contains NUL; clients ignore such an id line, so it would
    /// silently not be applied.
    IdHasNul,
    /// The comment contains CR or LF. Comments are one line; send several
    /// events (or several [`encode_comment`] calls) for several lines.
    CommentHasLineBreak,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let msg = match self {
            EncodeError::EventNameHasLineBreak => "event name contains CR or LF",
            EncodeError::IdHasLineBreak => "event id contains CR or LF",
            EncodeError::IdHasNul => "event id contains NUL",
            EncodeError::CommentHasLineBreak => "comment contains CR or LF",
        };
        f.write_str(msg)
    }
}

impl std::error::Error for EncodeError {}

impl Event {
    /// An event carrying `data` (which may contain line breaks, see the
    /// module docs for how they travel).
    pub fn new(data: impl Into<String>) -> Self {
        Event {
            data: Some(data.into()),
            ..Event::default()
        }
    }

    /// Sets (or replaces) the data.
    pub fn data(mut self, data: impl Into<String>) -> Self {
        self.data = Some(data.into());
        self
    }

    /// Sets the event name (the client's `event.type`; without it the
    /// client uses `"message"`). An empty name also means `"message"`.
    pub fn event(mut self, name: impl Into<String>) -> Self {
        self.event = Some(name.into());
        self
    }

    /// Sets the id. The client remembers it and sends it back as
    /// `Last-Event-ID` when it reconnects. An empty id resets the client's
    /// last event ID.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Asks the client to wait this long before reconnecting. The wire
    /// carries whole milliseconds; anything finer is truncated.
    pub fn retry(mut self, retry: Duration) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Adds a comment line (`: text`). Clients ignore comments; servers use
    /// them as keep-alives or as notes for someone reading the raw stream.
    pub fn comment(mut self, text: impl Into<String>) -> Self {
        self.comment = Some(text.into());
        self
    }

    /// The data, if set.
    pub fn data_str(&self) -> Option<&str> {
        self.data.as_deref()
    }

    /// The event name, if set.
    pub fn event_name(&self) -> Option<&str> {
        self.event.as_deref()
    }

    /// The id, if set.
    pub fn id_str(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The retry time, if set.
    pub fn retry_time(&self) -> Option<Duration> {
        self.retry
    }

    /// The comment, if set.
    pub fn comment_str(&self) -> Option<&str> {
        self.comment.as_deref()
    }

    /// Checks every single-line field, so that encoding cannot fail half
    /// way and leave a partial event in the output buffer.
    fn validate(&self) -> Result<(), EncodeError> {
        if let Some(c) = &self.comment {
            if has_line_break(c) {
                return Err(EncodeError::CommentHasLineBreak);
            }
        }
        if let Some(name) = &self.event {
            if has_line_break(name) {
                return Err(EncodeError::EventNameHasLineBreak);
            }
        }
        if let Some(id) = &self.id {
            if has_line_break(id) {
                return Err(EncodeError::IdHasLineBreak);
            }
            if id.contains('\0') {
                return Err(EncodeError::IdHasNul);
            }
        }
        Ok(())
    }

    // ANCHOR: encode
    /// Appends the wire form of this event to `out`, ending with the empty
    /// line that makes the client dispatch it.
    ///
    /// Fields are written in the order comment, `event`, `id`, `retry`,
    /// `data`. On error nothing is written.
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        self.validate()?;
        if let Some(c) = &self.comment {
            write_comment_line(c, out);
        }
        if let Some(name) = &self.event {
            write_field("event", name, out);
        }
        if let Some(id) = &self.id {
            write_field("id", id, out);
        }
        if let Some(retry) = self.retry {
            write_field("retry", &retry.as_millis().to_string(), out);
        }
        if let Some(data) = &self.data {
            // One `data:` line per piece; the client rejoins them with LF.
            for piece in split_lines(data) {
                write_field("data", piece, out);
            }
        }
        out.put_u8(b'\n');
        Ok(())
    }
    // ANCHOR_END: encode

    /// Encodes into a fresh, shareable buffer. A hub encodes each event once
    /// and hands clones of the same [`Bytes`] to every subscriber.
    pub fn to_bytes(&self) -> Result<Bytes, EncodeError> {
        let mut out = BytesMut::with_capacity(self.encoded_len_hint());
        self.encode(&mut out)?;
        Ok(out.freeze())
    }

    fn encoded_len_hint(&self) -> usize {
        let len = |s: &Option<String>| s.as_ref().map_or(0, |s| s.len() + 8);
        len(&self.data) + len(&self.event) + len(&self.id) + len(&self.comment) + 24
    }
}

/// Appends a lone comment line (`: text\n`), without the empty line that
/// would end an event. This is what a keep-alive looks like: it keeps
/// proxies from closing an idle connection and never fires an event.
pub fn encode_comment(text: &str, out: &mut BytesMut) -> Result<(), EncodeError> {
    if has_line_break(text) {
        return Err(EncodeError::CommentHasLineBreak);
    }
    write_comment_line(text, out);
    Ok(())
}

fn has_line_break(s: &str) -> bool {
    s.bytes().any(|b| b == b'\r' || b == b'\n')
}

/// `name: value\n`. The space after the colon is always written when there
/// is a value, because the parser removes exactly one leading space: a value
/// that itself starts with a space thus survives.
fn write_field(name: &str, value: &str, out: &mut BytesMut) {
    out.reserve(name.len() + value.len() + 3);
    out.put_slice(name.as_bytes());
    out.put_u8(b':');
    if !value.is_empty() {
        out.put_u8(b' ');
        out.put_slice(value.as_bytes());
    }
    out.put_u8(b'\n');
}

fn write_comment_line(text: &str, out: &mut BytesMut) {
    write_field("", text, out);
}

/// Splits on CRLF, LF and lone CR: exactly the line ends a parser
/// recognises. `"a\r\nb"` gives `["a", "b"]`, `""` gives `[""]` and a
/// trailing break gives a trailing empty piece.
fn split_lines(s: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.find(['\r', '\n']) {
            None => {
                rest = None;
                Some(current)
            }
            Some(i) => {
                let after = if current[i..].starts_with("\r\n") {
                    i + 2
                } else {
                    i + 1
                };
                rest = Some(&current[after..]);
                Some(&current[..i])
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(e: &Event) -> String {
        String::from_utf8(e.to_bytes().unwrap().to_vec()).unwrap()
    }

    #[test]
    fn split_lines_handles_all_three_line_ends() {
        let v: Vec<_> = split_lines("a\r\nb\rc\nd").collect();
        assert_eq!(v, ["a", "b", "c", "d"]);
        assert_eq!(split_lines("").collect::<Vec<_>>(), [""]);
        assert_eq!(split_lines("x\n").collect::<Vec<_>>(), ["x", ""]);
        assert_eq!(split_lines("\r\r\n").collect::<Vec<_>>(), ["", "", ""]);
    }

    #[test]
    fn empty_data_is_an_empty_data_line() {
        assert_eq!(enc(&Event::new("")), "data:\n\n");
    }

    #[test]
    fn leading_space_keeps_separator() {
        assert_eq!(enc(&Event::new(" x")), "data:  x\n\n");
    }

    #[test]
    fn no_event_line_without_name() {
        assert_eq!(enc(&Event::new("x")), "data: x\n\n");
    }

    #[test]
    fn comment_comes_first() {
        assert_eq!(enc(&Event::new("x").comment("hi")), ": hi\ndata: x\n\n");
    }

    #[test]
    fn failed_encode_writes_nothing() {
        let mut out = BytesMut::new();
        let err = Event::new("x").id("a\nb").encode(&mut out).unwrap_err();
        assert_eq!(err, EncodeError::IdHasLineBreak);
        assert!(out.is_empty());
    }

    #[test]
    fn keepalive_comment() {
        let mut out = BytesMut::new();
        encode_comment("", &mut out).unwrap();
        encode_comment("ping", &mut out).unwrap();
        assert_eq!(&out[..], b":\n: ping\n");
        assert_eq!(
            encode_comment("a\rb", &mut out),
            Err(EncodeError::CommentHasLineBreak)
        );
    }
}
