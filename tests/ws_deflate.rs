//! permessage-deflate (RFC 7692): the RFC's worked examples byte for byte,
//! negotiation of every parameter, round trips through the sans-IO core in
//! both roles for every parameter combination and fragmentation, and a
//! deflate bomb over TCP.

mod support;

use std::time::Duration;

use bytes::BytesMut;
use proptest::prelude::*;
use realtime_events::server::Router;
use realtime_events::ws::deflate::Deflater;
use realtime_events::ws::extensions::{
    client_offer, negotiate_client, negotiate_server, parse, ExtensionError,
};
use realtime_events::ws::{
    self, Config, Connection, DeflateConfig, DeflateParams, FrameHeader, HandshakeConfig, Limits,
    Message, Opcode, ProtocolError, Role,
};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn params(snct: bool, cnct: bool, sbits: u8, cbits: u8, config: DeflateConfig) -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: snct,
        client_no_context_takeover: cnct,
        server_max_window_bits: sbits,
        client_max_window_bits: cbits,
        config,
    }
}

/// Context takeover both ways, full windows, everything compressed.
fn takeover() -> DeflateParams {
    let config = DeflateConfig::default()
        .with_own_no_context_takeover(false)
        .with_threshold(0);
    params(false, false, 15, 15, config)
}

fn client_with(p: &DeflateParams) -> Connection {
    Connection::new(Role::Client, Limits::default()).with_deflate(Some(p))
}

/// Feeds `wire` (server frames) to a client and collects the messages.
fn receive_all(conn: &mut Connection, wire: &[u8]) -> Result<Vec<Message>, ProtocolError> {
    let mut input = BytesMut::from(wire);
    let mut out = Vec::new();
    while let Some(msg) = conn.receive(&mut input)? {
        out.push(msg);
    }
    Ok(out)
}

fn text(s: &str) -> Message {
    Message::Text(s.to_owned())
}

// --- RFC 7692 §7.2.3, byte for byte -------------------------------------------

