//! The shared log's rules, with no I/O: what a Redis stream id is, how a
//! `Last-Event-ID` is judged against what the stream still holds, and the
//! `reset` event that tells a client it cannot be resumed exactly.
//!
//! Redis gives every entry an id `MS-SEQ` (the server's clock in
//! milliseconds, and a counter within that millisecond), increasing for
//! the life of the stream. We use it unchanged as the SSE `id:`, so every
//! instance hands out the same id for the same event, and any instance
//! can answer "what came after X?" by asking Redis.
//!
//! Three facts about the stream decide that answer ([`LogInfo`]):
//!
//! * its *origin*: an id below every entry of this life of the stream,
//!   recorded next to it when the stream is first written (a Redis that
//!   restarted without persistence has lost both, and records a new one);
//! * its last generated id;
//! * the largest id it ever lost: trimmed (our append script records the
//!   last id it trims, because Redis does not: its `max-deleted-entry-id`
//!   only follows `XDEL`) or deleted. Trimming only removes the oldest
//!   entries, so "nothing after X was lost" is exactly "X is not below
//!   that id".

use std::fmt;

use bytes::Bytes;

use crate::sse::Event;

/// A Redis stream entry id, `MS-SEQ`. Ordered as Redis orders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    /// Milliseconds (the Redis server's clock when the entry was added).
    pub ms: u64,
    /// Sequence number within that millisecond.
    pub seq: u64,
}

impl StreamId {
    /// The id below every entry: `0-0`.
    pub const ZERO: StreamId = StreamId { ms: 0, seq: 0 };

