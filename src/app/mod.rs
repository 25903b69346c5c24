//! The demo application the binary serves: the page (`/`, `/app.js`,
//! `/app.css`), the ticker stream (`/ticker`, and `POST /ticker/drop` to
//! cut it), the echo and the chat WebSockets (`/echo`, `/chat`), the wire
//! view (`/wire`) and the small samples the browser tests use. It lives in
//! the library so tests can start exactly what users run.

pub mod chat;
pub mod echo;
pub mod samples;
pub mod ticker;
pub mod wire;

use std::sync::Arc;

use crate::server::{Request, Response, Router};
use crate::ws;
use wire::Protocol;

/// The demo page, embedded in the binary: no front-end build step.
pub const INDEX_HTML: &str = include_str!("index.html");
/// The page's style sheet.
pub const APP_CSS: &str = include_str!("app.css");
/// The page's script: the ticker, the chat, the wire view and the
/// fetch-based event-stream reader, in plain JavaScript.
pub const APP_JS: &str = include_str!("app.js");

/// A static file. `no-cache` makes the browser revalidate, so a rebuilt
/// binary's page is never mixed with an old script.
fn asset(body: &'static str, content_type: &'static str) -> Response {
    Response::new(200, body)
        .header("Content-Type", content_type)
        .header("Cache-Control", "no-cache")
}

// ANCHOR: app_config
/// What the demo lets a client do, beyond the server's own limits. The
/// defaults are what a public port can afford; the binary's flags change
/// them (`--allow-origin`, `--echo-max-frame`, `--echo-max-message`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AppConfig {
    /// Origins allowed besides the page's own (see [`OriginPolicy`]), as
    /// browsers write them: `https://example.org`, `http://host:8080`.
    pub allowed_origins: Vec<String>,
    /// Size limits of `/echo`: 1 MiB frames and messages by default, so a
    /// socket pins at most one MiB. Autobahn's run raises them to its
    /// 16 MiB frames and 64 MiB messages.
    pub echo_limits: ws::Limits,
    /// The chat room's queue, message size and close timeout.
    pub chat: chat::RoomConfig,
    /// Serve `/ticker` and `/chat` from Redis (several instances), not
    /// from memory (one). `None` by default.
    #[cfg(feature = "redis")]
    pub redis: Option<crate::broker::RedisBroker>,
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            allowed_origins: Vec::new(),
            echo_limits: echo::DEMO_LIMITS,
            chat: chat::RoomConfig::default(),
            #[cfg(feature = "redis")]
            redis: None,
        }
    }
}

impl AppConfig {
    /// Adds one origin to [`AppConfig::allowed_origins`].
    pub fn with_allowed_origin(mut self, origin: impl Into<String>) -> Self {
        self.allowed_origins.push(origin.into());
        self
    }

    /// Sets [`AppConfig::echo_limits`].
    pub fn with_echo_limits(mut self, limits: ws::Limits) -> Self {
        self.echo_limits = limits;
        self
    }

    /// Sets [`AppConfig::chat`].
    pub fn with_chat(mut self, chat: chat::RoomConfig) -> Self {
        self.chat = chat;
        self
    }

    /// Sets [`AppConfig::redis`].
    #[cfg(feature = "redis")]
    pub fn with_redis(mut self, broker: crate::broker::RedisBroker) -> Self {
        self.redis = Some(broker);
        self
    }
}
// ANCHOR_END: app_config

// ANCHOR: origin
/// The one rule every WebSocket route, `/wire` and `POST /ticker/drop`
/// apply to `Origin`. A browser puts the page's origin there and a page
/// cannot change it, so this is how the server tells its own page from
/// someone else's page running in the same browser (which would otherwise
/// ride on the user's network position: cross-site WebSocket hijacking).
///
/// - No `Origin`: allowed. Not a browser (curl, our clients, a test), and
///   such a client could write any `Origin` anyway.
/// - Same origin: the `Origin`'s host and port are the request's `Host`,
///   and that host is an IP address or `localhost`. A name is not trusted
///   by itself: under DNS rebinding, `evil.example` resolves to this
///   machine and its page is "same-origin" with a `Host: evil.example`.
///   The loopback names (`127.0.0.1`, `localhost`, `[::1]`) on one port
///   count as one origin, since the page may be opened under any of them.
/// - Listed: the `Origin` is on the allow-list (`--allow-origin`), e.g.
///   the public name the demo is served under.
///
/// Anything else: 403.
#[derive(Debug, Clone, Default)]
pub struct OriginPolicy {
    allowed: Vec<String>,
}

