//! The client side: turning an `text/event-stream` byte stream back into
//! events, following the WHATWG HTML algorithm "Interpreting an event
//! stream" step by step.
//!
//! It is a sans-IO state machine: feed it bytes as they arrive, in chunks of
//! any size (a chunk may end in the middle of a line, of a UTF-8 character,
//! of the byte-order mark or between the CR and LF of a CRLF), and it hands
//! back whole [`Item`]s.
//!
//! Three buffers carry state from line to line, exactly as in the spec:
//! the *data buffer*, the *event type buffer* and the *last event ID
//! buffer*. An empty line dispatches the event they describe.
//!
//! Decoding works on bytes first and text second: line ends are found on
//! the raw bytes (CR and LF can never be part of a multi-byte UTF-8
//! sequence, and a broken sequence always ends before them), and each
//! complete line is then UTF-8 decoded with U+FFFD for invalid sequences.
//! That gives the same text as decoding the whole stream first, while a
//! character split across two chunks simply waits in the line buffer.
//!
//! Memory is bounded by [`ParserConfig`]: a server that never sends a line
//! end, or never ends an event, gets a [`ParseError`] instead of our RAM.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

/// An event as the client's `onmessage` would see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedEvent {
    /// The `event:` field, or `"message"` when there was none.
    pub event_type: String,
    /// The `data:` lines joined with LF.
    pub data: String,
    /// The last event ID *at dispatch time*: the most recent `id:` seen on
    /// this stream, in this event or an earlier one.
    pub last_event_id: String,
}

/// What the parser produces, in stream order. A `Retry` or `Comment` is
/// produced as soon as its line ends, so it comes before the event whose
/// lines it sat among (which only exists once the empty line arrives).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A dispatched event.
    Event(ParsedEvent),
    /// A valid `retry:` field: the server asks for this reconnection delay.
    Retry(Duration),
    /// A comment line (`:text`), with one leading space removed. Clients
    /// ignore these; they are surfaced for wire views and keep-alive
    /// tracking.
    Comment(String),
}

/// Memory limits for [`EventStreamParser`].
///
/// ```
/// use realtime_events::sse::ParserConfig;
/// let config = ParserConfig::default().with_max_line_bytes(4096);
/// assert_eq!(config.max_line_bytes, 4096);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParserConfig {
    /// Longest accepted line in bytes, line end and BOM excluded.
    /// Default 1 MiB.
    pub max_line_bytes: usize,
    /// Largest accepted data buffer for one event, in bytes (the joined
    /// `data:` values plus their LFs). Default 4 MiB.
    pub max_event_bytes: usize,
}

impl Default for ParserConfig {
    fn default() -> Self {
        ParserConfig {
            max_line_bytes: 1024 * 1024,
            max_event_bytes: 4 * 1024 * 1024,
        }
    }
}

impl ParserConfig {
    /// Longest accepted line in bytes.
    #[must_use]
    pub fn with_max_line_bytes(mut self, limit: usize) -> Self {
        self.max_line_bytes = limit;
        self
    }

    /// Largest accepted data buffer for one event, in bytes.
    #[must_use]
    pub fn with_max_event_bytes(mut self, limit: usize) -> Self {
        self.max_event_bytes = limit;
        self
    }
}

/// The stream broke a [`ParserConfig`] limit. The parser stays failed:
/// every later [`EventStreamParser::feed`] returns the same error, and the
/// caller should drop the connection (an `EventSource` would reconnect).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// A line grew past `max_line_bytes`.
    LineTooLong {
        /// The configured limit.
        limit: usize,
    },
    /// An event's data grew past `max_event_bytes`.
    EventTooLarge {
        /// The configured limit.
        limit: usize,
    },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::LineTooLong { limit } => {
                write!(f, "event-stream line longer than {limit} bytes")
            }
            ParseError::EventTooLarge { limit } => {
                write!(f, "event-stream event data larger than {limit} bytes")
            }
        }
    }
}

impl std::error::Error for ParseError {}

