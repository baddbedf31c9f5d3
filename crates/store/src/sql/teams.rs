//! Teams: their members and the roles they hold, organization-wide and on
//! projects.

use super::rows::*;
use super::shared::lock_org;
use super::SqlStore;
use crate::models::*;
use crate::Conflict;
use crate::{Result, StoreError};
use latchkey_core::limits::name_key;
use latchkey_core::AuditEvent;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::HashMap;
use time::OffsetDateTime;

const TEAM_COLS: &str = "uuid, org_uuid, name, role, custom_role_uuid, created_at, updated_at";

/// A team's organization role as stored in two nullable columns.
fn team_role_columns(role: Option<RoleRef>) -> (Option<&'static str>, Option<String>) {
    match role {
        None => (None, None),
        Some(RoleRef::System(r)) => (Some(r.as_str()), None),
        Some(RoleRef::Custom(u)) => (None, Some(u.to_string())),
    }
}

fn team_from(row: &AnyRow) -> Result<Team> {
    let role = match (
        opt_uuid_at(row, "custom_role_uuid")?,
        opt_role_at(row, "role")?,
    ) {
        (Some(custom), _) => Some(RoleRef::Custom(custom)),
        (None, Some(role)) => Some(RoleRef::System(role)),
        (None, None) => None,
    };
    Ok(Team {
        uuid: uuid_at(row, "uuid")?,
        org_uuid: uuid_at(row, "org_uuid")?,
        name: row.try_get("name")?,
        role,
        members: Vec::new(),
        project_roles: Vec::new(),
        created_at: time_at(row, "created_at")?,
        updated_at: time_at(row, "updated_at")?,
    })
}

fn team_project_role_from(row: &AnyRow) -> Result<(TeamId, TeamProjectRole)> {
    Ok((
        uuid_at(row, "team_uuid")?,
        TeamProjectRole {
            project_uuid: uuid_at(row, "project_uuid")?,
            role: RoleRef::from_columns(
                role_at(row, "role")?,
                opt_uuid_at(row, "custom_role_uuid")?,
            ),
        },
    ))
}

