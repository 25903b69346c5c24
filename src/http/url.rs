//! The URLs our clients accept: `ws`, `wss`, `http` and `https`, with a
//! host, an optional port and a path. One parser for both clients, so a
//! URL means the same thing to `ws::connect` and to `EventSource`.
//!
//! It is deliberately narrower than the WHATWG URL standard: what a client
//! would have to guess about is refused, not repaired. No user name or
//! password (they would end up in a `Host` header), no fragment (it is never
//! sent, so it can only confuse), no whitespace or bytes outside visible
//! ASCII (percent-encode them), no port 0.
//!
//! ```
//! use realtime_events::http::{Scheme, Url};
//! let url = Url::parse("ws://[::1]:9001/chat?room=1").unwrap();
//! assert_eq!(url.scheme(), Scheme::Ws);
//! assert_eq!((url.host(), url.port()), ("[::1]", 9001));
//! assert_eq!(url.connect_host(), "::1");
//! assert_eq!(url.path(), "/chat?room=1");
//! assert_eq!(url.host_header(), "[::1]:9001");
//! ```

use std::fmt;
use std::net::Ipv6Addr;

/// The four schemes a client of ours may be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `ws://`: WebSocket over TCP.
    Ws,
    /// `wss://`: WebSocket over TLS.
    Wss,
    /// `http://`.
    Http,
    /// `https://`: HTTP over TLS.
    Https,
}

impl Scheme {
    /// The scheme as written in a URL, lowercase.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Ws => "ws",
            Scheme::Wss => "wss",
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// The port a URL without one means (RFC 6455 §3, RFC 9110 §4.2).
    pub fn default_port(self) -> u16 {
        if self.is_tls() {
            443
        } else {
            80
        }
    }

    /// Whether the scheme asks for TLS.
    pub fn is_tls(self) -> bool {
        matches!(self, Scheme::Wss | Scheme::Https)
    }

    fn from_name(name: &str) -> Option<Scheme> {
        [Scheme::Ws, Scheme::Wss, Scheme::Http, Scheme::Https]
            .into_iter()
            .find(|s| name.eq_ignore_ascii_case(s.as_str()))
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a string is not a URL we accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlError {
    /// No `scheme://` at the start, or a scheme other than `ws`, `wss`,
    /// `http` and `https`.
    UnknownScheme,
    /// A scheme this client does not speak (an `http` URL given to the
    /// WebSocket client): the scheme found.
    WrongScheme(Scheme),
    /// A space, a control character or a byte outside ASCII somewhere.
    InvalidByte,
    /// `user:password@` before the host.
    Userinfo,
    /// A `#fragment`.
    Fragment,
    /// No host.
    EmptyHost,
    /// A host with a character a name cannot have, or a bracketed IPv6
    /// address that does not parse.
    InvalidHost,
    /// A port that is empty, not a number, 0, or over 65535.
    InvalidPort,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::UnknownScheme => f.write_str("not a ws, wss, http or https URL"),
            UrlError::WrongScheme(s) => write!(f, "a {s} URL is not accepted here"),
            UrlError::InvalidByte => f.write_str("whitespace, control or non-ASCII byte"),
            UrlError::Userinfo => f.write_str("user name or password in the URL"),
            UrlError::Fragment => f.write_str("fragment (#...) in the URL"),
            UrlError::EmptyHost => f.write_str("no host"),
            UrlError::InvalidHost => f.write_str("invalid host"),
            UrlError::InvalidPort => f.write_str("invalid port"),
        }
    }
}

impl std::error::Error for UrlError {}

/// A parsed client URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    scheme: Scheme,
    /// As written, IPv6 brackets included, lowercased.
    host: String,
    port: u16,
    /// Path and query, starting with `/`.
    path: String,
}

