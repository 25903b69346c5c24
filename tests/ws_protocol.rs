//! One test per rule of RFC 6455 the message layer enforces, each checking
//! the close code a violation earns, plus the automatic replies.

use bytes::{BufMut, Bytes, BytesMut};
use realtime_events::ws::frame::{write_frame, FrameHeader, Opcode};
use realtime_events::ws::{
    CloseFrame, CloseState, Connection, Limits, Message, ProtocolError, Reader, Role, SendError,
    TimedOut, Timers, Writer, ZERO_COPY_FROM,
};
use std::time::{Duration, Instant};

const KEY: [u8; 4] = [0x11, 0x22, 0x33, 0x44];

fn header(fin: bool, opcode: Opcode, mask: Option<[u8; 4]>) -> FrameHeader {
    FrameHeader {
        fin,
        rsv1: false,
        rsv2: false,
        rsv3: false,
        opcode,
        mask,
        payload_len: 0,
    }
}

/// A masked frame, as a client sends it.
fn client_frame(fin: bool, opcode: Opcode, payload: &[u8]) -> BytesMut {
    let mut out = BytesMut::new();
    write_frame(&mut out, &header(fin, opcode, Some(KEY)), payload);
    out
}

/// Feeds `bytes` to a server-role reader; returns everything it yields.
fn server_receive(bytes: &[u8]) -> (Vec<Message>, Option<ProtocolError>) {
    receive_with(Reader::new(Role::Server, Limits::default()), bytes)
}

fn receive_with(mut reader: Reader, bytes: &[u8]) -> (Vec<Message>, Option<ProtocolError>) {
    let mut input = BytesMut::from(bytes);
    let mut messages = Vec::new();
    loop {
        match reader.receive(&mut input) {
            Ok(Some(m)) => messages.push(m),
            Ok(None) => return (messages, None),
            Err(e) => return (messages, Some(e)),
        }
    }
}

fn error_code(bytes: &[u8]) -> Option<u16> {
    server_receive(bytes).1.map(|e| e.close_code())
}

#[test]
fn valid_fragmented_message_with_ping_between() {
    let mut wire = client_frame(false, Opcode::Text, "Hel".as_bytes());
    wire.extend_from_slice(&client_frame(true, Opcode::Ping, b"p"));
    wire.extend_from_slice(&client_frame(false, Opcode::Continuation, b"lo "));
    wire.extend_from_slice(&client_frame(
        true,
        Opcode::Continuation,
        "wörld".as_bytes(),
    ));
    let (msgs, err) = server_receive(&wire);
    assert_eq!(err, None);
    assert_eq!(
        msgs,
        vec![
            Message::Ping(Bytes::from_static(b"p")),
            Message::Text("Hello wörld".into())
        ]
    );
}

#[test]
fn reserved_opcode_is_1002() {
    for op in [3u8, 7, 0xB, 0xF] {
        assert_eq!(error_code(&[0x80 | op, 0x80, 1, 2, 3, 4]), Some(1002));
    }
}

#[test]
fn reserved_bits_are_1002() {
    for bit in [0x40u8, 0x20, 0x10] {
        let mut wire = client_frame(true, Opcode::Text, b"x");
        wire[0] |= bit;
        assert_eq!(error_code(&wire), Some(1002));
    }
}

#[test]
fn non_minimal_length_is_1002() {
    assert_eq!(error_code(&[0x82, 0xFE, 0x00, 0x05]), Some(1002));
}

#[test]
fn server_requires_masked_frames() {
    let mut wire = BytesMut::new();
    write_frame(&mut wire, &header(true, Opcode::Text, None), b"hi");
    let (_, err) = server_receive(&wire);
    assert_eq!(err, Some(ProtocolError::UnmaskedFrame));
    assert_eq!(err.unwrap().close_code(), 1002);
}

#[test]
fn client_requires_unmasked_frames() {
    let reader = Reader::new(Role::Client, Limits::default());
    let (_, err) = receive_with(reader, &client_frame(true, Opcode::Text, b"hi"));
    assert_eq!(err, Some(ProtocolError::MaskedFrame));
    assert_eq!(err.unwrap().close_code(), 1002);
}

#[test]
fn fragmented_control_is_1002() {
    let (_, err) = server_receive(&client_frame(false, Opcode::Ping, b"x"));
    assert_eq!(err, Some(ProtocolError::FragmentedControl));
    assert_eq!(err.unwrap().close_code(), 1002);
}

