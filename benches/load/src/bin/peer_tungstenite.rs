//! Peer: a WebSocket echo server on tokio-tungstenite, written the way its
//! documentation shows (`accept_async`, then read and send back every data
//! message). `--addr HOST:PORT`; prints `listening on ws://ADDR`.

use futures_util::{SinkExt, StreamExt};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    realtime_events_load::serve_each(&args, "127.0.0.1:9001", |stream| async move {
        let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
            return;
        };
        // Pings are answered by the library itself.
        while let Some(Ok(msg)) = ws.next().await {
            if msg.is_close() {
                break;
            }
            if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
                break;
            }
        }
    })
    .await
}
