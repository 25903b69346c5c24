//! The demo server: `cargo run --release`, then open http://127.0.0.1:8080/.

use std::net::SocketAddr;
use std::process::ExitCode;

use realtime_events::app::{self, AppConfig};
use realtime_events::server::{Server, ServerConfig, Shutdown};

const USAGE: &str = "usage: realtime-events [--addr HOST:PORT] [--allow-origin ORIGIN]...
                       [--echo-max-frame BYTES] [--echo-max-message BYTES]
                       [--max-connections N]

Serves the realtime-events demo (default address 127.0.0.1:8080; port 0
picks a free port). The address is printed on stdout once bound.
--allow-origin (repeatable) lets pages from ORIGIN (e.g.
https://demo.example.org) use the WebSockets and /wire besides the page's
own origin. --echo-max-frame/--echo-max-message raise /echo's limits
(default 1 MiB each; the Autobahn run passes 16 MiB and 64 MiB).
--max-connections caps connections served at once (default 10000).
RUST_LOG sets the log level (default: info).";

/// What the command line asks for.
struct Args {
    addr: SocketAddr,
    app: AppConfig,
    server: ServerConfig,
}

/// Reads the flags (`--flag VALUE` or `--flag=VALUE`); a few flags do not
/// justify a CLI crate.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut addr = "127.0.0.1:8080".to_string();
    let mut app = AppConfig::default();
    let mut server = ServerConfig::default();
    let mut echo = app.echo_limits;
    while let Some(arg) = args.next() {
        if arg == "-h" || arg == "--help" {
            return Err(USAGE.to_string());
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag.to_string(), Some(value.to_string())),
            None => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or(format!("{flag} needs a value"))
        };
        let number = |text: String| {
            text.parse::<u64>()
                .map_err(|err| format!("{flag} {text:?}: {err}"))
        };
        match flag.as_str() {
            "--addr" => addr = value()?,
            "--allow-origin" => app = app.with_allowed_origin(value()?),
            "--echo-max-frame" => echo.max_frame_size = number(value()?)?,
            "--echo-max-message" => echo.max_message_size = number(value()?)?,
            "--max-connections" => server = server.with_max_connections(number(value()?)? as usize),
            other => return Err(format!("unknown argument {other:?}\n\n{USAGE}")),
        }
    }
    let addr = addr.parse().map_err(|err| {
        format!("--addr {addr:?}: {err} (expected HOST:PORT, e.g. 127.0.0.1:8080)")
    })?;
    Ok(Args {
        addr,
        app: app.with_echo_limits(echo),
        server,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    let Args { addr, app, server } = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let server = match Server::bind(addr, app::router_with(app), server).await {
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
