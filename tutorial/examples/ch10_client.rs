//! Chapter 10: our WebSocket client.
//!
//! With no arguments it starts the echo server in this process, connects
//! to it with `ws::connect`, sends a text and a binary message, prints
//! what comes back, and closes: WebSockets are two-way and carry binary.
//!
//! `--url ws://HOST:PORT/PATH` talks to another server instead.
//! `--autobahn ws://HOST:PORT` runs every case of an Autobahn|Testsuite
//! fuzzing server (`wstest -m fuzzingserver`) against our client.

use std::process::ExitCode;

use realtime_events::server::{Server, ServerConfig, Shutdown};
use realtime_events::ws::{self, ClientConfig, Message};

// ANCHOR: talk
/// Sends a text and a binary message to an echo server and prints the replies.
async fn talk(url: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mut socket = ws::connect(url, &ClientConfig::default()).await?;
    println!("connected to {url}");
    socket.send(Message::Text("hello, server".into())).await?;
    socket
        .send(Message::Binary(vec![0xde, 0xad, 0xbe, 0xef].into()))
        .await?;
    for _ in 0..2 {
        match socket.recv().await {
            Some(Ok(Message::Text(text))) => println!("received text: {text:?}"),
            Some(Ok(Message::Binary(bytes))) => println!("received binary: {:02x?}", &bytes[..]),
            other => println!("received {other:?}"),
        }
    }
    socket.close(ws::close::NORMAL, "done").await?;
    // Keep reading until the server answers our close.
    while let Some(msg) = socket.recv().await {
        if let Ok(Message::Close(frame)) = msg {
            println!("server closed with {frame:?}");
        }
    }
    Ok(())
}
// ANCHOR_END: talk

// ANCHOR: autobahn
/// Runs every case the fuzzing server at `base` offers, then asks it to
/// write its report.
async fn autobahn(base: &str) -> Result<(), Box<dyn std::error::Error>> {
    const AGENT: &str = "realtime-events";
    // Offer permessage-deflate, so cases 12.* and 13.* test it too.
    let mut config = ClientConfig::default();
    config.socket = config
        .socket
        .with_compression(Some(ws::DeflateConfig::default()));
    let count: u32 = {
        // The server may still be starting: retry for a few seconds.
        let mut tries = 0;
        let mut socket = loop {
            match ws::connect(&format!("{base}/getCaseCount"), &config).await {
                Ok(socket) => break socket,
                Err(_) if tries < 100 => tries += 1,
                Err(e) => return Err(e.into()),
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        let mut count = None;
        while let Some(Ok(msg)) = socket.recv().await {
            if let Message::Text(text) = msg {
                count = text.trim().parse().ok();
            }
        }
        count.ok_or("no case count")?
    };
    println!("{count} cases");
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={AGENT}");
        let mut socket = ws::connect(&url, &config).await?;
        while let Some(Ok(msg)) = socket.recv().await {
            if matches!(msg, Message::Text(_) | Message::Binary(_))
                && socket.send(msg).await.is_err()
            {
                break;
            }
        }
    }
    let mut socket = ws::connect(&format!("{base}/updateReports?agent={AGENT}"), &config).await?;
    while socket.recv().await.is_some() {}
    println!("reports updated");
    Ok(())
}
// ANCHOR_END: autobahn

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => {
            let server = Server::bind(
                "127.0.0.1:0",
                realtime_events::app::router(),
                ServerConfig::default(),
            )
            .await
            .expect("bind a free port");
            let url = format!("ws://{}/echo", server.local_addr());
            let shutdown = Shutdown::new();
            let serving = tokio::spawn(server.serve(shutdown.clone()));
            let result = talk(&url).await;
            shutdown.trigger();
            let _ = serving.await;
            result
        }
        ["--url", url] => talk(url).await,
        ["--autobahn", base] => autobahn(base.trim_end_matches('/')).await,
        _ => {
            eprintln!("usage: ch10_client [--url ws://HOST:PORT/PATH | --autobahn ws://HOST:PORT]");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
