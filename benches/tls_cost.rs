//! What TLS costs our server, against itself in plain text, in the same
//! run: CPU per echoed message, CPU per handshake, memory per idle
//! WebSocket. The figures quoted in chapters 10.2 and 12 and in the README
//! come from benches/results/tls.txt, which this writes to stdout:
//!
//! ```text
//! cargo bench --bench tls_cost | tee benches/results/tls.txt
//! ```
//!
//! Two copies of the release binary run side by side, one plain and one
//! with `--tls-cert/--tls-key` (a certificate made here by a test CA, P-256
//! ECDSA as most public certificates now are), both pinned to CPU 0 with
//! taskset; this process is the client, on one thread. Server CPU is
//! utime + stime from /proc/PID/stat, memory is VmRSS from
//! /proc/PID/status. Plain and TLS alternate within every round, and the
//! order flips each round.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use realtime_events::tls::{self, rustls, ClientTls};
use realtime_events::ws::{self, ClientConfig, Message};

const ROUNDS: usize = 3;
/// Echo: connections at once, messages each, per measurement.
const ECHO_CONNS: usize = 20;
const ECHO_MSGS: usize = 2_500;
/// Handshakes: connections opened (each: connect, upgrade, close).
const HANDSHAKES: usize = 400;
/// Idle WebSockets held open for the memory figure.
const IDLE: usize = 2_000;

struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let mut child = Command::new("taskset")
            .args(["-c", "0", env!("CARGO_BIN_EXE_realtime-events")])
            .args(["--addr", "127.0.0.1:0", "--max-connections", "20000"])
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("taskset (util-linux) and the release binary");
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap()
            .to_string();
        let url = url
            .replace("https://", "wss://")
            .replace("http://", "ws://");
        Server { child, url }
    }

    /// The server process's id (taskset execs the binary in place).
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU seconds used so far (user + system).
    fn cpu(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = after_name.split(' ').collect();
        // Fields 14 and 15 of the whole line; 3 is the first after the name.
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        ticks as f64 / 100.0
    }

    /// Resident memory, KiB.
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A CA, and a leaf for localhost it signed, written as PEM files.
fn certificate(dir: &std::path::Path) -> rustls::pki_types::CertificateDer<'static> {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "tls_cost bench CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    std::fs::write(dir.join("cert.pem"), leaf.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    ca.der().clone()
}

