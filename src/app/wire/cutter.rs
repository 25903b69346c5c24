//! The switch behind `POST /ticker/drop`.

use std::sync::Arc;

use crate::server::{Body, Response, Upgraded};

/// A switch that ends every connection it was installed on, the way a
/// server shutdown would: for an event stream, at an event boundary.
/// `POST /ticker/drop` pulls it, so the page can watch `EventSource`
/// reconnect by itself.
#[derive(Debug, Clone)]
pub struct Cutter {
    generation: Arc<tokio::sync::watch::Sender<u64>>,
}

impl Default for Cutter {
    fn default() -> Self {
        Cutter::new()
    }
}

impl Cutter {
    /// A switch with no connections yet.
    pub fn new() -> Self {
        Cutter {
            generation: Arc::new(tokio::sync::watch::channel(0).0),
        }
    }

    /// Ends every connection currently running under [`Cutter::install`].
    pub fn cut(&self) {
        self.generation.send_modify(|g| *g = g.wrapping_add(1));
    }

    // ANCHOR: cutter
    /// Wraps a taken-over response so that its connection also ends on
    /// [`Cutter::cut`]. It swaps the connection's shutdown switch for one
    /// of its own, pulled by the server's shutdown *or* by a cut; the
    /// stream code does not know the difference, and stops cleanly.
    pub fn install(&self, response: Response) -> Response {
        let Response { head, body } = response;
        let run = match body {
            Body::Takeover(run) => run,
            full @ Body::Full(_) => return Response { head, body: full },
        };
        let mut cuts = self.generation.subscribe();
        let takeover = move |mut upgraded: Upgraded| -> crate::server::BoxFuture<()> {
            let server = std::mem::take(&mut upgraded.shutdown);
            let ours = upgraded.shutdown.clone();
            Box::pin(async move {
                let stream = run(upgraded);
                tokio::pin!(stream);
                tokio::select! {
                    () = &mut stream => return,
                    () = server.wait() => {}
                    _ = cuts.changed() => {}
                }
                ours.trigger();
                stream.await;
            })
        };
        Response {
            head,
            body: Body::Takeover(Box::new(takeover)),
        }
    }
    // ANCHOR_END: cutter
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::Shutdown;
    use bytes::BytesMut;
    use std::time::Duration;

    #[tokio::test]
    async fn cutter_ends_a_stream_through_its_shutdown_switch() {
        let cutter = Cutter::new();
        // A "stream" that runs until its shutdown switch fires.
        let response = cutter.install(Response::takeover(200, |up: Upgraded| async move {
            up.shutdown.wait().await;
        }));
        let Body::Takeover(run) = response.body else {
            panic!("still a takeover");
        };
        let (_client, server) = tokio::io::duplex(64);
        let server_shutdown = Shutdown::new();
        let task = tokio::spawn(run(Upgraded {
            io: Box::new(server),
            read_buf: BytesMut::new(),
            shutdown: server_shutdown.clone(),
        }));
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!task.is_finished(), "runs until cut");
        cutter.cut();
        tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .expect("a cut ends the stream")
            .unwrap();
        assert!(!server_shutdown.is_triggered(), "the server itself goes on");
    }
}
