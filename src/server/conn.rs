//! One connection: read a head, read its body, route, answer, repeat.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::timeout_at;

use super::{Body, Request, Response, Router, ServerConfig, Shutdown, Upgraded};
use crate::http::{
    BodyFraming, ChunkedDecoder, HeadIndex, ParseError, RequestParser, ResponseHead, StatusCode,
};
use crate::http_io::{self, HeadReadError};

/// How a connection ended, for its one log line.
#[derive(Debug)]
pub(crate) enum End {
    ClientClosed,
    Idle,
    Shutdown,
    Refused(StatusCode, &'static str),
    Upgraded,
    Done,
    Io(std::io::Error),
}

/// What to do after a response.
enum Next {
    KeepAlive,
    Close,
    Takeover(super::TakeoverFn),
}

/// Why reading the next head stopped without a head.
enum HeadStop {
    End(End),
    Refuse(StatusCode, &'static str),
}

// ANCHOR: serve_connection
/// Serves one connection until it closes: keep-alive and pipelining, the
/// header-read, body and idle timeouts, an error response for every
/// malformed request (then close), and the hand-over of upgraded
/// connections. Generic over the stream, so tests can run it over an
/// in-memory duplex and TLS can wrap it.
pub async fn serve_connection<S>(
    io: S,
    peer: Option<SocketAddr>,
    router: Arc<Router>,
    config: Arc<ServerConfig>,
    shutdown: Shutdown,
) where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let deadline = tokio::time::Instant::now() + config.header_read_timeout;
    let handed_over = Box::pin(serve_connection_by(
        io, peer, router, config, shutdown, deadline,
    ));
    if let Some(handover) = handed_over.await {
        handover.run().await;
    }
}

/// An upgraded connection, the handler that takes it over, and what the
/// connection's log line needs.
///
/// The futures that accept a connection and serve its requests are large
/// (an `async fn` is as large as its largest state: timers, the parser,
/// the response writer, a TLS handshake). Boxed, they are freed when they
/// return this, so the hours an upgraded connection may live cost only its
/// handler's future and a small task.
pub(crate) struct Handover {
    run: super::TakeoverFn,
    upgraded: Upgraded,
    peer: Option<SocketAddr>,
    requests: u64,
    started: Instant,
}

impl Handover {
    /// Runs the handler to its end, then logs the connection's line. (Not
    /// an `async fn`: the future keeps the handler's boxed future and the
    /// log line's fields, not the whole hand-over besides.)
    pub(crate) fn run(self) -> impl std::future::Future<Output = ()> {
        let Handover {
            run,
            upgraded,
            peer,
            requests,
            started,
        } = self;
        let handler = run(upgraded);
        async move {
            handler.await;
            log_end(peer, requests, started, &End::Upgraded);
        }
    }
}

/// [`serve_connection`] up to a hand-over, with the first byte due by
/// `first_byte_by`: the server's accept loop starts that clock before a
/// TLS handshake, so the handshake and the wait share one header-read
/// timeout. A connection that ends here has logged its line; one that is
/// handed over is returned, for the caller to run (see [`Handover`]).
pub(crate) async fn serve_connection_by<S>(
    io: S,
    peer: Option<SocketAddr>,
    router: Arc<Router>,
    config: Arc<ServerConfig>,
    shutdown: Shutdown,
    first_byte_by: tokio::time::Instant,
) -> Option<Handover>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let started = Instant::now();
    let mut io = io;
    // An idle connection holds only this task and its socket until the
    // client speaks: the read buffer, the parser and the boxed serving
    // future below come after its first byte. That keeps a flood of silent
    // connections cheap (chapter 13 has the measured cost). The wait for
    // the first byte has the head's time limit, and the head's own clock
    // starts at that byte.
    let mut first = [0u8; 1];
    let first_read = tokio::select! {
        read = timeout_at(first_byte_by, io.read(&mut first)) => read,
        () = shutdown.wait() => {
            log_end(peer, 0, started, &End::Shutdown);
            return None;
        }
    };
    let mut buf = match first_read {
        Ok(Ok(1)) => BytesMut::with_capacity(READ_CHUNK),
        Ok(Ok(_)) => {
            log_end(peer, 0, started, &End::ClientClosed);
            return None;
        }
        Ok(Err(err)) => {
            log_end(peer, 0, started, &End::Io(err));
            return None;
        }
        Err(_elapsed) => {
            let status = StatusCode::REQUEST_TIMEOUT;
            // Boxed: inline, the refusal's state (its timers and the
            // lingering read's buffer, about 1 KB) would size this future,
            // which every silent connection holds while it waits.
            let end = Box::pin(refuse(&mut io, status, "head too slow", None, &config)).await;
            log_end(peer, 0, started, &end);
            return None;
        }
    };
    buf.extend_from_slice(&first);
    let conn = Connection {
        io,
        buf,
        parser: RequestParser::new(config.limits),
        config,
        shutdown,
        requests: 0,
    };
    // Serving requests needs the parser, timers, the handler's future and
    // the response writer: several KiB. Boxed, all of it is freed when the
    // connection is handed over, instead of staying in this task for the
    // hours an upgraded connection may live.
    let (outcome, requests) = Box::pin(conn.serve(peer, &router)).await;
    match outcome {
        Ok((run, upgraded)) => Some(Handover {
            run,
            upgraded,
            peer,
            requests,
            started,
        }),
        Err(end) => {
            log_end(peer, requests, started, &end);
            None
        }
    }
}
// ANCHOR_END: serve_connection