/// One line of the stream, classified. This is the part of the algorithm
/// that needs no state, so it is a free function the book can show alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    /// An empty line: dispatch the event.
    Blank,
    /// A line starting with a colon; the text after it, one leading space
    /// removed.
    Comment(&'a str),
    /// A field. With no colon on the line, the whole line is the name and
    /// the value is empty.
    Field {
        /// Everything before the first colon.
        name: &'a str,
        /// Everything after the first colon, one leading space removed.
        value: &'a str,
    },
}

// ANCHOR: parse_line
/// Classifies one decoded line (without its line end).
pub fn parse_line(line: &str) -> Line<'_> {
    if line.is_empty() {
        return Line::Blank;
    }
    match line.split_once(':') {
        // "If the line starts with a U+003A COLON character: ignore it."
        Some(("", comment)) => Line::Comment(strip_one_space(comment)),
        // "If the line contains a U+003A COLON character: collect the
        // characters before the first colon as the field name, after it as
        // the value; if the value starts with a U+0020 SPACE, remove it."
        Some((name, value)) => Line::Field {
            name,
            value: strip_one_space(value),
        },
        // "Otherwise: the whole line is the field name, and the empty string
        // is the field value."
        None => Line::Field {
            name: line,
            value: "",
        },
    }
}
// ANCHOR_END: parse_line

fn strip_one_space(s: &str) -> &str {
    s.strip_prefix(' ').unwrap_or(s)
}

const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// The client-side event-stream parser. See the module docs.
///
/// ```
/// use realtime_events::sse::{EventStreamParser, Item, ParsedEvent};
///
/// let mut p = EventStreamParser::new();
/// let mut items = Vec::new();
/// p.feed(b"id: 1\ndata: hel", &mut items).unwrap();
/// assert!(items.is_empty()); // the event is not complete yet
/// p.feed(b"lo\n\n", &mut items).unwrap();
/// assert_eq!(
///     items,
///     [Item::Event(ParsedEvent {
///         event_type: "message".into(),
///         data: "hello".into(),
///         last_event_id: "1".into(),
///     })]
/// );
/// ```
#[derive(Debug, Clone)]
pub struct EventStreamParser {
    config: ParserConfig,
    /// How many bytes of a leading BOM we have matched so far, or `None`
    /// once the start of the stream is behind us.
    bom_matched: Option<usize>,
    /// Bytes of the current, not yet terminated line.
    line: Vec<u8>,
    /// The previous chunk ended with CR: an LF at the start of the next one
    /// belongs to that CRLF and is not a second (empty) line.
    after_cr: bool,
    data: String,
    event_type: String,
    last_event_id_buffer: String,
    /// The source's "last event ID string": set at every dispatch and kept
    /// across events.
    last_event_id: String,
    reconnection_time: Option<Duration>,
    failed: Option<ParseError>,
}

impl Default for EventStreamParser {
    fn default() -> Self {
        Self::new()
    }
}

impl EventStreamParser {
    /// A parser with the default [`ParserConfig`].
    pub fn new() -> Self {
        Self::with_config(ParserConfig::default())
    }

    /// A parser with explicit memory limits.
    pub fn with_config(config: ParserConfig) -> Self {
        EventStreamParser {
            config,
            bom_matched: Some(0),
            line: Vec::new(),
            after_cr: false,
            data: String::new(),
            event_type: String::new(),
            last_event_id_buffer: String::new(),
            last_event_id: String::new(),
            reconnection_time: None,
            failed: None,
        }
    }

    /// The last event ID string: what an `EventSource` would send as
    /// `Last-Event-ID` if it reconnected now.
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// Sets the last event ID string, as if an event with this id had been
    /// seen: for a client that stored its place and resumes in a new
    /// process. (A browser cannot do this; a Rust client can.)
    pub fn set_last_event_id(&mut self, id: &str) {
        self.last_event_id.clear();
        self.last_event_id.push_str(id);
    }

    /// The reconnection time from the most recent valid `retry:` field.
    pub fn reconnection_time(&self) -> Option<Duration> {
        self.reconnection_time
    }

