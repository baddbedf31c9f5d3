//! Authentication: turn a request's `Authorization` header or session cookie
//! into a [`Caller`]. It only parses and looks up; each handler states what it
//! needs with one visible call (`caller.require(Scope::…)`).
//!
//! The token path: checksum, one keyed hash, one cache read, a few checks,
//! `Arc` clones. The database is read only when the cache has no live entry
//! for the hash (see `cache.rs` for why a live entry is always current).

use crate::cache::Lookup;
use crate::error::{ApiError, AuthFailure};
use crate::forwarded::ClientAddr;
use crate::state::{now, AppState};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method};
use latchkey_core::policy::{credential_state, CredentialState};
use latchkey_core::{
    token, Access, Actor, ActorKind, AuditEvent, CredentialKind, CredentialRef, Role, Scope,
    ScopeSet, Target, TokenHash,
};
use latchkey_store::{AuthRecord, Org, TokenLookup, User};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use time::OffsetDateTime;
use uuid::Uuid;

pub const SESSION_COOKIE: &str = "latchkey_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// `lastUsedAt` is recorded at most this often per credential.
const LAST_USED_EVERY_SECS: i64 = 60;

#[derive(Clone, Debug)]
pub enum Principal {
    User(Arc<User>),
    ApiKey { uuid: Uuid, name: Arc<str> },
    ServiceAccount { uuid: Uuid, name: Arc<str> },
}

/// Where a request came from, for audit events and throttling. Kept as read
/// (no strings are made unless an event is written).
#[derive(Clone, Debug, Default)]
pub struct Client {
    pub ip: Option<IpAddr>,
    user_agent: Option<HeaderValue>,
}

impl Client {
    pub fn ip_text(&self) -> Option<String> {
        self.ip.map(|ip| ip.to_string())
    }

    pub fn user_agent_text(&self) -> Option<String> {
        let ua = self.user_agent.as_ref()?.to_str().ok()?;
        Some(ua.chars().take(256).collect())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(client_of(parts))
    }
}

fn client_of(parts: &Parts) -> Client {
    Client {
        // As resolved at the edge (behind trusted proxies, the address they
        // name); the socket peer for a request that did not pass the edge.
        ip: parts
            .extensions
            .get::<ClientAddr>()
            .map(|ClientAddr(ip)| *ip)
            .or_else(|| {
                parts
                    .extensions
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|ConnectInfo(addr)| addr.ip())
            }),
        user_agent: parts.headers.get(header::USER_AGENT).cloned(),
    }
}

/// One project row of a project-scoped service account.
#[derive(Clone, Debug)]
pub struct ProjectRow {
    pub role: Option<Role>,
    pub scopes: ScopeSet,
}

/// The system role a legacy scope (`org:view|org:edit|org:admin`) stands for.
pub fn legacy_scope_role(name: &str) -> Option<Role> {
    match name {
        "org:view" => Some(Role::Viewer),
        "org:edit" => Some(Role::Editor),
        "org:admin" => Some(Role::Admin),
        _ => None,
    }
}

/// An authenticated principal in one organization, as of this request.
#[derive(Clone, Debug)]
pub struct Caller {
    pub org: Arc<Org>,
    pub principal: Principal,
    pub credential: Arc<CredentialRef>,
    pub credential_expires_at: Option<OffsetDateTime>,
    /// The organization role of a user, or the fixed role of an API key.
    pub role: Option<Role>,
    /// The custom role that gives `access` its base, if any.
    pub custom_role: Option<(Uuid, Arc<str>)>,
    /// A project-scoped service account's rows: it reaches these projects
    /// and nothing else.
    pub projects: Option<Arc<HashMap<Uuid, ProjectRow>>>,
    pub access: Access,
    /// Set for cookie sessions: the hash of the session id.
    pub session: Option<TokenHash>,
    pub client: Client,
}

impl Caller {
    pub fn actor(&self) -> Actor {
        match &self.principal {
            Principal::User(u) => Actor {
                kind: ActorKind::User,
                uuid: u.uuid,
                name: u.display_name().to_string(),
            },
            Principal::ApiKey { uuid, name } => Actor {
                kind: ActorKind::ApiKey,
                uuid: *uuid,
                name: name.to_string(),
            },
            Principal::ServiceAccount { uuid, name } => Actor {
                kind: ActorKind::ServiceAccount,
                uuid: *uuid,
                name: name.to_string(),
            },
        }
    }

    /// An organization-wide scope, or `403 missing_scope` naming it.
    pub fn require(
        &self,
        scope: Scope,
        catalog: &latchkey_core::ScopeCatalog,
    ) -> Result<(), ApiError> {
        require_in(self.access.org_scopes(), scope, catalog)
    }

