//! Shared pieces of the load comparison: argument reading, the clock the
//! fan-out events carry, and the payload every SSE server sends.

#![forbid(unsafe_code)]

use std::time::{SystemTime, UNIX_EPOCH};

/// The accept loop the WebSocket peers share: binds `--addr` from `args`
/// (or `default_addr`), prints the `listening on ws://ADDR` line `run.sh`
/// waits for, and serves each connection, Nagle off, in its own task.
pub async fn serve_each<F, Fut>(
    args: &[String],
    default_addr: &str,
    serve: F,
) -> std::io::Result<()>
where
    F: Fn(tokio::net::TcpStream) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let addr = arg(args, "--addr", default_addr);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on ws://{}", listener.local_addr()?);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve(stream));
    }
}

/// The value following `--name` in `args`, or `default`. One binary per
/// peer with two or three flags does not justify a CLI crate.
pub fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_string())
}

/// Like [`arg`], parsed; exits with a message rather than panicking on a
/// malformed flag.
pub fn arg_num<T: std::str::FromStr>(args: &[String], name: &str, default: &str) -> T {
    let text = arg(args, name, default);
    text.parse().unwrap_or_else(|_| {
        eprintln!("{name} {text:?} is not a number");
        std::process::exit(2)
    })
}

/// Nanoseconds since the Unix epoch: the send time written into each
/// fan-out event, read back by the load generator in another process (the
/// same machine, so the same clock).
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The data line of fan-out event `seq`: `"<ns> <seq> "` then `x` padding up
/// to `size` bytes, the same format as the crate's `ch12_fanout` example.
pub fn fanout_data(seq: u64, size: usize) -> String {
    let mut data = format!("{} {} ", now_ns(), seq);
    while data.len() < size {
        data.push('x');
    }
    data
}

/// Resident set size of process `pid` in KiB (`VmRSS` in /proc), 0 when it
/// cannot be read.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// User plus system CPU time of process `pid` (all threads), in clock
/// ticks (`utime + stime` in /proc/PID/stat; 100 per second on Linux).
pub fn cpu_ticks(pid: u32) -> u64 {
    let (user, system) = cpu_split(pid);
    user + system
}

/// The user and the system (kernel) CPU time of process `pid`, in clock
/// ticks (10 ms), from `/proc`; zeros if it cannot be read. The split shows
/// how much of a server's cost is the kernel's work on its system calls,
/// which no user-space change can remove.
pub fn cpu_split(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name is in parentheses and may contain spaces: split after it.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return (0, 0);
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')', field 0 is the state (3rd field overall); utime and stime
    // are the 14th and 15th overall, so 11 and 12 here.
    let num = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (num(11), num(12))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fanout_data_has_time_seq_and_size() {
        let d = fanout_data(42, 64);
        assert_eq!(d.len(), 64);
        let mut parts = d.split(' ');
        assert!(parts.next().unwrap().parse::<u64>().unwrap() > 1_600_000_000_000_000_000);
        assert_eq!(parts.next(), Some("42"));
    }

    #[test]
    fn reads_own_process() {
        let me = std::process::id();
        assert!(rss_kib(me) > 0);
        let start = cpu_ticks(me);
        let mut x = 0u64;
        for i in 0..50_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        std::hint::black_box(x);
        let (user, system) = cpu_split(me);
        assert!(cpu_ticks(me) >= start);
        assert!(
            user >= 1,
            "50 million multiplications take a tick of user time"
        );
        assert!(cpu_ticks(me) - (user + system) <= 1);
    }
}
