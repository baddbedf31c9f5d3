//! The in-memory side of authentication: what a token hash resolved to, kept
//! so that a credential seen recently costs no database round trip.
//!
//! Correctness comes from epochs, not from finding entries to delete: every
//! organization hashes to one of a fixed set of stripes, and any change in an
//! organization (committed here, or announced by another replica) bumps its
//! stripe. An entry is used only while its stripe is unchanged, the global
//! epoch is unchanged (bumped when notices may have been missed), and it is
//! younger than the TTL. Reading the cache takes no lock beyond the cache
//! shard's own and allocates nothing.

use latchkey_core::CredentialRef;
use latchkey_core::OrgId;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

const STRIPES: usize = 1024;

/// How long a hash that matched nothing is remembered.
const UNKNOWN_TTL: Duration = Duration::from_secs(10);

/// At most this many hashes that matched nothing are remembered. They have
/// a cache of their own: a flood of unknown tokens (each sent twice, say)
/// then evicts only others of its kind, never a real credential.
const MAX_UNKNOWN: usize = 10_000;

/// What a hash resolved to; `T` is the prepared credential (`auth::Resolved`).
pub enum Lookup<T> {
    Found(Arc<T>),
    /// The hash of a secret that was rotated away.
    Retired {
        org: OrgId,
        credential: CredentialRef,
    },
    Unknown,
}

pub struct Entry<T> {
    pub lookup: Lookup<T>,
    filled: Instant,
    global: u64,
    stripe: Option<(usize, u64)>,
}

/// Taken before the database read, so a change that lands during the read
/// keeps its result out of the cache.
pub struct Ticket {
    changes: u64,
}

/// Keyed by a token hash (what a credential resolved to) or by an
/// organization (what it holds that every credential of it shares).
pub struct AuthCache<K, T> {
    entries: Option<quick_cache::sync::Cache<K, Arc<Entry<T>>>>,
    /// `Lookup::Unknown` entries, bounded apart from `entries`.
    unknown: Option<quick_cache::sync::Cache<K, Arc<Entry<T>>>>,
    /// False while changes made elsewhere cannot be heard of (the PostgreSQL
    /// listener is down): then every request reads the database.
    trusted: AtomicBool,
    ttl: Duration,
    global: AtomicU64,
    changes: AtomicU64,
    stripes: Box<[AtomicU64]>,
}

fn stripe_of(org: OrgId) -> usize {
    // v4 UUIDs: the low bits are random.
    (org.uuid().as_u128() as usize) & (STRIPES - 1)
}

