/// Size limits for one request. Every limit turns into a precise status
/// code instead of unbounded memory, so a hostile client costs at most
/// these many bytes.
///
///
/// `#[non_exhaustive]`: start from [`Limits::default`] (or the `const`
/// [`Limits::DEFAULT`]) and chain `with_*` setters, so code keeps compiling
/// when a limit is added.
///
/// ```
/// use realtime_events::http::Limits;
/// let strict = Limits::default().with_max_head_bytes(4096);
/// assert_eq!(strict.max_headers, Limits::default().max_headers);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
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
        Limits::DEFAULT
    }
}

/// Chained setters, one per field; `const` so that a limit can be a
/// constant (the fuzz targets' are).
impl Limits {
    /// The defaults, as a constant.
    pub const DEFAULT: Limits = Limits {
        max_head_bytes: 16 * 1024,
        max_headers: 100,
        max_target_len: 8 * 1024,
        max_method_len: 32,
        max_body_bytes: 1024 * 1024,
        max_chunk_line: 1024,
        max_trailer_bytes: 8 * 1024,
    };

    /// Sets [`Limits::max_head_bytes`].
    pub const fn with_max_head_bytes(mut self, n: usize) -> Self {
        self.max_head_bytes = n;
        self
    }

    /// Sets [`Limits::max_headers`].
    pub const fn with_max_headers(mut self, n: usize) -> Self {
        self.max_headers = n;
        self
    }

    /// Sets [`Limits::max_target_len`].
    pub const fn with_max_target_len(mut self, n: usize) -> Self {
        self.max_target_len = n;
        self
    }

    /// Sets [`Limits::max_method_len`].
    pub const fn with_max_method_len(mut self, n: usize) -> Self {
        self.max_method_len = n;
        self
    }

    /// Sets [`Limits::max_body_bytes`].
    pub const fn with_max_body_bytes(mut self, n: u64) -> Self {
        self.max_body_bytes = n;
        self
    }

    /// Sets [`Limits::max_chunk_line`].
    pub const fn with_max_chunk_line(mut self, n: usize) -> Self {
        self.max_chunk_line = n;
        self
    }

    /// Sets [`Limits::max_trailer_bytes`].
    pub const fn with_max_trailer_bytes(mut self, n: usize) -> Self {
        self.max_trailer_bytes = n;
        self
    }
}
