//! Several instances of the demo binary on one real `redis-server`
//! (feature `redis-tests`; `.ci/run` installs Redis and runs this target).
//!
//! Each test starts its own `redis-server --port FREE --save '' --appendonly
//! no` and fails, loudly, if it cannot: a missing Redis is a broken CI
//! machine, not a reason to skip. Instances are the real binary, started
//! on port 0 as `tests/binary.rs` does, so killing one is a real crash.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use realtime_events::sse::{EventStreamParser, Item};

mod support;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A `redis-server` of our own, killed when dropped.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start() -> Redis {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Redis::start_on(port)
    }

    fn start_on(port: u16) -> Redis {
        let redis = Redis {
            child: spawn_redis(port),
            port,
        };
        redis.wait_ready();
        redis
    }

    fn wait_ready(&self) {
        let started = Instant::now();
        while self.ping().is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server on port {} did not answer PING within 10 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .unwrap()
            .get_connection()
            .unwrap()
    }

    fn ping(&self) -> redis::RedisResult<String> {
        let client = redis::Client::open(self.url())?;
        let mut conn = client.get_connection_with_timeout(Duration::from_millis(200))?;
        redis::cmd("PING").query(&mut conn)
    }
}

fn spawn_redis(port: u16) -> Child {
    Command::new("redis-server")
        .args(["--port", &port.to_string()])
        .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|err| {
            panic!(
                "cannot start redis-server ({err}): these tests need it on PATH \
                 (apt-get install redis-server); .ci/run installs it"
            )
        })
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One instance of the demo binary on Redis, killed when dropped.
struct Instance {
    child: Child,
    addr: String,
}

impl Instance {
    fn start(redis: &Redis) -> Instance {
        let demo = support::spawn_demo(
            support::demo_command()
                .args(["--redis", &redis.url()])
                .env("RUST_LOG", "warn"),
        );
        assert_eq!(demo.scheme, "http");
        Instance {
            child: demo.child,
            addr: demo.addr,
        }
    }

    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// `GET /healthz`: the status and the body.
    fn health(&self) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        let status = reply[9..12].parse().unwrap();
        let body = reply.split_once("\r\n\r\n").unwrap().1.trim().to_string();
        (status, body)
    }

    fn is_producer(&self) -> bool {
        self.health().1.contains("\"ticker_producer\":true")
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Opens `/ticker` on `addr`, resuming after `last`; the stream and the
/// body bytes that came with the head. `None` if it is not a 200 stream.
async fn open_ticker(addr: &str, last: &str) -> Option<(tokio::net::TcpStream, Vec<u8>)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let mut request =
        String::from("GET /ticker HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n");
    if !last.is_empty() {
        request.push_str(&format!("Last-Event-ID: {last}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            if !head.starts_with(b"HTTP/1.1 200 ") {
                return None;
            }
            return Some((stream, head.split_off(end + 4)));
        }
    }
}

/// What one subscriber saw.
#[derive(Debug, Default)]
struct Seen {
    /// Where it started: the position marker of its first connection.
    start: String,
    /// The ids of the events of type `kind`, in order.
    ids: Vec<String>,
    /// The data of every `reset` event.
    resets: Vec<String>,
    connections: usize,
}

/// Reads events of type `kind` until one has data `end`, dropping the
/// connection after a random number of events each time and resuming on
/// the next instance with the last event ID.
async fn subscriber(addrs: Vec<String>, first: usize, mut rng: u64, kind: &str, end: &str) -> Seen {
    let mut seen = Seen::default();
    let mut last = String::new();
    let mut at = first;
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        assert!(
            Instant::now() < deadline,
            "subscriber never saw the end: {seen:?}"
        );
        let addr = &addrs[at % addrs.len()];
        at += 1;
        let Some((mut stream, body)) = open_ticker(addr, &last).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        seen.connections += 1;
        let mut parser = EventStreamParser::new();
        parser.set_last_event_id(&last);
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let budget = 1 + (rng >> 33) % 40;
        let mut got = 0;
        let mut chunk = body;
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let mut items = Vec::new();
            parser
                .feed(&chunk, &mut items)
                .expect("a valid event stream");
            for item in items {
                let Item::Event(event) = item else { continue };
                if event.event_type == "reset" {
                    seen.resets.push(event.data);
                } else if event.event_type == kind {
                    seen.ids.push(event.last_event_id.clone());
                    got += 1;
                    if event.data == end {
                        return seen;
                    }
                }
            }
            last = parser.last_event_id().to_string();
            if seen.start.is_empty() {
                seen.start.clone_from(&last);
            }
            if got >= budget {
                break;
            }
            let n = stream.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            chunk = buf[..n].to_vec();
        }
    }
}

