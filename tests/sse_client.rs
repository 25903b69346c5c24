//! The EventSource client against scripted servers: what it sends, how
//! long it waits before reconnecting, when it stops for good, and bodies
//! framed by a third-party server (chunked).

use std::time::Duration;

use realtime_events::sse::{ClientConfig, ClientError, EventSource};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// What the scripted server saw of one connection.
#[derive(Debug)]
struct Seen {
    head: String,
    accepted: Instant,
    closed: Instant,
}

const SSE_HEAD: &str = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n";

/// Serves `script[i]` on the i-th connection (then closes it) and reports
/// every connection. Connections beyond the script are reported, then
/// held open without an answer.
async fn scripted(script: Vec<Vec<u8>>) -> (std::net::SocketAddr, mpsc::UnboundedReceiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut script = script.into_iter();
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            let accepted = Instant::now();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                if s.read(&mut byte).await.unwrap_or(0) == 0 {
                    break;
                }
                head.push(byte[0]);
            }
            let head = String::from_utf8(head).unwrap();
            match script.next() {
                Some(answer) => {
                    s.write_all(&answer).await.unwrap();
                    s.shutdown().await.unwrap();
                    let closed = Instant::now();
                    let _ = tx.send(Seen {
                        head,
                        accepted,
                        closed,
                    });
                }
                None => {
                    let _ = tx.send(Seen {
                        head,
                        accepted,
                        closed: accepted,
                    });
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        drop(s);
                    });
                }
            }
        }
    });
    (addr, rx)
}

fn stream(body: &str) -> Vec<u8> {
    format!("{SSE_HEAD}{body}").into_bytes()
}

fn no_content() -> Vec<u8> {
    b"HTTP/1.1 204 No Content\r\n\r\n".to_vec()
}

fn server_error() -> Vec<u8> {
    b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n".to_vec()
}

/// An EventSource on `addr`'s `/` that waits `retry` between connections.
async fn connect_with_retry(addr: std::net::SocketAddr, retry: Duration) -> EventSource {
    let config = ClientConfig::default().with_retry(retry);
    EventSource::connect(&format!("http://{addr}/"), config)
        .await
        .unwrap()
}

async fn next_event(
    source: &mut EventSource,
) -> Option<Result<realtime_events::sse::ParsedEvent, ClientError>> {
    tokio::time::timeout(Duration::from_secs(5), source.next())
        .await
        .expect("next() in time")
}

#[tokio::test]
async fn honours_retry_sends_last_event_id_and_stops_on_204() {
    let (addr, mut seen) = scripted(vec![
        stream("retry: 200\nid: 7\nevent: note\ndata: a\n\n"),
        no_content(),
    ])
    .await;
    let mut source =
        EventSource::connect(&format!("http://{addr}/feed?x=1"), ClientConfig::default())
            .await
            .unwrap();
    let event = next_event(&mut source).await.unwrap().unwrap();
    assert_eq!(
        (event.event_type.as_str(), event.data.as_str()),
        ("note", "a")
    );
    assert_eq!(source.last_event_id(), "7");
    assert!(
        next_event(&mut source).await.is_none(),
        "204 ends the source"
    );
    assert!(next_event(&mut source).await.is_none());
    assert_eq!(source.retry(), Duration::from_millis(200));

    let first = seen.recv().await.unwrap();
    let second = seen.recv().await.unwrap();
    assert!(
        first.head.starts_with("GET /feed?x=1 HTTP/1.1\r\n"),
        "{}",
        first.head
    );
    assert!(first.head.contains(&format!("\r\nHost: {addr}\r\n")));
    assert!(first.head.contains("\r\nAccept: text/event-stream\r\n"));
    assert!(first.head.contains("\r\nCache-Control: no-cache\r\n"));
    assert!(!first.head.contains("Last-Event-ID"), "no id yet");
    assert!(
        second.head.contains("\r\nLast-Event-ID: 7\r\n"),
        "{}",
        second.head
    );
    let delay = second.accepted - first.closed;
    eprintln!("reconnected {delay:?} after the drop (retry: 200)");
    assert!(delay >= Duration::from_millis(190), "{delay:?}");
    assert!(
        delay < Duration::from_millis(1500),
        "{delay:?}: the 3 s default?"
    );
    // Nothing after the 204.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(seen.try_recv().is_err());
}

#[tokio::test]
async fn default_retry_applies_without_a_retry_field() {
    let (addr, mut seen) = scripted(vec![stream("data: a\n\n"), no_content()]).await;
    let mut source = connect_with_retry(addr, Duration::from_millis(400)).await;
    assert_eq!(next_event(&mut source).await.unwrap().unwrap().data, "a");
    assert!(next_event(&mut source).await.is_none());
    let first = seen.recv().await.unwrap();
    let second = seen.recv().await.unwrap();
    let delay = second.accepted - first.closed;
    assert!(delay >= Duration::from_millis(390), "{delay:?}");
    // No id was ever seen: none is sent.
    assert!(!second.head.contains("Last-Event-ID"));
}

