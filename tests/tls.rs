//! https:// and wss:// on one listener: our clients, a third-party client
//! (tokio-tungstenite) and curl against our server over TLS, and the three
//! ways it goes wrong (an unknown CA, a wrong name, plain HTTP on the TLS
//! port) ending quickly with a clear error instead of a hang.
//!
//! Every certificate is made here, at run time, by a test CA of our own:
//! no private key is committed.

#![cfg(feature = "tls")]

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use realtime_events::app;
use realtime_events::server::{Acceptor, BoxFuture, PlainTcp, Server, ServerConfig, Shutdown};
use realtime_events::sse::{self, EventSource};
use realtime_events::tls::{self, rustls};
use realtime_events::ws::{self, ConnectError, Message};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as TMsg;

/// A test CA and one leaf it signed, in DER and PEM.
struct Pki {
    ca: CertificateDer<'static>,
    ca_pem: String,
    leaf: CertificateDer<'static>,
    leaf_pem: String,
    key_der: Vec<u8>,
    key_pem: String,
}

/// A fresh CA ("test CA") and a leaf for `names` signed by it.
fn make_pki(names: &[&str]) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // A name of its own: a client that trusts another test CA must find
    // no issuer at all, not one of the same name with the wrong key.
    static CAS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CAS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, format!("realtime-events test CA {n}"));
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let leaf = CertificateParams::new(names)
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    Pki {
        ca_pem: ca.pem(),
        ca: ca.der().clone(),
        leaf_pem: leaf.pem(),
        leaf: leaf.der().clone(),
        key_der: leaf_key.serialize_der(),
        key_pem: leaf_key.serialize_pem(),
    }
}

impl Pki {
    fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()));
        let mut config = rustls::ServerConfig::builder_with_provider(tls::crypto_provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![self.leaf.clone()], key)
            .unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }

    /// Writes ca.pem, cert.pem and key.pem into a fresh directory.
    fn write_files(&self, tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("re-tls-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ca.pem"), &self.ca_pem).unwrap();
        std::fs::write(dir.join("cert.pem"), &self.leaf_pem).unwrap();
        std::fs::write(dir.join("key.pem"), &self.key_pem).unwrap();
        dir
    }
}

/// The demo app over TLS on a free port.
async fn start_tls(pki: &Pki) -> (SocketAddr, Shutdown) {
    let server = Server::bind("127.0.0.1:0", app::router(), support::quick_config())
        .await
        .unwrap()
        .with_tls(pki.server_config());
    assert!(server.is_tls());
    let addr = server.local_addr();
    let shutdown = Shutdown::new();
    tokio::spawn(server.serve(shutdown.clone()));
    (addr, shutdown)
}

fn ws_config(pki: &Pki) -> ws::ClientConfig {
    ws::ClientConfig::default()
        .with_root_certificate(pki.ca.clone())
        .with_handshake_timeout(Duration::from_secs(5))
}

fn sse_config(pki: &Pki) -> sse::ClientConfig {
    sse::ClientConfig::default()
        .with_root_certificate(pki.ca.clone())
        .with_connect_timeout(Duration::from_secs(5))
        .with_max_failed_attempts(Some(1))
}

async fn echo_round_trip(socket: &mut ws::WebSocket<tls::ClientStream>) {
    socket.send(Message::Text("over tls".into())).await.unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(5), socket.recv())
        .await
        .unwrap();
    assert_eq!(reply.unwrap().unwrap(), Message::Text("over tls".into()));
}

#[tokio::test]
async fn our_ws_client_and_server_over_wss() {
    let pki = make_pki(&["localhost", "127.0.0.1"]);
    let (addr, _shutdown) = start_tls(&pki).await;
    // By IP address (no SNI is sent for an address) and by name (SNI).
    for host in ["127.0.0.1".to_string(), "localhost".to_string()] {
        let url = format!("wss://{host}:{}/echo", addr.port());
        let mut socket = ws::connect(&url, &ws_config(&pki)).await.unwrap();
        echo_round_trip(&mut socket).await;
        socket.close(1000, "done").await.unwrap();
    }
}

