//! The WebSocket endpoints over real TCP: our `/echo` with
//! tokio-tungstenite as the client, our client against a tokio-tungstenite
//! server, the chat room, refusals over the wire, and shutdown.

mod support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use realtime_events::app;
use realtime_events::ws::{self, ClientConfig, ConnectError, Message};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message as TMsg;

async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// The claim of the opening chapter: a WebSocket is two-way and carries binary.
#[tokio::test]
async fn echo_is_two_way_and_carries_binary_with_tungstenite_client() {
    // The big message below is over the demo's 1 MiB: raise the limits to
    // the library's (what the Autobahn run passes).
    let raised = app::AppConfig::default().with_echo_limits(realtime_events::ws::Limits::default());
    let server = support::start(app::router_with(raised), support::quick_config()).await;
    let url = format!("ws://{}/echo", server.addr);
    let (mut client, response) = tokio_tungstenite::connect_async(url).await.unwrap();
    assert_eq!(response.status().as_u16(), 101);

    client.send(TMsg::text("hello, κόσμε")).await.unwrap();
    assert_eq!(
        client.next().await.unwrap().unwrap(),
        TMsg::text("hello, κόσμε")
    );
    let binary: Vec<u8> = (0..=255).collect();
    client.send(TMsg::binary(binary.clone())).await.unwrap();
    assert_eq!(client.next().await.unwrap().unwrap(), TMsg::binary(binary));
    // A message bigger than one read chunk, and than tungstenite's frame default.
    let big: Vec<u8> = (0..3 << 20).map(|i: u32| (i % 251) as u8).collect();
    client.send(TMsg::binary(big.clone())).await.unwrap();
    assert!(client.next().await.unwrap().unwrap() == TMsg::binary(big));

    client.close(None).await.unwrap();
    match client.next().await {
        Some(Ok(TMsg::Close(_))) | None => {}
        other => panic!("expected the close echo, got {other:?}"),
    }
}

#[tokio::test]
async fn our_client_with_a_tungstenite_server() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
        // Speak first, before the client sends anything.
        ws.send(TMsg::text("welcome")).await.unwrap();
        // After the client's close, keep polling: that is when tungstenite
        // sends its answer, and then the stream ends.
        while let Some(Ok(msg)) = ws.next().await {
            if let m @ (TMsg::Text(_) | TMsg::Binary(_)) = msg {
                ws.send(m).await.unwrap();
            }
        }
    });
    let mut socket = ws::connect(
        &format!("ws://{addr}/any/path?x=1"),
        &ClientConfig::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        socket.recv().await.unwrap().unwrap(),
        Message::Text("welcome".into())
    );
    socket.send(Message::Text("ping?".into())).await.unwrap();
    assert_eq!(
        socket.recv().await.unwrap().unwrap(),
        Message::Text("ping?".into())
    );
    socket
        .send(Message::Binary(vec![0, 1, 2, 255].into()))
        .await
        .unwrap();
    assert_eq!(
        socket.recv().await.unwrap().unwrap(),
        Message::Binary(vec![0, 1, 2, 255].into())
    );
    socket.close(1000, "done").await.unwrap();
    let Some(Ok(Message::Close(Some(frame)))) = socket.recv().await else {
        panic!("expected the server's close");
    };
    assert_eq!(frame.code, 1000);
    within("peer ends", peer).await.unwrap();
}

#[tokio::test]
async fn our_client_reports_a_refused_handshake() {
    let server = support::start(app::router(), support::quick_config()).await;
    // `/` is not a WebSocket endpoint: a 200, not a 101.
    let err = ws::connect(&format!("ws://{}/", server.addr), &ClientConfig::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConnectError::Handshake(ws::ClientHandshakeError::Status(s)) if s.as_u16() == 200),
        "{err}"
    );
    assert!(matches!(
        ws::connect("http://example.org/", &ClientConfig::default()).await,
        Err(ConnectError::InvalidUrl(_))
    ));
}

