//! Statements several aggregates share inside their transactions.

use super::rows::*;
use crate::models::*;
use crate::Conflict;
use crate::Result;
use latchkey_core::{CredentialKind, Role, TokenHash};
use sqlx::AnyConnection;

/// Serializes changes to one organization's memberships: on PostgreSQL the
/// no-op update takes the organization row's lock until commit; on SQLite the
/// single writer already serializes.
pub(super) async fn lock_org(conn: &mut AnyConnection, org: OrgId) -> Result<()> {
    let done = sqlx::query("UPDATE orgs SET plan = plan WHERE uuid = $1")
        .bind(org.to_string())
        .execute(conn)
        .await?;
    expect_one(done.rows_affected())
}

/// What a credential row is made from: a personal access token or API key
/// as given, or a service account, stored with kind `service_account`, no
/// owner, and its custom role and scope.
pub(super) enum NewCredentialRow<'a> {
    Token(&'a Credential),
    ServiceAccount(&'a ServiceAccount),
}

/// The one INSERT of a credential row, whatever its kind (a token's custom
/// role and account scope stay NULL).
pub(super) async fn insert_credential_row(
    conn: &mut AnyConnection,
    new: NewCredentialRow<'_>,
    token_hash: &TokenHash,
) -> Result<()> {
    let c = match new {
        NewCredentialRow::Token(c)
        | NewCredentialRow::ServiceAccount(ServiceAccount { credential: c, .. }) => c,
    };
    // A service account's role, custom role and legacy scopes come from its
    // reach alone (its credential holds none of them).
    let (kind, owner, role, custom_role, scopes, scope) = match new {
        NewCredentialRow::Token(c) => (c.kind, c.owner_uuid, c.role, None, c.scopes.clone(), None),
        NewCredentialRow::ServiceAccount(a) => {
            let (role, custom, scopes) = match &a.reach {
                AccountReach::Organization(RoleRef::System(r)) => (Some(*r), None, None),
                AccountReach::Organization(RoleRef::Custom(u)) => (None, Some(*u), None),
                AccountReach::Legacy(names) => (None, None, Some(names.clone())),
                AccountReach::Projects(_) => (None, None, None),
            };
            (
                CredentialKind::ServiceAccount,
                None,
                role,
                custom,
                scopes,
                Some(a.reach.scope()),
            )
        }
    };
    sqlx::query(
        "INSERT INTO credentials (uuid, kind, org_uuid, owner_uuid, name, token_hash, display_prefix, scopes, role, \
         custom_role_uuid, expires_at, created_at, created_by_type, created_by_uuid, created_by_name, account_scope) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(c.uuid.to_string())
    .bind(kind.as_str())
    .bind(c.org_uuid.to_string())
    .bind(owner.map(|u| u.to_string()))
    .bind(&c.name)
    .bind(token_hash.to_hex())
    .bind(&c.display_prefix)
    .bind(scopes_to_db(&scopes))
    .bind(role.map(Role::as_str))
    .bind(custom_role.map(|u| u.to_string()))
    .bind(opt_ts(c.expires_at))
    .bind(ts(c.created_at))
    .bind(c.created_by.kind.as_str())
    .bind(c.created_by.uuid.to_string())
    .bind(&c.created_by.name)
    .bind(scope.map(AccountScope::as_str))
    .execute(conn)
    .await
    .map_err(unique(Conflict::Secret))?;
    Ok(())
}
