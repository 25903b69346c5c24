//! `Sec-WebSocket-Extensions` (RFC 6455 §9.1) and the negotiation of
//! permessage-deflate (RFC 7692 §5–7), sans-IO, for both roles.
//!
//! A client offers extensions, each with parameters, in order of
//! preference; several offers of the same extension may follow each other
//! as fallbacks. The server picks at most one offer per extension and
//! answers with the parameters it agreed to. Each parameter is a promise
//! about one direction: `server_no_context_takeover` says the server resets
//! its compressor after every message, `client_max_window_bits=10` says the
//! client compresses with a window of at most 2^10 bytes, and so on.
//!
//! The result of a negotiation is a [`DeflateParams`], which the codec in
//! [`deflate`](super::deflate) turns into a compressor and a decompressor.

use std::fmt;

/// The extension's registered name.
pub const PERMESSAGE_DEFLATE: &str = "permessage-deflate";

/// At most this many extension offers are looked at, so a huge header
/// costs a bounded amount of work (the HTTP layer already caps its size).
pub const MAX_OFFERS: usize = 32;

/// One extension in a `Sec-WebSocket-Extensions` list: a name and its
/// parameters, each with a value or without one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    /// The extension's name, e.g. `permessage-deflate`.
    pub name: String,
    /// `name` or `name=value` parameters, in order; quoted values are
    /// unquoted.
    pub params: Vec<(String, Option<String>)>,
}

/// A `Sec-WebSocket-Extensions` value that breaks the grammar of RFC 6455
/// §9.1, or a permessage-deflate negotiation that went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtensionError {
    /// The header is not a list of `token *(";" param)` (with the byte
    /// offset where parsing stopped).
    Syntax(usize),
    /// More than [`MAX_OFFERS`] extensions.
    TooManyOffers,
    /// The server answered with an extension we did not offer, or more
    /// than one (client side).
    Unexpected(String),
    /// A parameter that is not defined, given twice, or with a value it may
    /// not have (client side: the server's answer is invalid, §7.1).
    BadParam(String),
    /// The server left out a parameter we asked for (client side).
    MissingParam(&'static str),
}

impl fmt::Display for ExtensionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtensionError::Syntax(at) => {
                write!(f, "malformed Sec-WebSocket-Extensions at byte {at}")
            }
            ExtensionError::TooManyOffers => {
                write!(f, "more than {MAX_OFFERS} extension offers")
            }
            ExtensionError::Unexpected(name) => write!(f, "unexpected extension {name:?}"),
            ExtensionError::BadParam(p) => write!(f, "invalid permessage-deflate parameter {p:?}"),
            ExtensionError::MissingParam(p) => write!(f, "the answer lacks {p}"),
        }
    }
}

impl std::error::Error for ExtensionError {}

/// RFC 7230's `tchar`: what a token may consist of.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

// ANCHOR: parse_extensions
/// Parses the values of every `Sec-WebSocket-Extensions` field (one item
/// per header line; a field may itself list several extensions, separated
/// by commas).
///
/// ```text
/// permessage-deflate; client_max_window_bits, permessage-deflate
/// ^ one offer with a valueless parameter      ^ a fallback offer
/// ```
///
/// # Errors
/// [`ExtensionError::Syntax`] for anything off the grammar, including a
/// quoted value whose content is not a token (RFC 6455 §9.1 requires it),
/// and [`ExtensionError::TooManyOffers`].
pub fn parse<'a>(
    values: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<Extension>, ExtensionError> {
    let mut out = Vec::new();
    for value in values {
        let mut p = Cursor { s: value, pos: 0 };
        loop {
            p.skip_ows();
            if p.eat(b',') {
                continue; // empty list elements are allowed (RFC 7230 §7)
            }
            if p.done() {
                break;
            }
            if out.len() == MAX_OFFERS {
                return Err(ExtensionError::TooManyOffers);
            }
            let name = p.token()?;
            let mut params = Vec::new();
            loop {
                p.skip_ows();
                if !p.eat(b';') {
                    break;
                }
                p.skip_ows();
                let key = p.token()?;
                p.skip_ows();
                let value = if p.eat(b'=') {
                    p.skip_ows();
                    Some(p.value()?)
                } else {
                    None
                };
                params.push((key, value));
            }
            out.push(Extension { name, params });
            p.skip_ows();
            if !p.done() && !p.eat(b',') {
                return Err(ExtensionError::Syntax(p.pos));
            }
        }
    }
    Ok(out)
}
// ANCHOR_END: parse_extensions

