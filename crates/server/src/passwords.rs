//! argon2id password hashing, off the async workers and behind a bounded
//! queue: every hash holds 19 MiB while it runs, and sign-in and invites are
//! open to anyone, so how many run at once is capped and how long and how
//! many requests may wait for a turn is too. Past that, `503`, never memory.

use crate::error::ApiError;
use crate::metrics::Metrics;
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use latchkey_core::{ExposeSecret, SecretString};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Requests that may wait per hashing slot; more are turned away at once.
/// Waiting costs little (a task and a password), but a waiter that cannot be
/// served within the wait only delays its `503`.
pub const WAITERS_PER_SLOT: usize = 32;

/// What a turned-away request is told: a hash takes tens of milliseconds, so
/// a queue that is full now is usually not full a second later.
const RETRY_AFTER_SECS: u64 = 1;

/// Makes each hash's 19 MiB come from the system and go back to it when the
/// hash is done. Otherwise glibc's malloc, once the first such block is
/// freed, raises its mmap threshold above it and keeps later ones in
/// per-thread arenas; hashes move between the blocking pool's threads, so
/// with two hashing slots 64 clients still left 854 MB resident (56 MB with
/// this). Call once, at start.
pub fn return_hash_memory_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a malloc parameter; 1 MiB is a valid
    // threshold, and setting it also stops glibc from moving it.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// Hashes on the calling thread: for the operator commands, which run one.
pub fn hash_blocking(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// Verifies against the stored hash, or against a dummy one when there is
/// none, so an unknown email takes as long as a wrong password.
fn verify_blocking(password: &str, stored: Option<SecretString>) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = || {
        DUMMY
            .get_or_init(|| hash_blocking("latchkey-dummy-password").unwrap_or_default())
            .as_str()
    };
    let (target, real) = match &stored {
        Some(h) => (h.expose_secret(), true),
        None => (dummy(), false),
    };
    let ok = PasswordHash::new(target)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false);
    ok && real
}

/// The queue every request-path hash goes through (`AppState::passwords`).
pub struct PasswordQueue {
    slots: Arc<Semaphore>,
    max_waiting: i64,
    max_wait: Duration,
    in_flight: Gauge,
    waiting: Gauge,
    refused: Counter,
}

/// Counts a waiter for as long as it waits, even when its request is dropped.
struct Waiting<'a>(&'a Gauge);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl PasswordQueue {
    /// `concurrency` hashes at once (at least one); a request waits at most
    /// `max_wait` for its turn. The gauges are `metrics`'.
    pub fn new(concurrency: usize, max_wait: Duration, metrics: &Metrics) -> PasswordQueue {
        let concurrency = concurrency.clamp(1, Semaphore::MAX_PERMITS);
        PasswordQueue {
            slots: Arc::new(Semaphore::new(concurrency)),
            max_waiting: i64::try_from(concurrency.saturating_mul(WAITERS_PER_SLOT))
                .unwrap_or(i64::MAX),
            max_wait,
            in_flight: metrics.password_hash_in_flight.clone(),
            waiting: metrics.password_hash_waiting.clone(),
            refused: metrics.password_hash_refused.clone(),
        }
    }

    /// The default concurrency: one hash per core.
    pub fn default_concurrency() -> usize {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }

    pub async fn hash(&self, password: SecretString) -> Result<String, ApiError> {
        self.run(move || hash_blocking(password.expose_secret()))
            .await?
    }

    /// `false` for a wrong password and for no account (`stored: None`).
    pub async fn verify(
        &self,
        password: SecretString,
        stored: Option<SecretString>,
    ) -> Result<bool, ApiError> {
        self.run(move || verify_blocking(password.expose_secret(), stored))
            .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let slot = self.slot().await?;
        let in_flight = self.in_flight.clone();
        // The slot goes with the work: a request dropped mid-hash (client
        // gone, timeout) keeps its slot until argon2 is done with the memory.
        tokio::task::spawn_blocking(move || {
            in_flight.inc();
            let out = work();
            in_flight.dec();
            drop(slot);
            out
        })
        .await
        .map_err(ApiError::internal)
    }

    async fn slot(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        if let Ok(slot) = self.slots.clone().try_acquire_owned() {
            return Ok(slot);
        }
        let before = self.waiting.inc();
        let _waiting = Waiting(&self.waiting);
        if before >= self.max_waiting {
            return Err(self.refuse());
        }
        match tokio::time::timeout(self.max_wait, self.slots.clone().acquire_owned()).await {
            Ok(Ok(slot)) => Ok(slot),
            // The semaphore is never closed; treat it like a full queue.
            Ok(Err(_)) | Err(_) => Err(self.refuse()),
        }
    }

    fn refuse(&self) -> ApiError {
        self.refused.inc();
        ApiError::Overloaded {
            retry_after: RETRY_AFTER_SECS,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(concurrency: usize, wait_ms: u64) -> (PasswordQueue, Metrics) {
        let metrics = Metrics::default();
        let q = PasswordQueue::new(concurrency, Duration::from_millis(wait_ms), &metrics);
        (q, metrics)
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_and_a_long_wait_times_out() {
        let (q, metrics) = queue(1, 50);
        let held = q.slot().await.expect("the one slot");
        // Fill the waiting places by hand, as waiters would.
        for _ in 0..WAITERS_PER_SLOT {
            metrics.password_hash_waiting.inc();
        }
        let started = std::time::Instant::now();
        assert!(matches!(q.slot().await, Err(ApiError::Overloaded { .. })));
        assert!(
            started.elapsed() < Duration::from_millis(40),
            "refused at once"
        );
        for _ in 0..WAITERS_PER_SLOT {
            metrics.password_hash_waiting.dec();
        }
        let started = std::time::Instant::now();
        assert!(matches!(q.slot().await, Err(ApiError::Overloaded { .. })));
        assert!(
            started.elapsed() >= Duration::from_millis(50),
            "waited its time"
        );
        assert_eq!(metrics.password_hash_waiting.get(), 0);
        assert_eq!(metrics.password_hash_refused.get(), 2);
        drop(held);
        assert!(q.slot().await.is_ok());
    }

    #[tokio::test]
    async fn hashes_verify_and_unknown_accounts_do_not() {
        let (q, metrics) = queue(2, 1000);
        let hash = q.hash("correct horse".into()).await.expect("hash");
        assert!(q
            .verify("correct horse".into(), Some(hash.as_str().into()))
            .await
            .expect("verify"));
        assert!(!q
            .verify("wrong".into(), Some(hash.into()))
            .await
            .expect("verify"));
        assert!(!q
            .verify("latchkey-dummy-password".into(), None)
            .await
            .expect("verify"));
        assert_eq!(metrics.password_hash_in_flight.get(), 0);
    }
}
