//! Chapter 14: two instances of the demo on one Redis, and a client that
//! moves from one to the other without missing or repeating an event.
//!
//! `REDIS_URL=redis://127.0.0.1:6379 cargo run --example ch14_two_instances`
//!
//! Both instances run in this one process, but share nothing in memory:
//! each has its own [`RedisBroker`] (its own tail, its own lease attempt,
//! its own connections) and its own server on a port of its own, exactly
//! as two processes behind a load balancer would. The client is the
//! crate's [`EventSource`]: it reads three quotes from the first instance,
//! then its connection "lands" on the second one with the `Last-Event-ID`
//! it has, as a browser's would after a load balancer moved it.

use std::process::ExitCode;
use std::time::Duration;

use realtime_events::app::{self, AppConfig};
use realtime_events::broker::{RedisBroker, RedisConfig, StreamId};
use realtime_events::server::{Server, ServerConfig, Shutdown};
use realtime_events::sse::{ClientConfig, EventSource};

// ANCHOR: instance
/// One instance: a broker of its own and a server on a free port.
async fn instance(url: &str) -> Result<String, String> {
    let config = RedisConfig::new(url)
        .with_prefix("ch14")
        .with_ticker_interval(Duration::from_millis(200));
    let broker = RedisBroker::connect(config)
        .await
        .map_err(|e| e.to_string())?;
    let router = app::router_with(AppConfig::default().with_redis(broker));
    let server = Server::bind("127.0.0.1:0", router, ServerConfig::default())
        .await
        .map_err(|e| e.to_string())?;
    let addr = server.local_addr().to_string();
    tokio::spawn(server.serve(Shutdown::new()));
    Ok(addr)
}
// ANCHOR_END: instance

/// The next `n` quotes' ids from `source`.
async fn quotes(source: &mut EventSource, n: usize) -> Result<Vec<String>, String> {
    let mut ids = Vec::new();
    while ids.len() < n {
        match tokio::time::timeout(Duration::from_secs(10), source.next()).await {
            Ok(Some(Ok(event))) if event.event_type == "quote" => {
                println!("  {} {}", event.last_event_id, event.data);
                ids.push(event.last_event_id);
            }
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(err))) => return Err(err.to_string()),
            Ok(None) | Err(_) => return Err("no quote within 10 s".into()),
        }
    }
    Ok(ids)
}

#[tokio::main]
async fn main() -> ExitCode {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    match run(&url).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ch14_two_instances: {err}");
            ExitCode::FAILURE
        }
    }
}

// ANCHOR: move
async fn run(url: &str) -> Result<(), String> {
    let a = instance(url).await?;
    let b = instance(url).await?;
    println!("instance A on http://{a}, instance B on http://{b}, both on {url}");

    println!("on A:");
    let mut on_a = EventSource::connect(&format!("http://{a}/ticker"), ClientConfig::default())
        .await
        .map_err(|e| e.to_string())?;
    let seen_on_a = quotes(&mut on_a, 3).await?;
    let last = on_a.last_event_id().to_string();
    on_a.close();

    // A moment later, the load balancer sends the reconnection to B.
    tokio::time::sleep(Duration::from_millis(700)).await;
    println!("on B, with Last-Event-ID: {last}");
    let resumed = ClientConfig::default().with_last_event_id(last.clone());
    let mut on_b = EventSource::connect(&format!("http://{b}/ticker"), resumed)
        .await
        .map_err(|e| e.to_string())?;
    let seen_on_b = quotes(&mut on_b, 3).await?;
    // ANCHOR_END: move

    // What the stream holds right after `last` is what B sent first.
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| e.to_string())?;
    let next: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg("ch14:ticker")
        .arg(format!("({last}"))
        .arg("+")
        .arg("COUNT")
        .arg(3)
        .query_async(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    let expected: Vec<String> = next.into_iter().map(|(id, _)| id).collect();
    let parsed: Vec<Option<StreamId>> = seen_on_a
        .iter()
        .chain(&seen_on_b)
        .map(|id| StreamId::parse(id))
        .collect();
    if expected != seen_on_b || !parsed.windows(2).all(|w| w[0] < w[1]) {
        return Err(format!(
            "the move lost or repeated events: B sent {seen_on_b:?}, the stream holds {expected:?}"
        ));
    }
    println!("B went on exactly after {last}: no gap, no duplicate");
    Ok(())
}
