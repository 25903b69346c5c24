//! The opening handshake (RFC 6455 §4), sans-IO, for both roles.
//!
//! A WebSocket starts life as an HTTP/1.1 `GET` that asks to switch
//! protocols. The server checks the request ([`accept`]) and answers
//! `101 Switching Protocols` ([`Accepted::response_head`]) or an HTTP error
//! ([`HandshakeError::status`]). The client writes the request
//! ([`ClientRequest::encode`]) and checks the answer
//! ([`ClientRequest::verify`]). After that, both ends speak frames.
//!
//! Nothing here reads or writes a socket; `ws::upgrade` and `ws::connect`
//! are the tokio shells on top.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher;

use base64::Engine as _;
use bytes::{BufMut, BytesMut};
use sha1::{Digest, Sha1};

use super::extensions::{self, DeflateConfig, DeflateParams, ExtensionError};
use crate::http::{RequestHead, ResponseHead, ResponseView, StatusCode, Version};

/// The GUID the RFC appends to the client's key (§1.3). Any server that
/// knows it proves it understood the WebSocket request, which a plain HTTP
/// server (or a cache replaying an old answer) would not.
pub const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The only protocol version RFC 6455 defines; drafts used 8 and below.
pub const VERSION: &str = "13";

// ANCHOR: accept_key
/// Computes `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: the base64 of
/// the SHA-1 of the key (as sent, not decoded) followed by [`WS_GUID`].
pub fn accept_key(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(WS_GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}
// ANCHOR_END: accept_key

/// What a server accepts in a handshake beyond the RFC's own rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HandshakeConfig {
    /// Subprotocols we speak, most preferred first. The first one the
    /// client also offers is chosen; with none in common the connection
    /// goes ahead without a subprotocol (the client decides if that is OK).
    pub protocols: Vec<String>,
    /// `None` accepts any `Origin`. `Some(list)` accepts only those origins
    /// (compared ASCII case-insensitively, e.g. `"https://example.org"`).
    ///
    /// Browsers send cookies with a WebSocket request from *any* page, so a
    /// site that authenticates sockets by cookie must check `Origin`, or a
    /// hostile page can open a socket as its visitor (cross-site WebSocket
    /// hijacking). A request without `Origin` is not from a browser and is
    /// let through: such a client could forge the header anyway.
    pub allowed_origins: Option<Vec<String>>,
    /// `Some`: accept permessage-deflate (RFC 7692) on these terms when a
    /// client offers it. `None` (the default): decline every extension.
    pub compression: Option<DeflateConfig>,
}

impl HandshakeConfig {
    /// Sets [`HandshakeConfig::compression`].
    pub fn with_compression(mut self, compression: Option<DeflateConfig>) -> Self {
        self.compression = compression;
        self
    }
}

/// Why a server refused a handshake. Each variant knows its HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeError {
    /// Not a `GET` (405).
    NotGet,
    /// Not HTTP/1.1 (400). An HTTP/1.0 request never gets here: its
    /// `Upgrade` is ignored (RFC 9110 §7.8), so it is refused as a plain
    /// `GET`, with [`HandshakeError::NoUpgrade`].
    NotHttp11,
    /// `Upgrade` does not list `websocket` (426: the resource only speaks
    /// WebSocket, so we say which protocol to upgrade to).
    NoUpgrade,
    /// `Connection` does not list `upgrade` (400).
    NoConnectionUpgrade,
    /// `Sec-WebSocket-Version` is missing or not 13 (426, with the version
    /// we speak, so the client can retry, §4.4).
    BadVersion,
    /// No `Sec-WebSocket-Key` (400).
    MissingKey,
    /// More than one `Sec-WebSocket-Key` (400).
    DuplicateKey,
    /// A key that is not the base64 of 16 bytes (400).
    BadKey,
    /// More than one `Origin` (400).
    DuplicateOrigin,
    /// An `Origin` not on the allow-list (403).
    OriginNotAllowed,
    /// `Sec-WebSocket-Extensions` is not valid syntax (400). Only looked at
    /// when compression is on.
    BadExtensions(ExtensionError),
}

