//! Arbitrary strings into the client URL parser: never a panic, and
//! whatever parses is a URL we could have written: it prints back (with
//! its port spelled out, or through its `Host` header) to the same value.

#![no_main]

use libfuzzer_sys::fuzz_target;
use realtime_events::http::Url;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(url) = Url::parse(input) else {
        return;
    };
    assert!(url.path().starts_with('/'));
    assert!(url
        .path()
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'#'));
    assert_ne!(url.port(), 0);
    let spelled = format!(
        "{}://{}:{}{}",
        url.scheme(),
        url.host(),
        url.port(),
        url.path()
    );
    assert_eq!(Url::parse(&spelled).as_ref(), Ok(&url));
    let via_host = format!("{}://{}{}", url.scheme(), url.host_header(), url.path());
    assert_eq!(Url::parse(&via_host), Ok(url));
});
