//! Property tests: the header codec round-trips at every split point, and
//! the message layer reassembles any fragmentation of any valid messages,
//! with control frames in between, however the input is cut.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use realtime_events::ws::frame::{write_frame, FrameHeader, Opcode};
use realtime_events::ws::{Connection, Limits, Message, ProtocolError, Reader, Role};

fn opcode() -> impl Strategy<Value = Opcode> {
    prop_oneof![
        Just(Opcode::Continuation),
        Just(Opcode::Text),
        Just(Opcode::Binary),
        Just(Opcode::Close),
        Just(Opcode::Ping),
        Just(Opcode::Pong),
    ]
}

fn header() -> impl Strategy<Value = FrameHeader> {
    (
        any::<[bool; 4]>(),
        opcode(),
        proptest::option::of(any::<[u8; 4]>()),
        prop_oneof![0u64..126, 126u64..=0xFFFF, 0x1_0000u64..(1 << 63)],
    )
        .prop_map(
            |([fin, rsv1, rsv2, rsv3], opcode, mask, payload_len)| FrameHeader {
                fin,
                rsv1,
                rsv2,
                rsv3,
                opcode,
                mask,
                payload_len,
            },
        )
}

/// One data message, how to fragment it, and control frames to slip in.
#[derive(Debug, Clone)]
struct Plan {
    message: Message,
    cuts: Vec<usize>,
    controls: Vec<Option<Message>>,
}

fn control() -> impl Strategy<Value = Message> {
    let payload = proptest::collection::vec(any::<u8>(), 0..=125).prop_map(Bytes::from);
    prop_oneof![
        payload.clone().prop_map(Message::Ping),
        payload.prop_map(Message::Pong)
    ]
}

fn plan() -> impl Strategy<Value = Plan> {
    let message = prop_oneof![
        "\\PC{0,80}".prop_map(Message::Text),
        proptest::collection::vec(any::<u8>(), 0..400).prop_map(|v| Message::Binary(v.into())),
    ];
    (
        message,
        proptest::collection::vec(any::<prop::sample::Index>(), 0..4),
        proptest::collection::vec(proptest::option::of(control()), 0..4),
    )
        .prop_map(|(message, cuts, controls)| {
            let len = match &message {
                Message::Text(s) => s.len(),
                Message::Binary(b) => b.len(),
                _ => 0,
            };
            let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(len + 1)).collect();
            cuts.sort_unstable();
            Plan {
                message,
                cuts,
                controls,
            }
        })
}

fn client_header(fin: bool, opcode: Opcode, key: [u8; 4]) -> FrameHeader {
    FrameHeader {
        fin,
        rsv1: false,
        rsv2: false,
        rsv3: false,
        opcode,
        mask: Some(key),
        payload_len: 0,
    }
}

fn write_control(wire: &mut BytesMut, msg: &Message, key: [u8; 4]) {
    let (op, p) = match msg {
        Message::Ping(p) => (Opcode::Ping, p),
        Message::Pong(p) => (Opcode::Pong, p),
        _ => unreachable!("only pings and pongs are generated"),
    };
    write_frame(wire, &client_header(true, op, key), p);
}

/// Builds the wire bytes (as a client sends them) and the messages a
/// server must yield, in order.
fn build(plans: &[Plan], key: [u8; 4]) -> (BytesMut, Vec<Message>) {
    let mut wire = BytesMut::new();
    let mut expected = Vec::new();
    for plan in plans {
        let (first_op, bytes): (Opcode, &[u8]) = match &plan.message {
            Message::Text(s) => (Opcode::Text, s.as_bytes()),
            Message::Binary(b) => (Opcode::Binary, b),
            _ => unreachable!("only data messages are planned"),
        };
        let mut bounds = vec![0];
        bounds.extend_from_slice(&plan.cuts);
        bounds.push(bytes.len());
        let fragments = bounds.len() - 1;
        for i in 0..fragments {
            let op = if i == 0 {
                first_op
            } else {
                Opcode::Continuation
            };
            let last = i + 1 == fragments;
            write_frame(
                &mut wire,
                &client_header(last, op, key),
                &bytes[bounds[i]..bounds[i + 1]],
            );
            if !last {
                if let Some(Some(c)) = plan.controls.get(i) {
                    write_control(&mut wire, c, key);
                    expected.push(c.clone());
                }
            }
        }
        expected.push(plan.message.clone());
        // A control frame after the message, too.
        if let Some(Some(c)) = plan.controls.last() {
            write_control(&mut wire, c, key);
            expected.push(c.clone());
        }
    }
    (wire, expected)
}

