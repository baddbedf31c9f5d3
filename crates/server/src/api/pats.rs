//! Personal access tokens: a user's own, and the admin view of everyone's.

use super::{created, mint, ok, JsonOk};
use crate::auth::{Caller, Principal};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, PathUuid};
use crate::state::{now, AppState};
use crate::wire::{CreatePatRequest, PageQuery, Paged, PatView, RotateRequest, UpdatePatRequest};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use latchkey_core::access::check_grant;
use latchkey_core::policy;
use latchkey_core::{
    limits, Access, Actor, ActorKind, CredentialId, CredentialKind, Role, Scope, ScopeSet, Target,
    TokenKind, TokenSecret,
};
use latchkey_core::{AuditAction, TargetKind};
use latchkey_store::{Credential, CredentialChange, Rotation};
use serde_json::json;
use time::OffsetDateTime;

impl PatView {
    fn of(c: &Credential) -> PatView {
        PatView {
            uuid: c.uuid.into(),
            name: c.name.clone(),
            display_prefix: c.display_prefix.clone(),
            expires_at: c.expires_at,
            created_at: c.created_at,
            rotated_at: c.rotated_at,
            last_used_at: c.last_used_at,
            scopes: c.scopes.clone(),
            owner: None,
            token: None,
        }
    }
}

fn target(c: &Credential) -> Target {
    Target {
        kind: TargetKind::Pat,
        uuid: c.uuid.into(),
        name: c.name.clone(),
    }
}

/// The expiry of a credential the caller makes or rotates: never later than
/// the caller's own token (a web session has no cap).
pub fn check_lifetime(caller: &Caller, expires_at: Option<OffsetDateTime>) -> ApiResult<()> {
    policy::check_lifetime(caller.credential_expires_at, expires_at).map_err(ApiError::from)
}

/// Scope names to a set; unknown names are a `400` naming them.
fn parse_scopes(state: &AppState, names: &[String]) -> ApiResult<ScopeSet> {
    if names.len() > limits::MAX_SCOPES_PER_REQUEST {
        return Err(ApiError::invalid(
            "scopes",
            format!("at most {} scopes", limits::MAX_SCOPES_PER_REQUEST),
        ));
    }
    state
        .catalog
        .parse_all(names.iter().map(String::as_str))
        .map_err(|unknown| {
            ApiError::invalid("scopes", format!("unknown scopes: {}", unknown.join(", ")))
        })
}

/// The scope list a new or edited token may carry: a subset of what the
/// caller holds now, anywhere in the organization.
fn checked_scopes(
    state: &AppState,
    caller: &Caller,
    requested: Option<&[String]>,
) -> ApiResult<Option<Vec<String>>> {
    let grantable = grantable_scopes(caller);
    match requested {
        Some(names) => {
            let set = parse_scopes(state, names)?;
            check_grant(set, grantable)
                .map_err(|refused| ApiError::ScopesNotGrantable(state.catalog.names(refused)))?;
            Ok(Some(state.catalog.names(set)))
        }
        // A narrowed token mints only narrowed tokens: no credential mints
        // one more powerful than itself.
        None => Ok(caller.access.narrowing().map(|n| state.catalog.names(n))),
    }
}

/// What a token the caller makes now may carry: what it holds anywhere in
/// the organization (organization role and project roles), within its own
/// narrowing. The pages offer exactly this.
pub fn grantable_scopes(caller: &Caller) -> ScopeSet {
    caller.access.grantable(caller.project_scopes_anywhere())
}

/// One of the caller's own tokens in this organization.
async fn own_pat(state: &AppState, caller: &Caller, uuid: CredentialId) -> ApiResult<Credential> {
    let user = caller.user()?;
    state
        .store
        .credential(caller.org.uuid, uuid)
        .await?
        .filter(|c| c.kind == CredentialKind::Pat && c.owner_uuid == Some(user.uuid))
        .ok_or(ApiError::NotFound)
}

#[utoipa::path(get, path = "/api/v1/user/me/personal-access-tokens", tag = "personal access tokens",
    responses((status = 200, body = Vec<PatView>), (status = 403)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<JsonOk<Vec<PatView>>> {
    let user = caller.user()?;
    let pats = state.store.pats_of(caller.org.uuid, user.uuid).await?;
    Ok(ok(pats.iter().map(PatView::of).collect()))
}

/// Create a token for yourself; the response holds the secret, once.
#[utoipa::path(post, path = "/api/v1/user/me/personal-access-tokens", tag = "personal access tokens", request_body = CreatePatRequest,
    responses((status = 201, body = PatView), (status = 400, description = "invalid_request naming name, scopes or expiresAt"), (status = 401, description = "missing_credentials, malformed_token, invalid_token, token_expired, token_revoked, account_suspended or feature_disabled"),
        (status = 403, description = "scopes_not_grantable, lifetime_too_long (details.maxExpiresAt), or forbidden: not a user")))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreatePatRequest>,
) -> ApiResult<Response> {
    let user = caller.user()?;
    let name = super::name(&req.name)?;
    let at = now();
    policy::check_new_expiry(req.expires_at, at)?;
    let scopes = checked_scopes(&state, &caller, req.scopes.as_deref())?;
    check_lifetime(&caller, req.expires_at)?;
    let (mut credential, secret) = mint(
        &caller,
        TokenKind::PersonalAccessToken,
        name,
        req.expires_at,
        at,
    );
    credential.owner_uuid = Some(user.uuid);
    credential.scopes = scopes;
    let details = json!({ "scopes": credential.scopes, "expiresAt": credential.expires_at.map(|t| t.unix_timestamp()), "displayPrefix": credential.display_prefix });
    let event = caller.audit(
        AuditAction::PatCreated,
        Some(target(&credential)),
        details,
        at,
    );
    state
        .store
        .insert_credential(&credential, &state.hasher.hash(secret.expose()), &event)
        .await?;
    let mut view = PatView::of(&credential);
    view.token = Some(secret);
    Ok(created(view).into_response())
}

