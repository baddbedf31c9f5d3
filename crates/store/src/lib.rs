//! latchkey's storage: one [`Store`] interface, implemented over SQL for the
//! embedded SQLite file and for PostgreSQL.
//!
//! Both backends run the same statements (`sql/`, written in the subset of
//! SQL the two share, with `$n` placeholders); what differs between them
//! (connecting, pragmas, migrations folder) lives in `sqlite.rs` and
//! `postgres.rs`. Every change to an organization takes the audit event that
//! records it and writes both in one transaction; sessions, last use of
//! credentials and throttle counts are kept without events.

mod models;
mod pool;
mod postgres;
mod sql;
mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;

pub use models::*;
pub use pool::PoolSettings;
pub use postgres::ReplicaChange;
pub use sql::{Backend, ChangeHook, SqlStore};
/// The database driver's error, for callers that tell an outage from a bug.
pub use sqlx::Error as SqlxError;

use async_trait::async_trait;
use latchkey_core::{
    throttle, Actor, AuditEvent, CredentialKind, InstanceAuditEvent, Plan, Role, TokenHash,
};
use time::OffsetDateTime;
use uuid::Uuid;

/// Which rule a change would break. The words for people are the API's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conflict {
    UserEmail,
    Membership,
    Secret,
    ProjectName,
    CustomRoleName,
    OrgId,
    ProjectListedTwice,
    LastAdmin,
    CustomRoleInUse,
    /// A live resource server has that name.
    ResourceServerName,
    TeamName,
}

