//! Web sessions. A session is cached like a token, so every change to one
//! (ended, moved to another organization) tells the caches, here and on
//! every replica, as an audited change does.

use super::rows::*;
use super::{projects, roles, teams, SqlStore};
use crate::models::*;
use crate::{Result, StoreError};
use latchkey_core::TokenHash;
use sqlx::Row;

pub(super) async fn create_session(db: &SqlStore, s: &NewSession) -> Result<()> {
    sqlx::query("INSERT INTO sessions (id_hash, user_uuid, org_uuid, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(s.id_hash.to_hex())
        .bind(s.user_uuid.to_string())
        .bind(s.org_uuid.to_string())
        .bind(ts(s.created_at))
        .bind(ts(s.expires_at))
        .execute(&db.write)
        .await?;
    Ok(())
}

pub(super) async fn session(db: &SqlStore, id_hash: &TokenHash) -> Result<Option<SessionRecord>> {
    let sql = format!(
        "SELECT s.id_hash, s.expires_at, s.revoked_at, {USER_COLS}, {ORG_COLS}, {MEMBER_COLS} FROM sessions s \
         JOIN users u ON u.uuid = s.user_uuid JOIN orgs o ON o.uuid = s.org_uuid \
         LEFT JOIN memberships m ON m.org_uuid = s.org_uuid AND m.user_uuid = s.user_uuid \
              AND m.accepted_at IS NOT NULL \
         WHERE s.id_hash = $1"
    );
    let row = sqlx::query(&sql)
        .bind(id_hash.to_hex())
        .fetch_optional(&db.read)
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let stored: String = row.try_get("id_hash")?;
    let membership = membership_from(&row)?;
    // What the member holds, read now so the session can be cached with it
    // like a token; a change meanwhile is caught by the cache's ticket.
    let (custom_role, project_roles, teams) = match &membership {
        Some(m) => (
            roles::custom_role_grant(db, m.org_uuid, m.role.custom()).await?,
            projects::member_project_roles(db, m.org_uuid, m.user_uuid).await?,
            teams::member_team_roles(db, m.org_uuid, m.user_uuid).await?,
        ),
        None => (None, Vec::new(), TeamRoles::default()),
    };
    Ok(Some(SessionRecord {
        id_hash: TokenHash::from_hex(&stored).ok_or_else(|| corrupt("id_hash"))?,
        user: user_from(&row)?,
        org: org_from(&row)?,
        membership,
        custom_role,
        project_roles,
        teams,
        expires_at: time_at(&row, "expires_at")?,
        revoked_at: opt_time_at(&row, "revoked_at")?,
    }))
}

/// The organization a session is in, read inside the transaction that
/// changes it, so caches that hold the session can be told.
async fn org_of(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id_hash: &TokenHash,
) -> Result<Option<OrgId>> {
    let row = sqlx::query("SELECT org_uuid FROM sessions WHERE id_hash = $1")
        .bind(id_hash.to_hex())
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|row| uuid_at(&row, "org_uuid")).transpose()
}

pub(super) async fn set_session_org(db: &SqlStore, id_hash: &TokenHash, org: OrgId) -> Result<()> {
    let mut tx = db.write.begin().await?;
    let Some(was) = org_of(&mut tx, id_hash).await? else {
        return Err(StoreError::NotFound);
    };
    sqlx::query("UPDATE sessions SET org_uuid = $1 WHERE id_hash = $2")
        .bind(org.to_string())
        .bind(id_hash.to_hex())
        .execute(&mut *tx)
        .await?;
    db.commit_unaudited(tx, &[was, org]).await
}

pub(super) async fn delete_session(db: &SqlStore, id_hash: &TokenHash) -> Result<()> {
    let mut tx = db.write.begin().await?;
    let Some(org) = org_of(&mut tx, id_hash).await? else {
        return Ok(());
    };
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(id_hash.to_hex())
        .execute(&mut *tx)
        .await?;
    db.commit_unaudited(tx, &[org]).await
}
