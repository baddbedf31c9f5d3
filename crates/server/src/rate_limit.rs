//! Throttles, under the one rule of `latchkey_core::throttle` (an attempt is
//! counted before it is checked).
//!
//! - Sign-in: per (account, address) with backoff, and per address. The
//!   windows live in the database, so every replica and the next start count
//!   the same attempts, and an attempt is counted before its password is
//!   hashed. The right password from another address is never refused
//!   because of an attacker's guesses.
//! - Verification: failed verifications per address, in memory (see
//!   `api/verify.rs` for why that suffices there).
//!
//! Nothing is throttled by a secret: keys are keyed hashes of an email and an
//! address, or an address.

use crate::error::ApiError;
use latchkey_core::throttle::{Decision, Rule, Window};
use latchkey_core::TokenHasher;
use latchkey_store::Store;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use time::{Duration, OffsetDateTime};

/// Wrong passwords for one account from one address: 10 per 15 minutes, each
/// full window doubling the next, up to 8 hours.
pub const SIGN_IN_PAIR: Rule = Rule {
    limit: 10,
    window: Duration::minutes(15),
    max_doublings: 5,
};

/// Wrong passwords from one address, whatever the account: 50 per 15 minutes.
pub const SIGN_IN_ADDRESS: Rule = Rule {
    limit: 50,
    window: Duration::minutes(15),
    max_doublings: 0,
};

/// Invalid tokens asked about by one address: 60 a minute.
pub const VERIFY_ADDRESS: Rule = Rule {
    limit: 60,
    window: Duration::minutes(1),
    max_doublings: 0,
};

/// Failed client authentications of token introspection by one address:
/// 20 a minute, then doubling windows. A resource server's secret has 190
/// random bits, so this is against flooding (every miss is a database read)
/// more than guessing.
pub const INTROSPECT_CLIENT_ADDRESS: Rule = Rule {
    limit: 20,
    window: Duration::minutes(1),
    max_doublings: 4,
};

/// Beyond this many keys held in memory, new keys are not tracked (windows
/// already counting keep counting), so memory stays bounded and a flood of
/// addresses cannot wipe the windows of others.
const MAX_KEYS: usize = 100_000;

/// The address a throttle counts: IPv4 as is, IPv6 by its /64, which one
/// host usually holds whole (counting its addresses apart would give it 2^64
/// allowances).
pub fn throttle_address(ip: Option<IpAddr>) -> String {
    match ip.map(|ip| ip.to_canonical()) {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        None => "-".into(),
    }
}

/// The window an allowed attempt was counted in, or the `429`.
fn counted_in(decision: Decision) -> Result<OffsetDateTime, ApiError> {
    match decision {
        Decision::Allowed { window_start } => Ok(window_start),
        Decision::Refused { retry_after } => Err(ApiError::RateLimited { retry_after }),
    }
}

/// A map keyed by what clients send, of at most [`MAX_KEYS`] entries: when
/// full, what is no longer live is dropped, at most once a second (not a
/// scan per new key), and a key that still finds no room is not kept.
struct Bounded<V> {
    map: HashMap<String, V>,
    next_purge: OffsetDateTime,
}

impl<V> Bounded<V> {
    fn new() -> Bounded<V> {
        Bounded {
            map: HashMap::new(),
            next_purge: OffsetDateTime::UNIX_EPOCH,
        }
    }

    /// `false` when there was no room.
    fn insert(
        &mut self,
        key: &str,
        value: V,
        now: OffsetDateTime,
        live: impl Fn(&V) -> bool,
    ) -> bool {
        if let Some(kept) = self.map.get_mut(key) {
            *kept = value;
            return true;
        }
        if self.map.len() >= MAX_KEYS && now >= self.next_purge {
            self.map.retain(|_, v| live(v));
            self.next_purge = now + Duration::SECOND;
        }
        if self.map.len() >= MAX_KEYS {
            return false;
        }
        self.map.insert(key.to_string(), value);
        true
    }
}

/// Windows kept in this process's memory.
pub struct LocalThrottle {
    rule: Rule,
    windows: Mutex<Bounded<Window>>,
}

impl LocalThrottle {
    pub fn new(rule: Rule) -> LocalThrottle {
        LocalThrottle {
            rule,
            windows: Mutex::new(Bounded::new()),
        }
    }

    /// Counts one attempt of `key`, or refuses it (`429` with `Retry-After`).
    pub fn take(&self, key: &str, now: OffsetDateTime) -> Result<(), ApiError> {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(stored) = windows.map.get_mut(key) {
            let (window, decision) = self.rule.take(Some(*stored), now);
            *stored = window;
            return counted_in(decision).map(|_| ());
        }
        let (window, decision) = self.rule.take(None, now);
        let rule = self.rule;
        if !windows.insert(key, window, now, |w| now < rule.forget_at(w)) {
            // Full of live windows: a flood of new addresses goes uncounted
            // rather than growing memory.
            return Ok(());
        }
        counted_in(decision).map(|_| ())
    }
}

/// A sign-in attempt counted against its (account, address) and its address
/// before the password is checked.
#[must_use = "a successful sign-in gives its attempt back"]
pub struct SignInAttempt {
    pair: String,
    pair_window: OffsetDateTime,
    address: String,
    address_window: OffsetDateTime,
}

pub struct SignInThrottle {
    pair: Rule,
    address: Rule,
    /// Keys the database refused, and until when: refused again here without
    /// a round trip, so a flood of attempts on a locked key writes nothing.
    locked: Mutex<Bounded<OffsetDateTime>>,
}

