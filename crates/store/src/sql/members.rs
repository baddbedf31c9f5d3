//! Users and their memberships of organizations.

use super::rows::*;
use super::shared::lock_org;
use super::SqlStore;
use crate::models::*;
use crate::Conflict;
use crate::{Result, StoreError};
use latchkey_core::SecretString;
use latchkey_core::{AuditEvent, Role};
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

async fn active_admins(conn: &mut AnyConnection, org: OrgId) -> Result<i64> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM memberships WHERE org_uuid = $1 AND role = 'admin' \
         AND suspended_at IS NULL AND accepted_at IS NOT NULL",
    )
    .bind(org.to_string())
    .fetch_one(conn)
    .await?;
    Ok(row.try_get("n")?)
}

pub(super) async fn insert_user(
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
        .map_err(unique(Conflict::UserEmail))?;
    Ok(())
}

/// `accepted_at` is `None` for an invitation.
pub(super) async fn insert_membership(
    conn: &mut AnyConnection,
    org: OrgId,
    user: UserId,
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
    .map_err(unique(Conflict::Membership))?;
    Ok(())
}

pub(super) async fn user_by_email(db: &SqlStore, email: &str) -> Result<Option<UserLogin>> {
    let sql = format!("SELECT {USER_COLS}, u.password_hash FROM users u WHERE u.email = $1");
    let row = sqlx::query(&sql)
        .bind(email)
        .fetch_optional(&db.read)
        .await?;
    row.map(|row| {
        Ok(UserLogin {
            user: user_from(&row)?,
            password_hash: row
                .try_get::<Option<String>, _>("password_hash")?
                .map(SecretString::from),
        })
    })
    .transpose()
}

pub(super) async fn memberships_of(db: &SqlStore, user: UserId) -> Result<Vec<(Org, Membership)>> {
    let sql = format!(
        "SELECT {ORG_COLS}, {MEMBER_COLS} FROM memberships m JOIN orgs o ON o.uuid = m.org_uuid \
         WHERE m.user_uuid = $1 AND m.accepted_at IS NOT NULL ORDER BY m.created_at, o.name"
    );
    let rows = sqlx::query(&sql)
        .bind(user.to_string())
        .fetch_all(&db.read)
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

pub(super) async fn member(db: &SqlStore, org: OrgId, user: UserId) -> Result<Option<Member>> {
    let sql = format!(
        "SELECT {USER_COLS}, {MEMBER_COLS} FROM memberships m JOIN users u ON u.uuid = m.user_uuid \
         WHERE m.org_uuid = $1 AND m.user_uuid = $2"
    );
    let row = sqlx::query(&sql)
        .bind(org.to_string())
        .bind(user.to_string())
        .fetch_optional(&db.read)
        .await?;
    row.map(|row| {
        Ok(Member {
            user: user_from(&row)?,
            membership: membership_from(&row)?.ok_or_else(|| corrupt("membership"))?,
        })
    })
    .transpose()
}

pub(super) async fn members(db: &SqlStore, org: OrgId) -> Result<Vec<Member>> {
    let sql = format!(
        "SELECT {USER_COLS}, {MEMBER_COLS} FROM memberships m JOIN users u ON u.uuid = m.user_uuid \
         WHERE m.org_uuid = $1 ORDER BY m.created_at, u.email"
    );
    let rows = sqlx::query(&sql)
        .bind(org.to_string())
        .fetch_all(&db.read)
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

pub(super) async fn update_member(
    db: &SqlStore,
    org: OrgId,
    user: UserId,
    change: &MemberChange,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = db.write.begin().await?;
    lock_org(&mut tx, org).await?;
    if let Some(role) = change.role {
        let done = sqlx::query(
            "UPDATE memberships SET role = $1, custom_role_uuid = $4 WHERE org_uuid = $2 AND user_uuid = $3",
        )
        .bind(role.base_role().as_str())
        .bind(org.to_string())
        .bind(user.to_string())
        .bind(role.custom().map(|u| u.to_string()))
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
        return Err(StoreError::Conflict(Conflict::LastAdmin));
    }
    db.finish(tx, audit).await?;
    Ok(())
}

pub(super) async fn remove_member(
    db: &SqlStore,
    org: OrgId,
    user: UserId,
    now: OffsetDateTime,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = db.write.begin().await?;
    lock_org(&mut tx, org).await?;
    let (o, u) = (org.to_string(), user.to_string());
    let done = sqlx::query("DELETE FROM memberships WHERE org_uuid = $1 AND user_uuid = $2")
        .bind(&o)
        .bind(&u)
        .execute(&mut *tx)
        .await?;
    expect_one(done.rows_affected())?;
    if active_admins(&mut tx, org).await? == 0 {
        return Err(StoreError::Conflict(Conflict::LastAdmin));
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
    db.finish(tx, audit).await?;
    Ok(())
}
