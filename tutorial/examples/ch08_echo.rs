//! Chapter 8: the echo server, `GET /echo`, on the crate's own shell.
//!
//! `cargo run --example ch08_echo` serves on 127.0.0.1:8088 (`--addr
//! HOST:PORT`, port 0 picks one). Every text or binary message sent to
//! `ws://ADDR/echo` comes straight back; pings get pongs; a close is
//! answered; Ctrl-C closes every socket with 1001 "going away".

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use realtime_events::app::echo;
use realtime_events::cli::exit_cannot_listen;
use realtime_events::server::{Router, Server, ServerConfig, Shutdown};

/// A WebSocket echo server at `/echo`.
#[derive(Parser)]
struct Args {
    /// Address to serve on; port 0 picks a free port.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8088")]
    addr: SocketAddr,
}

#[tokio::main]
async fn main() -> ExitCode {
    let Args { addr } = Args::parse();
    // ANCHOR: route
    let router = Router::new().get("/echo", echo::handle);
    // ANCHOR_END: route
    let server = match Server::bind(addr, router, ServerConfig::default()).await {
        Ok(server) => server,
        Err(err) => return exit_cannot_listen(addr, &err),
    };
    println!("listening on http://{}", server.local_addr());
    // Ctrl-C starts a graceful shutdown.
    let shutdown = Shutdown::on_ctrl_c();
    server.serve(shutdown).await;
    ExitCode::SUCCESS
}
