use super::StatusCode;

/// Why a head or body was refused. Each variant knows the status code a
/// server answers with, so the shell never has to guess.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// A line ended in LF without CR, or a CR stood alone (RFC 9112 §2.2).
    BareLineEnd,
    /// The request line is not `method SP target SP version`.
    MalformedRequestLine,
    /// The status line is not `version SP code SP reason`.
    MalformedStatusLine,
    /// The method is not a token.
    InvalidMethod,
    /// The method is longer than any we implement.
    MethodTooLong,
    /// The request-target holds a byte outside visible ASCII, or its form
    /// does not fit the method (RFC 9112 §3.2).
    InvalidTarget,
    /// The request-target is longer than [`Limits::max_target_len`](super::Limits).
    TargetTooLong,
    /// `HTTP/x.y` with a version other than 1.0 or 1.1.
    UnsupportedVersion,
    /// The version is not of the form `HTTP/DIGIT.DIGIT`.
    InvalidVersion,
    /// A field name is empty or not a token.
    InvalidHeaderName,
    /// Whitespace between a field name and its colon (RFC 9112 §5.1).
    WhitespaceBeforeColon,
    /// A field line without a colon.
    MissingColon,
    /// A field value holds a control character (RFC 9110 §5.5).
    InvalidHeaderValue,
    /// A field line starts with whitespace: obsolete line folding (RFC 9112 §5.2).
    ObsoleteFold,
    /// More header fields than [`Limits::max_headers`](super::Limits).
    TooManyHeaders,
    /// The head is larger than [`Limits::max_head_bytes`](super::Limits).
    HeadTooLarge,
    /// HTTP/1.1 without a Host field, or with more than one (RFC 9112 §3.2).
    BadHost,
    /// A Host value that is not `uri-host[:port]` (RFC 9110 §7.2): a list
    /// (`a, b`), userinfo (`user@a`), a stray byte.
    InvalidHost,
    /// `Transfer-Encoding` in an HTTP/1.0 request: faulty framing (RFC 9112
    /// §6.1), answered 400 and closed.
    TransferEncodingInHttp10,
    /// A Content-Length that is not a decimal number, or several that differ.
    InvalidContentLength,
    /// Both Content-Length and Transfer-Encoding (RFC 9112 §6.1).
    ContentLengthWithTransferEncoding,
    /// A Transfer-Encoding list where chunked is missing, repeated or not last.
    InvalidTransferEncoding,
    /// A transfer-coding we do not implement (only chunked is).
    UnsupportedTransferEncoding,
    /// The body is larger than [`Limits::max_body_bytes`](super::Limits).
    BodyTooLarge,
    /// A chunk-size line is malformed.
    InvalidChunk,
    /// A chunk-size line is longer than [`Limits::max_chunk_line`](super::Limits).
    ChunkLineTooLong,
    /// The trailer section is larger than [`Limits::max_trailer_bytes`](super::Limits).
    TrailersTooLarge,
}

impl ParseError {
    /// The status code to answer this error with.
    pub fn status(&self) -> StatusCode {
        use ParseError::*;
        match self {
            MethodTooLong | UnsupportedTransferEncoding => StatusCode::NOT_IMPLEMENTED,
            TargetTooLong => StatusCode::URI_TOO_LONG,
            UnsupportedVersion => StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            TooManyHeaders | HeadTooLarge | TrailersTooLarge => {
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
            }
            BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// A short, human-readable reason, used as the error response's body.
    pub fn message(&self) -> &'static str {
        use ParseError::*;
        match self {
            BareLineEnd => "lines must end in CRLF",
            MalformedRequestLine => "malformed request line",
            MalformedStatusLine => "malformed status line",
            InvalidMethod => "invalid method",
            MethodTooLong => "method not implemented",
            InvalidTarget => "invalid request-target",
            TargetTooLong => "request-target too long",
            UnsupportedVersion => "only HTTP/1.0 and HTTP/1.1 are supported",
            InvalidVersion => "invalid HTTP version",
            InvalidHeaderName => "invalid header field name",
            WhitespaceBeforeColon => "whitespace before colon in header field",
            MissingColon => "header field without colon",
            InvalidHeaderValue => "invalid header field value",
            ObsoleteFold => "obsolete line folding is not accepted",
            TooManyHeaders => "too many header fields",
            HeadTooLarge => "request head too large",
            BadHost => "HTTP/1.1 requires exactly one Host header",
            InvalidHost => "invalid Host header",
            TransferEncodingInHttp10 => "Transfer-Encoding in an HTTP/1.0 request",
            InvalidContentLength => "invalid Content-Length",
            ContentLengthWithTransferEncoding => "Content-Length and Transfer-Encoding together",
            InvalidTransferEncoding => "invalid Transfer-Encoding",
            UnsupportedTransferEncoding => "transfer-coding not implemented",
            BodyTooLarge => "body too large",
            InvalidChunk => "malformed chunked body",
            ChunkLineTooLong => "chunk-size line too long",
            TrailersTooLarge => "trailer section too large",
        }
    }
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message(), self.status())
    }
}

impl std::error::Error for ParseError {}
