//! The one load generator every server is measured with: the same client
//! code (tokio-tungstenite for WebSockets, a raw TCP reader with the crate's
//! own event-stream parser for SSE) whatever the server.
//!
//! ```text
//! loadgen echo     --url ws://H:P/echo --conns 100 --size 20 --secs 5 [--text] [--inflight 16]
//! loadgen fanout   --addr H:P --subs 1000 --secs 5 --pid SERVER_PID
//! loadgen deliver  --addr H:P --subs 1000 --events 10
//! loadgen idle-ws  --url ws://H:P/echo --conns 10000 --pid SERVER_PID
//! loadgen idle-sse --addr H:P --conns 10000 --pid SERVER_PID
//! ```
//!
//! Each prints one line of `key=value` pairs that `run.sh` turns into
//! ratios. Every loop is bounded in time (`--secs`, plus fixed connect and
//! read deadlines) and in count (`--conns`/`--subs`, `--max-msgs`), and the
//! only addresses it talks to are the ones given, which `run.sh` keeps on
//! 127.0.0.1.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use realtime_events::http::{ChunkedDecoder, Limits};
use realtime_events::sse::{EventStreamParser, Item};
use realtime_events::ws::BytesMut;
use realtime_events_load::{arg, arg_num, cpu_split, now_ns, rss_kib};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

/// How long opening all connections may take before the run gives up.
const CONNECT_DEADLINE: Duration = Duration::from_secs(60);
/// Connections opened at once: more would overflow the listen backlog.
const CONNECT_PARALLELISM: usize = 128;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("echo") => echo(&args).await,
        Some("fanout") => fanout(&args).await,
        Some("idle-ws") => idle_ws(&args).await,
        Some("idle-sse") => idle_sse(&args).await,
        Some("deliver") => deliver(&args).await,
        _ => Err(
            "usage: loadgen echo|fanout|deliver|idle-ws|idle-sse [flags] (see the source)".into(),
        ),
    };
    if let Err(err) = result {
        eprintln!("loadgen: {err}");
        std::process::exit(1);
    }
}

type Result<T> = std::result::Result<T, String>;

/// The `q`-quantile (0..=1) of sorted samples, 0 when there are none.
fn quantile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// User and system CPU, in nanoseconds per item, between two
/// [`cpu_split`] readings (clock ticks are 10 ms each); zeros for no items.
fn per_item_ns(start: (u64, u64), end: (u64, u64), items: u64) -> (f64, f64) {
    if items == 0 {
        return (0.0, 0.0);
    }
    let per = |a: u64, b: u64| b.saturating_sub(a) as f64 * 10_000_000.0 / items as f64;
    (per(start.0, end.0), per(start.1, end.1))
}

/// How busy this process kept its CPU between two [`cpu_split`] readings
/// `elapsed` seconds apart, in percent of one core. Near 100, the load
/// generator itself sets the pace, and messages per second say more about
/// it than about the server.
fn busy_percent(start: (u64, u64), end: (u64, u64), elapsed: f64) -> f64 {
    let ticks = (end.0 + end.1).saturating_sub(start.0 + start.1);
    ticks as f64 * 0.01 / elapsed * 100.0
}

