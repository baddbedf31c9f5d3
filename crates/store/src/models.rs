//! What the store reads and writes. Plain data; rules live in latchkey-core.

use latchkey_core::SecretString;
pub use latchkey_core::{AccountScope, RoleRef};
use latchkey_core::{Actor, CredentialKind, CredentialRef, Grant, Plan, Role, Target, TokenHash};
pub use latchkey_core::{CredentialId, OrgId, ProjectId, RoleId, SessionId, TeamId, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Clone, Debug, PartialEq)]
pub struct Org {
    pub uuid: OrgId,
    pub name: String,
    pub plan: Plan,
    pub created_at: OffsetDateTime,
}

#[derive(Clone, Debug, PartialEq)]
pub struct User {
    pub uuid: UserId,
    pub email: String,
    pub name: Option<String>,
    pub created_at: OffsetDateTime,
}

impl User {
    /// The name shown for this user as an actor.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.email)
    }
}

/// A user with the argon2id hash of their password (`None` until an invite is
/// accepted). Only login reads this.
#[derive(Clone, Debug)]
pub struct UserLogin {
    pub user: User,
    pub password_hash: Option<SecretString>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Membership {
    pub org_uuid: OrgId,
    pub user_uuid: UserId,
    pub role: RoleRef,
    pub suspended_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    /// `None` while the membership is an invitation its person has not
    /// accepted: it then gives nothing.
    pub accepted_at: Option<OffsetDateTime>,
}

/// Where a membership stands, as member lists show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberStatus {
    Invited,
    Active,
    Suspended,
}

impl MemberStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Invited => "invited",
            MemberStatus::Active => "active",
            MemberStatus::Suspended => "suspended",
        }
    }
}

impl Membership {
    pub fn status(&self) -> MemberStatus {
        match (self.accepted_at, self.suspended_at) {
            (_, Some(_)) => MemberStatus::Suspended,
            (None, None) => MemberStatus::Invited,
            (Some(_), None) => MemberStatus::Active,
        }
    }

    /// An invitation its person has not accepted (suspended or not).
    pub fn is_pending(&self) -> bool {
        self.accepted_at.is_none()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    pub user: User,
    pub membership: Membership,
}

/// The first admin of a new organization.
pub enum NewAdmin {
    Existing(UserId),
    New { user: User, password_hash: String },
}

pub enum MemberUser {
    Existing(UserId),
    /// Created without a password; the invitation may set it.
    New(User),
}

pub struct NewMember {
    pub org_uuid: OrgId,
    pub user: MemberUser,
    pub role: RoleRef,
    pub now: OffsetDateTime,
}

/// A link to accept an invitation. Whether it may set the account's
/// password the store decides when the invitation is first issued: only if
/// the account then has no password and no membership or invitation in any
/// other organization (so a later invitation from elsewhere can neither set
/// the password nor take that right from the first).
pub struct NewInvite {
    pub code_hash: TokenHash,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// An invitation link that can still be used.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingInvite {
    pub org_uuid: OrgId,
    pub user_uuid: UserId,
    /// The link may set the password (see [`NewInvite`]); any other link is
    /// accepted only by a signed-in session of that account.
    pub sets_password: bool,
    pub expires_at: OffsetDateTime,
}

/// How an invitation is accepted.
pub enum Acceptance<'a> {
    /// Through a link that may set the password: sets it (if the account
    /// still has none) and ends every session of the account.
    SetPassword {
        password_hash: &'a str,
        name: Option<&'a str>,
    },
    /// By a signed-in session of the invited account.
    BySession { user_uuid: UserId },
}

#[derive(Clone, Debug, Default)]
pub struct MemberChange {
    pub role: Option<RoleRef>,
    /// `Some(Some(t))` suspends at `t`, `Some(None)` lifts a suspension.
    pub suspended_at: Option<Option<OffsetDateTime>>,
}

pub struct NewSession {
    pub id_hash: TokenHash,
    /// What the owner's list of sessions names it by.
    pub uuid: SessionId,
    pub user_uuid: UserId,
    pub org_uuid: OrgId,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// Where it was signed in from, for its owner's list.
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// A live session as its owner's list shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionInfo {
    pub uuid: SessionId,
    /// To tell the caller's own session; never shown.
    pub id_hash: TokenHash,
    pub org_uuid: OrgId,
    pub created_at: OffsetDateTime,
    /// The last request made with it, to the minute; `None` before the first
    /// batch of uses is written.
    pub last_seen_at: Option<OffsetDateTime>,
    pub expires_at: OffsetDateTime,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Clone, Debug)]
