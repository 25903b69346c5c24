use std::net::SocketAddr;

use bytes::Bytes;

use crate::http::{HeadIndex, Headers, RequestHead, Version};

/// A request as a handler sees it: the head's own bytes (shared, not
/// copied field by field), where each part is, the body, and the peer.
#[derive(Debug, Clone)]
pub struct Request {
    head_bytes: Bytes,
    index: HeadIndex,
    body: Bytes,
    peer: Option<SocketAddr>,
}

impl Request {
    /// Builds a request from a parsed head (used by the connection loop,
    /// and by tests that call handlers directly).
    pub fn new(head_bytes: Bytes, index: HeadIndex, body: Bytes, peer: Option<SocketAddr>) -> Self {
        Request {
            head_bytes,
            index,
            body,
            peer,
        }
    }

    /// The parsed head.
    pub fn head(&self) -> RequestHead<'_> {
        self.index.view(&self.head_bytes)
    }

    /// The method.
    pub fn method(&self) -> &str {
        self.head().method()
    }

    /// The path, without the query.
    pub fn path(&self) -> &str {
        self.head().path()
    }

    /// The query string, without `?`.
    pub fn query(&self) -> Option<&str> {
        self.head().query()
    }

    /// The value of query parameter `name` (no percent-decoding).
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query()?
            .split('&')
            .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }

    /// The protocol version.
    pub fn version(&self) -> Version {
        self.head().version()
    }

    /// The header fields.
    pub fn headers(&self) -> Headers<'_> {
        self.head().headers()
    }

    /// The first value of header `name` as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers().get_str(name)
    }

    /// The body (already de-chunked).
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The peer's address, when the connection is TCP.
    pub fn peer(&self) -> Option<SocketAddr> {
        self.peer
    }
}
