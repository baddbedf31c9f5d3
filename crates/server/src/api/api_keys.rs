//! Organization API keys: credentials of the organization itself, with a
//! system role fixed at creation. They act as themselves (audit log,
//! `createdBy`), not as the admin who made them, and outlive that admin's
//! membership (PRODUCT.md §2).

use super::pats::{check_lifetime, rotate_credential};
use super::{created, mint, ok, JsonOk};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, PathUuid};
use crate::state::{now, AppState};
use crate::wire::{ApiKeyView, CreateApiKeyRequest, RotateRequest, UpdateApiKeyRequest};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use latchkey_core::access::check_grant;
use latchkey_core::policy;
use latchkey_core::Reach;
use latchkey_core::{AuditAction, CredentialId, TargetKind};
use latchkey_core::{CredentialKind, Role, Scope, Target, TokenKind};
use latchkey_store::{Credential, CredentialChange};
use serde_json::json;

impl ApiKeyView {
    fn of(c: &Credential) -> ApiKeyView {
        ApiKeyView {
            uuid: c.uuid.into(),
            name: c.name.clone(),
            display_prefix: c.display_prefix.clone(),
            expires_at: c.expires_at,
            created_at: c.created_at,
            rotated_at: c.rotated_at,
            last_used_at: c.last_used_at,
            // Every key is written with a role; a row without one holds nothing.
            role: c.role.unwrap_or(Role::Member),
            created_by: c.created_by.clone(),
            token: None,
        }
    }
}

fn target(c: &Credential) -> Target {
    Target {
        kind: TargetKind::ApiKey,
        uuid: c.uuid.into(),
        name: c.name.clone(),
    }
}

/// The role a key carries must not hold a scope its creator (or rotator)
/// lacks right now: no credential mints one more powerful than itself.
fn check_role(state: &AppState, caller: &Caller, role: Role) -> ApiResult<()> {
    let scopes = latchkey_core::Grant::System(role).scopes(&state.catalog, Reach::Organization);
    check_grant(scopes, caller.access.org_scopes()).map_err(|_| ApiError::RoleTooHigh)
}

/// One live API key of the caller's organization.
async fn api_key(state: &AppState, caller: &Caller, uuid: CredentialId) -> ApiResult<Credential> {
    state
        .store
        .credential(caller.org.uuid, uuid)
        .await?
        .filter(|c| c.kind == CredentialKind::ApiKey)
        .ok_or(ApiError::NotFound)
}

/// The organization's API keys, newest first; never their secrets.
#[utoipa::path(get, path = "/api/v1/org/api-keys", tag = "api keys",
    responses((status = 200, body = Vec<ApiKeyView>), (status = 403, description = "missing_scope api_keys:write")))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<JsonOk<Vec<ApiKeyView>>> {
    caller.require(Scope::API_KEYS_WRITE, &state.catalog)?;
    let keys = state
        .store
        .org_credentials(caller.org.uuid, CredentialKind::ApiKey)
        .await?;
    Ok(ok(keys.iter().map(ApiKeyView::of).collect()))
}

/// Create an API key; the response holds the secret, once.
///
/// The key's role must hold no scope the creator lacks at this moment,
/// organization-wide (a narrowed token counts only its own scopes):
/// otherwise `403 role_too_high`. Role `member` is refused with `400`
/// naming `role`: a `member` holds no scope anywhere and a key has no
/// project roles, so such a key could do nothing.
#[utoipa::path(post, path = "/api/v1/org/api-keys", tag = "api keys", request_body = CreateApiKeyRequest,
    responses((status = 201, body = ApiKeyView),
        (status = 400, description = "invalid_request naming name, role or expiresAt"), (status = 401, description = "missing_credentials, malformed_token, invalid_token, token_expired, token_revoked, account_suspended or feature_disabled"),
        (status = 403, description = "missing_scope api_keys:write, role_too_high, or lifetime_too_long (details.maxExpiresAt)")))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateApiKeyRequest>,
) -> ApiResult<Response> {
    caller.require(Scope::API_KEYS_WRITE, &state.catalog)?;
    let name = super::name(&req.name)?;
    if req.role == Role::Member {
        return Err(ApiError::invalid(
            "role",
            "an API key's role is viewer or above: a member key could do nothing",
        ));
    }
    check_role(&state, &caller, req.role)?;
    let at = now();
    policy::check_new_expiry(req.expires_at, at)?;
    check_lifetime(&caller, req.expires_at)?;
    let (mut credential, secret) = mint(&caller, TokenKind::ApiKey, name, req.expires_at, at);
    credential.role = Some(req.role);
    let details = json!({ "role": req.role, "expiresAt": credential.expires_at.map(|t| t.unix_timestamp()), "displayPrefix": credential.display_prefix });
    let event = caller.audit(
        AuditAction::ApiKeyCreated,
        Some(target(&credential)),
        details,
        at,
    );
    state
        .store
        .insert_credential(&credential, &state.hasher.hash(secret.expose()), &event)
        .await?;
    let mut view = ApiKeyView::of(&credential);
    view.token = Some(secret);
    Ok(created(view).into_response())
}