pub struct SessionRecord {
    pub id_hash: TokenHash,
    pub user: User,
    pub org: Org,
    /// `None` when the user was removed from the session's organization.
    pub membership: Option<Membership>,
    /// The membership's custom role, if it has one.
    pub custom_role: Option<CustomRoleGrant>,
    /// The member's project roles (while a member); empty otherwise.
    pub project_roles: Vec<ProjectRoleRecord>,
    /// What the member's teams give (while a member); empty otherwise.
    pub teams: TeamRoles,
    pub expires_at: OffsetDateTime,
    /// Set when the session was ended by its member's removal.
    pub revoked_at: Option<OffsetDateTime>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Project {
    pub uuid: ProjectId,
    pub org_uuid: OrgId,
    pub name: String,
    pub created_at: OffsetDateTime,
    pub created_by: Actor,
    pub updated_at: OffsetDateTime,
    pub updated_by: Actor,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ProjectGrant {
    pub user: User,
    pub role: RoleRef,
}

/// A custom role as a grant reads it, in the same query as the grant.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomRoleGrant {
    pub uuid: RoleId,
    pub name: String,
    /// Scope names as stored.
    pub scopes: Vec<String>,
}

impl From<CustomRole> for CustomRoleGrant {
    fn from(role: CustomRole) -> CustomRoleGrant {
        CustomRoleGrant {
            uuid: role.uuid,
            name: role.name,
            scopes: role.scopes,
        }
    }
}

/// A role as the request path holds it: a system role, or a custom role with
/// what it grants.
#[derive(Clone, Debug, PartialEq)]
pub enum HeldRole {
    System(Role),
    Custom(CustomRoleGrant),
    /// A service account's project row whose custom role is gone: nothing.
    Gone,
}

impl HeldRole {
    pub fn grant(&self) -> Grant<'_> {
        match self {
            HeldRole::System(role) => Grant::System(*role),
            HeldRole::Custom(custom) => Grant::Custom(&custom.scopes),
            HeldRole::Gone => Grant::Gone,
        }
    }

    /// The system role, when it is one.
    pub fn system(&self) -> Option<Role> {
        match self {
            HeldRole::System(role) => Some(*role),
            _ => None,
        }
    }
}

/// A role on one project as the request path reads it: a member's project
/// role, or a row of a project-scoped service account.
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectRoleRecord {
    pub project_uuid: ProjectId,
    pub role: HeldRole,
}

/// Any kind of credential. The secret is never here, only its display prefix.
#[derive(Clone, Debug, PartialEq)]
pub struct Credential {
    pub uuid: CredentialId,
    pub kind: CredentialKind,
    pub org_uuid: OrgId,
    /// The user a personal access token belongs to.
    pub owner_uuid: Option<UserId>,
    pub name: String,
    pub display_prefix: String,
    /// A personal access token's own scope list; `None` is the full role.
    pub scopes: Option<Vec<String>>,
    /// The fixed role of an API key or service account.
    pub role: Option<Role>,
    pub expires_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub rotated_at: Option<OffsetDateTime>,
    pub last_used_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
    pub created_by: Actor,
}

/// What the request path learns from a token's hash.
// Returned by value once per lookup and never stored in bulk, so the size
// difference costs nothing and boxing would cost an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum TokenLookup {
    Found(AuthRecord),
    /// The hash of a secret that was rotated away.
    Retired {
        credential: Credential,
    },
    Unknown,
}

#[derive(Clone, Debug)]
pub struct AuthRecord {
    pub credential: Credential,
    pub token_hash: TokenHash,
    pub org: Org,
    pub owner: Option<User>,
    /// The owner's membership now; `None` when they left the organization.
    pub membership: Option<Membership>,
    /// The custom role of the credential (service account) or, for a
    /// personal access token, of its owner's membership.
    pub custom_role: Option<CustomRoleGrant>,
    /// A service account's scope, as created.
    pub account_scope: Option<AccountScope>,
    /// A project-scoped service account's rows; empty otherwise.
    pub projects: Vec<ProjectRoleRecord>,
    /// The project roles of a personal access token's owner in the
    /// organization (while a member); empty otherwise.
    pub owner_projects: Vec<ProjectRoleRecord>,
    /// What the teams of a personal access token's owner give (while a
    /// member); empty otherwise.
    pub owner_teams: TeamRoles,
}

/// An edit of a credential: a PAT's name, scopes and expiry, an API key's
/// name and expiry.
#[derive(Clone, Debug, Default)]
pub struct CredentialChange {
    pub name: Option<String>,
    /// `Some(None)` gives back the full role.
    pub scopes: Option<Option<Vec<String>>>,
    pub expires_at: Option<OffsetDateTime>,
}

pub struct Rotation {
    pub token_hash: TokenHash,
    pub display_prefix: String,
    pub expires_at: OffsetDateTime,
    pub now: OffsetDateTime,
    /// The rotation happens only if the previous one (if any) is no later.
    pub last_rotated_before: OffsetDateTime,
}

