//! The demo server: `cargo run --release`, then open http://127.0.0.1:8080/.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use realtime_events::app::{self, AppConfig};
use realtime_events::cli::exit_cannot_listen;
use realtime_events::server::{Server, ServerConfig, Shutdown};

/// Serves the realtime-events demo: the page, the SSE ticker and feed, and
/// the WebSocket echo and chat.
///
/// Every flag can also come from the environment variable named in its
/// help, which is how a deployment usually sets it. RUST_LOG sets the log
/// level (default: info).
// One struct for the whole command line: the TLS, Redis, origin and limit
// flags to come are more fields here, each with its doc line and variable.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// Address to listen on, HOST:PORT; port 0 picks a free port. The bound
    /// address is printed on stdout.
    #[arg(
        long,
        value_name = "HOST:PORT",
        env = "REALTIME_EVENTS_ADDR",
        default_value = "127.0.0.1:8080"
    )]
    addr: SocketAddr,

    /// An origin (as browsers write it: https://demo.example.org) whose
    /// pages may use the WebSockets and /wire, besides the page's own.
    /// Repeat the flag, or separate origins with commas in the variable.
    #[arg(
        long = "allow-origin",
        value_name = "ORIGIN",
        env = "REALTIME_EVENTS_ALLOW_ORIGIN",
        value_delimiter = ','
    )]
    allow_origins: Vec<String>,

    /// Largest frame /echo accepts, in bytes. The Autobahn run raises it
    /// to 16 MiB for the suite's largest cases.
    #[arg(long, value_name = "BYTES", env = "REALTIME_EVENTS_ECHO_MAX_FRAME", default_value_t = 1 << 20)]
    echo_max_frame: u64,

    /// Largest message /echo accepts, in bytes (the sum of its frames).
    #[arg(long, value_name = "BYTES", env = "REALTIME_EVENTS_ECHO_MAX_MESSAGE", default_value_t = 1 << 20)]
    echo_max_message: u64,

    /// Connections served at once; past it, new ones get 503 and close.
    #[arg(
        long,
        value_name = "N",
        env = "REALTIME_EVENTS_MAX_CONNECTIONS",
        default_value_t = 10_000
    )]
    max_connections: usize,

    /// PEM file with the server's certificate chain, leaf first. With
    /// --tls-key, the server speaks https:// and wss:// (and only those)
    /// on --addr.
    #[cfg(feature = "tls")]
    #[arg(
        long,
        value_name = "PATH",
        env = "REALTIME_EVENTS_TLS_CERT",
        requires = "tls_key"
    )]
    tls_cert: Option<std::path::PathBuf>,

    /// PEM file with the private key of --tls-cert.
    #[cfg(feature = "tls")]
    #[arg(
        long,
        value_name = "PATH",
        env = "REALTIME_EVENTS_TLS_KEY",
        requires = "tls_cert"
    )]
    tls_key: Option<std::path::PathBuf>,

    /// Serve /ticker and /chat from Redis Streams, so that several
    /// instances behind one load balancer share them: redis://HOST:PORT.
    /// Without it, everything stays in this process's memory.
    #[cfg(feature = "redis")]
    #[arg(long, value_name = "URL", env = "REDIS_URL")]
    redis: Option<String>,

    /// With --redis: roughly how many ticker events the stream keeps
    /// (N to N + N/10), the window a reconnecting client can resume in.
    #[cfg(feature = "redis")]
    #[arg(
        long,
        value_name = "N",
        env = "REALTIME_EVENTS_REDIS_MAX_LEN",
        default_value_t = 10_000
    )]
    redis_max_len: usize,

    /// With --redis: the prefix of every key this demo uses.
    #[cfg(feature = "redis")]
    #[arg(
        long,
        value_name = "PREFIX",
        env = "REALTIME_EVENTS_REDIS_PREFIX",
        default_value = "realtime-events"
    )]
    redis_prefix: String,
}

impl Cli {
    /// The demo's settings the flags ask for.
    fn app_config(&self) -> AppConfig {
        let echo = realtime_events::ws::Limits {
            max_frame_size: self.echo_max_frame,
            max_message_size: self.echo_max_message,
        };
        self.allow_origins
            .iter()
            .fold(AppConfig::default(), |config, origin| {
                config.with_allowed_origin(origin.clone())
            })
            .with_echo_limits(echo)
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    // Parse first: `--help` and `--version` print and exit before logging
    // starts, and a bad flag exits with clap's usage message (status 2).
    let cli = Cli::parse();

    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    let server_config = ServerConfig::default().with_max_connections(cli.max_connections);
    #[allow(unused_mut)]
    let mut app_config = cli.app_config();
    #[cfg(feature = "redis")]
    if let Some(url) = &cli.redis {
        use realtime_events::broker::{FeedConfig, RedisBroker, RedisConfig};
        let config = RedisConfig::new(url.clone())
            .with_prefix(cli.redis_prefix.clone())
            .with_ticker(FeedConfig::default().with_max_len(cli.redis_max_len));
        match RedisBroker::connect(config).await {
            Ok(broker) => app_config = app_config.with_redis(broker),
            Err(err) => {
                eprintln!("{err}");
                return ExitCode::FAILURE;
            }
        }
    }
    let router = app::router_with(app_config);
    let server = match Server::bind(cli.addr, router, server_config).await {
        Ok(server) => server,
        Err(err) => return exit_cannot_listen(cli.addr, &err),
    };
    #[cfg(feature = "tls")]
    let server = match (&cli.tls_cert, &cli.tls_key) {
        (Some(cert), Some(key)) => {
            match realtime_events::tls::server_config_from_pem_files(cert, key) {
                Ok(tls) => server.with_tls(tls),
                Err(err) => {
                    eprintln!("cannot use the TLS certificate: {err}");
                    return ExitCode::FAILURE;
                }
            }
        }
        _ => server,
    };
    // One line, on stdout, so scripts and tests can find a port-0 address.
    let scheme = if server.is_tls() { "https" } else { "http" };
    println!("listening on {scheme}://{}", server.local_addr());

    // Ctrl-C starts a graceful shutdown.
    let shutdown = Shutdown::on_ctrl_c();
    server.serve(shutdown).await;
    tracing::info!("stopped");
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// clap's own consistency checks (duplicate flags, bad defaults).
    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
