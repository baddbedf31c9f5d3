//! Service accounts: credentials with a role of their own, organization-wide
//! or on listed projects.

use super::rows::*;
use super::shared::{insert_credential_row, NewCredentialRow};
use super::SqlStore;
use crate::models::*;
use crate::Conflict;
use crate::Result;
use latchkey_core::{AuditEvent, TokenHash};
use sqlx::any::AnyRow;
use std::collections::HashMap;

pub(super) async fn insert_service_account(
    db: &SqlStore,
    a: &ServiceAccount,
    token_hash: &TokenHash,
    audit: &AuditEvent,
) -> Result<()> {
    let c = &a.credential;
    let mut tx = db.write.begin().await?;
    insert_credential_row(&mut tx, NewCredentialRow::ServiceAccount(a), token_hash).await?;
    let rows: &[ServiceAccountGrant] = match &a.reach {
        AccountReach::Projects(rows) => rows,
        _ => &[],
    };
    for g in rows {
        let (role, custom) = match &g.role {
            RoleRef::System(r) => (Some(r.as_str()), None),
            RoleRef::Custom(u) => (None, Some(u.to_string())),
        };
        sqlx::query(
            "INSERT INTO service_account_projects (credential_uuid, project_uuid, org_uuid, role, custom_role_uuid, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(c.uuid.to_string())
        .bind(g.project_uuid.to_string())
        .bind(c.org_uuid.to_string())
        .bind(role)
        .bind(custom)
        .bind(ts(c.created_at))
        .execute(&mut *tx)
        .await
        .map_err(unique(Conflict::ProjectListedTwice))?;
    }
    db.finish(tx, audit).await?;
    Ok(())
}

pub(super) async fn service_account(
    db: &SqlStore,
    org: OrgId,
    uuid: CredentialId,
) -> Result<Option<ServiceAccount>> {
    let sql = format!(
        "SELECT {CRED_COLS} FROM credentials c WHERE c.org_uuid = $1 AND c.uuid = $2 \
         AND c.kind = 'service_account' AND c.revoked_at IS NULL"
    );
    let row = sqlx::query(&sql)
        .bind(org.to_string())
        .bind(uuid.to_string())
        .fetch_optional(&db.read)
        .await?;
    match row {
        Some(row) => Ok(Some(service_account_from(db, &row).await?)),
        None => Ok(None),
    }
}

pub(super) async fn service_accounts(db: &SqlStore, org: OrgId) -> Result<Vec<ServiceAccount>> {
    let sql = format!(
        "SELECT {CRED_COLS} FROM credentials c WHERE c.org_uuid = $1 AND c.kind = 'service_account' \
         AND c.revoked_at IS NULL ORDER BY c.created_at DESC, c.uuid DESC"
    );
    let rows = sqlx::query(&sql)
        .bind(org.to_string())
        .fetch_all(&db.read)
        .await?;
    // The project rows of every listed account in one query rather than one
    // per account: the accounts are picked as above, the rows ordered as
    // `grants_of` orders them.
    let grant_rows = sqlx::query(
        "SELECT s.credential_uuid, s.project_uuid, s.role, s.custom_role_uuid FROM service_account_projects s \
         JOIN credentials c ON c.uuid = s.credential_uuid \
         JOIN projects p ON p.uuid = s.project_uuid \
         WHERE c.org_uuid = $1 AND c.kind = 'service_account' AND c.revoked_at IS NULL \
         ORDER BY p.name, s.project_uuid",
    )
    .bind(org.to_string())
    .fetch_all(&db.read)
    .await?;
    let mut grants: HashMap<CredentialId, Vec<ServiceAccountGrant>> = HashMap::new();
    for row in &grant_rows {
        grants
            .entry(uuid_at(row, "credential_uuid")?)
            .or_default()
            .push(grant_from(row)?);
    }
    rows.iter()
        .map(|row| {
            let credential = credential_from(row)?;
            let grants = grants.remove(&credential.uuid).unwrap_or_default();
            service_account_with(row, credential, grants)
        })
        .collect()
}

pub(super) async fn update_service_account(
    db: &SqlStore,
    uuid: CredentialId,
    change: &ServiceAccountChange,
    audit: &AuditEvent,
) -> Result<()> {
    let (set_role, role_text, custom) = match &change.role {
        None => (0i64, None, None),
        Some(RoleRef::System(r)) => (1, Some(r.as_str()), None),
        Some(RoleRef::Custom(u)) => (1, None, Some(u.to_string())),
    };
    let mut tx = db.write.begin().await?;
    // A project-scoped account's role never changes, whatever the caller checked.
    let done = sqlx::query(
        "UPDATE credentials SET name = COALESCE($1, name), \
         role = CASE WHEN $2 = 1 THEN $3 ELSE role END, \
         custom_role_uuid = CASE WHEN $2 = 1 THEN $4 ELSE custom_role_uuid END, \
         scopes = CASE WHEN $2 = 1 THEN NULL ELSE scopes END, \
         expires_at = COALESCE($6, expires_at) \
         WHERE uuid = $5 AND kind = 'service_account' AND revoked_at IS NULL \
         AND ($2 = 0 OR account_scope = 'organization')",
    )
    .bind(change.name.clone())
    .bind(set_role)
    .bind(role_text)
    .bind(custom)
    .bind(uuid.to_string())
    .bind(opt_ts(change.expires_at))
    .execute(&mut *tx)
    .await?;
    expect_one(done.rows_affected())?;
    db.finish(tx, audit).await?;
    Ok(())
}

async fn grants_of(db: &SqlStore, credential: CredentialId) -> Result<Vec<ServiceAccountGrant>> {
    let rows = sqlx::query(
        "SELECT s.project_uuid, s.role, s.custom_role_uuid FROM service_account_projects s \
         JOIN projects p ON p.uuid = s.project_uuid \
         WHERE s.credential_uuid = $1 ORDER BY p.name, s.project_uuid",
    )
    .bind(credential.to_string())
    .fetch_all(&db.read)
    .await?;
    rows.iter().map(grant_from).collect()
}

/// `project_uuid`, `role`, `custom_role_uuid` of a service account's project row.
fn grant_from(row: &AnyRow) -> Result<ServiceAccountGrant> {
    let role = match opt_uuid_at(row, "custom_role_uuid")? {
        Some(u) => RoleRef::Custom(u),
        None => RoleRef::System(role_at(row, "role")?),
    };
    Ok(ServiceAccountGrant {
        project_uuid: uuid_at(row, "project_uuid")?,
        role,
    })
}

/// A project-scoped service account's rows, with their custom roles' scopes.
pub(super) async fn project_access_records(
    db: &SqlStore,
    credential: CredentialId,
) -> Result<Vec<ProjectRoleRecord>> {
    let rows = sqlx::query(
        "SELECT s.project_uuid, s.role, s.custom_role_uuid, r.name AS r_name, r.scopes AS r_scopes \
         FROM service_account_projects s LEFT JOIN custom_roles r ON r.uuid = s.custom_role_uuid \
         WHERE s.credential_uuid = $1",
    )
    .bind(credential.to_string())
    .fetch_all(&db.read)
    .await?;
    rows.iter().map(project_role_record).collect()
}

async fn service_account_from(db: &SqlStore, row: &AnyRow) -> Result<ServiceAccount> {
    let credential = credential_from(row)?;
    let grants = grants_of(db, credential.uuid).await?;
    service_account_with(row, credential, grants)
}

fn service_account_with(
    row: &AnyRow,
    mut credential: Credential,
    grants: Vec<ServiceAccountGrant>,
) -> Result<ServiceAccount> {
    let scope = account_scope_at(row)?.ok_or_else(|| corrupt("account_scope"))?;
    let role = credential.role.take();
    let legacy = credential.scopes.take();
    let reach = match (scope, opt_uuid_at(row, "c_custom_role_uuid")?, role, legacy) {
        (AccountScope::Project, ..) => AccountReach::Projects(grants),
        (AccountScope::Organization, Some(custom), ..) => {
            AccountReach::Organization(RoleRef::Custom(custom))
        }
        (AccountScope::Organization, None, Some(role), _) => {
            AccountReach::Organization(RoleRef::System(role))
        }
        (AccountScope::Organization, None, None, names) => {
            AccountReach::Legacy(names.unwrap_or_default())
        }
    };
    Ok(ServiceAccount { credential, reach })
}