impl HandshakeError {
    /// The status to answer with.
    pub fn status(&self) -> StatusCode {
        match self {
            HandshakeError::NotGet => StatusCode::METHOD_NOT_ALLOWED,
            HandshakeError::NoUpgrade | HandshakeError::BadVersion => StatusCode::UPGRADE_REQUIRED,
            HandshakeError::OriginNotAllowed => StatusCode::FORBIDDEN,
            HandshakeError::NotHttp11
            | HandshakeError::NoConnectionUpgrade
            | HandshakeError::MissingKey
            | HandshakeError::DuplicateKey
            | HandshakeError::BadKey
            | HandshakeError::DuplicateOrigin
            | HandshakeError::BadExtensions(_) => StatusCode::BAD_REQUEST,
        }
    }

    /// The header fields the refusal must carry besides the body framing.
    pub fn headers(&self) -> &'static [(&'static str, &'static str)] {
        match self {
            HandshakeError::NotGet => &[("Allow", "GET")],
            HandshakeError::NoUpgrade => &[("Upgrade", "websocket"), ("Connection", "Upgrade")],
            HandshakeError::BadVersion => &[("Sec-WebSocket-Version", VERSION)],
            _ => &[],
        }
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let HandshakeError::BadExtensions(e) = self {
            return write!(f, "{e}");
        }
        f.write_str(match self {
            HandshakeError::NotGet => "a WebSocket handshake must be a GET",
            HandshakeError::NotHttp11 => "a WebSocket handshake needs HTTP/1.1",
            HandshakeError::NoUpgrade => "this resource only speaks WebSocket (Upgrade: websocket)",
            HandshakeError::NoConnectionUpgrade => "Connection must list upgrade",
            HandshakeError::BadVersion => "only Sec-WebSocket-Version 13 is supported",
            HandshakeError::MissingKey => "Sec-WebSocket-Key is missing",
            HandshakeError::DuplicateKey => "more than one Sec-WebSocket-Key",
            HandshakeError::BadKey => "Sec-WebSocket-Key must be the base64 of 16 bytes",
            HandshakeError::DuplicateOrigin => "more than one Origin",
            HandshakeError::OriginNotAllowed => "Origin not allowed",
            HandshakeError::BadExtensions(_) => "bad Sec-WebSocket-Extensions",
        })
    }
}

impl std::error::Error for HandshakeError {}

/// A handshake the server accepted: what goes into the 101.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The `Sec-WebSocket-Accept` value.
    pub accept: String,
    /// The subprotocol chosen, if any.
    pub protocol: Option<String>,
    /// permessage-deflate as agreed, if it was.
    pub deflate: Option<DeflateParams>,
}