#[test]
fn long_control_is_1002() {
    for op in [Opcode::Ping, Opcode::Pong, Opcode::Close] {
        let (_, err) = server_receive(&client_frame(true, op, &[b'a'; 126]));
        assert_eq!(err, Some(ProtocolError::ControlTooLong));
    }
    // 125 is fine.
    let (msgs, err) = server_receive(&client_frame(true, Opcode::Ping, &[b'a'; 125]));
    assert_eq!((msgs.len(), err), (1, None));
    assert_eq!(ProtocolError::ControlTooLong.close_code(), 1002);
}

#[test]
fn continuation_without_start_is_1002() {
    let (_, err) = server_receive(&client_frame(true, Opcode::Continuation, b"x"));
    assert_eq!(err, Some(ProtocolError::UnexpectedContinuation));
    assert_eq!(err.unwrap().close_code(), 1002);
}

#[test]
fn new_message_while_fragmented_is_1002() {
    let mut wire = client_frame(false, Opcode::Text, b"a");
    wire.extend_from_slice(&client_frame(true, Opcode::Binary, b"b"));
    let (_, err) = server_receive(&wire);
    assert_eq!(err, Some(ProtocolError::ExpectedContinuation));
    assert_eq!(err.unwrap().close_code(), 1002);
}

#[test]
fn invalid_utf8_fails_mid_frame_with_1007() {
    // The frame announces 100 bytes; only the first 4 have arrived and the
    // 4th proves the text invalid (U+110000 and beyond): fail right away.
    let frame = client_frame(
        true,
        Opcode::Text,
        &[b"abc".as_slice(), &[0xF4, 0x90], &[b'z'; 95]].concat(),
    );
    let header_len = 2 + 4;
    let (msgs, err) = server_receive(&frame[..header_len + 5]);
    assert!(msgs.is_empty());
    assert_eq!(err, Some(ProtocolError::InvalidUtf8));
    assert_eq!(err.unwrap().close_code(), 1007);
}

#[test]
fn invalid_utf8_across_fragments_is_1007() {
    // A character cut between fragments is fine...
    let mut wire = client_frame(false, Opcode::Text, &[0xE2, 0x82]);
    wire.extend_from_slice(&client_frame(true, Opcode::Continuation, &[0xAC]));
    assert_eq!(server_receive(&wire).0, vec![Message::Text("€".into())]);
    // ...one left unfinished at the end of the message is not.
    let (_, err) = server_receive(&client_frame(true, Opcode::Text, &[b'a', 0xE2, 0x82]));
    assert_eq!(err.map(|e| e.close_code()), Some(1007));
    // A surrogate is refused in the fragment where it starts to show.
    let mut wire = client_frame(false, Opcode::Text, &[0xED]);
    wire.extend_from_slice(&client_frame(false, Opcode::Continuation, &[0xA0]));
    let (_, err) = server_receive(&wire);
    assert_eq!(err.map(|e| e.close_code()), Some(1007));
}

#[test]
fn huge_frame_refused_from_header_alone() {
    // A header declaring 2^63 - 1 bytes: refused before any payload, with
    // nothing allocated for it (the reader only ever saw 14 bytes).
    let mut wire = BytesMut::new();
    wire.put_u8(0x82);
    wire.put_u8(0xFF);
    wire.put_u64(u64::MAX >> 1);
    wire.put_slice(&KEY);
    let (msgs, err) = server_receive(&wire);
    assert!(msgs.is_empty());
    assert!(matches!(err, Some(ProtocolError::FrameTooLarge { .. })));
    assert_eq!(err.unwrap().close_code(), 1009);
}

#[test]
fn endless_fragmented_message_refused_at_limit() {
    let limits = Limits {
        max_frame_size: 1 << 20,
        max_message_size: 1 << 20,
    };
    let mut reader = Reader::new(Role::Server, limits);
    let fragment = vec![0u8; 64 * 1024];
    let mut input = client_frame(false, Opcode::Binary, &fragment);
    let mut sent = fragment.len();
    loop {
        match reader.receive(&mut input) {
            Ok(None) => {
                assert!(input.is_empty());
                input = client_frame(false, Opcode::Continuation, &fragment);
                sent += fragment.len();
            }
            Ok(Some(m)) => panic!("unexpected message {m:?}"),
            Err(e) => {
                assert!(matches!(e, ProtocolError::MessageTooLarge { .. }));
                assert_eq!(e.close_code(), 1009);
                // Refused on the header of the first fragment past the limit.
                assert_eq!(sent, (1 << 20) + fragment.len());
                break;
            }
        }
    }
}

