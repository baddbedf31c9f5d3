//! Organizations.

use super::members::{insert_membership, insert_user};
use super::rows::*;
use super::SqlStore;
use crate::models::*;
use crate::Conflict;
use crate::Result;
use latchkey_core::{AuditEvent, Plan, Role};

pub(super) async fn create_org(
    db: &SqlStore,
    org: &Org,
    admin: &NewAdmin,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = db.write.begin().await?;
    sqlx::query("INSERT INTO orgs (uuid, name, plan, created_at) VALUES ($1, $2, $3, $4)")
        .bind(org.uuid.to_string())
        .bind(&org.name)
        .bind(org.plan.as_str())
        .bind(ts(org.created_at))
        .execute(&mut *tx)
        .await
        .map_err(unique(Conflict::OrgId))?;
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
    db.finish(tx, audit).await?;
    Ok(())
}

pub(super) async fn org(db: &SqlStore, uuid: OrgId) -> Result<Option<Org>> {
    let sql = format!("SELECT {ORG_COLS} FROM orgs o WHERE o.uuid = $1");
    let row = sqlx::query(&sql)
        .bind(uuid.to_string())
        .fetch_optional(&db.read)
        .await?;
    row.as_ref().map(org_from).transpose()
}

pub(super) async fn orgs_by_name(db: &SqlStore, name: &str) -> Result<Vec<Org>> {
    let sql =
        format!("SELECT {ORG_COLS} FROM orgs o WHERE o.name = $1 ORDER BY o.created_at, o.uuid");
    let rows = sqlx::query(&sql).bind(name).fetch_all(&db.read).await?;
    rows.iter().map(org_from).collect()
}

pub(super) async fn set_plan(
    db: &SqlStore,
    org: OrgId,
    plan: Plan,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = db.write.begin().await?;
    let done = sqlx::query("UPDATE orgs SET plan = $1 WHERE uuid = $2")
        .bind(plan.as_str())
        .bind(org.to_string())
        .execute(&mut *tx)
        .await?;
    expect_one(done.rows_affected())?;
    db.finish(tx, audit).await?;
    Ok(())
}