impl OriginPolicy {
    /// Same-origin plus `allowed`.
    pub fn new(allowed: Vec<String>) -> Self {
        OriginPolicy { allowed }
    }

    /// Whether `request` may act here (see the type's docs).
    pub fn allows(&self, request: &Request) -> bool {
        match request.header("origin") {
            None => true,
            Some(origin) => self.allows_origin(request, origin),
        }
    }

    /// Whether a request from a page at `origin` may act here.
    pub fn allows_origin(&self, request: &Request, origin: &str) -> bool {
        self.allowed.iter().any(|a| a.eq_ignore_ascii_case(origin))
            || request
                .header("host")
                .is_some_and(|host| same_origin(host, origin))
    }

    /// Lets an allowed page read a stream: `EventSource` from a page on
    /// `localhost` to `127.0.0.1` is a cross-origin request, and the
    /// browser hands the events to the page only if the answer names its
    /// origin.
    pub fn allow_cors(&self, request: &Request, response: Response) -> Response {
        match request.header("origin") {
            Some(origin) if self.allows_origin(request, origin) => response
                .header("Access-Control-Allow-Origin", origin.to_string())
                .header("Vary", "Origin"),
            _ => response,
        }
    }
}

/// `host[:port]` split at the port's colon (an IPv6 literal keeps its own).
fn split_port(authority: &str) -> (&str, &str) {
    match authority.rfind(':') {
        Some(colon) if !authority[colon..].contains(']') => {
            (&authority[..colon], &authority[colon + 1..])
        }
        _ => (authority, ""),
    }
}

/// The same-origin rule of [`OriginPolicy`] for one `Host` and `Origin`.
fn same_origin(host: &str, origin: &str) -> bool {
    let Some(authority) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    let (host_name, host_port) = split_port(host);
    let (origin_name, origin_port) = split_port(authority);
    let loopback = |name: &str| {
        ["127.0.0.1", "localhost", "[::1]"]
            .iter()
            .any(|l| name.eq_ignore_ascii_case(l))
    };
    if loopback(host_name) && loopback(origin_name) {
        return host_port == origin_port;
    }
    let trusted = host_name.parse::<std::net::Ipv4Addr>().is_ok()
        || (host_name.starts_with('[') && host_name.ends_with(']'));
    trusted && host.eq_ignore_ascii_case(authority)
}

/// 403 for a request from another site's page.
fn forbidden() -> Response {
    Response::text(403, "Origin not allowed\n")
}
// ANCHOR_END: origin

/// Where `/ticker` and `/chat` get their events: this process's memory,
/// or Redis.
#[derive(Debug, Clone)]
enum Broker {
    Memory,
    #[cfg(feature = "redis")]
    Redis(crate::broker::RedisBroker),
}

impl Broker {
    fn from_config(config: &AppConfig) -> Broker {
        #[cfg(feature = "redis")]
        if let Some(redis) = &config.redis {
            return Broker::Redis(redis.clone());
        }
        let _ = config;
        Broker::Memory
    }

    fn room(&self, config: chat::RoomConfig) -> chat::Room {
        match self {
            Broker::Memory => chat::Room::new(config),
            #[cfg(feature = "redis")]
            Broker::Redis(redis) => redis.chat_room(config),
        }
    }

    fn ticker_response(&self, ticker: &ticker::Ticker, req: &Request) -> Response {
        match self {
            Broker::Memory => ticker.response(req),
            #[cfg(feature = "redis")]
            Broker::Redis(redis) => crate::sse::stream_response(
                redis.ticker(),
                req.header("last-event-id"),
                ticker::TickerConfig::default().stream,
            ),
        }
    }