/// Rename an API key, or bring its expiry forward (or give it a first one).
/// The role of a key never changes: create another.
#[utoipa::path(patch, path = "/api/v1/org/api-keys/{uuid}", tag = "api keys", request_body = UpdateApiKeyRequest,
    params(("uuid" = Uuid, Path)),
    responses((status = 200, body = ApiKeyView),
        (status = 400, description = "invalid_request naming name or expiresAt, or expiry_extension_not_allowed"), (status = 401, description = "missing_credentials, malformed_token, invalid_token, token_expired, token_revoked, account_suspended or feature_disabled"),
        (status = 403, description = "missing_scope api_keys:write, role_too_high, or lifetime_too_long"), (status = 404)))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    PathUuid(uuid): PathUuid<CredentialId>,
    ApiJson(req): ApiJson<UpdateApiKeyRequest>,
) -> ApiResult<JsonOk<ApiKeyView>> {
    caller.require(Scope::API_KEYS_WRITE, &state.catalog)?;
    let key = api_key(&state, &caller, uuid).await?;
    check_role(&state, &caller, key.role.unwrap_or(Role::Member))?;
    let name = super::optional_name(req.name.as_deref())?;
    let at = now();
    if let Some(expires_at) = req.expires_at {
        policy::check_expiry_change(key.expires_at, expires_at, at)?;
        check_lifetime(&caller, Some(expires_at))?;
    }
    if name.is_none() && req.expires_at.is_none() {
        return Ok(ok(ApiKeyView::of(&key)));
    }
    let change = CredentialChange {
        name: name.map(String::from),
        scopes: None,
        expires_at: req.expires_at,
    };
    let details =
        json!({ "name": change.name, "expiresAt": change.expires_at.map(|t| t.unix_timestamp()) });
    let event = caller.audit(AuditAction::ApiKeyUpdated, Some(target(&key)), details, at);
    state.store.update_credential(uuid, &change, &event).await?;
    Ok(ok(ApiKeyView::of(&api_key(&state, &caller, uuid).await?)))
}

/// Revoke an API key; its token stops working at once. Any holder of
/// `api_keys:write` may revoke any key of the organization (revoking hands
/// out nothing), a key itself included.
#[utoipa::path(delete, path = "/api/v1/org/api-keys/{uuid}", tag = "api keys",
    params(("uuid" = Uuid, Path)), responses((status = 204), (status = 403), (status = 404)))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    PathUuid(uuid): PathUuid<CredentialId>,
) -> ApiResult<StatusCode> {
    caller.require(Scope::API_KEYS_WRITE, &state.catalog)?;
    let key = api_key(&state, &caller, uuid).await?;
    let at = now();
    let details = json!({ "role": key.role, "displayPrefix": key.display_prefix });
    let event = caller.audit(AuditAction::ApiKeyRevoked, Some(target(&key)), details, at);
    state.store.revoke_credential(uuid, at, &event).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// New secret, same key (name, role); the old secret stops working at once.
///
/// As PAT rotation: a new expiry in the future is required, a key without an
/// expiry cannot be rotated (`400 rotation_requires_expiry`), and a second
/// rotation within an hour is `429` with `Retry-After`. Rotation hands out
/// the secret, so the caller's scopes must cover the key's role
/// (`403 role_too_high`). A key may rotate itself if it holds
/// `api_keys:write`.
#[utoipa::path(patch, path = "/api/v1/org/api-keys/{uuid}/rotate", tag = "api keys", request_body = RotateRequest,
    params(("uuid" = Uuid, Path)),
    responses((status = 200, body = ApiKeyView), (status = 400, description = "rotation_requires_expiry, credential_expired, or expiresAt not in the future"), (status = 401, description = "missing_credentials, malformed_token, invalid_token, token_expired, token_revoked, account_suspended or feature_disabled"),
        (status = 403, description = "missing_scope api_keys:write, role_too_high, or lifetime_too_long"), (status = 404), (status = 429)))]
pub async fn rotate(
    State(state): State<AppState>,
    caller: Caller,
    PathUuid(uuid): PathUuid<CredentialId>,
    ApiJson(req): ApiJson<RotateRequest>,
) -> ApiResult<JsonOk<ApiKeyView>> {
    caller.require(Scope::API_KEYS_WRITE, &state.catalog)?;
    let key = api_key(&state, &caller, uuid).await?;
    check_role(&state, &caller, key.role.unwrap_or(Role::Member))?;
    let secret = rotate_credential(
        &state,
        &caller,
        &key,
        req.expires_at,
        AuditAction::ApiKeyRotated,
        target(&key),
    )
    .await?;
    let mut view = ApiKeyView::of(&api_key(&state, &caller, uuid).await?);
    view.token = Some(secret);
    Ok(ok(view))
}
