//! `lastUsedAt` without a database write per request: uses are kept in
//! memory and written in one batch every flush interval and at shutdown.

use latchkey_core::{CredentialId, TokenHash};
use latchkey_store::Store;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use time::OffsetDateTime;

#[derive(Default)]
pub struct LastUsed {
    credentials: Pending<CredentialId>,
    /// Resource servers' uses, written to their own table.
    resource_servers: Pending<CredentialId>,
    /// Web sessions' (their owner's list shows when each was last used).
    sessions: Pending<TokenHash>,
}

/// Uses not yet written, the latest per key.
struct Pending<K>(Mutex<HashMap<K, OffsetDateTime>>);

impl<K> Default for Pending<K> {
    fn default() -> Self {
        Pending(Mutex::new(HashMap::new()))
    }
}

impl<K: Eq + Hash> Pending<K> {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, OffsetDateTime>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn take(&self) -> Vec<(K, OffsetDateTime)> {
        self.lock().drain().collect()
    }

    /// After a failed write: kept for the next flush rather than lost.
    fn put_back(&self, batch: Vec<(K, OffsetDateTime)>) {
        let mut pending = self.lock();
        for (uuid, at) in batch {
            pending.entry(uuid).or_insert(at);
        }
    }
}

impl LastUsed {
    pub fn record(&self, credential: CredentialId, at: OffsetDateTime) {
        self.credentials.lock().insert(credential, at);
    }

    pub fn record_resource_server(&self, server: CredentialId, at: OffsetDateTime) {
        self.resource_servers.lock().insert(server, at);
    }

    pub fn record_session(&self, session: TokenHash, at: OffsetDateTime) {
        self.sessions.lock().insert(session, at);
    }

    pub async fn flush(&self, store: &dyn Store) {
        let batch = self.credentials.take();
        if !batch.is_empty() {
            if let Err(error) = store.record_last_used(&batch).await {
                tracing::warn!(%error, count = batch.len(), "could not record last use");
                self.credentials.put_back(batch);
            }
        }
        let batch = self.resource_servers.take();
        if !batch.is_empty() {
            if let Err(error) = store.record_resource_server_use(&batch).await {
                tracing::warn!(%error, count = batch.len(), "could not record resource servers' last use");
                self.resource_servers.put_back(batch);
            }
        }
        let batch = self.sessions.take();
        if !batch.is_empty() {
            if let Err(error) = store.record_sessions_seen(&batch).await {
                tracing::warn!(%error, count = batch.len(), "could not record sessions' last use");
                self.sessions.put_back(batch);
            }
        }
    }
}