#[tokio::test]
async fn our_event_source_over_https() {
    let pki = make_pki(&["localhost", "127.0.0.1"]);
    let (addr, _shutdown) = start_tls(&pki).await;
    let url = format!("https://localhost:{}/ticker", addr.port());
    let mut source = EventSource::connect(&url, sse_config(&pki)).await.unwrap();
    for _ in 0..2 {
        let event = tokio::time::timeout(Duration::from_secs(5), source.next())
            .await
            .expect("a ticker event within 5 s")
            .unwrap()
            .unwrap();
        assert!(event.data.contains("\"price\""), "{event:?}");
    }
}

#[tokio::test]
async fn tokio_tungstenite_over_wss() {
    let pki = make_pki(&["localhost", "127.0.0.1"]);
    let (addr, _shutdown) = start_tls(&pki).await;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca.clone()).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(tls::crypto_provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_tungstenite::Connector::Rustls(Arc::new(client));
    let url = format!("wss://localhost:{}/echo", addr.port());
    let (mut ws, response) =
        tokio_tungstenite::connect_async_tls_with_config(url, None, false, Some(connector))
            .await
            .unwrap();
    assert_eq!(response.status(), 101);
    ws.send(TMsg::text("third party")).await.unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(reply, TMsg::text("third party"));
    ws.send(TMsg::Binary(vec![0, 255].into())).await.unwrap();
    let reply = ws.next().await.unwrap().unwrap();
    assert_eq!(reply, TMsg::Binary(vec![0, 255].into()));
    ws.close(None).await.unwrap();
}