#[derive(Clone, Debug)]
pub struct PageRequest {
    pub limit: u32,
    /// Opaque, from a previous page's `next_cursor`.
    pub cursor: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub actor_uuid: Option<Uuid>,
    pub target_uuid: Option<Uuid>,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
}

#[derive(Clone, Debug)]
pub struct StoredAuditEvent {
    pub uuid: Uuid,
    pub at: OffsetDateTime,
    pub action: String,
    pub actor: Option<Actor>,
    pub credential: Option<CredentialRef>,
    pub target: Option<Target>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub details: serde_json::Value,
}

/// An instance-level credential of a backend that introspects tokens of
/// every organization. Its secret exists only as a keyed hash.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceServer {
    pub uuid: CredentialId,
    pub name: String,
    pub display_prefix: String,
    pub created_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
    /// Its last introspection call, to the minute.
    pub last_used_at: Option<OffsetDateTime>,
}

/// An event of the instance audit log as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredInstanceAuditEvent {
    pub uuid: Uuid,
    pub at: OffsetDateTime,
    pub action: String,
    pub actor: String,
    pub target_uuid: Uuid,
    pub target_name: String,
    pub details: serde_json::Value,
}

/// An organization-defined role (enterprise): a name and a set of scopes.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomRole {
    pub uuid: RoleId,
    pub org_uuid: OrgId,
    pub name: String,
    pub description: Option<String>,
    /// Scope names, as given (a name an operator later removed from the
    /// catalog stays here and grants nothing).
    pub scopes: Vec<String>,
    pub created_at: OffsetDateTime,
    pub created_by: Actor,
    pub updated_at: OffsetDateTime,
}

#[derive(Clone, Debug, Default)]
pub struct CustomRoleChange {
    pub name: Option<String>,
    /// `Some(None)` clears the description.
    pub description: Option<Option<String>>,
    pub scopes: Option<Vec<String>>,
}

/// One row of a project-scoped service account.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceAccountGrant {
    pub project_uuid: ProjectId,
    pub role: RoleRef,
}

/// What a service account is given: one of these, never two at once.
#[derive(Clone, Debug, PartialEq)]
pub enum AccountReach {
    /// Across the organization, one role.
    Organization(RoleRef),
    /// Across the organization, legacy `org:*` scopes (accounts made before
    /// roles existed).
    Legacy(Vec<String>),
    /// One row per project, for the projects that still exist (possibly
    /// none: the account then reaches nothing).
    Projects(Vec<ServiceAccountGrant>),
}

impl AccountReach {
    pub fn scope(&self) -> AccountScope {
        match self {
            AccountReach::Organization(_) | AccountReach::Legacy(_) => AccountScope::Organization,
            AccountReach::Projects(_) => AccountScope::Project,
        }
    }
}

/// A service account. Its credential's `role` and `scopes` are always
/// `None`: what the account is given is `reach`, and only there.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceAccount {
    pub credential: Credential,
    pub reach: AccountReach,
}

impl ServiceAccount {
    pub fn is_project_scoped(&self) -> bool {
        matches!(self.reach, AccountReach::Projects(_))
    }
}

/// An edit of a service account. The role only for organization scope.
#[derive(Clone, Debug, Default)]
pub struct ServiceAccountChange {
    pub name: Option<String>,
    pub role: Option<RoleRef>,
    pub expires_at: Option<OffsetDateTime>,
}

/// A team of an organization's members: what its organization role and
/// project roles give reaches each of its members, beside their own roles.
#[derive(Clone, Debug, PartialEq)]
pub struct Team {
    pub uuid: TeamId,
    pub org_uuid: OrgId,
    pub name: String,
    /// `None`: the team gives nothing organization-wide.
    pub role: Option<RoleRef>,
    /// Its members, accepted members of the organization, in no set order
    /// beyond what the store documents.
    pub members: Vec<UserId>,
    pub project_roles: Vec<TeamProjectRole>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A team's role on one project.
#[derive(Clone, Debug, PartialEq)]
pub struct TeamProjectRole {
    pub project_uuid: ProjectId,
    pub role: RoleRef,
}

/// A team as created: a name and a role; members and project roles follow.
#[derive(Clone, Debug)]
pub struct NewTeam {
    pub uuid: TeamId,
    pub org_uuid: OrgId,
    pub name: String,
    pub role: Option<RoleRef>,
    pub now: OffsetDateTime,
}

#[derive(Clone, Debug, Default)]
pub struct TeamChange {
    pub name: Option<String>,
    /// `Some(None)` takes the team's organization role away.
    pub role: Option<Option<RoleRef>>,
}

/// What a member's teams give, as the request path reads it beside the
/// membership: each team's organization role, and each team project role
/// (a project may appear once per team).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TeamRoles {
    pub org: Vec<HeldRole>,
    pub projects: Vec<ProjectRoleRecord>,
}
