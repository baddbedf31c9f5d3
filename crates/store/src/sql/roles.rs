//! Custom roles.

use super::rows::*;
use super::shared::lock_org;
use super::SqlStore;
use crate::models::*;
use crate::Conflict;
use crate::{Result, StoreError};
use latchkey_core::limits::name_key;
use latchkey_core::AuditEvent;
use sqlx::Row;
use time::OffsetDateTime;

pub(super) async fn create_custom_role(
    db: &SqlStore,
    r: &CustomRole,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = db.write.begin().await?;
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
    .map_err(unique(Conflict::CustomRoleName))?;
    db.finish(tx, audit).await?;
    Ok(())
}

pub(super) async fn custom_role(
    db: &SqlStore,
    org: OrgId,
    uuid: RoleId,
) -> Result<Option<CustomRole>> {
    let row = sqlx::query("SELECT * FROM custom_roles WHERE org_uuid = $1 AND uuid = $2")
        .bind(org.to_string())
        .bind(uuid.to_string())
        .fetch_optional(&db.read)
        .await?;
    row.as_ref().map(custom_role_from).transpose()
}

/// What a grant's custom role gives, if it names one (read for the request
/// path beside the grant).
pub(super) async fn custom_role_grant(
    db: &SqlStore,
    org: OrgId,
    uuid: Option<RoleId>,
) -> Result<Option<CustomRoleGrant>> {
    Ok(match uuid {
        Some(uuid) => custom_role(db, org, uuid).await?.map(CustomRoleGrant::from),
        None => None,
    })
}

pub(super) async fn custom_roles(db: &SqlStore, org: OrgId) -> Result<Vec<CustomRole>> {
    let rows = sqlx::query("SELECT * FROM custom_roles WHERE org_uuid = $1 ORDER BY name, uuid")
        .bind(org.to_string())
        .fetch_all(&db.read)
        .await?;
    rows.iter().map(custom_role_from).collect()
}

pub(super) async fn update_custom_role(
    db: &SqlStore,
    org: OrgId,
    uuid: RoleId,
    change: &CustomRoleChange,
    now: OffsetDateTime,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = db.write.begin().await?;
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
    .map_err(unique(Conflict::CustomRoleName))?;
    expect_one(done.rows_affected())?;
    db.finish(tx, audit).await?;
    Ok(())
}

pub(super) async fn delete_custom_role(
    db: &SqlStore,
    org: OrgId,
    uuid: RoleId,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = db.write.begin().await?;
    lock_org(&mut tx, org).await?;
    let row = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM memberships WHERE org_uuid = $1 AND custom_role_uuid = $2) \
         + (SELECT COUNT(*) FROM project_roles WHERE org_uuid = $1 AND custom_role_uuid = $2) \
         + (SELECT COUNT(*) FROM credentials WHERE org_uuid = $1 AND custom_role_uuid = $2 AND revoked_at IS NULL) \
         + (SELECT COUNT(*) FROM service_account_projects s JOIN credentials c ON c.uuid = s.credential_uuid \
            WHERE s.org_uuid = $1 AND s.custom_role_uuid = $2 AND c.revoked_at IS NULL) \
         + (SELECT COUNT(*) FROM teams WHERE org_uuid = $1 AND custom_role_uuid = $2) \
         + (SELECT COUNT(*) FROM team_project_roles WHERE org_uuid = $1 AND custom_role_uuid = $2) AS n",
    )
    .bind(org.to_string())
    .bind(uuid.to_string())
    .fetch_one(&mut *tx)
    .await?;
    let n: i64 = row.try_get("n")?;
    if n > 0 {
        return Err(StoreError::Conflict(Conflict::CustomRoleInUse));
    }
    let done = sqlx::query("DELETE FROM custom_roles WHERE org_uuid = $1 AND uuid = $2")
        .bind(org.to_string())
        .bind(uuid.to_string())
        .execute(&mut *tx)
        .await?;
    expect_one(done.rows_affected())?;
    db.finish(tx, audit).await?;
    Ok(())
}
