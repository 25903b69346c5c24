//! Chapter 4: the stock ticker as an event stream.
//!
//! `cargo run --example ch04_sse_ticker` serves on 127.0.0.1:8084
//! (`--addr HOST:PORT`, port 0 picks one); then watch it with
//! `curl -N http://127.0.0.1:8084/ticker`.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use realtime_events::app::ticker::{Ticker, TickerConfig};
use realtime_events::cli::exit_cannot_listen;
use realtime_events::server::{Router, Server, ServerConfig, Shutdown};

// ANCHOR: routes
fn routes() -> Router {
    let ticker = Ticker::new(TickerConfig::default());
    Router::new().get("/ticker", move |req| {
        // Subscribing happens inside `response`, before it returns.
        std::future::ready(ticker.response(&req))
    })
}
// ANCHOR_END: routes

/// The stock ticker as a Server-Sent Events stream at `/ticker`.
#[derive(Parser)]
struct Args {
    /// Address to serve on; port 0 picks a free port.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8084")]
    addr: SocketAddr,
}

#[tokio::main]
async fn main() -> ExitCode {
    let Args { addr } = Args::parse();
    let server = match Server::bind(addr, routes(), ServerConfig::default()).await {
        Ok(server) => server,
        Err(err) => return exit_cannot_listen(addr, &err),
    };
    println!("listening on http://{}", server.local_addr());
    // Ctrl-C starts a graceful shutdown.
    let shutdown = Shutdown::on_ctrl_c();
    server.serve(shutdown).await;
    ExitCode::SUCCESS
}
