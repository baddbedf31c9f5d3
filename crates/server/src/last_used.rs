//! `lastUsedAt` without a database write per request: uses are kept in
//! memory and written in one batch every flush interval and at shutdown.

use latchkey_core::CredentialId;
use latchkey_store::Store;
use std::collections::HashMap;
use std::sync::Mutex;
use time::OffsetDateTime;

#[derive(Default)]
pub struct LastUsed {
    pending: Mutex<HashMap<CredentialId, OffsetDateTime>>,
}

impl LastUsed {
    pub fn record(&self, credential: CredentialId, at: OffsetDateTime) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.insert(credential, at);
    }

    pub async fn flush(&self, store: &dyn Store) {
        let batch: Vec<(CredentialId, OffsetDateTime)> = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending.drain().collect()
        };
        if batch.is_empty() {
            return;
        }
        if let Err(error) = store.record_last_used(&batch).await {
            // Put them back for the next flush rather than lose them.
            tracing::warn!(%error, count = batch.len(), "could not record last use");
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            for (uuid, at) in batch {
                pending.entry(uuid).or_insert(at);
            }
        }
    }
}