#[tokio::test]
async fn refuses_500_and_wrong_content_type_on_connect() {
    let (addr, _seen) = scripted(vec![
        server_error(),
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\ndata: a\n\n".to_vec(),
        b"HTTP/1.1 200 OK\r\n\r\ndata: a\n\n".to_vec(),
    ])
    .await;
    let url = format!("http://{addr}/");
    let err = EventSource::connect(&url, ClientConfig::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Status(500)), "{err:?}");
    let err = EventSource::connect(&url, ClientConfig::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::ContentType(ct) if ct == "text/plain"),
        "{err:?}"
    );
    let err = EventSource::connect(&url, ClientConfig::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::ContentType(ct) if ct.is_empty()),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_refused_reconnect_fails_for_good() {
    let (addr, mut seen) = scripted(vec![
        stream("id: 1\ndata: a\n\n"),
        server_error(),
        stream("id: 2\ndata: never\n\n"),
    ])
    .await;
    let mut source = connect_with_retry(addr, Duration::from_millis(10)).await;
    assert_eq!(next_event(&mut source).await.unwrap().unwrap().data, "a");
    let err = next_event(&mut source).await.unwrap().unwrap_err();
    assert!(matches!(err, ClientError::Status(500)), "{err:?}");
    assert!(next_event(&mut source).await.is_none());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut connections = 0;
    while seen.try_recv().is_ok() {
        connections += 1;
    }
    assert_eq!(connections, 2, "no reconnect after the 500");
}

#[tokio::test]
async fn cut_event_is_discarded_and_chunked_bodies_are_decoded() {
    // Chunk boundaries fall inside a line and inside "\n\n"; the first
    // connection's last event is cut off by the end of the body.
    let body = "id: 1\ndata: one\n\nid: 2\ndata: two\n\nid: 3\ndata: cut";
    let mut first = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n\
                      Transfer-Encoding: chunked\r\n\r\n"
        .to_vec();
    for piece in [&body[..9], &body[9..16], &body[16..33], &body[33..]] {
        first.extend_from_slice(format!("{:x}\r\n{piece}\r\n", piece.len()).as_bytes());
    }
    first.extend_from_slice(b"0\r\n\r\n");
    let (addr, mut seen) =
        scripted(vec![first, stream("id: 3\ndata: three\n\n"), no_content()]).await;
    let mut source = connect_with_retry(addr, Duration::from_millis(10)).await;
    let mut got = Vec::new();
    while let Some(event) = next_event(&mut source).await {
        let event = event.unwrap();
        got.push((event.last_event_id, event.data));
    }
    let expected = [("1", "one"), ("2", "two"), ("3", "three")];
    assert_eq!(got, expected.map(|(a, b)| (a.to_string(), b.to_string())));
    let _ = seen.recv().await.unwrap();
    assert!(seen
        .recv()
        .await
        .unwrap()
        .head
        .contains("Last-Event-ID: 2\r\n"));
    assert!(seen
        .recv()
        .await
        .unwrap()
        .head
        .contains("Last-Event-ID: 3\r\n"));
    assert_eq!(source.connections(), 2);
}

#[tokio::test]
async fn unreachable_server_fails_connect_and_gives_up_after_max_attempts() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf).await.unwrap();
        s.write_all(stream("id: 1\ndata: a\n\n").as_slice())
            .await
            .unwrap();
        // The listener goes with the task: later connects are refused.
    });
    let config = ClientConfig::default()
        .with_retry(Duration::from_millis(10))
        .with_max_failed_attempts(Some(3));
    let mut source = EventSource::connect_to(addr, "/", config).await.unwrap();
    server.await.unwrap();
    assert_eq!(next_event(&mut source).await.unwrap().unwrap().data, "a");
    let err = next_event(&mut source).await.unwrap().unwrap_err();
    assert!(matches!(err, ClientError::Io(_)), "{err:?}");
    assert!(next_event(&mut source).await.is_none());

    // The first connection's failure is reported by connect itself.
    let err = EventSource::connect_to(addr, "/", ClientConfig::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Io(_)), "{err:?}");
    let err = EventSource::connect("ftp://example.com/", ClientConfig::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::InvalidUrl(_)), "{err:?}");
    // https: refused up front without the tls feature; with it, the TCP
    // connection fails first, like http's.
    let err = EventSource::connect(&format!("https://{addr}/"), ClientConfig::default())
        .await
        .unwrap_err();
    if cfg!(feature = "tls") {
        assert!(matches!(err, ClientError::Io(_)), "{err:?}");
    } else {
        assert!(matches!(err, ClientError::TlsNotSupported), "{err:?}");
    }
}