impl Default for SignInThrottle {
    fn default() -> Self {
        SignInThrottle {
            pair: SIGN_IN_PAIR,
            address: SIGN_IN_ADDRESS,
            locked: Mutex::new(Bounded::new()),
        }
    }
}

impl SignInThrottle {
    /// Counts an attempt to sign in as `email` from `ip`, or refuses it.
    /// Failed attempts stay counted; [`SignInThrottle::succeeded`] gives a
    /// right one back.
    pub async fn begin(
        &self,
        store: &dyn Store,
        hasher: &TokenHasher,
        email: &str,
        ip: Option<IpAddr>,
        now: OffsetDateTime,
    ) -> Result<SignInAttempt, ApiError> {
        let address = throttle_address(ip);
        let key = |kind: &str, parts: &[&str]| {
            let mut input: Vec<&[u8]> = vec![b"throttle\0", kind.as_bytes()];
            for part in parts {
                input.push(b"\0");
                input.push(part.as_bytes());
            }
            format!("{kind}:{}", hasher.hash_parts(&input).to_hex())
        };
        let pair = key("sign-in-pair", &[email, &address]);
        let address = key("sign-in-address", &[&address]);
        self.locked_here(&pair, now)?;
        self.locked_here(&address, now)?;
        let pair_window = self.take(store, &pair, &self.pair, now).await?;
        let address_window = match self.take(store, &address, &self.address, now).await {
            Ok(window) => window,
            Err(e) => {
                store.throttle_give_back(&pair, pair_window).await?;
                return Err(e);
            }
        };
        Ok(SignInAttempt {
            pair,
            pair_window,
            address,
            address_window,
        })
    }

    /// The password could not be checked (hashing saturated, the database
    /// unreachable): the attempt was no failure, of the pair or the address.
    pub async fn abandoned(
        &self,
        store: &dyn Store,
        attempt: SignInAttempt,
    ) -> Result<(), ApiError> {
        store
            .throttle_give_back(&attempt.pair, attempt.pair_window)
            .await?;
        store
            .throttle_give_back(&attempt.address, attempt.address_window)
            .await?;
        Ok(())
    }

    /// The right password: the pair starts afresh, and the attempt is not a
    /// failure of the address.
    pub async fn succeeded(
        &self,
        store: &dyn Store,
        attempt: SignInAttempt,
    ) -> Result<(), ApiError> {
        store.throttle_clear(&attempt.pair).await?;
        store
            .throttle_give_back(&attempt.address, attempt.address_window)
            .await?;
        Ok(())
    }

    async fn take(
        &self,
        store: &dyn Store,
        key: &str,
        rule: &Rule,
        now: OffsetDateTime,
    ) -> Result<OffsetDateTime, ApiError> {
        let decision = store.throttle_take(key, rule, now).await?;
        if let Decision::Refused { retry_after } = decision {
            let mut locked = self.locked.lock().unwrap_or_else(|e| e.into_inner());
            let seconds = i64::try_from(retry_after).unwrap_or(i64::MAX);
            let until = now.saturating_add(Duration::seconds(seconds));
            locked.insert(key, until, now, |until| *until > now);
        }
        counted_in(decision)
    }

    fn locked_here(&self, key: &str, now: OffsetDateTime) -> Result<(), ApiError> {
        let locked = self.locked.lock().unwrap_or_else(|e| e.into_inner());
        match locked.map.get(key) {
            Some(until) if *until > now => Err(ApiError::RateLimited {
                retry_after: u64::try_from((*until - now).whole_seconds().max(1)).unwrap_or(1),
            }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_full_map_purges_at_most_once_a_second_and_never_grows() {
        let t0 = datetime!(2026-11-23 12:00 UTC);
        let mut map = Bounded::new();
        for n in 0..MAX_KEYS {
            assert!(map.insert(&n.to_string(), t0, t0, |_| true));
        }
        // Full of live entries: a new key is not kept, the map does not grow.
        assert!(!map.insert("new", t0, t0, |_| true));
        assert_eq!(map.map.len(), MAX_KEYS);
        // Within the second no second scan happens, even if all are dead now.
        assert!(!map.insert("new", t0, t0, |_| false));
        // A kept key is always updated.
        assert!(map.insert("7", t0 + Duration::HOUR, t0, |_| true));
        // A second later the dead are dropped and there is room.
        let t1 = t0 + Duration::SECOND;
        assert!(map.insert("new", t1, t1, |v| *v > t0));
        assert_eq!(map.map.len(), 2, "the updated key and the new one");
    }

    #[test]
    fn local_windows_refuse_after_the_limit() {
        let t0 = datetime!(2026-11-23 12:00 UTC);
        let throttle = LocalThrottle::new(Rule {
            limit: 3,
            window: Duration::minutes(1),
            max_doublings: 0,
        });
        for _ in 0..3 {
            assert!(throttle.take("a", t0).is_ok());
        }
        assert!(matches!(
            throttle.take("a", t0 + Duration::seconds(20)),
            Err(ApiError::RateLimited { retry_after: 40 })
        ));
        assert!(throttle.take("b", t0).is_ok());
        assert!(throttle.take("a", t0 + Duration::minutes(1)).is_ok());
    }

    #[test]
    fn addresses_are_counted_by_host_and_v6_by_its_64() {
        let v4: IpAddr = "203.0.113.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:203.0.113.7".parse().unwrap();
        assert_eq!(throttle_address(Some(v4)), "203.0.113.7");
        assert_eq!(throttle_address(Some(mapped)), "203.0.113.7");
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(throttle_address(Some(a)), "2001:db8:1:2::/64");
        assert_eq!(throttle_address(Some(a)), throttle_address(Some(b)));
        assert_eq!(throttle_address(None), "-");
    }
}
