//! The audit log: the event every change writes, and reading it back.

use super::rows::*;
use super::SqlStore;
use crate::models::*;
use crate::{Result, StoreError};
use latchkey_core::AuditEvent;
use sqlx::{AnyConnection, Row};
use uuid::Uuid;

pub(super) async fn write_audit(conn: &mut AnyConnection, e: &AuditEvent) -> Result<()> {
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
    .bind(e.action.as_str())
    .bind(e.actor.as_ref().map(|a| a.kind.as_str()))
    .bind(e.actor.as_ref().map(|a| a.uuid.to_string()))
    .bind(e.actor.as_ref().map(|a| a.name.clone()))
    .bind(cred.map(|c| c.kind.as_str()))
    .bind(cred.and_then(|c| c.uuid).map(|u| u.to_string()))
    .bind(cred.and_then(|c| c.name.clone()))
    .bind(cred.and_then(|c| c.display_prefix.clone()))
    .bind(e.target.as_ref().map(|t| t.kind.as_str()))
    .bind(e.target.as_ref().map(|t| t.uuid.to_string()))
    .bind(e.target.as_ref().map(|t| t.name.clone()))
    .bind(e.ip.clone())
    .bind(e.user_agent.clone())
    .bind(e.details.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn append_audit(db: &SqlStore, event: &AuditEvent) -> Result<()> {
    let mut conn = db.write.acquire().await?;
    write_audit(&mut conn, event).await
}

pub(super) async fn audit_events(
    db: &SqlStore,
    org: OrgId,
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
    .fetch_all(&db.read)
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