    // ANCHOR: healthz
    /// `GET /healthz`: which broker, and whether it is up (200) or down
    /// (503), for a load balancer's health check.
    fn healthz(&self) -> Response {
        let (up, body) = match self {
            Broker::Memory => (true, r#"{"broker":"memory","state":"up"}"#.to_string()),
            #[cfg(feature = "redis")]
            Broker::Redis(redis) => {
                let up = redis.is_up();
                let state = if up { "up" } else { "down" };
                let producer = redis.lease().is_held();
                let body = format!(
                    r#"{{"broker":"redis","state":"{state}","ticker_producer":{producer}}}"#
                );
                (up, body)
            }
        };
        Response::new(if up { 200 } else { 503 }, format!("{body}\n"))
            .header("Content-Type", "application/json")
            .header("Cache-Control", "no-store")
    }
    // ANCHOR_END: healthz
}

/// The demo's routes with the default [`AppConfig`].
pub fn router() -> Router {
    router_with(AppConfig::default())
}

// ANCHOR: router
/// The demo's routes. The streaming ones (`/ticker`, `/chat`, `/echo`, the
/// samples) are wrapped by the wire tap, which is what `/wire` shows (to
/// the page that opened them). Every WebSocket route, `/wire` and the
/// ticker's drop switch check `Origin` with one [`OriginPolicy`].
pub fn router_with(config: AppConfig) -> Router {
    let wire = wire::Wire::new();
    let broker = Broker::from_config(&config);
    let policy = Arc::new(OriginPolicy::new(config.allowed_origins));
    let room = broker.room(config.chat);
    let echo_limits = config.echo_limits;
    let ticker = ticker::Ticker::new(ticker::TickerConfig::default());
    let health = broker.clone();
    // `POST /ticker/drop` pulls this to end every ticker stream.
    let cutter = wire::Cutter::new();
    let drop_switch = cutter.clone();
    // Each route gets its own handle to the wire and the policy.
    let wire_for = || wire.clone();
    let policy_for = || policy.clone();
    let (ticker_wire, chat_wire, echo_wire, blob_wire, blob_ws_wire, wire_view) = (
        wire_for(),
        wire_for(),
        wire_for(),
        wire_for(),
        wire_for(),
        wire_for(),
    );
    let (wire_policy, ticker_policy, drop_policy, chat_policy, echo_policy, blob_policy) = (
        policy_for(),
        policy_for(),
        policy_for(),
        policy_for(),
        policy_for(),
        policy_for(),
    );
    Router::new()
        .get("/", |_req| async { Response::html(INDEX_HTML) })
        .get("/app.css", |_req| async {
            asset(APP_CSS, "text/css; charset=utf-8")
        })
        .get("/app.js", |_req| async {
            asset(APP_JS, "text/javascript; charset=utf-8")
        })
        .get("/wire", move |req| {
            std::future::ready(if wire_policy.allows(&req) {
                wire_view.stream_response(&req)
            } else {
                forbidden()
            })
        })
        .get("/healthz", move |_req| std::future::ready(health.healthz()))
        .get("/ticker", move |req| {
            let response = cutter.install(broker.ticker_response(&ticker, &req));
            let response = ticker_policy.allow_cors(&req, response);
            std::future::ready(ticker_wire.tap(&req, Protocol::Sse, response))
        })
        .route("POST", "/ticker/drop", move |req| {
            let response = if drop_policy.allows(&req) {
                drop_switch.cut();
                Response::text(200, "every ticker stream was told to end\n")
            } else {
                forbidden()
            };
            std::future::ready(response)
        })
        .get("/chat", move |req| {
            let (room, wire, policy) = (room.clone(), chat_wire.clone(), chat_policy.clone());
            async move {
                if !policy.allows(&req) {
                    return forbidden();
                }
                let response = chat::handle(req.clone(), room).await;
                wire.tap(&req, Protocol::WebSocket, response)
            }
        })
        .get("/echo", move |req| {
            let (wire, policy) = (echo_wire.clone(), echo_policy.clone());
            async move {
                if !policy.allows(&req) {
                    return forbidden();
                }
                let response = echo::handle_with_limits(req.clone(), echo_limits).await;
                wire.tap(&req, Protocol::WebSocket, response)
            }
        })
        .get("/blob/sse", move |req| {
            let response = samples::sse_blob_response();
            std::future::ready(blob_wire.tap(&req, Protocol::Sse, response))
        })
        .get("/blob/ws", move |req| {
            let response = if blob_policy.allows(&req) {
                samples::ws_blob_response(&req)
            } else {
                forbidden()
            };
            std::future::ready(blob_ws_wire.tap(&req, Protocol::WebSocket, response))
        })
        .get("/sse/rules", |_req| async {
            samples::parsing_rules_response()
        })
}
// ANCHOR_END: router

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{RequestParser, Status};
    use bytes::Bytes;