#[utoipa::path(get, path = "/api/v1/user/me/personal-access-tokens/{uuid}", tag = "personal access tokens",
    params(("uuid" = Uuid, Path)), responses((status = 200, body = PatView), (status = 404)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    PathUuid(uuid): PathUuid<CredentialId>,
) -> ApiResult<JsonOk<PatView>> {
    Ok(ok(PatView::of(&own_pat(&state, &caller, uuid).await?)))
}

/// Rename, re-scope (within what you hold), or bring the expiry forward.
#[utoipa::path(patch, path = "/api/v1/user/me/personal-access-tokens/{uuid}", tag = "personal access tokens", request_body = UpdatePatRequest,
    params(("uuid" = Uuid, Path)), responses((status = 200, body = PatView),
        (status = 400, description = "invalid_request naming name, scopes or expiresAt, or expiry_extension_not_allowed"), (status = 401, description = "missing_credentials, malformed_token, invalid_token, token_expired, token_revoked, account_suspended or feature_disabled"),
        (status = 403, description = "scopes_not_grantable, lifetime_too_long, or forbidden: not a user"), (status = 404)))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    PathUuid(uuid): PathUuid<CredentialId>,
    ApiJson(req): ApiJson<UpdatePatRequest>,
) -> ApiResult<JsonOk<PatView>> {
    let pat = own_pat(&state, &caller, uuid).await?;
    let at = now();
    let name = super::optional_name(req.name.as_deref())?;
    if let Some(expires_at) = req.expires_at {
        policy::check_expiry_change(pat.expires_at, expires_at, at)?;
        check_lifetime(&caller, Some(expires_at))?;
    }
    let scopes = match &req.scopes {
        Some(names) => Some(checked_scopes(&state, &caller, names.as_deref())?),
        None => None,
    };
    let change = CredentialChange {
        name: name.map(String::from),
        scopes,
        expires_at: req.expires_at,
    };
    let details = json!({
        "name": change.name,
        "scopes": change.scopes.clone().flatten(),
        "fullRole": matches!(change.scopes, Some(None)),
        "expiresAt": change.expires_at.map(|t| t.unix_timestamp()),
    });
    let event = caller.audit(AuditAction::PatUpdated, Some(target(&pat)), details, at);
    state.store.update_credential(uuid, &change, &event).await?;
    Ok(ok(PatView::of(&own_pat(&state, &caller, uuid).await?)))
}