#[test]
fn frame_over_limit_is_1009() {
    let limits = Limits {
        max_frame_size: 10,
        max_message_size: 100,
    };
    let reader = Reader::new(Role::Server, limits);
    let (_, err) = receive_with(reader, &client_frame(true, Opcode::Text, &[b'a'; 11]));
    assert_eq!(err.map(|e| e.close_code()), Some(1009));
}

#[test]
fn close_payload_rules() {
    // One byte: 1002.
    assert_eq!(
        error_code(&client_frame(true, Opcode::Close, &[0x03])),
        Some(1002)
    );
    // Codes that may not appear on the wire: 1002.
    for code in [
        0u16, 999, 1004, 1005, 1006, 1012, 1015, 1016, 2000, 2999, 5000,
    ] {
        let frame = client_frame(true, Opcode::Close, &code.to_be_bytes());
        assert_eq!(error_code(&frame), Some(1002), "code {code}");
    }
    // Valid codes pass.
    for code in [1000u16, 1001, 1003, 1007, 1011, 3000, 4999] {
        let frame = client_frame(true, Opcode::Close, &code.to_be_bytes());
        assert_eq!(error_code(&frame), None, "code {code}");
    }
    // A reason that is not UTF-8: 1007.
    let frame = client_frame(true, Opcode::Close, &[0x03, 0xE8, 0xC3, 0x28]);
    assert_eq!(error_code(&frame), Some(1007));
    // Empty close and code + reason.
    assert_eq!(
        server_receive(&client_frame(true, Opcode::Close, &[])).0,
        vec![Message::Close(None)]
    );
    let frame = client_frame(true, Opcode::Close, &[0x03, 0xE8, b'b', b'y', b'e']);
    assert_eq!(
        server_receive(&frame).0,
        vec![Message::Close(Some(CloseFrame {
            code: 1000,
            reason: "bye".into()
        }))]
    );
}

#[test]
fn nothing_is_read_after_close() {
    let mut wire = client_frame(true, Opcode::Close, &[]);
    wire.extend_from_slice(&client_frame(true, Opcode::Text, b"late"));
    assert_eq!(server_receive(&wire).0, vec![Message::Close(None)]);
}

/// Decodes what a server-role connection wrote, as its client peer would.
fn decode_output(conn: &mut Connection) -> Vec<Message> {
    let bytes = conn.output_mut().split();
    let (msgs, err) = receive_with(Reader::new(Role::Client, Limits::default()), &bytes);
    assert_eq!(err, None);
    msgs
}

#[test]
fn connection_answers_ping_and_echoes_close() {
    let mut conn = Connection::new(Role::Server, Limits::default());
    let mut input = client_frame(true, Opcode::Ping, b"hb");
    input.extend_from_slice(&client_frame(true, Opcode::Close, &[0x0F, 0xA0, b'x']));
    assert_eq!(
        conn.receive(&mut input),
        Ok(Some(Message::Ping(Bytes::from_static(b"hb"))))
    );
    assert!(matches!(
        conn.receive(&mut input),
        Ok(Some(Message::Close(Some(_))))
    ));
    assert!(conn.is_closed());
    assert_eq!(
        decode_output(&mut conn),
        vec![
            Message::Pong(Bytes::from_static(b"hb")),
            Message::Close(Some(CloseFrame {
                code: 4000,
                reason: String::new()
            }))
        ]
    );
    assert_eq!(
        conn.send(&Message::Text("no".into())),
        Err(SendError::Closed)
    );
}

#[test]
fn connection_sends_close_with_error_code() {
    let mut conn = Connection::new(Role::Server, Limits::default());
    let mut input = client_frame(true, Opcode::Text, &[0xFF]);
    let err = conn.receive(&mut input).unwrap_err();
    assert_eq!(err.close_code(), 1007);
    assert!(conn.is_closed());
    let out = decode_output(&mut conn);
    assert!(matches!(
        &out[..],
        [Message::Close(Some(CloseFrame { code: 1007, .. }))]
    ));
}

