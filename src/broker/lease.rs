//! The producer lease: which one instance publishes the ticker's quotes.
//!
//! Every instance could run the ticker, but then each quote would be
//! published once per instance. Instead the instances compete for one key:
//!
//! * to take it: `SET key ID NX PX ttl`, which only succeeds if nobody
//!   holds it;
//! * to keep it: every third of the ttl, a script that extends the expiry
//!   only if the key still holds our ID (so an instance that lost the key,
//!   say after a long pause, never extends someone else's lease);
//! * to lose it: stop renewing. A crashed holder's key expires after the
//!   ttl, and the next attempt by another instance takes it.
//!
//! The holder counts as holding only until a little before the expiry it
//! last set, measured from *before* it sent the command: if Redis becomes
//! unreachable, it stops producing before anyone else can have taken over,
//! so two producers never overlap by this instance's clock.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::conn::Shared;

/// Extends the lease if it is still ours. KEYS: the lease. ARGV: our ID,
/// the ttl in ms.
const RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
";

/// A lease held (or wanted) by this instance. Cloning gives another handle.
#[derive(Debug, Clone)]
pub struct Lease {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    key: String,
    id: String,
    ttl: Duration,
    /// Until when we may act as the holder; `None`: not the holder.
    held_until: Mutex<Option<Instant>>,
}

impl Lease {
    /// Starts competing for `key` as `id`, renewing or retrying every
    /// third of `ttl`. Must be called inside a tokio runtime.
    pub(crate) fn start(redis: Shared, key: String, id: String, ttl: Duration) -> Lease {
        let lease = Lease {
            inner: Arc::new(Inner {
                key,
                id,
                ttl,
                held_until: Mutex::new(None),
            }),
        };
        let inner = lease.inner.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(inner.ttl / 3);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                inner.attempt(&redis).await;
            }
        });
        lease
    }

    /// Whether this instance holds the lease now.
    pub fn is_held(&self) -> bool {
        let until = *self
            .inner
            .held_until
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        until.is_some_and(|t| Instant::now() < t)
    }

    /// This instance's ID, the value the key holds while it is the holder.
    pub fn id(&self) -> &str {
        &self.inner.id
    }
}

impl Inner {
    // ANCHOR: attempt
    /// One round: renew if we hold it, try to take it if we do not.
    async fn attempt(&self, redis: &Shared) {
        let sent_at = Instant::now();
        let ttl_ms = self.ttl.as_millis() as u64;
        let holding = self
            .held_until
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some();
        let result: redis::RedisResult<bool> = if holding {
            let mut renew = redis::cmd("EVAL");
            renew
                .arg(RENEW)
                .arg(1)
                .arg(&self.key)
                .arg(&self.id)
                .arg(ttl_ms);
            redis.query::<i64>(&renew).await.map(|n| n == 1)
        } else {
            let mut take = redis::cmd("SET");
            take.arg(&self.key)
                .arg(&self.id)
                .arg("NX")
                .arg("PX")
                .arg(ttl_ms);
            redis
                .query::<Option<String>>(&take)
                .await
                .map(|ok| ok.is_some())
        };
        let mut held_until = self.held_until.lock().unwrap_or_else(|e| e.into_inner());
        match result {
            // Valid for most of the ttl counted from before we asked, so
            // we stop before the key can expire in Redis.
            Ok(true) => {
                if !holding {
                    tracing::info!(lease = %self.key, "lease taken: this instance produces");
                }
                *held_until = Some(sent_at + self.ttl.mul_f32(0.8));
            }
            Ok(false) => {
                if holding {
                    tracing::warn!(lease = %self.key, "lease lost to another instance");
                }
                *held_until = None;
            }
            // Unreachable: keep what we had; it runs out by itself.
            Err(err) => {
                tracing::debug!(lease = %self.key, %err, "lease: redis unreachable");
                if held_until.is_some_and(|t| Instant::now() >= t) {
                    *held_until = None;
                }
            }
        }
    }
    // ANCHOR_END: attempt
}
