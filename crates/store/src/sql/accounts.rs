//! Changes a person makes to their own account, whichever organization
//! they are signed in to.

use super::rows::*;
use super::SqlStore;
use crate::models::*;
use crate::{Result, StoreError};
use latchkey_core::{AuditEvent, TokenHash};
use time::OffsetDateTime;

pub(super) async fn change_password(
    db: &SqlStore,
    user: UserId,
    password_hash: &str,
    keep: &TokenHash,
    now: OffsetDateTime,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = db.write.begin().await?;
    let done = sqlx::query(
        "UPDATE users SET password_hash = $1 WHERE uuid = $2 AND password_hash IS NOT NULL",
    )
    .bind(password_hash)
    .bind(user.to_string())
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(StoreError::NotFound);
    }
    // Whoever else holds a session of this account (a stolen cookie, a
    // forgotten browser) is signed out everywhere; each organization's
    // caches are told.
    let ended = sqlx::query(
        "UPDATE sessions SET revoked_at = $1 WHERE user_uuid = $2 AND id_hash <> $3 \
         AND revoked_at IS NULL RETURNING org_uuid",
    )
    .bind(ts(now))
    .bind(user.to_string())
    .bind(keep.to_hex())
    .fetch_all(&mut *tx)
    .await?;
    let mut touched: Vec<OrgId> = Vec::new();
    for row in &ended {
        let org = uuid_at(row, "org_uuid")?;
        if org != audit.org_uuid && !touched.contains(&org) {
            touched.push(org);
        }
    }
    db.finish_also(tx, audit, &touched).await
}
