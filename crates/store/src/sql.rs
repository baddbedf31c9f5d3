//! The one implementation of [`Store`] over SQL that SQLite and PostgreSQL
//! both understand. Ids are stored as UUID text and times as Unix seconds so
//! the two backends decode alike.

use crate::models::*;
use crate::pool::PoolSettings;
use crate::postgres::ReplicaChange;
use crate::{postgres, sqlite, Result, Store, StoreError};
use async_trait::async_trait;
use latchkey_core::limits::name_key;
use latchkey_core::{
    throttle, Actor, ActorKind, AuditEvent, CredentialKind, CredentialRef, Plan, Role, Target,
    TokenHash,
};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};
use std::path::Path;
use std::sync::{Arc, LazyLock};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Called with the organization of every committed change.
pub type ChangeHook = Arc<dyn Fn(Uuid) + Send + Sync>;

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
    /// change hook: every mutation ends here.
    async fn finish(
        &self,
        mut tx: sqlx::Transaction<'_, sqlx::Any>,
        audit: &AuditEvent,
    ) -> Result<()> {
        write_audit(&mut tx, audit).await?;
        tx.commit().await?;
        if let Some(hook) = &self.on_change {
            hook(audit.org_uuid);
        }
        Ok(())
    }

    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

// ---- encoding helpers -------------------------------------------------------

fn ts(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

fn opt_ts(t: Option<OffsetDateTime>) -> Option<i64> {
    t.map(ts)
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

fn uuid_at(row: &AnyRow, col: &str) -> Result<Uuid> {
    let s: String = row.try_get(col)?;
    Uuid::parse_str(&s).map_err(|_| corrupt(col))
}

fn opt_uuid_at(row: &AnyRow, col: &str) -> Result<Option<Uuid>> {
    let s: Option<String> = row.try_get(col)?;
    s.map(|s| Uuid::parse_str(&s).map_err(|_| corrupt(col)))
        .transpose()
}

fn time_at(row: &AnyRow, col: &str) -> Result<OffsetDateTime> {
    let t: i64 = row.try_get(col)?;
    OffsetDateTime::from_unix_timestamp(t).map_err(|_| corrupt(col))
}

fn opt_time_at(row: &AnyRow, col: &str) -> Result<Option<OffsetDateTime>> {
    let t: Option<i64> = row.try_get(col)?;
    t.map(|t| OffsetDateTime::from_unix_timestamp(t).map_err(|_| corrupt(col)))
        .transpose()
}

fn role_at(row: &AnyRow, col: &str) -> Result<Role> {
    let s: String = row.try_get(col)?;
    Role::parse(&s).ok_or_else(|| corrupt(col))
}

fn opt_role_at(row: &AnyRow, col: &str) -> Result<Option<Role>> {
    let s: Option<String> = row.try_get(col)?;
    s.map(|s| Role::parse(&s).ok_or_else(|| corrupt(col)))
        .transpose()
}

fn actor_at(row: &AnyRow, prefix: &str) -> Result<Actor> {
    let kind: String = row.try_get(format!("{prefix}_type").as_str())?;
    Ok(Actor {
        kind: ActorKind::parse(&kind).ok_or_else(|| corrupt(prefix))?,
        uuid: uuid_at(row, &format!("{prefix}_uuid"))?,
        name: row.try_get(format!("{prefix}_name").as_str())?,
    })
}

fn scopes_to_db(scopes: &Option<Vec<String>>) -> Option<String> {
    scopes.as_ref().map(|s| s.join(" "))
}

/// Maps a uniqueness violation to `Conflict(what)`.
fn unique(what: &str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    move |e| match &e {
        sqlx::Error::Database(db) if db.kind() == sqlx::error::ErrorKind::UniqueViolation => {
            StoreError::Conflict(what.to_string())
        }
        _ => StoreError::Database(e),
    }
}

fn expect_one(rows_affected: u64) -> Result<()> {
    if rows_affected == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

const ORG_COLS: &str =
    "o.uuid AS org_uuid, o.name AS org_name, o.plan AS org_plan, o.created_at AS org_created_at";
const USER_COLS: &str = "u.uuid AS user_uuid, u.email AS user_email, u.name AS user_name, u.created_at AS user_created_at";
const MEMBER_COLS: &str = "m.org_uuid AS m_org_uuid, m.user_uuid AS m_user_uuid, m.role AS m_role, m.custom_role_uuid AS m_custom_role_uuid, m.suspended_at AS m_suspended_at, m.created_at AS m_created_at, m.accepted_at AS m_accepted_at";
const CRED_COLS: &str = "c.uuid, c.kind, c.org_uuid AS c_org_uuid, c.owner_uuid, c.name, c.token_hash, c.display_prefix, c.scopes, c.role, c.expires_at, c.created_at, c.rotated_at, c.last_used_at, c.revoked_at, c.created_by_type, c.created_by_uuid, c.created_by_name, c.custom_role_uuid AS c_custom_role_uuid, c.account_scope";
const PROJECT_COLS: &str = "uuid, org_uuid, name, created_at, created_by_type, created_by_uuid, created_by_name, updated_at, updated_by_type, updated_by_uuid, updated_by_name";

/// The request path's queries, built once rather than on every lookup.
static AUTHENTICATE_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {CRED_COLS}, {ORG_COLS}, {USER_COLS}, {MEMBER_COLS} FROM credentials c \
         JOIN orgs o ON o.uuid = c.org_uuid \
         LEFT JOIN users u ON u.uuid = c.owner_uuid \
         LEFT JOIN memberships m ON m.org_uuid = c.org_uuid AND m.user_uuid = c.owner_uuid \
              AND m.accepted_at IS NOT NULL \
         WHERE c.token_hash = $1"
    )
});
static RETIRED_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {CRED_COLS} FROM retired_token_hashes r JOIN credentials c ON c.uuid = r.credential_uuid \
         WHERE r.token_hash = $1"
    )
});

fn org_from(row: &AnyRow) -> Result<Org> {
    let plan: String = row.try_get("org_plan")?;
    Ok(Org {
        uuid: uuid_at(row, "org_uuid")?,
        name: row.try_get("org_name")?,
        plan: Plan::parse(&plan).ok_or_else(|| corrupt("org_plan"))?,
        created_at: time_at(row, "org_created_at")?,
    })
}

fn user_from(row: &AnyRow) -> Result<User> {
    Ok(User {
        uuid: uuid_at(row, "user_uuid")?,
        email: row.try_get("user_email")?,
        name: row.try_get("user_name")?,
        created_at: time_at(row, "user_created_at")?,
    })
}

fn membership_from(row: &AnyRow) -> Result<Option<Membership>> {
    let Some(org_uuid) = opt_uuid_at(row, "m_org_uuid")? else {
        return Ok(None);
    };
    Ok(Some(Membership {
        org_uuid,
        user_uuid: uuid_at(row, "m_user_uuid")?,
        role: role_at(row, "m_role")?,
        custom_role_uuid: opt_uuid_at(row, "m_custom_role_uuid")?,
        suspended_at: opt_time_at(row, "m_suspended_at")?,
        created_at: time_at(row, "m_created_at")?,
        accepted_at: opt_time_at(row, "m_accepted_at")?,
    }))
}

