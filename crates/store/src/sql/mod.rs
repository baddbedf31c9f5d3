//! The one implementation of [`Store`] over SQL that SQLite and PostgreSQL
//! both understand. Ids are stored as UUID text and times as Unix seconds so
//! the two backends decode alike.
//!
//! This module holds the store itself (its pools, opening, the commit every
//! audited change ends with); the statements live in one module per
//! aggregate, and `impl Store` below hands each call to its module.

mod accounts;
mod audit;
mod credentials;
mod invites;
mod members;
mod orgs;
mod projects;
mod resource_servers;
mod roles;
mod rows;
mod service_accounts;
mod sessions;
mod shared;
mod teams;
mod throttles;

use crate::models::*;
use crate::pool::PoolSettings;
use crate::postgres::ReplicaChange;
use crate::{postgres, sqlite, Result, Store};
use async_trait::async_trait;
use latchkey_core::limits::name_key;
use latchkey_core::{
    throttle, Actor, AuditEvent, CredentialKind, InstanceAuditEvent, Plan, Role, TokenHash,
};
use sqlx::{AnyPool, Row};
use std::path::Path;
use std::sync::Arc;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Called with the organization of every committed change.
pub type ChangeHook = Arc<dyn Fn(OrgId) + Send + Sync>;

/// The SQL store. Reads and writes have their own pools; for PostgreSQL they
/// are the same pool.
#[derive(Clone)]
pub struct SqlStore {
    read: AnyPool,
    write: AnyPool,
    backend: Backend,
    /// For the PostgreSQL change listener.
    postgres_url: Option<String>,
    /// The name this process gives its changes in PostgreSQL's notices.
    replica: Uuid,
    on_change: Option<ChangeHook>,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &self.backend)
            .finish()
    }
}

impl SqlStore {
    /// Opens (creating if needed) the SQLite file and brings its schema up to date.
    pub async fn open_sqlite(path: &Path, settings: &PoolSettings) -> Result<SqlStore> {
        sqlx::any::install_default_drivers();
        sqlite::make_private(path)?;
        let (read, write) = sqlite::connect(&sqlite::url_for_file(path), settings).await?;
        sqlite::migrate(&write).await?;
        fill_name_keys(&write).await?;
        Ok(SqlStore {
            read,
            write,
            backend: Backend::Sqlite,
            postgres_url: None,
            replica: Uuid::new_v4(),
            on_change: None,
        })
    }

