//! Web sessions. A session is cached like a token, so every change to one
//! (ended, moved to another organization) tells the caches, here and on
//! every replica, as an audited change does.

use super::rows::*;
use super::{projects, roles, teams, SqlStore};
use crate::models::*;
use crate::{Result, StoreError};
use latchkey_core::TokenHash;
use sqlx::Row;
use time::OffsetDateTime;

pub(super) async fn create_session(db: &SqlStore, s: &NewSession) -> Result<()> {
    sqlx::query(
        "INSERT INTO sessions (id_hash, uuid, user_uuid, org_uuid, created_at, expires_at, ip, user_agent) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(s.id_hash.to_hex())
    .bind(s.uuid.to_string())
    .bind(s.user_uuid.to_string())
    .bind(s.org_uuid.to_string())
    .bind(ts(s.created_at))
    .bind(ts(s.expires_at))
    .bind(s.ip.clone())
    .bind(s.user_agent.clone())
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

pub(super) async fn sessions_of(
    db: &SqlStore,
    user: UserId,
    now: OffsetDateTime,
) -> Result<Vec<SessionInfo>> {
    let rows = sqlx::query(
        "SELECT uuid, id_hash, org_uuid, created_at, last_seen_at, expires_at, ip, user_agent \
         FROM sessions WHERE user_uuid = $1 AND revoked_at IS NULL AND expires_at > $2 \
         ORDER BY created_at DESC, uuid DESC",
    )
    .bind(user.to_string())
    .bind(ts(now))
    .fetch_all(&db.read)
    .await?;
    rows.iter()
        .map(|row| {
            let hash: String = row.try_get("id_hash")?;
            Ok(SessionInfo {
                uuid: uuid_at(row, "uuid")?,
                id_hash: TokenHash::from_hex(&hash).ok_or_else(|| corrupt("id_hash"))?,
                org_uuid: uuid_at(row, "org_uuid")?,
                created_at: time_at(row, "created_at")?,
                last_seen_at: opt_time_at(row, "last_seen_at")?,
                expires_at: time_at(row, "expires_at")?,
                ip: row.try_get("ip")?,
                user_agent: row.try_get("user_agent")?,
            })
        })
        .collect()
}

/// Ends the account's live sessions that `which` picks (`$2` in it is the
/// account, `$3` the value given) and tells each organization's caches.
async fn end_sessions(
    db: &SqlStore,
    which: &str,
    user: UserId,
    value: String,
    now: OffsetDateTime,
) -> Result<usize> {
    let mut tx = db.write.begin().await?;
    let ended = sqlx::query(&format!(
        "UPDATE sessions SET revoked_at = $1 WHERE user_uuid = $2 AND {which} \
         AND revoked_at IS NULL AND expires_at > $1 RETURNING org_uuid"
    ))
    .bind(ts(now))
    .bind(user.to_string())
    .bind(value)
    .fetch_all(&mut *tx)
    .await?;
    let mut orgs: Vec<OrgId> = Vec::new();
    for row in &ended {
        let org = uuid_at(row, "org_uuid")?;
        if !orgs.contains(&org) {
            orgs.push(org);
        }
    }
    db.commit_unaudited(tx, &orgs).await?;
    Ok(ended.len())
}

pub(super) async fn end_session(
    db: &SqlStore,
    user: UserId,
    session: SessionId,
    now: OffsetDateTime,
) -> Result<()> {
    match end_sessions(db, "uuid = $3", user, session.to_string(), now).await? {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

pub(super) async fn end_other_sessions(
    db: &SqlStore,
    user: UserId,
    keep: &TokenHash,
    now: OffsetDateTime,
) -> Result<()> {
    end_sessions(db, "id_hash <> $3", user, keep.to_hex(), now).await?;
    Ok(())
}

pub(super) async fn record_sessions_seen(
    db: &SqlStore,
    uses: &[(TokenHash, OffsetDateTime)],
) -> Result<()> {
    if uses.is_empty() {
        return Ok(());
    }
    let mut tx = db.write.begin().await?;
    for (id_hash, at) in uses {
        sqlx::query(
            "UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2 \
             AND (last_seen_at IS NULL OR last_seen_at < $1)",
        )
        .bind(ts(*at))
        .bind(id_hash.to_hex())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