    /// Parses `MS-SEQ` strictly (decimal digits on both sides). Anything
    /// else, including a browser's empty `Last-Event-ID`, cannot be ours.
    ///
    /// ```
    /// use realtime_events::broker::StreamId;
    /// assert_eq!(StreamId::parse("1700000000000-3"), Some(StreamId { ms: 1700000000000, seq: 3 }));
    /// assert_eq!(StreamId::parse("17"), None);
    /// assert_eq!(StreamId::parse("1-+2"), None);
    /// ```
    pub fn parse(s: &str) -> Option<StreamId> {
        let (ms, seq) = s.split_once('-')?;
        let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        if !digits(ms) || !digits(seq) {
            return None;
        }
        Some(StreamId {
            ms: ms.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// One stream entry: its id and its `event` and `data` fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The entry's id, which is the event's SSE id.
    pub id: StreamId,
    /// The `event` field: the SSE event type, if any.
    pub event: Option<String>,
    /// The `data` field.
    pub data: String,
}

/// What Redis told us about the stream, read atomically with the entries
/// after a client's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogInfo {
    /// Below every entry of this life of the stream.
    pub origin: StreamId,
    /// The last id the stream generated (`0-0` if it does not exist).
    pub last_generated: StreamId,
    /// The largest id trimmed or deleted (`0-0` if none).
    pub max_deleted: StreamId,
}

// ANCHOR: verdict
/// Whether the entries after a client's id can be replayed exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every entry after the id is still in the stream.
    Complete,
    /// Entries after the id were trimmed, up to and including
    /// `lost_through`; the stream still holds the ones after it.
    Trimmed {
        /// The last id that was trimmed.
        lost_through: StreamId,
    },
    /// The id does not belong to this life of the stream: it is older than
    /// the origin (Redis restarted and lost the stream) or newer than any
    /// id generated (another Redis, or a made-up id).
    Unknown,
}

/// Judges a resume after `last` (see the module docs).
pub fn judge(last: StreamId, info: &LogInfo) -> Verdict {
    // Before its first entry, a new life's stream knows only its origin.
    let newest = info.last_generated.max(info.origin);
    if last < info.origin || last > newest {
        Verdict::Unknown
    } else if info.max_deleted > last {
        Verdict::Trimmed {
            lost_through: info.max_deleted,
        }
    } else {
        Verdict::Complete
    }
}
// ANCHOR_END: verdict

// ANCHOR: reset
/// The notice a client gets instead of a silent gap:
///
/// ```text
/// event: reset
/// id: 1700000000123-0
/// data: {"reason":"trimmed","last_event_id":"1700000000001-0","lost_through":"1700000000123-0"}
///
/// ```
///
/// `reason` is `trimmed` (the events after the client's id up to
/// `lost_through` fell out of the retention window; what follows is the
/// rest) or `unknown` (the id is not from this stream's life, e.g. Redis
/// restarted without persistence; what follows is the whole stream as
/// it is now held). Its `id:` is the position the client resumes from if
/// it drops right after, so it is never told twice.
pub fn reset_event(verdict: Verdict, last: StreamId, resume_from: StreamId) -> Bytes {
    let data = match verdict {
        Verdict::Trimmed { lost_through } => format!(
            "{{\"reason\":\"trimmed\",\"last_event_id\":\"{last}\",\"lost_through\":\"{lost_through}\"}}"
        ),
        _ => format!("{{\"reason\":\"unknown\",\"last_event_id\":\"{last}\"}}"),
    };
    Event::new(data)
        .event("reset")
        .id(resume_from.to_string())
        .to_bytes()
        .unwrap_or_default()
}
// ANCHOR_END: reset

/// A first visit's position: `id: X` and an empty line, which fires
/// nothing but sets the client's last event ID, so that a drop before the
/// first event still resumes from here.
pub fn position_marker(at: StreamId) -> Bytes {
    Event::default()
        .id(at.to_string())
        .to_bytes()
        .unwrap_or_default()
}

/// One entry as an SSE event: its `event` field as the type (if any), its
/// `data` field as the data, its stream id as the `id:`.
pub fn encode_entry(id: StreamId, event: Option<&str>, data: &str) -> Bytes {
    let plain = Event::new(data).id(id.to_string());
    let named = match event {
        Some(name) if !name.is_empty() => plain.clone().event(name),
        _ => plain.clone(),
    };
    // A name with a line break cannot be written; the data still can.
    named
        .to_bytes()
        .or_else(|_| plain.to_bytes())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    #[test]
    fn ids_parse_strictly_and_order_like_redis() {
        assert_eq!(StreamId::parse("5-0"), Some(id(5, 0)));
        for bad in [
            "",
            "5",
            "-1",
            "5-",
            "a-1",
            "5-1-2",
            " 5-1",
            "99999999999999999999-0",
        ] {
            assert_eq!(StreamId::parse(bad), None, "{bad:?}");
        }
        assert!(id(5, 9) < id(6, 0));
        assert!(id(5, 1) < id(5, 2));
        assert_eq!(id(17, 3).to_string(), "17-3");
    }

    #[test]
    fn the_three_verdicts() {
        let info = LogInfo {
            origin: id(100, 0),
            last_generated: id(200, 0),
            max_deleted: id(150, 0),
        };
        assert_eq!(judge(id(160, 0), &info), Verdict::Complete);
        assert_eq!(judge(id(150, 0), &info), Verdict::Complete);
        assert_eq!(judge(id(200, 0), &info), Verdict::Complete);
        assert_eq!(
            judge(id(149, 5), &info),
            Verdict::Trimmed {
                lost_through: id(150, 0)
            }
        );
        assert_eq!(judge(id(99, 0), &info), Verdict::Unknown);
        assert_eq!(judge(id(200, 1), &info), Verdict::Unknown);
        // A new life with no entry yet: its origin is known.
        let empty = LogInfo {
            origin: id(300, 0),
            last_generated: StreamId::ZERO,
            max_deleted: StreamId::ZERO,
        };
        assert_eq!(judge(id(300, 0), &empty), Verdict::Complete);
        assert_eq!(judge(id(200, 0), &empty), Verdict::Unknown);
    }

    #[test]
    fn reset_names_what_happened_and_carries_a_position() {
        let text = reset_event(
            Verdict::Trimmed {
                lost_through: id(9, 0),
            },
            id(3, 1),
            id(9, 0),
        );
        assert_eq!(
            &text[..],
            b"event: reset\nid: 9-0\ndata: {\"reason\":\"trimmed\",\"last_event_id\":\"3-1\",\"lost_through\":\"9-0\"}\n\n"
        );
        let text = reset_event(Verdict::Unknown, id(3, 1), id(7, 0));
        assert_eq!(
            &text[..],
            b"event: reset\nid: 7-0\ndata: {\"reason\":\"unknown\",\"last_event_id\":\"3-1\"}\n\n"
        );
    }

    #[test]
    fn entries_become_events_with_their_stream_id() {
        assert_eq!(
            &encode_entry(id(4, 2), Some("quote"), "{}")[..],
            b"event: quote\nid: 4-2\ndata: {}\n\n"
        );
        assert_eq!(
            &encode_entry(id(4, 2), Some("a\nb"), "x")[..],
            b"id: 4-2\ndata: x\n\n"
        );
        assert_eq!(&position_marker(id(4, 2))[..], b"id: 4-2\n\n");
    }
}
