//! Who is calling: the principal, its organization and what it holds
//! there, and where the request came from.

use crate::error::ApiError;
use crate::forwarded::ClientAddr;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use latchkey_core::AuditAction;
use latchkey_core::{
    Access, Actor, ActorKind, AuditEvent, CredentialId, CredentialRef, ProjectId, Reach, Role,
    RoleId, Scope, ScopeCatalog, ScopeSet, Target, TokenHash,
};
use latchkey_store::{Org, User};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use time::OffsetDateTime;

#[derive(Clone, Debug)]
pub enum Principal {
    User(Arc<User>),
    ApiKey { uuid: CredentialId, name: Arc<str> },
    ServiceAccount { uuid: CredentialId, name: Arc<str> },
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

pub(crate) fn client_of(parts: &Parts) -> Client {
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

/// A role on one project: a project-scoped service account's row, or a
/// member's project role. `role` is the system role, if it is one.
#[derive(Clone, Debug)]
pub struct ProjectRow {
    pub role: Option<Role>,
    pub scopes: ScopeSet,
}

impl ProjectRow {
    /// A member's project role or a service account's row, as stored.
    pub fn of(r: &latchkey_store::ProjectRoleRecord, catalog: &ScopeCatalog) -> ProjectRow {
        ProjectRow {
            role: r.role.system(),
            scopes: r.role.grant().scopes(catalog, Reach::Project),
        }
    }

    /// Two roles that reach one project, together: the higher system role,
    /// and the scopes of both (`grant::scopes_of_all`'s rule).
    pub fn with(&self, other: &ProjectRow) -> ProjectRow {
        ProjectRow {
            role: self.role.max(other.role),
            scopes: self.scopes.union(other.scopes),
        }
    }
}

/// What is worked out once per cached credential and reused by every request
/// that presents it. A change makes a new cache entry, which starts empty.
#[derive(Debug, Default)]
pub struct Memo {
    /// The body of `GET /api/v1/user`.
    pub current_user: OnceLock<Bytes>,
    /// The body of an active `/oauth2/introspect` answer about this token.
    pub introspection: OnceLock<Bytes>,
    /// The `X-Latchkey-*` headers of an allowed `/auth/forward`.
    pub forward_identity: OnceLock<axum::http::HeaderMap>,
}

impl Memo {
    /// The bytes in `cell`, made by `build` the first time.
    pub fn bytes(
        cell: &OnceLock<Bytes>,
        build: impl FnOnce() -> Result<Bytes, ApiError>,
    ) -> Result<Bytes, ApiError> {
        if let Some(bytes) = cell.get() {
            return Ok(bytes.clone());
        }
        let bytes = build()?;
        Ok(cell.get_or_init(|| bytes).clone())
    }
}

/// An authenticated principal in one organization, as of this request.
#[derive(Clone, Debug)]
pub struct Caller {
    pub org: Arc<Org>,
    pub principal: Principal,
    pub credential: Arc<CredentialRef>,
    pub credential_expires_at: Option<OffsetDateTime>,
    /// A token's creation or last rotation; `None` for a web session.
    pub credential_issued_at: Option<OffsetDateTime>,
    /// A service account of project scope: `projects` is all it reaches.
    pub project_scoped: bool,
    /// The organization role of a user, or the fixed role of an API key.
    pub role: Option<Role>,
    /// The custom role that gives `access` its base, if any.
    pub custom_role: Option<(RoleId, Arc<str>)>,
    /// Its roles on projects, cached with the credential: a user's project
    /// roles, or a project-scoped service account's rows (which reach these
    /// projects and nothing else). Empty for anything else.
    pub projects: Arc<HashMap<ProjectId, ProjectRow>>,
    pub access: Access,
    /// Set for cookie sessions: the hash of the session id.
    pub session: Option<TokenHash>,
    pub client: Client,
    pub memo: Arc<Memo>,
}

impl Caller {
    pub fn actor(&self) -> Actor {
        match &self.principal {
            Principal::User(u) => Actor {
                kind: ActorKind::User,
                uuid: u.uuid.into(),
                name: u.display_name().to_string(),
            },
            Principal::ApiKey { uuid, name } => Actor {
                kind: ActorKind::ApiKey,
                uuid: (*uuid).into(),
                name: name.to_string(),
            },
            Principal::ServiceAccount { uuid, name } => Actor {
                kind: ActorKind::ServiceAccount,
                uuid: (*uuid).into(),
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

    /// The caller's role on one project, if it has one there.
    pub fn project_row(&self, project: ProjectId) -> Option<&ProjectRow> {
        self.projects.get(&project)
    }

    /// Everything its roles on projects give, on any project.
    pub fn project_scopes_anywhere(&self) -> ScopeSet {
        self.projects
            .values()
            .fold(ScopeSet::EMPTY, |s, r| s.union(r.scopes))
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
        action: AuditAction,
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
