//! Chapter 3: a small HTTP server on the crate's own shell.
//!
//! `cargo run --example ch03_hello_http` serves on 127.0.0.1:8081
//! (`--addr HOST:PORT`, port 0 picks one):
//!
//! - `GET /` answers a greeting;
//! - `POST /reverse` answers its body reversed (send it chunked with
//!   `curl -H 'Transfer-Encoding: chunked' --data-binary hello ...`);
//! - anything else shows the server's own 404, 405, 400, ...

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

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr = match args.iter().position(|a| a == "--addr") {
        Some(i) => args.get(i + 1).cloned().expect("--addr HOST:PORT"),
        None => "127.0.0.1:8081".to_string(),
    };
    let server = Server::bind(addr, routes(), ServerConfig::default()).await?;
    println!("listening on http://{}", server.local_addr());
    // Ctrl-C starts a graceful shutdown.
    let shutdown = Shutdown::on_ctrl_c();
    server.serve(shutdown).await;
    Ok(())
}
