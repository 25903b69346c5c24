use std::borrow::Cow;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite};

use super::{BoxFuture, Shutdown};
use crate::http::{BodyFraming, ResponseHead, StatusCode, WriteError};

/// Anything a connection can run over: TCP, TLS, an in-memory duplex.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// A connection handed over by the HTTP layer after the response head was
/// written: for a WebSocket after its 101, for an event stream after its
/// 200. The HTTP layer is done with it.
pub struct Upgraded {
    /// The connection.
    pub io: Box<dyn Io>,
    /// Bytes the client sent after the request head, already read from
    /// the socket (for example the first WebSocket frame).
    pub read_buf: BytesMut,
    /// Fires when the server shuts down: close with 1001, end the stream.
    pub shutdown: Shutdown,
}

/// What runs on a connection taken over from the HTTP layer.
pub type TakeoverFn = Box<dyn FnOnce(Upgraded) -> BoxFuture<()> + Send>;

/// A response body.
pub enum Body {
    /// The whole body, sent with a Content-Length.
    Full(Bytes),
    /// After the head, the connection belongs to this function. A 101 head
    /// is written as is; any other status is written without a length and
    /// with `Connection: close`, so the body runs until the connection ends
    /// (how our event streams are framed).
    Takeover(TakeoverFn),
}

// ANCHOR: takeover_framing
/// How the body after a takeover head is framed, decided here once for
/// the connection loop and for anything that shows the head (the wire
/// view): a `101` has no body, the new protocol starts right after it;
/// any other status (an event stream's `200`) runs until the connection
/// closes.
pub fn takeover_framing(status: StatusCode) -> BodyFraming {
    if status == StatusCode::SWITCHING_PROTOCOLS {
        BodyFraming::Empty
    } else {
        BodyFraming::UntilClose
    }
}

/// Encodes a takeover response's head exactly as the connection loop
/// writes it: framed by [`takeover_framing`], never kept alive.
///
/// # Errors
/// When a handler-supplied field is not valid on the wire.
pub fn encode_takeover_head(head: &ResponseHead, out: &mut BytesMut) -> Result<(), WriteError> {
    head.encode(takeover_framing(head.status), false, out)
}
// ANCHOR_END: takeover_framing

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Full(bytes) => f.debug_tuple("Full").field(&bytes.len()).finish(),
            Body::Takeover(_) => f.write_str("Takeover"),
        }
    }
}

/// A response: a head and a body.
#[derive(Debug)]
pub struct Response {
    /// Status and header fields (framing fields are added when written).
    pub head: ResponseHead,
    /// The body.
    pub body: Body,
}

impl Response {
    /// A response with a full body.
    pub fn new(status: u16, body: impl Into<Bytes>) -> Self {
        Response {
            head: ResponseHead::new(StatusCode(status)),
            body: Body::Full(body.into()),
        }
    }

    /// A `text/plain` response.
    pub fn text(status: u16, body: impl Into<Bytes>) -> Self {
        Response::new(status, body).header("Content-Type", "text/plain; charset=utf-8")
    }

    /// A `text/html` response.
    pub fn html(body: impl Into<Bytes>) -> Self {
        Response::new(200, body).header("Content-Type", "text/html; charset=utf-8")
    }

    /// A response whose connection is handed to `run` once the head is out.
    pub fn takeover<F, Fut>(status: u16, run: F) -> Self
    where
        F: FnOnce(Upgraded) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        Response {
            head: ResponseHead::new(StatusCode(status)),
            body: Body::Takeover(Box::new(move |upgraded| Box::pin(run(upgraded)))),
        }
    }

    /// Adds a header field.
    pub fn header(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) -> Self {
        self.head = self.head.header(name, value);
        self
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.head.status
    }
}
