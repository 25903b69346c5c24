//! Encoder tests: round trips through the parser, and field injection.
//!
//! Run with `PROPTEST_CASES=256` locally; CI may raise it.

use std::time::Duration;

use proptest::prelude::*;
use realtime_events::sse::{parse_line, EncodeError, Event, EventStreamParser, Item, Line};

// --- The model: what a client must see for a sequence of events ------------

/// The documented data policy: CRLF and lone CR arrive as LF.
fn normalise(data: &str) -> String {
    data.replace("\r\n", "\n").replace('\r', "\n")
}

fn expected_items(events: &[Event]) -> Vec<Item> {
    let mut last_id = String::new();
    let mut items = Vec::new();
    for e in events {
        if let Some(c) = e.comment_str() {
            items.push(Item::Comment(c.to_owned()));
        }
        if let Some(r) = e.retry_time() {
            items.push(Item::Retry(Duration::from_millis(r.as_millis() as u64)));
        }
        if let Some(id) = e.id_str() {
            last_id = id.to_owned();
        }
        if let Some(data) = e.data_str() {
            let event_type = match e.event_name() {
                Some(name) if !name.is_empty() => name.to_owned(),
                _ => "message".to_owned(),
            };
            items.push(Item::Event(realtime_events::sse::ParsedEvent {
                event_type,
                data: normalise(data),
                last_event_id: last_id.clone(),
            }));
        }
    }
    items
}

fn encode_all(events: &[Event]) -> Vec<u8> {
    let mut out = bytes::BytesMut::new();
    for e in events {
        e.encode(&mut out).expect("valid event");
    }
    out.to_vec()
}

/// Parses `stream` cut at the given points (taken modulo the length).
fn parse_in_chunks(stream: &[u8], cuts: &[usize]) -> Vec<Item> {
    let mut cuts: Vec<usize> = cuts
        .iter()
        .map(|c| c % (stream.len() + 1))
        .chain([0, stream.len()])
        .collect();
    cuts.sort_unstable();
    let mut p = EventStreamParser::new();
    let mut out = Vec::new();
    for w in cuts.windows(2) {
        p.feed(&stream[w[0]..w[1]], &mut out).unwrap();
    }
    out
}

// --- Strategies -------------------------------------------------------------

/// Any text, with line breaks, spaces and colons made common.
fn text() -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        4 => any::<char>(),
        2 => Just('\r'),
        2 => Just('\n'),
        2 => Just(' '),
        1 => Just(':'),
        2 => prop::char::range('a', 'e'),
    ];
    prop::collection::vec(ch, 0..24).prop_map(|v| v.into_iter().collect())
}

/// Text without CR, LF or NUL: what a name, id or comment may hold.
fn single_line() -> impl Strategy<Value = String> {
    text().prop_map(|s| s.replace(['\r', '\n', '\0'], ""))
}

fn event() -> impl Strategy<Value = Event> {
    (
        prop::option::weighted(0.8, text()),
        prop::option::of(single_line()),
        prop::option::of(single_line()),
        prop::option::of(0u32..100_000),
        prop::option::weighted(0.2, single_line()),
    )
        .prop_map(|(data, name, id, retry, comment)| {
            let mut e = Event::default();
            if let Some(d) = data {
                e = e.data(d);
            }
            if let Some(n) = name {
                e = e.event(n);
            }
            if let Some(i) = id {
                e = e.id(i);
            }
            if let Some(r) = retry {
                e = e.retry(Duration::from_millis(r.into()));
            }
            if let Some(c) = comment {
                e = e.comment(c);
            }
            e
        })
}

/// Text that tries hard to break out of its field.
fn hostile() -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        Just('\r'),
        Just('\n'),
        Just('\0'),
        Just(':'),
        Just(' '),
        Just('\u{FEFF}'),
        prop::sample::select(vec!['d', 'a', 't', 'i', 'r', 'e', 'y', 'v', 'n']),
        any::<char>(),
    ];
    prop::collection::vec(ch, 0..16).prop_map(|v| v.into_iter().collect())
}

fn hostile_event() -> impl Strategy<Value = Event> {
    (
        prop::option::of(hostile()),
        prop::option::of(hostile()),
        prop::option::of(hostile()),
        prop::option::of(hostile()),
    )
        .prop_map(|(data, name, id, comment)| {
            let mut e = Event::default();
            if let Some(d) = data {
                e = e.data(d);
            }
            if let Some(n) = name {
                e = e.event(n);
            }
            if let Some(i) = id {
                e = e.id(i);
            }
            if let Some(c) = comment {
                e = e.comment(c);
            }
            e
        })
}

/// What the encoder must answer for `e`, in its documented check order.
fn expected_validation(e: &Event) -> Result<(), EncodeError> {
    let breaks = |s: &str| s.contains(['\r', '\n']);
    if e.comment_str().is_some_and(breaks) {
        return Err(EncodeError::CommentHasLineBreak);
    }
    if e.event_name().is_some_and(breaks) {
        return Err(EncodeError::EventNameHasLineBreak);
    }
    if e.id_str().is_some_and(breaks) {
        return Err(EncodeError::IdHasLineBreak);
    }
    if e.id_str().is_some_and(|s| s.contains('\0')) {
        return Err(EncodeError::IdHasNul);
    }
    Ok(())
}

