//! The demo server: `cargo run --release`, then open http://127.0.0.1:8080/.

use std::net::SocketAddr;
use std::process::ExitCode;

use realtime_events::app;
use realtime_events::server::{Server, ServerConfig, Shutdown};

const USAGE: &str = "usage: realtime-events [--addr HOST:PORT]

Serves the realtime-events demo (default address 127.0.0.1:8080; port 0
picks a free port). The address is printed on stdout once bound.
RUST_LOG sets the log level (default: info).";

/// Reads `--addr HOST:PORT` (or `--addr=HOST:PORT`); one flag does not
/// justify a CLI crate.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<SocketAddr, String> {
    let mut addr = "127.0.0.1:8080".to_string();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => addr = args.next().ok_or("--addr needs HOST:PORT")?,
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => match other.strip_prefix("--addr=") {
                Some(value) => addr = value.to_string(),
                None => return Err(format!("unknown argument {other:?}\n\n{USAGE}")),
            },
        }
    }
    addr.parse()
        .map_err(|err| format!("--addr {addr:?}: {err} (expected HOST:PORT, e.g. 127.0.0.1:8080)"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    let addr = match parse_args(std::env::args().skip(1)) {
        Ok(addr) => addr,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let server = match Server::bind(addr, app::router(), ServerConfig::default()).await {
        Ok(server) => server,
        Err(err) => {
            eprintln!("cannot listen on {addr}: {err}");
            return ExitCode::FAILURE;
        }
    };
    // One line, on stdout, so scripts and tests can find a port-0 address.
    println!("listening on http://{}", server.local_addr());

    // Ctrl-C starts a graceful shutdown.
    let shutdown = Shutdown::on_ctrl_c();
    server.serve(shutdown).await;
    tracing::info!("stopped");
    ExitCode::SUCCESS
}