// ANCHOR: accept
/// Checks an upgrade request against RFC 6455 §4.2.1 and `config`.
///
/// The checks run in a fixed order, so a request with several problems
/// always gets the same answer: method, `Upgrade` (ignored in HTTP/1.0,
/// RFC 9110 §7.8, so such a request is answered as a plain `GET`: 426),
/// version, `Connection`, `Sec-WebSocket-Version`, `Sec-WebSocket-Key`,
/// then `Origin`.
///
/// # Errors
/// The first rule the request breaks, with the status to answer.
pub fn accept(
    head: &RequestHead<'_>,
    config: &HandshakeConfig,
) -> Result<Accepted, HandshakeError> {
    if head.method() != "GET" {
        return Err(HandshakeError::NotGet);
    }
    if !head.upgrade_has("websocket") {
        return Err(HandshakeError::NoUpgrade);
    }
    if head.version() != Version::Http11 {
        return Err(HandshakeError::NotHttp11);
    }
    if !head.connection_has("upgrade") {
        return Err(HandshakeError::NoConnectionUpgrade);
    }
    let headers = head.headers();
    let mut versions = headers.get_all("sec-websocket-version");
    match (versions.next(), versions.next()) {
        (Some(v), None) if v == VERSION.as_bytes() => {}
        _ => return Err(HandshakeError::BadVersion),
    }
    let key = match headers.count("sec-websocket-key") {
        0 => return Err(HandshakeError::MissingKey),
        1 => headers.get("sec-websocket-key").unwrap_or_default(),
        _ => return Err(HandshakeError::DuplicateKey),
    };
    if !is_valid_key(key) {
        return Err(HandshakeError::BadKey);
    }
    if let Some(allowed) = &config.allowed_origins {
        match headers.count("origin") {
            0 => {}
            1 => {
                let origin = headers.get("origin").unwrap_or_default();
                if !allowed
                    .iter()
                    .any(|a| a.as_bytes().eq_ignore_ascii_case(origin))
                {
                    return Err(HandshakeError::OriginNotAllowed);
                }
            }
            _ => return Err(HandshakeError::DuplicateOrigin),
        }
    }
    // Server preference wins: walk our list, take the first the client offered.
    let offered: Vec<&[u8]> = headers.tokens("sec-websocket-protocol").collect();
    let protocol = config
        .protocols
        .iter()
        .find(|ours| offered.contains(&ours.as_bytes()))
        .cloned();
    let deflate = match &config.compression {
        Some(policy) => {
            let offers = extensions::parse(headers.get_all("sec-websocket-extensions"))
                .map_err(HandshakeError::BadExtensions)?;
            extensions::negotiate_server(&offers, policy)
        }
        None => None,
    };
    Ok(Accepted {
        accept: accept_key(key),
        protocol,
        deflate,
    })
}
// ANCHOR_END: accept

/// Is `key` the base64 of exactly 16 bytes (§4.1), in canonical form?
fn is_valid_key(key: &[u8]) -> bool {
    // 16 bytes are 24 base64 characters, the last two "==".
    key.len() == 24
        && base64::engine::general_purpose::STANDARD
            .decode(key)
            .is_ok_and(|bytes| bytes.len() == 16)
}

impl Accepted {
    // ANCHOR: response_head
    /// The `101 Switching Protocols` head that completes the handshake.
    pub fn response_head(&self) -> ResponseHead {
        let head = ResponseHead::new(StatusCode::SWITCHING_PROTOCOLS)
            .header("Upgrade", "websocket")
            .header("Connection", "Upgrade")
            .header("Sec-WebSocket-Accept", self.accept.clone());
        let head = match &self.protocol {
            Some(p) => head.header("Sec-WebSocket-Protocol", p.clone()),
            None => head,
        };
        match &self.deflate {
            Some(d) => head.header("Sec-WebSocket-Extensions", d.response_value()),
            None => head,
        }
    }
    // ANCHOR_END: response_head
}

/// Why a client refused the server's answer to its handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientHandshakeError {
    /// The status is not 101 (the server refused, or is not a WebSocket server).
    Status(StatusCode),
    /// `Upgrade` does not list `websocket`.
    NoUpgrade,
    /// `Connection` does not list `upgrade`.
    NoConnectionUpgrade,
    /// `Sec-WebSocket-Accept` is missing or wrong: the server did not
    /// understand our request, or the answer is not for it.
    BadAccept,
    /// The server chose a subprotocol we did not offer (or several).
    UnexpectedProtocol,
    /// The server enabled an extension; we offered none (§4.1).
    UnexpectedExtension,
    /// The server's answer to our permessage-deflate offer is invalid
    /// (RFC 7692 §7.1): the connection must be failed.
    BadExtension(ExtensionError),
}