proptest! {
    #[test]
    fn header_round_trip_at_every_split(h in header(), trailing in proptest::collection::vec(any::<u8>(), 0..4)) {
        let mut buf = BytesMut::new();
        h.encode(&mut buf);
        let len = buf.len();
        prop_assert_eq!(len, h.encoded_len());
        for cut in 0..len {
            prop_assert_eq!(FrameHeader::decode(&buf[..cut]), Ok(None));
        }
        buf.extend_from_slice(&trailing);
        prop_assert_eq!(FrameHeader::decode(&buf), Ok(Some((h, len))));
    }

    #[test]
    fn reassembles_any_fragmentation(
        plans in proptest::collection::vec(plan(), 0..6),
        key in any::<[u8; 4]>(),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let (wire, expected) = build(&plans, key);
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
        cuts.push(wire.len());
        cuts.sort_unstable();
        let mut reader = Reader::new(Role::Server, Limits::default());
        let mut input = BytesMut::new();
        let mut got = Vec::new();
        let mut start = 0;
        for cut in cuts {
            input.extend_from_slice(&wire[start..cut]);
            start = cut;
            while let Some(m) = reader.receive(&mut input).expect("valid input") {
                got.push(m);
            }
        }
        prop_assert!(input.is_empty());
        prop_assert_eq!(got, expected);
    }
}

/// What a connection in `role` makes of `body` fed in chunks of `sizes`
/// (cycled; empty means all at once): the fuzz target's invariant, run here
/// on random bytes so `cargo test` checks it too.
fn run_connection(
    role: Role,
    body: &[u8],
    sizes: &[usize],
) -> (Vec<Message>, Option<ProtocolError>, Vec<Message>) {
    let limits = Limits {
        max_frame_size: 1 << 12,
        max_message_size: 1 << 14,
    };
    let mut conn = Connection::new(role, limits);
    let mut input = BytesMut::new();
    let (mut messages, mut written) = (Vec::new(), Vec::new());
    let mut rest = body;
    let mut i = 0;
    while !rest.is_empty() {
        let size = if sizes.is_empty() {
            rest.len()
        } else {
            sizes[i % sizes.len()]
        };
        i += 1;
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        rest = tail;
        input.extend_from_slice(chunk);
        loop {
            let result = conn.receive(&mut input);
            written.extend_from_slice(&conn.output_mut().split());
            match result {
                Ok(Some(m)) => messages.push(m),
                Ok(None) => break,
                Err(e) => return (messages, Some(e), as_peer_sees(role, &written)),
            }
        }
    }
    (messages, None, as_peer_sees(role, &written))
}

/// What we wrote, decoded as the peer reads it: a client's frames carry
/// fresh random masking keys, so the messages are compared, not the bytes.
fn as_peer_sees(role: Role, written: &[u8]) -> Vec<Message> {
    let peer = match role {
        Role::Server => Role::Client,
        Role::Client => Role::Server,
    };
    let mut reader = Reader::new(peer, Limits::default());
    let mut bytes = BytesMut::from(written);
    let mut out = Vec::new();
    while let Some(msg) = reader.receive(&mut bytes).expect("we write valid frames") {
        out.push(msg);
    }
    assert!(bytes.is_empty(), "we write whole frames");
    out
}

/// Mostly-valid frames (masked as `role`'s peer must, sensible opcodes)
/// glued with random bytes, so the connection gets past the first header
/// often.
fn noisy_wire(role: Role) -> impl Strategy<Value = Vec<u8>> {
    let frame = (
        any::<bool>(),
        prop_oneof![
            Just(0u8),
            Just(1),
            Just(2),
            Just(8),
            Just(9),
            Just(10),
            0u8..16
        ],
        proptest::collection::vec(any::<u8>(), 0..40),
        any::<[u8; 4]>(),
    )
        .prop_map(move |(fin, op, payload, key)| {
            let mut out = BytesMut::new();
            let opcode = Opcode::from_u8(op).unwrap_or(Opcode::Binary);
            let mut header = client_header(fin, opcode, key);
            if role == Role::Client {
                header.mask = None; // a server's frames are not masked
            }
            write_frame(&mut out, &header, &payload);
            out.to_vec()
        });
    proptest::collection::vec(
        prop_oneof![4 => frame, 1 => proptest::collection::vec(any::<u8>(), 0..8)],
        0..8,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn connection_same_result_whole_or_split(
        (role, body) in prop_oneof![Just(Role::Server), Just(Role::Client)]
            .prop_flat_map(|role| (Just(role), noisy_wire(role))),
        sizes in proptest::collection::vec(1usize..20, 1..4),
    ) {
        let whole = run_connection(role, &body, &[]);
        let split = run_connection(role, &body, &sizes);
        if let Some(e) = &whole.1 {
            prop_assert!(matches!(e.close_code(), 1002 | 1007 | 1009));
        }
        prop_assert_eq!(whole, split);
    }
}