fn credential_from(row: &AnyRow) -> Result<Credential> {
    let kind: String = row.try_get("kind")?;
    let scopes: Option<String> = row.try_get("scopes")?;
    Ok(Credential {
        uuid: uuid_at(row, "uuid")?,
        kind: CredentialKind::parse(&kind).ok_or_else(|| corrupt("kind"))?,
        org_uuid: uuid_at(row, "c_org_uuid")?,
        owner_uuid: opt_uuid_at(row, "owner_uuid")?,
        name: row.try_get("name")?,
        display_prefix: row.try_get("display_prefix")?,
        scopes: scopes.map(|s| s.split_whitespace().map(str::to_string).collect()),
        role: opt_role_at(row, "role")?,
        expires_at: opt_time_at(row, "expires_at")?,
        created_at: time_at(row, "created_at")?,
        rotated_at: opt_time_at(row, "rotated_at")?,
        last_used_at: opt_time_at(row, "last_used_at")?,
        revoked_at: opt_time_at(row, "revoked_at")?,
        created_by: actor_at(row, "created_by")?,
    })
}

fn project_from(row: &AnyRow) -> Result<Project> {
    Ok(Project {
        uuid: uuid_at(row, "uuid")?,
        org_uuid: uuid_at(row, "org_uuid")?,
        name: row.try_get("name")?,
        created_at: time_at(row, "created_at")?,
        created_by: actor_at(row, "created_by")?,
        updated_at: time_at(row, "updated_at")?,
        updated_by: actor_at(row, "updated_by")?,
    })
}

fn audit_from(row: &AnyRow) -> Result<StoredAuditEvent> {
    let actor = match opt_uuid_at(row, "actor_uuid")? {
        Some(_) => Some(actor_at(row, "actor")?),
        None => None,
    };
    let credential = match row.try_get::<Option<String>, _>("credential_kind")? {
        Some(kind) => Some(CredentialRef {
            kind: CredentialKind::parse(&kind).ok_or_else(|| corrupt("credential_kind"))?,
            uuid: opt_uuid_at(row, "credential_uuid")?,
            name: row.try_get("credential_name")?,
            display_prefix: row.try_get("credential_display_prefix")?,
        }),
        None => None,
    };
    let target = match opt_uuid_at(row, "target_uuid")? {
        Some(uuid) => Some(Target {
            kind: row.try_get("target_type")?,
            uuid,
            name: row.try_get("target_name")?,
        }),
        None => None,
    };
    let details: String = row.try_get("details")?;
    Ok(StoredAuditEvent {
        uuid: uuid_at(row, "uuid")?,
        at: time_at(row, "at")?,
        action: row.try_get("action")?,
        actor,
        credential,
        target,
        ip: row.try_get("ip")?,
        user_agent: row.try_get("user_agent")?,
        details: serde_json::from_str(&details).map_err(|_| corrupt("details"))?,
    })
}

async fn write_audit(conn: &mut AnyConnection, e: &AuditEvent) -> Result<()> {
    let cred = e.credential.as_ref();
    sqlx::query(
        "INSERT INTO audit_events (uuid, org_uuid, at, action, actor_type, actor_uuid, actor_name, \
         credential_kind, credential_uuid, credential_name, credential_display_prefix, \
         target_type, target_uuid, target_name, ip, user_agent, details) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
    )
    .bind(Uuid::new_v4().to_string())
    .bind(e.org_uuid.to_string())
    .bind(ts(e.at))
    .bind(e.action)
    .bind(e.actor.as_ref().map(|a| a.kind.as_str()))
    .bind(e.actor.as_ref().map(|a| a.uuid.to_string()))
    .bind(e.actor.as_ref().map(|a| a.name.clone()))
    .bind(cred.map(|c| c.kind.as_str()))
    .bind(cred.and_then(|c| c.uuid).map(|u| u.to_string()))
    .bind(cred.and_then(|c| c.name.clone()))
    .bind(cred.and_then(|c| c.display_prefix.clone()))
    .bind(e.target.as_ref().map(|t| t.kind.clone()))
    .bind(e.target.as_ref().map(|t| t.uuid.to_string()))
    .bind(e.target.as_ref().map(|t| t.name.clone()))
    .bind(e.ip.clone())
    .bind(e.user_agent.clone())
    .bind(e.details.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

/// Serializes changes to one organization's memberships: on PostgreSQL the
/// no-op update takes the organization row's lock until commit; on SQLite the
/// single writer already serializes.
async fn lock_org(conn: &mut AnyConnection, org: Uuid) -> Result<()> {
    let done = sqlx::query("UPDATE orgs SET plan = plan WHERE uuid = $1")
        .bind(org.to_string())
        .execute(conn)
        .await?;
    expect_one(done.rows_affected())
}

/// Invitations of one account are decided one after another: two
/// organizations inviting a new person at once cannot both hand out the link
/// that sets the password (PostgreSQL runs them in READ COMMITTED).
async fn lock_user(conn: &mut AnyConnection, user: Uuid) -> Result<()> {
    let done = sqlx::query("UPDATE users SET uuid = uuid WHERE uuid = $1")
        .bind(user.to_string())
        .execute(conn)
        .await?;
    expect_one(done.rows_affected())
}

async fn active_admins(conn: &mut AnyConnection, org: Uuid) -> Result<i64> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM memberships WHERE org_uuid = $1 AND role = 'admin' \
         AND suspended_at IS NULL AND accepted_at IS NOT NULL",
    )
    .bind(org.to_string())
    .fetch_one(conn)
    .await?;
    Ok(row.try_get("n")?)
}

