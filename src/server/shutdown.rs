use std::sync::Arc;

use tokio::sync::watch;

/// A cloneable shutdown switch: one side calls [`Shutdown::trigger`],
/// every task holding a clone can [`Shutdown::wait`] for it or check it.
#[derive(Debug, Clone)]
pub struct Shutdown {
    sender: Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::new()
    }
}

impl Shutdown {
    /// A switch that has not been triggered.
    pub fn new() -> Self {
        Shutdown {
            sender: Arc::new(watch::channel(false).0),
        }
    }

    /// A switch that Ctrl-C (SIGINT) triggers, which is what a server
    /// binary wants. Call it inside a tokio runtime: it spawns the task that
    /// waits for the signal.
    pub fn on_ctrl_c() -> Self {
        let shutdown = Shutdown::new();
        let trigger = shutdown.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                tracing::info!("Ctrl-C: shutting down");
                trigger.trigger();
            }
        });
        shutdown
    }

    /// Starts the shutdown (idempotent).
    pub fn trigger(&self) {
        self.sender.send_replace(true);
    }

    /// Whether shutdown has started.
    pub fn is_triggered(&self) -> bool {
        *self.sender.borrow()
    }

    /// Resolves once shutdown has started (at once if it already has).
    pub async fn wait(&self) {
        let mut receiver = self.sender.subscribe();
        // The sender lives in `self`, so this can only end by the value turning true.
        let _ = receiver.wait_for(|triggered| *triggered).await;
    }
}
