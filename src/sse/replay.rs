//! The replay log: ids and the bounded ring of recent events, with no I/O
//! and no clock, so that resuming can be tested (and reasoned about) apart
//! from the fan-out that delivers live events.
//!
//! It answers one question a reconnecting client asks, "what came after
//! the last id I saw?", with one of three explicit answers ([`Resume`]):
//! everything after it, which the log still holds; some of it is gone
//! (the id is older than the oldest event held); or the id is not one this
//! log issued. What the hub then does with each answer (a `missed` event,
//! replaying a restarted server's whole run) is the hub's policy, not the
//! log's.
//!
//! Ids are the log's: every pushed event gets the next decimal id, starting
//! at 1, replacing any id the event had. Consecutive ids are what make a
//! gap visible as a gap.

use std::collections::VecDeque;
use std::ops::RangeInclusive;

use bytes::Bytes;

use super::event::{EncodeError, Event};

/// Ids, and the most recent events, encoded once.
#[derive(Debug, Clone, Default)]
pub struct ReplayLog {
    capacity: usize,
    /// The id of the most recently pushed event; 0 before the first.
    last_id: u64,
    /// `(id, encoded event)`, oldest first, ids consecutive, at most
    /// `capacity` of them.
    ring: VecDeque<(u64, Bytes)>,
    /// The encoded size of everything in `ring`.
    bytes_held: usize,
}

// ANCHOR: resume
/// The answer to "what came after id X?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resume<'a> {
    /// Every event after X is still held: these, oldest first (none if X
    /// is the latest id).
    Complete(Replay<'a>),
    /// X is older than what the log holds: the events `missed` (ids,
    /// inclusive) are gone; the ones still held follow in `then`.
    TooOld {
        /// The ids that can no longer be replayed.
        missed: RangeInclusive<u64>,
        /// Everything still held, oldest first.
        then: Replay<'a>,
    },
    /// X is past the latest id: the log never issued it. (A server that
    /// restarted begins again at 1, so its clients' ids come from an
    /// earlier run.)
    Unknown,
}
// ANCHOR_END: resume

/// Held events in id order, each `(id, encoded bytes)`.
#[derive(Debug, Clone)]
pub struct Replay<'a> {
    events: std::collections::vec_deque::Iter<'a, (u64, Bytes)>,
}

impl<'a> Iterator for Replay<'a> {
    type Item = (u64, &'a Bytes);

    fn next(&mut self) -> Option<Self::Item> {
        self.events.next().map(|(id, bytes)| (*id, bytes))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.events.size_hint()
    }
}

impl ExactSizeIterator for Replay<'_> {}

impl PartialEq for Replay<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.clone().eq(other.clone())
    }
}

impl Eq for Replay<'_> {}

impl ReplayLog {
    /// A log that keeps the `capacity` most recent events (0 keeps none,
    /// but still numbers them).
    pub fn new(capacity: usize) -> Self {
        ReplayLog {
            capacity,
            ..ReplayLog::default()
        }
    }

    /// Gives `event` the next id, encodes it once and keeps it, dropping
    /// the oldest event if the ring is full. Returns the id and the bytes
    /// (share them: cloning [`Bytes`] copies nothing).
    ///
    /// # Errors
    ///
    /// The event's own [`EncodeError`]; the id is then not used.
    pub fn push(&mut self, event: Event) -> Result<(u64, Bytes), EncodeError> {
        let id = self.last_id + 1;
        let bytes = event.id(id.to_string()).to_bytes()?;
        self.last_id = id;
        if self.capacity > 0 {
            if self.ring.len() == self.capacity {
                if let Some((_, old)) = self.ring.pop_front() {
                    self.bytes_held -= old.len();
                }
            }
            self.bytes_held += bytes.len();
            self.ring.push_back((id, bytes.clone()));
        }
        Ok((id, bytes))
    }

    // ANCHOR: after
    /// What came after `id`; see [`Resume`].
    pub fn after(&self, id: u64) -> Resume<'_> {
        if id > self.last_id {
            return Resume::Unknown;
        }
        // The first id that can still be replayed.
        let first_held = self.ring.front().map_or(self.last_id + 1, |&(id, _)| id);
        if id + 1 < first_held {
            return Resume::TooOld {
                missed: id + 1..=first_held - 1,
                then: Replay {
                    events: self.ring.iter(),
                },
            };
        }
        // Ids are consecutive, so the events after `id` start at a known
        // index: no search.
        let skip = usize::try_from(id + 1 - first_held).unwrap_or(usize::MAX);
        let mut events = self.ring.iter();
        if skip > 0 {
            events.nth(skip - 1);
        }
        Resume::Complete(Replay { events })
    }
    // ANCHOR_END: after

    /// The id of the most recent event, 0 before the first.
    pub fn last_id(&self) -> u64 {
        self.last_id
    }

    /// The oldest id still held, if any.
    pub fn first_held(&self) -> Option<u64> {
        self.ring.front().map(|&(id, _)| id)
    }

    /// How many events are held (at most the capacity).
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// Whether no event is held.
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// The encoded size of the events held, in bytes.
    pub fn bytes_held(&self) -> usize {
        self.bytes_held
    }

    /// The most events this log keeps.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