impl<K: Eq + Hash + Clone, T> AuthCache<K, T> {
    /// `capacity` 0 turns caching off (every request reads the database).
    pub fn new(capacity: usize, ttl: Duration) -> AuthCache<K, T> {
        AuthCache {
            entries: (capacity > 0).then(|| quick_cache::sync::Cache::new(capacity)),
            unknown: (capacity > 0)
                .then(|| quick_cache::sync::Cache::new(capacity.min(MAX_UNKNOWN))),
            trusted: AtomicBool::new(true),
            ttl,
            global: AtomicU64::new(0),
            changes: AtomicU64::new(0),
            stripes: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    pub fn get(&self, hash: &K, now: Instant) -> Option<Arc<Entry<T>>> {
        if !self.trusted.load(SeqCst) {
            return None;
        }
        let entry = match self.entries.as_ref()?.get(hash) {
            Some(entry) => entry,
            None => self.unknown.as_ref()?.get(hash)?,
        };
        let ttl = if matches!(entry.lookup, Lookup::Unknown) {
            UNKNOWN_TTL.min(self.ttl)
        } else {
            self.ttl
        };
        let fresh = now.saturating_duration_since(entry.filled) < ttl
            && entry.global == self.global.load(SeqCst)
            && entry
                .stripe
                .is_none_or(|(i, epoch)| self.stripes[i].load(SeqCst) == epoch);
        fresh.then_some(entry)
    }

    pub fn ticket(&self) -> Ticket {
        Ticket {
            changes: self.changes.load(SeqCst),
        }
    }

    /// Keeps what the database said, unless anything changed since `ticket`.
    pub fn insert(
        &self,
        hash: K,
        lookup: Lookup<T>,
        org: Option<OrgId>,
        ticket: Ticket,
        now: Instant,
    ) -> Arc<Entry<T>> {
        let global = self.global.load(SeqCst);
        let stripe = org.map(|o| {
            let i = stripe_of(o);
            (i, self.stripes[i].load(SeqCst))
        });
        let entry = Arc::new(Entry {
            lookup,
            filled: now,
            global,
            stripe,
        });
        // Read the epochs first, then confirm nothing changed since the
        // ticket: a change after this point bumps an epoch the entry holds.
        let entries = match entry.lookup {
            Lookup::Unknown => {
                // A credential that is gone leaves its stale entry behind,
                // which `get` would find first: drop it (always safe).
                if let Some(found) = &self.entries {
                    found.remove(&hash);
                }
                &self.unknown
            }
            _ => &self.entries,
        };
        if let Some(entries) = entries {
            if self.changes.load(SeqCst) == ticket.changes {
                entries.insert(hash, entry.clone());
            }
        }
        entry
    }

    /// The live entry for `key`, or what `load` reads from the database,
    /// kept unless something changed meanwhile. `load` is not started
    /// before the ticket is taken. The flag says whether it was a hit.
    pub async fn get_or_load<E>(
        &self,
        key: K,
        now: Instant,
        load: impl std::future::Future<Output = Result<(Lookup<T>, Option<OrgId>), E>>,
    ) -> Result<(Arc<Entry<T>>, bool), E> {
        if let Some(entry) = self.get(&key, now) {
            return Ok((entry, true));
        }
        let ticket = self.ticket();
        let (lookup, org) = load.await?;
        Ok((self.insert(key, lookup, org, ticket, now), false))
    }

    /// Something in `org` changed: its cached credentials are stale.
    pub fn invalidate_org(&self, org: OrgId) {
        self.stripes[stripe_of(org)].fetch_add(1, SeqCst);
        self.changes.fetch_add(1, SeqCst);
    }

    /// Anything may have changed (a missed notice): nothing cached is trusted.
    pub fn invalidate_all(&self) {
        self.global.fetch_add(1, SeqCst);
        self.changes.fetch_add(1, SeqCst);
    }

    /// Changes made elsewhere can no longer be heard of.
    pub fn distrust(&self) {
        self.trusted.store(false, SeqCst);
        self.invalidate_all();
    }

    /// Hearing of changes again; what was cached before may be stale.
    pub fn trust_again(&self) {
        self.invalidate_all();
        self.trusted.store(true, SeqCst);
    }

    /// Resolved credentials held (not counting remembered unknown hashes).
    pub fn len(&self) -> usize {
        self.entries.as_ref().map_or(0, |e| e.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_core::TokenHash;

    /// What is cached beside a hash does not matter here.
    type Cache = AuthCache<TokenHash, ()>;

    fn hash(n: u8) -> TokenHash {
        latchkey_core::TokenHasher::new(&[7u8; 32])
            .unwrap()
            .hash(&n.to_string())
    }

    #[test]
    fn entries_live_until_their_organization_changes() {
        let cache = Cache::new(100, Duration::from_secs(60));
        let (a, b) = (OrgId::random(), OrgId::random());
        let now = Instant::now();
        cache.insert(hash(1), Lookup::Unknown, Some(a), cache.ticket(), now);
        cache.insert(hash(2), Lookup::Unknown, Some(b), cache.ticket(), now);
        assert!(cache.get(&hash(1), now).is_some());
        cache.invalidate_org(a);
        assert!(cache.get(&hash(1), now).is_none());
        if stripe_of(a) != stripe_of(b) {
            assert!(cache.get(&hash(2), now).is_some());
        }
        cache.invalidate_all();
        assert!(cache.get(&hash(2), now).is_none());
    }

    #[test]
    fn a_change_during_the_read_keeps_the_result_out() {
        let cache = Cache::new(100, Duration::from_secs(60));
        let org = OrgId::random();
        let ticket = cache.ticket();
        cache.invalidate_org(OrgId::random());
        let now = Instant::now();
        let entry = cache.insert(hash(1), Lookup::Unknown, Some(org), ticket, now);
        assert!(
            matches!(entry.lookup, Lookup::Unknown),
            "the caller still gets its answer"
        );
        assert!(cache.get(&hash(1), now).is_none());
    }

    #[test]
    fn nothing_is_trusted_while_changes_cannot_be_heard() {
        let cache = Cache::new(100, Duration::from_secs(60));
        let now = Instant::now();
        cache.distrust();
        cache.insert(hash(1), Lookup::Unknown, None, cache.ticket(), now);
        assert!(cache.get(&hash(1), now).is_none());
        cache.trust_again();
        assert!(
            cache.get(&hash(1), now).is_none(),
            "entries from before are dropped"
        );
        cache.insert(hash(1), Lookup::Unknown, None, cache.ticket(), now);
        assert!(cache.get(&hash(1), now).is_some());
    }

    #[test]
    fn a_credential_gone_unknown_is_answered_from_the_negative_cache() {
        let cache = Cache::new(100, Duration::from_secs(60));
        let now = Instant::now();
        let org = OrgId::random();
        let retired = Lookup::Retired {
            org,
            credential: CredentialRef {
                kind: latchkey_core::CredentialKind::Pat,
                uuid: Some(uuid::Uuid::new_v4()),
                name: None,
                display_prefix: None,
            },
        };
        cache.insert(hash(1), retired, Some(org), cache.ticket(), now);
        cache.invalidate_org(org);
        // Read again, the credential is gone: the stale entry must not hide
        // the negative one.
        cache.insert(hash(1), Lookup::Unknown, None, cache.ticket(), now);
        let entry = cache.get(&hash(1), now).expect("cached");
        assert!(matches!(entry.lookup, Lookup::Unknown));
    }

    #[test]
    fn unknown_hashes_never_evict_real_entries() {
        let cache = Cache::new(100, Duration::from_secs(60));
        let now = Instant::now();
        let org = OrgId::random();
        let real = || Lookup::Retired {
            org,
            credential: CredentialRef {
                kind: latchkey_core::CredentialKind::Pat,
                uuid: Some(uuid::Uuid::new_v4()),
                name: None,
                display_prefix: None,
            },
        };
        for n in 0..50 {
            cache.insert(hash(n), real(), Some(org), cache.ticket(), now);
        }
        // Unknown hashes seen twice each: what a cache that favours the
        // seen-again would keep over everything else.
        for round in 0..2 {
            for n in 0..10_000u32 {
                let h = latchkey_core::TokenHasher::new(&[7u8; 32])
                    .unwrap()
                    .hash(&format!("unknown {n}"));
                if round == 0 || cache.get(&h, now).is_none() {
                    cache.insert(h, Lookup::Unknown, None, cache.ticket(), now);
                }
            }
        }
        assert!((0..50).all(|n| cache.get(&hash(n), now).is_some()));
    }

    #[test]
    fn entries_expire_and_a_disabled_cache_keeps_nothing() {
        let cache = Cache::new(100, Duration::from_secs(60));
        let now = Instant::now();
        cache.insert(hash(1), Lookup::Unknown, None, cache.ticket(), now);
        assert!(cache.get(&hash(1), now + UNKNOWN_TTL).is_none());
        let off = Cache::new(0, Duration::from_secs(60));
        off.insert(hash(1), Lookup::Unknown, None, off.ticket(), now);
        assert!(off.get(&hash(1), now).is_none());
    }
}