impl fmt::Display for ClientHandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientHandshakeError::Status(s) => write!(f, "server answered {s}, not 101"),
            ClientHandshakeError::NoUpgrade => f.write_str("response lacks Upgrade: websocket"),
            ClientHandshakeError::NoConnectionUpgrade => {
                f.write_str("response lacks Connection: upgrade")
            }
            ClientHandshakeError::BadAccept => f.write_str("wrong Sec-WebSocket-Accept"),
            ClientHandshakeError::UnexpectedProtocol => {
                f.write_str("server chose a subprotocol we did not offer")
            }
            ClientHandshakeError::UnexpectedExtension => {
                f.write_str("server enabled an extension we did not offer")
            }
            ClientHandshakeError::BadExtension(e) => write!(f, "invalid extension answer: {e}"),
        }
    }
}

impl std::error::Error for ClientHandshakeError {}

/// Draws a fresh `Sec-WebSocket-Key`: 16 random bytes, base64-encoded.
///
/// The key only has to differ between handshakes so a cache cannot answer
/// with an old 101 (§4.1); like the masking keys (see `protocol.rs`) it
/// comes from std's OS-seeded `RandomState`, so no extra dependency.
pub fn generate_key() -> String {
    let seed = RandomState::new();
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&seed.hash_one(1u8).to_le_bytes());
    bytes[8..].copy_from_slice(&seed.hash_one(2u8).to_le_bytes());
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A client's handshake request, and the checks its answer must pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRequest {
    /// `Host` (with `:port` unless it is the default 80).
    pub host: String,
    /// The request-target, e.g. `/chat?nick=ada`.
    pub path: String,
    /// Our `Sec-WebSocket-Key`.
    pub key: String,
    /// Subprotocols to offer, most preferred first.
    pub protocols: Vec<String>,
    /// An `Origin` to send (browsers always do; other clients may).
    pub origin: Option<String>,
    /// Offer permessage-deflate on these terms (`None`: offer nothing).
    pub compression: Option<DeflateConfig>,
}

/// What the server's 101 agreed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The subprotocol it chose, if any.
    pub protocol: Option<String>,
    /// permessage-deflate as agreed, if it was.
    pub deflate: Option<DeflateParams>,
}

impl ClientRequest {
    /// A request for `path` on `host` with a fresh key.
    pub fn new(host: &str, path: &str) -> Self {
        ClientRequest {
            host: host.to_string(),
            path: path.to_string(),
            key: generate_key(),
            protocols: Vec::new(),
            origin: None,
            compression: None,
        }
    }

    // ANCHOR: client_request
    /// Appends the request head to `out`.
    ///
    /// Host, path, origin and protocols come from our own caller, not the
    /// network, but a CR or LF in them would still break the head apart,
    /// so such characters are dropped.
    pub fn encode(&self, out: &mut BytesMut) {
        let clean = |s: &str| s.replace(['\r', '\n'], "");
        let path = if self.path.is_empty() {
            "/".to_string()
        } else {
            clean(&self.path).replace(' ', "%20")
        };
        let mut head = format!(
            "GET {path} HTTP/1.1\r\n\
             Host: {}\r\n\
             Upgrade: websocket\r\n\
             Connection: Upgrade\r\n\
             Sec-WebSocket-Key: {}\r\n\
             Sec-WebSocket-Version: {VERSION}\r\n",
            clean(&self.host),
            self.key,
        );
        if !self.protocols.is_empty() {
            head.push_str(&format!(
                "Sec-WebSocket-Protocol: {}\r\n",
                clean(&self.protocols.join(", "))
            ));
        }
        if let Some(origin) = &self.origin {
            head.push_str(&format!("Origin: {}\r\n", clean(origin)));
        }
        if let Some(config) = &self.compression.filter(|_| extensions::AVAILABLE) {
            head.push_str(&format!(
                "Sec-WebSocket-Extensions: {}\r\n",
                extensions::client_offer(config)
            ));
        }
        head.push_str("\r\n");
        out.put_slice(head.as_bytes());
    }
    // ANCHOR_END: client_request

    // ANCHOR: verify
    /// Checks the server's answer (§4.1, the client's side) and returns the
    /// subprotocol it chose, if any. A client that offers compression
    /// must use [`verify_negotiated`](Self::verify_negotiated) instead, to
    /// learn whether the server agreed.
    ///
    /// # Errors
    /// The first check the answer fails.
    pub fn verify(
        &self,
        response: &ResponseView<'_>,
    ) -> Result<Option<String>, ClientHandshakeError> {
        self.verify_negotiated(response).map(|n| n.protocol)
    }