// ANCHOR: parse
impl Url {
    /// Parses `scheme://host[:port][/path][?query]` for any of the four
    /// schemes. The scheme and host are case-insensitive (and kept
    /// lowercase); a missing path is `/`.
    ///
    /// # Errors
    /// A [`UrlError`] naming the first thing that is wrong.
    pub fn parse(input: &str) -> Result<Url, UrlError> {
        if !input.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(UrlError::InvalidByte);
        }
        let (scheme, rest) = input.split_once("://").ok_or(UrlError::UnknownScheme)?;
        let scheme = Scheme::from_name(scheme).ok_or(UrlError::UnknownScheme)?;
        if rest.contains('#') {
            return Err(UrlError::Fragment);
        }
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(UrlError::Userinfo);
        }
        let (host, port) = split_port(authority)?;
        check_host(host)?;
        let port = match port {
            None => scheme.default_port(),
            Some(digits) => parse_port(digits)?,
        };
        Ok(Url {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
            path: origin_form(path)?,
        })
    }

    /// [`parse`](Self::parse), then refuses a scheme not in `accepted`
    /// with [`UrlError::WrongScheme`].
    ///
    /// # Errors
    /// As `parse`, or `WrongScheme`.
    pub fn parse_for(input: &str, accepted: &[Scheme]) -> Result<Url, UrlError> {
        let url = Url::parse(input)?;
        if accepted.contains(&url.scheme) {
            Ok(url)
        } else {
            Err(UrlError::WrongScheme(url.scheme))
        }
    }
}
// ANCHOR_END: parse

impl Url {
    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host as written (lowercase), a bracketed IPv6 address with its
    /// brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The host to resolve or connect to: without IPv6 brackets.
    pub fn connect_host(&self) -> &str {
        self.host.trim_start_matches('[').trim_end_matches(']')
    }