/// WebSocket ping-pong: each connection sends one binary message (a text
/// message with `--text`, which the server must check is UTF-8), waits for
/// its echo, and repeats, for `--secs` (at most `--max-msgs` round trips per
/// connection). With `--inflight N`, each connection keeps N messages on
/// the way (pipelined: N sent in one write to start, then one more for
/// every echo), so a server can find several messages in one read. Latency is the round trip, in microseconds. With `--pid`,
/// also the server's CPU time per echoed message: a figure that depends on
/// the work done, not on how busy the machine was, so it stays steady where
/// messages per second do not. An echo must come within `--reply-secs`
/// (default 1), or that connection stops; `instructions.sh` raises it,
/// because a server under valgrind answers fifty times slower.
async fn echo(args: &[String]) -> Result<()> {
    let url = arg(args, "--url", "ws://127.0.0.1:9001/echo");
    let conns: usize = arg_num(args, "--conns", "100");
    let size: usize = arg_num(args, "--size", "20");
    let secs: f64 = arg_num(args, "--secs", "5");
    let max_msgs: u64 = arg_num(args, "--max-msgs", "10000000");
    let pid: u32 = arg_num(args, "--pid", "0");
    let text = args.iter().any(|a| a == "--text");
    let inflight: usize = arg_num::<usize>(args, "--inflight", "1").max(1);
    let reply_wait = Duration::from_secs_f64(arg_num(args, "--reply-secs", "1"));

    let mut sockets = Vec::with_capacity(conns);
    for _ in 0..conns {
        let (ws, _) = tokio::time::timeout(
            CONNECT_DEADLINE,
            tokio_tungstenite::connect_async(url.as_str()),
        )
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| format!("connect {url}: {e}"))?;
        sockets.push(ws);
    }
    let cpu_start = cpu_split(pid);
    let own_start = cpu_split(std::process::id());
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(secs);
    // ASCII letters: valid UTF-8, so the same bytes serve both kinds.
    let payload: String = (0..size).map(|i| (b'a' + (i % 26) as u8) as char).collect();
    let message = if text {
        Message::text(payload)
    } else {
        Message::binary(payload.into_bytes())
    };
    let mut tasks = Vec::with_capacity(conns);
    for mut ws in sockets {
        let message = message.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            // When each message on the way was sent, oldest first: echoes
            // come back in order.
            let mut on_the_way = std::collections::VecDeque::with_capacity(inflight);
            let mut sent_count = 0u64;
            'run: loop {
                while on_the_way.len() < inflight
                    && sent_count < max_msgs
                    && Instant::now() < deadline
                {
                    if ws.feed(message.clone()).await.is_err() {
                        break 'run;
                    }
                    on_the_way.push_back(Instant::now());
                    sent_count += 1;
                }
                if ws.flush().await.is_err() {
                    break;
                }
                let Some(sent) = on_the_way.pop_front() else {
                    break;
                };
                // A reply must come in time, or the connection is done.
                let reply = tokio::time::timeout(reply_wait, ws.next()).await;
                match reply {
                    // Kind and length, as cheap for the client as before.
                    Ok(Some(Ok(echo))) if echo.is_text() == text && echo.len() == message.len() => {
                        latencies.push(sent.elapsed().as_micros() as u64);
                    }
                    _ => break,
                }
            }
            let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
            latencies
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.map_err(|e| e.to_string())?);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = per_item_ns(cpu_start, cpu_split(pid), all.len() as u64);
    let busy = busy_percent(own_start, cpu_split(std::process::id()), elapsed);
    all.sort_unstable();
    println!(
        "msgs_per_s={:.0} p50_us={} p99_us={} cpu_ns_per_msg={:.0} user_ns_per_msg={:.0} sys_ns_per_msg={:.0} loadgen_busy_pct={:.0} msgs={}",
        all.len() as f64 / elapsed,
        quantile(&all, 0.50),
        quantile(&all, 0.99),
        cpu.0 + cpu.1,
        cpu.0,
        cpu.1,
        busy,
        all.len()
    );
    Ok(())
}

/// Opens `n` connections with `open`, at most [`CONNECT_PARALLELISM`] at a
/// time, and returns what they produced.
async fn open_many<T, F, Fut>(n: usize, open: F) -> Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<T>> + Send + 'static,
{
    let gate = Arc::new(Semaphore::new(CONNECT_PARALLELISM));
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let permit = gate
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        let fut = open(i);
        tasks.push(tokio::spawn(async move {
            let out = tokio::time::timeout(CONNECT_DEADLINE, fut).await;
            drop(permit);
            out.map_err(|_| "connect timed out".to_string())?
        }));
    }
    let mut out = Vec::with_capacity(n);
    for task in tasks {
        out.push(task.await.map_err(|e| e.to_string())??);
    }
    Ok(out)
}

/// Connects and asks for the event stream; returns the stream and whatever
/// body bytes came with the response head, already de-chunked if needed.
async fn open_event_stream(addr: String) -> Result<(TcpStream, Body)> {
    let mut stream = TcpStream::connect(&addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let request =
        format!("GET /events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("closed before the response head".into());
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            let text = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
            if !text.starts_with("http/1.1 200") {
                return Err(format!("unexpected response: {text}"));
            }
            let chunked = text.contains("transfer-encoding: chunked");
            let mut body = Body::new(chunked);
            body.first = head[end + 4..].to_vec();
            return Ok((stream, body));
        }
        if head.len() > 16 * 1024 {
            return Err("response head too long".into());
        }
    }
}

/// An event-stream body as it arrives: raw, or chunked (hyper, and so axum,
/// frames a body of unknown length with chunked coding on HTTP/1.1).
struct Body {
    chunked: Option<ChunkedDecoder>,
    first: Vec<u8>,
    parser: EventStreamParser,
    items: Vec<Item>,
    decoded: BytesMut,
}

impl Body {
    fn new(chunked: bool) -> Self {
        let limits = Limits::default().with_max_body_bytes(u64::MAX);
        Body {
            chunked: chunked.then(|| ChunkedDecoder::new(limits)),
            first: Vec::new(),
            parser: EventStreamParser::new(),
            items: Vec::new(),
            decoded: BytesMut::new(),
        }
    }