    /// Connects to PostgreSQL and brings its schema up to date. Migrations
    /// take an advisory lock, so replicas starting together apply them once.
    pub async fn open_postgres(url: &str, settings: &PoolSettings) -> Result<SqlStore> {
        sqlx::any::install_default_drivers();
        let replica = Uuid::new_v4();
        let pool = postgres::connect(url, settings, replica).await?;
        postgres::MIGRATOR.run(&pool).await?;
        fill_name_keys(&pool).await?;
        Ok(SqlStore {
            read: pool.clone(),
            write: pool,
            backend: Backend::Postgres,
            postgres_url: Some(url.to_string()),
            replica,
            on_change: None,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Calls `hook` with the organization of every change this process
    /// commits, right after the commit (caches invalidate themselves here).
    pub fn set_change_hook(&mut self, hook: ChangeHook) {
        self.on_change = Some(hook);
    }

    /// Changes committed by other processes on the same database (PostgreSQL;
    /// SQLite has one process, nothing to watch). With a change hook set,
    /// this process's own changes reach it through the hook alone.
    pub fn watch_other_replicas(
        &self,
        on_change: impl Fn(ReplicaChange) + Send + 'static,
    ) -> Option<tokio::task::JoinHandle<()>> {
        let url = self.postgres_url.clone()?;
        let skip = self.on_change.is_some().then_some(self.replica);
        Some(tokio::spawn(postgres::watch_changes(url, skip, on_change)))
    }

    /// Writes the event that records a change, commits both, then tells the
    /// change hook: every audited change ends here.
    async fn finish(&self, tx: sqlx::Transaction<'_, sqlx::Any>, audit: &AuditEvent) -> Result<()> {
        self.finish_also(tx, audit, &[]).await
    }

    /// `finish`, for a change that also touches other organizations (a new
    /// password ends the account's sessions everywhere): their caches are
    /// told too.
    async fn finish_also(
        &self,
        mut tx: sqlx::Transaction<'_, sqlx::Any>,
        audit: &AuditEvent,
        also: &[OrgId],
    ) -> Result<()> {
        audit::write_audit(&mut tx, audit).await?;
        self.notify(&mut tx, also).await?;
        tx.commit().await?;
        self.heard(&[audit.org_uuid]);
        self.heard(also);
        Ok(())
    }

    /// Commits a change no audit event records (a session ended or moved)
    /// and tells every cache of `orgs`, as an audited change does.
    async fn commit_unaudited(
        &self,
        mut tx: sqlx::Transaction<'_, sqlx::Any>,
        orgs: &[OrgId],
    ) -> Result<()> {
        self.notify(&mut tx, orgs).await?;
        tx.commit().await?;
        self.heard(orgs);
        Ok(())
    }

    /// Other replicas hear of an audited change from the audit trigger; of
    /// these organizations, only from this notice, sent at commit.
    async fn notify(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        orgs: &[OrgId],
    ) -> Result<()> {
        if self.backend == Backend::Postgres {
            for org in orgs {
                postgres::notify_change(tx, *org, self.replica).await?;
            }
        }
        Ok(())
    }

    /// This process's caches, right after the commit.
    fn heard(&self, orgs: &[OrgId]) {
        if let Some(hook) = &self.on_change {
            for org in orgs {
                hook(*org);
            }
        }
    }

    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

/// Gives names stored before names had keys their key: SQL has no NFKC,
/// so this runs here, once per row. Two old names that are one name now keep
/// both names; the later one's key is made unique with its id (the rule
/// holds for every new or changed name; names never hold a control
/// character, so such a key is no real name's). Several replicas may run it at
/// once: each key is written only where none is yet.
async fn fill_name_keys(pool: &AnyPool) -> Result<()> {
    for table in ["projects", "custom_roles"] {
        let rows = sqlx::query(&format!(
            "SELECT uuid, name FROM {table} WHERE name_key IS NULL ORDER BY created_at, uuid"
        ))
        .fetch_all(pool)
        .await?;
        for row in rows {
            let uuid: String = row.try_get("uuid")?;
            let name: String = row.try_get("name")?;
            let set =
                format!("UPDATE {table} SET name_key = $1 WHERE uuid = $2 AND name_key IS NULL");
            let key = name_key(&name);
            let first = sqlx::query(&set).bind(&key).bind(&uuid).execute(pool).await;
            if let Err(e) = first {
                if !matches!(&e, sqlx::Error::Database(db) if db.is_unique_violation()) {
                    return Err(e.into());
                }
                sqlx::query(&set)
                    .bind(format!("{key}\u{1}{uuid}"))
                    .bind(&uuid)
                    .execute(pool)
                    .await?;
            }
        }
    }
    Ok(())
}

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    async fn is_empty(&self) -> Result<bool> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM orgs")
            .fetch_one(&self.read)
            .await?;
        Ok(row.try_get::<i64, _>("n")? == 0)
    }

    // Organizations
    async fn create_org(&self, org: &Org, admin: &NewAdmin, audit: &AuditEvent) -> Result<()> {
        orgs::create_org(self, org, admin, audit).await
    }

    async fn org(&self, uuid: OrgId) -> Result<Option<Org>> {
        orgs::org(self, uuid).await
    }

    async fn orgs_by_name(&self, name: &str) -> Result<Vec<Org>> {
        orgs::orgs_by_name(self, name).await
    }

    async fn set_plan(&self, org: OrgId, plan: Plan, audit: &AuditEvent) -> Result<()> {
        orgs::set_plan(self, org, plan, audit).await
    }

    // Users and memberships
    async fn user_by_email(&self, email: &str) -> Result<Option<UserLogin>> {
        members::user_by_email(self, email).await
    }

    async fn memberships_of(&self, user: UserId) -> Result<Vec<(Org, Membership)>> {
        members::memberships_of(self, user).await
    }

    async fn member(&self, org: OrgId, user: UserId) -> Result<Option<Member>> {
        members::member(self, org, user).await
    }

    async fn members(&self, org: OrgId) -> Result<Vec<Member>> {
        members::members(self, org).await
    }

    async fn update_member(
        &self,
        org: OrgId,
        user: UserId,
        change: &MemberChange,
        audit: &AuditEvent,
    ) -> Result<()> {
        members::update_member(self, org, user, change, audit).await
    }

    async fn remove_member(
        &self,
        org: OrgId,
        user: UserId,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<()> {
        members::remove_member(self, org, user, now, audit).await
    }

    // Invitations
    async fn add_member(
        &self,
        new: &NewMember,
        invite: &NewInvite,
        audit: &AuditEvent,
    ) -> Result<()> {
        invites::add_member(self, new, invite, audit).await
    }

    async fn reissue_invite(
        &self,
        org: OrgId,
        user: UserId,
        invite: &NewInvite,
        audit: &AuditEvent,
    ) -> Result<()> {
        invites::reissue_invite(self, org, user, invite, audit).await
    }

    async fn withdraw_invite(&self, org: OrgId, user: UserId, audit: &AuditEvent) -> Result<()> {
        invites::withdraw_invite(self, org, user, audit).await
    }

    async fn pending_invite(
        &self,
        code_hash: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<Option<PendingInvite>> {
        invites::pending_invite(self, code_hash, now).await
    }

    async fn accept_invite(
        &self,
        code_hash: &TokenHash,
        acceptance: &Acceptance<'_>,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<(User, OrgId)> {
        invites::accept_invite(self, code_hash, acceptance, now, audit).await
    }

    async fn sessions_of(&self, user: UserId, now: OffsetDateTime) -> Result<Vec<SessionInfo>> {
        sessions::sessions_of(self, user, now).await
    }

    async fn end_session(
        &self,
        user: UserId,
        session: SessionId,
        now: OffsetDateTime,
    ) -> Result<()> {
        sessions::end_session(self, user, session, now).await
    }

    async fn end_other_sessions(
        &self,
        user: UserId,
        keep: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<()> {
        sessions::end_other_sessions(self, user, keep, now).await
    }

    async fn record_sessions_seen(&self, uses: &[(TokenHash, OffsetDateTime)]) -> Result<()> {
        sessions::record_sessions_seen(self, uses).await
    }

    // Accounts
    async fn change_password(
        &self,
        user: UserId,
        password_hash: &str,
        keep: &TokenHash,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<()> {
        accounts::change_password(self, user, password_hash, keep, now, audit).await
    }

    // Web sessions
    async fn create_session(&self, s: &NewSession) -> Result<()> {
        sessions::create_session(self, s).await
    }

    async fn session(&self, id_hash: &TokenHash) -> Result<Option<SessionRecord>> {
        sessions::session(self, id_hash).await
    }

    async fn set_session_org(&self, id_hash: &TokenHash, org: OrgId) -> Result<()> {
        sessions::set_session_org(self, id_hash, org).await
    }

    async fn delete_session(&self, id_hash: &TokenHash) -> Result<()> {
        sessions::delete_session(self, id_hash).await
    }

    // Projects and project roles
    async fn create_project(&self, p: &Project, audit: &AuditEvent) -> Result<()> {
        projects::create_project(self, p, audit).await
    }

    async fn project(&self, org: OrgId, uuid: ProjectId) -> Result<Option<Project>> {
        projects::project(self, org, uuid).await
    }

    async fn projects(&self, org: OrgId) -> Result<Vec<Project>> {
        projects::projects(self, org).await
    }

    async fn rename_project(
        &self,
        org: OrgId,
        uuid: ProjectId,
        name: &str,
        by: &Actor,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<()> {
        projects::rename_project(self, org, uuid, name, by, now, audit).await
    }

    async fn delete_project(&self, org: OrgId, uuid: ProjectId, audit: &AuditEvent) -> Result<()> {
        projects::delete_project(self, org, uuid, audit).await
    }

    async fn project_access(&self, project: ProjectId) -> Result<Vec<ProjectGrant>> {
        projects::project_access(self, project).await
    }

    async fn set_project_role(
        &self,
        org: OrgId,
        project: ProjectId,
        user: UserId,
        role: Role,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<()> {
        projects::set_project_role(self, org, project, user, role, now, audit).await
    }

    async fn set_project_custom_role(
        &self,
        org: OrgId,
        project: ProjectId,
        user: UserId,
        custom_role: RoleId,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<()> {
        projects::set_project_custom_role(self, org, project, user, custom_role, now, audit).await
    }

    async fn member_project_roles(
        &self,
        org: OrgId,
        user: UserId,
    ) -> Result<Vec<ProjectRoleRecord>> {
        projects::member_project_roles(self, org, user).await
    }

    async fn remove_project_role(
        &self,
        project: ProjectId,
        user: UserId,
        audit: &AuditEvent,
    ) -> Result<()> {
        projects::remove_project_role(self, project, user, audit).await
    }

    // Credentials
    async fn insert_credential(
        &self,
        c: &Credential,
        token_hash: &TokenHash,
        audit: &AuditEvent,
    ) -> Result<()> {
        credentials::insert_credential(self, c, token_hash, audit).await
    }

    async fn authenticate(&self, token_hash: &TokenHash) -> Result<TokenLookup> {
        credentials::authenticate(self, token_hash).await
    }

    async fn credential(&self, org: OrgId, uuid: CredentialId) -> Result<Option<Credential>> {
        credentials::credential(self, org, uuid).await
    }

    async fn pats_of(&self, org: OrgId, owner: UserId) -> Result<Vec<Credential>> {
        credentials::pats_of(self, org, owner).await
    }

    async fn org_credentials(&self, org: OrgId, kind: CredentialKind) -> Result<Vec<Credential>> {
        credentials::org_credentials(self, org, kind).await
    }

    async fn org_pats(&self, org: OrgId, page: &PageRequest) -> Result<Page<(Credential, User)>> {
        credentials::org_pats(self, org, page).await
    }

    async fn update_credential(
        &self,
        uuid: CredentialId,
        change: &CredentialChange,
        audit: &AuditEvent,
    ) -> Result<()> {
        credentials::update_credential(self, uuid, change, audit).await
    }

    async fn revoke_credential(
        &self,
        uuid: CredentialId,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<()> {
        credentials::revoke_credential(self, uuid, now, audit).await
    }

    async fn rotate_credential(
        &self,
        uuid: CredentialId,
        r: &Rotation,
        audit: &AuditEvent,
    ) -> Result<bool> {
        credentials::rotate_credential(self, uuid, r, audit).await
    }

    async fn record_last_used(&self, uses: &[(CredentialId, OffsetDateTime)]) -> Result<()> {
        credentials::record_last_used(self, uses).await
    }

    // Custom roles
    async fn create_custom_role(&self, r: &CustomRole, audit: &AuditEvent) -> Result<()> {
        roles::create_custom_role(self, r, audit).await
    }

    async fn custom_role(&self, org: OrgId, uuid: RoleId) -> Result<Option<CustomRole>> {
        roles::custom_role(self, org, uuid).await
    }

    async fn custom_roles(&self, org: OrgId) -> Result<Vec<CustomRole>> {
        roles::custom_roles(self, org).await
    }

    async fn update_custom_role(
        &self,
        org: OrgId,
        uuid: RoleId,
        change: &CustomRoleChange,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<()> {
        roles::update_custom_role(self, org, uuid, change, now, audit).await
    }

    async fn delete_custom_role(&self, org: OrgId, uuid: RoleId, audit: &AuditEvent) -> Result<()> {
        roles::delete_custom_role(self, org, uuid, audit).await
    }

    // Teams
    async fn create_team(&self, t: &NewTeam, audit: &AuditEvent) -> Result<()> {
        teams::create_team(self, t, audit).await
    }

    async fn team(&self, org: OrgId, uuid: TeamId) -> Result<Option<Team>> {
        teams::team(self, org, uuid).await
    }

    async fn teams(&self, org: OrgId) -> Result<Vec<Team>> {
        teams::teams(self, org).await
    }

    async fn update_team(
        &self,
        org: OrgId,
        uuid: TeamId,
        change: &TeamChange,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<()> {
        teams::update_team(self, org, uuid, change, now, audit).await
    }

    async fn delete_team(&self, org: OrgId, uuid: TeamId, audit: &AuditEvent) -> Result<()> {
        teams::delete_team(self, org, uuid, audit).await
    }

    async fn add_team_member(
        &self,
        org: OrgId,
        team: TeamId,
        user: UserId,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<()> {
        teams::add_team_member(self, org, team, user, now, audit).await
    }

    async fn remove_team_member(
        &self,
        org: OrgId,
        team: TeamId,
        user: UserId,
        audit: &AuditEvent,
    ) -> Result<()> {
        teams::remove_team_member(self, org, team, user, audit).await
    }

    async fn set_team_project_role(
        &self,
        org: OrgId,
        team: TeamId,
        project: ProjectId,
        role: RoleRef,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<()> {
        teams::set_team_project_role(self, org, team, project, role, now, audit).await
    }

    async fn remove_team_project_role(
        &self,
        org: OrgId,
        team: TeamId,
        project: ProjectId,
        audit: &AuditEvent,
    ) -> Result<()> {
        teams::remove_team_project_role(self, org, team, project, audit).await
    }

    // Service accounts
    async fn insert_service_account(
        &self,
        a: &ServiceAccount,
        token_hash: &TokenHash,
        audit: &AuditEvent,
    ) -> Result<()> {
        service_accounts::insert_service_account(self, a, token_hash, audit).await
    }

    async fn service_account(
        &self,
        org: OrgId,
        uuid: CredentialId,
    ) -> Result<Option<ServiceAccount>> {
        service_accounts::service_account(self, org, uuid).await
    }

    async fn service_accounts(&self, org: OrgId) -> Result<Vec<ServiceAccount>> {
        service_accounts::service_accounts(self, org).await
    }

    async fn update_service_account(
        &self,
        uuid: CredentialId,
        change: &ServiceAccountChange,
        audit: &AuditEvent,
    ) -> Result<()> {
        service_accounts::update_service_account(self, uuid, change, audit).await
    }

    // Audit log
    async fn append_audit(&self, event: &AuditEvent) -> Result<()> {
        audit::append_audit(self, event).await
    }

    async fn audit_events(
        &self,
        org: OrgId,
        f: &AuditFilter,
        page: &PageRequest,
    ) -> Result<Page<StoredAuditEvent>> {
        audit::audit_events(self, org, f, page).await
    }

    // Resource servers
    async fn create_resource_server(
        &self,
        server: &ResourceServer,
        token_hash: &TokenHash,
        audit: &InstanceAuditEvent,
    ) -> Result<()> {
        resource_servers::create_resource_server(self, server, token_hash, audit).await
    }

    async fn resource_servers(&self) -> Result<Vec<ResourceServer>> {
        resource_servers::resource_servers(self).await
    }

    async fn resource_server_by_hash(
        &self,
        token_hash: &TokenHash,
    ) -> Result<Option<(ResourceServer, TokenHash)>> {
        resource_servers::resource_server_by_hash(self, token_hash).await
    }

    async fn revoke_resource_server(
        &self,
        uuid: CredentialId,
        now: OffsetDateTime,
        audit: &InstanceAuditEvent,
    ) -> Result<()> {
        resource_servers::revoke_resource_server(self, uuid, now, audit).await
    }

    async fn record_resource_server_use(
        &self,
        uses: &[(CredentialId, OffsetDateTime)],
    ) -> Result<()> {
        resource_servers::record_resource_server_use(self, uses).await
    }

    async fn instance_audit_events(&self, limit: u32) -> Result<Vec<StoredInstanceAuditEvent>> {
        resource_servers::instance_audit_events(self, limit).await
    }

    // Throttles
    async fn throttle_take(
        &self,
        key: &str,
        rule: &throttle::Rule,
        now: OffsetDateTime,
    ) -> Result<throttle::Decision> {
        throttles::throttle_take(self, key, rule, now).await
    }

    async fn throttle_give_back(&self, key: &str, window_start: OffsetDateTime) -> Result<()> {
        throttles::throttle_give_back(self, key, window_start).await
    }

    async fn throttle_clear(&self, key: &str) -> Result<()> {
        throttles::throttle_clear(self, key).await
    }

    async fn throttle_purge(&self, now: OffsetDateTime) -> Result<u64> {
        throttles::throttle_purge(self, now).await
    }
}
