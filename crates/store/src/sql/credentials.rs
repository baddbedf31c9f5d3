//! Personal access tokens and API keys, and what every kind of credential
//! shares: authenticating, revoking, rotating, recording use.

use super::rows::*;
use super::shared::{insert_credential_row, NewCredentialRow};
use super::{projects, roles, service_accounts, teams, SqlStore};
use crate::models::*;
use crate::Conflict;
use crate::{Result, StoreError};
use latchkey_core::{AuditEvent, CredentialKind, TokenHash};
use sqlx::Row;
use std::sync::LazyLock;
use time::OffsetDateTime;
use uuid::Uuid;

/// The request path's queries, built once rather than on every lookup.
static AUTHENTICATE_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {CRED_COLS}, {ORG_COLS}, {USER_COLS}, {MEMBER_COLS} FROM credentials c \
         JOIN orgs o ON o.uuid = c.org_uuid \
         LEFT JOIN users u ON u.uuid = c.owner_uuid \
         LEFT JOIN memberships m ON m.org_uuid = c.org_uuid AND m.user_uuid = c.owner_uuid \
              AND m.accepted_at IS NOT NULL \
         WHERE c.token_hash = $1"
    )
});
static RETIRED_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {CRED_COLS} FROM retired_token_hashes r JOIN credentials c ON c.uuid = r.credential_uuid \
         WHERE r.token_hash = $1"
    )
});

/// Decodes a `<unix seconds>.<uuid>` keyset cursor.
fn parse_time_cursor(cursor: &str) -> Option<(i64, String)> {
    let (t, u) = cursor.split_once('.')?;
    Some((t.parse().ok()?, Uuid::parse_str(u).ok()?.to_string()))
}

pub(super) async fn insert_credential(
    db: &SqlStore,
    c: &Credential,
    token_hash: &TokenHash,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = db.write.begin().await?;
    insert_credential_row(&mut tx, NewCredentialRow::Token(c), token_hash).await?;
    db.finish(tx, audit).await?;
    Ok(())
}

pub(super) async fn authenticate(db: &SqlStore, token_hash: &TokenHash) -> Result<TokenLookup> {
    let hex = token_hash.to_hex();
    if let Some(row) = sqlx::query(&AUTHENTICATE_SQL)
        .bind(&hex)
        .fetch_optional(&db.read)
        .await?
    {
        let stored: String = row.try_get("token_hash")?;
        let owner = match opt_uuid_at::<UserId>(&row, "user_uuid")? {
            Some(_) => Some(user_from(&row)?),
            None => None,
        };
        let credential = credential_from(&row)?;
        let account_scope = account_scope_at(&row)?;
        let membership = membership_from(&row)?;
        let custom_role_uuid = match credential.kind {
            CredentialKind::Pat => membership.as_ref().and_then(|m| m.role.custom()),
            _ => opt_uuid_at(&row, "c_custom_role_uuid")?,
        };
        let custom_role =
            roles::custom_role_grant(db, credential.org_uuid, custom_role_uuid).await?;
        let projects = if credential.kind == CredentialKind::ServiceAccount {
            service_accounts::project_access_records(db, credential.uuid).await?
        } else {
            Vec::new()
        };
        let (owner_projects, owner_teams) = match (&membership, credential.kind) {
            (Some(m), CredentialKind::Pat) => (
                projects::member_project_roles(db, m.org_uuid, m.user_uuid).await?,
                teams::member_team_roles(db, m.org_uuid, m.user_uuid).await?,
            ),
            _ => (Vec::new(), TeamRoles::default()),
        };
        return Ok(TokenLookup::Found(AuthRecord {
            credential,
            token_hash: TokenHash::from_hex(&stored).ok_or_else(|| corrupt("token_hash"))?,
            org: org_from(&row)?,
            owner,
            membership,
            custom_role,
            account_scope,
            projects,
            owner_projects,
            owner_teams,
        }));
    }
    match sqlx::query(&RETIRED_SQL)
        .bind(&hex)
        .fetch_optional(&db.read)
        .await?
    {
        Some(row) => Ok(TokenLookup::Retired {
            credential: credential_from(&row)?,
        }),
        None => Ok(TokenLookup::Unknown),
    }
}

pub(super) async fn credential(
    db: &SqlStore,
    org: OrgId,
    uuid: CredentialId,
) -> Result<Option<Credential>> {
    let sql = format!("SELECT {CRED_COLS} FROM credentials c WHERE c.org_uuid = $1 AND c.uuid = $2 AND c.revoked_at IS NULL");
    let row = sqlx::query(&sql)
        .bind(org.to_string())
        .bind(uuid.to_string())
        .fetch_optional(&db.read)
        .await?;
    row.as_ref().map(credential_from).transpose()
}

pub(super) async fn pats_of(db: &SqlStore, org: OrgId, owner: UserId) -> Result<Vec<Credential>> {
    let sql = format!(
        "SELECT {CRED_COLS} FROM credentials c WHERE c.org_uuid = $1 AND c.owner_uuid = $2 AND c.kind = 'pat' \
         AND c.revoked_at IS NULL ORDER BY c.created_at DESC, c.uuid DESC"
    );
    let rows = sqlx::query(&sql)
        .bind(org.to_string())
        .bind(owner.to_string())
        .fetch_all(&db.read)
        .await?;
    rows.iter().map(credential_from).collect()
}

