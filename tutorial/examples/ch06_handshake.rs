//! Chapter 6: a real opening handshake, byte for byte.
//!
//! Starts the echo server in this process, sends it the handshake request
//! from RFC 6455 §1.3 over raw TCP, prints the request, the accept value
//! we expect, and the server's 101 response as it came off the wire. Then
//! it shows two refusals: a wrong version (426) and a bad key (400).

use realtime_events::server::{Server, ServerConfig, Shutdown};
use realtime_events::ws::accept_key;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `request` and returns the response head (up to the empty line).
async fn ask(addr: std::net::SocketAddr, request: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).await? == 1 {
        head.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

/// Prints text with its line ends made visible.
fn show(label: &str, text: &str) {
    println!("{label}:");
    for line in text.split_inclusive("\r\n") {
        println!("    {}", line.replace("\r\n", "\\r\\n"));
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let server = Server::bind(
        "127.0.0.1:0",
        realtime_events::app::router(),
        ServerConfig::default(),
    )
    .await?;
    let addr = server.local_addr();
    let shutdown = Shutdown::new();
    let serving = tokio::spawn(server.serve(shutdown.clone()));

    // ANCHOR: request
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    let request = format!(
        "GET /echo HTTP/1.1\r\n\
         Host: {addr}\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    );
    // ANCHOR_END: request
    show("request", &request);
    println!(
        "expected Sec-WebSocket-Accept: base64(sha1(key + GUID)) = {}",
        accept_key(key.as_bytes())
    );
    show("response", &ask(addr, &request).await?);

    let old = request.replace("Version: 13", "Version: 8");
    let refused = ask(addr, &old).await?;
    show("with Sec-WebSocket-Version: 8", &refused);
    let bad_key = request.replace(key, "not-sixteen-bytes");
    let refused = ask(addr, &bad_key).await?;
    println!(
        "with a bad key: {}",
        refused.lines().next().unwrap_or_default()
    );

    shutdown.trigger();
    let _ = serving.await;
    Ok(())
}