    /// Personal access tokens are managed by a user, with a session or a PAT.
    pub fn user(&self) -> Result<&User, ApiError> {
        match &self.principal {
            Principal::User(u) => Ok(u),
            _ => Err(ApiError::Forbidden(
                "only a user (session or personal access token) may do this".into(),
            )),
        }
    }

    pub fn session(&self) -> Result<&TokenHash, ApiError> {
        self.session
            .as_ref()
            .ok_or_else(|| ApiError::Forbidden("this needs a web session".into()))
    }

    /// An audit event of this caller in its organization.
    pub fn audit(
        &self,
        action: &'static str,
        target: Option<Target>,
        details: serde_json::Value,
        at: OffsetDateTime,
    ) -> AuditEvent {
        AuditEvent {
            org_uuid: self.org.uuid,
            at,
            action,
            actor: Some(self.actor()),
            credential: Some((*self.credential).clone()),
            target,
            ip: self.client.ip_text(),
            user_agent: self.client.user_agent_text(),
            details,
        }
    }
}

pub fn require_in(
    scopes: ScopeSet,
    scope: Scope,
    catalog: &latchkey_core::ScopeCatalog,
) -> Result<(), ApiError> {
    if scopes.contains(scope) {
        Ok(())
    } else {
        Err(ApiError::MissingScope(catalog.name(scope).to_string()))
    }
}

/// A refusal, with what is known of the credential for the audit log.
pub struct Refusal {
    pub failure: AuthFailure,
    pub known: Option<(Uuid, CredentialRef)>,
}

impl From<AuthFailure> for Refusal {
    fn from(failure: AuthFailure) -> Refusal {
        Refusal {
            failure,
            known: None,
        }
    }
}

fn credential_ref(c: &latchkey_store::Credential) -> CredentialRef {
    CredentialRef {
        kind: c.kind,
        uuid: Some(c.uuid),
        name: Some(c.name.clone()),
        display_prefix: Some(c.display_prefix.clone()),
    }
}

/// Where the owner of a personal access token stands in its organization.
#[derive(Clone, Copy, Debug)]
enum Standing {
    /// API keys and service accounts have no owner to check.
    NotAUser,
    /// A service account while the instance has them turned off.
    Disabled,
    Member,
    Suspended,
    Removed,
}

/// A credential as the database described it, prepared once for every
/// request that presents it while it stays cached.
#[derive(Debug)]
pub struct Resolved {
    org: Arc<Org>,
    principal: Principal,
    credential: Arc<CredentialRef>,
    org_uuid: Uuid,
    expires_at: Option<OffsetDateTime>,
    revoked_at: Option<OffsetDateTime>,
    standing: Standing,
    role: Option<Role>,
    custom_role: Option<(Uuid, Arc<str>)>,
    projects: Option<Arc<HashMap<Uuid, ProjectRow>>>,
    access: Access,
    /// Unix seconds of the last `lastUsedAt` handed to the batch.
    last_recorded: AtomicI64,
}