#[test]
fn rfc_7692_examples_decode() {
    let cases: [(&str, &[u8], Vec<Message>); 6] = [
        // §7.2.3.1: "Hello" in one frame, and in two fragments.
        (
            "one frame",
            &[0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
            vec![text("Hello")],
        ),
        (
            "two fragments",
            &[
                0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00,
            ],
            vec![text("Hello")],
        ),
        // §7.2.3.2: the second "Hello" refers back into the first's window.
        (
            "sharing the window",
            &[
                0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0xc1, 0x05, 0xf2, 0x00, 0x11,
                0x00, 0x00,
            ],
            vec![text("Hello"), text("Hello")],
        ),
        // §7.2.3.3: a stored (uncompressed) DEFLATE block.
        (
            "stored block",
            &[
                0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
            ],
            vec![text("Hello")],
        ),
        // §7.2.3.4: a block with BFINAL set.
        (
            "BFINAL",
            &[0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00],
            vec![text("Hello")],
        ),
        // §7.2.3.5: two DEFLATE blocks in one message.
        (
            "two blocks",
            &[
                0xc1, 0x0d, 0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07,
                0x00,
            ],
            vec![text("Hello")],
        ),
    ];
    for (name, wire, want) in cases {
        // Whole, and byte by byte: the same messages.
        let mut whole = client_with(&takeover());
        assert_eq!(receive_all(&mut whole, wire).unwrap(), want, "{name}");
        let mut split = client_with(&takeover());
        let mut got = Vec::new();
        let mut input = BytesMut::new();
        for b in wire {
            input.extend_from_slice(&[*b]);
            while let Some(msg) = split.receive(&mut input).unwrap() {
                got.push(msg);
            }
        }
        assert_eq!(got, want, "{name}, byte by byte");
    }
    // §7.2.3.6: an empty message compresses to the single byte 0x00.
    let mut conn = client_with(&takeover());
    assert_eq!(
        receive_all(&mut conn, &[0xc1, 0x01, 0x00]).unwrap(),
        vec![text("")]
    );
}

#[test]
fn rfc_7692_examples_encode() {
    let mut server =
        Connection::new(Role::Server, Limits::default()).with_deflate(Some(&takeover()));
    server.send(&text("Hello")).unwrap();
    assert_eq!(
        &server.output_mut()[..],
        [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
        "§7.2.3.1"
    );
    server.output_mut().clear();
    server.send(&text("Hello")).unwrap();
    assert_eq!(
        &server.output_mut()[..],
        [0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00],
        "§7.2.3.2: the window is shared"
    );
    server.output_mut().clear();
    // An empty message flushes to the bare trailer, which is removed: an
    // empty payload with RSV1, which the peer inflates to nothing.
    server.send(&text("")).unwrap();
    assert_eq!(&server.output_mut()[..], [0xc1, 0x00], "empty message");
    let mut client = client_with(&takeover());
    assert_eq!(
        receive_all(&mut client, &[0xc1, 0x00]).unwrap(),
        vec![text("")]
    );
}

#[test]
fn threshold_and_control_frames_stay_uncompressed() {
    let p = params(
        false,
        false,
        15,
        15,
        DeflateConfig::default().with_threshold(10),
    );
    let mut server = Connection::new(Role::Server, Limits::default()).with_deflate(Some(&p));
    server.send(&text("short")).unwrap();
    server.send(&Message::Ping(vec![b'a'; 100].into())).unwrap();
    let out = server.output_mut().split();
    assert_eq!(&out[..7], b"\x81\x05short", "under the threshold: no RSV1");
    assert_eq!(out[7], 0x89, "a ping never has RSV1");
}

#[test]
fn rsv1_where_it_may_not_be_is_a_protocol_error() {
    for (name, wire) in [
        ("on a ping", &[0xc9u8, 0x00][..]),
        (
            "on a continuation",
            &[
                0x41, 0x03, 0xf2, 0x48, 0xcd, 0xc0, 0x04, 0xc9, 0xc9, 0x07, 0x00,
            ][..],
        ),
        ("RSV2", &[0xa1, 0x01, 0x00][..]),
    ] {
        let mut conn = client_with(&takeover());
        assert_eq!(
            receive_all(&mut conn, wire),
            Err(ProtocolError::ReservedBits),
            "{name}"
        );
    }
    // Without negotiation RSV1 is refused as before.
    let mut plain = Connection::new(Role::Client, Limits::default());
    assert_eq!(
        receive_all(
            &mut plain,
            &[0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
        ),
        Err(ProtocolError::ReservedBits)
    );
    // Garbage that is not DEFLATE: 1002.
    let mut conn = client_with(&takeover());
    let err = receive_all(&mut conn, &[0xc1, 0x02, 0xff, 0xff]).unwrap_err();
    assert_eq!(
        (err.clone(), err.close_code()),
        (ProtocolError::Inflate, 1002)
    );
}

#[test]
fn compressed_text_is_utf8_checked_after_inflating() {
    let mut deflater = Deflater::new(Role::Server, &takeover()).unwrap();
    let mut payload = BytesMut::new();
    deflater.compress(b"ok \xff then more", &mut payload);
    let mut wire = BytesMut::new();
    let header = FrameHeader {
        rsv1: true,
        ..FrameHeader::whole(Opcode::Text, None, 0)
    };
    ws::frame::write_frame(&mut wire, &header, &payload);
    let mut conn = client_with(&takeover());
    let err = receive_all(&mut conn, &wire).unwrap_err();
    assert_eq!(
        (err, ProtocolError::InvalidUtf8.close_code()),
        (ProtocolError::InvalidUtf8, 1007)
    );
}

// --- the bomb, in the core --------------------------------------------------------

/// 16 MiB of zeros, compressed: about 16 KiB on the wire.
fn bomb() -> BytesMut {
    let p = params(
        true,
        true,
        15,
        15,
        DeflateConfig::default().with_level(9).with_threshold(0),
    );
    let mut deflater = Deflater::new(Role::Client, &p).unwrap();
    let mut payload = BytesMut::new();
    deflater.compress(&vec![0u8; 16 << 20], &mut payload);
    payload
}

#[test]
fn a_bomb_stops_at_the_limit() {
    let payload = bomb();
    assert!(payload.len() <= 17 * 1024, "{} bytes", payload.len());
    let max = 1 << 20;
    let limits = Limits {
        max_frame_size: 1 << 20,
        max_message_size: max,
    };
    let mut server = Connection::new(Role::Server, limits).with_deflate(Some(&takeover()));
    let mut wire = BytesMut::new();
    let header = FrameHeader {
        rsv1: true,
        ..FrameHeader::whole(Opcode::Binary, Some([1, 2, 3, 4]), 0)
    };
    ws::frame::write_frame(&mut wire, &header, &payload);
    let err = server.receive(&mut wire).unwrap_err();
    // At most one byte past the limit was ever inflated.
    assert_eq!(err, ProtocolError::MessageTooLarge { len: max + 1, max });
    assert_eq!(err.close_code(), 1009);
}

// --- round trips --------------------------------------------------------------------

/// Sends `messages` from `from` to its peer, optionally re-fragmenting
/// every compressed frame, and feeds the wire to the peer in pieces.
fn round_trip(p: &DeflateParams, from: Role, messages: &[Message], cuts: &[usize]) -> Vec<Message> {
    let to = match from {
        Role::Server => Role::Client,
        Role::Client => Role::Server,
    };
    let mut sender = Connection::new(from, Limits::default()).with_deflate(Some(p));
    let mut receiver = Connection::new(to, Limits::default()).with_deflate(Some(p));
    for m in messages {
        sender.send(m).unwrap();
    }
    let wire = sender.output_mut().split();
    let mut got = Vec::new();
    let mut start = 0;
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
    cuts.sort_unstable();
    let mut input = BytesMut::new();
    for end in cuts.into_iter().chain([wire.len()]) {
        input.extend_from_slice(&wire[start..end]);
        start = end;
        while let Some(m) = receiver.receive(&mut input).unwrap() {
            got.push(m);
        }
    }
    got
}

fn arb_message() -> impl Strategy<Value = Message> {
    prop_oneof![
        "[a-c ]{0,300}".prop_map(Message::Text),
        "\\PC{0,100}".prop_map(Message::Text),
        proptest::collection::vec(any::<u8>(), 0..400).prop_map(|v| Message::Binary(v.into())),
        (0usize..5000).prop_map(|n| Message::Binary(vec![7u8; n].into())),
    ]
}

fn arb_params() -> impl Strategy<Value = DeflateParams> {
    (
        any::<bool>(),
        any::<bool>(),
        8u8..=15,
        8u8..=15,
        any::<bool>(),
        0u32..=9,
        0usize..50,
    )
        .prop_map(|(snct, cnct, sbits, cbits, own, level, threshold)| {
            let config = DeflateConfig::default()
                .with_own_no_context_takeover(own)
                .with_level(level)
                .with_threshold(threshold);
            params(snct, cnct, sbits, cbits, config)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Every parameter combination, both roles, any split of the wire.
    #[test]
    fn compress_then_inflate(p in arb_params(), server in any::<bool>(),
                             messages in proptest::collection::vec(arb_message(), 1..6),
                             cuts in proptest::collection::vec(any::<usize>(), 0..6)) {
        let from = if server { Role::Server } else { Role::Client };
        prop_assert_eq!(round_trip(&p, from, &messages, &cuts), messages);
    }

    /// A compressed message split into fragments anywhere (RSV1 on the
    /// first only), with a ping in the middle, reads as the message.
    #[test]
    fn fragmented_compressed_messages(p in arb_params(), msg in "\\PC{0,400}",
                                      splits in proptest::collection::vec(any::<usize>(), 0..4)) {
        let mut deflater = Deflater::new(Role::Server, &p).unwrap();
        let mut payload = BytesMut::new();
        deflater.compress(msg.as_bytes(), &mut payload);
        let mut bounds: Vec<usize> = splits.iter().map(|s| s % (payload.len() + 1)).collect();
        bounds.sort_unstable();
        bounds.dedup();
        let mut wire = BytesMut::new();
        let mut start = 0;
        let ends: Vec<usize> = bounds.into_iter().chain([payload.len()]).collect();
        for (i, &end) in ends.iter().enumerate() {
            let end = end.max(start);
            let header = FrameHeader {
                fin: i + 1 == ends.len(),
                rsv1: i == 0,
                rsv2: false,
                rsv3: false,
                opcode: if i == 0 { Opcode::Text } else { Opcode::Continuation },
                mask: None,
                payload_len: 0,
            };
            ws::frame::write_frame(&mut wire, &header, &payload[start..end]);
            if i == 0 {
                ws::frame::write_frame(&mut wire, &FrameHeader::whole(Opcode::Ping, None, 0), b"");
            }
            start = end;
        }
        let mut conn = Connection::new(Role::Client, Limits::default()).with_deflate(Some(&p));
        let got = receive_all(&mut conn, &wire).unwrap();
        let ping = Message::Ping(Default::default());
        let want = if ends.len() == 1 {
            vec![Message::Text(msg), ping]
        } else {
            vec![ping, Message::Text(msg)]
        };
        prop_assert_eq!(got, want);
    }
}

// --- negotiation --------------------------------------------------------------------

fn offer(s: &str) -> Option<DeflateParams> {
    negotiate_server(&parse([s.as_bytes()]).unwrap(), &DeflateConfig::default())
}

#[test]
fn server_accepts_each_parameter() {
    let p = offer("permessage-deflate").unwrap();
    assert_eq!(
        (p.server_no_context_takeover, p.client_no_context_takeover),
        (true, false),
        "we reset our compressor by default, and say so"
    );
    assert_eq!(
        (p.server_max_window_bits, p.client_max_window_bits),
        (15, 15)
    );
    assert_eq!(
        p.response_value(),
        "permessage-deflate; server_no_context_takeover"
    );
    let p = offer("permessage-deflate; server_max_window_bits=10").unwrap();
    assert_eq!(p.server_max_window_bits, 10);
    assert!(p.response_value().contains("server_max_window_bits=10"));
    let p = offer("permessage-deflate; server_max_window_bits=8").unwrap();
    assert_eq!(
        p.server_max_window_bits, 8,
        "8 is answered with 8; zlib runs at 9"
    );
    let p = offer("permessage-deflate; client_max_window_bits=9").unwrap();
    assert_eq!(p.client_max_window_bits, 9);
    let p = offer("permessage-deflate; client_max_window_bits").unwrap();
    assert_eq!(p.client_max_window_bits, 15);
    assert!(!p.response_value().contains("client_max_window_bits"));
    let p = offer("permessage-deflate; client_no_context_takeover").unwrap();
    assert!(!p.client_no_context_takeover, "a hint we may ignore");
    // Our own policy: ask the client to reset and use a small window.
    let config = DeflateConfig::default()
        .with_peer_no_context_takeover(true)
        .with_peer_max_window_bits(10)
        .with_own_max_window_bits(12);
    let offers = parse([&b"permessage-deflate; client_max_window_bits"[..]]).unwrap();
    let p = negotiate_server(&offers, &config).unwrap();
    assert_eq!(
        p.response_value(),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
         server_max_window_bits=12; client_max_window_bits=10"
    );
    // Without client_max_window_bits in the offer we may not limit it.
    let offers = parse([&b"permessage-deflate"[..]]).unwrap();
    assert_eq!(
        negotiate_server(&offers, &config)
            .unwrap()
            .client_max_window_bits,
        15
    );
}

#[test]
fn server_declines_bad_offers_and_takes_the_fallback() {
    for bad in [
        "permessage-deflate; unknown",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; client_no_context_takeover=x",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=010",
        "permessage-deflate; client_max_window_bits=0x9",
        "permessage-deflate; client_max_window_bits=10; client_max_window_bits=10",
        "x-webkit-deflate-frame",
    ] {
        assert_eq!(offer(bad), None, "{bad}");
        let fallback = offer(&format!(
            "{bad}, permessage-deflate; server_max_window_bits=11"
        ));
        assert_eq!(
            fallback.map(|p| p.server_max_window_bits),
            Some(11),
            "{bad}"
        );
    }
    // Quoted values are unquoted first.
    assert_eq!(
        offer("permessage-deflate; server_max_window_bits=\"9\"").map(|p| p.server_max_window_bits),
        Some(9)
    );
}

#[test]
fn client_checks_the_answer() {
    let config = DeflateConfig::default();
    let answer = |s: &str| negotiate_client(&parse([s.as_bytes()]).unwrap(), &config);
    assert_eq!(
        client_offer(&config),
        "permessage-deflate; client_no_context_takeover; client_max_window_bits"
    );
    assert_eq!(negotiate_client(&[], &config), Ok(None), "declined");
    let p = answer("permessage-deflate; server_no_context_takeover; client_max_window_bits=9")
        .unwrap()
        .unwrap();
    assert_eq!(
        (p.server_no_context_takeover, p.client_max_window_bits),
        (true, 9)
    );
    let p = answer("permessage-deflate; server_max_window_bits=8")
        .unwrap()
        .unwrap();
    assert_eq!(p.server_max_window_bits, 8);
    for bad in [
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; foo",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
    ] {
        assert!(
            matches!(answer(bad), Err(ExtensionError::BadParam(_))),
            "{bad}"
        );
    }
    assert!(matches!(
        answer("x-other"),
        Err(ExtensionError::Unexpected(_))
    ));
    assert!(matches!(
        answer("permessage-deflate, permessage-deflate"),
        Err(ExtensionError::Unexpected(_))
    ));
    // What we asked of the server must be in its answer, within bounds.
    let strict = DeflateConfig::default()
        .with_peer_no_context_takeover(true)
        .with_peer_max_window_bits(10);
    let check = |s: &str| negotiate_client(&parse([s.as_bytes()]).unwrap(), &strict);
    assert_eq!(
        check("permessage-deflate; server_max_window_bits=10"),
        Err(ExtensionError::MissingParam("server_no_context_takeover"))
    );
    assert_eq!(
        check("permessage-deflate; server_no_context_takeover"),
        Err(ExtensionError::MissingParam("server_max_window_bits"))
    );
    assert!(matches!(
        check("permessage-deflate; server_no_context_takeover; server_max_window_bits=11"),
        Err(ExtensionError::BadParam(_))
    ));
    assert!(
        check("permessage-deflate; server_no_context_takeover; server_max_window_bits=9")
            .unwrap()
            .is_some()
    );
}

// --- over TCP -------------------------------------------------------------------------

/// A route that echoes with compression and a 1 MiB message limit.
fn small_echo() -> Router {
    Router::new().get("/small", |req| async move {
        let config = Config::default()
            .with_limits(Limits {
                max_frame_size: 1 << 20,
                max_message_size: 1 << 20,
            })
            .with_compression(Some(DeflateConfig::default()));
        ws::upgrade(
            &req,
            &HandshakeConfig::default(),
            config,
            |mut socket| async move {
                while let Some(Ok(msg)) = socket.recv().await {
                    if !msg.is_control() && socket.send(msg).await.is_err() {
                        break;
                    }
                }
            },
        )
    })
}

async fn open_compressed(addr: std::net::SocketAddr) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            b"GET /small HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
              Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n",
        )
        .await
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    (stream, String::from_utf8_lossy(&head).into_owned())
}

#[tokio::test]
async fn a_bomb_over_tcp_gets_1009_and_the_server_still_works() {
    let server = start(small_echo(), quick_config()).await;
    let (mut stream, head) = open_compressed(server.addr).await;
    assert!(
        head.contains("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover"),
        "{head}"
    );
    let payload = bomb();
    let mut wire = BytesMut::new();
    let header = FrameHeader {
        rsv1: true,
        ..FrameHeader::whole(Opcode::Binary, Some([9, 8, 7, 6]), 0)
    };
    ws::frame::write_frame(&mut wire, &header, &payload);
    stream.write_all(&wire).await.unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(5), read_to_close(&mut stream))
        .await
        .expect("the server closes");
    // An unmasked close frame: 0x88, length, then the code.
    assert_eq!(reply[0], 0x88, "{reply:02x?}");
    assert_eq!(u16::from_be_bytes([reply[2], reply[3]]), 1009);

    // A well-behaved compressed client still gets its echo, compressed.
    let mut client = ws::connect(
        &format!("ws://{}/small", server.addr),
        &ws::ClientConfig::default()
            .with_socket(Config::default().with_compression(Some(DeflateConfig::default()))),
    )
    .await
    .unwrap();
    let json = r#"{"user":"ada","text":"hello hello hello hello hello hello"}"#.repeat(20);
    client.send(Message::Text(json.clone())).await.unwrap();
    let echoed = tokio::time::timeout(Duration::from_secs(5), client.recv())
        .await
        .expect("echo in time");
    assert_eq!(echoed.unwrap().unwrap(), Message::Text(json));
}
