//! HTTP/1.1, by hand, sans-IO.
//!
//! Everything the WebSocket upgrade and the SSE stream stand on: an
//! incremental request-head parser ([`RequestParser`]), a response-head
//! parser for our clients ([`ResponseParser`]), body framing rules
//! ([`BodyFraming`]), a chunked-body decoder ([`ChunkedDecoder`]) and a
//! response writer ([`ResponseHead`]), and the URL parser our clients
//! share ([`Url`]).
//!
//! None of these types touch a socket: they take bytes and give back a
//! value, "need more bytes", or a [`ParseError`] that already knows which
//! status code the server should answer with. The tokio shell in
//! [`crate::server`] does the reading and writing.
//!
//! # Line endings
//!
//! RFC 9112 §2.2 lets a recipient accept a bare LF as a line end. We do
//! not: every line must end in CRLF, and a lone LF or CR is a 400. Two
//! parsers that disagree about where a line ends is how request smuggling
//! starts, and every real client sends CRLF.

mod chunked;
mod error;
mod framing;
mod head;
mod headers;
mod limits;
mod request;
mod response;
mod status;
mod url;

pub use chunked::{ChunkedDecoder, ChunkedStatus};
pub use error::ParseError;
pub use framing::BodyFraming;
pub(crate) use head::trim_ows;
pub use head::{HeadIndex, Span, Status};
pub use headers::{Headers, TokenList};
pub use limits::Limits;
pub use request::{RequestHead, RequestParser, TargetForm};
pub use response::{
    encode_chunk, encode_last_chunk, ResponseHead, ResponseParser, ResponseView, WriteError,
};
pub use status::StatusCode;
pub use url::{origin_form, Scheme, Url, UrlError};

/// The two protocol versions HTTP/1.1 servers speak on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// `HTTP/1.0`: no keep-alive unless asked for, no chunked bodies.
    Http10,
    /// `HTTP/1.1`: persistent connections by default, Host required.
    Http11,
}

impl Version {
    /// The version as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}
