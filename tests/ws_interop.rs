//! Our WebSocket against tokio-tungstenite (an independent implementation)
//! in both roles, and against itself, over in-memory duplex pipes. The HTTP
//! handshake is skipped: both ends start on an "already upgraded" stream.

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use realtime_events::ws::frame::{write_frame, FrameHeader, Opcode};
use realtime_events::ws::{CloseFrame, Config, Limits, Message, Reader, Role, WebSocket, WsError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{self as tproto, Role as TRole};
use tokio_tungstenite::tungstenite::Message as TMsg;
use tokio_tungstenite::WebSocketStream;

fn big_payload() -> Vec<u8> {
    (0..1 << 20).map(|i: u32| (i % 251) as u8).collect()
}

fn close_1000(reason: &str) -> Option<CloseFrame> {
    Some(CloseFrame {
        code: 1000,
        reason: reason.into(),
    })
}

/// Echoes data messages until the peer closes; returns the peer's close.
async fn our_echo_server<S>(mut ws: WebSocket<S>) -> Option<CloseFrame>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    while let Some(msg) = ws.recv().await {
        match msg.expect("no error") {
            m @ (Message::Text(_) | Message::Binary(_)) => ws.send(m).await.expect("send"),
            Message::Close(c) => {
                assert!(ws.recv().await.is_none());
                return c;
            }
            Message::Ping(_) | Message::Pong(_) => {}
        }
    }
    panic!("stream ended without a close");
}

#[tokio::test]
async fn our_server_with_tungstenite_client() {
    let (ours, theirs) = tokio::io::duplex(64 * 1024);
    let server = tokio::spawn(our_echo_server(WebSocket::from_upgraded(
        ours,
        Role::Server,
        Config::default(),
        BytesMut::new(),
    )));
    let mut client = WebSocketStream::from_raw_socket(theirs, TRole::Client, None).await;

    client.send(TMsg::text("hello, κόσμε")).await.unwrap();
    assert_eq!(
        client.next().await.unwrap().unwrap(),
        TMsg::text("hello, κόσμε")
    );

    let big = big_payload();
    client.send(TMsg::binary(big.clone())).await.unwrap();
    assert!(client.next().await.unwrap().unwrap() == TMsg::binary(big));

    client
        .send(TMsg::Ping(Bytes::from_static(b"hb")))
        .await
        .unwrap();
    assert_eq!(
        client.next().await.unwrap().unwrap(),
        TMsg::Pong(Bytes::from_static(b"hb"))
    );

    client
        .close(Some(tproto::CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        }))
        .await
        .unwrap();
    match client.next().await {
        Some(Ok(TMsg::Close(Some(frame)))) => assert_eq!(u16::from(frame.code), 1000),
        other => panic!("expected the close echo, got {other:?}"),
    }
    assert_eq!(server.await.unwrap(), close_1000("bye"));
}

#[tokio::test]
async fn our_client_with_tungstenite_server() {
    let (ours, theirs) = tokio::io::duplex(64 * 1024);
    let server = tokio::spawn(async move {
        let mut ws = WebSocketStream::from_raw_socket(theirs, TRole::Server, None).await;
        let mut close = None;
        while let Some(msg) = ws.next().await {
            match msg {
                Ok(m @ (TMsg::Text(_) | TMsg::Binary(_))) => ws.send(m).await.unwrap(),
                Ok(TMsg::Close(c)) => close = c.map(|c| (u16::from(c.code), c.reason.to_string())),
                Ok(_) => {}
                Err(e) => panic!("tungstenite server error: {e}"),
            }
        }
        close
    });
    let mut ws = WebSocket::from_upgraded(ours, Role::Client, Config::default(), BytesMut::new());

    ws.send(Message::Text("hi there".into())).await.unwrap();
    assert_eq!(
        ws.recv().await.unwrap().unwrap(),
        Message::Text("hi there".into())
    );

    let big = Bytes::from(big_payload());
    ws.send(Message::Binary(big.clone())).await.unwrap();
    assert!(ws.recv().await.unwrap().unwrap() == Message::Binary(big));

    ws.ping(Bytes::from_static(b"are you there")).await.unwrap();
    assert_eq!(
        ws.recv().await.unwrap().unwrap(),
        Message::Pong(Bytes::from_static(b"are you there"))
    );

    ws.close(1000, "done").await.unwrap();
    match ws.recv().await {
        Some(Ok(Message::Close(Some(c)))) => assert_eq!(c.code, 1000),
        other => panic!("expected the close echo, got {other:?}"),
    }
    assert!(ws.recv().await.is_none());
    assert!(matches!(
        ws.send(Message::Text("late".into())).await,
        Err(WsError::Send(_))
    ));
    assert_eq!(server.await.unwrap(), Some((1000, "done".to_owned())));
}