    /// Feeds body bytes; calls `on_event` with each event's data.
    fn feed(&mut self, bytes: &[u8], mut on_event: impl FnMut(&str)) -> Result<()> {
        let text: &[u8] = match &mut self.chunked {
            Some(decoder) => {
                self.decoded.clear();
                decoder
                    .decode(bytes, &mut self.decoded)
                    .map_err(|e| e.to_string())?;
                &self.decoded
            }
            None => bytes,
        };
        self.items.clear();
        self.parser
            .feed(text, &mut self.items)
            .map_err(|e| e.to_string())?;
        for item in &self.items {
            if let Item::Event(event) = item {
                on_event(&event.data);
            }
        }
        Ok(())
    }
}

/// The send time at the start of a fan-out event's data.
fn sent_ns(data: &str) -> Option<u64> {
    data.split(' ').next()?.parse().ok()
}

/// SSE fan-out: `--subs` subscribers read `/events`; once all are
/// connected, a window of `--secs` is measured. Each subscriber reads from
/// the moment it connects (so nothing piles up in its socket while the
/// others connect), and only events *sent* inside the window count.
/// Reports events delivered per second over all subscribers, the p50/p99
/// delivery latency (send time in the event to parse time here), and the
/// server's CPU time (from /proc) per delivered event over the window.
async fn fanout(args: &[String]) -> Result<()> {
    let addr = arg(args, "--addr", "127.0.0.1:9003");
    let subs: usize = arg_num(args, "--subs", "1000");
    let secs: f64 = arg_num(args, "--secs", "5");
    let pid: u32 = arg_num(args, "--pid", "0");

    // The window, as send times in ns: [from, until); u64::MAX until set.
    let from = Arc::new(AtomicU64::new(u64::MAX));
    let until = Arc::new(AtomicU64::new(u64::MAX));
    let connected = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let delivered = Arc::new(AtomicU64::new(0));
    let window = Duration::from_secs_f64(secs);
    // Every reader stops by this instant, whatever happens.
    let end = Instant::now() + CONNECT_DEADLINE + window + Duration::from_secs(2);
    let gate = Arc::new(Semaphore::new(CONNECT_PARALLELISM));
    let mut tasks = Vec::with_capacity(subs);
    for _ in 0..subs {
        let permit = gate
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        let (addr, from, until) = (addr.clone(), from.clone(), until.clone());
        let (connected, failed, delivered) = (connected.clone(), failed.clone(), delivered.clone());
        tasks.push(tokio::spawn(async move {
            let opened = tokio::time::timeout(CONNECT_DEADLINE, open_event_stream(addr)).await;
            drop(permit);
            let Ok(Ok((mut stream, mut body))) = opened else {
                failed.fetch_add(1, Ordering::Relaxed);
                return Vec::new();
            };
            connected.fetch_add(1, Ordering::Relaxed);
            let mut latencies = Vec::new();
            let mut count = 0u64;
            let mut record = |data: &str| {
                let Some(sent) = sent_ns(data) else { return };
                if sent >= from.load(Ordering::Relaxed) && sent < until.load(Ordering::Relaxed) {
                    count += 1;
                    latencies.push(now_ns().saturating_sub(sent) / 1000);
                }
            };
            let first = std::mem::take(&mut body.first);
            let _ = body.feed(&first, &mut record);
            let mut buf = vec![0u8; 16 * 1024];
            // Read until the window has closed and a second has passed for
            // its last events to arrive (or the hard end).
            loop {
                let closed = until.load(Ordering::Relaxed);
                if closed != u64::MAX && now_ns() > closed + 1_000_000_000 {
                    break;
                }
                let read = tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf));
                match read.await {
                    Ok(Ok(0)) | Ok(Err(_)) => break,
                    Ok(Ok(n)) => {
                        if body.feed(&buf[..n], &mut record).is_err() {
                            break;
                        }
                    }
                    Err(_) if Instant::now() >= end => break,
                    Err(_) => {}
                }
            }
            delivered.fetch_add(count, Ordering::Relaxed);
            latencies
        }));
    }
    // Wait for every subscriber to be connected (or to have failed).
    let deadline = Instant::now() + CONNECT_DEADLINE;
    while connected.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed) < subs as u64 {
        if Instant::now() >= deadline {
            return Err("subscribers did not all connect in time".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let failed = failed.load(Ordering::Relaxed);
    if failed > 0 {
        return Err(format!("{failed} of {subs} subscribers failed to connect"));
    }
    // Let the connect burst settle, then measure.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cpu_start = cpu_split(pid);
    from.store(now_ns(), Ordering::Relaxed);
    tokio::time::sleep(window).await;
    until.store(now_ns(), Ordering::Relaxed);
    let cpu_end = cpu_split(pid);
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.map_err(|e| e.to_string())?);
    }
    let delivered = delivered.load(Ordering::Relaxed);
    all.sort_unstable();
    let (user_ns, sys_ns) = per_item_ns(cpu_start, cpu_end, delivered);
    println!(
        "events_per_s={:.0} p50_us={} p99_us={} cpu_ns_per_event={:.0} user_ns_per_event={:.0} sys_ns_per_event={:.0} delivered={} subs={}",
        delivered as f64 / window.as_secs_f64(),
        quantile(&all, 0.50),
        quantile(&all, 0.99),
        user_ns + sys_ns,
        user_ns,
        sys_ns,
        delivered,
        subs
    );
    Ok(())
}

