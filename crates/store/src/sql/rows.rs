//! Encoding values for the database and decoding its rows into models: the
//! column lists the queries select and the conversions that read them.

use crate::models::*;
use crate::{Result, StoreError};
use latchkey_core::{
    Actor, ActorKind, CredentialKind, CredentialRef, Plan, Role, Target, TargetKind,
};
use sqlx::any::AnyRow;
use sqlx::Row;
use time::OffsetDateTime;
use uuid::Uuid;

pub(super) fn ts(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

pub(super) fn opt_ts(t: Option<OffsetDateTime>) -> Option<i64> {
    t.map(ts)
}

pub(super) fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// A uuid column, as whichever id the caller reads it as.
pub(super) fn uuid_at<T: From<Uuid>>(row: &AnyRow, col: &str) -> Result<T> {
    let s: String = row.try_get(col)?;
    Uuid::parse_str(&s).map(T::from).map_err(|_| corrupt(col))
}

pub(super) fn opt_uuid_at<T: From<Uuid>>(row: &AnyRow, col: &str) -> Result<Option<T>> {
    let s: Option<String> = row.try_get(col)?;
    s.map(|s| Uuid::parse_str(&s).map(T::from).map_err(|_| corrupt(col)))
        .transpose()
}

pub(super) fn time_at(row: &AnyRow, col: &str) -> Result<OffsetDateTime> {
    let t: i64 = row.try_get(col)?;
    OffsetDateTime::from_unix_timestamp(t).map_err(|_| corrupt(col))
}

pub(super) fn opt_time_at(row: &AnyRow, col: &str) -> Result<Option<OffsetDateTime>> {
    let t: Option<i64> = row.try_get(col)?;
    t.map(|t| OffsetDateTime::from_unix_timestamp(t).map_err(|_| corrupt(col)))
        .transpose()
}

pub(super) fn role_at(row: &AnyRow, col: &str) -> Result<Role> {
    let s: String = row.try_get(col)?;
    Role::parse(&s).ok_or_else(|| corrupt(col))
}

pub(super) fn opt_role_at(row: &AnyRow, col: &str) -> Result<Option<Role>> {
    let s: Option<String> = row.try_get(col)?;
    s.map(|s| Role::parse(&s).ok_or_else(|| corrupt(col)))
        .transpose()
}

pub(super) fn actor_at(row: &AnyRow, prefix: &str) -> Result<Actor> {
    let kind: String = row.try_get(format!("{prefix}_type").as_str())?;
    Ok(Actor {
        kind: ActorKind::parse(&kind).ok_or_else(|| corrupt(prefix))?,
        uuid: uuid_at(row, &format!("{prefix}_uuid"))?,
        name: row.try_get(format!("{prefix}_name").as_str())?,
    })
}

pub(super) fn scopes_to_db(scopes: &Option<Vec<String>>) -> Option<String> {
    scopes.as_ref().map(|s| s.join(" "))
}

/// Maps a uniqueness violation to `Conflict(what)`.
pub(super) fn unique(what: crate::Conflict) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(db) if db.kind() == sqlx::error::ErrorKind::UniqueViolation => {
            StoreError::Conflict(what)
        }
        _ => StoreError::Database(e),
    }
}

