/// Size limits for one request. Every limit turns into a precise status
/// code instead of unbounded memory, so a hostile client costs at most
/// these many bytes.
///
/// ```
/// use realtime_events::http::Limits;
/// let strict = Limits { max_head_bytes: 4096, ..Limits::default() };
/// assert_eq!(strict.max_headers, Limits::default().max_headers);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of the whole head, request line and headers (and any empty
    /// lines before them). Over it: 431. 16 KiB holds a browser request
    /// with a generous cookie jar; nginx and Node.js stop near there too.
    pub max_head_bytes: usize,
    /// Number of header fields. Over it: 431. Real browsers send 10–20.
    pub max_headers: usize,
    /// Length of the request-target. Over it: 414. 8 KiB is the length
    /// RFC 9112 §3 recommends every server support at the least.
    pub max_target_len: usize,
    /// Length of the method token. Longer: 501, since no method we
    /// implement is that long.
    pub max_method_len: usize,
    /// Bytes of a request body, declared or chunked. Over it: 413.
    pub max_body_bytes: u64,
    /// Length of one chunk-size line, extensions included. Over it: 400.
    pub max_chunk_line: usize,
    /// Bytes of the trailer section of a chunked body. Over it: 431.
    pub max_trailer_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head_bytes: 16 * 1024,
            max_headers: 100,
            max_target_len: 8 * 1024,
            max_method_len: 32,
            max_body_bytes: 1024 * 1024,
            max_chunk_line: 1024,
            max_trailer_bytes: 8 * 1024,
        }
    }
}