/// SSE fan-out by count, for `instructions-sse.sh`: `--subs` subscribers
/// read `/events` until each has `--events` events (the server publishes
/// exactly that many, once all are subscribed), then all close. Prints how
/// many were delivered; the run fails if a subscriber got fewer before
/// `--secs` (default 600: a server under valgrind is slow) ran out.
async fn deliver(args: &[String]) -> Result<()> {
    let addr = arg(args, "--addr", "127.0.0.1:9003");
    let subs: usize = arg_num(args, "--subs", "1000");
    let events: u64 = arg_num(args, "--events", "10");
    let secs: f64 = arg_num(args, "--secs", "600");
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let streams = open_many(subs, |_| open_event_stream(addr.clone())).await?;
    let mut tasks = Vec::with_capacity(subs);
    for (mut stream, mut body) in streams {
        tasks.push(tokio::spawn(async move {
            let mut count = 0u64;
            let first = std::mem::take(&mut body.first);
            let _ = body.feed(&first, |_| count += 1);
            let mut buf = vec![0u8; 16 * 1024];
            while count < events {
                let read = tokio::time::timeout_at(end.into(), stream.read(&mut buf));
                match read.await {
                    Ok(Ok(n)) if n > 0 => {
                        if body.feed(&buf[..n], |_| count += 1).is_err() {
                            break;
                        }
                    }
                    _ => break,
                }
            }
            count
        }));
    }
    let mut delivered = 0;
    for task in tasks {
        delivered += task.await.map_err(|e| e.to_string())?;
    }
    println!("delivered={delivered} subs={subs} events={events}");
    if delivered != subs as u64 * events {
        return Err(format!(
            "delivered {delivered} of {} events",
            subs as u64 * events
        ));
    }
    Ok(())
}

/// Lets the server settle, then reads its RSS.
async fn settled_rss(pid: u32) -> u64 {
    tokio::time::sleep(Duration::from_millis(500)).await;
    rss_kib(pid)
}

/// Memory per idle WebSocket: the server's RSS before and after opening
/// `--conns` connections that then send nothing.
async fn idle_ws(args: &[String]) -> Result<()> {
    let url = arg(args, "--url", "ws://127.0.0.1:9001/echo");
    let conns: usize = arg_num(args, "--conns", "10000");
    let pid: u32 = arg_num(args, "--pid", "0");
    let before = settled_rss(pid).await;
    let sockets = open_many(conns, |_| {
        let url = url.clone();
        async move {
            tokio_tungstenite::connect_async(url.as_str())
                .await
                .map(|(ws, _)| ws)
                .map_err(|e| format!("connect {url}: {e}"))
        }
    })
    .await?;
    let after = settled_rss(pid).await;
    print_per_conn(before, after, sockets.len());
    drop(sockets);
    Ok(())
}

/// Memory per idle SSE subscriber, measured the same way (no events are
/// published: the example and the peer run with a tiny rate for this).
async fn idle_sse(args: &[String]) -> Result<()> {
    let addr = arg(args, "--addr", "127.0.0.1:9003");
    let conns: usize = arg_num(args, "--conns", "10000");
    let pid: u32 = arg_num(args, "--pid", "0");
    let before = settled_rss(pid).await;
    let streams = open_many(conns, |_| open_event_stream(addr.clone())).await?;
    let after = settled_rss(pid).await;
    print_per_conn(before, after, streams.len());
    drop(streams);
    Ok(())
}

fn print_per_conn(before: u64, after: u64, conns: usize) {
    let per = after.saturating_sub(before) as f64 * 1024.0 / conns.max(1) as f64;
    println!("bytes_per_conn={per:.0} rss_before_kib={before} rss_after_kib={after} conns={conns}");
}
