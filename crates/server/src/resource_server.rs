//! A resource server as the request path holds it.

use latchkey_store::ResourceServer;
use std::sync::atomic::{AtomicI64, Ordering};

/// A resource server as cached: what the store said, and when its last use
/// was last handed to `lastUsedAt` (at most once a minute, as for tokens).
pub struct CachedClient {
    pub server: ResourceServer,
    last_recorded: AtomicI64,
}

impl CachedClient {
    pub fn new(server: ResourceServer) -> CachedClient {
        CachedClient {
            server,
            last_recorded: AtomicI64::new(i64::MIN),
        }
    }

    /// True at most once a minute: when this use should reach `lastUsedAt`.
    pub fn due_for_last_used(&self, at: time::OffsetDateTime) -> bool {
        let now = at.unix_timestamp();
        let last = self.last_recorded.load(Ordering::Relaxed);
        now.saturating_sub(last) >= 60
            && self
                .last_recorded
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}
