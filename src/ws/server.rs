//! The server side in the tokio shell: turn a routed request into a
//! WebSocket, or into the HTTP error the handshake calls for.

use std::future::Future;

use super::handshake::{self, HandshakeConfig};
use super::protocol::Role;
use super::socket::{Config, WebSocket};
use crate::server::{Io, Request, Response, Upgraded};

// ANCHOR: upgrade
/// Answers `request` with a `101 Switching Protocols` and runs `handler`
/// on the WebSocket once the 101 is written, or answers the handshake's
/// error (405, 400, 403 or 426) and runs nothing.
///
/// The socket gets the server's shutdown switch: when the server stops, a
/// `recv` in progress sends a 1001 close (see [`WebSocket::with_shutdown`]).
///
/// ```no_run
/// use realtime_events::server::Router;
/// use realtime_events::ws::{self, HandshakeConfig, Config};
/// let router = Router::new().get("/echo", |req| async move {
///     ws::upgrade(&req, &HandshakeConfig::default(), Config::default(), |mut socket| async move {
///         while let Some(Ok(msg)) = socket.recv().await {
///             if msg.is_control() { continue; }
///             if socket.send(msg).await.is_err() { break; }
///         }
///     })
/// });
/// ```
pub fn upgrade<F, Fut>(
    request: &Request,
    handshake: &HandshakeConfig,
    config: Config,
    handler: F,
) -> Response
where
    F: FnOnce(WebSocket<Box<dyn Io>>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    // One knob for both roles: `Config::compression` applies unless the
    // handshake settings choose their own.
    let with_socket_policy;
    let handshake = match (&handshake.compression, config.compression) {
        (None, Some(policy)) => {
            with_socket_policy = handshake.clone().with_compression(Some(policy));
            &with_socket_policy
        }
        _ => handshake,
    };
    let accepted = match handshake::accept(&request.head(), handshake) {
        Ok(accepted) => accepted,
        Err(err) => {
            tracing::debug!("WebSocket handshake refused: {err}");
            let mut response = Response::text(err.status().as_u16(), format!("{err}\n"));
            for (name, value) in err.headers() {
                response = response.header(*name, *value);
            }
            return response;
        }
    };
    let protocol = accepted.protocol.clone();
    let deflate = accepted.deflate;
    let mut response = Response::takeover(101, move |upgraded: Upgraded| async move {
        let socket = WebSocket::from_upgraded(upgraded.io, Role::Server, config, upgraded.read_buf)
            .with_shutdown(upgraded.shutdown)
            .with_subprotocol(protocol)
            .with_deflate(deflate);
        handler(socket).await;
    });
    response.head = accepted.response_head();
    response
}
// ANCHOR_END: upgrade