/// A position in one header value.
struct Cursor<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn done(&self) -> bool {
        self.pos >= self.s.len()
    }

    fn skip_ows(&mut self) {
        while matches!(self.s.get(self.pos), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.s.get(self.pos) == Some(&b);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn token(&mut self) -> Result<String, ExtensionError> {
        let start = self.pos;
        while self.s.get(self.pos).is_some_and(|&b| is_tchar(b)) {
            self.pos += 1;
        }
        if self.pos == start {
            return Err(ExtensionError::Syntax(start));
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.pos]).into_owned())
    }

    /// A token, or a quoted string whose unescaped content is a token.
    fn value(&mut self) -> Result<String, ExtensionError> {
        if !self.eat(b'"') {
            return self.token();
        }
        let start = self.pos;
        let mut value = Vec::new();
        loop {
            match self.s.get(self.pos) {
                Some(b'"') => break,
                Some(b'\\') => {
                    let Some(&c) = self.s.get(self.pos + 1) else {
                        return Err(ExtensionError::Syntax(self.pos));
                    };
                    value.push(c);
                    self.pos += 2;
                }
                Some(&c) => {
                    value.push(c);
                    self.pos += 1;
                }
                None => return Err(ExtensionError::Syntax(start)),
            }
        }
        self.pos += 1; // the closing quote
        if value.is_empty() || !value.iter().all(|&b| is_tchar(b)) {
            return Err(ExtensionError::Syntax(start));
        }
        Ok(String::from_utf8_lossy(&value).into_owned())
    }
}

// ANCHOR: deflate_config
/// What an endpoint is willing to do with permessage-deflate: the offer a
/// client makes, the answers a server accepts, and how it compresses what
/// it sends. Named from our side ("own") and the peer's, so one value
/// serves both roles; the doc of each field says which RFC parameter it
/// becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeflateConfig {
    /// Reset our compressor after every message (the server's
    /// `server_no_context_takeover`, the client's
    /// `client_no_context_takeover`). Costs ratio on similar messages,
    /// saves the compressor's ~260 KiB between messages.
    pub own_no_context_takeover: bool,
    /// The largest LZ77 window (2^bits bytes, 9–15) our compressor uses.
    pub own_max_window_bits: u8,
    /// Ask the peer to reset its compressor after every message, so our
    /// decompressor holds no window between messages.
    pub peer_no_context_takeover: bool,
    /// Ask the peer to compress with a window of at most 2^bits bytes
    /// (8–15): the window our decompressor must keep.
    pub peer_max_window_bits: u8,
    /// zlib's compression level, 0 (store) to 9 (smallest).
    pub level: u32,
    /// Messages shorter than this go out uncompressed: for a few bytes the
    /// deflate block overhead outweighs the gain.
    pub threshold: usize,
}

impl Default for DeflateConfig {
    /// No context takeover for our own compressor (so a connection holds
    /// no compressor between messages), the peer's choice for its own,
    /// full windows, level 6, and messages under 64 bytes uncompressed.
    fn default() -> Self {
        DeflateConfig {
            own_no_context_takeover: true,
            own_max_window_bits: 15,
            peer_no_context_takeover: false,
            peer_max_window_bits: 15,
            level: 6,
            threshold: 64,
        }
    }
}
// ANCHOR_END: deflate_config

impl DeflateConfig {
    /// Sets [`DeflateConfig::own_no_context_takeover`].
    pub fn with_own_no_context_takeover(mut self, on: bool) -> Self {
        self.own_no_context_takeover = on;
        self
    }

    /// Sets [`DeflateConfig::own_max_window_bits`] (clamped to 9–15).
    pub fn with_own_max_window_bits(mut self, bits: u8) -> Self {
        self.own_max_window_bits = bits.clamp(9, 15);
        self
    }

    /// Sets [`DeflateConfig::peer_no_context_takeover`].
    pub fn with_peer_no_context_takeover(mut self, on: bool) -> Self {
        self.peer_no_context_takeover = on;
        self
    }

    /// Sets [`DeflateConfig::peer_max_window_bits`] (clamped to 8–15).
    pub fn with_peer_max_window_bits(mut self, bits: u8) -> Self {
        self.peer_max_window_bits = bits.clamp(8, 15);
        self
    }

    /// Sets [`DeflateConfig::level`] (clamped to 0–9).
    pub fn with_level(mut self, level: u32) -> Self {
        self.level = level.min(9);
        self
    }

    /// Sets [`DeflateConfig::threshold`].
    pub fn with_threshold(mut self, bytes: usize) -> Self {
        self.threshold = bytes;
        self
    }
}