/// Bytes asked of the socket per read while a head or body comes in.
const READ_CHUNK: usize = 4096;

/// The connection's one log line.
fn log_end(peer: Option<SocketAddr>, requests: u64, started: Instant, end: &End) {
    let peer = peer.map_or_else(|| "-".to_string(), |p| p.to_string());
    let elapsed = started.elapsed();
    match end {
        End::Refused(status, why) => {
            tracing::info!(%peer, requests, ?elapsed, "connection refused request: {status} ({why})")
        }
        End::Io(err) => tracing::info!(%peer, requests, ?elapsed, "connection error: {err}"),
        other => tracing::info!(%peer, requests, ?elapsed, "connection closed: {other:?}"),
    }
}

struct Connection<S> {
    io: S,
    buf: BytesMut,
    parser: RequestParser,
    config: Arc<ServerConfig>,
    shutdown: Shutdown,
    requests: u64,
}

impl<S> Connection<S>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    /// Serves requests; if one is handed over, returns the function that
    /// takes the connection and what it gets. Also returns the count of
    /// requests served, for the log line.
    async fn serve(
        mut self,
        peer: Option<SocketAddr>,
        router: &Router,
    ) -> (Result<(super::TakeoverFn, Upgraded), End>, u64) {
        let outcome = self.serve_requests(peer, router).await;
        let requests = self.requests;
        match outcome {
            Ok(run) => (Ok((run, self.into_upgraded())), requests),
            Err(end) => (Err(end), requests),
        }
    }

    /// Keeps only what an upgraded connection needs: the stream, any bytes
    /// read past the head, and the shutdown switch. The parser and the
    /// configuration are dropped here, and so is an empty read buffer (its
    /// 4 KiB would otherwise stay with every idle upgraded connection).
    fn into_upgraded(self) -> Upgraded {
        let Connection {
            io, buf, shutdown, ..
        } = self;
        Upgraded {
            io: Box::new(io),
            read_buf: if buf.is_empty() { BytesMut::new() } else { buf },
            shutdown,
        }
    }

    /// Serves requests until the connection ends (`Err`) or is handed
    /// over (`Ok`, with the function that takes it).
    async fn serve_requests(
        &mut self,
        peer: Option<SocketAddr>,
        router: &Router,
    ) -> Result<super::TakeoverFn, End> {
        loop {
            let index = match self.read_head().await {
                Ok(index) => index,
                Err(HeadStop::End(end)) => return Err(end),
                Err(HeadStop::Refuse(status, why)) => {
                    return Err(refuse(&mut self.io, status, why, None, &self.config).await)
                }
            };
            let head_bytes = self.buf.split_to(index.len()).freeze();
            let head = index.view(&head_bytes);
            let keep_alive = head.keep_alive();
            let is_head = head.method() == "HEAD";
            if head.headers().has_token("expect", "100-continue")
                && index.framing() != BodyFraming::Empty
            {
                // curl waits for this before sending a larger body.
                let limit = self.config.write_timeout;
                if let Err(err) =
                    write_within(&mut self.io, b"HTTP/1.1 100 Continue\r\n\r\n", limit).await
                {
                    return Err(End::Io(err));
                }
            }
            let body = match self.read_body(index.framing()).await {
                Ok(body) => body,
                Err(HeadStop::End(end)) => return Err(end),
                Err(HeadStop::Refuse(status, why)) => {
                    return Err(refuse(&mut self.io, status, why, None, &self.config).await)
                }
            };
            self.requests += 1;
            let request = Request::new(head_bytes, index, body, peer);
            let response = router.handle(request).await;
            // Once shutdown has started, finish this answer and close.
            let keep_alive = keep_alive && !self.shutdown.is_triggered();
            match self.respond(response, keep_alive, is_head).await {
                Ok(Next::KeepAlive) => {}
                Ok(Next::Close) => {
                    let _ = self.io.shutdown().await;
                    return Err(End::Done);
                }
                Ok(Next::Takeover(run)) => return Ok(run),
                Err(err) => return Err(End::Io(err)),
            }
        }
    }

    // ANCHOR: read_head
    /// Reads until the parser has a whole head. The first request's clock
    /// starts at once; a later request on a kept-alive connection may idle
    /// first, and its clock starts at its first byte.
    async fn read_head(&mut self) -> Result<HeadIndex, HeadStop> {
        if self.requests > 0 && self.buf.is_empty() {
            self.idle().await?;
        }
        let deadline = tokio::time::Instant::now() + self.config.header_read_timeout;
        let parser = &mut self.parser;
        http_io::read_head(&mut self.io, &mut self.buf, Some(deadline), |buf| {
            parser.parse(buf)
        })
        .await
        .map_err(|err| match err {
            HeadReadError::Closed => HeadStop::End(End::ClientClosed),
            HeadReadError::Incomplete => {
                HeadStop::Refuse(StatusCode::BAD_REQUEST, "incomplete head")
            }
            HeadReadError::Timeout => {
                HeadStop::Refuse(StatusCode::REQUEST_TIMEOUT, "head too slow")
            }
            HeadReadError::Invalid(err) => refusal(&err),
            HeadReadError::Io(err) => HeadStop::End(End::Io(err)),
        })
    }

    /// Waits for the first byte of the next request on a kept-alive
    /// connection. Only an idle connection closes at once on shutdown;
    /// one mid-request gets its answer first.
    async fn idle(&mut self) -> Result<(), HeadStop> {
        let limit = tokio::time::Instant::now() + self.config.idle_timeout;
        let read = tokio::select! {
            read = timeout_at(limit, self.io.read_buf(&mut self.buf)) => read,
            () = self.shutdown.wait() => return Err(HeadStop::End(End::Shutdown)),
        };
        match read {
            Err(_elapsed) => Err(HeadStop::End(End::Idle)),
            Ok(Ok(0)) => Err(HeadStop::End(End::ClientClosed)),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) => Err(HeadStop::End(End::Io(err))),
        }
    }
    // ANCHOR_END: read_head

    /// Reads the body the head announced, within the body limit and the
    /// body's deadline. The deadline is one total for the whole body, set
    /// when its head is done: a client that drips a byte now and then is
    /// still cut off there (a silence limit per read would restart at
    /// every byte and never fire).
    async fn read_body(&mut self, framing: BodyFraming) -> Result<Bytes, HeadStop> {
        let deadline = tokio::time::Instant::now() + self.config.body_timeout;
        match framing {
            BodyFraming::Empty | BodyFraming::UntilClose => Ok(Bytes::new()),
            BodyFraming::Length(n) => {
                // The parser already refused lengths over the limit, so n fits.
                let n = n as usize;
                while self.buf.len() < n {
                    self.read_more(deadline).await?;
                }
                Ok(self.buf.split_to(n).freeze())
            }
            BodyFraming::Chunked => {
                let mut decoder = ChunkedDecoder::new(self.config.limits);
                let mut body = BytesMut::new();
                loop {
                    let status = decoder
                        .decode(&self.buf, &mut body)
                        .map_err(|err| refusal(&err))?;
                    let _ = self.buf.split_to(status.consumed);
                    if status.done {
                        return Ok(body.freeze());
                    }
                    self.read_more(deadline).await?;
                }
            }
        }
    }

    async fn read_more(&mut self, deadline: tokio::time::Instant) -> Result<(), HeadStop> {
        self.buf.reserve(READ_CHUNK);
        match timeout_at(deadline, self.io.read_buf(&mut self.buf)).await {
            Err(_) => Err(HeadStop::Refuse(
                StatusCode::REQUEST_TIMEOUT,
                "body too slow",
            )),
            Ok(Ok(0)) => Err(HeadStop::End(End::ClientClosed)),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) => Err(HeadStop::End(End::Io(err))),
        }
    }

    /// Writes a response, within the write timeout, and says what becomes
    /// of the connection.
    async fn respond(
        &mut self,
        response: Response,
        keep_alive: bool,
        is_head: bool,
    ) -> std::io::Result<Next> {
        let Response { head, body } = response;
        let mut out = BytesMut::new();
        match body {
            Body::Full(bytes) => {
                encode_or_500(
                    &head,
                    BodyFraming::Length(bytes.len() as u64),
                    keep_alive,
                    &mut out,
                );
                if !is_head {
                    out.extend_from_slice(&bytes);
                }
                write_within(&mut self.io, &out, self.config.write_timeout).await?;
                Ok(if keep_alive {
                    Next::KeepAlive
                } else {
                    Next::Close
                })
            }
            Body::Takeover(run) => {
                or_500(
                    super::response::encode_takeover_head(&head, &mut out),
                    &mut out,
                );
                write_within(&mut self.io, &out, self.config.write_timeout).await?;
                // A HEAD asks for the head only: no stream, no upgrade.
                if is_head {
                    return Ok(Next::Close);
                }
                Ok(Next::Takeover(run))
            }
        }
    }
}