    fn request(head: &str) -> Request {
        let bytes = Bytes::from(head.to_string());
        let mut parser = RequestParser::new(crate::http::Limits::default());
        let Ok(Status::Complete(index)) = parser.parse(&bytes) else {
            panic!("test head should parse");
        };
        Request::new(bytes, index, Bytes::new(), None)
    }

    #[test]
    fn origins_on_our_port_are_ours() {
        let policy = OriginPolicy::default();
        let req = request("POST /ticker/drop HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n");
        assert!(policy.allows_origin(&req, "http://127.0.0.1:8080"));
        assert!(policy.allows_origin(&req, "http://localhost:8080"));
        assert!(!policy.allows_origin(&req, "http://localhost:8081"));
        assert!(!policy.allows_origin(&req, "http://evil.example:8080"));
        assert!(!policy.allows_origin(&req, "null"));
        assert!(policy.allows(&req), "no Origin: not a browser");
        let foreign = request(
            "POST /ticker/drop HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nOrigin: http://evil.example\r\n\r\n",
        );
        assert!(!policy.allows(&foreign));
        let no_host = request("GET / HTTP/1.0\r\nOrigin: http://127.0.0.1:8080\r\n\r\n");
        assert!(!policy.allows(&no_host));
    }

    #[test]
    fn a_name_is_same_origin_only_when_listed() {
        // DNS rebinding: the page's origin and the Host agree, but the name
        // is the attacker's.
        let rebound = request(
            "GET /echo HTTP/1.1\r\nHost: evil.example:8080\r\nOrigin: http://evil.example:8080\r\n\r\n",
        );
        assert!(!OriginPolicy::default().allows(&rebound));
        let listed = OriginPolicy::new(vec!["http://evil.example:8080".into()]);
        assert!(listed.allows(&rebound));
        // An address is not rebound: same host and port is same-origin.
        let lan = request(
            "GET /echo HTTP/1.1\r\nHost: 192.168.1.5:9000\r\nOrigin: http://192.168.1.5:9000\r\n\r\n",
        );
        assert!(OriginPolicy::default().allows(&lan));
        let v6 = request(
            "GET /echo HTTP/1.1\r\nHost: [fe80::1]:9\r\nOrigin: http://[fe80::1]:9\r\n\r\n",
        );
        assert!(OriginPolicy::default().allows(&v6));
    }

    #[test]
    fn health_in_memory_is_always_up() {
        let response = Broker::Memory.healthz();
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(response.head.get("content-type"), Some("application/json"));
        let crate::server::Body::Full(body) = &response.body else {
            panic!("a full body");
        };
        assert_eq!(&body[..], b"{\"broker\":\"memory\",\"state\":\"up\"}\n");
    }

    #[test]
    fn cors_names_only_allowed_origins() {
        let policy = OriginPolicy::default();
        let ours = request(
            "GET /ticker HTTP/1.1\r\nHost: 127.0.0.1:9\r\nOrigin: http://localhost:9\r\n\r\n",
        );
        let response = policy.allow_cors(&ours, Response::text(200, ""));
        assert_eq!(
            response.head.get("access-control-allow-origin"),
            Some("http://localhost:9")
        );
        let theirs = request(
            "GET /ticker HTTP/1.1\r\nHost: 127.0.0.1:9\r\nOrigin: http://localhost:10\r\n\r\n",
        );
        let response = policy.allow_cors(&theirs, Response::text(200, ""));
        assert_eq!(response.head.get("access-control-allow-origin"), None);
    }
}
