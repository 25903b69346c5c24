//! One test per rule of the WHATWG "Interpreting an event stream"
//! algorithm, each named after the rule it checks.

use std::time::Duration;

use realtime_events::sse::{EventStreamParser, Item, ParsedEvent};

/// Feeds `chunks` one after the other and returns every item.
fn parse_chunks(chunks: &[&[u8]]) -> Vec<Item> {
    let mut p = EventStreamParser::new();
    let mut out = Vec::new();
    for c in chunks {
        p.feed(c, &mut out).unwrap();
    }
    out
}

fn parse(stream: &[u8]) -> Vec<Item> {
    parse_chunks(&[stream])
}

/// Same stream, fed one byte at a time: must give the same items.
fn parse_bytewise(stream: &[u8]) -> Vec<Item> {
    let chunks: Vec<&[u8]> = stream.chunks(1).collect();
    parse_chunks(&chunks)
}

fn ev(event_type: &str, data: &str, last_event_id: &str) -> Item {
    Item::Event(ParsedEvent {
        event_type: event_type.into(),
        data: data.into(),
        last_event_id: last_event_id.into(),
    })
}

fn msg(data: &str) -> Item {
    ev("message", data, "")
}

// --- Decoding -------------------------------------------------------------

#[test]
fn utf8_decode_strips_one_leading_bom() {
    assert_eq!(parse(b"\xEF\xBB\xBFdata: x\n\n"), [msg("x")]);
}

#[test]
fn utf8_decode_strips_bom_split_across_chunks() {
    let items = parse_chunks(&[b"\xEF", b"\xBB", b"\xBFdata: x\n\n"]);
    assert_eq!(items, [msg("x")]);
}

#[test]
fn utf8_decode_strips_only_the_first_bom() {
    // A second BOM is an ordinary U+FEFF: here it is part of the field
    // name, which is then unknown and ignored.
    let stream = b"\xEF\xBB\xBF\xEF\xBB\xBFdata: x\n\ndata: y\n\n";
    assert_eq!(parse(stream), [msg("y")]);
    assert_eq!(parse(b"data: \xEF\xBB\xBFx\n\n"), [msg("\u{FEFF}x")]);
}

#[test]
fn utf8_decode_a_partial_bom_is_text() {
    // EF BB followed by something else is not a BOM: the bytes are decoded
    // as an invalid sequence, i.e. U+FFFD, and make the field name unknown.
    assert_eq!(
        parse_bytewise(b"\xEF\xBBdata: x\n\ndata: y\n\n"),
        [msg("y")]
    );
    assert_eq!(parse(b"\xEF\xBB\n"), []);
}

#[test]
fn utf8_decode_invalid_sequences_become_replacement_characters() {
    assert_eq!(parse(b"data: a\xFFb\n\n"), [msg("a\u{FFFD}b")]);
    // A truncated sequence right before the line end.
    assert_eq!(parse(b"data: a\xE2\x82\n\n"), [msg("a\u{FFFD}")]);
    assert_eq!(
        parse_bytewise(b"data: a\xE2\x82\r\n\r\n"),
        [msg("a\u{FFFD}")]
    );
}

#[test]
fn utf8_decode_multibyte_character_split_across_chunks() {
    let stream = "data: é€😀\n\n".as_bytes();
    assert_eq!(parse_bytewise(stream), [msg("é€😀")]);
}

// --- Lines ----------------------------------------------------------------

#[test]
fn lines_end_at_crlf_lf_or_lone_cr() {
    for stream in [
        &b"data: a\r\ndata: b\r\n\r\n"[..],
        b"data: a\ndata: b\n\n",
        b"data: a\rdata: b\r\r",
        b"data: a\rdata: b\r\n\n",
    ] {
        assert_eq!(parse(stream), [msg("a\nb")], "{stream:?}");
        assert_eq!(parse_bytewise(stream), [msg("a\nb")], "{stream:?}");
    }
}

#[test]
fn lines_crlf_split_across_feeds_is_one_line_end() {
    // If the LF after the CR counted as a second line end, the empty line
    // would dispatch "a" on its own.
    let items = parse_chunks(&[b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]);
    assert_eq!(items, [msg("a\nb")]);
}

#[test]
fn lines_cr_cr_is_two_line_ends() {
    assert_eq!(parse_chunks(&[b"data: a\r", b"\r"]), [msg("a")]);
}

#[test]
fn lines_lf_cr_is_two_line_ends() {
    assert_eq!(parse(b"data: a\n\r"), [msg("a")]);
}

// --- Line kinds -----------------------------------------------------------