// ANCHOR: deflate_params
/// What a handshake agreed on: the four parameters of RFC 7692 §7.1 as
/// both ends now understand them, plus our local send policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server resets its compressor after each message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after each message.
    pub client_no_context_takeover: bool,
    /// The server compresses with a window of at most 2^bits bytes.
    pub server_max_window_bits: u8,
    /// The client compresses with a window of at most 2^bits bytes.
    pub client_max_window_bits: u8,
    /// Our local policy (level, threshold, own context takeover).
    pub config: DeflateConfig,
}
// ANCHOR_END: deflate_params

impl DeflateParams {
    /// The response's `Sec-WebSocket-Extensions` value for these params.
    pub fn response_value(&self) -> String {
        let mut s = String::from(PERMESSAGE_DEFLATE);
        if self.server_no_context_takeover {
            s.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            s.push_str("; client_no_context_takeover");
        }
        if self.server_max_window_bits < 15 {
            s.push_str(&format!(
                "; server_max_window_bits={}",
                self.server_max_window_bits
            ));
        }
        if self.client_max_window_bits < 15 {
            s.push_str(&format!(
                "; client_max_window_bits={}",
                self.client_max_window_bits
            ));
        }
        s
    }
}

/// Is permessage-deflate compiled in (the `deflate` cargo feature)?
pub const AVAILABLE: bool = cfg!(feature = "deflate");

/// Parses a window-bits value: decimal 8–15, no sign, no leading zero.
fn window_bits(value: &str) -> Option<u8> {
    match value.as_bytes() {
        [b'8'] => Some(8),
        [b'9'] => Some(9),
        [b'1', d @ b'0'..=b'5'] => Some(10 + (d - b'0')),
        _ => None,
    }
}

/// The four parameters of one offer or answer, each seen at most once.
#[derive(Debug, Default)]
struct Seen {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: present without a value (allowed in an offer only).
    client_max_window_bits: Option<Option<u8>>,
}

/// Reads the parameters of one permessage-deflate element. `None` if a
/// parameter is unknown, repeated, or has a value it may not have (§7.1:
/// the offer must then be declined, or the answer refused).
fn read_params(params: &[(String, Option<String>)], is_offer: bool) -> Option<Seen> {
    let mut seen = Seen::default();
    for (key, value) in params {
        let value = value.as_deref();
        match (key.as_str(), value) {
            ("server_no_context_takeover", None) if !seen.server_no_context_takeover => {
                seen.server_no_context_takeover = true;
            }
            ("client_no_context_takeover", None) if !seen.client_no_context_takeover => {
                seen.client_no_context_takeover = true;
            }
            ("server_max_window_bits", Some(v)) if seen.server_max_window_bits.is_none() => {
                seen.server_max_window_bits = Some(window_bits(v)?);
            }
            ("client_max_window_bits", v) if seen.client_max_window_bits.is_none() => {
                seen.client_max_window_bits = Some(match v {
                    Some(v) => Some(window_bits(v)?),
                    None if is_offer => None,
                    None => return None,
                });
            }
            _ => return None,
        }
    }
    Some(seen)
}

// ANCHOR: negotiate_server
/// The server's side (RFC 7692 §5.1, §7.1): walks the client's offers in
/// its order of preference and accepts the first permessage-deflate offer
/// it can honour under `config`. Offers with unknown, repeated or invalid
/// parameters are declined, not refused: the client listed fallbacks for
/// that. `None` means the connection goes on without compression.
///
/// A client asking `server_max_window_bits=8` is answered with 8, and our
/// compressor runs with zlib's smallest window, 9 bits: zlib never emits a
/// match further back than the window size minus 262 bytes (its
/// `MAX_DIST`), so every distance stays under 250 and fits the client's
/// 256-byte window. Declining instead would turn compression off for such
/// clients (Autobahn's 13.3 and 13.5 ask for 8 bits).
pub fn negotiate_server(offers: &[Extension], config: &DeflateConfig) -> Option<DeflateParams> {
    if !AVAILABLE {
        return None;
    }
    offers
        .iter()
        .filter(|e| e.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE))
        .find_map(|offer| {
            let seen = read_params(&offer.params, true)?;
            let server_max = seen
                .server_max_window_bits
                .unwrap_or(15)
                .min(config.own_max_window_bits.clamp(9, 15));
            // We may limit the client's window only if it said it can be
            // limited (client_max_window_bits present), and never above the
            // value it offered.
            let client_max = match seen.client_max_window_bits {
                None => 15,
                Some(offered) => offered.unwrap_or(15).min(config.peer_max_window_bits),
            };
            Some(DeflateParams {
                server_no_context_takeover: seen.server_no_context_takeover
                    || config.own_no_context_takeover,
                client_no_context_takeover: config.peer_no_context_takeover,
                server_max_window_bits: server_max,
                client_max_window_bits: client_max,
                config: *config,
            })
        })
}
// ANCHOR_END: negotiate_server

