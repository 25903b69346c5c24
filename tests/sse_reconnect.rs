//! Reconnection without loss: a server publishes N events while our
//! EventSource reads them through a proxy that cuts the connection after a
//! random number of bytes (inside heads, lines, CRLFs, anywhere), again and
//! again. The client must end up with ids 1..=N exactly, in order, each
//! with its own data.
//!
//! One case = one seed. `SSE_RECONNECT_CASES` sets how many seeds run
//! (default 8, so a local `cargo test` stays quick; CI runs thousands).

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use proptest::prelude::*;
use realtime_events::server::Router;
use realtime_events::sse::{
    stream_response, ClientConfig, Event, EventSource, Hub, HubConfig, StreamConfig,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const EVENTS: u64 = 200;
const MIN_CUTS: u64 = 20;

fn cases() -> u32 {
    std::env::var("SSE_RECONNECT_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8)
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
}

/// SplitMix64, so every case is reproducible from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The data of event `i`: recognisable, of varying length, sometimes over
/// several lines, with non-ASCII text so that cuts split UTF-8 sequences.
fn data_of(i: u64, rng: &mut Rng) -> String {
    let pad = "é".repeat(rng.below(40) as usize);
    match rng.below(3) {
        0 => format!("{i}"),
        1 => format!("{i}\nline two {pad}"),
        _ => format!("{i} {pad}\n\nend"),
    }
}

/// Forwards client→server as is, and server→client until a random byte
/// budget runs out; then drops both sides. Counts its cuts.
async fn proxy(listener: TcpListener, upstream: SocketAddr, seed: u64, cuts: Arc<AtomicU64>) {
    let mut rng = Rng(seed);
    loop {
        let Ok((client, _)) = listener.accept().await else {
            return;
        };
        // Small budgets: many cuts, some inside the response head.
        let budget = 1 + rng.below(400) as usize;
        let cuts = cuts.clone();
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(upstream).await else {
                return;
            };
            let (mut cr, mut cw) = client.into_split();
            let (mut sr, mut sw) = server.into_split();
            let up = tokio::spawn(async move {
                let _ = tokio::io::copy(&mut cr, &mut sw).await;
            });
            let mut left = budget;
            let mut buf = [0u8; 512];
            loop {
                let n = match sr.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let take = n.min(left);
                if cw.write_all(&buf[..take]).await.is_err() {
                    break;
                }
                left -= take;
                if left == 0 {
                    cuts.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
            up.abort();
            // Dropping both halves of both sockets closes everything.
        });
    }
}

async fn run_case(seed: u64) -> Result<u64, TestCaseError> {
    let hub = Hub::new(
        HubConfig::default()
            .with_replay_capacity(EVENTS as usize)
            .with_subscriber_queue(EVENTS as usize),
    );
    let router = {
        let hub = hub.clone();
        Router::new().get("/events", move |req| {
            let r = stream_response(&hub, req.header("last-event-id"), StreamConfig::default());
            std::future::ready(r)
        })
    };
    let server = support::start(router, support::quick_config()).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_addr = listener.local_addr().unwrap();
    let cuts = Arc::new(AtomicU64::new(0));
    let proxy_task = tokio::spawn(proxy(listener, server.addr, seed, cuts.clone()));

    // The publisher: N events at an uneven pace, keeping their data to
    // check against.
    let mut rng = Rng(seed ^ 0xDA7A);
    let datas: Vec<String> = (1..=EVENTS).map(|i| data_of(i, &mut rng)).collect();
    let publisher = {
        let hub = hub.clone();
        let datas = datas.clone();
        let mut rng = Rng(seed ^ 0x9AC3);
        tokio::spawn(async move {
            for data in datas {
                hub.publish(Event::new(data).event("n")).unwrap();
                match rng.below(4) {
                    0 => tokio::time::sleep(Duration::from_micros(rng.below(500))).await,
                    1 => tokio::task::yield_now().await,
                    _ => {}
                }
            }
        })
    };

    let config = ClientConfig::default()
        // Reconnect at once: the test is about ids, not about waiting.
        .with_retry(Duration::ZERO)
        // Publishing starts before the client's first connection (which
        // may itself be cut before any id arrives): start from 0 so that
        // "everything" is well defined.
        .with_last_event_id("0");
    let mut source = loop {
        // The very first connection may itself be cut inside its head.
        match EventSource::connect_to(proxy_addr, "/events", config.clone()).await {
            Ok(source) => break source,
            Err(_) => continue,
        }
    };
    let mut got = Vec::new();
    let result = tokio::time::timeout(Duration::from_secs(20), async {
        while (got.len() as u64) < EVENTS {
            let event = source.next().await.expect("open").expect("no fatal error");
            got.push(event);
        }
    })
    .await;
    publisher.abort();
    proxy_task.abort();
    server.shutdown.trigger();
    prop_assert!(result.is_ok(), "stalled after {} events", got.len());

    let ids: Vec<u64> = got
        .iter()
        .map(|e| e.last_event_id.parse().unwrap())
        .collect();
    prop_assert_eq!(ids, (1..=EVENTS).collect::<Vec<_>>());
    for (event, data) in got.iter().zip(&datas) {
        prop_assert_eq!(&event.data, data);
        prop_assert_eq!(&event.event_type, "n");
    }
    let cuts = cuts.load(Ordering::Relaxed);
    prop_assert!(cuts >= MIN_CUTS, "only {} cuts", cuts);
    prop_assert!(source.connections() > cuts / 2);
    Ok(cuts)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn ids_survive_random_cuts(seed in any::<u64>()) {
        let started = std::time::Instant::now();
        let cuts = runtime().block_on(run_case(seed))?;
        eprintln!("seed {seed:#x}: {cuts} cuts, {:?}", started.elapsed());
    }
}
