//! Chapter 8: the echo server, `GET /echo`, on the crate's own shell.
//!
//! `cargo run --example ch08_echo` serves on 127.0.0.1:8082 (`--addr
//! HOST:PORT`, port 0 picks one). Every text or binary message sent to
//! `ws://ADDR/echo` comes straight back; pings get pongs; a close is
//! answered; Ctrl-C closes every socket with 1001 "going away".

use realtime_events::app::echo;
use realtime_events::server::{Router, Server, ServerConfig, Shutdown};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr = match args.iter().position(|a| a == "--addr") {
        Some(i) => args.get(i + 1).cloned().expect("--addr HOST:PORT"),
        None => "127.0.0.1:8082".to_string(),
    };
    // ANCHOR: route
    let router = Router::new().get("/echo", echo::handle);
    // ANCHOR_END: route
    let server = Server::bind(addr, router, ServerConfig::default()).await?;
    println!("listening on http://{}", server.local_addr());
    // Ctrl-C starts a graceful shutdown.
    let shutdown = Shutdown::on_ctrl_c();
    server.serve(shutdown).await;
    Ok(())
}
