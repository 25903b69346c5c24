//! Real-time events from raw TCP on tokio: WebSockets (RFC 6455) and
//! Server-Sent Events (WHATWG HTML), written by hand as a teaching crate.
//!
//! Every protocol lives in its own module as a sans-IO core (bytes in,
//! events or a typed error out; messages in, bytes out) with a thin tokio
//! shell on top, so tests, fuzzers and benchmarks can drive the core
//! directly.

pub mod app;
#[cfg(feature = "redis")]
pub mod broker;
pub mod cli;
pub mod http;
mod http_io;
pub mod server;
pub mod sse;
pub mod tls;
pub mod ws;
