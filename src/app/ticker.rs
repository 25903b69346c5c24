//! The demo's stock ticker: a few made-up symbols whose prices take a
//! random walk, published as `quote` events on a [`Hub`] and served at
//! `/ticker` as a resumable event stream.
//!
//! ```text
//! event: quote
//! id: 17
//! data: {"symbol":"ACME","price":101.25,"change":0.50}
//!
//! ```
//!
//! Prices are kept in whole cents, so the JSON is exact decimal text with
//! no floating-point rounding, and the walk is a small seeded generator
//! (no `rand` crate): the same seed gives the same prices, which tests use.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::server::{Request, Response};
use crate::sse::{stream_response, Event, Hub, HubConfig, StreamConfig};

/// How the ticker runs.
#[derive(Debug, Clone)]
pub struct TickerConfig {
    /// Time between two quotes. Default 500 ms.
    pub interval: Duration,
    /// Seed of the price walk.
    pub seed: u64,
    /// Replay buffer and queue sizes.
    pub hub: HubConfig,
    /// Keep-alive and retry hint of each stream.
    pub stream: StreamConfig,
}

impl Default for TickerConfig {
    fn default() -> Self {
        TickerConfig {
            interval: Duration::from_millis(500),
            seed: 0x5eed,
            hub: HubConfig::default(),
            // A quick reconnect suits a demo; browsers default to ~3 s.
            stream: StreamConfig::default().with_retry(Some(Duration::from_secs(1))),
        }
    }
}

/// One quote: a symbol, its new price and the move, in cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quote {
    /// The ticker symbol.
    pub symbol: &'static str,
    /// The price after the move, in cents.
    pub price_cents: i64,
    /// The move, in cents.
    pub change_cents: i64,
}

// ANCHOR: quote_json
impl Quote {
    /// The event's data: `{"symbol":"ACME","price":101.25,"change":-0.50}`.
    /// Symbols are plain ASCII letters, so nothing needs escaping.
    pub fn to_json(&self) -> String {
        format!(
            "{{\"symbol\":\"{}\",\"price\":{},\"change\":{}}}",
            self.symbol,
            cents(self.price_cents),
            cents(self.change_cents)
        )
    }
}

/// `-0.50`, `101.25`: cents as a JSON number with two decimals.
fn cents(c: i64) -> String {
    let sign = if c < 0 { "-" } else { "" };
    let abs = c.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}
// ANCHOR_END: quote_json

/// The symbol and the price in cents of a quote's JSON, as [`Quote::to_json`]
/// writes it; `None` for anything else.
fn parse_quote(json: &str) -> Option<(&str, i64)> {
    let symbol = json.strip_prefix("{\"symbol\":\"")?;
    let (symbol, rest) = symbol.split_once('"')?;
    let price = rest.strip_prefix(",\"price\":")?;
    let (price, _) = price.split_once(',')?;
    let (whole, hundredths) = price.split_once('.')?;
    if hundredths.len() != 2 || !hundredths.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let hundredths: i64 = hundredths.parse().ok()?;
    Some((symbol, whole.checked_mul(100)?.checked_add(hundredths)?))
}

/// The prices and the generator: pure state, no clock and no I/O.
#[derive(Debug, Clone)]
pub struct Market {
    prices: Vec<(&'static str, i64)>,
    rng: u64,
}

impl Market {
    /// Three symbols at their opening prices.
    pub fn new(seed: u64) -> Self {
        Market {
            prices: vec![("ACME", 10_000), ("GLOBEX", 4_250), ("INITECH", 1_875)],
            rng: seed,
        }
    }

    /// Carries on from a quote published earlier (by another instance, in
    /// the Redis setup): its symbol's price becomes the quote's. Unknown
    /// symbols are ignored.
    pub fn resume_from(&mut self, quote_json: &str) {
        let Some((symbol, price)) = parse_quote(quote_json) else {
            return;
        };
        if let Some(entry) = self.prices.iter_mut().find(|(s, _)| *s == symbol) {
            entry.1 = price.max(100);
        }
    }