pub(super) fn expect_one(rows_affected: u64) -> Result<()> {
    if rows_affected == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

pub(super) const ORG_COLS: &str =
    "o.uuid AS org_uuid, o.name AS org_name, o.plan AS org_plan, o.created_at AS org_created_at";
pub(super) const USER_COLS: &str = "u.uuid AS user_uuid, u.email AS user_email, u.name AS user_name, u.created_at AS user_created_at";
pub(super) const MEMBER_COLS: &str = "m.org_uuid AS m_org_uuid, m.user_uuid AS m_user_uuid, m.role AS m_role, m.custom_role_uuid AS m_custom_role_uuid, m.suspended_at AS m_suspended_at, m.created_at AS m_created_at, m.accepted_at AS m_accepted_at";
pub(super) const CRED_COLS: &str = "c.uuid, c.kind, c.org_uuid AS c_org_uuid, c.owner_uuid, c.name, c.token_hash, c.display_prefix, c.scopes, c.role, c.expires_at, c.created_at, c.rotated_at, c.last_used_at, c.revoked_at, c.created_by_type, c.created_by_uuid, c.created_by_name, c.custom_role_uuid AS c_custom_role_uuid, c.account_scope";
pub(super) const PROJECT_COLS: &str = "uuid, org_uuid, name, created_at, created_by_type, created_by_uuid, created_by_name, updated_at, updated_by_type, updated_by_uuid, updated_by_name";

pub(super) fn org_from(row: &AnyRow) -> Result<Org> {
    let plan: String = row.try_get("org_plan")?;
    Ok(Org {
        uuid: uuid_at(row, "org_uuid")?,
        name: row.try_get("org_name")?,
        plan: Plan::parse(&plan).ok_or_else(|| corrupt("org_plan"))?,
        created_at: time_at(row, "org_created_at")?,
    })
}

pub(super) fn user_from(row: &AnyRow) -> Result<User> {
    Ok(User {
        uuid: uuid_at(row, "user_uuid")?,
        email: row.try_get("user_email")?,
        name: row.try_get("user_name")?,
        created_at: time_at(row, "user_created_at")?,
    })
}

pub(super) fn membership_from(row: &AnyRow) -> Result<Option<Membership>> {
    let Some(org_uuid) = opt_uuid_at(row, "m_org_uuid")? else {
        return Ok(None);
    };
    Ok(Some(Membership {
        org_uuid,
        user_uuid: uuid_at(row, "m_user_uuid")?,
        role: RoleRef::from_columns(
            role_at(row, "m_role")?,
            opt_uuid_at(row, "m_custom_role_uuid")?,
        ),
        suspended_at: opt_time_at(row, "m_suspended_at")?,
        created_at: time_at(row, "m_created_at")?,
        accepted_at: opt_time_at(row, "m_accepted_at")?,
    }))
}

pub(super) fn credential_from(row: &AnyRow) -> Result<Credential> {
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

pub(super) fn project_from(row: &AnyRow) -> Result<Project> {
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

pub(super) fn audit_from(row: &AnyRow) -> Result<StoredAuditEvent> {
    let actor = match opt_uuid_at::<Uuid>(row, "actor_uuid")? {
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
            kind: {
                let kind: String = row.try_get("target_type")?;
                TargetKind::parse(&kind).ok_or_else(|| corrupt("target_type"))?
            },
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

pub(super) fn account_scope_at(row: &AnyRow) -> Result<Option<AccountScope>> {
    let scope: Option<String> = row.try_get("account_scope")?;
    scope
        .map(|s| AccountScope::parse(&s).ok_or_else(|| corrupt("account_scope")))
        .transpose()
}

/// `custom_role_uuid`, `r_name`, `r_scopes` of a row joined with its custom role.
pub(super) fn custom_role_columns(row: &AnyRow) -> Result<Option<CustomRoleGrant>> {
    let Some(uuid) = opt_uuid_at(row, "custom_role_uuid")? else {
        return Ok(None);
    };
    let name: Option<String> = row.try_get("r_name")?;
    let scopes: Option<String> = row.try_get("r_scopes")?;
    Ok(Some(CustomRoleGrant {
        uuid,
        name: name.unwrap_or_default(),
        scopes: scopes
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect(),
    }))
}

/// `project_uuid`, `role` and the custom role columns of a project role or a
/// service account's project row: the custom role when one is named, else
/// the system role (a row with neither gives nothing).
pub(super) fn project_role_record(row: &AnyRow) -> Result<ProjectRoleRecord> {
    Ok(ProjectRoleRecord {
        project_uuid: uuid_at(row, "project_uuid")?,
        role: held_role_columns(row)?,
    })
}

/// `role` and the custom role columns as the request path holds them.
pub(super) fn held_role_columns(row: &AnyRow) -> Result<HeldRole> {
    Ok(
        match (custom_role_columns(row)?, opt_role_at(row, "role")?) {
            (Some(custom), _) => HeldRole::Custom(custom),
            (None, Some(role)) => HeldRole::System(role),
            (None, None) => HeldRole::Gone,
        },
    )
}

pub(super) fn custom_role_from(row: &AnyRow) -> Result<CustomRole> {
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
