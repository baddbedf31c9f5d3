//! What every handler shares.

use crate::cache::AuthCache;
use crate::forwarded::TrustedProxies;
use crate::last_used::LastUsed;
use crate::metrics::Metrics;
use crate::passwords::PasswordQueue;
use crate::rate_limit::{LocalThrottle, SignInThrottle};
use crate::refusals::RefusalLog;
use latchkey_core::{OrgId, ProjectId, ScopeCatalog, TokenHash, TokenHasher};
use latchkey_store::Store;
use std::sync::Arc;
use time::OffsetDateTime;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: Arc<dyn Store>,
    pub cache: Arc<AuthCache<TokenHash, crate::auth::resolved::Resolved>>,
    /// Whether a project (organization, project) exists, for the request
    /// path; kept current by the same epochs as `cache`.
    pub project_exists: Arc<AuthCache<(OrgId, ProjectId), bool>>,
    /// Resource servers (introspection's clients) by their secret's hash,
    /// kept current under `latchkey_store::INSTANCE_CHANGES`.
    pub resource_servers: Arc<AuthCache<TokenHash, crate::resource_server::CachedClient>>,
    pub metrics: Metrics,
    pub hasher: TokenHasher,
    pub catalog: ScopeCatalog,
    /// `[[forward_auth.rules]]` of the configuration file.
    pub forward_rules: latchkey_core::forward::Rules,
    pub last_used: LastUsed,
    /// Every request-path password hash goes through it.
    pub passwords: PasswordQueue,
    /// Sign-in attempts, per (account, address) and per address, counted
    /// in the database.
    pub sign_in: SignInThrottle,
    /// Failed verifications, per client address, in memory.
    pub verify_failures: LocalThrottle,
    /// Failed client authentications of introspection, per address, in memory.
    pub introspect_failures: LocalThrottle,
    /// `iss` of introspection: `--public-url`, or `http://<bind>`.
    pub issuer: String,
    /// `auth.refused` events, collapsed per credential and code.
    pub refusals: RefusalLog,
    /// `--trusted-proxies`: whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
    pub secure_cookies: bool,
    /// `LATCHKEY_SERVICE_ACCOUNTS_ENABLED`.
    pub service_accounts_enabled: bool,
    /// `LATCHKEY_ORG_CREATION`.
    pub org_creation: crate::config::OrgCreation,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(inner: Inner) -> AppState {
        AppState(Arc::new(inner))
    }
}

/// The clock, read once per request at the edge; stored times are whole seconds.
pub fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(0).unwrap_or(t)
}