impl Resolved {
    fn from_record(state: &AppState, record: AuthRecord) -> Resolved {
        let AuthRecord {
            credential: c,
            org,
            owner,
            membership,
            custom_role,
            account_scope,
            projects,
            ..
        } = record;
        let custom_scopes = custom_role
            .as_ref()
            .map(|(_, _, names)| state.catalog.parse_known(names.iter().map(String::as_str)));
        let custom_ref = custom_role.map(|(uuid, name, _)| (uuid, Arc::<str>::from(name)));
        let mut project_rows = None;
        let (principal, standing, role, access) = match (c.kind, owner, membership) {
            (CredentialKind::Pat, Some(owner), Some(m)) => {
                let narrowing = c
                    .scopes
                    .as_ref()
                    .map(|names| state.catalog.parse_known(names.iter().map(String::as_str)));
                let standing = if m.suspended_at.is_some() {
                    Standing::Suspended
                } else {
                    Standing::Member
                };
                let base = match (m.custom_role_uuid, custom_scopes) {
                    (Some(_), Some(scopes)) => scopes,
                    // A custom role that is gone gives nothing.
                    (Some(_), None) => ScopeSet::EMPTY,
                    (None, _) => m.role.scopes_in(&state.catalog),
                };
                (
                    Principal::User(Arc::new(owner)),
                    standing,
                    Some(m.role),
                    Access::new(base, narrowing),
                )
            }
            (CredentialKind::Pat, owner, _) => {
                let owner = owner.unwrap_or_else(|| User {
                    uuid: c.owner_uuid.unwrap_or_default(),
                    email: String::new(),
                    name: None,
                    created_at: c.created_at,
                });
                (
                    Principal::User(Arc::new(owner)),
                    Standing::Removed,
                    None,
                    Access::new(ScopeSet::EMPTY, None),
                )
            }
            (kind, _, _) => {
                // Legacy scopes stand for the viewer, editor or admin role.
                let legacy = c
                    .scopes
                    .iter()
                    .flatten()
                    .filter_map(|s| legacy_scope_role(s))
                    .max();
                let role = c.role.or(legacy).unwrap_or(Role::Member);
                // The scope stored at creation decides, never which rows are
                // left: a project-scoped account reaches its rows and nothing
                // organization-wide, so with its projects all gone, nothing.
                let project_scoped = kind == CredentialKind::ServiceAccount
                    && account_scope == Some(latchkey_store::AccountScope::Project);
                let base = if project_scoped {
                    ScopeSet::EMPTY
                } else {
                    custom_scopes.unwrap_or_else(|| role.scopes_in(&state.catalog))
                };
                if project_scoped {
                    project_rows = Some(Arc::new(
                        projects
                            .iter()
                            .map(|p| {
                                let scopes = match &p.custom_role {
                                    Some((_, _, names)) => {
                                        state.catalog.parse_known(names.iter().map(String::as_str))
                                    }
                                    None => p.role.map(Role::scopes).unwrap_or_default(),
                                };
                                (
                                    p.project_uuid,
                                    ProjectRow {
                                        role: p.role,
                                        scopes,
                                    },
                                )
                            })
                            .collect(),
                    ));
                }
                let principal = if kind == CredentialKind::ServiceAccount {
                    Principal::ServiceAccount {
                        uuid: c.uuid,
                        name: c.name.as_str().into(),
                    }
                } else {
                    Principal::ApiKey {
                        uuid: c.uuid,
                        name: c.name.as_str().into(),
                    }
                };
                let shown = (c.role.is_some() || legacy.is_some()).then_some(role);
                let standing =
                    if kind == CredentialKind::ServiceAccount && !state.service_accounts_enabled {
                        Standing::Disabled
                    } else {
                        Standing::NotAUser
                    };
                (principal, standing, shown, Access::new(base, None))
            }
        };
        Resolved {
            org: Arc::new(org),
            principal,
            credential: Arc::new(credential_ref(&c)),
            org_uuid: c.org_uuid,
            expires_at: c.expires_at,
            revoked_at: c.revoked_at,
            standing,
            role,
            custom_role: custom_ref,
            projects: project_rows,
            access,
            last_recorded: AtomicI64::new(i64::MIN),
        }
    }

    /// The checks that depend on the moment: expiry, revocation, standing.
    fn admit(&self, client: &Client, at: OffsetDateTime) -> Result<Caller, Refusal> {
        let refuse = |failure| Refusal {
            failure,
            known: Some((self.org_uuid, (*self.credential).clone())),
        };
        match credential_state(self.expires_at, self.revoked_at, at) {
            CredentialState::Revoked => return Err(refuse(AuthFailure::TokenRevoked)),
            CredentialState::Expired => return Err(refuse(AuthFailure::TokenExpired)),
            CredentialState::Active => {}
        }
        match self.standing {
            Standing::Removed => return Err(refuse(AuthFailure::TokenRevoked)),
            Standing::Suspended => return Err(refuse(AuthFailure::AccountSuspended)),
            Standing::Disabled => return Err(refuse(AuthFailure::FeatureDisabled)),
            Standing::Member | Standing::NotAUser => {}
        }
        Ok(Caller {
            org: self.org.clone(),
            principal: self.principal.clone(),
            credential: self.credential.clone(),
            credential_expires_at: self.expires_at,
            role: self.role,
            custom_role: self.custom_role.clone(),
            projects: self.projects.clone(),
            access: self.access,
            session: None,
            client: client.clone(),
        })
    }

