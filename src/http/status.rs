/// An HTTP status code with its standard reason phrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatusCode(pub u16);

impl StatusCode {
    /// 101: the WebSocket upgrade answer.
    pub const SWITCHING_PROTOCOLS: StatusCode = StatusCode(101);
    /// 200.
    pub const OK: StatusCode = StatusCode(200);
    /// 204: tells an EventSource to stop reconnecting.
    pub const NO_CONTENT: StatusCode = StatusCode(204);
    /// 400: the request is malformed.
    pub const BAD_REQUEST: StatusCode = StatusCode(400);
    /// 403: for example an Origin not on the allow-list.
    pub const FORBIDDEN: StatusCode = StatusCode(403);
    /// 404.
    pub const NOT_FOUND: StatusCode = StatusCode(404);
    /// 405: the path exists, the method does not.
    pub const METHOD_NOT_ALLOWED: StatusCode = StatusCode(405);
    /// 408: the head did not arrive in time.
    pub const REQUEST_TIMEOUT: StatusCode = StatusCode(408);
    /// 413: the body is larger than allowed.
    pub const PAYLOAD_TOO_LARGE: StatusCode = StatusCode(413);
    /// 414: the request-target is longer than allowed.
    pub const URI_TOO_LONG: StatusCode = StatusCode(414);
    /// 426: a WebSocket request with a version we do not speak.
    pub const UPGRADE_REQUIRED: StatusCode = StatusCode(426);
    /// 431: the head is larger than allowed.
    pub const REQUEST_HEADER_FIELDS_TOO_LARGE: StatusCode = StatusCode(431);
    /// 500.
    pub const INTERNAL_SERVER_ERROR: StatusCode = StatusCode(500);
    /// 501: a method or transfer-coding we do not implement.
    pub const NOT_IMPLEMENTED: StatusCode = StatusCode(501);
    /// 503: for example while shutting down.
    pub const SERVICE_UNAVAILABLE: StatusCode = StatusCode(503);
    /// 505: an HTTP version other than 1.0 and 1.1.
    pub const HTTP_VERSION_NOT_SUPPORTED: StatusCode = StatusCode(505);

    /// The numeric code.
    pub fn as_u16(self) -> u16 {
        self.0
    }

    /// The reason phrase RFC 9110 gives the code (clients ignore it, people
    /// reading a trace do not).
    pub fn reason(self) -> &'static str {
        match self.0 {
            101 => "Switching Protocols",
            200 => "OK",
            204 => "No Content",
            301 => "Moved Permanently",
            304 => "Not Modified",
            400 => "Bad Request",
            403 => "Forbidden",
            404 => "Not Found",
            405 => "Method Not Allowed",
            408 => "Request Timeout",
            413 => "Content Too Large",
            414 => "URI Too Long",
            426 => "Upgrade Required",
            431 => "Request Header Fields Too Large",
            500 => "Internal Server Error",
            501 => "Not Implemented",
            503 => "Service Unavailable",
            505 => "HTTP Version Not Supported",
            _ => "",
        }
    }
}

impl std::fmt::Display for StatusCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.0, self.reason())
    }
}
