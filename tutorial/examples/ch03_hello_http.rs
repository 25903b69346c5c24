//! Chapter 3: a small HTTP server on the crate's own shell.
//!
//! `cargo run --example ch03_hello_http` serves on 127.0.0.1:8083
//! (`--addr HOST:PORT`, port 0 picks one):
//!
//! - `GET /` answers a greeting;
//! - `POST /reverse` answers its body reversed (send it chunked with
//!   `curl -H 'Transfer-Encoding: chunked' --data-binary hello ...`);
//! - anything else shows the server's own 404, 405, 400, ...

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use realtime_events::cli::exit_cannot_listen;
use realtime_events::server::{Response, Router, Server, ServerConfig, Shutdown};

// ANCHOR: routes
fn routes() -> Router {
    Router::new()
        .get("/", |req| async move {
            let agent = req.header("user-agent").unwrap_or("stranger").to_string();
            Response::text(200, format!("hello, {agent}\n"))
        })
        .route("POST", "/reverse", |req| async move {
            let mut body = req.body().to_vec();
            body.reverse();
            Response::new(200, body).header("Content-Type", "application/octet-stream")
        })
}
// ANCHOR_END: routes

/// A small HTTP server: a greeting at `/`, `POST /reverse` reverses the body.
#[derive(Parser)]
struct Args {
    /// Address to serve on; port 0 picks a free port.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8083")]
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