/// Answers with `status` (and `Retry-After`, when given) and closes: for
/// an unusable request, and for a connection over the cap. The write has
/// the write timeout; the close is lingering: we stop writing, then read
/// and drop what the client still sends for a moment, so its unread bytes
/// do not turn our answer into a TCP reset that it never sees.
pub(crate) async fn refuse<S>(
    io: &mut S,
    status: StatusCode,
    why: &'static str,
    retry_after: Option<&'static str>,
    config: &ServerConfig,
) -> End
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut response = Response::text(status.as_u16(), format!("{why}\n"));
    if let Some(seconds) = retry_after {
        response = response.header("Retry-After", seconds);
    }
    let mut out = BytesMut::new();
    encode_or_500(
        &response.head,
        BodyFraming::Length(why.len() as u64 + 1),
        false,
        &mut out,
    );
    out.extend_from_slice(why.as_bytes());
    out.extend_from_slice(b"\n");
    if write_within(io, &out, config.write_timeout).await.is_err() {
        return End::Refused(status, why);
    }
    // Stop writing, then drain: the peer reads our answer, not a reset.
    let _ = tokio::time::timeout(config.write_timeout, io.shutdown()).await;
    crate::http_io::linger(io).await;
    End::Refused(status, why)
}

/// Writes all of `bytes` and flushes, or fails with `TimedOut` once
/// `limit` has passed: a peer that stops reading cannot hold us.
async fn write_within<S>(io: &mut S, bytes: &[u8], limit: Duration) -> std::io::Result<()>
where
    S: AsyncWrite + Unpin,
{
    let write = async {
        io.write_all(bytes).await?;
        io.flush().await
    };
    match tokio::time::timeout(limit, write).await {
        Ok(result) => result,
        Err(_elapsed) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "write timed out",
        )),
    }
}

fn refusal(err: &ParseError) -> HeadStop {
    HeadStop::Refuse(err.status(), err.message())
}

/// A handler-supplied head with a bad field must not become a split
/// response: answer 500 instead.
fn encode_or_500(head: &ResponseHead, framing: BodyFraming, keep_alive: bool, out: &mut BytesMut) {
    or_500(head.encode(framing, keep_alive, out), out);
}

/// Replaces what an encode call wrote with a bare 500 if it failed.
fn or_500(encoded: Result<(), crate::http::WriteError>, out: &mut BytesMut) {
    if let Err(err) = encoded {
        tracing::error!("handler produced an invalid response head: {err}");
        out.clear();
        let _ = ResponseHead::new(StatusCode::INTERNAL_SERVER_ERROR).encode(
            BodyFraming::Empty,
            false,
            out,
        );
    }
}