fn stream_ids(conn: &mut redis::Connection, kind: &str) -> Vec<String> {
    let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg("realtime-events:ticker")
        .arg("-")
        .arg("+")
        .query(conn)
        .unwrap();
    entries
        .into_iter()
        .filter(|(_, fields)| fields.iter().any(|(k, v)| k == "event" && v == kind))
        .map(|(id, _)| id)
        .collect()
}

const EVENTS: usize = 3000;
const SUBSCRIBERS: usize = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_subscribers_move_between_three_instances_without_gap_or_duplicate() {
    let redis = Redis::start();
    let instances: Vec<Instance> = (0..3).map(|_| Instance::start(&redis)).collect();
    let addrs: Vec<String> = instances.iter().map(|i| i.addr.clone()).collect();

    // Everyone subscribes first (their start is the stream's end now).
    let mut tasks = Vec::new();
    for s in 0..SUBSCRIBERS {
        let addrs = addrs.clone();
        tasks.push(tokio::spawn(subscriber(
            addrs,
            s,
            s as u64 * 7919 + 1,
            "n",
            "end",
        )));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // The producer: numbered events straight into the stream, as any
    // instance's producer would append them.
    let mut conn = redis.connection();
    let started = Instant::now();
    for i in 0..=EVENTS {
        let data = if i == EVENTS {
            "end".to_string()
        } else {
            i.to_string()
        };
        let _: String = redis::cmd("XADD")
            .arg("realtime-events:ticker")
            .arg("*")
            .arg("event")
            .arg("n")
            .arg("data")
            .arg(data)
            .query(&mut conn)
            .unwrap();
        if i % 10 == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let published = stream_ids(&mut conn, "n");
    assert_eq!(published.len(), EVENTS + 1);

    let mut reconnections = 0;
    for task in tasks {
        let seen = task.await.unwrap();
        assert!(
            seen.resets.is_empty(),
            "no id was out of the window: {:?}",
            seen.resets
        );
        reconnections += seen.connections - 1;
        // Exactly the events after its start, in order: no gap, no duplicate.
        let expected: Vec<&String> = published
            .iter()
            .filter(|id| {
                realtime_events::broker::StreamId::parse(id)
                    > realtime_events::broker::StreamId::parse(&seen.start)
            })
            .collect();
        let got: Vec<&String> = seen.ids.iter().collect();
        assert_eq!(got.len(), expected.len(), "start {}", seen.start);
        assert!(got == expected, "a gap or a duplicate after {}", seen.start);
    }
    eprintln!(
        "{SUBSCRIBERS} subscribers, {} events in {:?}, {reconnections} resumptions on another instance",
        EVENTS + 1,
        started.elapsed()
    );
    assert!(reconnections > SUBSCRIBERS * 10, "{reconnections}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_instance_takes_over_when_the_producer_dies() {
    let redis = Redis::start();
    let mut instances: Vec<Instance> = (0..3).map(|_| Instance::start(&redis)).collect();

    let wait_for_one_producer = |instances: &[Instance]| -> usize {
        let started = Instant::now();
        loop {
            let producers: Vec<usize> = (0..instances.len())
                .filter(|&i| instances[i].is_producer())
                .collect();
            assert!(producers.len() <= 1, "two producers at once: {producers:?}");
            if let [one] = producers[..] {
                return one;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "no producer");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let producer = wait_for_one_producer(&instances);
    let mut conn = redis.connection();
    // Let it publish a few quotes first, for the price check below.
    let started = Instant::now();
    while stream_ids(&mut conn, "quote").len() < 4 {
        assert!(started.elapsed() < Duration::from_secs(10), "no quotes");
        std::thread::sleep(Duration::from_millis(100));
    }
    let before = stream_ids(&mut conn, "quote").len();
    instances[producer].kill();
    let killed_at = Instant::now();
    instances.remove(producer);

    let next = wait_for_one_producer(&instances);
    let took = killed_at.elapsed();
    assert!(took < Duration::from_secs(6), "took over after {took:?}");

    // Quotes flow again, to a subscriber on the instance that does not
    // produce.
    let other = &instances[1 - next].addr;
    let (mut stream, mut body) = open_ticker(other, "").await.expect("a stream");
    let mut parser = EventStreamParser::new();
    let mut quotes = 0;
    let mut buf = vec![0u8; 4096];
    let read_until = Instant::now() + Duration::from_secs(10);
    while quotes < 3 {
        assert!(Instant::now() < read_until, "no quotes after the takeover");
        let mut items = Vec::new();
        parser.feed(&body, &mut items).unwrap();
        quotes += items
            .iter()
            .filter(|i| matches!(i, Item::Event(e) if e.event_type == "quote"))
            .count();
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0);
        body = buf[..n].to_vec();
    }
    assert!(stream_ids(&mut conn, "quote").len() > before + 2);

    // Every quote moves its symbol from where the previous one left it,
    // across the takeover too: the new producer read the last prices.
    let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg("realtime-events:ticker")
        .arg("-")
        .arg("+")
        .query(&mut conn)
        .unwrap();
    let field = |json: &str, name: &str| -> i64 {
        let value = json.split(&format!("\"{name}\":")).nth(1).unwrap();
        let value = value.split([',', '}']).next().unwrap().trim_matches('"');
        let negative = value.starts_with('-');
        let (whole, hundredths) = value.trim_start_matches('-').split_once('.').unwrap();
        let cents = whole.parse::<i64>().unwrap() * 100 + hundredths.parse::<i64>().unwrap();
        if negative {
            -cents
        } else {
            cents
        }
    };
    let mut last_price = std::collections::HashMap::new();
    let mut checked = 0;
    for (_, fields) in &entries {
        let data = &fields.iter().find(|(k, _)| k == "data").unwrap().1;
        let symbol = data.split('"').nth(3).unwrap().to_string();
        let (price, change) = (field(data, "price"), field(data, "change"));
        if let Some(previous) = last_price.insert(symbol, price) {
            assert_eq!(previous + change, price, "{data} after {previous}");
            checked += 1;
        }
    }
    assert!(checked >= before, "{entries:?}");
    eprintln!("the producer was replaced {took:?} after it was killed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_lines_reach_members_on_every_instance() {
    use realtime_events::ws::{connect, ClientConfig, Message};
    let redis = Redis::start();
    let a = Instance::start(&redis);
    let b = Instance::start(&redis);
    let config = ClientConfig::default();
    let mut ada = connect(&format!("ws://{}/chat?nick=ada", a.addr), &config)
        .await
        .unwrap();
    let mut bob = connect(&format!("ws://{}/chat?nick=bob", b.addr), &config)
        .await
        .unwrap();

    async fn next_text(
        ws: &mut realtime_events::ws::WebSocket<realtime_events::tls::ClientStream>,
    ) -> String {
        match tokio::time::timeout(Duration::from_secs(5), ws.recv()).await {
            Ok(Some(Ok(Message::Text(text)))) => text,
            other => panic!("expected a line, got {other:?}"),
        }
    }
    assert_eq!(next_text(&mut ada).await, "* ada joined");
    // Bob's join, said on b, reaches ada on a.
    assert_eq!(next_text(&mut ada).await, "* bob joined");
    // Bob may join on b before b's tail has read ada's join, and then
    // hears it too: membership is per instance, lines are shared.
    let mut first = next_text(&mut bob).await;
    if first == "* ada joined" {
        first = next_text(&mut bob).await;
    }
    assert_eq!(first, "* bob joined");

    ada.send(Message::Text("hello from a".into()))
        .await
        .unwrap();
    assert_eq!(next_text(&mut bob).await, "ada: hello from a");
    assert_eq!(next_text(&mut ada).await, "ada: hello from a");
    bob.send(Message::Text("hello from b".into()))
        .await
        .unwrap();
    assert_eq!(next_text(&mut ada).await, "bob: hello from b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_ends_streams_tells_resuming_clients_and_carries_on() {
    let mut redis = Redis::start();
    let a = Instance::start(&redis);
    let b = Instance::start(&redis);

    // A client on a reads two quotes.
    let (mut stream, mut body) = open_ticker(&a.addr, "").await.expect("a stream");
    let mut parser = EventStreamParser::new();
    let mut quotes = 0;
    let mut buf = vec![0u8; 4096];
    while quotes < 2 {
        let mut items = Vec::new();
        parser.feed(&body, &mut items).unwrap();
        quotes += items
            .iter()
            .filter(|i| matches!(i, Item::Event(e) if e.event_type == "quote"))
            .count();
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0);
        body = buf[..n].to_vec();
    }
    let last = parser.last_event_id().to_string();
    assert!(
        realtime_events::broker::StreamId::parse(&last).is_some(),
        "{last:?}"
    );

    // Redis dies: the stream ends with a reconnection hint, and both
    // instances say they are down.
    redis.restart_after(|| {
        let mut rest = Vec::new();
        let ended = tokio::runtime::Handle::current().block_on(async {
            tokio::time::timeout(Duration::from_secs(5), async {
                loop {
                    let n = stream.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    rest.extend_from_slice(&buf[..n]);
                }
            })
            .await
        });
        assert!(ended.is_ok(), "the stream did not end when Redis died");
        assert!(
            String::from_utf8_lossy(&rest).contains("retry: "),
            "no retry hint at the end: {:?}",
            String::from_utf8_lossy(&rest)
        );
        assert_eq!(a.health().0, 503, "{:?}", a.health());
        // b's tail notices on its own connection, at about the same time.
        let noticed = Instant::now();
        while !b.health().1.contains("\"state\":\"down\"") {
            assert!(
                noticed.elapsed() < Duration::from_secs(3),
                "{:?}",
                b.health()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(b.health().0, 503);
    });

    // The client resumes on b with its id from before the restart: it is
    // told (reset, unknown) and then gets the new stream's quotes.
    let started = Instant::now();
    let (mut stream, mut body) = loop {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "b never served again"
        );
        if let Some(open) = open_ticker(&b.addr, &last).await {
            if !open.1.is_empty() || b.health().0 == 200 {
                break open;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut parser = EventStreamParser::new();
    parser.set_last_event_id(&last);
    let mut events = Vec::new();
    let read_until = Instant::now() + Duration::from_secs(15);
    while events.iter().filter(|(t, _)| t == "quote").count() < 2 {
        assert!(
            Instant::now() < read_until,
            "no quotes after the restart: {events:?}"
        );
        let mut items = Vec::new();
        parser.feed(&body, &mut items).unwrap();
        for item in items {
            if let Item::Event(e) = item {
                events.push((e.event_type, e.data));
            }
        }
        let n = stream.read(&mut buf).await.unwrap_or(0);
        if n == 0 {
            // Ended again (b was not back yet): resume once more.
            let (s, rest) = open_ticker(&b.addr, parser.last_event_id())
                .await
                .unwrap_or_else(|| panic!("b refused the stream: {events:?}"));
            stream = s;
            body = rest;
            continue;
        }
        body = buf[..n].to_vec();
    }
    let (kind, data) = &events[0];
    assert_eq!(kind, "reset", "{events:?}");
    assert!(data.contains("\"reason\":\"unknown\""), "{data}");
    assert!(data.contains(&last), "{data}");
    // Both tails are back (a's after its own backoff).
    let back = Instant::now();
    while a.health().0 != 200 || b.health().0 != 200 {
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "{:?} {:?}",
            a.health(),
            b.health()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Redis {
    /// Kills Redis, runs `while_down`, and starts it again on the same port.
    fn restart_after(&mut self, while_down: impl FnOnce()) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        tokio::task::block_in_place(while_down);
        self.child = spawn_redis(self.port);
        self.wait_ready();
    }
}

#[test]
fn an_unreachable_redis_at_start_is_one_line_and_a_failure() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = Command::new(env!("CARGO_BIN_EXE_realtime-events"))
        .args(["--addr", "127.0.0.1:0"])
        .args(["--redis", &format!("redis://127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!("cannot use Redis at redis://127.0.0.1:{port}: ")),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "it must not have started listening");
}

#[test]
fn the_chapter_14_example_moves_a_client_between_two_instances() {
    let redis = Redis::start();
    let mut path = std::env::current_exe().unwrap();
    path.pop();
    if path.ends_with("deps") {
        path.pop();
    }
    let path = path.join("examples").join("ch14_two_instances");
    assert!(path.exists(), "example not built at {}", path.display());
    let out = Command::new(path)
        .env("REDIS_URL", redis.url())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("no gap, no duplicate"), "{text}");
    assert_eq!(text.matches("{\"symbol\"").count(), 6, "{text}");
}

/// Delivery latency through the shipped path (`stream_response` over TCP,
/// fed by the in-memory `Hub` or by a `RedisFeed`), at the same load.
/// Run by hand; the numbers go to benches/results/redis.txt:
///
/// `cargo test --release --features redis-tests --test redis_cluster -- --ignored --nocapture measure`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, run by hand"]
async fn measure_the_redis_hop_and_two_instances() {
    use realtime_events::broker::{FeedConfig, RedisFeed};
    use realtime_events::sse::{Event, Hub};

    const RATE: u64 = 200;
    const SECONDS: u64 = 5;
    const SUBS: usize = 200;

    fn now_us() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros() as u64
    }

    /// Subscribers spread over `addrs`; latencies (µs) of every event.
    async fn run<P, Fut>(addrs: &[String], publish: P) -> Vec<u64>
    where
        P: Fn(String) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let mut readers = Vec::new();
        for s in 0..SUBS {
            let (mut stream, body) = open_ticker(&addrs[s % addrs.len()], "").await.unwrap();
            readers.push(tokio::spawn(async move {
                let mut parser = EventStreamParser::new();
                let mut lat = Vec::new();
                let mut chunk = body;
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    let mut items = Vec::new();
                    parser.feed(&chunk, &mut items).unwrap();
                    let at = now_us();
                    for item in items {
                        if let Item::Event(e) = item {
                            if e.data == "end" {
                                return lat;
                            }
                            lat.push(at.saturating_sub(e.data.parse::<u64>().unwrap()));
                        }
                    }
                    let n = stream.read(&mut buf).await.unwrap();
                    assert!(n > 0);
                    chunk = buf[..n].to_vec();
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut every = tokio::time::interval(Duration::from_micros(1_000_000 / RATE));
        for _ in 0..RATE * SECONDS {
            every.tick().await;
            publish(now_us().to_string()).await;
        }
        publish("end".into()).await;
        let mut all = Vec::new();
        for r in readers {
            all.extend(r.await.unwrap());
        }
        all.sort_unstable();
        all
    }

    fn pct(sorted: &[u64], p: f64) -> u64 {
        sorted[((sorted.len() - 1) as f64 * p) as usize]
    }

    /// One row: the case's name, p50, p99 and how many deliveries.
    fn record(results: &mut Vec<(String, u64, u64, usize)>, name: &str, sorted: &[u64]) {
        results.push((
            name.to_string(),
            pct(sorted, 0.5),
            pct(sorted, 0.99),
            sorted.len(),
        ));
    }

    let redis = Redis::start();
    let client = redis::Client::open(redis.url()).unwrap();
    let mut lines = Vec::new();
    let mut results: Vec<(String, u64, u64, usize)> = Vec::new();
    // Alternate: memory, redis, two instances; twice.
    for round in 0..2 {
        let hub = Hub::default();
        let addr = serve(hub.clone()).await;
        let lat = run(&[addr], |data| {
            let _ = hub.publish(Event::new(data));
            std::future::ready(())
        })
        .await;
        record(&mut results, "memory, one instance", &lat);

        let stream = format!("m{round}:one");
        let feed = RedisFeed::start(client.clone(), stream, FeedConfig::default(), None)
            .await
            .unwrap();
        let addr = serve(feed.clone()).await;
        let lat = run(&[addr], |data| {
            let feed = feed.clone();
            async move {
                feed.publish("n", &data).await.unwrap();
            }
        })
        .await;
        record(&mut results, "redis, one instance", &lat);

        let stream = format!("m{round}:two");
        let one = RedisFeed::start(client.clone(), stream.clone(), FeedConfig::default(), None)
            .await
            .unwrap();
        let two = RedisFeed::start(client.clone(), stream, FeedConfig::default(), None)
            .await
            .unwrap();
        let addrs = [serve(one.clone()).await, serve(two).await];
        let lat = run(&addrs, |data| {
            let one = one.clone();
            async move {
                one.publish("n", &data).await.unwrap();
            }
        })
        .await;
        record(&mut results, "redis, two instances", &lat);
    }
    lines.push(format!(
        "{SUBS} subscribers over TCP, {RATE} events/s for {SECONDS} s, one process, 2 worker threads"
    ));
    for (name, p50, p99, n) in &results {
        lines.push(format!(
            "{name:<22} p50 {p50:>6} us  p99 {p99:>6} us  ({n} deliveries)"
        ));
    }
    let mean = |name: &str, f: fn(&(String, u64, u64, usize)) -> u64| -> f64 {
        let v: Vec<u64> = results.iter().filter(|r| r.0 == name).map(f).collect();
        v.iter().sum::<u64>() as f64 / v.len() as f64
    };
    for (what, f) in [
        (
            "p50",
            (|r: &(String, u64, u64, usize)| r.1) as fn(&_) -> u64,
        ),
        ("p99", |r| r.2),
    ] {
        let memory = mean("memory, one instance", f);
        let one = mean("redis, one instance", f);
        let two = mean("redis, two instances", f);
        lines.push(format!(
            "{what}: redis/memory {:.2}x, two instances/one {:.2}x (means of the two rounds)",
            one / memory,
            two / one
        ));
    }
    println!("{}", lines.join("\n"));
}

/// Serves `feed` at `/ticker` on a free port (the library's path, as the
/// demo's route does), for tests that build feeds themselves.
async fn serve<F>(feed: F) -> String
where
    F: realtime_events::sse::Feed + Send + Sync + Clone + 'static,
{
    use realtime_events::server::{Response, Router, Server, ServerConfig, Shutdown};
    use realtime_events::sse::{stream_response, StreamConfig};
    let router = Router::new().get("/ticker", move |req| {
        let response: Response =
            stream_response(&feed, req.header("last-event-id"), StreamConfig::default());
        std::future::ready(response)
    });
    let server = Server::bind("127.0.0.1:0", router, ServerConfig::default())
        .await
        .unwrap();
    let addr = server.local_addr().to_string();
    tokio::spawn(server.serve(Shutdown::new()));
    addr
}

/// With a ring of 16 entries almost every resume is read from Redis in
/// pages and joined to the tail: the seam must hold there too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_from_redis_pages_has_no_gap_either() {
    use realtime_events::broker::{FeedConfig, RedisFeed, StreamId};
    let redis = Redis::start();
    let client = redis::Client::open(redis.url()).unwrap();
    let config = FeedConfig::default().with_ring(16);
    let stream = "realtime-events:ticker";
    let a = RedisFeed::start(client.clone(), stream, config, None)
        .await
        .unwrap();
    let b = RedisFeed::start(client.clone(), stream, config, None)
        .await
        .unwrap();
    let addrs = vec![serve(a.clone()).await, serve(b).await];
    let mut tasks = Vec::new();
    for s in 0..100 {
        tasks.push(tokio::spawn(subscriber(
            addrs.clone(),
            s,
            s as u64 * 31 + 7,
            "n",
            "end",
        )));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for i in 0..=2000 {
        let data = if i == 2000 {
            "end".to_string()
        } else {
            i.to_string()
        };
        a.publish("n", &data).await.unwrap();
        if i % 20 == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let published = stream_ids(&mut redis.connection(), "n");
    assert_eq!(published.len(), 2001);
    for task in tasks {
        let seen = task.await.unwrap();
        assert!(seen.resets.is_empty(), "{:?}", seen.resets);
        let start = StreamId::parse(&seen.start);
        let expected: Vec<&String> = published
            .iter()
            .filter(|id| StreamId::parse(id) > start)
            .collect();
        assert!(
            seen.ids.iter().collect::<Vec<_>>() == expected,
            "a gap or a duplicate after {} ({} events, {} expected)",
            seen.start,
            seen.ids.len(),
            expected.len()
        );
    }
}

/// Past the retention window, a client is told what it lost and gets the
/// rest, exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_older_than_the_window_gets_a_reset_then_everything_held() {
    use realtime_events::broker::{FeedConfig, RedisFeed, StreamId};
    let redis = Redis::start();
    let client = redis::Client::open(redis.url()).unwrap();
    let config = FeedConfig::default().with_max_len(50).with_ring(0);
    let feed = RedisFeed::start(client, "realtime-events:ticker", config, None)
        .await
        .unwrap();
    let first = feed.publish("n", "0").await.unwrap();
    for i in 1..200 {
        feed.publish("n", &i.to_string()).await.unwrap();
    }
    let last = feed.publish("n", "end").await.unwrap();
    let addr = serve(feed).await;

    let mut conn = redis.connection();
    let held = stream_ids(&mut conn, "n");
    assert!((50..=56).contains(&held.len()), "{}", held.len());
    let mark: String = redis::cmd("GET")
        .arg("realtime-events:ticker:trimmed")
        .query(&mut conn)
        .unwrap();

    let seen = subscriber_from(&addr, &first.to_string()).await;
    assert_eq!(
        seen.resets,
        [format!(
            "{{\"reason\":\"trimmed\",\"last_event_id\":\"{first}\",\"lost_through\":\"{mark}\"}}"
        )]
    );
    assert_eq!(seen.ids, held, "after the reset: everything held, in order");
    assert_eq!(seen.ids.last(), Some(&last.to_string()));
    assert!(StreamId::parse(&mark) < StreamId::parse(&held[0]));
}

/// Reads one connection resumed after `last` until the `end` event.
async fn subscriber_from(addr: &str, last: &str) -> Seen {
    let (mut stream, mut chunk) = open_ticker(addr, last).await.expect("a stream");
    let mut parser = EventStreamParser::new();
    parser.set_last_event_id(last);
    let mut seen = Seen::default();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let mut items = Vec::new();
        parser.feed(&chunk, &mut items).unwrap();
        for item in items {
            let Item::Event(event) = item else { continue };
            if event.event_type == "reset" {
                seen.resets.push(event.data);
            } else {
                seen.ids.push(event.last_event_id.clone());
                if event.data == "end" {
                    return seen;
                }
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("the end event within 10 s")
            .unwrap();
        assert!(n > 0, "the stream ended early: {seen:?}");
        chunk = buf[..n].to_vec();
    }
}