#[test]
fn empty_line_dispatches_the_event() {
    let mut p = EventStreamParser::new();
    let mut out = Vec::new();
    p.feed(b"data: a\n", &mut out).unwrap();
    assert!(out.is_empty());
    p.feed(b"\n", &mut out).unwrap();
    assert_eq!(out, [msg("a")]);
}

#[test]
fn line_starting_with_colon_is_a_comment_and_ignored() {
    assert_eq!(
        parse(b": hello\n:data: x\ndata: y\n\n"),
        [
            Item::Comment("hello".into()),
            Item::Comment("data: x".into()),
            msg("y")
        ]
    );
    // A comment is not an empty line: it does not dispatch.
    assert_eq!(parse(b"data: a\n:\n"), [Item::Comment(String::new())]);
}

#[test]
fn field_and_value_split_at_the_first_colon() {
    assert_eq!(parse(b"data: a: b:c\n\n"), [msg("a: b:c")]);
    assert_eq!(parse(b"data:x:\n\n"), [msg("x:")]);
}

#[test]
fn value_loses_exactly_one_leading_space() {
    assert_eq!(parse(b"data:x\n\n"), [msg("x")]);
    assert_eq!(parse(b"data: x\n\n"), [msg("x")]);
    assert_eq!(parse(b"data:  x\n\n"), [msg(" x")]);
    // Only a space, not a tab.
    assert_eq!(parse(b"data:\tx\n\n"), [msg("\tx")]);
    // Trailing spaces are kept.
    assert_eq!(parse(b"data: x \n\n"), [msg("x ")]);
}

#[test]
fn line_without_colon_is_a_field_name_with_empty_value() {
    assert_eq!(parse(b"data\n\n"), [msg("")]);
    assert_eq!(parse(b"data\ndata\n\n"), [msg("\n")]);
    // "event" alone sets an empty type, which means "message".
    assert_eq!(parse(b"event: a\nevent\ndata: x\n\n"), [msg("x")]);
}

#[test]
fn field_names_are_case_sensitive() {
    assert_eq!(parse(b"Data: x\nDATA: y\ndata: z\n\n"), [msg("z")]);
}

// --- Fields ---------------------------------------------------------------

#[test]
fn field_data_appends_value_and_a_line_feed() {
    assert_eq!(parse(b"data: a\ndata:\ndata: b\n\n"), [msg("a\n\nb")]);
}

#[test]
fn field_event_sets_the_event_type_buffer() {
    assert_eq!(parse(b"event: tick\ndata: 1\n\n"), [ev("tick", "1", "")]);
    // The last one wins.
    assert_eq!(
        parse(b"event: a\nevent: b\ndata: 1\n\n"),
        [ev("b", "1", "")]
    );
}

#[test]
fn field_id_sets_the_last_event_id_buffer() {
    assert_eq!(parse(b"id: 7\ndata: x\n\n"), [ev("message", "x", "7")]);
    assert_eq!(parse(b"id:  7 \ndata: x\n\n"), [ev("message", "x", " 7 ")]);
}

#[test]
fn field_id_with_nul_is_ignored() {
    assert_eq!(
        parse(b"id: 1\n\nid: 2\0\ndata: x\n\n"),
        [ev("message", "x", "1")]
    );
}

#[test]
fn field_id_empty_resets_the_last_event_id() {
    assert_eq!(
        parse(b"id: 1\ndata: a\n\nid\ndata: b\n\n"),
        [ev("message", "a", "1"), ev("message", "b", "")]
    );
}

#[test]
fn field_retry_of_ascii_digits_sets_the_reconnection_time() {
    let mut p = EventStreamParser::new();
    let mut out = Vec::new();
    p.feed(b"retry: 1500\n", &mut out).unwrap();
    assert_eq!(out, [Item::Retry(Duration::from_millis(1500))]);
    assert_eq!(p.reconnection_time(), Some(Duration::from_millis(1500)));
    // Digits only, base ten; leading zeros are fine.
    assert_eq!(
        parse(b"retry:0042\n"),
        [Item::Retry(Duration::from_millis(42))]
    );
}

#[test]
fn field_retry_not_all_digits_is_ignored() {
    for stream in [
        &b"retry: 15a\n"[..],
        b"retry: -1\n",
        b"retry: 1.5\n",
        b"retry: +1\n",
        b"retry:  1\n",
        b"retry: 1 \n",
        b"retry:\n",
        b"retry\n",
        b"retry: \xD9\xA3\n", // ARABIC-INDIC DIGIT THREE: a digit, not ASCII
    ] {
        assert_eq!(parse(stream), [], "{stream:?}");
    }
}

#[test]
fn field_retry_does_not_dispatch_or_touch_the_event() {
    assert_eq!(
        parse(b"data: a\nretry: 5\ndata: b\n\n"),
        [Item::Retry(Duration::from_millis(5)), msg("a\nb")]
    );
}