async fn insert_user(
    conn: &mut AnyConnection,
    user: &User,
    password_hash: Option<&str>,
) -> Result<()> {
    sqlx::query("INSERT INTO users (uuid, email, name, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(user.uuid.to_string())
        .bind(&user.email)
        .bind(user.name.clone())
        .bind(password_hash.map(str::to_string))
        .bind(ts(user.created_at))
        .execute(conn)
        .await
        .map_err(unique("a user with this email exists"))?;
    Ok(())
}

/// `accepted_at` is `None` for an invitation.
async fn insert_membership(
    conn: &mut AnyConnection,
    org: Uuid,
    user: Uuid,
    role: Role,
    now: OffsetDateTime,
    accepted_at: Option<OffsetDateTime>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO memberships (org_uuid, user_uuid, role, created_at, accepted_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(org.to_string())
    .bind(user.to_string())
    .bind(role.as_str())
    .bind(ts(now))
    .bind(opt_ts(accepted_at))
    .execute(conn)
    .await
    .map_err(unique("the user is a member of this organization already"))?;
    Ok(())
}

fn account_scope_at(row: &AnyRow) -> Result<Option<AccountScope>> {
    let scope: Option<String> = row.try_get("account_scope")?;
    scope
        .map(|s| AccountScope::parse(&s).ok_or_else(|| corrupt("account_scope")))
        .transpose()
}

/// Whether an invitation being issued may set the account's password: the
/// account has none, and nothing in any other organization (no membership,
/// no pending invitation).
async fn first_invitation(conn: &mut AnyConnection, org: Uuid, user: Uuid) -> Result<bool> {
    let row = sqlx::query(
        "SELECT (SELECT password_hash FROM users WHERE uuid = $2) AS password_hash, \
         (SELECT COUNT(*) FROM memberships WHERE user_uuid = $2 AND org_uuid <> $1) AS elsewhere",
    )
    .bind(org.to_string())
    .bind(user.to_string())
    .fetch_one(conn)
    .await?;
    let password: Option<String> = row.try_get("password_hash")?;
    let elsewhere: i64 = row.try_get("elsewhere")?;
    Ok(password.is_none() && elsewhere == 0)
}

async fn insert_invite(
    conn: &mut AnyConnection,
    org: Uuid,
    user: Uuid,
    invite: &NewInvite,
    sets_password: bool,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO invites (code_hash, org_uuid, user_uuid, created_at, expires_at, sets_password) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(invite.code_hash.to_hex())
    .bind(org.to_string())
    .bind(user.to_string())
    .bind(ts(invite.created_at))
    .bind(ts(invite.expires_at))
    .bind(i64::from(sets_password))
    .execute(conn)
    .await?;
    Ok(())
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

/// Decodes a `<unix seconds>.<uuid>` keyset cursor.
fn parse_time_cursor(cursor: &str) -> Option<(i64, String)> {
    let (t, u) = cursor.split_once('.')?;
    Some((t.parse().ok()?, Uuid::parse_str(u).ok()?.to_string()))
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

    async fn create_org(&self, org: &Org, admin: &NewAdmin, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.write.begin().await?;
        sqlx::query("INSERT INTO orgs (uuid, name, plan, created_at) VALUES ($1, $2, $3, $4)")
            .bind(org.uuid.to_string())
            .bind(&org.name)
            .bind(org.plan.as_str())
            .bind(ts(org.created_at))
            .execute(&mut *tx)
            .await
            .map_err(unique("an organization with this id exists"))?;
        let admin_uuid = match admin {
            NewAdmin::Existing(uuid) => *uuid,
            NewAdmin::New {
                user,
                password_hash,
            } => {
                insert_user(&mut tx, user, Some(password_hash)).await?;
                user.uuid
            }
        };
        insert_membership(
            &mut tx,
            org.uuid,
            admin_uuid,
            Role::Admin,
            org.created_at,
            Some(org.created_at),
        )
        .await?;
        self.finish(tx, audit).await?;
        Ok(())
    }

    async fn org(&self, uuid: Uuid) -> Result<Option<Org>> {
        let sql = format!("SELECT {ORG_COLS} FROM orgs o WHERE o.uuid = $1");
        let row = sqlx::query(&sql)
            .bind(uuid.to_string())
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(org_from).transpose()
    }

    async fn orgs_by_name(&self, name: &str) -> Result<Vec<Org>> {
        let sql = format!(
            "SELECT {ORG_COLS} FROM orgs o WHERE o.name = $1 ORDER BY o.created_at, o.uuid"
        );
        let rows = sqlx::query(&sql).bind(name).fetch_all(&self.read).await?;
        rows.iter().map(org_from).collect()
    }

    async fn set_plan(&self, org: Uuid, plan: Plan, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.write.begin().await?;
        let done = sqlx::query("UPDATE orgs SET plan = $1 WHERE uuid = $2")
            .bind(plan.as_str())
            .bind(org.to_string())
            .execute(&mut *tx)
            .await?;
        expect_one(done.rows_affected())?;
        self.finish(tx, audit).await?;
        Ok(())
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<UserLogin>> {
        let sql = format!("SELECT {USER_COLS}, u.password_hash FROM users u WHERE u.email = $1");
        let row = sqlx::query(&sql)
            .bind(email)
            .fetch_optional(&self.read)
            .await?;
        row.map(|row| {
            Ok(UserLogin {
                user: user_from(&row)?,
                password_hash: row.try_get("password_hash")?,
            })
        })
        .transpose()
    }

    async fn memberships_of(&self, user: Uuid) -> Result<Vec<(Org, Membership)>> {
        let sql = format!(
            "SELECT {ORG_COLS}, {MEMBER_COLS} FROM memberships m JOIN orgs o ON o.uuid = m.org_uuid \
             WHERE m.user_uuid = $1 AND m.accepted_at IS NOT NULL ORDER BY m.created_at, o.name"
        );
        let rows = sqlx::query(&sql)
            .bind(user.to_string())
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    org_from(row)?,
                    membership_from(row)?.ok_or_else(|| corrupt("membership"))?,
                ))
            })
            .collect()
    }

    async fn member(&self, org: Uuid, user: Uuid) -> Result<Option<Member>> {
        let sql = format!(
            "SELECT {USER_COLS}, {MEMBER_COLS} FROM memberships m JOIN users u ON u.uuid = m.user_uuid \
             WHERE m.org_uuid = $1 AND m.user_uuid = $2"
        );
        let row = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(user.to_string())
            .fetch_optional(&self.read)
            .await?;
        row.map(|row| {
            Ok(Member {
                user: user_from(&row)?,
                membership: membership_from(&row)?.ok_or_else(|| corrupt("membership"))?,
            })
        })
        .transpose()
    }

    async fn members(&self, org: Uuid) -> Result<Vec<Member>> {
        let sql = format!(
            "SELECT {USER_COLS}, {MEMBER_COLS} FROM memberships m JOIN users u ON u.uuid = m.user_uuid \
             WHERE m.org_uuid = $1 ORDER BY m.created_at, u.email"
        );
        let rows = sqlx::query(&sql)
            .bind(org.to_string())
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(Member {
                    user: user_from(row)?,
                    membership: membership_from(row)?.ok_or_else(|| corrupt("membership"))?,
                })
            })
            .collect()
    }

    async fn add_member(
        &self,
        new: &NewMember,
        invite: &NewInvite,
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.write.begin().await?;
        let user_uuid = match &new.user {
            MemberUser::Existing(uuid) => *uuid,
            MemberUser::New(user) => {
                insert_user(&mut tx, user, None).await?;
                user.uuid
            }
        };
        insert_membership(&mut tx, new.org_uuid, user_uuid, new.role, new.now, None).await?;
        if let Some(custom) = new.custom_role_uuid {
            sqlx::query(
                "UPDATE memberships SET custom_role_uuid = $1 WHERE org_uuid = $2 AND user_uuid = $3",
            )
            .bind(custom.to_string())
            .bind(new.org_uuid.to_string())
            .bind(user_uuid.to_string())
            .execute(&mut *tx)
            .await?;
        }
        lock_user(&mut tx, user_uuid).await?;
        let sets_password = first_invitation(&mut tx, new.org_uuid, user_uuid).await?;
        insert_invite(&mut tx, new.org_uuid, user_uuid, invite, sets_password).await?;
        self.finish(tx, audit).await?;
        Ok(())
    }

    async fn reissue_invite(
        &self,
        org: Uuid,
        user: Uuid,
        invite: &NewInvite,
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.write.begin().await?;
        let (o, u) = (org.to_string(), user.to_string());
        lock_user(&mut tx, user).await?;
        sqlx::query(
            "SELECT 1 AS one FROM memberships WHERE org_uuid = $1 AND user_uuid = $2 AND accepted_at IS NULL",
        )
        .bind(&o)
        .bind(&u)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        // The right to set the password stays with the invitation that had
        // it; a later one from elsewhere cannot take it.
        let had: i64 = sqlx::query(
            "SELECT COALESCE(MAX(sets_password), 0) AS had FROM invites WHERE org_uuid = $1 AND user_uuid = $2",
        )
        .bind(&o)
        .bind(&u)
        .fetch_one(&mut *tx)
        .await?
        .try_get("had")?;
        let sets_password = had != 0 || first_invitation(&mut tx, org, user).await?;
        sqlx::query("DELETE FROM invites WHERE org_uuid = $1 AND user_uuid = $2")
            .bind(&o)
            .bind(&u)
            .execute(&mut *tx)
            .await?;
        insert_invite(&mut tx, org, user, invite, sets_password).await?;
        self.finish(tx, audit).await?;
        Ok(())
    }

    async fn withdraw_invite(&self, org: Uuid, user: Uuid, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.write.begin().await?;
        let (o, u) = (org.to_string(), user.to_string());
        let done = sqlx::query(
            "DELETE FROM memberships WHERE org_uuid = $1 AND user_uuid = $2 AND accepted_at IS NULL",
        )
        .bind(&o)
        .bind(&u)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query("DELETE FROM invites WHERE org_uuid = $1 AND user_uuid = $2")
            .bind(&o)
            .bind(&u)
            .execute(&mut *tx)
            .await?;
        self.finish(tx, audit).await?;
        Ok(())
    }

    async fn update_member(
        &self,
        org: Uuid,
        user: Uuid,
        change: &MemberChange,
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.write.begin().await?;
        lock_org(&mut tx, org).await?;
        if let Some(role) = change.role {
            let done = sqlx::query(
                "UPDATE memberships SET role = $1, custom_role_uuid = $4 WHERE org_uuid = $2 AND user_uuid = $3",
            )
            .bind(role.as_str())
            .bind(org.to_string())
            .bind(user.to_string())
            .bind(change.custom_role_uuid.map(|u| u.to_string()))
            .execute(&mut *tx)
            .await?;
            expect_one(done.rows_affected())?;
        }
        if let Some(suspended_at) = change.suspended_at {
            let done = sqlx::query(
                "UPDATE memberships SET suspended_at = $1 WHERE org_uuid = $2 AND user_uuid = $3",
            )
            .bind(opt_ts(suspended_at))
            .bind(org.to_string())
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?;
            expect_one(done.rows_affected())?;
        }
        if active_admins(&mut tx, org).await? == 0 {
            return Err(StoreError::Conflict(
                "the organization must keep an active admin".into(),
            ));
        }
        self.finish(tx, audit).await?;
        Ok(())
    }

    async fn remove_member(
        &self,
        org: Uuid,
        user: Uuid,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.write.begin().await?;
        lock_org(&mut tx, org).await?;
        let (o, u) = (org.to_string(), user.to_string());
        let done = sqlx::query("DELETE FROM memberships WHERE org_uuid = $1 AND user_uuid = $2")
            .bind(&o)
            .bind(&u)
            .execute(&mut *tx)
            .await?;
        expect_one(done.rows_affected())?;
        if active_admins(&mut tx, org).await? == 0 {
            return Err(StoreError::Conflict(
                "the organization must keep an active admin".into(),
            ));
        }
        // Project roles go with the membership (foreign key cascade).
        sqlx::query(
            "UPDATE credentials SET revoked_at = $1 WHERE org_uuid = $2 AND owner_uuid = $3 AND kind = 'pat' AND revoked_at IS NULL",
        )
        .bind(ts(now))
        .bind(&o)
        .bind(&u)
        .execute(&mut *tx)
        .await?;
        // Kept, ended: using one answers token_revoked, and a later
        // membership does not bring it back.
        sqlx::query(
            "UPDATE sessions SET revoked_at = $1 WHERE org_uuid = $2 AND user_uuid = $3 AND revoked_at IS NULL",
        )
        .bind(ts(now))
        .bind(&o)
        .bind(&u)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM invites WHERE org_uuid = $1 AND user_uuid = $2")
            .bind(&o)
            .bind(&u)
            .execute(&mut *tx)
            .await?;
        self.finish(tx, audit).await?;
        Ok(())
    }

    async fn pending_invite(
        &self,
        code_hash: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<Option<PendingInvite>> {
        let row = sqlx::query(
            "SELECT org_uuid, user_uuid, sets_password, expires_at FROM invites \
             WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(code_hash.to_hex())
        .bind(ts(now))
        .fetch_optional(&self.read)
        .await?;
        row.map(|row| {
            Ok(PendingInvite {
                org_uuid: uuid_at(&row, "org_uuid")?,
                user_uuid: uuid_at(&row, "user_uuid")?,
                sets_password: row.try_get::<i64, _>("sets_password")? != 0,
                expires_at: time_at(&row, "expires_at")?,
            })
        })
        .transpose()
    }

    async fn accept_invite(
        &self,
        code_hash: &TokenHash,
        acceptance: &Acceptance<'_>,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<(User, Uuid)> {
        let mut tx = self.write.begin().await?;
        // The conditional update is what makes a code work once, even when
        // two requests race, and only in the way its invitation allows.
        let (sets_password, session_user) = match acceptance {
            Acceptance::SetPassword { .. } => (1i64, None),
            Acceptance::BySession { user_uuid } => (0, Some(user_uuid.to_string())),
        };
        let row = sqlx::query(
            "UPDATE invites SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL AND expires_at > $1 \
             AND ($3 = 0 OR sets_password = 1) AND ($4 IS NULL OR user_uuid = $4) \
             RETURNING user_uuid, org_uuid",
        )
        .bind(ts(now))
        .bind(code_hash.to_hex())
        .bind(sets_password)
        .bind(session_user)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let user_uuid = uuid_at(&row, "user_uuid")?;
        let org_uuid = uuid_at(&row, "org_uuid")?;
        let u = user_uuid.to_string();
        if let Acceptance::SetPassword {
            password_hash,
            name,
        } = acceptance
        {
            // Never over a password the account has: only its owner changes that.
            let done = sqlx::query(
                "UPDATE users SET password_hash = $1, name = COALESCE($2, name) \
                 WHERE uuid = $3 AND password_hash IS NULL",
            )
            .bind(*password_hash)
            .bind(name.map(str::to_string))
            .bind(&u)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() != 1 {
                return Err(StoreError::NotFound);
            }
            // Setting a password ends every session of the account.
            sqlx::query(
                "UPDATE sessions SET revoked_at = $1 WHERE user_uuid = $2 AND revoked_at IS NULL",
            )
            .bind(ts(now))
            .bind(&u)
            .execute(&mut *tx)
            .await?;
        }
        let done = sqlx::query(
            "UPDATE memberships SET accepted_at = $1 WHERE org_uuid = $2 AND user_uuid = $3 AND accepted_at IS NULL",
        )
        .bind(ts(now))
        .bind(org_uuid.to_string())
        .bind(&u)
        .execute(&mut *tx)
        .await?;
        expect_one(done.rows_affected())?;
        let sql = format!("SELECT {USER_COLS} FROM users u WHERE u.uuid = $1");
        let user = user_from(&sqlx::query(&sql).bind(&u).fetch_one(&mut *tx).await?)?;
        self.finish(tx, audit).await?;
        Ok((user, org_uuid))
    }

    async fn create_session(&self, s: &NewSession) -> Result<()> {
        sqlx::query("INSERT INTO sessions (id_hash, user_uuid, org_uuid, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(s.id_hash.to_hex())
            .bind(s.user_uuid.to_string())
            .bind(s.org_uuid.to_string())
            .bind(ts(s.created_at))
            .bind(ts(s.expires_at))
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn session(&self, id_hash: &TokenHash) -> Result<Option<SessionRecord>> {
        let sql = format!(
            "SELECT s.id_hash, s.expires_at, s.revoked_at, {USER_COLS}, {ORG_COLS}, {MEMBER_COLS} FROM sessions s \
             JOIN users u ON u.uuid = s.user_uuid JOIN orgs o ON o.uuid = s.org_uuid \
             LEFT JOIN memberships m ON m.org_uuid = s.org_uuid AND m.user_uuid = s.user_uuid \
                  AND m.accepted_at IS NOT NULL \
             WHERE s.id_hash = $1"
        );
        let row = sqlx::query(&sql)
            .bind(id_hash.to_hex())
            .fetch_optional(&self.read)
            .await?;
        row.map(|row| {
            let stored: String = row.try_get("id_hash")?;
            Ok(SessionRecord {
                id_hash: TokenHash::from_hex(&stored).ok_or_else(|| corrupt("id_hash"))?,
                user: user_from(&row)?,
                org: org_from(&row)?,
                membership: membership_from(&row)?,
                expires_at: time_at(&row, "expires_at")?,
                revoked_at: opt_time_at(&row, "revoked_at")?,
            })
        })
        .transpose()
    }

    async fn set_session_org(&self, id_hash: &TokenHash, org: Uuid) -> Result<()> {
        let done = sqlx::query("UPDATE sessions SET org_uuid = $1 WHERE id_hash = $2")
            .bind(org.to_string())
            .bind(id_hash.to_hex())
            .execute(&self.write)
            .await?;
        expect_one(done.rows_affected())
    }

    async fn delete_session(&self, id_hash: &TokenHash) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash.to_hex())
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn create_project(&self, p: &Project, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.write.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO projects ({PROJECT_COLS}, name_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(p.uuid.to_string())
        .bind(p.org_uuid.to_string())
        .bind(&p.name)
        .bind(ts(p.created_at))
        .bind(p.created_by.kind.as_str())
        .bind(p.created_by.uuid.to_string())
        .bind(&p.created_by.name)
        .bind(ts(p.updated_at))
        .bind(p.updated_by.kind.as_str())
        .bind(p.updated_by.uuid.to_string())
        .bind(&p.updated_by.name)
        .bind(name_key(&p.name))
        .execute(&mut *tx)
        .await
        .map_err(unique("a project with this name exists"))?;
        self.finish(tx, audit).await?;
        Ok(())
    }

    async fn project(&self, org: Uuid, uuid: Uuid) -> Result<Option<Project>> {
        let sql = format!("SELECT {PROJECT_COLS} FROM projects WHERE org_uuid = $1 AND uuid = $2");
        let row = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(uuid.to_string())
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(project_from).transpose()
    }

    async fn projects(&self, org: Uuid) -> Result<Vec<Project>> {
        let sql =
            format!("SELECT {PROJECT_COLS} FROM projects WHERE org_uuid = $1 ORDER BY name, uuid");
        let rows = sqlx::query(&sql)
            .bind(org.to_string())
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(project_from).collect()
    }

    async fn rename_project(
        &self,
        org: Uuid,
        uuid: Uuid,
        name: &str,
        by: &Actor,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.write.begin().await?;
        let done = sqlx::query(
            "UPDATE projects SET name = $1, updated_at = $2, updated_by_type = $3, updated_by_uuid = $4, updated_by_name = $5, \
             name_key = $8 WHERE org_uuid = $6 AND uuid = $7",
        )
        .bind(name)
        .bind(ts(now))
        .bind(by.kind.as_str())
        .bind(by.uuid.to_string())
        .bind(&by.name)
        .bind(org.to_string())
        .bind(uuid.to_string())
        .bind(name_key(name))
        .execute(&mut *tx)
        .await
        .map_err(unique("a project with this name exists"))?;
        expect_one(done.rows_affected())?;
        self.finish(tx, audit).await?;
        Ok(())
    }

    async fn delete_project(&self, org: Uuid, uuid: Uuid, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.write.begin().await?;
        let done = sqlx::query("DELETE FROM projects WHERE org_uuid = $1 AND uuid = $2")
            .bind(org.to_string())
            .bind(uuid.to_string())
            .execute(&mut *tx)
            .await?;
        expect_one(done.rows_affected())?;
        self.finish(tx, audit).await?;
        Ok(())
    }

    async fn project_roles_of(&self, org: Uuid, user: Uuid) -> Result<Vec<(Uuid, Role)>> {
        let rows = sqlx::query(
            "SELECT project_uuid, role FROM project_roles WHERE org_uuid = $1 AND user_uuid = $2",
        )
        .bind(org.to_string())
        .bind(user.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|row| Ok((uuid_at(row, "project_uuid")?, role_at(row, "role")?)))
            .collect()
    }

    async fn project_role(&self, project: Uuid, user: Uuid) -> Result<Option<Role>> {
        let row = sqlx::query(
            "SELECT role FROM project_roles WHERE project_uuid = $1 AND user_uuid = $2",
        )
        .bind(project.to_string())
        .bind(user.to_string())
        .fetch_optional(&self.read)
        .await?;
        row.map(|row| role_at(&row, "role")).transpose()
    }

    async fn project_access(&self, project: Uuid) -> Result<Vec<ProjectGrant>> {
        let sql = format!(
            "SELECT {USER_COLS}, pr.role, pr.custom_role_uuid FROM project_roles pr JOIN users u ON u.uuid = pr.user_uuid \
             WHERE pr.project_uuid = $1 ORDER BY u.email"
        );
        let rows = sqlx::query(&sql)
            .bind(project.to_string())
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(ProjectGrant {
                    user: user_from(row)?,
                    role: role_at(row, "role")?,
                    custom_role_uuid: opt_uuid_at(row, "custom_role_uuid")?,
                })
            })
            .collect()
    }

    async fn set_project_role(
        &self,
        org: Uuid,
        project: Uuid,
        user: Uuid,
        role: Role,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO project_roles (project_uuid, org_uuid, user_uuid, role, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (project_uuid, user_uuid) DO UPDATE SET role = excluded.role, custom_role_uuid = NULL",
        )
        .bind(project.to_string())
        .bind(org.to_string())
        .bind(user.to_string())
        .bind(role.as_str())
        .bind(ts(now))
        .execute(&mut *tx)
        .await?;
        self.finish(tx, audit).await?;
        Ok(())
    }

    async fn set_project_custom_role(
        &self,
        org: Uuid,
        project: Uuid,
        user: Uuid,
        custom_role: Uuid,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO project_roles (project_uuid, org_uuid, user_uuid, role, custom_role_uuid, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (project_uuid, user_uuid) DO UPDATE SET role = excluded.role, custom_role_uuid = excluded.custom_role_uuid",
        )
        .bind(project.to_string())
        .bind(org.to_string())
        .bind(user.to_string())
        .bind(Role::Member.as_str())
        .bind(custom_role.to_string())
        .bind(ts(now))
        .execute(&mut *tx)
        .await?;
        self.finish(tx, audit).await?;
        Ok(())
    }

    async fn member_project_roles(&self, org: Uuid, user: Uuid) -> Result<Vec<MemberProjectRole>> {
        let rows = sqlx::query(
            "SELECT pr.project_uuid, pr.role, pr.custom_role_uuid, r.name AS r_name, r.scopes AS r_scopes \
             FROM project_roles pr LEFT JOIN custom_roles r ON r.uuid = pr.custom_role_uuid \
             WHERE pr.org_uuid = $1 AND pr.user_uuid = $2",
        )
        .bind(org.to_string())
        .bind(user.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(MemberProjectRole {
                    project_uuid: uuid_at(row, "project_uuid")?,
                    role: role_at(row, "role")?,
                    custom_role: custom_role_columns(row)?,
                })
            })
            .collect()
    }

    async fn remove_project_role(
        &self,
        project: Uuid,
        user: Uuid,
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.write.begin().await?;
        let done =
            sqlx::query("DELETE FROM project_roles WHERE project_uuid = $1 AND user_uuid = $2")
                .bind(project.to_string())
                .bind(user.to_string())
                .execute(&mut *tx)
                .await?;
        expect_one(done.rows_affected())?;
        self.finish(tx, audit).await?;
        Ok(())
    }

    async fn insert_credential(
        &self,
        c: &Credential,
        token_hash: &TokenHash,
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO credentials (uuid, kind, org_uuid, owner_uuid, name, token_hash, display_prefix, scopes, role, \
             expires_at, created_at, created_by_type, created_by_uuid, created_by_name) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(c.uuid.to_string())
        .bind(c.kind.as_str())
        .bind(c.org_uuid.to_string())
        .bind(c.owner_uuid.map(|u| u.to_string()))
        .bind(&c.name)
        .bind(token_hash.to_hex())
        .bind(&c.display_prefix)
        .bind(scopes_to_db(&c.scopes))
        .bind(c.role.map(Role::as_str))
        .bind(opt_ts(c.expires_at))
        .bind(ts(c.created_at))
        .bind(c.created_by.kind.as_str())
        .bind(c.created_by.uuid.to_string())
        .bind(&c.created_by.name)
        .execute(&mut *tx)
        .await
        .map_err(unique("a credential with this secret exists"))?;
        self.finish(tx, audit).await?;
        Ok(())
    }

    async fn authenticate(&self, token_hash: &TokenHash) -> Result<TokenLookup> {
        let hex = token_hash.to_hex();
        if let Some(row) = sqlx::query(&AUTHENTICATE_SQL)
            .bind(&hex)
            .fetch_optional(&self.read)
            .await?
        {
            let stored: String = row.try_get("token_hash")?;
            let owner = match opt_uuid_at(&row, "user_uuid")? {
                Some(_) => Some(user_from(&row)?),
                None => None,
            };
            let credential = credential_from(&row)?;
            let account_scope = account_scope_at(&row)?;
            let membership = membership_from(&row)?;
            let custom_role_uuid = match credential.kind {
                CredentialKind::Pat => membership.as_ref().and_then(|m| m.custom_role_uuid),
                _ => opt_uuid_at(&row, "c_custom_role_uuid")?,
            };
            let custom_role = match custom_role_uuid {
                Some(uuid) => self
                    .custom_role(credential.org_uuid, uuid)
                    .await?
                    .map(|r| (r.uuid, r.name, r.scopes)),
                None => None,
            };
            let projects = if credential.kind == CredentialKind::ServiceAccount {
                self.project_access_records(credential.uuid).await?
            } else {
                Vec::new()
            };
            return Ok(TokenLookup::Found(AuthRecord {
                credential,
                token_hash: TokenHash::from_hex(&stored).ok_or_else(|| corrupt("token_hash"))?,
                org: org_from(&row)?,
                owner,
                membership,
                custom_role,
                account_scope,
                projects,
            }));
        }
        match sqlx::query(&RETIRED_SQL)
            .bind(&hex)
            .fetch_optional(&self.read)
            .await?
        {
            Some(row) => Ok(TokenLookup::Retired {
                credential: credential_from(&row)?,
            }),
            None => Ok(TokenLookup::Unknown),
        }
    }

    async fn credential(&self, org: Uuid, uuid: Uuid) -> Result<Option<Credential>> {
        let sql = format!("SELECT {CRED_COLS} FROM credentials c WHERE c.org_uuid = $1 AND c.uuid = $2 AND c.revoked_at IS NULL");
        let row = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(uuid.to_string())
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(credential_from).transpose()
    }

    async fn pats_of(&self, org: Uuid, owner: Uuid) -> Result<Vec<Credential>> {
        let sql = format!(
            "SELECT {CRED_COLS} FROM credentials c WHERE c.org_uuid = $1 AND c.owner_uuid = $2 AND c.kind = 'pat' \
             AND c.revoked_at IS NULL ORDER BY c.created_at DESC, c.uuid DESC"
        );
        let rows = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(owner.to_string())
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(credential_from).collect()
    }

    async fn org_credentials(&self, org: Uuid, kind: CredentialKind) -> Result<Vec<Credential>> {
        let sql = format!(
            "SELECT {CRED_COLS} FROM credentials c WHERE c.org_uuid = $1 AND c.kind = $2 \
             AND c.revoked_at IS NULL ORDER BY c.created_at DESC, c.uuid DESC"
        );
        let rows = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(kind.as_str())
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(credential_from).collect()
    }

    async fn org_pats(&self, org: Uuid, page: &PageRequest) -> Result<Page<(Credential, User)>> {
        let (after_t, after_u) = match page.cursor.as_deref() {
            Some(c) => {
                let (t, u) = parse_time_cursor(c).ok_or_else(|| StoreError::InvalidCursor)?;
                (Some(t), Some(u))
            }
            None => (None, None),
        };
        let sql = format!(
            "SELECT {CRED_COLS}, {USER_COLS} FROM credentials c JOIN users u ON u.uuid = c.owner_uuid \
             WHERE c.org_uuid = $1 AND c.kind = 'pat' AND c.revoked_at IS NULL \
             AND ($2 IS NULL OR c.created_at < $2 OR (c.created_at = $2 AND c.uuid < $3)) \
             ORDER BY c.created_at DESC, c.uuid DESC LIMIT $4"
        );
        let rows = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(after_t)
            .bind(after_u)
            .bind(i64::from(page.limit) + 1)
            .fetch_all(&self.read)
            .await?;
        let mut items = rows
            .iter()
            .map(|row| Ok((credential_from(row)?, user_from(row)?)))
            .collect::<Result<Vec<_>>>()?;
        let next_cursor = if items.len() > page.limit as usize {
            items.truncate(page.limit as usize);
            items
                .last()
                .map(|(c, _)| format!("{}.{}", ts(c.created_at), c.uuid))
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    async fn update_credential(
        &self,
        uuid: Uuid,
        change: &CredentialChange,
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.write.begin().await?;
        let done = sqlx::query(
            "UPDATE credentials SET name = COALESCE($1, name), scopes = CASE WHEN $2 = 1 THEN $3 ELSE scopes END, \
             expires_at = COALESCE($4, expires_at) WHERE uuid = $5 AND revoked_at IS NULL",
        )
        .bind(change.name.clone())
        .bind(i64::from(change.scopes.is_some()))
        .bind(change.scopes.clone().flatten().map(|s| s.join(" ")))
        .bind(opt_ts(change.expires_at))
        .bind(uuid.to_string())
        .execute(&mut *tx)
        .await?;
        expect_one(done.rows_affected())?;
        self.finish(tx, audit).await?;
        Ok(())
    }

    async fn revoke_credential(
        &self,
        uuid: Uuid,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.write.begin().await?;
        let done = sqlx::query(
            "UPDATE credentials SET revoked_at = $1 WHERE uuid = $2 AND revoked_at IS NULL",
        )
        .bind(ts(now))
        .bind(uuid.to_string())
        .execute(&mut *tx)
        .await?;
        expect_one(done.rows_affected())?;
        self.finish(tx, audit).await?;
        Ok(())
    }

    async fn rotate_credential(
        &self,
        uuid: Uuid,
        r: &Rotation,
        audit: &AuditEvent,
    ) -> Result<bool> {
        let mut tx = self.write.begin().await?;
        let old = sqlx::query(
            "SELECT token_hash FROM credentials WHERE uuid = $1 AND revoked_at IS NULL",
        )
        .bind(uuid.to_string())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let old_hash: String = old.try_get("token_hash")?;
        // Conditional on the previous rotation, so that of two racing
        // rotations (on any replica) exactly one changes the row.
        let done = sqlx::query(
            "UPDATE credentials SET token_hash = $1, display_prefix = $2, expires_at = $3, rotated_at = $4 \
             WHERE uuid = $5 AND token_hash = $6 AND revoked_at IS NULL AND (rotated_at IS NULL OR rotated_at <= $7)",
        )
        .bind(r.token_hash.to_hex())
        .bind(&r.display_prefix)
        .bind(ts(r.expires_at))
        .bind(ts(r.now))
        .bind(uuid.to_string())
        .bind(&old_hash)
        .bind(ts(r.last_rotated_before))
        .execute(&mut *tx)
        .await
        .map_err(unique("a credential with this secret exists"))?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("INSERT INTO retired_token_hashes (token_hash, credential_uuid, retired_at) VALUES ($1, $2, $3)")
            .bind(&old_hash)
            .bind(uuid.to_string())
            .bind(ts(r.now))
            .execute(&mut *tx)
            .await?;
        self.finish(tx, audit).await?;
        Ok(true)
    }

    async fn record_last_used(&self, uses: &[(Uuid, OffsetDateTime)]) -> Result<()> {
        if uses.is_empty() {
            return Ok(());
        }
        let mut tx = self.write.begin().await?;
        for (uuid, at) in uses {
            sqlx::query("UPDATE credentials SET last_used_at = $1 WHERE uuid = $2 AND (last_used_at IS NULL OR last_used_at < $1)")
                .bind(ts(*at))
                .bind(uuid.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn create_custom_role(&self, r: &CustomRole, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO custom_roles (uuid, org_uuid, name, description, scopes, created_at, created_by_type, \
             created_by_uuid, created_by_name, updated_at, name_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(r.uuid.to_string())
        .bind(r.org_uuid.to_string())
        .bind(&r.name)
        .bind(r.description.clone())
        .bind(r.scopes.join(" "))
        .bind(ts(r.created_at))
        .bind(r.created_by.kind.as_str())
        .bind(r.created_by.uuid.to_string())
        .bind(&r.created_by.name)
        .bind(ts(r.updated_at))
        .bind(name_key(&r.name))
        .execute(&mut *tx)
        .await
        .map_err(unique("a custom role of this name exists"))?;
        self.finish(tx, audit).await?;
        Ok(())
    }

    async fn custom_role(&self, org: Uuid, uuid: Uuid) -> Result<Option<CustomRole>> {
        let row = sqlx::query("SELECT * FROM custom_roles WHERE org_uuid = $1 AND uuid = $2")
            .bind(org.to_string())
            .bind(uuid.to_string())
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(custom_role_from).transpose()
    }

    async fn custom_roles(&self, org: Uuid) -> Result<Vec<CustomRole>> {
        let rows =
            sqlx::query("SELECT * FROM custom_roles WHERE org_uuid = $1 ORDER BY name, uuid")
                .bind(org.to_string())
                .fetch_all(&self.read)
                .await?;
        rows.iter().map(custom_role_from).collect()
    }

    async fn update_custom_role(
        &self,
        org: Uuid,
        uuid: Uuid,
        change: &CustomRoleChange,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.write.begin().await?;
        let done = sqlx::query(
            "UPDATE custom_roles SET name = COALESCE($1, name), name_key = COALESCE($8, name_key), \
             description = CASE WHEN $2 = 1 THEN $3 ELSE description END, \
             scopes = COALESCE($4, scopes), updated_at = $5 WHERE org_uuid = $6 AND uuid = $7",
        )
        .bind(change.name.clone())
        .bind(i64::from(change.description.is_some()))
        .bind(change.description.clone().flatten())
        .bind(change.scopes.as_ref().map(|s| s.join(" ")))
        .bind(ts(now))
        .bind(org.to_string())
        .bind(uuid.to_string())
        .bind(change.name.as_deref().map(name_key))
        .execute(&mut *tx)
        .await
        .map_err(unique("a custom role of this name exists"))?;
        expect_one(done.rows_affected())?;
        self.finish(tx, audit).await?;
        Ok(())
    }

    async fn delete_custom_role(&self, org: Uuid, uuid: Uuid, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.write.begin().await?;
        lock_org(&mut tx, org).await?;
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM memberships WHERE org_uuid = $1 AND custom_role_uuid = $2) \
             + (SELECT COUNT(*) FROM project_roles WHERE org_uuid = $1 AND custom_role_uuid = $2) \
             + (SELECT COUNT(*) FROM credentials WHERE org_uuid = $1 AND custom_role_uuid = $2 AND revoked_at IS NULL) \
             + (SELECT COUNT(*) FROM service_account_projects s JOIN credentials c ON c.uuid = s.credential_uuid \
                WHERE s.org_uuid = $1 AND s.custom_role_uuid = $2 AND c.revoked_at IS NULL) AS n",
        )
        .bind(org.to_string())
        .bind(uuid.to_string())
        .fetch_one(&mut *tx)
        .await?;
        let n: i64 = row.try_get("n")?;
        if n > 0 {
            return Err(StoreError::Conflict(
                "the custom role is still assigned".into(),
            ));
        }
        let done = sqlx::query("DELETE FROM custom_roles WHERE org_uuid = $1 AND uuid = $2")
            .bind(org.to_string())
            .bind(uuid.to_string())
            .execute(&mut *tx)
            .await?;
        expect_one(done.rows_affected())?;
        self.finish(tx, audit).await?;
        Ok(())
    }

    async fn insert_service_account(
        &self,
        a: &ServiceAccount,
        token_hash: &TokenHash,
        audit: &AuditEvent,
    ) -> Result<()> {
        let c = &a.credential;
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO credentials (uuid, kind, org_uuid, owner_uuid, name, token_hash, display_prefix, scopes, role, \
             custom_role_uuid, expires_at, created_at, created_by_type, created_by_uuid, created_by_name, account_scope) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(c.uuid.to_string())
        .bind(CredentialKind::ServiceAccount.as_str())
        .bind(c.org_uuid.to_string())
        .bind(None::<String>)
        .bind(&c.name)
        .bind(token_hash.to_hex())
        .bind(&c.display_prefix)
        .bind(scopes_to_db(&c.scopes))
        .bind(c.role.map(Role::as_str))
        .bind(a.custom_role_uuid.map(|u| u.to_string()))
        .bind(opt_ts(c.expires_at))
        .bind(ts(c.created_at))
        .bind(c.created_by.kind.as_str())
        .bind(c.created_by.uuid.to_string())
        .bind(&c.created_by.name)
        .bind(a.scope.as_str())
        .execute(&mut *tx)
        .await
        .map_err(unique("a credential with this secret exists"))?;
        for g in &a.grants {
            let (role, custom) = match &g.role {
                RoleRef::System(r) => (Some(r.as_str()), None),
                RoleRef::Custom(u) => (None, Some(u.to_string())),
            };
            sqlx::query(
                "INSERT INTO service_account_projects (credential_uuid, project_uuid, org_uuid, role, custom_role_uuid, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(c.uuid.to_string())
            .bind(g.project_uuid.to_string())
            .bind(c.org_uuid.to_string())
            .bind(role)
            .bind(custom)
            .bind(ts(c.created_at))
            .execute(&mut *tx)
            .await
            .map_err(unique("a project is listed twice"))?;
        }
        self.finish(tx, audit).await?;
        Ok(())
    }

    async fn service_account(&self, org: Uuid, uuid: Uuid) -> Result<Option<ServiceAccount>> {
        let sql = format!(
            "SELECT {CRED_COLS} FROM credentials c WHERE c.org_uuid = $1 AND c.uuid = $2 \
             AND c.kind = 'service_account' AND c.revoked_at IS NULL"
        );
        let row = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(uuid.to_string())
            .fetch_optional(&self.read)
            .await?;
        match row {
            Some(row) => Ok(Some(self.service_account_from(&row).await?)),
            None => Ok(None),
        }
    }

    async fn service_accounts(&self, org: Uuid) -> Result<Vec<ServiceAccount>> {
        let sql = format!(
            "SELECT {CRED_COLS} FROM credentials c WHERE c.org_uuid = $1 AND c.kind = 'service_account' \
             AND c.revoked_at IS NULL ORDER BY c.created_at DESC, c.uuid DESC"
        );
        let rows = sqlx::query(&sql)
            .bind(org.to_string())
            .fetch_all(&self.read)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(self.service_account_from(row).await?);
        }
        Ok(out)
    }

    async fn update_service_account(
        &self,
        uuid: Uuid,
        change: &ServiceAccountChange,
        audit: &AuditEvent,
    ) -> Result<()> {
        let (set_role, role_text, custom) = match &change.role {
            None => (0i64, None, None),
            Some(RoleRef::System(r)) => (1, Some(r.as_str()), None),
            Some(RoleRef::Custom(u)) => (1, None, Some(u.to_string())),
        };
        let mut tx = self.write.begin().await?;
        // A project-scoped account's role never changes, whatever the caller checked.
        let done = sqlx::query(
            "UPDATE credentials SET name = COALESCE($1, name), \
             role = CASE WHEN $2 = 1 THEN $3 ELSE role END, \
             custom_role_uuid = CASE WHEN $2 = 1 THEN $4 ELSE custom_role_uuid END, \
             scopes = CASE WHEN $2 = 1 THEN NULL ELSE scopes END, \
             expires_at = COALESCE($6, expires_at) \
             WHERE uuid = $5 AND kind = 'service_account' AND revoked_at IS NULL \
             AND ($2 = 0 OR account_scope = 'organization')",
        )
        .bind(change.name.clone())
        .bind(set_role)
        .bind(role_text)
        .bind(custom)
        .bind(uuid.to_string())
        .bind(opt_ts(change.expires_at))
        .execute(&mut *tx)
        .await?;
        expect_one(done.rows_affected())?;
        self.finish(tx, audit).await?;
        Ok(())
    }

    async fn append_audit(&self, event: &AuditEvent) -> Result<()> {
        let mut conn = self.write.acquire().await?;
        write_audit(&mut conn, event).await
    }

    async fn audit_events(
        &self,
        org: Uuid,
        f: &AuditFilter,
        page: &PageRequest,
    ) -> Result<Page<StoredAuditEvent>> {
        let before: Option<i64> = match page.cursor.as_deref() {
            Some(c) => Some(c.parse().map_err(|_| StoreError::InvalidCursor)?),
            None => None,
        };
        let rows = sqlx::query(
            "SELECT * FROM audit_events WHERE org_uuid = $1 \
             AND ($2 IS NULL OR seq < $2) AND ($3 IS NULL OR action = $3) AND ($4 IS NULL OR actor_uuid = $4) \
             AND ($5 IS NULL OR target_uuid = $5) AND ($6 IS NULL OR at >= $6) AND ($7 IS NULL OR at <= $7) \
             ORDER BY seq DESC LIMIT $8",
        )
        .bind(org.to_string())
        .bind(before)
        .bind(f.action.clone())
        .bind(f.actor_uuid.map(|u| u.to_string()))
        .bind(f.target_uuid.map(|u| u.to_string()))
        .bind(opt_ts(f.since))
        .bind(opt_ts(f.until))
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&self.read)
        .await?;
        let mut next_cursor = None;
        let mut items = Vec::with_capacity(rows.len().min(page.limit as usize));
        for (i, row) in rows.iter().enumerate() {
            if i == page.limit as usize {
                let last: i64 = rows[i - 1].try_get("seq")?;
                next_cursor = Some(last.to_string());
                break;
            }
            items.push(audit_from(row)?);
        }
        Ok(Page { items, next_cursor })
    }

    // ---- throttles ----------------------------------------------------------

    async fn throttle_take(
        &self,
        key: &str,
        rule: &throttle::Rule,
        now: OffsetDateTime,
    ) -> Result<throttle::Decision> {
        let mut tx = self.write.begin().await?;
        // Creates the window or locks it until commit (PostgreSQL: the row
        // lock of the upsert; SQLite: the one writer), so that concurrent
        // attempts on any replica are counted one after the other.
        let row = sqlx::query(
            "INSERT INTO throttles (throttle_key, window_start, attempts, strikes, forget_at) \
             VALUES ($1, $2, 0, 0, $2) \
             ON CONFLICT (throttle_key) DO UPDATE SET throttle_key = excluded.throttle_key \
             RETURNING window_start, attempts, strikes",
        )
        .bind(key)
        .bind(ts(now))
        .fetch_one(&mut *tx)
        .await?;
        let count = |col: &str| -> Result<u32> {
            let n: i64 = row.try_get(col)?;
            u32::try_from(n).map_err(|_| corrupt(col))
        };
        let stored = throttle::Window {
            start: time_at(&row, "window_start")?,
            attempts: count("attempts")?,
            strikes: count("strikes")?,
        };
        let (window, decision) = rule.take(Some(stored), now);
        sqlx::query(
            "UPDATE throttles SET window_start = $1, attempts = $2, strikes = $3, forget_at = $4 \
             WHERE throttle_key = $5",
        )
        .bind(ts(window.start))
        .bind(i64::from(window.attempts))
        .bind(i64::from(window.strikes))
        .bind(ts(rule.forget_at(&window)))
        .bind(key)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(decision)
    }

    async fn throttle_give_back(&self, key: &str, window_start: OffsetDateTime) -> Result<()> {
        sqlx::query(
            "UPDATE throttles SET attempts = attempts - 1 \
             WHERE throttle_key = $1 AND window_start = $2 AND attempts > 0",
        )
        .bind(key)
        .bind(ts(window_start))
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn throttle_clear(&self, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM throttles WHERE throttle_key = $1")
            .bind(key)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn throttle_purge(&self, now: OffsetDateTime) -> Result<u64> {
        let done = sqlx::query("DELETE FROM throttles WHERE forget_at <= $1")
            .bind(ts(now))
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected())
    }
}

/// `custom_role_uuid`, `r_name`, `r_scopes` of a row joined with its custom role.
fn custom_role_columns(row: &AnyRow) -> Result<Option<(Uuid, String, Vec<String>)>> {
    let Some(uuid) = opt_uuid_at(row, "custom_role_uuid")? else {
        return Ok(None);
    };
    let name: Option<String> = row.try_get("r_name")?;
    let scopes: Option<String> = row.try_get("r_scopes")?;
    Ok(Some((
        uuid,
        name.unwrap_or_default(),
        scopes
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect(),
    )))
}

fn custom_role_from(row: &AnyRow) -> Result<CustomRole> {
    let scopes: String = row.try_get("scopes")?;
    Ok(CustomRole {
        uuid: uuid_at(row, "uuid")?,
        org_uuid: uuid_at(row, "org_uuid")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        scopes: scopes.split_whitespace().map(str::to_string).collect(),
        created_at: time_at(row, "created_at")?,
        created_by: actor_at(row, "created_by")?,
        updated_at: time_at(row, "updated_at")?,
    })
}

impl SqlStore {
    async fn grants_of(&self, credential: Uuid) -> Result<Vec<ServiceAccountGrant>> {
        let rows = sqlx::query(
            "SELECT s.project_uuid, s.role, s.custom_role_uuid FROM service_account_projects s \
             JOIN projects p ON p.uuid = s.project_uuid \
             WHERE s.credential_uuid = $1 ORDER BY p.name, s.project_uuid",
        )
        .bind(credential.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|row| {
                let role = match opt_uuid_at(row, "custom_role_uuid")? {
                    Some(u) => RoleRef::Custom(u),
                    None => RoleRef::System(role_at(row, "role")?),
                };
                Ok(ServiceAccountGrant {
                    project_uuid: uuid_at(row, "project_uuid")?,
                    role,
                })
            })
            .collect()
    }

    /// A project-scoped service account's rows, with their custom roles' scopes.
    async fn project_access_records(&self, credential: Uuid) -> Result<Vec<ProjectAccessRecord>> {
        let rows = sqlx::query(
            "SELECT s.project_uuid, s.role, s.custom_role_uuid, r.name AS r_name, r.scopes AS r_scopes \
             FROM service_account_projects s LEFT JOIN custom_roles r ON r.uuid = s.custom_role_uuid \
             WHERE s.credential_uuid = $1",
        )
        .bind(credential.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ProjectAccessRecord {
                    project_uuid: uuid_at(row, "project_uuid")?,
                    role: opt_role_at(row, "role")?,
                    custom_role: custom_role_columns(row)?,
                })
            })
            .collect()
    }

    async fn service_account_from(&self, row: &AnyRow) -> Result<ServiceAccount> {
        let credential = credential_from(row)?;
        let grants = self.grants_of(credential.uuid).await?;
        Ok(ServiceAccount {
            scope: account_scope_at(row)?.ok_or_else(|| corrupt("account_scope"))?,
            custom_role_uuid: opt_uuid_at(row, "c_custom_role_uuid")?,
            credential,
            grants,
        })
    }
}
