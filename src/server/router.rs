use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::{Request, Response};

/// A boxed, sendable future: what handlers return once type-erased.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A type-erased request handler.
pub type Handler = Arc<dyn Fn(Request) -> BoxFuture<Response> + Send + Sync>;

/// Methods RFC 9110 defines (plus PATCH). Anything else is answered 501
/// rather than 405: the server does not know the method at all.
const KNOWN_METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

/// Maps (method, exact path) to a handler. Deliberately tiny: the demo has
/// a handful of fixed paths, and an exact match is easy to read.
#[derive(Default, Clone)]
pub struct Router {
    routes: Vec<(&'static str, String, Handler)>,
}

impl Router {
    /// An empty router: every request gets 404.
    pub fn new() -> Self {
        Router::default()
    }

    /// Routes `method` requests for `path` to `handler`.
    pub fn route<F, Fut>(mut self, method: &'static str, path: &str, handler: F) -> Self
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |req| Box::pin(handler(req)));
        self.routes.push((method, path.to_string(), handler));
        self
    }

    /// Shorthand for `route("GET", ...)`; HEAD requests reach it too.
    pub fn get<F, Fut>(self, path: &str, handler: F) -> Self
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response> + Send + 'static,
    {
        self.route("GET", path, handler)
    }

    // ANCHOR: handle
    /// Finds the handler for `request` and runs it: 404 for an unknown
    /// path, 405 (with `Allow`) for a known path and another method, 501
    /// for a method nobody implements.
    pub async fn handle(&self, request: Request) -> Response {
        let method = request.method();
        if !KNOWN_METHODS.contains(&method) {
            return Response::text(501, "method not implemented\n");
        }
        // A HEAD is a GET whose body the connection loop leaves out.
        let wanted = if method == "HEAD" { "GET" } else { method };
        let mut allowed = Vec::new();
        for (route_method, path, handler) in &self.routes {
            if path == request.path() {
                if *route_method == wanted {
                    return handler(request).await;
                }
                allowed.push(*route_method);
            }
        }
        if allowed.is_empty() {
            Response::text(404, "not found\n")
        } else {
            Response::text(405, "method not allowed\n").header("Allow", allowed.join(", "))
        }
    }
    // ANCHOR_END: handle
}
