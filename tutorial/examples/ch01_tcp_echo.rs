//! Chapter 1: a TCP echo server, and what a byte stream does to messages.
//!
//! `cargo run --example ch01_tcp_echo` serves an echo on 127.0.0.1:7878
//! (`--addr HOST:PORT` to change; port 0 picks one). Try it with
//! `nc 127.0.0.1 7878`.
//!
//! `cargo run --example ch01_tcp_echo -- --demo` starts the server, sends
//! three separate writes to it at once, and prints what each `read` on the
//! server side returned: TCP keeps the bytes and their order, not the
//! boundaries between writes.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

// ANCHOR: echo
/// Echoes every byte back. Reports the size of each read on `reads`, so
/// the demo can show where the stream was cut.
async fn echo(mut stream: TcpStream, reads: Option<mpsc::UnboundedSender<Vec<u8>>>) {
    let mut buf = [0u8; 4096];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return, // 0 means the peer closed its side.
            Ok(n) => n,
        };
        if let Some(reads) = &reads {
            let _ = reads.send(buf[..n].to_vec());
        }
        if stream.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
// ANCHOR_END: echo

async fn serve(listener: TcpListener, reads: Option<mpsc::UnboundedSender<Vec<u8>>>) {
    while let Ok((stream, _peer)) = listener.accept().await {
        tokio::spawn(echo(stream, reads.clone()));
    }
}

async fn demo() -> std::io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(serve(listener, Some(tx)));

    // ANCHOR: three_writes
    let mut client = TcpStream::connect(addr).await?;
    let messages: [&[u8]; 3] = [b"one", b"two", b"three"];
    for message in messages {
        client.write_all(message).await?; // three writes...
    }
    // ANCHOR_END: three_writes
    let total: usize = messages.iter().map(|m| m.len()).sum();
    let mut echoed = vec![0u8; total];
    client.read_exact(&mut echoed).await?;

    let mut seen = 0;
    let mut reads = Vec::new();
    while seen < total {
        let chunk = rx.recv().await.expect("server reports its reads");
        seen += chunk.len();
        reads.push(String::from_utf8_lossy(&chunk).into_owned());
    }
    println!("client wrote 3 messages: {:?}", ["one", "two", "three"]);
    println!("server read {} time(s): {:?}", reads.len(), reads);
    println!("echoed back: {:?}", String::from_utf8_lossy(&echoed));
    println!("the stream kept every byte in order, but not where one message ended:");
    println!("a protocol on TCP must mark its own message boundaries (framing).");
    Ok(())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--demo") {
        return demo().await;
    }
    let addr: SocketAddr = match args.iter().position(|a| a == "--addr") {
        Some(i) => args
            .get(i + 1)
            .and_then(|a| a.parse().ok())
            .expect("--addr HOST:PORT"),
        None => "127.0.0.1:7878".parse().unwrap(),
    };
    let listener = TcpListener::bind(addr).await?;
    println!("listening on tcp://{}", listener.local_addr()?);
    serve(listener, None).await;
    Ok(())
}