pub(super) async fn org_credentials(
    db: &SqlStore,
    org: OrgId,
    kind: CredentialKind,
) -> Result<Vec<Credential>> {
    let sql = format!(
        "SELECT {CRED_COLS} FROM credentials c WHERE c.org_uuid = $1 AND c.kind = $2 \
         AND c.revoked_at IS NULL ORDER BY c.created_at DESC, c.uuid DESC"
    );
    let rows = sqlx::query(&sql)
        .bind(org.to_string())
        .bind(kind.as_str())
        .fetch_all(&db.read)
        .await?;
    rows.iter().map(credential_from).collect()
}

pub(super) async fn org_pats(
    db: &SqlStore,
    org: OrgId,
    page: &PageRequest,
) -> Result<Page<(Credential, User)>> {
    let (after_t, after_u) = match page.cursor.as_deref() {
        Some(c) => {
            let (t, u) = parse_time_cursor(c).ok_or_else(|| StoreError::InvalidCursor)?;
            (Some(t), Some(u))
        }
        None => (None, None),
    };
    let sql = format!(
        "SELECT {CRED_COLS}, {USER_COLS} FROM credentials c JOIN users u ON u.uuid = c.owner_uuid \
         WHERE c.org_uuid = $1 AND c.kind = 'pat' AND c.revoked_at IS NULL \
         AND ($2 IS NULL OR c.created_at < $2 OR (c.created_at = $2 AND c.uuid < $3)) \
         ORDER BY c.created_at DESC, c.uuid DESC LIMIT $4"
    );
    let rows = sqlx::query(&sql)
        .bind(org.to_string())
        .bind(after_t)
        .bind(after_u)
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&db.read)
        .await?;
    let mut items = rows
        .iter()
        .map(|row| Ok((credential_from(row)?, user_from(row)?)))
        .collect::<Result<Vec<_>>>()?;
    let next_cursor = if items.len() > page.limit as usize {
        items.truncate(page.limit as usize);
        items
            .last()
            .map(|(c, _)| format!("{}.{}", ts(c.created_at), c.uuid))
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

pub(super) async fn update_credential(
    db: &SqlStore,
    uuid: CredentialId,
    change: &CredentialChange,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = db.write.begin().await?;
    let done = sqlx::query(
        "UPDATE credentials SET name = COALESCE($1, name), scopes = CASE WHEN $2 = 1 THEN $3 ELSE scopes END, \
         expires_at = COALESCE($4, expires_at) WHERE uuid = $5 AND revoked_at IS NULL",
    )
    .bind(change.name.clone())
    .bind(i64::from(change.scopes.is_some()))
    .bind(change.scopes.clone().flatten().map(|s| s.join(" ")))
    .bind(opt_ts(change.expires_at))
    .bind(uuid.to_string())
    .execute(&mut *tx)
    .await?;
    expect_one(done.rows_affected())?;
    db.finish(tx, audit).await?;
    Ok(())
}

pub(super) async fn revoke_credential(
    db: &SqlStore,
    uuid: CredentialId,
    now: OffsetDateTime,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = db.write.begin().await?;
    let done = sqlx::query(
        "UPDATE credentials SET revoked_at = $1 WHERE uuid = $2 AND revoked_at IS NULL",
    )
    .bind(ts(now))
    .bind(uuid.to_string())
    .execute(&mut *tx)
    .await?;
    expect_one(done.rows_affected())?;
    db.finish(tx, audit).await?;
    Ok(())
}

pub(super) async fn rotate_credential(
    db: &SqlStore,
    uuid: CredentialId,
    r: &Rotation,
    audit: &AuditEvent,
) -> Result<bool> {
    let mut tx = db.write.begin().await?;
    let old =
        sqlx::query("SELECT token_hash FROM credentials WHERE uuid = $1 AND revoked_at IS NULL")
            .bind(uuid.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
    let old_hash: String = old.try_get("token_hash")?;
    // Conditional on the previous rotation, so that of two racing
    // rotations (on any replica) exactly one changes the row.
    let done = sqlx::query(
        "UPDATE credentials SET token_hash = $1, display_prefix = $2, expires_at = $3, rotated_at = $4 \
         WHERE uuid = $5 AND token_hash = $6 AND revoked_at IS NULL AND (rotated_at IS NULL OR rotated_at <= $7)",
    )
    .bind(r.token_hash.to_hex())
    .bind(&r.display_prefix)
    .bind(ts(r.expires_at))
    .bind(ts(r.now))
    .bind(uuid.to_string())
    .bind(&old_hash)
    .bind(ts(r.last_rotated_before))
    .execute(&mut *tx)
    .await
    .map_err(unique(Conflict::Secret))?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query("INSERT INTO retired_token_hashes (token_hash, credential_uuid, retired_at) VALUES ($1, $2, $3)")
        .bind(&old_hash)
        .bind(uuid.to_string())
        .bind(ts(r.now))
        .execute(&mut *tx)
        .await?;
    db.finish(tx, audit).await?;
    Ok(true)
}

pub(super) async fn record_last_used(
    db: &SqlStore,
    uses: &[(CredentialId, OffsetDateTime)],
) -> Result<()> {
    if uses.is_empty() {
        return Ok(());
    }
    let mut tx = db.write.begin().await?;
    for (uuid, at) in uses {
        sqlx::query("UPDATE credentials SET last_used_at = $1 WHERE uuid = $2 AND (last_used_at IS NULL OR last_used_at < $1)")
            .bind(ts(*at))
            .bind(uuid.to_string())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}
