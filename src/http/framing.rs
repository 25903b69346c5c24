use super::{Headers, Limits, ParseError};

/// How the end of a message body is found (RFC 9112 §6.3). Deciding this
/// exactly once, strictly, is what keeps a front proxy and this server
/// from disagreeing about where one request ends and the next begins.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body: the next request starts right after the head.
    #[default]
    Empty,
    /// Exactly this many bytes follow.
    Length(u64),
    /// `Transfer-Encoding: chunked`: decode with [`ChunkedDecoder`](super::ChunkedDecoder).
    Chunked,
    /// Responses only: the body runs until the connection closes.
    UntilClose,
}

// ANCHOR: request_framing
impl BodyFraming {
    /// The framing of a request, or the reason to refuse it.
    ///
    /// - `Transfer-Encoding` and `Content-Length` together: 400, the
    ///   classic smuggling shape (RFC 9112 §6.1 allows closing instead).
    /// - `Transfer-Encoding`: the codings must end in exactly one
    ///   `chunked` (400 otherwise); any other coding is not implemented (501).
    /// - `Content-Length`: every value (several fields, or a list in one)
    ///   must be the same decimal number (400 otherwise), within the limit (413).
    pub fn of_request(headers: &Headers<'_>, limits: &Limits) -> Result<Self, ParseError> {
        let has_te = headers.get("transfer-encoding").is_some();
        let length = content_length(headers)?;
        match (has_te, length) {
            (true, Some(_)) => Err(ParseError::ContentLengthWithTransferEncoding),
            (true, None) => chunked_last(headers).map(|()| BodyFraming::Chunked),
            (false, Some(n)) if n > limits.max_body_bytes => Err(ParseError::BodyTooLarge),
            (false, Some(0)) | (false, None) => Ok(BodyFraming::Empty),
            (false, Some(n)) => Ok(BodyFraming::Length(n)),
        }
    }
    // ANCHOR_END: request_framing

    /// The framing of a response to a request with method `method`
    /// (RFC 9112 §6.3): no body for HEAD, 1xx, 204 and 304; otherwise
    /// chunked, a length, or until the server closes.
    pub fn of_response(headers: &Headers<'_>, code: u16, method: &str) -> Result<Self, ParseError> {
        if method.eq_ignore_ascii_case("HEAD")
            || (100..200).contains(&code)
            || code == 204
            || code == 304
        {
            return Ok(BodyFraming::Empty);
        }
        if headers.get("transfer-encoding").is_some() {
            // A response may end in another coding and be delimited by close;
            // we only ever need chunked.
            return chunked_last(headers).map(|()| BodyFraming::Chunked);
        }
        Ok(match content_length(headers)? {
            Some(0) => BodyFraming::Empty,
            Some(n) => BodyFraming::Length(n),
            None => BodyFraming::UntilClose,
        })
    }
}

/// The one Content-Length all fields agree on, if any.
fn content_length(headers: &Headers<'_>) -> Result<Option<u64>, ParseError> {
    let mut found = None;
    for value in headers.tokens("content-length") {
        let n = parse_decimal(value).ok_or(ParseError::InvalidContentLength)?;
        if found.is_some_and(|m| m != n) {
            return Err(ParseError::InvalidContentLength);
        }
        found = Some(n);
    }
    // A field that is present but empty is not a length either.
    if found.is_none() && headers.get("content-length").is_some() {
        return Err(ParseError::InvalidContentLength);
    }
    Ok(found)
}

/// Digits only (no sign, no spaces inside), without overflowing.
pub(crate) fn parse_decimal(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() {
        return None;
    }
    bytes.iter().try_fold(0u64, |n, &b| {
        if !b.is_ascii_digit() {
            return None;
        }
        n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

fn chunked_last(headers: &Headers<'_>) -> Result<(), ParseError> {
    let mut chunked_seen = 0;
    let mut last_is_chunked = false;
    for coding in headers.tokens("transfer-encoding") {
        last_is_chunked = coding.eq_ignore_ascii_case(b"chunked");
        if last_is_chunked {
            chunked_seen += 1;
        } else if coding.iter().all(|&b| super::head::is_token(b)) {
            // gzip, deflate, compress or anything else: we decode none of them.
            return Err(ParseError::UnsupportedTransferEncoding);
        } else {
            return Err(ParseError::InvalidTransferEncoding);
        }
    }
    // chunked must be applied exactly once, and last (RFC 9112 §6.1, §6.3).
    if chunked_seen == 1 && last_is_chunked {
        Ok(())
    } else {
        Err(ParseError::InvalidTransferEncoding)
    }
}