    /// True at most once a minute: when this use should reach `lastUsedAt`.
    fn due_for_last_used(&self, at: OffsetDateTime) -> bool {
        let now = at.unix_timestamp();
        let last = self.last_recorded.load(Ordering::Relaxed);
        now.saturating_sub(last) >= LAST_USED_EVERY_SECS
            && self
                .last_recorded
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

/// Checks a token and resolves what it may do now. Shared by every
/// authenticated route and by `POST /auth/verify`. The outer error is the
/// server's own trouble (database unreachable: `503`), never the token's.
pub async fn verify_token(
    state: &AppState,
    text: &str,
    client: &Client,
    at: OffsetDateTime,
) -> Result<Result<Caller, Refusal>, ApiError> {
    // The checksum is checked before any database work.
    let Ok(parsed) = token::parse(text) else {
        state.metrics.refused(AuthFailure::MalformedToken);
        return Ok(Err(AuthFailure::MalformedToken.into()));
    };
    let hash = state.hasher.hash(parsed.expose());
    let instant = std::time::Instant::now();
    let cached = state.cache.get(&hash, instant);
    state.metrics.cache_lookup(cached.is_some());
    let entry = match cached {
        Some(entry) => entry,
        None => {
            let ticket = state.cache.ticket();
            let (lookup, org) = match state.store.authenticate(&hash).await? {
                // The index found it; compare again in constant time where
                // the secret's hash meets the stored one.
                TokenLookup::Found(record) if record.token_hash.ct_eq(&hash) => {
                    let org = record.org.uuid;
                    (
                        Lookup::Found(Arc::new(Resolved::from_record(state, record))),
                        Some(org),
                    )
                }
                TokenLookup::Found(_) | TokenLookup::Unknown => (Lookup::Unknown, None),
                TokenLookup::Retired { credential } => (
                    Lookup::Retired {
                        org: credential.org_uuid,
                        credential: credential_ref(&credential),
                    },
                    Some(credential.org_uuid),
                ),
            };
            state.cache.insert(hash, lookup, org, ticket, instant)
        }
    };
    let outcome = match &entry.lookup {
        Lookup::Found(resolved) => {
            let caller = resolved.admit(client, at);
            if caller.is_ok() && resolved.due_for_last_used(at) {
                if let Some(uuid) = resolved.credential.uuid {
                    state.last_used.record(uuid, at);
                }
            }
            Ok(caller)
        }
        // Named by the prefix of the secret presented, not the current one,
        // so the log tells which leaked secret was tried.
        Lookup::Retired { org, credential } => Ok(Err(Refusal {
            failure: AuthFailure::TokenRevoked,
            known: Some((
                *org,
                CredentialRef {
                    display_prefix: Some(parsed.display_prefix().to_string()),
                    ..credential.clone()
                },
            )),
        })),
        Lookup::Unknown => Ok(Err(AuthFailure::InvalidToken.into())),
    };
    match &outcome {
        Ok(Ok(_)) => state.metrics.authenticated(),
        Ok(Err(refusal)) => state.metrics.refused(refusal.failure),
        Err(_) => {}
    }
    outcome
}

/// Records a refused credential of a known organization, collapsed: the
/// first refusal of a credential and code at once, the rest of the minute
/// summed up in one event later (`refusals.rs`).
pub async fn audit_refusal(
    state: &AppState,
    refusal: &Refusal,
    client: &Client,
    at: OffsetDateTime,
) {
    let Some((org_uuid, credential)) = &refusal.known else {
        return;
    };
    let event = AuditEvent {
        org_uuid: *org_uuid,
        at,
        action: "auth.refused",
        actor: None,
        credential: Some(credential.clone()),
        target: None,
        ip: client.ip_text(),
        user_agent: client.user_agent_text(),
        details: serde_json::json!({ "code": refusal.failure.code() }),
    };
    let Some(event) = state.refusals.note(event, refusal.failure.code()) else {
        return;
    };
    if let Err(error) = state.store.append_audit(&event).await {
        tracing::warn!(%error, "could not record a refused credential");
    }
}

/// `ApiKey <token>` or `Bearer <token>`, scheme case-insensitive.
fn token_from_header(value: &header::HeaderValue) -> Result<&str, AuthFailure> {
    let value = value.to_str().map_err(|_| AuthFailure::MalformedToken)?;
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or(AuthFailure::MalformedToken)?;
    if scheme.eq_ignore_ascii_case("apikey") || scheme.eq_ignore_ascii_case("bearer") {
        Ok(token.trim())
    } else {
        Err(AuthFailure::MalformedToken)
    }
}

pub fn session_cookie(parts: &Parts) -> Option<String> {
    cookie_value(parts, SESSION_COOKIE)
}

/// The value of the request's cookie `name`.
pub fn cookie_value(parts: &Parts, name: &str) -> Option<String> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

/// Cookies are `Secure` when the operator says so or the request came
/// through HTTPS (`X-Forwarded-Proto: https` from the proxy). Believed from
/// any peer, trusted proxy or not, on purpose: it can only add `Secure`,
/// which makes a cookie stricter for the one who asked, never looser for
/// anyone; ignoring it from unlisted proxies would quietly drop `Secure`
/// behind a TLS proxy that was never added to `--trusted-proxies`.
pub fn secure_cookies(state: &AppState, headers: &axum::http::HeaderMap) -> bool {
    state.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

/// `Set-Cookie` for the session: HttpOnly, SameSite=Lax, the whole site;
/// an empty value with no lifetime ends it.
pub fn session_set_cookie(value: &str, max_age: time::Duration, secure: bool) -> HeaderValue {
    let cookie = cookie::Cookie::build((SESSION_COOKIE, value.to_string()))
        .http_only(true)
        .same_site(cookie::SameSite::Lax)
        .secure(secure)
        .path("/")
        .max_age(cookie::time::Duration::seconds(max_age.whole_seconds()))
        .build();
    HeaderValue::from_str(&cookie.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

pub fn session_hash(state: &AppState, session_id: &str) -> TokenHash {
    state
        .hasher
        .hash_parts(&[b"session\0", session_id.as_bytes()])
}

/// The CSRF token of a session, derived from its id so nothing more is stored.
pub fn csrf_token(state: &AppState, session_id: &str) -> String {
    state
        .hasher
        .hash_parts(&[b"csrf\0", session_id.as_bytes()])
        .to_hex()
}

async fn from_session(
    state: &AppState,
    parts: &Parts,
    session_id: &str,
    at: OffsetDateTime,
) -> Result<Caller, ApiError> {
    let id_hash = session_hash(state, session_id);
    let session = state
        .store
        .session(&id_hash)
        .await?
        .filter(|s| s.id_hash.ct_eq(&id_hash))
        .ok_or(ApiError::Unauthenticated(AuthFailure::InvalidToken))?;
    if session.revoked_at.is_some() {
        return Err(ApiError::Unauthenticated(AuthFailure::TokenRevoked));
    }
    if session.expires_at <= at {
        return Err(ApiError::Unauthenticated(AuthFailure::TokenExpired));
    }
    let membership = session
        .membership
        .ok_or(ApiError::Unauthenticated(AuthFailure::TokenRevoked))?;
    if membership.suspended_at.is_some() {
        return Err(ApiError::Unauthenticated(AuthFailure::AccountSuspended));
    }
    let (base, custom_role) = match membership.custom_role_uuid {
        Some(uuid) => match state.store.custom_role(session.org.uuid, uuid).await? {
            Some(r) => (
                state
                    .catalog
                    .parse_known(r.scopes.iter().map(String::as_str)),
                Some((r.uuid, Arc::<str>::from(r.name))),
            ),
            None => (ScopeSet::EMPTY, None),
        },
        None => (membership.role.scopes_in(&state.catalog), None),
    };
    let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe {
        let expected = csrf_token(state, session_id);
        let given = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let matches: bool =
            subtle::ConstantTimeEq::ct_eq(given.as_bytes(), expected.as_bytes()).into();
        if !matches {
            return Err(ApiError::Forbidden(
                "a session request that changes anything needs the X-CSRF-Token header from login"
                    .into(),
            ));
        }
    }
    Ok(Caller {
        org: Arc::new(session.org),
        principal: Principal::User(Arc::new(session.user)),
        credential: Arc::new(CredentialRef {
            kind: CredentialKind::Session,
            uuid: None,
            name: None,
            display_prefix: None,
        }),
        credential_expires_at: None,
        role: Some(membership.role),
        custom_role,
        projects: None,
        access: Access::new(base, None),
        session: Some(id_hash),
        client: client_of(parts),
    })
}

/// A request that may come with a credential (accepting an invitation): no
/// credential at all is `None`; one that is refused is still refused.
impl axum::extract::OptionalFromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Caller>, ApiError> {
        if parts.headers.get(header::AUTHORIZATION).is_none() && session_cookie(parts).is_none() {
            return Ok(None);
        }
        <Caller as FromRequestParts<AppState>>::from_request_parts(parts, state)
            .await
            .map(Some)
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        let at = now();
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let text = token_from_header(value).map_err(ApiError::Unauthenticated)?;
            let client = client_of(parts);
            return match verify_token(state, text, &client, at).await? {
                Ok(caller) => Ok(caller),
                Err(refusal) => {
                    audit_refusal(state, &refusal, &client, at).await;
                    Err(ApiError::Unauthenticated(refusal.failure))
                }
            };
        }
        match session_cookie(parts) {
            Some(id) => from_session(state, parts, &id, at).await,
            None => Err(ApiError::Unauthenticated(AuthFailure::MissingCredentials)),
        }
    }
}
