//! What turns an accepted TCP connection into the stream the server
//! speaks HTTP over: nothing for plain TCP, a handshake for TLS.

use std::io;
use std::sync::Arc;

use tokio::net::TcpStream;

use super::{BoxFuture, Io, ServerConfig};

// ANCHOR: acceptor
/// Prepares each accepted connection before HTTP is spoken on it, for
/// [`Server::serve_with`](super::Server::serve_with). The crate has two:
/// [`PlainTcp`] and, with the `tls` feature,
/// [`TlsAcceptor`](crate::tls::TlsAcceptor); implement it for another
/// TLS stack, a PROXY-protocol header reader, and the like.
///
/// The returned future runs in the connection's own task, within the
/// header-read timeout. An error ends that connection only (it is logged
/// at debug level); answer the client first if it can understand you.
pub trait Acceptor: Send + Sync + 'static {
    /// The stream HTTP runs over.
    type Stream: Io;

    /// Turns `tcp` into the stream to serve.
    fn accept(
        &self,
        tcp: TcpStream,
        config: Arc<ServerConfig>,
    ) -> BoxFuture<io::Result<Self::Stream>>;
}
// ANCHOR_END: acceptor

/// Plain TCP: the stream is served as accepted.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainTcp;

impl Acceptor for PlainTcp {
    type Stream = TcpStream;

    fn accept(
        &self,
        tcp: TcpStream,
        _config: Arc<ServerConfig>,
    ) -> BoxFuture<io::Result<TcpStream>> {
        Box::pin(std::future::ready(Ok(tcp)))
    }
}
