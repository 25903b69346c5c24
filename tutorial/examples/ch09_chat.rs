//! Chapter 9: the chat room, `GET /chat?nick=NAME`.
//!
//! `cargo run --example ch09_chat` serves on 127.0.0.1:8083 (`--addr
//! HOST:PORT`, port 0 picks one; `--queue N` sets how many messages may
//! wait for one member before it is disconnected as too slow).

use realtime_events::app::chat::{self, Room, RoomConfig};
use realtime_events::server::{Router, Server, ServerConfig, Shutdown};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let addr = value("--addr").unwrap_or_else(|| "127.0.0.1:8083".to_string());
    let mut config = RoomConfig::default();
    if let Some(queue) = value("--queue") {
        config.queue = queue.parse().expect("--queue N");
    }
    // ANCHOR: route
    let room = Room::new(config);
    let router = Router::new().get("/chat", move |req| chat::handle(req, room.clone()));
    // ANCHOR_END: route
    let server = Server::bind(addr, router, ServerConfig::default()).await?;
    println!("listening on http://{}", server.local_addr());
    // Ctrl-C starts a graceful shutdown.
    let shutdown = Shutdown::on_ctrl_c();
    server.serve(shutdown).await;
    Ok(())
}
