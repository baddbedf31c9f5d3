//! Web sessions.

use super::rows::*;
use super::SqlStore;
use crate::models::*;
use crate::Result;
use latchkey_core::TokenHash;
use sqlx::Row;
use uuid::Uuid;

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

pub(super) async fn set_session_org(db: &SqlStore, id_hash: &TokenHash, org: Uuid) -> Result<()> {
    let done = sqlx::query("UPDATE sessions SET org_uuid = $1 WHERE id_hash = $2")
        .bind(org.to_string())
        .bind(id_hash.to_hex())
        .execute(&db.write)
        .await?;
    expect_one(done.rows_affected())
}

pub(super) async fn delete_session(db: &SqlStore, id_hash: &TokenHash) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(id_hash.to_hex())
        .execute(&db.write)
        .await?;
    Ok(())
}
