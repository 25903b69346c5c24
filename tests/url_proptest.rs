//! Property tests for the client URL parser: every URL we build from
//! parts parses back to those parts, whatever parses is a URL we could
//! have built, and the things it must refuse are refused wherever they
//! appear.

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use realtime_events::http::{Scheme, Url, UrlError};

fn scheme() -> impl Strategy<Value = (Scheme, String)> {
    (
        prop_oneof![
            Just(Scheme::Ws),
            Just(Scheme::Wss),
            Just(Scheme::Http),
            Just(Scheme::Https)
        ],
        any::<bool>(),
    )
        .prop_map(|(s, upper)| {
            let written = if upper {
                s.as_str().to_ascii_uppercase()
            } else {
                s.as_str().to_string()
            };
            (s, written)
        })
}

/// A host as written, and as the parser keeps it.
fn host() -> impl Strategy<Value = (String, String)> {
    prop_oneof![
        "[a-zA-Z0-9-]{1,8}(\\.[a-zA-Z0-9_~-]{1,8}){0,2}"
            .prop_map(|h| (h.clone(), h.to_lowercase())),
        any::<[u8; 4]>().prop_map(|b| {
            let h = Ipv4Addr::from(b).to_string();
            (h.clone(), h)
        }),
        any::<u128>().prop_map(|b| {
            let h = format!("[{}]", Ipv6Addr::from(b));
            (h.clone(), h)
        }),
    ]
}

/// Path and query as written, and the request-target the parser makes.
fn path() -> impl Strategy<Value = (String, String)> {
    prop_oneof![
        Just((String::new(), "/".to_string())),
        "\\?[!-\"$-~]{0,10}".prop_map(|q| (q.clone(), format!("/{q}"))),
        "/[!-\"$-~]{0,20}".prop_map(|p| (p.clone(), p)),
    ]
}

proptest! {
    #[test]
    fn built_urls_parse_back(
        (scheme, written_scheme) in scheme(),
        (host, kept_host) in host(),
        port in proptest::option::of(1u16..),
        (path, target) in path(),
    ) {
        let port_part = port.map(|p| format!(":{p}")).unwrap_or_default();
        let input = format!("{written_scheme}://{host}{port_part}{path}");
        let url = Url::parse(&input).unwrap();
        prop_assert_eq!(url.scheme(), scheme);
        prop_assert_eq!(url.host(), kept_host.as_str());
        prop_assert_eq!(url.port(), port.unwrap_or(scheme.default_port()));
        prop_assert_eq!(url.path(), target.as_str());
        // The Host header, with the scheme and path, names the same place.
        let again = Url::parse(&format!("{}://{}{}", scheme, url.host_header(), url.path())).unwrap();
        prop_assert_eq!(again, url);
    }

    #[test]
    fn whatever_parses_could_have_been_built(input in "(?s)((ws|wss|http|HTTPS|ftp)://)?[ -~\\[\\]:@#\t\u{e9}]{0,30}") {
        if let Ok(url) = Url::parse(&input) {
            prop_assert!(url.path().starts_with('/'));
            prop_assert!(url.path().bytes().all(|b| b.is_ascii_graphic() && b != b'#'));
            prop_assert!(url.port() != 0);
            prop_assert!(!url.host().is_empty() && !url.host().contains(['@', ':']) || url.host().starts_with('['));
            let rebuilt = format!("{}://{}:{}{}", url.scheme(), url.host(), url.port(), url.path());
            prop_assert_eq!(Url::parse(&rebuilt), Ok(url));
        }
    }

    #[test]
    fn refusals_hold_anywhere(
        (_, written_scheme) in scheme(),
        (host, _) in host(),
        (path, _) in path(),
        bad in prop_oneof![Just(" "), Just("\t"), Just("\u{7f}"), Just("\u{e9}")],
        at in any::<prop::sample::Index>(),
    ) {
        let input = format!("{written_scheme}://{host}{path}");
        let i = at.index(input.len() + 1);
        let mut spaced = input.clone();
        spaced.insert_str(i, bad);
        prop_assert_eq!(Url::parse(&spaced), Err(UrlError::InvalidByte));
        let userinfo = format!("{written_scheme}://user@{host}{path}");
        prop_assert_eq!(Url::parse(&userinfo), Err(UrlError::Userinfo));
        let fragment = format!("{input}#top");
        prop_assert_eq!(Url::parse(&fragment), Err(UrlError::Fragment));
    }
}