#[test]
fn after_our_close_data_is_ignored_until_peer_close() {
    let mut conn = Connection::new(Role::Server, Limits::default());
    conn.send(&Message::Close(Some(CloseFrame {
        code: 1000,
        reason: String::new(),
    })))
    .unwrap();
    let mut input = client_frame(true, Opcode::Text, b"ignored");
    input.extend_from_slice(&client_frame(true, Opcode::Ping, b"ignored"));
    input.extend_from_slice(&client_frame(true, Opcode::Close, &[0x03, 0xE8]));
    assert!(matches!(
        conn.receive(&mut input),
        Ok(Some(Message::Close(_)))
    ));
    assert!(conn.is_closed());
    // Only our own close went out: no pong, no second close.
    assert_eq!(decode_output(&mut conn).len(), 1);
}

#[test]
fn writer_refuses_invalid_control_frames() {
    let mut w = Writer::new(Role::Server);
    assert_eq!(
        w.send(&Message::Ping(Bytes::from(vec![0; 126]))),
        Err(SendError::ControlTooLong)
    );
    assert_eq!(
        w.send(&Message::Close(Some(CloseFrame {
            code: 1005,
            reason: String::new()
        }))),
        Err(SendError::InvalidCloseCode(1005))
    );
    assert!(w.output().is_empty());
}

#[test]
fn client_writer_masks() {
    let mut w = Writer::new(Role::Client);
    w.send(&Message::Binary(Bytes::from_static(b"abc")))
        .unwrap();
    let out = w.take_output();
    assert_eq!(out[1] & 0x80, 0x80);
    let (msgs, err) = server_receive(&out);
    assert_eq!(
        (msgs, err),
        (vec![Message::Binary(Bytes::from_static(b"abc"))], None)
    );
}

/// A server's zero-copy send puts the same bytes on the wire as a plain
/// send: the header in the output, then the payload it hands back.
#[test]
fn zero_copy_send_writes_the_same_bytes_as_send() {
    let messages = [
        Message::Binary(Bytes::from(vec![7u8; 70_000])),
        Message::Text("é".repeat(3_000)),
        Message::Binary(Bytes::from(vec![1u8; ZERO_COPY_FROM])),
    ];
    for msg in &messages {
        let mut plain = Writer::new(Role::Server);
        plain.send(msg).unwrap();
        let mut zero = Writer::new(Role::Server);
        let payload = zero
            .send_zero_copy(msg)
            .unwrap()
            .expect("a server data frame");
        let mut wire = zero.take_output().to_vec();
        assert!(wire.len() <= 10, "only the header was buffered");
        wire.extend_from_slice(payload);
        assert_eq!(wire, plain.take_output().to_vec());
    }
}

/// What cannot or need not skip the copy does not: a client must mask its
/// payload, control frames and small payloads go through `send`. All come
/// back encoded whole, and a closed writer refuses.
#[test]
fn zero_copy_send_falls_back_where_it_must() {
    let big = Message::Binary(Bytes::from(vec![1u8; 10_000]));
    let mut client = Writer::new(Role::Client);
    assert_eq!(client.send_zero_copy(&big).unwrap(), None);
    let mut reader = Reader::new(Role::Server, Limits::default());
    let mut wire = client.take_output();
    assert_eq!(reader.receive(&mut wire).unwrap(), Some(big.clone()));

    let mut server = Writer::new(Role::Server);
    let ping = Message::Ping(Bytes::from_static(b"p"));
    assert_eq!(server.send_zero_copy(&ping).unwrap(), None);
    assert_eq!(&server.take_output()[..], &[0x89, 0x01, b'p'][..]);
    // Under the threshold the copy is cheaper: encoded whole, header and
    // payload, and the empty message too.
    for len in [0, 20, ZERO_COPY_FROM - 1] {
        let small = Message::Binary(Bytes::from(vec![2u8; len]));
        let mut plain = Writer::new(Role::Server);
        plain.send(&small).unwrap();
        assert_eq!(server.send_zero_copy(&small).unwrap(), None);
        assert_eq!(server.take_output(), plain.take_output());
    }
    server.send(&Message::Close(None)).unwrap();
    assert_eq!(server.send_zero_copy(&big), Err(SendError::Closed));
}

/// A server connection with short, distinct timers: ping after 10 s of
/// silence, 4 s for an answer, 2 s to close.
fn timed_connection() -> Connection {
    Connection::new(Role::Server, Limits::default()).with_timers(
        Timers::default()
            .with_ping_after(Some(Duration::from_secs(10)))
            .with_pong_timeout(Duration::from_secs(4))
            .with_close_timeout(Duration::from_secs(2)),
    )
}

