//! Resource servers (instance-level credentials for token introspection)
//! and the instance audit log their changes write.

use super::rows::*;
use super::SqlStore;
use crate::models::*;
use crate::{Conflict, Result, StoreError, INSTANCE_CHANGES};
use latchkey_core::limits::name_key;
use latchkey_core::{InstanceAuditEvent, TokenHash};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;
use uuid::Uuid;

const COLS: &str = "uuid, name, display_prefix, created_at, revoked_at, last_used_at";

fn resource_server_from(row: &AnyRow) -> Result<ResourceServer> {
    Ok(ResourceServer {
        uuid: uuid_at(row, "uuid")?,
        name: row.try_get("name")?,
        display_prefix: row.try_get("display_prefix")?,
        created_at: time_at(row, "created_at")?,
        revoked_at: opt_time_at(row, "revoked_at")?,
        last_used_at: opt_time_at(row, "last_used_at")?,
    })
}

async fn write_instance_audit(conn: &mut AnyConnection, e: &InstanceAuditEvent) -> Result<()> {
    sqlx::query(
        "INSERT INTO instance_audit_events (uuid, at, action, actor_name, target_uuid, target_name, details) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(Uuid::new_v4().to_string())
    .bind(ts(e.at))
    .bind(e.action.as_str())
    .bind(e.actor.clone())
    .bind(e.target_uuid.to_string())
    .bind(e.target_name.clone())
    .bind(e.details.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes the event, tells other replicas (PostgreSQL) and this process's
/// caches: resource servers change under `INSTANCE_CHANGES`.
async fn finish(
    db: &SqlStore,
    mut tx: sqlx::Transaction<'_, sqlx::Any>,
    audit: &InstanceAuditEvent,
) -> Result<()> {
    write_instance_audit(&mut tx, audit).await?;
    db.notify(&mut tx, &[INSTANCE_CHANGES]).await?;
    tx.commit().await?;
    db.heard(&[INSTANCE_CHANGES]);
    Ok(())
}

pub(super) async fn create_resource_server(
    db: &SqlStore,
    rs: &ResourceServer,
    token_hash: &TokenHash,
    audit: &InstanceAuditEvent,
) -> Result<()> {
    let mut tx = db.write.begin().await?;
    let key = name_key(&rs.name);
    sqlx::query(&format!(
        "INSERT INTO resource_servers ({COLS}, name_key, token_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    ))
    .bind(rs.uuid.to_string())
    .bind(rs.name.clone())
    .bind(rs.display_prefix.clone())
    .bind(ts(rs.created_at))
    .bind(opt_ts(rs.revoked_at))
    .bind(opt_ts(rs.last_used_at))
    .bind(key)
    .bind(token_hash.to_hex())
    .execute(&mut *tx)
    .await
    // The live-name index; a hash collision of two fresh secrets (2^-256)
    // is not worth a code of its own.
    .map_err(unique(Conflict::ResourceServerName))?;
    finish(db, tx, audit).await
}

pub(super) async fn resource_servers(db: &SqlStore) -> Result<Vec<ResourceServer>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLS} FROM resource_servers ORDER BY created_at DESC, uuid DESC"
    ))
    .fetch_all(&db.read)
    .await?;
    rows.iter().map(resource_server_from).collect()
}

pub(super) async fn resource_server_by_hash(
    db: &SqlStore,
    token_hash: &TokenHash,
) -> Result<Option<(ResourceServer, TokenHash)>> {
    let row = sqlx::query(&format!(
        "SELECT {COLS}, token_hash FROM resource_servers WHERE token_hash = $1"
    ))
    .bind(token_hash.to_hex())
    .fetch_optional(&db.read)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let stored: String = row.try_get("token_hash")?;
    let stored = TokenHash::from_hex(&stored).ok_or_else(|| corrupt("token_hash"))?;
    Ok(Some((resource_server_from(&row)?, stored)))
}

pub(super) async fn revoke_resource_server(
    db: &SqlStore,
    uuid: CredentialId,
    now: OffsetDateTime,
    audit: &InstanceAuditEvent,
) -> Result<()> {
    let mut tx = db.write.begin().await?;
    let done = sqlx::query(
        "UPDATE resource_servers SET revoked_at = $1 WHERE uuid = $2 AND revoked_at IS NULL",
    )
    .bind(ts(now))
    .bind(uuid.to_string())
    .execute(&mut *tx)
    .await?;
    expect_one(done.rows_affected())?;
    finish(db, tx, audit).await
}

pub(super) async fn instance_audit_events(
    db: &SqlStore,
    limit: u32,
) -> Result<Vec<StoredInstanceAuditEvent>> {
    let rows = sqlx::query(
        "SELECT uuid, at, action, actor_name, target_uuid, target_name, details \
         FROM instance_audit_events ORDER BY seq DESC LIMIT $1",
    )
    .bind(i64::from(limit))
    .fetch_all(&db.read)
    .await?;
    rows.iter()
        .map(|row| {
            let details: String = row.try_get("details")?;
            Ok(StoredInstanceAuditEvent {
                uuid: uuid_at(row, "uuid")?,
                at: time_at(row, "at")?,
                action: row.try_get("action")?,
                actor: row.try_get("actor_name")?,
                target_uuid: uuid_at(row, "target_uuid")?,
                target_name: row.try_get("target_name")?,
                details: serde_json::from_str(&details)
                    .map_err(|_| StoreError::Corrupt("details".into()))?,
            })
        })
        .collect()
}

pub(super) async fn record_resource_server_use(
    db: &SqlStore,
    uses: &[(CredentialId, OffsetDateTime)],
) -> Result<()> {
    if uses.is_empty() {
        return Ok(());
    }
    let mut tx = db.write.begin().await?;
    for (uuid, at) in uses {
        sqlx::query(
            "UPDATE resource_servers SET last_used_at = $1 WHERE uuid = $2 \
             AND (last_used_at IS NULL OR last_used_at < $1)",
        )
        .bind(ts(*at))
        .bind(uuid.to_string())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