    /// The port, the scheme's default if the URL has none.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Path and query, at least `/`: the request-target to send.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The `Host` header value: the host, and the port unless it is the
    /// scheme's default.
    pub fn host_header(&self) -> String {
        if self.port == self.scheme.default_port() {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// A path and query as a request-target in origin form: visible ASCII
/// only, no fragment, and a `/` in front if it has none (`""` and `"?q"`
/// become `"/"` and `"/?q"`). For a client given a path without a URL.
///
/// # Errors
/// [`UrlError::InvalidByte`] or [`UrlError::Fragment`].
pub fn origin_form(path: &str) -> Result<String, UrlError> {
    if !path.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(UrlError::InvalidByte);
    }
    if path.contains('#') {
        return Err(UrlError::Fragment);
    }
    Ok(if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    })
}

/// Splits `host[:port]`; the colon of a port comes after any `]`.
fn split_port(authority: &str) -> Result<(&str, Option<&str>), UrlError> {
    if let Some(inside) = authority.strip_prefix('[') {
        let close = inside.find(']').ok_or(UrlError::InvalidHost)?;
        let after = &inside[close + 1..];
        let host = &authority[..close + 2];
        return match after {
            "" => Ok((host, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((host, Some(port))),
                None => Err(UrlError::InvalidHost),
            },
        };
    }
    Ok(match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    })
}

/// A bracketed IPv6 address, or a name or IPv4 address made of letters,
/// digits, `-`, `.`, `_` and `~` (RFC 3986's unreserved characters; the
/// sub-delims it also allows have no place in a DNS name or a `Host`).
fn check_host(host: &str) -> Result<(), UrlError> {
    if host.is_empty() {
        return Err(UrlError::EmptyHost);
    }
    if let Some(v6) = host.strip_prefix('[') {
        let v6 = v6.strip_suffix(']').ok_or(UrlError::InvalidHost)?;
        return match v6.parse::<Ipv6Addr>() {
            Ok(_) => Ok(()),
            Err(_) => Err(UrlError::InvalidHost),
        };
    }
    if host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
    {
        Ok(())
    } else {
        Err(UrlError::InvalidHost)
    }
}

fn parse_port(digits: &str) -> Result<u16, UrlError> {
    // `u16::from_str` would take a leading `+`.
    if digits.is_empty() || digits.len() > 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UrlError::InvalidPort);
    }
    match digits.parse::<u16>() {
        Ok(0) | Err(_) => Err(UrlError::InvalidPort),
        Ok(port) => Ok(port),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(input: &str) -> (Scheme, String, u16, String, String) {
        let u = Url::parse(input).unwrap();
        (
            u.scheme(),
            u.host().to_string(),
            u.port(),
            u.path().to_string(),
            u.host_header(),
        )
    }

    #[test]
    fn accepts() {
        let cases = [
            (
                "ws://127.0.0.1:9001/runCase?case=1&agent=x",
                (
                    Scheme::Ws,
                    "127.0.0.1",
                    9001,
                    "/runCase?case=1&agent=x",
                    "127.0.0.1:9001",
                ),
            ),
            (
                "ws://example.org",
                (Scheme::Ws, "example.org", 80, "/", "example.org"),
            ),
            (
                "wss://example.org",
                (Scheme::Wss, "example.org", 443, "/", "example.org"),
            ),
            (
                "WSS://Example.org:80",
                (Scheme::Wss, "example.org", 80, "/", "example.org:80"),
            ),
            (
                "ws://[::1]:8080?x",
                (Scheme::Ws, "[::1]", 8080, "/?x", "[::1]:8080"),
            ),
            ("ws://[::1]", (Scheme::Ws, "[::1]", 80, "/", "[::1]")),
            (
                "HTTP://localhost",
                (Scheme::Http, "localhost", 80, "/", "localhost"),
            ),
            ("http://h:80/a", (Scheme::Http, "h", 80, "/a", "h")),
            ("https://h/feed", (Scheme::Https, "h", 443, "/feed", "h")),
            ("http://h:65535", (Scheme::Http, "h", 65535, "/", "h:65535")),
        ];
        for (input, (scheme, host, port, path, header)) in cases {
            assert_eq!(
                parts(input),
                (scheme, host.into(), port, path.into(), header.into()),
                "{input}"
            );
        }
        assert_eq!(Url::parse("ws://[::1]:1/").unwrap().connect_host(), "::1");
        assert_eq!(origin_form("feed?x").unwrap(), "/feed?x");
        assert_eq!(origin_form("/a b"), Err(UrlError::InvalidByte));
        assert_eq!(origin_form("/a#b"), Err(UrlError::Fragment));
    }

    #[test]
    fn refuses() {
        use UrlError::*;
        let cases = [
            ("", UnknownScheme),
            ("example.org/", UnknownScheme),
            ("ftp://a/", UnknownScheme),
            ("ws:/a", UnknownScheme),
            ("ws://", EmptyHost),
            ("ws://:80/", EmptyHost),
            ("ws://h:99999/", InvalidPort),
            ("ws://h:65536/", InvalidPort),
            ("ws://h:0/", InvalidPort),
            ("ws://h:/", InvalidPort),
            ("ws://h:+80/", InvalidPort),
            ("ws://h:8x/", InvalidPort),
            ("ws://u@h/", Userinfo),
            ("ws://u:p@h/", Userinfo),
            ("http://a/b#frag", Fragment),
            ("http://a/b c", InvalidByte),
            (" http://a/", InvalidByte),
            ("http://a/\t", InvalidByte),
            ("http://a/é", InvalidByte),
            ("http://a,b/", InvalidHost),
            ("http://[::1/", InvalidHost),
            ("http://[::1]x/", InvalidHost),
            ("http://[nope]/", InvalidHost),
            ("http://a:1:2/", InvalidPort),
        ];
        for (input, want) in cases {
            assert_eq!(Url::parse(input), Err(want), "{input:?}");
        }
    }

    #[test]
    fn scheme_filter() {
        let ws = [Scheme::Ws, Scheme::Wss];
        assert!(Url::parse_for("wss://h/", &ws).is_ok());
        assert_eq!(
            Url::parse_for("http://h/", &ws),
            Err(UrlError::WrongScheme(Scheme::Http))
        );
        assert_eq!(Url::parse_for("x", &ws), Err(UrlError::UnknownScheme));
    }
}
