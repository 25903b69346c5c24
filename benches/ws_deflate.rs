//! What permessage-deflate costs and saves on a server's echo of a
//! realistic JSON message: `cargo bench --bench ws_deflate`.
//!
//! For each setting (no compression; deflate without context takeover,
//! our default; deflate with takeover both ways) a server `Connection`
//! receives the client's frame (masked, compressed as a client would send
//! it) and sends the message back, as `/echo` does. Prints the server CPU
//! per echo and the bytes on the wire each way. Like `ratios`, the settings
//! alternate in short batches and each keeps its fastest batch, so the
//! load of a shared machine does not favour one of them.

use std::hint::black_box;
use std::time::{Duration, Instant};

use realtime_events::ws::extensions::{negotiate_server, parse, DeflateParams};
use realtime_events::ws::{BytesMut, Connection, DeflateConfig, Limits, Message, Role};

const ROUNDS: usize = 30;
const BATCH: Duration = Duration::from_millis(2);

/// A ticker update of the kind the demo streams, about 400 bytes.
fn message(i: usize) -> Message {
    Message::Text(format!(
        r#"{{"type":"quotes","seq":{i},"ts":"2026-12-04T18:00:{:02}.{:03}Z","quotes":[{{"symbol":"ACME","bid":101.25,"ask":101.27,"last":101.26,"volume":120034}},{{"symbol":"GLOBEX","bid":54.10,"ask":54.12,"last":54.11,"volume":88120}},{{"symbol":"INITECH","bid":12.01,"ask":12.03,"last":12.02,"volume":450221}},{{"symbol":"UMBRELLA","bid":230.5,"ask":230.9,"last":230.7,"volume":1200}}]}}"#,
        i % 60,
        i % 1000
    ))
}

struct Setup {
    name: &'static str,
    params: Option<DeflateParams>,
}

/// Frames the client sends (`n` different messages, in order).
fn client_frames(p: Option<&DeflateParams>, n: usize) -> Vec<BytesMut> {
    let mut client = Connection::new(Role::Client, Limits::default()).with_deflate(p);
    (0..n)
        .map(|i| {
            client.send(&message(i)).expect("open");
            client.output_mut().split()
        })
        .collect()
}

/// One echo: receive the frame, send the message back. Returns bytes out.
fn echo(server: &mut Connection, frame: &BytesMut) -> usize {
    let mut input = frame.clone();
    let msg = server.receive(&mut input).expect("valid").expect("whole");
    server.send(&msg).expect("open");
    let out = server.output_mut().split();
    out.len()
}

fn main() {
    let offers = parse([b"permessage-deflate; client_max_window_bits".as_slice()]).expect("valid");
    let agree = |config: DeflateConfig| negotiate_server(&offers, &config);
    let setups = [
        Setup {
            name: "no compression",
            params: None,
        },
        Setup {
            name: "deflate, no context takeover",
            params: agree(DeflateConfig::default().with_peer_no_context_takeover(true)),
        },
        Setup {
            name: "deflate, context takeover",
            params: agree(DeflateConfig::default().with_own_no_context_takeover(false)),
        },
    ];
    const N: usize = 256;
    let mut best = vec![f64::MAX; setups.len()];
    let mut wire = vec![(0usize, 0usize); setups.len()];
    let mut servers: Vec<Connection> = setups
        .iter()
        .map(|s| Connection::new(Role::Server, Limits::default()).with_deflate(s.params.as_ref()))
        .collect();
    let frames: Vec<Vec<BytesMut>> = setups
        .iter()
        .map(|s| client_frames(s.params.as_ref(), N))
        .collect();
    for round in 0..ROUNDS {
        for (k, server) in servers.iter_mut().enumerate() {
            // A fresh server and stream every round, so takeover windows
            // match the client's frames.
            if round > 0 {
                *server = Connection::new(Role::Server, Limits::default())
                    .with_deflate(setups[k].params.as_ref());
            }
            let start = Instant::now();
            let mut done = 0;
            let (mut bytes_in, mut bytes_out) = (0, 0);
            while done < N && (start.elapsed() < BATCH || done < 16) {
                bytes_in += frames[k][done].len();
                bytes_out += black_box(echo(server, &frames[k][done]));
                done += 1;
            }
            let per = start.elapsed().as_secs_f64() / done as f64;
            best[k] = best[k].min(per);
            wire[k] = (bytes_in / done, bytes_out / done);
        }
    }
    let plain = best[0];
    println!(
        "server echo of a {}-byte JSON message:",
        match message(0) {
            Message::Text(t) => t.len(),
            _ => 0,
        }
    );
    for (k, s) in setups.iter().enumerate() {
        println!(
            "  {:<30} {:>7.2} µs per echo ({:>4.1}x plain)  wire: {:>4} bytes in, {:>4} bytes out",
            s.name,
            best[k] * 1e6,
            best[k] / plain,
            wire[k].0,
            wire[k].1
        );
    }
}