#[tokio::test]
async fn refusals_over_the_wire() {
    let server = support::start(app::router(), support::quick_config()).await;
    let base = "GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    let reply = support::exchange(
        server.addr,
        format!("{base}Sec-WebSocket-Version: 8\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await;
    let text = String::from_utf8_lossy(&reply);
    assert!(text.starts_with("HTTP/1.1 426 "), "{text}");
    assert!(text.contains("\r\nSec-WebSocket-Version: 13\r\n"), "{text}");
    let plain = support::exchange(
        server.addr,
        b"GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(support::status_of(&plain), 426);
}

#[tokio::test]
async fn leftover_bytes_after_the_head_are_the_first_frame() {
    let server = support::start(app::router(), support::quick_config()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    // Head and a masked "Hello" frame (RFC 6455 §5.7) in one write.
    let mut wire = b"GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        .to_vec();
    wire.extend_from_slice(&[
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ]);
    stream.write_all(&wire).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    while !got.ends_with(b"Hello") {
        let n = within("echo", stream.read(&mut buf)).await.unwrap();
        assert!(n > 0, "closed early: {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{text}"
    );
    assert!(text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    assert!(got.ends_with(&[0x81, 0x05, b'H', b'e', b'l', b'l', b'o']));
}

#[tokio::test]
async fn shutdown_closes_open_sockets_with_1001() {
    let server = support::start(app::router(), support::quick_config()).await;
    let mut echo = ws::connect(
        &format!("ws://{}/echo", server.addr),
        &ClientConfig::default(),
    )
    .await
    .unwrap();
    let mut member = ws::connect(
        &format!("ws://{}/chat?nick=ada", server.addr),
        &ClientConfig::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        member.recv().await.unwrap().unwrap(),
        Message::Text("* ada joined".into())
    );
    echo.send(Message::Text("still here".into())).await.unwrap();
    assert_eq!(
        echo.recv().await.unwrap().unwrap(),
        Message::Text("still here".into())
    );
    server.shutdown.trigger();
    for socket in [&mut echo, &mut member] {
        let msg = within("1001 close", socket.recv()).await;
        let Some(Ok(Message::Close(Some(frame)))) = msg else {
            panic!("expected a close, got {msg:?}");
        };
        assert_eq!(frame.code, 1001);
        assert!(within("end", socket.recv()).await.is_none());
    }
    within("server stops", server.task).await.unwrap();
}

async fn join(
    addr: std::net::SocketAddr,
    nick: &str,
) -> ws::WebSocket<realtime_events::tls::ClientStream> {
    ws::connect(
        &format!("ws://{addr}/chat?nick={nick}"),
        &ClientConfig::default(),
    )
    .await
    .unwrap()
}

async fn next_text(socket: &mut ws::WebSocket<realtime_events::tls::ClientStream>) -> String {
    loop {
        match within("chat line", socket.recv()).await {
            Some(Ok(Message::Text(t))) => return t,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("expected a text, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn chat_members_see_each_other_and_joins_and_leaves() {
    let server = support::start(app::router(), support::quick_config()).await;
    let mut ada = join(server.addr, "ada").await;
    assert_eq!(next_text(&mut ada).await, "* ada joined");
    let mut bob = join(server.addr, "bob").await;
    assert_eq!(next_text(&mut ada).await, "* bob joined");
    assert_eq!(next_text(&mut bob).await, "* bob joined");
    ada.send(Message::Text("hi bob".into())).await.unwrap();
    assert_eq!(next_text(&mut ada).await, "ada: hi bob");
    assert_eq!(next_text(&mut bob).await, "ada: hi bob");
    bob.send(Message::Text("hi ada".into())).await.unwrap();
    assert_eq!(next_text(&mut ada).await, "bob: hi ada");
    bob.close(1000, "bye").await.unwrap();
    while bob.recv().await.is_some() {}
    assert_eq!(next_text(&mut ada).await, "* bob left");
    // A bad nickname becomes a guest name.
    let mut guest = join(server.addr, "no%20spaces").await;
    let joined = next_text(&mut guest).await;
    assert!(
        joined.starts_with("* guest-") && joined.ends_with(" joined"),
        "{joined}"
    );
}

#[tokio::test]
async fn client_keeps_a_frame_sent_with_the_101() {
    let (ours, mut theirs) = tokio::io::duplex(4096);
    let fake_server = tokio::spawn(async move {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            theirs.read_exact(&mut byte).await.unwrap();
            head.push(byte[0]);
        }
        let text = String::from_utf8(head).unwrap();
        let key = text
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .unwrap()
            .to_string();
        // The 101 and a first text frame "hi" in a single write.
        let mut answer = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
            ws::accept_key(key.as_bytes())
        )
        .into_bytes();
        answer.extend_from_slice(&[0x81, 0x02, b'h', b'i']);
        theirs.write_all(&answer).await.unwrap();
        theirs
    });
    let mut socket = ws::client_handshake(ours, "t", "/", &ClientConfig::default())
        .await
        .unwrap();
    assert_eq!(
        within("first frame", socket.recv()).await.unwrap().unwrap(),
        Message::Text("hi".into())
    );
    drop(fake_server.await.unwrap());
}

#[tokio::test]
async fn chat_refuses_binary_with_1003() {
    let server = support::start(app::router(), support::quick_config()).await;
    let mut ada = ws::connect(
        &format!("ws://{}/chat?nick=ada", server.addr),
        &ClientConfig::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        ada.recv().await.unwrap().unwrap(),
        Message::Text("* ada joined".into())
    );
    ada.send(Message::Binary(vec![1, 2, 3].into()))
        .await
        .unwrap();
    let msg = within("close", ada.recv()).await;
    let Some(Ok(Message::Close(Some(frame)))) = msg else {
        panic!("expected a close, got {msg:?}");
    };
    assert_eq!(frame.code, 1003);
}
