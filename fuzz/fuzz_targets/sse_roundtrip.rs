//! Events built from fuzz bytes, encoded, parsed back: the client must see
//! exactly the events that were sent (data line breaks normalised to LF, the
//! documented policy), and the encoder must refuse exactly the events whose
//! single-line fields contain a line break (or an id a NUL).
//!
//! Input layout: the bytes are decoded as (lossy) UTF-8 text; U+001E
//! separates events and U+001F separates the fields of one event, in the
//! order data, event name, id, comment, retry. A missing field is unset; a
//! present retry field sets `retry` to its length × 100 ms.

#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use realtime_events::sse::{Event, EventStreamParser, Item, ParsedEvent};

fn build(record: &str) -> Event {
    let mut parts = record.split('\u{1F}');
    let mut e = Event::default();
    if let Some(d) = parts.next() {
        e = e.data(d);
    }
    if let Some(n) = parts.next() {
        e = e.event(n);
    }
    if let Some(i) = parts.next() {
        e = e.id(i);
    }
    if let Some(c) = parts.next() {
        e = e.comment(c);
    }
    if let Some(r) = parts.next() {
        e = e.retry(Duration::from_millis(r.len() as u64 * 100));
    }
    e
}

fn valid(e: &Event) -> bool {
    let one_line = |s: Option<&str>| !s.is_some_and(|s| s.contains(['\r', '\n']));
    one_line(e.event_name())
        && one_line(e.id_str())
        && one_line(e.comment_str())
        && !e.id_str().is_some_and(|s| s.contains('\0'))
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut stream = Vec::new();
    let mut expected = Vec::new();
    let mut last_id = String::new();

    for record in text.split('\u{1E}') {
        let e = build(record);
        match e.to_bytes() {
            Err(_) => {
                assert!(!valid(&e), "valid event refused: {e:?}");
                continue;
            }
            Ok(bytes) => {
                assert!(valid(&e), "invalid event encoded: {e:?}");
                stream.extend_from_slice(&bytes);
            }
        }
        if let Some(c) = e.comment_str() {
            expected.push(Item::Comment(c.to_owned()));
        }
        if let Some(r) = e.retry_time() {
            expected.push(Item::Retry(r));
        }
        if let Some(id) = e.id_str() {
            last_id = id.to_owned();
        }
        if let Some(d) = e.data_str() {
            let event_type = match e.event_name() {
                Some(n) if !n.is_empty() => n.to_owned(),
                _ => "message".to_owned(),
            };
            expected.push(Item::Event(ParsedEvent {
                event_type,
                data: d.replace("\r\n", "\n").replace('\r', "\n"),
                last_event_id: last_id.clone(),
            }));
        }
    }

    for size in [stream.len().max(1), 3] {
        let mut parser = EventStreamParser::new();
        let mut items = Vec::new();
        for chunk in stream.chunks(size) {
            parser
                .feed(chunk, &mut items)
                .expect("within default limits");
        }
        assert_eq!(items, expected);
    }
});
