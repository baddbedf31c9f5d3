//! Projects and the roles members hold on them.

use super::rows::*;
use super::SqlStore;
use crate::models::*;
use crate::Conflict;
use crate::Result;
use latchkey_core::limits::name_key;
use latchkey_core::{Actor, AuditEvent, Role};
use time::OffsetDateTime;

pub(super) async fn create_project(db: &SqlStore, p: &Project, audit: &AuditEvent) -> Result<()> {
    let mut tx = db.write.begin().await?;
    sqlx::query(&format!(
        "INSERT INTO projects ({PROJECT_COLS}, name_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    ))
    .bind(p.uuid.to_string())
    .bind(p.org_uuid.to_string())
    .bind(&p.name)
    .bind(ts(p.created_at))
    .bind(p.created_by.kind.as_str())
    .bind(p.created_by.uuid.to_string())
    .bind(&p.created_by.name)
    .bind(ts(p.updated_at))
    .bind(p.updated_by.kind.as_str())
    .bind(p.updated_by.uuid.to_string())
    .bind(&p.updated_by.name)
    .bind(name_key(&p.name))
    .execute(&mut *tx)
    .await
    .map_err(unique(Conflict::ProjectName))?;
    db.finish(tx, audit).await?;
    Ok(())
}

pub(super) async fn project(db: &SqlStore, org: OrgId, uuid: ProjectId) -> Result<Option<Project>> {
    let sql = format!("SELECT {PROJECT_COLS} FROM projects WHERE org_uuid = $1 AND uuid = $2");
    let row = sqlx::query(&sql)
        .bind(org.to_string())
        .bind(uuid.to_string())
        .fetch_optional(&db.read)
        .await?;
    row.as_ref().map(project_from).transpose()
}

pub(super) async fn projects(db: &SqlStore, org: OrgId) -> Result<Vec<Project>> {
    let sql =
        format!("SELECT {PROJECT_COLS} FROM projects WHERE org_uuid = $1 ORDER BY name, uuid");
    let rows = sqlx::query(&sql)
        .bind(org.to_string())
        .fetch_all(&db.read)
        .await?;
    rows.iter().map(project_from).collect()
}

pub(super) async fn rename_project(
    db: &SqlStore,
    org: OrgId,
    uuid: ProjectId,
    name: &str,
    by: &Actor,
    now: OffsetDateTime,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = db.write.begin().await?;
    let done = sqlx::query(
        "UPDATE projects SET name = $1, updated_at = $2, updated_by_type = $3, updated_by_uuid = $4, updated_by_name = $5, \
         name_key = $8 WHERE org_uuid = $6 AND uuid = $7",
    )
    .bind(name)
    .bind(ts(now))
    .bind(by.kind.as_str())
    .bind(by.uuid.to_string())
    .bind(&by.name)
    .bind(org.to_string())
    .bind(uuid.to_string())
    .bind(name_key(name))
    .execute(&mut *tx)
    .await
    .map_err(unique(Conflict::ProjectName))?;
    expect_one(done.rows_affected())?;
    db.finish(tx, audit).await?;
    Ok(())
}

pub(super) async fn delete_project(
    db: &SqlStore,
    org: OrgId,
    uuid: ProjectId,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = db.write.begin().await?;
    let done = sqlx::query("DELETE FROM projects WHERE org_uuid = $1 AND uuid = $2")
        .bind(org.to_string())
        .bind(uuid.to_string())
        .execute(&mut *tx)
        .await?;
    expect_one(done.rows_affected())?;
    db.finish(tx, audit).await?;
    Ok(())
}

pub(super) async fn project_access(db: &SqlStore, project: ProjectId) -> Result<Vec<ProjectGrant>> {
    let sql = format!(
        "SELECT {USER_COLS}, pr.role, pr.custom_role_uuid FROM project_roles pr JOIN users u ON u.uuid = pr.user_uuid \
         WHERE pr.project_uuid = $1 ORDER BY u.email"
    );
    let rows = sqlx::query(&sql)
        .bind(project.to_string())
        .fetch_all(&db.read)
        .await?;
    rows.iter()
        .map(|row| {
            Ok(ProjectGrant {
                user: user_from(row)?,
                role: RoleRef::from_columns(
                    role_at(row, "role")?,
                    opt_uuid_at(row, "custom_role_uuid")?,
                ),
            })
        })
        .collect()
}

pub(super) async fn set_project_role(
    db: &SqlStore,
    org: OrgId,
    project: ProjectId,
    user: UserId,
    role: Role,
    now: OffsetDateTime,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = db.write.begin().await?;
    sqlx::query(
        "INSERT INTO project_roles (project_uuid, org_uuid, user_uuid, role, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (project_uuid, user_uuid) DO UPDATE SET role = excluded.role, custom_role_uuid = NULL",
    )
    .bind(project.to_string())
    .bind(org.to_string())
    .bind(user.to_string())
    .bind(role.as_str())
    .bind(ts(now))
    .execute(&mut *tx)
    .await?;
    db.finish(tx, audit).await?;
    Ok(())
}

pub(super) async fn set_project_custom_role(
    db: &SqlStore,
    org: OrgId,
    project: ProjectId,
    user: UserId,
    custom_role: RoleId,
    now: OffsetDateTime,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = db.write.begin().await?;
    sqlx::query(
        "INSERT INTO project_roles (project_uuid, org_uuid, user_uuid, role, custom_role_uuid, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (project_uuid, user_uuid) DO UPDATE SET role = excluded.role, custom_role_uuid = excluded.custom_role_uuid",
    )
    .bind(project.to_string())
    .bind(org.to_string())
    .bind(user.to_string())
    .bind(Role::Member.as_str())
    .bind(custom_role.to_string())
    .bind(ts(now))
    .execute(&mut *tx)
    .await?;
    db.finish(tx, audit).await?;
    Ok(())
}

pub(super) async fn member_project_roles(
    db: &SqlStore,
    org: OrgId,
    user: UserId,
) -> Result<Vec<ProjectRoleRecord>> {
    let rows = sqlx::query(
        "SELECT pr.project_uuid, pr.role, pr.custom_role_uuid, r.name AS r_name, r.scopes AS r_scopes \
         FROM project_roles pr LEFT JOIN custom_roles r ON r.uuid = pr.custom_role_uuid \
         WHERE pr.org_uuid = $1 AND pr.user_uuid = $2",
    )
    .bind(org.to_string())
    .bind(user.to_string())
    .fetch_all(&db.read)
    .await?;
    rows.iter().map(project_role_record).collect()
}

pub(super) async fn remove_project_role(
    db: &SqlStore,
    project: ProjectId,
    user: UserId,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = db.write.begin().await?;
    let done = sqlx::query("DELETE FROM project_roles WHERE project_uuid = $1 AND user_uuid = $2")
        .bind(project.to_string())
        .bind(user.to_string())
        .execute(&mut *tx)
        .await?;
    expect_one(done.rows_affected())?;
    db.finish(tx, audit).await?;
    Ok(())
}
