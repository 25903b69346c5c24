//! Chapter 1: a TCP echo server, and what a byte stream does to messages.
//!
//! `cargo run --example ch01_tcp_echo` serves an echo on 127.0.0.1:8081
//! (`--addr HOST:PORT` to change; port 0 picks one). Try it with
//! `cargo run --example ch01_tcp_echo -- --client`, which sends each line
//! you type and prints what comes back.
//!
//! `cargo run --example ch01_tcp_echo -- --demo` starts the server, sends
//! three separate writes to it at once, and prints what each `read` on the
//! server side returned: TCP keeps the bytes and their order, not the
//! boundaries between writes.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use realtime_events::cli::exit_cannot_listen;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
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

/// Sends each line of stdin as one write and prints whatever one `read`
/// returns: a raw TCP client, so nothing but the stream is in between.
async fn client(addr: SocketAddr) -> std::io::Result<()> {
    let stream = TcpStream::connect(addr).await?;
    let (mut from_server, mut to_server) = stream.into_split();
    let printer = tokio::spawn(async move {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = from_server.read(&mut buf).await {
            println!("read {n} byte(s): {:?}", String::from_utf8_lossy(&buf[..n]));
        }
    });
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        to_server.write_all(format!("{line}\n").as_bytes()).await?;
    }
    // End of input: close our sending side. The server sees end of stream,
    // stops, and closes its side once every echo is out, which ends the
    // printer.
    to_server.shutdown().await?;
    printer.await?;
    Ok(())
}

/// A TCP echo server, and two ways to watch what a byte stream does.
#[derive(Parser)]
struct Args {
    /// Address to serve on (or, with --client, to connect to); port 0
    /// picks a free port.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8081")]
    addr: SocketAddr,
    /// Start a server on a free port, send it three writes at once and
    /// print what each read returned.
    #[arg(long)]
    demo: bool,
    /// Connect to --addr, send each line of stdin, print what comes back.
    #[arg(long, conflicts_with = "demo")]
    client: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let outcome = if args.demo {
        demo().await
    } else if args.client {
        client(args.addr).await
    } else {
        let listener = match TcpListener::bind(args.addr).await {
            Ok(listener) => listener,
            Err(err) => return exit_cannot_listen(args.addr, &err),
        };
        match listener.local_addr() {
            Ok(addr) => println!("listening on tcp://{addr}"),
            Err(err) => eprintln!("{err}"),
        }
        serve(listener, None).await;
        Ok(())
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
