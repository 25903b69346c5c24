//! Chapter 4: the stock ticker as an event stream.
//!
//! `cargo run --example ch04_sse_ticker` serves on 127.0.0.1:8080
//! (`--addr HOST:PORT`, port 0 picks one); then watch it with
//! `curl -N http://127.0.0.1:8080/ticker`.

use realtime_events::app::ticker::{Ticker, TickerConfig};
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

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr = match args.iter().position(|a| a == "--addr") {
        Some(i) => args.get(i + 1).cloned().expect("--addr HOST:PORT"),
        None => "127.0.0.1:8080".to_string(),
    };
    let server = Server::bind(addr, routes(), ServerConfig::default()).await?;
    println!("listening on http://{}", server.local_addr());
    // Ctrl-C starts a graceful shutdown.
    let shutdown = Shutdown::on_ctrl_c();
    server.serve(shutdown).await;
    Ok(())
}
