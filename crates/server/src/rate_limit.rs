//! Counting failures per key in a fixed window (logins, verifications).
//! Not on the success path: only failures take the lock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use time::{Duration, OffsetDateTime};

pub struct FailureLimiter {
    max_failures: u32,
    window: Duration,
    entries: Mutex<HashMap<String, (OffsetDateTime, u32)>>,
    /// Whether any failure was ever recorded: until then nothing is locked.
    used: AtomicBool,
}

/// Beyond this many keys the oldest windows are dropped, so a flood of
/// distinct keys cannot grow memory without bound.
const MAX_KEYS: usize = 100_000;

impl FailureLimiter {
    pub fn new(max_failures: u32, window: Duration) -> FailureLimiter {
        FailureLimiter {
            max_failures,
            window,
            entries: Mutex::new(HashMap::new()),
            used: AtomicBool::new(false),
        }
    }

    /// No failure recorded yet: every check would pass.
    pub fn is_idle(&self) -> bool {
        !self.used.load(Ordering::Relaxed)
    }

    /// `Err(seconds to wait)` when `key` has used up its failures.
    pub fn check(&self, key: &str, now: OffsetDateTime) -> Result<(), u64> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(key) {
            Some((start, n)) if *n >= self.max_failures && *start + self.window > now => {
                Err((*start + self.window - now).whole_seconds().max(1) as u64)
            }
            _ => Ok(()),
        }
    }

    pub fn record_failure(&self, key: &str, now: OffsetDateTime) {
        self.used.store(true, Ordering::Relaxed);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_KEYS {
            let window = self.window;
            entries.retain(|_, (start, _)| *start + window > now);
        }
        let entry = entries.entry(key.to_string()).or_insert((now, 0));
        if entry.0 + self.window <= now {
            *entry = (now, 0);
        }
        entry.1 += 1;
    }

    pub fn clear(&self, key: &str) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn refuses_after_the_limit_until_the_window_ends() {
        let t0 = datetime!(2026-11-23 12:00 UTC);
        let limiter = FailureLimiter::new(3, Duration::minutes(15));
        for _ in 0..3 {
            assert_eq!(limiter.check("a", t0), Ok(()));
            limiter.record_failure("a", t0);
        }
        assert_eq!(limiter.check("a", t0 + Duration::minutes(5)), Err(600));
        assert_eq!(limiter.check("b", t0), Ok(()));
        assert_eq!(limiter.check("a", t0 + Duration::minutes(15)), Ok(()));
        limiter.clear("a");
        assert_eq!(limiter.check("a", t0), Ok(()));
    }
}
