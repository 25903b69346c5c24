//! The demo application the binary serves: the page, and (as later
//! chapters add them) the ticker stream, the echo and the chat endpoints.
//! It lives in the library so tests can start exactly what users run.

pub mod samples;
pub mod wire;

use crate::server::{Request, Response, Router};

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

/// Whether a state-changing request comes from our own page. Browsers send
/// `Origin` on every POST; a page elsewhere that posts here would carry its
/// own origin, which will not match our `Host`. Clients that are not
/// browsers (curl) send no `Origin` and are let through.
pub fn same_origin(request: &Request) -> bool {
    match (request.header("origin"), request.header("host")) {
        (None, _) => true,
        (Some(origin), Some(host)) => origin
            .strip_prefix("http://")
            .is_some_and(|rest| rest.eq_ignore_ascii_case(host)),
        (Some(_), None) => false,
    }
}

// ANCHOR: router
/// The demo's routes.
pub fn router() -> Router {
    let wire = wire::Wire::new();
    let blob_wire = wire.clone();
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
        .get("/blob/sse", move |req| {
            let response = samples::sse_blob_response();
            std::future::ready(blob_wire.tap(&req, wire::Protocol::Sse, response))
        })
        .get("/sse/rules", |_req| async {
            samples::parsing_rules_response()
        })
}
// ANCHOR_END: router