/// Echoes `ECHO_MSGS` messages of `size` bytes on each of `ECHO_CONNS`
/// connections; returns (server CPU seconds, messages).
async fn echo(server: &Server, config: &ClientConfig, size: usize) -> (f64, usize) {
    let mut sockets = Vec::new();
    for _ in 0..ECHO_CONNS {
        sockets.push(
            ws::connect(&format!("{}/echo", server.url), config)
                .await
                .unwrap(),
        );
    }
    let payload = "x".repeat(size);
    let before = server.cpu();
    let mut tasks = Vec::new();
    for mut socket in sockets {
        let payload = payload.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..ECHO_MSGS {
                socket.send(Message::Text(payload.clone())).await.unwrap();
                match socket.recv().await {
                    Some(Ok(Message::Text(_))) => {}
                    other => panic!("echo: {other:?}"),
                }
            }
            let _ = socket.close(1000, "").await;
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    (server.cpu() - before, ECHO_CONNS * ECHO_MSGS)
}

/// Opens, upgrades and closes `HANDSHAKES` connections, 10 at a time;
/// returns server CPU seconds.
async fn handshakes(server: &Server, config: &ClientConfig) -> f64 {
    let before = server.cpu();
    let url = format!("{}/echo", server.url);
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (url, config) = (url.clone(), config.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..HANDSHAKES / 10 {
                let mut socket = ws::connect(&url, &config).await.unwrap();
                socket.close(1000, "").await.unwrap();
                while let Some(Ok(_)) = socket.recv().await {}
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    // Let the server log and free the last ones.
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.cpu() - before
}

/// Opens `IDLE` WebSockets and holds them; returns RSS growth per
/// connection in bytes.
async fn idle(server: &Server, config: &ClientConfig) -> f64 {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = server.rss_kib();
    let mut sockets = Vec::new();
    for _ in 0..IDLE {
        sockets.push(
            ws::connect(&format!("{}/echo", server.url), config)
                .await
                .unwrap(),
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = server.rss_kib();
    drop(sockets);
    (after as f64 - before as f64) * 1024.0 / IDLE as f64
}

fn main() {
    // `cargo bench` passes --bench; a filter argument is not supported.
    let dir = std::env::temp_dir().join(format!("re-tls-cost-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = certificate(&dir);
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");

    // Full handshakes every time: no session resumption on the client.
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca).unwrap();
    let mut client = rustls::ClientConfig::builder_with_provider(tls::crypto_provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    client.resumption = rustls::client::Resumption::disabled();
    let config = ClientConfig::default()
        .with_tls(ClientTls::default().with_config(Arc::new(client)))
        .with_handshake_timeout(Duration::from_secs(30));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    println!("# TLS cost: our release binary, plain vs TLS (rustls + ring), same run.");
    println!(
        "# Command: cargo bench --bench tls_cost   (servers pinned to CPU 0; client: 1 thread)"
    );
    println!("# Echo: {ECHO_CONNS} connections x {ECHO_MSGS} text messages, request/response.");
    println!("# Handshakes: {HANDSHAKES} x (TCP + TLS 1.3 full handshake + WebSocket upgrade + close), 10 at a time.");
    println!("# Idle: {IDLE} open WebSockets on /echo; VmRSS growth per connection.");
    println!("# Server CPU = utime+stime from /proc/PID/stat (10 ms ticks).");
    // (metric, plain figures, tls figures)
    let mut table: Vec<(String, Vec<f64>, Vec<f64>)> = Vec::new();
    let mut record = |metric: String, with_tls: bool, value: f64| {
        let row = match table.iter_mut().position(|r| r.0 == metric) {
            Some(i) => &mut table[i],
            None => {
                table.push((metric, Vec::new(), Vec::new()));
                table.last_mut().unwrap()
            }
        };
        if with_tls {
            row.2.push(value)
        } else {
            row.1.push(value)
        }
    };
    runtime.block_on(async {
        for round in 0..ROUNDS {
            let tls_first = round % 2 == 1;
            let mut order = vec![("plain", false), ("tls", true)];
            if tls_first {
                order.reverse();
            }
            for (name, with_tls) in order {
                let server = if with_tls {
                    Server::start(&[
                        "--tls-cert",
                        cert.to_str().unwrap(),
                        "--tls-key",
                        key.to_str().unwrap(),
                    ])
                } else {
                    Server::start(&[])
                };
                for size in [64, 4096] {
                    let (cpu, n) = echo(&server, &config, size).await;
                    let per = cpu * 1e6 / n as f64;
                    println!(
                        "round {round} {name:5} echo {size:5} B: server CPU {cpu:.2} s for {n} messages = {per:.2} us/message"
                    );
                    record(format!("echo {size} B, server CPU us/message"), with_tls, per);
                }
                let cpu = handshakes(&server, &config).await;
                let per = cpu * 1e6 / HANDSHAKES as f64;
                println!(
                    "round {round} {name:5} handshakes: server CPU {cpu:.2} s for {HANDSHAKES} = {per:.0} us/connection"
                );
                record("connect+upgrade+close, server CPU us/connection".into(), with_tls, per);
                let per = idle(&server, &config).await;
                println!("round {round} {name:5} idle: {per:.0} bytes/connection (VmRSS growth over {IDLE})");
                record("idle WebSocket, server bytes/connection".into(), with_tls, per);
            }
        }
    });
    println!("# Medians over {ROUNDS} rounds; ratio = tls / plain:");
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    for (metric, plain, tls) in &table {
        let (p, t) = (median(plain), median(tls));
        println!(
            "{metric:50} plain {p:9.2}  tls {t:9.2}  ratio {:.2}  (tls - plain: {:.2})",
            t / p,
            t - p
        );
    }
    println!("# finished in {:.0} s", started.elapsed().as_secs_f64());
    std::fs::remove_dir_all(dir).unwrap();
}