/// Runs curl (a stated prerequisite: missing, the test fails) with `args`
/// and returns its exit status and stdout.
fn curl(args: &[&str]) -> (i32, String) {
    let out = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "5"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("curl must be installed for the TLS tests");
    let code = out.status.code().unwrap_or(-1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("curl {args:?}: exit {code} {stderr}");
    (code, String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `GET /` and the `/ticker` stream over https, with the test CA trusted.
fn curl_the_demo(port: u16, ca: &Path) {
    let ca = ca.to_str().unwrap();
    let page = format!("https://localhost:{port}/");
    let (code, body) = curl(&["--cacert", ca, &page]);
    assert_eq!(code, 0);
    assert!(body.contains("<!doctype html>"), "{body}");
    // The stream never ends: curl stops at --max-time (exit 28) with the
    // events it got.
    let ticker = format!("https://localhost:{port}/ticker");
    let (code, body) = curl(&["--cacert", ca, "--no-buffer", "--max-time", "2", &ticker]);
    assert_eq!(code, 28, "the stream stays open");
    assert!(body.contains("data: {"), "{body}");
    // Without the CA, curl refuses the server (exit 60: peer certificate
    // cannot be authenticated).
    let (code, _) = curl(&[&page]);
    assert_eq!(code, 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_over_https() {
    let pki = make_pki(&["localhost", "127.0.0.1"]);
    let dir = pki.write_files("curl");
    let (addr, _shutdown) = start_tls(&pki).await;
    let ca = dir.join("ca.pem");
    tokio::task::spawn_blocking(move || curl_the_demo(addr.port(), &ca))
        .await
        .unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

/// `run` must finish within 3 s.
async fn quickly<T>(what: &str, run: impl std::future::Future<Output = T>) -> T {
    let started = Instant::now();
    let out = tokio::time::timeout(Duration::from_secs(3), run)
        .await
        .unwrap_or_else(|_| panic!("{what}: still waiting after 3 s"));
    eprintln!("{what}: {:?}", started.elapsed());
    out
}

#[tokio::test]
async fn an_unknown_ca_is_refused_quickly() {
    let pki = make_pki(&["localhost", "127.0.0.1"]);
    let other = make_pki(&["localhost"]);
    let (addr, _shutdown) = start_tls(&pki).await;
    // Trusting another CA (and the system's): the server's is unknown.
    let url = format!("wss://localhost:{}/echo", addr.port());
    let err = quickly("ws, unknown CA", ws::connect(&url, &ws_config(&other)))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConnectError::Tls(_)) && err.to_string().contains("UnknownIssuer"),
        "{err}"
    );
    let url = format!("https://localhost:{}/ticker", addr.port());
    let err = quickly(
        "sse, unknown CA",
        EventSource::connect(&url, sse_config(&other)),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, sse::ClientError::Tls(_)) && err.to_string().contains("UnknownIssuer"),
        "{err}"
    );
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused_quickly() {
    // Signed by a CA we trust, but for another host.
    let pki = make_pki(&["elsewhere.example"]);
    let (addr, _shutdown) = start_tls(&pki).await;
    let url = format!("wss://localhost:{}/echo", addr.port());
    let err = quickly("ws, wrong name", ws::connect(&url, &ws_config(&pki)))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConnectError::Tls(_))
            && err.to_string().contains("not valid for name \"localhost\""),
        "{err}"
    );
    let url = format!("https://127.0.0.1:{}/ticker", addr.port());
    let err = quickly(
        "sse, wrong name",
        EventSource::connect(&url, sse_config(&pki)),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("not valid for name \"127.0.0.1\""),
        "{err}"
    );
}

#[tokio::test]
async fn plain_http_on_the_tls_port_gets_a_plain_400() {
    let pki = make_pki(&["localhost", "127.0.0.1"]);
    let (addr, _shutdown) = start_tls(&pki).await;
    let reply = quickly(
        "plain GET",
        support::exchange(addr, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"),
    )
    .await;
    let text = String::from_utf8_lossy(&reply);
    assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
    assert!(text.contains("this port speaks HTTPS"), "{text}");
    // Our own ws:// client sees that answer as a refused handshake.
    let url = format!("ws://127.0.0.1:{}/echo", addr.port());
    let err = quickly("ws:// to the TLS port", ws::connect(&url, &ws_config(&pki)))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConnectError::Handshake(ws::ClientHandshakeError::Status(s)) if s.as_u16() == 400),
        "{err}"
    );
}

#[tokio::test]
async fn tls_to_a_plain_port_fails_quickly() {
    let server = support::start(app::router(), support::quick_config()).await;
    let pki = make_pki(&["127.0.0.1"]);
    let url = format!("wss://127.0.0.1:{}/echo", server.addr.port());
    let err = quickly(
        "wss:// to a plain port",
        ws::connect(&url, &ws_config(&pki)),
    )
    .await
    .unwrap_err();
    assert!(matches!(&err, ConnectError::Tls(_)), "{err}");
}

#[tokio::test]
async fn a_stalled_handshake_ends_at_the_header_read_timeout() {
    let pki = make_pki(&["127.0.0.1"]);
    let (addr, _shutdown) = start_tls(&pki).await;
    // quick_config: 500 ms for the handshake plus the head. One byte of a
    // TLS record, then silence; and a connection that sends nothing.
    let mut stalled = TcpStream::connect(addr).await.unwrap();
    stalled.write_all(&[0x16]).await.unwrap();
    let mut silent = TcpStream::connect(addr).await.unwrap();
    for stream in [&mut stalled, &mut silent] {
        let rest = quickly("stalled handshake", support::read_to_close(stream)).await;
        assert!(rest.is_empty(), "no answer a TLS client could not read");
    }
}

/// The binary as the README runs it: `--tls-cert` and `--tls-key` files
/// made by the test CA; curl trusts that CA.
#[test]
fn the_binary_serves_https_with_the_given_files() {
    let pki = make_pki(&["localhost", "127.0.0.1"]);
    let dir = pki.write_files("binary");
    let demo = support::spawn_demo(
        support::demo_command()
            .arg("--tls-cert")
            .arg(dir.join("cert.pem"))
            .arg("--tls-key")
            .arg(dir.join("key.pem")),
    );
    assert_eq!(demo.scheme, "https");
    let mut child = demo.child;
    let addr: SocketAddr = demo.addr.parse().unwrap();
    curl_the_demo(addr.port(), &dir.join("ca.pem"));
    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

/// A bad file is one line on stderr and a failed exit, never a panic.
#[test]
fn the_binary_rejects_unusable_files_in_one_line() {
    let pki = make_pki(&["localhost"]);
    let other = make_pki(&["localhost"]);
    let dir = pki.write_files("bad");
    std::fs::write(dir.join("other-key.pem"), &other.key_pem).unwrap();
    std::fs::write(dir.join("empty.pem"), "").unwrap();
    let cases = [
        (
            "missing.pem",
            "key.pem",
            "missing.pem: cannot read a PEM certificate",
        ),
        (
            "empty.pem",
            "key.pem",
            "empty.pem: no PEM certificate found",
        ),
        ("cert.pem", "ca.pem", "ca.pem: no PEM private key found"),
        ("cert.pem", "other-key.pem", "unusable certificate or key"),
    ];
    for (cert, key, want) in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_realtime-events"))
            .args(["--addr", "127.0.0.1:0", "--tls-cert"])
            .arg(dir.join(cert))
            .arg("--tls-key")
            .arg(dir.join(key))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{cert} {key}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(want), "{cert} {key}: {stderr}");
        assert!(out.stdout.is_empty());
    }
    // One of the pair alone is a usage error (clap's, exit 2).
    let out = Command::new(env!("CARGO_BIN_EXE_realtime-events"))
        .arg("--tls-cert")
        .arg(dir.join("cert.pem"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    std::fs::remove_dir_all(dir).unwrap();
}

/// The README's local setup: one self-signed certificate (no CA of its
/// own, as `openssl req -x509 ... CA:FALSE` makes), trusted as its own
/// root by the client.
#[tokio::test]
async fn a_self_signed_certificate_can_be_its_own_root() {
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let pki = Pki {
        ca_pem: cert.pem(),
        ca: cert.der().clone(),
        leaf_pem: cert.pem(),
        leaf: cert.der().clone(),
        key_der: key.serialize_der(),
        key_pem: key.serialize_pem(),
    };
    let (addr, _shutdown) = start_tls(&pki).await;
    let url = format!("wss://localhost:{}/echo", addr.port());
    let mut socket = ws::connect(&url, &ws_config(&pki)).await.unwrap();
    echo_round_trip(&mut socket).await;
}

/// An acceptor of our own, for `serve_with`: it counts connections and
/// refuses every second one before HTTP starts.
struct EveryOther(std::sync::atomic::AtomicUsize);

impl Acceptor for EveryOther {
    type Stream = TcpStream;

    fn accept(
        &self,
        tcp: TcpStream,
        config: Arc<ServerConfig>,
    ) -> BoxFuture<std::io::Result<TcpStream>> {
        let n = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if n % 2 == 1 {
            return Box::pin(async { Err(std::io::ErrorKind::PermissionDenied.into()) });
        }
        PlainTcp.accept(tcp, config)
    }
}

#[tokio::test]
async fn serve_with_takes_any_acceptor() {
    let server = Server::bind("127.0.0.1:0", app::router(), support::quick_config())
        .await
        .unwrap();
    let addr = server.local_addr();
    let shutdown = Shutdown::new();
    let acceptor = EveryOther(std::sync::atomic::AtomicUsize::new(0));
    tokio::spawn(server.serve_with(acceptor, shutdown.clone()));
    let request = b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    let first = quickly("accepted", support::exchange(addr, request)).await;
    assert!(first.starts_with(b"HTTP/1.1 200 OK\r\n"));
    let second = quickly("refused", support::exchange(addr, request)).await;
    assert!(second.is_empty(), "dropped before HTTP");
    let third = quickly("accepted", support::exchange(addr, request)).await;
    assert!(third.starts_with(b"HTTP/1.1 200 OK\r\n"));
    shutdown.trigger();
}

/// ALPN: the server picks http/1.1 from a browser-like offer (h2 first),
/// and a client that offers only h2 is refused in the handshake rather
/// than sent HTTP/1.1 it did not ask for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alpn_is_http_1_1_only() {
    let pki = make_pki(&["localhost"]);
    let (addr, _shutdown) = start_tls(&pki).await;
    let ca = pki.ca.clone();
    let handshake = move |offer: Vec<Vec<u8>>| {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.clone()).unwrap();
        let mut config = rustls::ClientConfig::builder_with_provider(tls::crypto_provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = offer;
        let name = "localhost".try_into().unwrap();
        let mut conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
        let mut tcp = std::net::TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp)?;
        }
        Ok::<_, std::io::Error>(conn.alpn_protocol().map(<[u8]>::to_vec))
    };
    let chosen = tokio::task::spawn_blocking({
        let handshake = handshake.clone();
        move || handshake(vec![b"h2".to_vec(), b"http/1.1".to_vec()])
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(chosen.as_deref(), Some(&b"http/1.1"[..]));
    let refused = tokio::task::spawn_blocking(move || handshake(vec![b"h2".to_vec()]))
        .await
        .unwrap();
    let err = refused.unwrap_err().to_string();
    assert!(err.contains("NoApplicationProtocol"), "{err}");
}