pub(super) async fn create_team(db: &SqlStore, t: &NewTeam, audit: &AuditEvent) -> Result<()> {
    let mut tx = db.write.begin().await?;
    let (role, custom) = team_role_columns(t.role);
    sqlx::query(&format!(
        "INSERT INTO teams ({TEAM_COLS}, name_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    ))
    .bind(t.uuid.to_string())
    .bind(t.org_uuid.to_string())
    .bind(&t.name)
    .bind(role)
    .bind(custom)
    .bind(ts(t.now))
    .bind(ts(t.now))
    .bind(name_key(&t.name))
    .execute(&mut *tx)
    .await
    .map_err(unique(Conflict::TeamName))?;
    db.finish(tx, audit).await?;
    Ok(())
}

/// Teams of the organization, by name, each with its members and project
/// roles: three queries, whatever the number of teams.
async fn teams_where(db: &SqlStore, org: OrgId, team: Option<TeamId>) -> Result<Vec<Team>> {
    // `$2` is one team's uuid, or empty for every team.
    let only = team.map(|t| t.to_string()).unwrap_or_default();
    let rows = sqlx::query(&format!(
        "SELECT {TEAM_COLS} FROM teams WHERE org_uuid = $1 AND ($2 = '' OR uuid = $2) ORDER BY name, uuid"
    ))
    .bind(org.to_string())
    .bind(&only)
    .fetch_all(&db.read)
    .await?;
    let mut teams = rows.iter().map(team_from).collect::<Result<Vec<_>>>()?;
    if teams.is_empty() {
        return Ok(teams);
    }
    let at: HashMap<TeamId, usize> = teams.iter().enumerate().map(|(i, t)| (t.uuid, i)).collect();
    let members = sqlx::query(
        "SELECT team_uuid, user_uuid FROM team_members WHERE org_uuid = $1 AND ($2 = '' OR team_uuid = $2) \
         ORDER BY created_at, user_uuid",
    )
    .bind(org.to_string())
    .bind(&only)
    .fetch_all(&db.read)
    .await?;
    for row in &members {
        if let Some(&i) = at.get(&uuid_at::<TeamId>(row, "team_uuid")?) {
            teams[i].members.push(uuid_at(row, "user_uuid")?);
        }
    }
    let roles = sqlx::query(
        "SELECT team_uuid, project_uuid, role, custom_role_uuid FROM team_project_roles \
         WHERE org_uuid = $1 AND ($2 = '' OR team_uuid = $2) ORDER BY created_at, project_uuid",
    )
    .bind(org.to_string())
    .bind(&only)
    .fetch_all(&db.read)
    .await?;
    for row in &roles {
        let (team, role) = team_project_role_from(row)?;
        if let Some(&i) = at.get(&team) {
            teams[i].project_roles.push(role);
        }
    }
    Ok(teams)
}

pub(super) async fn team(db: &SqlStore, org: OrgId, uuid: TeamId) -> Result<Option<Team>> {
    Ok(teams_where(db, org, Some(uuid)).await?.pop())
}

pub(super) async fn teams(db: &SqlStore, org: OrgId) -> Result<Vec<Team>> {
    teams_where(db, org, None).await
}

pub(super) async fn update_team(
    db: &SqlStore,
    org: OrgId,
    uuid: TeamId,
    change: &TeamChange,
    now: OffsetDateTime,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = db.write.begin().await?;
    let (role, custom) = team_role_columns(change.role.flatten());
    let done = sqlx::query(
        "UPDATE teams SET name = COALESCE($1, name), name_key = COALESCE($2, name_key), \
         role = CASE WHEN $3 = 1 THEN $4 ELSE role END, \
         custom_role_uuid = CASE WHEN $3 = 1 THEN $5 ELSE custom_role_uuid END, \
         updated_at = $6 WHERE org_uuid = $7 AND uuid = $8",
    )
    .bind(change.name.clone())
    .bind(change.name.as_deref().map(name_key))
    .bind(i64::from(change.role.is_some()))
    .bind(role)
    .bind(custom)
    .bind(ts(now))
    .bind(org.to_string())
    .bind(uuid.to_string())
    .execute(&mut *tx)
    .await
    .map_err(unique(Conflict::TeamName))?;
    expect_one(done.rows_affected())?;
    db.finish(tx, audit).await?;
    Ok(())
}

pub(super) async fn delete_team(
    db: &SqlStore,
    org: OrgId,
    uuid: TeamId,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = db.write.begin().await?;
    let done = sqlx::query("DELETE FROM teams WHERE org_uuid = $1 AND uuid = $2")
        .bind(org.to_string())
        .bind(uuid.to_string())
        .execute(&mut *tx)
        .await?;
    expect_one(done.rows_affected())?;
    db.finish(tx, audit).await?;
    Ok(())
}

/// `NotFound` unless the team is the organization's.
async fn team_exists(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    org: OrgId,
    team: TeamId,
) -> Result<()> {
    let row = sqlx::query("SELECT 1 AS one FROM teams WHERE org_uuid = $1 AND uuid = $2")
        .bind(org.to_string())
        .bind(team.to_string())
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|_| ()).ok_or(StoreError::NotFound)
}

pub(super) async fn add_team_member(
    db: &SqlStore,
    org: OrgId,
    team: TeamId,
    user: UserId,
    now: OffsetDateTime,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = db.write.begin().await?;
    // Serialized with the member's removal.
    lock_org(&mut tx, org).await?;
    team_exists(&mut tx, org, team).await?;
    let accepted = sqlx::query(
        "SELECT 1 AS one FROM memberships WHERE org_uuid = $1 AND user_uuid = $2 AND accepted_at IS NOT NULL",
    )
    .bind(org.to_string())
    .bind(user.to_string())
    .fetch_optional(&mut *tx)
    .await?;
    if accepted.is_none() {
        return Err(StoreError::NotFound);
    }
    sqlx::query(
        "INSERT INTO team_members (team_uuid, org_uuid, user_uuid, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (team_uuid, user_uuid) DO NOTHING",
    )
    .bind(team.to_string())
    .bind(org.to_string())
    .bind(user.to_string())
    .bind(ts(now))
    .execute(&mut *tx)
    .await?;
    db.finish(tx, audit).await?;
    Ok(())
}

pub(super) async fn remove_team_member(
    db: &SqlStore,
    org: OrgId,
    team: TeamId,
    user: UserId,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = db.write.begin().await?;
    let done = sqlx::query(
        "DELETE FROM team_members WHERE org_uuid = $1 AND team_uuid = $2 AND user_uuid = $3",
    )
    .bind(org.to_string())
    .bind(team.to_string())
    .bind(user.to_string())
    .execute(&mut *tx)
    .await?;
    expect_one(done.rows_affected())?;
    db.finish(tx, audit).await?;
    Ok(())
}

pub(super) async fn set_team_project_role(
    db: &SqlStore,
    org: OrgId,
    team: TeamId,
    project: ProjectId,
    role: RoleRef,
    now: OffsetDateTime,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = db.write.begin().await?;
    team_exists(&mut tx, org, team).await?;
    let found = sqlx::query("SELECT 1 AS one FROM projects WHERE org_uuid = $1 AND uuid = $2")
        .bind(org.to_string())
        .bind(project.to_string())
        .fetch_optional(&mut *tx)
        .await?;
    if found.is_none() {
        return Err(StoreError::NotFound);
    }
    sqlx::query(
        "INSERT INTO team_project_roles (team_uuid, project_uuid, org_uuid, role, custom_role_uuid, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (team_uuid, project_uuid) \
         DO UPDATE SET role = excluded.role, custom_role_uuid = excluded.custom_role_uuid",
    )
    .bind(team.to_string())
    .bind(project.to_string())
    .bind(org.to_string())
    .bind(role.base_role().as_str())
    .bind(role.custom().map(|u| u.to_string()))
    .bind(ts(now))
    .execute(&mut *tx)
    .await?;
    db.finish(tx, audit).await?;
    Ok(())
}

pub(super) async fn remove_team_project_role(
    db: &SqlStore,
    org: OrgId,
    team: TeamId,
    project: ProjectId,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = db.write.begin().await?;
    let done = sqlx::query(
        "DELETE FROM team_project_roles WHERE org_uuid = $1 AND team_uuid = $2 AND project_uuid = $3",
    )
    .bind(org.to_string())
    .bind(team.to_string())
    .bind(project.to_string())
    .execute(&mut *tx)
    .await?;
    expect_one(done.rows_affected())?;
    db.finish(tx, audit).await?;
    Ok(())
}

/// What the member's teams give, for the request path: one query. A row
/// with no project is a team's organization role (teams without one are
/// left out); the others are team project roles.
pub(super) async fn member_team_roles(
    db: &SqlStore,
    org: OrgId,
    user: UserId,
) -> Result<TeamRoles> {
    let rows = sqlx::query(
        "SELECT NULL AS project_uuid, t.role, t.custom_role_uuid, r.name AS r_name, r.scopes AS r_scopes \
         FROM team_members tm JOIN teams t ON t.uuid = tm.team_uuid \
         LEFT JOIN custom_roles r ON r.uuid = t.custom_role_uuid \
         WHERE tm.org_uuid = $1 AND tm.user_uuid = $2 AND (t.role IS NOT NULL OR t.custom_role_uuid IS NOT NULL) \
         UNION ALL \
         SELECT tp.project_uuid, tp.role, tp.custom_role_uuid, r.name AS r_name, r.scopes AS r_scopes \
         FROM team_members tm JOIN team_project_roles tp ON tp.team_uuid = tm.team_uuid \
         LEFT JOIN custom_roles r ON r.uuid = tp.custom_role_uuid \
         WHERE tm.org_uuid = $1 AND tm.user_uuid = $2",
    )
    .bind(org.to_string())
    .bind(user.to_string())
    .fetch_all(&db.read)
    .await?;
    let mut roles = TeamRoles::default();
    for row in &rows {
        let project: Option<String> = row.try_get("project_uuid")?;
        if project.is_some() {
            roles.projects.push(project_role_record(row)?);
        } else {
            roles.org.push(held_role_columns(row)?);
        }
    }
    Ok(roles)
}