#[tokio::test]
async fn our_server_with_our_client_split_and_leftover() {
    let (a, b) = tokio::io::duplex(16 * 1024);
    // The HTTP layer read the client's first frame along with the
    // handshake: it arrives as `leftover`.
    let mut leftover = BytesMut::new();
    let first = FrameHeader {
        fin: true,
        rsv1: false,
        rsv2: false,
        rsv3: false,
        opcode: Opcode::Text,
        mask: Some([9, 8, 7, 6]),
        payload_len: 0,
    };
    write_frame(&mut leftover, &first, b"early");
    let server = tokio::spawn(our_echo_server(WebSocket::from_upgraded(
        a,
        Role::Server,
        Config::default(),
        leftover,
    )));

    let client = WebSocket::from_upgraded(b, Role::Client, Config::default(), BytesMut::new());
    let (mut reader, writer) = client.split();
    let (pong_seen, pong_rx) = tokio::sync::oneshot::channel::<()>();
    // One task writes while the other reads.
    let sender = tokio::spawn(async move {
        for i in 0..100u32 {
            writer
                .send(Message::Text(format!("msg {i}")))
                .await
                .unwrap();
        }
        writer
            .send(Message::Binary(big_payload().into()))
            .await
            .unwrap();
        writer.ping(Bytes::from_static(b"p")).await.unwrap();
        // Once our close is out, late data is dropped: wait for the echoes.
        pong_rx.await.unwrap();
        writer.close(1000, "").await.unwrap();
    });
    let mut got = Vec::new();
    let mut pong_seen = Some(pong_seen);
    while let Some(msg) = reader.recv().await {
        let msg = msg.unwrap();
        if matches!(msg, Message::Pong(_)) {
            pong_seen.take().unwrap().send(()).unwrap();
        }
        got.push(msg);
    }
    sender.await.unwrap();
    assert_eq!(got.len(), 104);
    assert_eq!(got[0], Message::Text("early".into()));
    for i in 0..100u32 {
        assert_eq!(got[1 + i as usize], Message::Text(format!("msg {i}")));
    }
    // (No assert_eq! on a 1 MiB value: its failure message would be huge.)
    assert!(got[101] == Message::Binary(big_payload().into()));
    assert_eq!(got[102], Message::Pong(Bytes::from_static(b"p")));
    assert_eq!(got[103], Message::Close(close_1000("")));
    assert_eq!(server.await.unwrap(), close_1000(""));
}

#[tokio::test]
async fn protocol_error_sends_close_code_then_returns_error() {
    let (ours, mut raw) = tokio::io::duplex(4096);
    let mut ws = WebSocket::from_upgraded(ours, Role::Server, Config::default(), BytesMut::new());
    // An unmasked text frame: clients must mask.
    raw.write_all(&[0x81, 0x02, b'h', b'i']).await.unwrap();
    match ws.recv().await {
        Some(Err(WsError::Protocol(e))) => assert_eq!(e.close_code(), 1002),
        other => panic!("expected a protocol error, got {other:?}"),
    }
    assert!(ws.recv().await.is_none());
    let mut answer = Vec::new();
    raw.read_to_end(&mut answer).await.unwrap();
    let mut input = BytesMut::from(&answer[..]);
    let mut reader = Reader::new(Role::Client, Limits::default());
    match reader.receive(&mut input) {
        Ok(Some(Message::Close(Some(c)))) => assert_eq!(c.code, 1002),
        other => panic!("expected a close frame, got {other:?}"),
    }
}

#[tokio::test]
async fn eof_without_close_is_reported() {
    let (ours, raw) = tokio::io::duplex(4096);
    let mut ws = WebSocket::from_upgraded(ours, Role::Client, Config::default(), BytesMut::new());
    drop(raw);
    assert!(matches!(ws.recv().await, Some(Err(WsError::UnexpectedEof))));
    assert!(ws.recv().await.is_none());
}

#[tokio::test]
async fn tungstenite_fragments_with_ping_between_reach_us_whole() {
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;

    let (ours, theirs) = tokio::io::duplex(64 * 1024);
    let server = tokio::spawn(our_echo_server(WebSocket::from_upgraded(
        ours,
        Role::Server,
        Config::default(),
        BytesMut::new(),
    )));
    let mut client = WebSocketStream::from_raw_socket(theirs, TRole::Client, None).await;
    // "κόσμε" cut inside a character, with a ping between the fragments.
    let text = "κόσμε".as_bytes();
    let frames = [
        TMsg::Frame(Frame::message(
            text[..3].to_vec(),
            OpCode::Data(Data::Text),
            false,
        )),
        TMsg::Ping(Bytes::from_static(b"mid")),
        TMsg::Frame(Frame::message(
            text[3..].to_vec(),
            OpCode::Data(Data::Continue),
            true,
        )),
    ];
    for f in frames {
        client.send(f).await.unwrap();
    }
    assert_eq!(
        client.next().await.unwrap().unwrap(),
        TMsg::Pong(Bytes::from_static(b"mid"))
    );
    assert_eq!(client.next().await.unwrap().unwrap(), TMsg::text("κόσμε"));
    client.close(None).await.unwrap();
    while client.next().await.is_some() {}
    assert_eq!(server.await.unwrap(), None);
}