    /// Feeds the next chunk of the stream, pushing every completed item onto
    /// `out`. Items completed before an error are still pushed.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<Item>) -> Result<(), ParseError> {
        if let Some(err) = self.failed {
            return Err(err);
        }
        let result = self.feed_lines(bytes, out);
        if let Err(err) = result {
            self.failed = Some(err);
        }
        result
    }

    // ANCHOR: split_lines
    /// Cuts the chunk into lines at CRLF, LF or lone CR, carrying an
    /// unfinished line (and a trailing CR) over to the next chunk.
    fn feed_lines(&mut self, bytes: &[u8], out: &mut Vec<Item>) -> Result<(), ParseError> {
        let mut bytes = self.skip_bom(bytes);
        while !bytes.is_empty() {
            if self.after_cr {
                self.after_cr = false;
                if bytes[0] == b'\n' {
                    // The LF of a CRLF whose CR ended the previous chunk.
                    bytes = &bytes[1..];
                    continue;
                }
            }
            let Some(end) = bytes.iter().position(|&b| b == b'\r' || b == b'\n') else {
                self.check_line_len(bytes.len())?;
                self.line.extend_from_slice(bytes);
                return Ok(());
            };
            self.check_line_len(end)?;
            // A CR is a line end by itself; remember it so that an LF
            // right after it (now or in the next chunk) is not a second one.
            self.after_cr = bytes[end] == b'\r';
            if self.line.is_empty() {
                // The whole line is inside this chunk: no copy needed.
                self.process_line(&bytes[..end], out)?;
            } else {
                self.line.extend_from_slice(&bytes[..end]);
                let line = std::mem::take(&mut self.line);
                let result = self.process_line(&line, out);
                // Keep the allocation for the next line.
                self.line = line;
                self.line.clear();
                result?;
            }
            bytes = &bytes[end + 1..];
        }
        Ok(())
    }
    // ANCHOR_END: split_lines

    /// Signals the end of the stream. Per the spec, "any pending data must
    /// be discarded": an unterminated line and an event without its final
    /// empty line are dropped, never dispatched. The parser is then ready
    /// for a new connection's stream: [`last_event_id`](Self::last_event_id)
    /// and the reconnection time are kept, as an `EventSource` keeps them
    /// across reconnects, while all three buffers start empty again, as the
    /// spec says for every new stream. (So the first event of the new stream
    /// that has no `id:` sets the last event ID back to "".)
    pub fn finish(&mut self) {
        self.bom_matched = Some(0);
        self.line.clear();
        self.after_cr = false;
        self.data.clear();
        self.event_type.clear();
        self.last_event_id_buffer.clear();
        self.failed = None;
    }

    /// Strips one leading BOM, even when it arrives a byte at a time. Bytes
    /// that turn out not to be a BOM are put back as ordinary line bytes.
    fn skip_bom<'a>(&mut self, mut bytes: &'a [u8]) -> &'a [u8] {
        while let Some(matched) = self.bom_matched {
            let Some(&b) = bytes.first() else {
                break;
            };
            if b == BOM[matched] {
                bytes = &bytes[1..];
                self.bom_matched = (matched + 1 < BOM.len()).then_some(matched + 1);
            } else {
                // Not a BOM after all: the bytes we held back were text.
                self.line.extend_from_slice(&BOM[..matched]);
                self.bom_matched = None;
            }
        }
        bytes
    }

    fn check_line_len(&self, more: usize) -> Result<(), ParseError> {
        if self.line.len().saturating_add(more) > self.config.max_line_bytes {
            Err(ParseError::LineTooLong {
                limit: self.config.max_line_bytes,
            })
        } else {
            Ok(())
        }
    }

    fn process_line(&mut self, raw: &[u8], out: &mut Vec<Item>) -> Result<(), ParseError> {
        // "UTF-8 decode": invalid sequences become U+FFFD.
        let text: Cow<'_, str> = String::from_utf8_lossy(raw);
        match parse_line(&text) {
            Line::Blank => self.dispatch(out),
            Line::Comment(c) => out.push(Item::Comment(c.to_owned())),
            Line::Field { name, value } => self.process_field(name, value, out)?,
        }
        Ok(())
    }

    // ANCHOR: process_field
    fn process_field(
        &mut self,
        name: &str,
        value: &str,
        out: &mut Vec<Item>,
    ) -> Result<(), ParseError> {
        match name {
            // "Set the event type buffer to the field value."
            "event" => {
                self.event_type.clear();
                self.event_type.push_str(value);
            }
            // "Append the field value to the data buffer, then append a
            // single U+000A LINE FEED character."
            "data" => {
                let new_len = self.data.len().saturating_add(value.len() + 1);
                if new_len > self.config.max_event_bytes {
                    return Err(ParseError::EventTooLarge {
                        limit: self.config.max_event_bytes,
                    });
                }
                self.data.push_str(value);
                self.data.push('\n');
            }
            // "If the field value does not contain U+0000 NULL, set the last
            // event ID buffer to the field value. Otherwise, ignore the
            // field."
            "id" if !value.contains('\0') => {
                self.last_event_id_buffer.clear();
                self.last_event_id_buffer.push_str(value);
            }
            // "If the field value consists of only ASCII digits, interpret
            // it as an integer in base ten and set the reconnection time.
            // Otherwise, ignore the field."
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                // Absurdly long digit strings saturate instead of overflowing.
                let ms = value.bytes().fold(0u64, |acc, b| {
                    acc.saturating_mul(10).saturating_add(u64::from(b - b'0'))
                });
                let time = Duration::from_millis(ms);
                self.reconnection_time = Some(time);
                out.push(Item::Retry(time));
            }
            // An id with NUL, a retry that is not all digits, and any other
            // field name: "the field is ignored."
            _ => {}
        }
        Ok(())
    }
    // ANCHOR_END: process_field

    // ANCHOR: dispatch
    fn dispatch(&mut self, out: &mut Vec<Item>) {
        // 1. The last event ID string follows the buffer, even when no event
        //    fires: an `id:` alone still updates what a reconnect sends.
        self.last_event_id.clone_from(&self.last_event_id_buffer);
        // 2. Empty data buffer: reset and fire nothing. (`data:` with an
        //    empty value leaves "\n" here, so it *does* fire.)
        if self.data.is_empty() {
            self.event_type.clear();
            return;
        }
        // 3. Remove the one trailing LF that the last `data:` line added.
        if self.data.ends_with('\n') {
            self.data.pop();
        }
        // 4-5. The event type defaults to "message".
        let event_type = if self.event_type.is_empty() {
            "message".to_owned()
        } else {
            std::mem::take(&mut self.event_type)
        };
        out.push(Item::Event(ParsedEvent {
            event_type,
            data: std::mem::take(&mut self.data),
            last_event_id: self.last_event_id.clone(),
        }));
        // 6. Reset the data and event type buffers, but not the last event
        //    ID buffer.
        self.data.clear();
        self.event_type.clear();
    }
    // ANCHOR_END: dispatch
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_line_classifies() {
        assert_eq!(parse_line(""), Line::Blank);
        assert_eq!(parse_line(": x"), Line::Comment("x"));
        assert_eq!(parse_line("::"), Line::Comment(":"));
        assert_eq!(
            parse_line("data:  a:b"),
            Line::Field {
                name: "data",
                value: " a:b"
            }
        );
        assert_eq!(
            parse_line("data"),
            Line::Field {
                name: "data",
                value: ""
            }
        );
    }

    #[test]
    fn line_limit_is_enforced_across_chunks() {
        let mut p = EventStreamParser::with_config(ParserConfig {
            max_line_bytes: 4,
            max_event_bytes: 100,
        });
        let mut out = Vec::new();
        p.feed(b"dat", &mut out).unwrap();
        assert_eq!(
            p.feed(b"a: x", &mut out),
            Err(ParseError::LineTooLong { limit: 4 })
        );
        // Failed parsers stay failed.
        assert_eq!(
            p.feed(b"\n", &mut out),
            Err(ParseError::LineTooLong { limit: 4 })
        );
    }

    #[test]
    fn event_limit_is_enforced() {
        let mut p = EventStreamParser::with_config(ParserConfig {
            max_line_bytes: 100,
            max_event_bytes: 8,
        });
        let mut out = Vec::new();
        p.feed(b"data: abc\n", &mut out).unwrap();
        assert_eq!(
            p.feed(b"data: abcd\n", &mut out),
            Err(ParseError::EventTooLarge { limit: 8 })
        );
    }
}
