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

use crate::server::{Request, Response, Router};
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

// ANCHOR: origin
/// The demo's own origins: the page may be opened as `127.0.0.1`,
/// `localhost` or `[::1]`, on the port the request came in on (from its
/// `Host`). A browser puts the page's origin in `Origin` and a page cannot
/// change it, so this is how the server tells its own page from someone
/// else's page running in the same browser.
pub fn is_demo_origin(request: &Request, origin: &str) -> bool {
    let Some(port) = request
        .header("host")
        .and_then(|host| host.rsplit_once(':'))
        .map(|(_, port)| port)
    else {
        return false;
    };
    ["127.0.0.1", "localhost", "[::1]"]
        .iter()
        .any(|host| origin.eq_ignore_ascii_case(&format!("http://{host}:{port}")))
}

/// Whether a request may act on the demo: it carries no `Origin` (not a
/// browser, e.g. curl) or one of the demo's own. Browsers send `Origin` on
/// every `POST` and every WebSocket handshake.
pub fn allowed(request: &Request) -> bool {
    match request.header("origin") {
        None => true,
        Some(origin) => is_demo_origin(request, origin),
    }
}

/// Lets the demo's other origins read a stream: `EventSource` from a page
/// on `localhost` to `127.0.0.1` is a cross-origin request, and the browser
/// hands the events to the page only if the answer names its origin.
pub fn allow_demo_origins(request: &Request, response: Response) -> Response {
    match request.header("origin") {
        Some(origin) if is_demo_origin(request, origin) => response
            .header("Access-Control-Allow-Origin", origin.to_string())
            .header("Vary", "Origin"),
        _ => response,
    }
}

/// 403 for a request from another site's page.
fn forbidden() -> Response {
    Response::text(403, "Origin not allowed\n")
}
// ANCHOR_END: origin

// ANCHOR: router
/// The demo's routes. The streaming ones (`/ticker`, `/chat`, `/echo`, the
/// samples) are wrapped by the wire tap, which is what `/wire` shows.
pub fn router() -> Router {
    let wire = wire::Wire::new();
    let room = chat::Room::default();
    let ticker = ticker::Ticker::new(ticker::TickerConfig::default());
    // `POST /ticker/drop` pulls this to end every ticker stream.
    let cutter = wire::Cutter::new();
    let drop_switch = cutter.clone();
    let (ticker_wire, chat_wire, echo_wire, blob_wire, blob_ws_wire) = (
        wire.clone(),
        wire.clone(),
        wire.clone(),
        wire.clone(),
        wire.clone(),
    );
    Router::new()
        .get("/", |_req| async { Response::html(INDEX_HTML) })
        .get("/app.css", |_req| async {
            asset(APP_CSS, "text/css; charset=utf-8")
        })
        .get("/app.js", |_req| async {
            asset(APP_JS, "text/javascript; charset=utf-8")
        })
        .get("/wire", move |_req| {
            std::future::ready(wire.stream_response())
        })
        .get("/ticker", move |req| {
            let response = cutter.install(ticker.response(&req));
            let response = allow_demo_origins(&req, response);
            std::future::ready(ticker_wire.tap(&req, Protocol::Sse, response))
        })
        .route("POST", "/ticker/drop", move |req| {
            let response = if allowed(&req) {
                drop_switch.cut();
                Response::text(200, "every ticker stream was told to end\n")
            } else {
                forbidden()
            };
            std::future::ready(response)
        })
        .get("/chat", move |req| {
            let (room, wire) = (room.clone(), chat_wire.clone());
            async move {
                // The chat is what a foreign page would want to ride on.
                if !allowed(&req) {
                    return forbidden();
                }
                let response = chat::handle(req.clone(), room).await;
                wire.tap(&req, Protocol::WebSocket, response)
            }
        })
        .get("/echo", move |req| {
            let wire = echo_wire.clone();
            async move {
                let response = echo::handle(req.clone()).await;
                wire.tap(&req, Protocol::WebSocket, response)
            }
        })
        .get("/blob/sse", move |req| {
            let response = samples::sse_blob_response();
            std::future::ready(blob_wire.tap(&req, Protocol::Sse, response))
        })
        .get("/blob/ws", move |req| {
            let response = samples::ws_blob_response(&req);
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
        let req = request("POST /ticker/drop HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n");
        assert!(is_demo_origin(&req, "http://127.0.0.1:8080"));
        assert!(is_demo_origin(&req, "http://localhost:8080"));
        assert!(!is_demo_origin(&req, "http://localhost:8081"));
        assert!(!is_demo_origin(&req, "https://127.0.0.1:8080"));
        assert!(!is_demo_origin(&req, "http://evil.example:8080"));
        assert!(!is_demo_origin(&req, "null"));
        assert!(allowed(&req), "no Origin: not a browser");
        let foreign = request(
            "POST /ticker/drop HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nOrigin: http://evil.example\r\n\r\n",
        );
        assert!(!allowed(&foreign));
        let no_host = request("GET / HTTP/1.0\r\nOrigin: http://127.0.0.1:8080\r\n\r\n");
        assert!(!allowed(&no_host));
    }

    #[test]
    fn cors_names_only_our_origins() {
        let ours = request(
            "GET /ticker HTTP/1.1\r\nHost: 127.0.0.1:9\r\nOrigin: http://localhost:9\r\n\r\n",
        );
        let response = allow_demo_origins(&ours, Response::text(200, ""));
        assert_eq!(
            response.head.get("access-control-allow-origin"),
            Some("http://localhost:9")
        );
        let theirs = request(
            "GET /ticker HTTP/1.1\r\nHost: 127.0.0.1:9\r\nOrigin: http://localhost:10\r\n\r\n",
        );
        let response = allow_demo_origins(&theirs, Response::text(200, ""));
        assert_eq!(response.head.get("access-control-allow-origin"), None);
    }
}