/// The client's offer: one permessage-deflate element. We always say
/// `client_max_window_bits` (we can compress with any window the server
/// asks for) and ask for what `config` wants of the server.
pub fn client_offer(config: &DeflateConfig) -> String {
    let mut s = String::from(PERMESSAGE_DEFLATE);
    if config.own_no_context_takeover {
        s.push_str("; client_no_context_takeover");
    }
    if config.peer_no_context_takeover {
        s.push_str("; server_no_context_takeover");
    }
    if config.peer_max_window_bits < 15 {
        s.push_str(&format!(
            "; server_max_window_bits={}",
            config.peer_max_window_bits
        ));
    }
    s.push_str("; client_max_window_bits");
    s
}

// ANCHOR: negotiate_client
/// The client's check of the server's answer to [`client_offer`] (RFC 7692
/// §7.1). `Ok(None)`: the server declined (no extension in the answer).
///
/// # Errors
/// Anything the server may not answer: another extension, more than one,
/// an unknown or repeated parameter, a value out of range or above what we
/// asked for, a parameter we asked for left out. The client must then fail
/// the connection (§7.1, §9.1 of RFC 6455).
pub fn negotiate_client(
    answer: &[Extension],
    config: &DeflateConfig,
) -> Result<Option<DeflateParams>, ExtensionError> {
    let Some(first) = answer.first() else {
        return Ok(None);
    };
    if answer.len() > 1 || !first.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE) {
        let name = answer
            .iter()
            .map(|e| e.name.as_str())
            .find(|n| !n.eq_ignore_ascii_case(PERMESSAGE_DEFLATE))
            .unwrap_or(PERMESSAGE_DEFLATE);
        return Err(ExtensionError::Unexpected(name.to_owned()));
    }
    let bad = || ExtensionError::BadParam(format_params(&first.params));
    let seen = read_params(&first.params, false).ok_or_else(bad)?;
    if config.peer_no_context_takeover && !seen.server_no_context_takeover {
        return Err(ExtensionError::MissingParam("server_no_context_takeover"));
    }
    let server_max = match seen.server_max_window_bits {
        Some(bits) if bits > config.peer_max_window_bits => return Err(bad()),
        Some(bits) => bits,
        None if config.peer_max_window_bits < 15 => {
            return Err(ExtensionError::MissingParam("server_max_window_bits"))
        }
        None => 15,
    };
    let client_max = seen.client_max_window_bits.flatten().unwrap_or(15);
    Ok(Some(DeflateParams {
        server_no_context_takeover: seen.server_no_context_takeover,
        client_no_context_takeover: seen.client_no_context_takeover
            || config.own_no_context_takeover,
        server_max_window_bits: server_max,
        client_max_window_bits: client_max,
        config: *config,
    }))
}
// ANCHOR_END: negotiate_client

fn format_params(params: &[(String, Option<String>)]) -> String {
    params
        .iter()
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => k.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> Result<Vec<Extension>, ExtensionError> {
        parse([s.as_bytes()])
    }

    #[test]
    fn parses_lists_params_and_quotes() {
        let got = one("permessage-deflate; client_max_window_bits, permessage-deflate ;server_max_window_bits=\"10\" ,x").unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].params, vec![("client_max_window_bits".into(), None)]);
        assert_eq!(
            got[1].params,
            vec![("server_max_window_bits".into(), Some("10".into()))]
        );
        assert_eq!(got[2].name, "x");
        assert_eq!(
            one("a; b=\"\\1\\0\"").unwrap()[0].params[0].1.as_deref(),
            Some("10")
        );
        assert_eq!(one(" , ,").unwrap(), vec![]);
    }

    #[test]
    fn refuses_bad_syntax() {
        for bad in [
            "permessage-deflate;",
            "permessage-deflate; =1",
            "permessage-deflate; a=",
            "permessage-deflate; a=\"1",
            "permessage-deflate; a=\"\"",
            "permessage-deflate; a=\"1 0\"",
            "permessage deflate",
            "permessage-deflate; a=b c",
            ";a",
            "permessage-deflate; a=\"x\\",
        ] {
            assert!(matches!(one(bad), Err(ExtensionError::Syntax(_))), "{bad}");
        }
        let many = vec!["x"; MAX_OFFERS + 1].join(",");
        assert_eq!(one(&many), Err(ExtensionError::TooManyOffers));
    }
}