/// Revoke one of your tokens, at once.
#[utoipa::path(delete, path = "/api/v1/user/me/personal-access-tokens/{uuid}", tag = "personal access tokens",
    params(("uuid" = Uuid, Path)), responses((status = 204), (status = 404)))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    PathUuid(uuid): PathUuid<CredentialId>,
) -> ApiResult<StatusCode> {
    let pat = own_pat(&state, &caller, uuid).await?;
    let at = now();
    let event = caller.audit(AuditAction::PatRevoked, Some(target(&pat)), json!({}), at);
    state.store.revoke_credential(uuid, at, &event).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces a credential's secret in place; shared by every kind.
pub async fn rotate_credential(
    state: &AppState,
    caller: &Caller,
    credential: &Credential,
    expires_at: OffsetDateTime,
    action: AuditAction,
    target: Target,
) -> ApiResult<TokenSecret> {
    let at = now();
    policy::check_rotation(credential.expires_at, credential.rotated_at, expires_at, at)?;
    check_lifetime(caller, Some(expires_at))?;
    let kind = TokenKind::of_credential(credential.kind)
        .ok_or_else(|| ApiError::internal("a stored credential without a token kind"))?;
    let secret = TokenSecret::generate(kind, &mut rand::thread_rng());
    let rotation = Rotation {
        token_hash: state.hasher.hash(secret.expose()),
        display_prefix: secret.display_prefix().to_string(),
        expires_at,
        now: at,
        last_rotated_before: policy::rotation_allowed_if_last_before(at),
    };
    let details = json!({ "expiresAt": expires_at.unix_timestamp(), "previousDisplayPrefix": credential.display_prefix, "displayPrefix": rotation.display_prefix });
    let event = caller.audit(action, Some(target), details, at);
    if !state
        .store
        .rotate_credential(credential.uuid, &rotation, &event)
        .await?
    {
        // Another rotation (on any replica) won the race.
        return Err(ApiError::RateLimited {
            retry_after: policy::ROTATION_COOLDOWN.whole_seconds() as u64,
        });
    }
    Ok(secret)
}

/// Rotation hands the caller the new secret, so a narrowed token may rotate
/// only a token no more powerful than itself: no credential mints one more
/// powerful than itself (PRODUCT.md §2).
async fn check_rotatable(state: &AppState, caller: &Caller, pat: &Credential) -> ApiResult<()> {
    if caller.access.narrowing().is_none() {
        return Ok(());
    }
    let held = caller.project_scopes_anywhere();
    let base = caller.role.map(Role::scopes).unwrap_or(ScopeSet::EMPTY);
    let pat_narrowing = pat
        .scopes
        .as_ref()
        .map(|names| state.catalog.parse_known(names.iter().map(String::as_str)));
    // What the rotated token would carry, against what the caller may grant.
    let carried = Access::new(base, pat_narrowing).grantable(held);
    check_grant(carried, caller.access.grantable(held))
        .map_err(|refused| ApiError::ScopesNotGrantable(state.catalog.names(refused)))
}

/// New secret, same token; the old secret stops working at once.
#[utoipa::path(patch, path = "/api/v1/user/me/personal-access-tokens/{uuid}/rotate", tag = "personal access tokens", request_body = RotateRequest,
    params(("uuid" = Uuid, Path)), responses((status = 200, body = PatView), (status = 400, description = "rotation_requires_expiry, credential_expired, or expiresAt not in the future"), (status = 401, description = "missing_credentials, malformed_token, invalid_token, token_expired, token_revoked, account_suspended or feature_disabled"), (status = 403, description = "scopes_not_grantable: a narrowed token may not rotate a more powerful one; lifetime_too_long: not past the rotating token's own expiry"), (status = 404), (status = 429)))]
pub async fn rotate(
    State(state): State<AppState>,
    caller: Caller,
    PathUuid(uuid): PathUuid<CredentialId>,
    ApiJson(req): ApiJson<RotateRequest>,
) -> ApiResult<JsonOk<PatView>> {
    let pat = own_pat(&state, &caller, uuid).await?;
    check_rotatable(&state, &caller, &pat).await?;
    let secret = rotate_credential(
        &state,
        &caller,
        &pat,
        req.expires_at,
        AuditAction::PatRotated,
        target(&pat),
    )
    .await?;
    let mut view = PatView::of(&own_pat(&state, &caller, uuid).await?);
    view.token = Some(secret);
    Ok(ok(view))
}

/// Every member's tokens (`tokens:admin`), newest first, paged.
#[utoipa::path(get, path = "/api/v1/org/personal-access-tokens", tag = "personal access tokens", params(PageQuery),
    responses((status = 200, body = Paged<PatView>), (status = 403)))]
pub async fn admin_list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<JsonOk<Paged<PatView>>> {
    caller.require(Scope::TOKENS_ADMIN, &state.catalog)?;
    let page = state.store.org_pats(caller.org.uuid, &q.page()?).await?;
    let items = page
        .items
        .iter()
        .map(|(c, owner)| PatView {
            owner: Some(Actor {
                kind: ActorKind::User,
                uuid: owner.uuid.into(),
                name: owner.display_name().to_string(),
            }),
            ..PatView::of(c)
        })
        .collect();
    Ok(ok(Paged {
        items,
        next_cursor: page.next_cursor,
    }))
}

/// Revoke any member's token (`tokens:admin`).
#[utoipa::path(delete, path = "/api/v1/org/personal-access-tokens/{uuid}", tag = "personal access tokens",
    params(("uuid" = Uuid, Path)), responses((status = 204), (status = 403), (status = 404)))]
pub async fn admin_revoke(
    State(state): State<AppState>,
    caller: Caller,
    PathUuid(uuid): PathUuid<CredentialId>,
) -> ApiResult<StatusCode> {
    caller.require(Scope::TOKENS_ADMIN, &state.catalog)?;
    let pat = state
        .store
        .credential(caller.org.uuid, uuid)
        .await?
        .filter(|c| c.kind == CredentialKind::Pat)
        .ok_or(ApiError::NotFound)?;
    let at = now();
    let by_owner =
        matches!(&caller.principal, Principal::User(u) if Some(u.uuid) == pat.owner_uuid);
    let event = caller.audit(
        AuditAction::PatRevoked,
        Some(target(&pat)),
        json!({ "byAdmin": !by_owner, "owner": pat.owner_uuid }),
        at,
    );
    state.store.revoke_credential(uuid, at, &event).await?;
    Ok(StatusCode::NO_CONTENT)
}