#[test]
fn field_retry_huge_value_does_not_overflow() {
    let items = parse(b"retry: 99999999999999999999999999\n");
    assert_eq!(items, [Item::Retry(Duration::from_millis(u64::MAX))]);
}

#[test]
fn other_fields_are_ignored() {
    assert_eq!(
        parse(b"foo: bar\nid2: 3\n: x\ndata: a\n\n"),
        [Item::Comment("x".into()), msg("a")]
    );
}

// --- Dispatch -------------------------------------------------------------

#[test]
fn dispatch_sets_the_last_event_id_even_without_data() {
    let mut p = EventStreamParser::new();
    let mut out = Vec::new();
    p.feed(b"id: 9\n\n", &mut out).unwrap();
    assert!(out.is_empty());
    assert_eq!(p.last_event_id(), "9");
    p.feed(b"data: x\n\n", &mut out).unwrap();
    assert_eq!(out, [ev("message", "x", "9")]);
}

#[test]
fn dispatch_last_event_id_persists_across_events() {
    assert_eq!(
        parse(b"id: 1\ndata: a\n\ndata: b\n\n"),
        [ev("message", "a", "1"), ev("message", "b", "1")]
    );
}

#[test]
fn dispatch_last_event_id_waits_for_the_dispatch() {
    // The id field only fills the buffer; the string changes at dispatch.
    let mut p = EventStreamParser::new();
    let mut out = Vec::new();
    p.feed(b"id: 1\n\nid: 2\n", &mut out).unwrap();
    assert_eq!(p.last_event_id(), "1");
}

#[test]
fn dispatch_empty_data_buffer_fires_no_event_and_resets_the_type() {
    assert_eq!(parse(b"event: x\n\ndata: y\n\n"), [msg("y")]);
    assert_eq!(parse(b"\n\n\n"), []);
}

#[test]
fn dispatch_empty_data_value_still_fires() {
    // `data:` leaves "\n" in the buffer: not empty, so an event with "" fires.
    assert_eq!(parse(b"data:\n\n"), [msg("")]);
}

#[test]
fn dispatch_removes_one_trailing_line_feed() {
    assert_eq!(parse(b"data: a\n\n"), [msg("a")]);
    assert_eq!(parse(b"data:\ndata:\n\n"), [msg("\n")]);
}

#[test]
fn dispatch_event_type_defaults_to_message() {
    assert_eq!(parse(b"data: x\n\n"), [ev("message", "x", "")]);
}

#[test]
fn dispatch_resets_data_and_type_buffers() {
    assert_eq!(
        parse(b"event: a\ndata: 1\n\ndata: 2\n\n"),
        [ev("a", "1", ""), ev("message", "2", "")]
    );
}

// --- End of stream ---------------------------------------------------------

#[test]
fn end_of_stream_discards_an_incomplete_event() {
    let mut p = EventStreamParser::new();
    let mut out = Vec::new();
    p.feed(b"data: a\n\ndata: b\n", &mut out).unwrap();
    p.finish();
    assert_eq!(out, [msg("a")]);
    // A new stream starts clean: "b" does not leak into it.
    p.feed(b"data: c\n\n", &mut out).unwrap();
    assert_eq!(out, [msg("a"), msg("c")]);
}

#[test]
fn end_of_stream_discards_an_unterminated_line() {
    let mut p = EventStreamParser::new();
    let mut out = Vec::new();
    p.feed(b"retry: 10", &mut out).unwrap();
    p.finish();
    assert_eq!(out, []);
    assert_eq!(p.reconnection_time(), None);
}

#[test]
fn end_of_stream_keeps_last_event_id_for_the_reconnect() {
    let mut p = EventStreamParser::new();
    let mut out = Vec::new();
    p.feed(b"id: 5\ndata: a\n\nid: 6\n", &mut out).unwrap();
    p.finish();
    assert_eq!(p.last_event_id(), "5");
    // The new stream's buffers start empty, the BOM rule applies again.
    p.feed(b"\xEF\xBB\xBFdata: b\n\n", &mut out).unwrap();
    assert_eq!(out, [ev("message", "a", "5"), ev("message", "b", "")]);
}

#[test]
fn chunking_never_changes_the_result() {
    let stream = b"\xEF\xBB\xBF: hi\r\nevent: e\rid: 3\ndata: \xC3\xA9\r\n\r\nretry: 7\n\ndata\r\r";
    let whole = parse(stream);
    assert_eq!(whole, parse_bytewise(stream));
    for cut in 0..stream.len() {
        let (a, b) = stream.split_at(cut);
        assert_eq!(parse_chunks(&[a, b]), whole, "cut at {cut}");
    }
}