/// The change channel of the instance itself (resource servers): no
/// organization has the nil uuid, so caches keyed by organization epochs
/// keep resource servers current through it as they do everything else.
pub const INSTANCE_CHANGES: OrgId = OrgId::from_uuid(Uuid::nil());

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A rule of the stored data would break; says which.
    #[error("conflict: {0:?}")]
    Conflict(Conflict),
    #[error("the cursor is not one this server gave out")]
    InvalidCursor,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is not what latchkey wrote: {0}")]
    Corrupt(String),
    #[error("the database file: {0}")]
    File(#[from] std::io::Error),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// A round trip to the database, for readiness.
    async fn ping(&self) -> Result<()>;
    /// No organization exists yet (first start).
    async fn is_empty(&self) -> Result<bool>;

    // Organizations
    async fn create_org(&self, org: &Org, admin: &NewAdmin, audit: &AuditEvent) -> Result<()>;
    async fn org(&self, uuid: OrgId) -> Result<Option<Org>>;
    /// Every organization of that name (names need not be unique), oldest first.
    async fn orgs_by_name(&self, name: &str) -> Result<Vec<Org>>;
    async fn set_plan(&self, org: OrgId, plan: Plan, audit: &AuditEvent) -> Result<()>;

    // Users and memberships
    async fn user_by_email(&self, email: &str) -> Result<Option<UserLogin>>;
    /// The organizations where the user is an accepted member (suspended
    /// or not); invitations not yet accepted are not memberships here.
    async fn memberships_of(&self, user: UserId) -> Result<Vec<(Org, Membership)>>;
    /// A member or invited person of the organization.
    async fn member(&self, org: OrgId, user: UserId) -> Result<Option<Member>>;
    async fn members(&self, org: OrgId) -> Result<Vec<Member>>;
    /// Adds the person as an invited member with the invitation link; they
    /// become a member only by accepting. `Conflict` when the user is in the
    /// organization already.
    async fn add_member(
        &self,
        new: &NewMember,
        invite: &NewInvite,
        audit: &AuditEvent,
    ) -> Result<()>;
    /// A new link for a pending invitation; earlier links die. The right to
    /// set the password stays with the invitation that had it (and is given
    /// if the account qualifies now, as a new invitation would be). `NotFound`
    /// unless the person is invited and has not accepted.
    async fn reissue_invite(
        &self,
        org: OrgId,
        user: UserId,
        invite: &NewInvite,
        audit: &AuditEvent,
    ) -> Result<()>;
    /// Withdraws a pending invitation (its membership and links go).
    /// `NotFound` unless the person is invited and has not accepted.
    async fn withdraw_invite(&self, org: OrgId, user: UserId, audit: &AuditEvent) -> Result<()>;
    /// `Conflict` when the change would leave the organization without an
    /// active admin.
    async fn update_member(
        &self,
        org: OrgId,
        user: UserId,
        change: &MemberChange,
        audit: &AuditEvent,
    ) -> Result<()>;
    /// Deletes the membership and its project roles, ends its sessions in this
    /// organization, and revokes the member's personal access tokens here.
    async fn remove_member(
        &self,
        org: OrgId,
        user: UserId,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<()>;
    /// The invitation behind a link that is unused and unexpired at `now`.
    async fn pending_invite(
        &self,
        code_hash: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<Option<PendingInvite>>;
    /// Uses a link once and makes its person a member. `NotFound` when the
    /// link is unknown, used or expired, or does not allow this acceptance
    /// (a password through a link that may not set one, another account's
    /// session).
    async fn accept_invite(
        &self,
        code_hash: &TokenHash,
        acceptance: &Acceptance<'_>,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<(User, OrgId)>;

    // Accounts
    /// Replaces the account's password and ends every other session of it,
    /// in any organization (`keep` is the session that asked, which stays).
    /// `NotFound` when the account has no password yet (an invitation sets
    /// the first).
    async fn change_password(
        &self,
        user: UserId,
        password_hash: &str,
        keep: &TokenHash,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<()>;

    // Web sessions
    async fn create_session(&self, session: &NewSession) -> Result<()>;
    async fn session(&self, id_hash: &TokenHash) -> Result<Option<SessionRecord>>;
    async fn set_session_org(&self, id_hash: &TokenHash, org: OrgId) -> Result<()>;
    async fn delete_session(&self, id_hash: &TokenHash) -> Result<()>;
    /// The account's live sessions (unexpired at `now`, not ended), in any
    /// organization, newest first.
    async fn sessions_of(&self, user: UserId, now: OffsetDateTime) -> Result<Vec<SessionInfo>>;
    /// Ends one live session of the account; `NotFound` unless it is one.
    async fn end_session(
        &self,
        user: UserId,
        session: SessionId,
        now: OffsetDateTime,
    ) -> Result<()>;
    /// Ends every live session of the account but `keep`.
    async fn end_other_sessions(
        &self,
        user: UserId,
        keep: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<()>;
    /// Records when sessions were last used (batched by the caller); an
    /// earlier time than the stored one changes nothing.
    async fn record_sessions_seen(&self, uses: &[(TokenHash, OffsetDateTime)]) -> Result<()>;

    // Projects
    async fn create_project(&self, project: &Project, audit: &AuditEvent) -> Result<()>;
    async fn project(&self, org: OrgId, uuid: ProjectId) -> Result<Option<Project>>;
    async fn projects(&self, org: OrgId) -> Result<Vec<Project>>;
    async fn rename_project(
        &self,
        org: OrgId,
        uuid: ProjectId,
        name: &str,
        by: &Actor,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<()>;
    async fn delete_project(&self, org: OrgId, uuid: ProjectId, audit: &AuditEvent) -> Result<()>;
    /// Every project role the user holds in the organization.
    async fn project_access(&self, project: ProjectId) -> Result<Vec<ProjectGrant>>;
    async fn set_project_role(
        &self,
        org: OrgId,
        project: ProjectId,
        user: UserId,
        role: Role,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<()>;
    /// Gives a custom role on a project (replacing any project role).
    async fn set_project_custom_role(
        &self,
        org: OrgId,
        project: ProjectId,
        user: UserId,
        custom_role: RoleId,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<()>;
    /// Every project role the user holds in the organization, custom roles
    /// with their scopes.
    async fn member_project_roles(
        &self,
        org: OrgId,
        user: UserId,
    ) -> Result<Vec<ProjectRoleRecord>>;
    async fn remove_project_role(
        &self,
        project: ProjectId,
        user: UserId,
        audit: &AuditEvent,
    ) -> Result<()>;

    // Credentials
    async fn insert_credential(
        &self,
        credential: &Credential,
        token_hash: &TokenHash,
        audit: &AuditEvent,
    ) -> Result<()>;
    /// The request path. One query by hash (a unique index) finds the
    /// credential, revoked or expired too, with its organization and, for a
    /// personal access token, its owner and the owner's accepted membership.
    /// Then one query for the custom role, when the credential has one (for
    /// a personal access token: its owner's membership); for a service
    /// account, one for its project rows; for a personal access token of a
    /// member, one for the owner's project roles and one for what the
    /// owner's teams give. A hash that no credential holds is looked up once
    /// more among the hashes rotation retired. So one to four queries, on a
    /// cache miss only.
    async fn authenticate(&self, token_hash: &TokenHash) -> Result<TokenLookup>;
    /// A credential that has not been revoked.
    async fn credential(&self, org: OrgId, uuid: CredentialId) -> Result<Option<Credential>>;
    async fn pats_of(&self, org: OrgId, owner: UserId) -> Result<Vec<Credential>>;
    /// The organization's credentials of one kind that have not been
    /// revoked, newest first.
    async fn org_credentials(&self, org: OrgId, kind: CredentialKind) -> Result<Vec<Credential>>;
    async fn org_pats(&self, org: OrgId, page: &PageRequest) -> Result<Page<(Credential, User)>>;
    /// A live credential's name, scopes (PATs) and expiry.
    async fn update_credential(
        &self,
        uuid: CredentialId,
        change: &CredentialChange,
        audit: &AuditEvent,
    ) -> Result<()>;
    async fn revoke_credential(
        &self,
        uuid: CredentialId,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<()>;
    /// Replaces the secret unless the credential was rotated after
    /// `rotation.last_rotated_before`; `Ok(false)` when another rotation won.
    async fn rotate_credential(
        &self,
        uuid: CredentialId,
        rotation: &Rotation,
        audit: &AuditEvent,
    ) -> Result<bool>;
    async fn record_last_used(&self, uses: &[(CredentialId, OffsetDateTime)]) -> Result<()>;

    // Custom roles
    /// `Conflict` when the organization has a role of that name.
    async fn create_custom_role(&self, role: &CustomRole, audit: &AuditEvent) -> Result<()>;
    async fn custom_role(&self, org: OrgId, uuid: RoleId) -> Result<Option<CustomRole>>;
    /// By name.
    async fn custom_roles(&self, org: OrgId) -> Result<Vec<CustomRole>>;
    async fn update_custom_role(
        &self,
        org: OrgId,
        uuid: RoleId,
        change: &CustomRoleChange,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<()>;
    /// `Conflict` while a member, project role, team, team project role or
    /// live service account holds it.
    async fn delete_custom_role(&self, org: OrgId, uuid: RoleId, audit: &AuditEvent) -> Result<()>;

    // Teams
    /// `Conflict(TeamName)` when the organization has a team of that name
    /// (after case folding).
    async fn create_team(&self, team: &NewTeam, audit: &AuditEvent) -> Result<()>;
    /// With its members (in the order they joined) and project roles.
    async fn team(&self, org: OrgId, uuid: TeamId) -> Result<Option<Team>>;
    /// By name, each with its members and project roles.
    async fn teams(&self, org: OrgId) -> Result<Vec<Team>>;
    async fn update_team(
        &self,
        org: OrgId,
        uuid: TeamId,
        change: &TeamChange,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<()>;
    /// Its memberships and project roles go with it.
    async fn delete_team(&self, org: OrgId, uuid: TeamId, audit: &AuditEvent) -> Result<()>;
    /// `NotFound` unless the team is the organization's and the user an
    /// accepted member of it (suspended or not). Adding a member twice
    /// changes nothing.
    async fn add_team_member(
        &self,
        org: OrgId,
        team: TeamId,
        user: UserId,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<()>;
    /// `NotFound` unless the user is in the team.
    async fn remove_team_member(
        &self,
        org: OrgId,
        team: TeamId,
        user: UserId,
        audit: &AuditEvent,
    ) -> Result<()>;
    /// Gives or replaces the team's role on a project; `NotFound` unless
    /// team and project are the organization's.
    async fn set_team_project_role(
        &self,
        org: OrgId,
        team: TeamId,
        project: ProjectId,
        role: RoleRef,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<()>;
    async fn remove_team_project_role(
        &self,
        org: OrgId,
        team: TeamId,
        project: ProjectId,
        audit: &AuditEvent,
    ) -> Result<()>;

    // Service accounts
    /// Inserts the credential (kind `service_account`) with its custom role
    /// and project rows.
    async fn insert_service_account(
        &self,
        account: &ServiceAccount,
        token_hash: &TokenHash,
        audit: &AuditEvent,
    ) -> Result<()>;
    /// A live service account with its custom role and project rows.
    async fn service_account(
        &self,
        org: OrgId,
        uuid: CredentialId,
    ) -> Result<Option<ServiceAccount>>;
    /// Live service accounts, newest first.
    async fn service_accounts(&self, org: OrgId) -> Result<Vec<ServiceAccount>>;
    /// Description, expiry and, for organization scope, the role.
    async fn update_service_account(
        &self,
        uuid: CredentialId,
        change: &ServiceAccountChange,
        audit: &AuditEvent,
    ) -> Result<()>;

    // Audit log
    async fn append_audit(&self, event: &AuditEvent) -> Result<()>;
    async fn audit_events(
        &self,
        org: OrgId,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> Result<Page<StoredAuditEvent>>;

    // Resource servers (instance-level; every change writes an instance
    // audit event and is announced under `INSTANCE_CHANGES`)
    /// `Conflict(ResourceServerName)` when a live one has the name (after
    /// case folding).
    async fn create_resource_server(
        &self,
        server: &ResourceServer,
        token_hash: &TokenHash,
        audit: &InstanceAuditEvent,
    ) -> Result<()>;
    /// Every resource server, revoked ones too, newest first.
    async fn resource_servers(&self) -> Result<Vec<ResourceServer>>;
    /// The request path: one query by hash (a unique index), revoked too,
    /// with the stored hash for a constant-time comparison.
    async fn resource_server_by_hash(
        &self,
        token_hash: &TokenHash,
    ) -> Result<Option<(ResourceServer, TokenHash)>>;
    /// `NotFound` unless it exists and is live.
    async fn revoke_resource_server(
        &self,
        uuid: CredentialId,
        now: OffsetDateTime,
        audit: &InstanceAuditEvent,
    ) -> Result<()>;
    /// Records when resource servers last authenticated (batched by the
    /// caller); an earlier time than the stored one changes nothing.
    async fn record_resource_server_use(
        &self,
        uses: &[(CredentialId, OffsetDateTime)],
    ) -> Result<()>;
    /// The instance audit log, newest first.
    async fn instance_audit_events(&self, limit: u32) -> Result<Vec<StoredInstanceAuditEvent>>;

    // Throttles: sign-in attempts counted in the database, so that every
    // replica and the next start see the same counts. Keys are opaque (the
    // server hashes what it throttles); only failures reach these.
    /// Counts one attempt of `key` under `rule`, or refuses it, atomically
    /// with any other caller on any replica.
    async fn throttle_take(
        &self,
        key: &str,
        rule: &throttle::Rule,
        now: OffsetDateTime,
    ) -> Result<throttle::Decision>;
    /// Gives back an attempt taken in the window that started at
    /// `window_start` (it turned out not to be a failure); nothing when that
    /// window has ended.
    async fn throttle_give_back(&self, key: &str, window_start: OffsetDateTime) -> Result<()>;
    /// Forgets `key` altogether.
    async fn throttle_clear(&self, key: &str) -> Result<()>;
    /// Deletes the windows that may be forgotten by `now`; how many.
    async fn throttle_purge(&self, now: OffsetDateTime) -> Result<u64>;
}