#[test]
fn a_silent_peer_is_pinged_then_failed_with_1011() {
    let start = Instant::now();
    let mut conn = timed_connection();
    let secs = |s| start + Duration::from_secs(s);
    assert_eq!(conn.poll_timeout(start), Some(secs(10)));
    // Too early: nothing happens.
    assert_eq!(conn.handle_timeout(secs(9)), Ok(()));
    assert!(!conn.has_output());
    // Ten silent seconds: a ping, and four seconds to answer it.
    assert_eq!(conn.handle_timeout(secs(10)), Ok(()));
    assert_eq!(decode_output(&mut conn), vec![Message::Ping(Bytes::new())]);
    assert_eq!(conn.poll_timeout(secs(10)), Some(secs(14)));
    // No answer: a 1011 close, and the connection is over.
    assert_eq!(conn.handle_timeout(secs(14)), Err(TimedOut::Keepalive));
    assert_eq!(conn.state(), CloseState::Failed);
    assert!(matches!(
        &decode_output(&mut conn)[..],
        [Message::Close(Some(CloseFrame { code: 1011, .. }))]
    ));
    assert_eq!(conn.poll_timeout(secs(15)), None);
}

#[test]
fn any_bytes_from_the_peer_count_as_alive() {
    let start = Instant::now();
    let secs = |s| start + Duration::from_secs(s);
    let mut conn = timed_connection();
    conn.poll_timeout(start);
    conn.handle_timeout(secs(10)).unwrap();
    conn.output_mut().clear();
    // A data message (not even a pong) arrives in time.
    let mut input = client_frame(true, Opcode::Text, b"here");
    assert!(conn.receive(&mut input).unwrap().is_some());
    // The clock restarts from when it was next read: no timeout at 14 s.
    assert_eq!(conn.poll_timeout(secs(12)), Some(secs(22)));
    assert_eq!(conn.handle_timeout(secs(14)), Ok(()));
    assert!(!conn.has_output());
    assert_eq!(conn.state(), CloseState::Open);
}

#[test]
fn keepalive_can_be_turned_off() {
    let start = Instant::now();
    let mut conn = Connection::new(Role::Server, Limits::default())
        .with_timers(Timers::default().with_ping_after(None));
    assert_eq!(conn.poll_timeout(start), None);
    assert_eq!(
        conn.handle_timeout(start + Duration::from_secs(3600)),
        Ok(())
    );
    assert!(!conn.has_output());
}

#[test]
fn the_close_deadline_starts_when_the_close_is_out_and_data_does_not_move_it() {
    let start = Instant::now();
    let secs = |s| start + Duration::from_secs(s);
    let mut conn = timed_connection();
    conn.send(&Message::Close(None)).unwrap();
    assert_eq!(conn.state(), CloseState::CloseSent { deadline: None });
    // The shell asks once the close is written: the deadline is armed.
    assert_eq!(conn.poll_timeout(secs(1)), Some(secs(3)));
    let mut input = client_frame(true, Opcode::Text, b"still talking");
    assert_eq!(
        conn.receive(&mut input),
        Ok(None),
        "data after our close is dropped"
    );
    assert_eq!(conn.poll_timeout(secs(2)), Some(secs(3)));
    assert_eq!(conn.handle_timeout(secs(3)), Err(TimedOut::Close));
    assert_eq!(conn.state(), CloseState::Failed);
    assert_eq!(
        conn.send(&Message::Text("late".into())),
        Err(SendError::Closed)
    );
}

#[test]
fn the_closing_handshake_walks_the_states() {
    // We close first; the peer answers.
    let mut conn = timed_connection();
    assert_eq!(conn.state(), CloseState::Open);
    conn.send(&Message::Close(None)).unwrap();
    let mut input = client_frame(true, Opcode::Close, &[0x03, 0xE8]);
    assert!(matches!(
        conn.receive(&mut input),
        Ok(Some(Message::Close(_)))
    ));
    assert_eq!(conn.state(), CloseState::Closed);
    // The peer closes first; we echo.
    let mut conn = timed_connection();
    let mut input = client_frame(true, Opcode::Close, &[0x03, 0xE8]);
    assert!(matches!(
        conn.receive(&mut input),
        Ok(Some(Message::Close(_)))
    ));
    assert_eq!(conn.state(), CloseState::Closed);
    assert_eq!(decode_output(&mut conn).len(), 1, "the echo");
    // The transport breaks.
    let mut conn = timed_connection();
    conn.abort();
    assert_eq!(conn.state(), CloseState::Failed);
    assert!(conn.is_closed());
}