    /// Checks the server's answer like [`verify`](Self::verify) and returns
    /// everything it agreed to, permessage-deflate included.
    ///
    /// # Errors
    /// The first check the answer fails.
    pub fn verify_negotiated(
        &self,
        response: &ResponseView<'_>,
    ) -> Result<Negotiated, ClientHandshakeError> {
        if response.status() != StatusCode::SWITCHING_PROTOCOLS {
            return Err(ClientHandshakeError::Status(response.status()));
        }
        let headers = response.headers();
        if !headers.has_token("upgrade", "websocket") {
            return Err(ClientHandshakeError::NoUpgrade);
        }
        if !headers.has_token("connection", "upgrade") {
            return Err(ClientHandshakeError::NoConnectionUpgrade);
        }
        let expected = accept_key(self.key.as_bytes());
        let mut accepts = headers.get_all("sec-websocket-accept");
        match (accepts.next(), accepts.next()) {
            (Some(a), None) if a == expected.as_bytes() => {}
            _ => return Err(ClientHandshakeError::BadAccept),
        }
        let deflate = match &self.compression.filter(|_| extensions::AVAILABLE) {
            None if headers.tokens("sec-websocket-extensions").next().is_some() => {
                return Err(ClientHandshakeError::UnexpectedExtension)
            }
            None => None,
            Some(config) => extensions::parse(headers.get_all("sec-websocket-extensions"))
                .and_then(|answer| extensions::negotiate_client(&answer, config))
                .map_err(ClientHandshakeError::BadExtension)?,
        };
        let mut chosen = headers.tokens("sec-websocket-protocol");
        let protocol = match (chosen.next(), chosen.next()) {
            (None, _) => Ok(None),
            (Some(p), None) => self
                .protocols
                .iter()
                .find(|ours| ours.as_bytes() == p)
                .cloned()
                .map(Some)
                .ok_or(ClientHandshakeError::UnexpectedProtocol),
            (Some(_), Some(_)) => Err(ClientHandshakeError::UnexpectedProtocol),
        }?;
        Ok(Negotiated { protocol, deflate })
    }
    // ANCHOR_END: verify
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{RequestParser, ResponseParser, Status};

    #[test]
    fn rfc_6455_example() {
        // RFC 6455 §1.3.
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn keys_are_valid_and_fresh() {
        let a = generate_key();
        let b = generate_key();
        assert!(is_valid_key(a.as_bytes()), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn client_and_server_agree() {
        let mut req = ClientRequest::new("example.org:8080", "/chat?nick=ada");
        req.protocols = vec!["v2.chat".into(), "v1.chat".into()];
        req.origin = Some("http://example.org".into());
        let mut wire = BytesMut::new();
        req.encode(&mut wire);
        let Ok(Status::Complete(index)) = RequestParser::default().parse(&wire) else {
            panic!("our own request must parse: {wire:?}");
        };
        let config = HandshakeConfig {
            protocols: vec!["v1.chat".into(), "v2.chat".into()],
            allowed_origins: Some(vec!["HTTP://EXAMPLE.ORG".into()]),
            ..HandshakeConfig::default()
        };
        let accepted = accept(&index.view(&wire), &config).unwrap();
        assert_eq!(accepted.protocol.as_deref(), Some("v1.chat"));
        let mut answer = BytesMut::new();
        accepted
            .response_head()
            .encode(crate::http::BodyFraming::Empty, false, &mut answer)
            .unwrap();
        let Ok(Status::Complete(index)) = ResponseParser::default().parse(&answer) else {
            panic!("our own response must parse");
        };
        let chosen = req.verify(&index.view_response(&answer)).unwrap();
        assert_eq!(chosen.as_deref(), Some("v1.chat"));
    }
}
