//! Chapter 9: the chat room, `GET /chat?nick=NAME`.
//!
//! `cargo run --example ch09_chat` serves on 127.0.0.1:8089 (`--addr
//! HOST:PORT`, port 0 picks one; `--queue N` sets how many messages may
//! wait for one member before it is disconnected as too slow).
//!
//! `cargo run --example ch09_chat -- --client ws://127.0.0.1:8089/chat?nick=ada`
//! joins a room: each line typed on stdin is sent as a text message, and
//! everything the room sends is printed. Run it in two terminals to chat.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use realtime_events::app::chat::{self, Room, RoomConfig};
use realtime_events::cli::exit_cannot_listen;
use realtime_events::server::{Router, Server, ServerConfig, Shutdown};
use realtime_events::ws::{self, ClientConfig, Message};
use tokio::io::{AsyncBufReadExt, BufReader};

/// The chat room of chapter 9: a server, or with --client a member.
#[derive(Parser)]
struct Args {
    /// Address to serve on; port 0 picks a free port.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8089")]
    addr: SocketAddr,
    /// Messages that may wait for one member before it is disconnected as
    /// too slow (default: the room's own).
    #[arg(long, value_name = "N")]
    queue: Option<usize>,
    /// Join the room at this URL instead of serving: stdin lines are sent,
    /// the room's messages printed.
    #[arg(long, value_name = "ws://HOST:PORT/chat?nick=NAME")]
    client: Option<String>,
}

// ANCHOR: client
/// One member: stdin lines go to the room, the room's messages to stdout.
async fn member(url: &str) -> Result<(), Box<dyn std::error::Error>> {
    let socket = ws::connect(url, &ClientConfig::default()).await?;
    let (mut from_room, to_room) = socket.split();
    let printer = tokio::spawn(async move {
        while let Some(Ok(msg)) = from_room.recv().await {
            if let Message::Text(text) = msg {
                println!("{text}");
            }
        }
    });
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        to_room.send(Message::Text(line)).await?;
    }
    // End of input (Ctrl-D): leave politely, then wait for the answer.
    to_room.close(ws::close::NORMAL, "bye").await?;
    printer.await?;
    Ok(())
}
// ANCHOR_END: client

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(url) = args.client {
        return match member(&url).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("error: {err}");
                ExitCode::FAILURE
            }
        };
    }
    let mut config = RoomConfig::default();
    if let Some(queue) = args.queue {
        config.queue = queue;
    }
    // ANCHOR: route
    let room = Room::new(config);
    let router = Router::new().get("/chat", move |req| chat::handle(req, room.clone()));
    // ANCHOR_END: route
    let server = match Server::bind(args.addr, router, ServerConfig::default()).await {
        Ok(server) => server,
        Err(err) => return exit_cannot_listen(args.addr, &err),
    };
    println!("listening on http://{}", server.local_addr());
    // Ctrl-C starts a graceful shutdown.
    let shutdown = Shutdown::on_ctrl_c();
    server.serve(shutdown).await;
    ExitCode::SUCCESS
}
