//! Chapter 7: a frame inspector.
//!
//! Starts the echo server in this process and a small proxy in front of
//! it, connects our client through the proxy, and exchanges a few
//! messages. The proxy prints every frame that crosses it, in both
//! directions, as an annotated hex dump: FIN, opcode, MASK, length, the
//! masking key, the payload as sent and unmasked. Nothing here is typed
//! in by hand: these are the real bytes on the wire.

use std::net::SocketAddr;

use realtime_events::server::{Server, ServerConfig, Shutdown};
use realtime_events::ws::frame::FrameHeader;
use realtime_events::ws::{self, apply_mask, BytesMut, ClientConfig, Message};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn hex(bytes: &[u8]) -> String {
    let shown: Vec<String> = bytes.iter().take(16).map(|b| format!("{b:02x}")).collect();
    let more = if bytes.len() > 16 { " …" } else { "" };
    format!("{}{more}", shown.join(" "))
}

// ANCHOR: annotate
/// One frame, annotated field by field. `frame` holds the whole frame.
fn annotate(direction: &str, header: &FrameHeader, header_len: usize, frame: &[u8]) -> String {
    let (b0, b1) = (frame[0], frame[1]);
    let mut out = format!("{direction}: {} bytes\n", frame.len());
    out += &format!("  {}\n", hex(frame));
    out += &format!(
        "  byte 0 = {b0:08b}: FIN={} RSV1-3={}{}{} opcode={:#x} ({:?})\n",
        u8::from(header.fin),
        u8::from(header.rsv1),
        u8::from(header.rsv2),
        u8::from(header.rsv3),
        header.opcode.as_u8(),
        header.opcode,
    );
    let len_form = match b1 & 0x7f {
        126 => "126: the real length is in the next 2 bytes",
        127 => "127: the real length is in the next 8 bytes",
        _ => "the length itself",
    };
    out += &format!(
        "  byte 1 = {b1:08b}: MASK={} len7={} ({len_form}) -> payload length {}\n",
        b1 >> 7,
        b1 & 0x7f,
        header.payload_len,
    );
    let key_len = if header.mask.is_some() { 4 } else { 0 };
    if header_len - key_len > 2 {
        let extended = &frame[2..header_len - key_len];
        out += &format!(
            "  bytes 2-{}: {} = {} (big-endian)\n",
            header_len - key_len - 1,
            hex(extended),
            header.payload_len
        );
    }
    let payload = &frame[header_len..];
    match header.mask {
        Some(key) => {
            let mut clear = payload.to_vec();
            apply_mask(&mut clear, key, 0);
            out += &format!("  masking key: {}\n", hex(&key));
            out += &format!("  payload as sent (masked): {}\n", hex(payload));
            out += &format!("  payload unmasked:         {}", hex(&clear));
            out += &printable(&clear);
        }
        None => {
            out += "  no masking key (servers never mask)\n";
            out += &format!("  payload: {}", hex(payload));
            out += &printable(payload);
        }
    }
    out
}
// ANCHOR_END: annotate

fn printable(payload: &[u8]) -> String {
    match std::str::from_utf8(payload) {
        Ok(text) if !payload.is_empty() && text.chars().all(|c| !c.is_control()) => {
            let short: String = text.chars().take(16).collect();
            let more = if short.len() < text.len() { "…" } else { "" };
            format!("  {short:?}{more}\n")
        }
        _ => "\n".to_string(),
    }
}

/// Copies `from` to `to`, printing the HTTP head once and then every
/// complete frame before forwarding it (so the output follows the order
/// of events on the wire).
async fn pump(mut from: TcpStream, mut to: TcpStream, direction: &'static str) {
    let mut pending = BytesMut::new();
    let mut in_head = true;
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        pending.extend_from_slice(&chunk[..n]);
        if in_head {
            if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = pending.split_to(end + 4);
                let first = String::from_utf8_lossy(&head);
                println!(
                    "{direction}: HTTP head, {} bytes: {}",
                    head.len(),
                    first.lines().next().unwrap_or_default()
                );
                in_head = false;
            }
        }
        while let (false, Ok(Some((header, header_len)))) = (in_head, FrameHeader::decode(&pending))
        {
            let total = header_len + header.payload_len as usize;
            if pending.len() < total {
                break;
            }
            let frame = pending.split_to(total);
            println!("{}", annotate(direction, &header, header_len, &frame));
        }
        if to.write_all(&chunk[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

async fn proxy(listener: TcpListener, upstream: SocketAddr) -> std::io::Result<()> {
    let (client, _) = listener.accept().await?;
    let server = TcpStream::connect(upstream).await?;
    let (client_r, server_r) = (client.into_std()?, server.into_std()?);
    let (client_w, server_w) = (client_r.try_clone()?, server_r.try_clone()?);
    let up = pump(
        TcpStream::from_std(client_r)?,
        TcpStream::from_std(server_w)?,
        "client -> server",
    );
    let down = pump(
        TcpStream::from_std(server_r)?,
        TcpStream::from_std(client_w)?,
        "server -> client",
    );
    tokio::join!(up, down);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::bind(
        "127.0.0.1:0",
        realtime_events::app::router(),
        ServerConfig::default(),
    )
    .await?;
    let upstream = server.local_addr();
    let shutdown = Shutdown::new();
    let serving = tokio::spawn(server.serve(shutdown.clone()));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("ws://{}/echo", listener.local_addr()?);
    let proxying = tokio::spawn(proxy(listener, upstream));

    let mut socket = ws::connect(&url, &ClientConfig::default()).await?;
    let big = Message::Binary(vec![0x2a; 300].into());
    for msg in [
        Message::Text("Hello".into()),
        Message::Binary(vec![1, 2, 3].into()),
        big,
    ] {
        socket.send(msg).await?;
        socket.recv().await.ok_or("echo server hung up")??;
    }
    socket.ping("are you there?".into()).await?;
    socket.recv().await.ok_or("no pong")??;
    socket.close(ws::close::NORMAL, "bye").await?;
    while socket.recv().await.is_some() {}

    proxying.await??;
    shutdown.trigger();
    serving.await?;
    Ok(())
}
