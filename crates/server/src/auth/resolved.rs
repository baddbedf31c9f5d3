//! A credential as the database described it, prepared once for every
//! request that presents it while it stays cached, and the checks that
//! depend on the moment (expiry, revocation, the owner's standing).

use crate::error::AuthFailure;
use latchkey_core::grant::{legacy_role, scopes_of_all};
use latchkey_core::policy::{credential_state, CredentialState};
use latchkey_core::{
    Access, CredentialKind, CredentialRef, Grant, OrgId, ProjectId, Reach, Role, RoleId,
    ScopeCatalog, ScopeSet, TokenHash, UserId,
};
use latchkey_store::{
    AuthRecord, HeldRole, Membership, Org, ProjectRoleRecord, SessionRecord, TeamRoles, User,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use time::OffsetDateTime;
use uuid::Uuid;

use super::caller::{Caller, Client, Memo, Principal, ProjectRow};

/// `lastUsedAt` is recorded at most this often per credential.
const LAST_USED_EVERY_SECS: i64 = 60;

/// A refusal, with what is known of the credential for the audit log.
pub struct Refusal {
    pub failure: AuthFailure,
    pub known: Option<(OrgId, CredentialRef)>,
}

impl From<AuthFailure> for Refusal {
    fn from(failure: AuthFailure) -> Refusal {
        Refusal {
            failure,
            known: None,
        }
    }
}

pub(super) fn credential_ref(c: &latchkey_store::Credential) -> CredentialRef {
    CredentialRef {
        kind: c.kind,
        uuid: Some(c.uuid.into()),
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

/// What reaches a member, their own roles and their teams' together: the
/// one place a personal access token's owner and a web session's member get
/// their access from.
struct MemberHolds {
    /// The highest system role among their own and their teams' (a custom
    /// role shows as `member` beside it).
    role: Role,
    /// Organization-wide: what their own role and every team's give.
    base: ScopeSet,
    /// Per project: every role that reaches it, their own and their teams'.
    projects: HashMap<ProjectId, ProjectRow>,
}

impl MemberHolds {
    fn of(
        catalog: &ScopeCatalog,
        m: &Membership,
        custom_names: Option<&[String]>,
        own_projects: &[ProjectRoleRecord],
        teams: &TeamRoles,
    ) -> MemberHolds {
        let own = Grant::of(m.role, custom_names);
        let base = scopes_of_all(
            std::iter::once(own).chain(teams.org.iter().map(HeldRole::grant)),
            catalog,
            Reach::Organization,
        );
        let role = teams
            .org
            .iter()
            .filter_map(HeldRole::system)
            .fold(m.role.base_role(), Role::max);
        let mut projects: HashMap<ProjectId, ProjectRow> = HashMap::new();
        for r in own_projects.iter().chain(&teams.projects) {
            let row = ProjectRow::of(r, catalog);
            projects
                .entry(r.project_uuid)
                .and_modify(|held| *held = held.with(&row))
                .or_insert(row);
        }
        MemberHolds {
            role,
            base,
            projects,
        }
    }
}

/// A credential as the database described it, prepared once for every
/// request that presents it while it stays cached.
#[derive(Debug)]
pub struct Resolved {
    org: Arc<Org>,
    principal: Principal,
    pub(super) credential: Arc<CredentialRef>,
    org_uuid: OrgId,
    expires_at: Option<OffsetDateTime>,
    /// Creation or last rotation of a token (introspection's `iat`).
    issued_at: Option<OffsetDateTime>,
    /// A service account of project scope (its `projects` are its reach).
    project_scoped: bool,
    revoked_at: Option<OffsetDateTime>,
    standing: Standing,
    role: Option<Role>,
    custom_role: Option<(RoleId, Arc<str>)>,
    projects: Arc<HashMap<ProjectId, ProjectRow>>,
    access: Access,
    /// Set for a web session: the hash of its id.
    session: Option<TokenHash>,
    memo: Arc<Memo>,
    /// Unix seconds of the last `lastUsedAt` handed to the batch.
    last_recorded: AtomicI64,
}

impl Resolved {
    /// `service_accounts_enabled`: whether the instance has them turned on.
    pub(super) fn from_record(
        catalog: &ScopeCatalog,
        service_accounts_enabled: bool,
        record: AuthRecord,
    ) -> Resolved {
        let AuthRecord {
            credential: c,
            org,
            owner,
            membership,
            custom_role,
            account_scope,
            projects,
            owner_projects,
            owner_teams,
            ..
        } = record;
        let custom_names = custom_role.as_ref().map(|c| c.scopes.as_slice());
        let custom_ref = custom_role
            .as_ref()
            .map(|c| (c.uuid, Arc::<str>::from(c.name.as_str())));
        let mut project_rows = HashMap::new();
        let project_scoped = c.kind == CredentialKind::ServiceAccount
            && account_scope == Some(latchkey_store::AccountScope::Project);
        let (principal, standing, role, access) = match (c.kind, owner, membership) {
            (CredentialKind::Pat, Some(owner), Some(m)) => {
                let narrowing = c
                    .scopes
                    .as_ref()
                    .map(|names| catalog.parse_known(names.iter().map(String::as_str)));
                let standing = if m.suspended_at.is_some() {
                    Standing::Suspended
                } else {
                    Standing::Member
                };
                let held =
                    MemberHolds::of(catalog, &m, custom_names, &owner_projects, &owner_teams);
                project_rows = held.projects;
                (
                    Principal::User(Arc::new(owner)),
                    standing,
                    Some(held.role),
                    Access::new(held.base, narrowing),
                )
            }
            (CredentialKind::Pat, owner, _) => {
                let owner = owner.unwrap_or_else(|| User {
                    uuid: c.owner_uuid.unwrap_or(UserId::from_uuid(Uuid::nil())),
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
                let legacy_names = c.scopes.as_deref().unwrap_or_default();
                let legacy = legacy_role(legacy_names);
                let grant = match (custom_names, c.role) {
                    (Some(names), _) => Grant::Custom(names),
                    (None, Some(role)) => Grant::System(role),
                    (None, None) => Grant::Legacy(legacy_names),
                };
                // The scope stored at creation decides, never which rows are
                // left: a project-scoped account reaches its rows and nothing
                // organization-wide, so with its projects all gone, nothing.
                let base = if project_scoped {
                    ScopeSet::EMPTY
                } else {
                    grant.scopes(catalog, Reach::Organization)
                };
                if project_scoped {
                    project_rows = projects
                        .iter()
                        .map(|p| (p.project_uuid, ProjectRow::of(p, catalog)))
                        .collect();
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
                let shown = c.role.or(legacy);
                let standing =
                    if kind == CredentialKind::ServiceAccount && !service_accounts_enabled {
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
            issued_at: Some(c.rotated_at.unwrap_or(c.created_at)),
            project_scoped,
            revoked_at: c.revoked_at,
            standing,
            role,
            custom_role: custom_ref,
            projects: Arc::new(project_rows),
            access,
            session: None,
            memo: Arc::default(),
            last_recorded: AtomicI64::new(i64::MIN),
        }
    }

    /// A web session: its member's role and project roles, as a personal
    /// access token's owner's without narrowing.
    pub(super) fn from_session(catalog: &ScopeCatalog, record: SessionRecord) -> Resolved {
        let SessionRecord {
            id_hash,
            user,
            org,
            membership,
            custom_role,
            project_roles,
            teams,
            expires_at,
            revoked_at,
        } = record;
        let (standing, role, access, projects) = match &membership {
            Some(m) => {
                let names = custom_role.as_ref().map(|c| c.scopes.as_slice());
                let held = MemberHolds::of(catalog, m, names, &project_roles, &teams);
                let standing = if m.suspended_at.is_some() {
                    Standing::Suspended
                } else {
                    Standing::Member
                };
                (
                    standing,
                    Some(held.role),
                    Access::new(held.base, None),
                    held.projects,
                )
            }
            // Removed from the session's organization: the session is over.
            None => (
                Standing::Removed,
                None,
                Access::new(ScopeSet::EMPTY, None),
                HashMap::new(),
            ),
        };
        Resolved {
            org_uuid: org.uuid,
            org: Arc::new(org),
            principal: Principal::User(Arc::new(user)),
            credential: Arc::new(CredentialRef {
                kind: CredentialKind::Session,
                uuid: None,
                name: None,
                display_prefix: None,
            }),
            expires_at: Some(expires_at),
            issued_at: None,
            project_scoped: false,
            revoked_at,
            standing,
            role,
            custom_role: custom_role.map(|c| (c.uuid, Arc::<str>::from(c.name))),
            projects: Arc::new(projects),
            access,
            session: Some(id_hash),
            memo: Arc::default(),
            last_recorded: AtomicI64::new(i64::MIN),
        }
    }

    /// The checks that depend on the moment: expiry, revocation, standing.
    pub(super) fn admit(&self, client: &Client, at: OffsetDateTime) -> Result<Caller, Refusal> {
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
            // What a web session makes is not capped by the session's end.
            credential_expires_at: self.expires_at.filter(|_| self.session.is_none()),
            credential_issued_at: self.issued_at,
            project_scoped: self.project_scoped,
            role: self.role,
            custom_role: self.custom_role.clone(),
            projects: self.projects.clone(),
            access: self.access,
            session: self.session,
            client: client.clone(),
            memo: self.memo.clone(),
        })
    }

    /// True at most once a minute: when this use should reach `lastUsedAt`.
    pub(super) fn due_for_last_used(&self, at: OffsetDateTime) -> bool {
        let now = at.unix_timestamp();
        let last = self.last_recorded.load(Ordering::Relaxed);
        now.saturating_sub(last) >= LAST_USED_EVERY_SECS
            && self
                .last_recorded
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}