/// Splits the way a parser does (CRLF, LF, lone CR) without its help.
fn wire_lines(stream: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut rest = stream;
    while let Some(i) = rest.find(['\r', '\n']) {
        lines.push(&rest[..i]);
        let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
        rest = &rest[i + skip..];
    }
    assert_eq!(rest, "", "encoded stream ends with a line end");
    lines
}

proptest! {
    #[test]
    fn roundtrip_through_arbitrary_chunks(
        events in prop::collection::vec(event(), 0..8),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
        bom in any::<bool>(),
    ) {
        let mut stream = if bom { vec![0xEF, 0xBB, 0xBF] } else { Vec::new() };
        stream.extend(encode_all(&events));
        prop_assert_eq!(parse_in_chunks(&stream, &cuts), expected_items(&events));
    }

    #[test]
    fn encoded_stream_only_has_the_events_own_fields(e in hostile_event()) {
        let mut out = bytes::BytesMut::new();
        let result = e.encode(&mut out);
        prop_assert_eq!(result, expected_validation(&e));
        if result.is_err() {
            prop_assert!(out.is_empty());
            return Ok(());
        }
        let wire = std::str::from_utf8(&out).unwrap();
        let (mut data, mut event, mut id, mut comment, mut blank) = (0, 0, 0, 0, 0);
        for line in wire_lines(wire) {
            match parse_line(line) {
                Line::Blank => blank += 1,
                Line::Comment(_) => comment += 1,
                Line::Field { name: "data", .. } => data += 1,
                Line::Field { name: "event", .. } => event += 1,
                Line::Field { name: "id", .. } => id += 1,
                Line::Field { name, .. } => {
                    return Err(TestCaseError::fail(format!("foreign field {name:?}")));
                }
            }
        }
        let data_lines = e.data_str().map_or(0, |d| normalise(d).split('\n').count());
        prop_assert_eq!(data, data_lines);
        prop_assert_eq!(event, usize::from(e.event_name().is_some()));
        prop_assert_eq!(id, usize::from(e.id_str().is_some()));
        prop_assert_eq!(comment, usize::from(e.comment_str().is_some()));
        prop_assert_eq!(blank, 1);
        // And the parser agrees with the model.
        prop_assert_eq!(parse_in_chunks(&out, &[]), expected_items(&[e]));
    }
}

// --- Injection, by hand -----------------------------------------------------

fn encode_err(e: Event) -> EncodeError {
    e.to_bytes().unwrap_err()
}

#[test]
fn event_name_with_cr_lf_or_crlf_is_refused() {
    for name in ["a\rretry: 1", "a\nid: 2", "a\r\ndata: x", "\n"] {
        assert_eq!(
            encode_err(Event::new("x").event(name)),
            EncodeError::EventNameHasLineBreak
        );
    }
}

#[test]
fn id_with_cr_lf_or_crlf_is_refused() {
    for id in ["1\rretry: 1", "1\nevent: x", "1\r\n", "\r"] {
        assert_eq!(
            encode_err(Event::new("x").id(id)),
            EncodeError::IdHasLineBreak
        );
    }
}

#[test]
fn id_with_nul_is_refused() {
    assert_eq!(
        encode_err(Event::new("x").id("1\u{0}2")),
        EncodeError::IdHasNul
    );
}

#[test]
fn comment_with_line_break_is_refused() {
    assert_eq!(
        encode_err(Event::new("x").comment("hi\rdata: evil")),
        EncodeError::CommentHasLineBreak
    );
}

#[test]
fn data_with_lone_cr_cannot_inject_a_field() {
    let bytes = Event::new("x\rretry: 1\revent: evil").to_bytes().unwrap();
    assert_eq!(
        &bytes[..],
        b"data: x\ndata: retry: 1\ndata: event: evil\n\n"
    );
    assert_eq!(
        parse_in_chunks(&bytes, &[]),
        expected_items(&[Event::new("x\nretry: 1\nevent: evil")])
    );
}

#[test]
fn empty_data_leading_space_and_unicode_round_trip() {
    let events = [
        Event::new(""),
        Event::new(" lead"),
        Event::new("  two\n three"),
        Event::new("\n"),
        Event::new("héllo wörld ✓ 😀").event("ünï").id("ïd 1"),
        Event::new("a\r\n\r\nb\r"),
    ];
    let stream = encode_all(&events);
    assert_eq!(parse_in_chunks(&stream, &[]), expected_items(&events));
}

#[test]
fn event_line_only_when_named() {
    let bytes = Event::new("x").id("1").to_bytes().unwrap();
    assert!(!bytes.windows(6).any(|w| w == b"event:"));
}
