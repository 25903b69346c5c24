//! The demo application the binary serves: the page, and (as later
//! chapters add them) the ticker stream, the echo and the chat endpoints.
//! It lives in the library so tests can start exactly what users run.

pub mod chat;
pub mod echo;
pub mod ticker;

use crate::server::{Response, Router};

/// The demo page, embedded in the binary: no front-end build step.
pub const INDEX_HTML: &str = include_str!("index.html");

/// The demo's routes.
pub fn router() -> Router {
    let room = chat::Room::default();
    let ticker = ticker::Ticker::new(ticker::TickerConfig::default());
    Router::new()
        .get("/", |_req| async { Response::html(INDEX_HTML) })
        .get("/ticker", move |req| {
            std::future::ready(ticker.response(&req))
        })
        .get("/echo", echo::handle)
        .get("/chat", move |req| chat::handle(req, room.clone()))
}