    /// SplitMix64: tiny, fast, and good enough to look random.
    fn next_u64(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Moves one symbol, chosen at random, by up to ±0.75 in steps of 0.25,
    /// never below 1.00.
    pub fn next_quote(&mut self) -> Quote {
        let r = self.next_u64();
        let i = (r % self.prices.len() as u64) as usize;
        let step = ((r >> 32) % 7) as i64 - 3;
        let (symbol, price) = &mut self.prices[i];
        let new_price = (*price + step * 25).max(100);
        let change = new_price - *price;
        *price = new_price;
        Quote {
            symbol,
            price_cents: new_price,
            change_cents: change,
        }
    }
}

/// The ticker: a hub, and a task that publishes quotes into it. Cloning
/// gives another handle to the same ticker.
#[derive(Debug, Clone)]
pub struct Ticker {
    hub: Hub,
    config: Arc<TickerConfig>,
    started: Arc<AtomicBool>,
}

impl Ticker {
    /// A ticker whose task has not started yet: it starts with the first
    /// call to [`start`](Self::start) or [`response`](Self::response), so
    /// building a router needs no tokio runtime.
    pub fn new(config: TickerConfig) -> Self {
        Ticker {
            hub: Hub::new(config.hub),
            config: Arc::new(config),
            started: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The hub quotes are published on.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Starts the publishing task, once; later calls do nothing. Must be
    /// called inside a tokio runtime. The task runs as long as the runtime.
    pub fn start(&self) {
        if self.started.swap(true, Ordering::SeqCst) {
            return;
        }
        let hub = self.hub.clone();
        let mut market = Market::new(self.config.seed);
        let mut every = tokio::time::interval(self.config.interval);
        // After a stall, carry on at the normal pace instead of bursting.
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::spawn(async move {
            loop {
                every.tick().await;
                let quote = market.next_quote();
                // A quote is plain JSON text: encoding cannot fail.
                let _ = hub.publish(Event::new(quote.to_json()).event("quote"));
            }
        });
    }

    // ANCHOR: ticker_route
    /// The `/ticker` answer: a stream that resumes after the request's
    /// `Last-Event-ID`, if any.
    pub fn response(&self, request: &Request) -> Response {
        self.start();
        let last_event_id = request.header("last-event-id");
        stream_response(&self.hub, last_event_id, self.config.stream)
    }
    // ANCHOR_END: ticker_route
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_market_resumes_from_published_quotes() {
        let mut first = Market::new(1);
        let quotes: Vec<Quote> = (0..50).map(|_| first.next_quote()).collect();
        let mut next = Market::new(2);
        for q in &quotes {
            next.resume_from(&q.to_json());
        }
        assert_eq!(next.prices, first.prices);
        next.resume_from("{\"symbol\":\"ACME\",\"price\":1e9,\"change\":0}");
        next.resume_from("not json");
        assert_eq!(next.prices, first.prices);
    }

    #[test]
    fn cents_format() {
        assert_eq!(cents(10125), "101.25");
        assert_eq!(cents(-50), "-0.50");
        assert_eq!(cents(5), "0.05");
        assert_eq!(cents(0), "0.00");
        assert_eq!(cents(-1234), "-12.34");
    }

    #[test]
    fn quote_json() {
        let q = Quote {
            symbol: "ACME",
            price_cents: 10_125,
            change_cents: 50,
        };
        assert_eq!(
            q.to_json(),
            r#"{"symbol":"ACME","price":101.25,"change":0.50}"#
        );
    }

    #[test]
    fn walk_is_seeded_and_bounded() {
        let mut a = Market::new(7);
        let mut b = Market::new(7);
        let mut c = Market::new(8);
        let qa: Vec<_> = (0..1000).map(|_| a.next_quote()).collect();
        let qb: Vec<_> = (0..1000).map(|_| b.next_quote()).collect();
        let qc: Vec<_> = (0..1000).map(|_| c.next_quote()).collect();
        assert_eq!(qa, qb);
        assert_ne!(qa, qc);
        for q in &qa {
            assert!(q.price_cents >= 100);
            assert!(q.change_cents.abs() <= 75 && q.change_cents % 25 == 0);
        }
        // All three symbols move.
        for s in ["ACME", "GLOBEX", "INITECH"] {
            assert!(qa.iter().any(|q| q.symbol == s && q.change_cents != 0));
        }
    }
}