/// Reads a `Last-Event-ID` as one of our ids. Only plain decimal digits
/// could have come from a [`ReplayLog`]; anything else (`+4`, ` 4`, empty,
/// too large) is `None`.
pub fn parse_id(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The gap notice on the wire:
///
/// ```text
/// event: missed
/// id: 9
/// data: {"first":5,"last":9}
///
/// ```
///
/// naming the ids (inclusive) that can no longer be replayed. It carries
/// the last of them as its id: an event without one would set the client's
/// last event ID to "" (a new connection starts with an empty id buffer,
/// and every dispatch copies it), so a drop right after it would lose the
/// client's place.
pub fn missed_event(missed: &RangeInclusive<u64>) -> Bytes {
    let (first, last) = (missed.start(), missed.end());
    Event::new(format!("{{\"first\":{first},\"last\":{last}}}"))
        .event("missed")
        .id(last.to_string())
        .to_bytes()
        .unwrap_or_default()
}

/// The position marker, `id: N` and an empty line: it sets the client's
/// last event ID and fires nothing. A first visit gets one, so that if
/// this very first connection drops before any event, the client still
/// resumes from `N`.
pub fn position_marker(last_id: u64) -> Bytes {
    Event::default()
        .id(last_id.to_string())
        .to_bytes()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_with(capacity: usize, n: u64) -> ReplayLog {
        let mut log = ReplayLog::new(capacity);
        for i in 0..n {
            log.push(Event::new(i.to_string())).unwrap();
        }
        log
    }

    fn ids(replay: Replay<'_>) -> Vec<u64> {
        replay.map(|(id, _)| id).collect()
    }

    #[test]
    fn parse_id_is_strict() {
        assert_eq!(parse_id("42"), Some(42));
        assert_eq!(parse_id("007"), Some(7));
        assert_eq!(parse_id("+4"), None);
        assert_eq!(parse_id(" 4"), None);
        assert_eq!(parse_id(""), None);
        assert_eq!(parse_id("99999999999999999999999"), None);
    }

    #[test]
    fn missed_event_carries_the_last_missed_id() {
        assert_eq!(
            &missed_event(&(5..=9))[..],
            b"event: missed\nid: 9\ndata: {\"first\":5,\"last\":9}\n\n"
        );
    }

    #[test]
    fn position_marker_is_an_id_alone() {
        assert_eq!(&position_marker(41)[..], b"id: 41\n\n");
    }

    #[test]
    fn a_failed_push_does_not_use_an_id() {
        let mut log = ReplayLog::new(4);
        assert!(log.push(Event::new("x").comment("a\nb")).is_err());
        assert_eq!(log.push(Event::new("x")).unwrap().0, 1);
        assert_eq!(log.last_id(), 1);
    }

    #[test]
    fn the_three_answers() {
        let log = log_with(3, 10);
        assert_eq!(log.first_held(), Some(8));
        match log.after(7) {
            Resume::Complete(r) => assert_eq!(ids(r), [8, 9, 10]),
            other => panic!("{other:?}"),
        }
        match log.after(10) {
            Resume::Complete(r) => assert_eq!(ids(r), [0u64; 0]),
            other => panic!("{other:?}"),
        }
        match log.after(2) {
            Resume::TooOld { missed, then } => {
                assert_eq!(missed, 3..=7);
                assert_eq!(ids(then), [8, 9, 10]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(log.after(11), Resume::Unknown);
        assert_eq!(log.after(u64::MAX), Resume::Unknown);
    }

    #[test]
    fn without_capacity_every_earlier_id_is_too_old() {
        let log = log_with(0, 5);
        assert!(log.is_empty());
        match log.after(2) {
            Resume::TooOld { missed, then } => {
                assert_eq!(missed, 3..=5);
                assert_eq!(then.len(), 0);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(log.after(5), Resume::Complete(r) if r.len() == 0));
    }

    #[test]
    fn an_empty_log_knows_only_zero() {
        let log = ReplayLog::new(8);
        assert!(matches!(log.after(0), Resume::Complete(r) if r.len() == 0));
        assert_eq!(log.after(1), Resume::Unknown);
    }

    #[test]
    fn bytes_held_follows_the_ring() {
        let mut log = ReplayLog::new(2);
        let (_, a) = log.push(Event::new("a")).unwrap();
        let (_, b) = log.push(Event::new("bb")).unwrap();
        assert_eq!(log.bytes_held(), a.len() + b.len());
        let (_, c) = log.push(Event::new("ccc")).unwrap();
        assert_eq!(log.bytes_held(), b.len() + c.len());
    }
}
