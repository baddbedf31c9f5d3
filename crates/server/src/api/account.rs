//! A person's own account, changed from a signed-in session.

use crate::auth::{Caller, Client};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, PathUuid};
use crate::state::{now, AppState};
use crate::wire::{ChangePasswordRequest, SessionView};
use axum::extract::State;
use axum::http::StatusCode;
use latchkey_core::{limits, AuditAction, ExposeSecret, SessionId, Target, TargetKind};
use serde_json::json;

use super::{ok, JsonOk};

/// Change the password. The current one is required and checked as a
/// sign-in is (the same throttle); every other session of the account ends,
/// in every organization. Only a web session may do this: a token that
/// leaks must not become the account.
#[utoipa::path(post, path = "/api/v1/user/me/password", tag = "account", request_body = ChangePasswordRequest,
    responses((status = 204, description = "changed; other sessions have ended"),
        (status = 400, description = "invalid_request naming currentPassword (too long, or not this account's password) or newPassword (8 to 256 characters)"),
        (status = 401, description = "missing_credentials or a refused session"),
        (status = 403, description = "forbidden: a token instead of a session, or a session request without its X-CSRF-Token"),
        (status = 429, description = "rate_limited: too many wrong current passwords, with Retry-After"),
        (status = 503, description = "unavailable: password hashing is saturated, with Retry-After")))]
pub async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    client: Client,
    ApiJson(req): ApiJson<ChangePasswordRequest>,
) -> ApiResult<StatusCode> {
    let session = caller.session()?;
    let user = caller.user()?;
    if req.current_password.expose_secret().chars().count() > limits::MAX_PASSWORD_CHARS {
        return Err(ApiError::invalid("currentPassword", "too long"));
    }
    limits::password("newPassword", req.new_password.expose_secret())?;
    let at = now();
    // Counted as a sign-in attempt of this account from this address, so a
    // stolen session cannot guess the password faster than the sign-in page.
    let attempt = state
        .sign_in
        .begin(
            state.store.as_ref(),
            &state.hasher,
            &user.email,
            client.ip,
            at,
        )
        .await?;
    let checked = async {
        let stored = state
            .store
            .user_by_email(&user.email)
            .await?
            .and_then(|login| login.password_hash);
        let has_password = stored.is_some();
        let verified = state.passwords.verify(req.current_password, stored).await?;
        Ok::<_, ApiError>((has_password, verified))
    }
    .await;
    let (has_password, verified) = match checked {
        Ok(checked) => checked,
        Err(e) => {
            state
                .sign_in
                .abandoned(state.store.as_ref(), attempt)
                .await?;
            return Err(e);
        }
    };
    if !verified {
        // The attempt stays counted: it was a failure.
        let message = if has_password {
            "is not this account's password"
        } else {
            "this account has no password yet; its invitation link sets one"
        };
        return Err(ApiError::invalid("currentPassword", message));
    }
    state
        .sign_in
        .succeeded(state.store.as_ref(), attempt)
        .await?;
    let password_hash = state.passwords.hash(req.new_password).await?;
    let event = caller.audit(
        AuditAction::UserPasswordChanged,
        Some(Target {
            kind: TargetKind::User,
            uuid: user.uuid.into(),
            name: user.display_name().to_string(),
        }),
        json!({}),
        at,
    );
    state
        .store
        .change_password(user.uuid, &password_hash, session, at, &event)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's live sessions in every organization, newest first: where
/// each signed in from and when it was last used. A web session only.
#[utoipa::path(get, path = "/api/v1/user/me/sessions", tag = "account",
    responses((status = 200, body = Vec<SessionView>),
        (status = 401, description = "missing_credentials or a refused session"),
        (status = 403, description = "forbidden: a token instead of a session")))]
pub async fn list_sessions(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<JsonOk<Vec<SessionView>>> {
    let current = caller.session()?;
    let user = caller.user()?;
    let sessions = state.store.sessions_of(user.uuid, now()).await?;
    Ok(ok(sessions
        .into_iter()
        .map(|s| SessionView {
            uuid: s.uuid.into(),
            org_uuid: s.org_uuid.into(),
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            expires_at: s.expires_at,
            ip: s.ip,
            user_agent: s.user_agent,
            current: s.id_hash == *current,
        })
        .collect()))
}

/// End one of the caller's sessions (the current one too: that is signing
/// out). Another account's session, or one already ended, is `404`.
#[utoipa::path(delete, path = "/api/v1/user/me/sessions/{uuid}", tag = "account",
    params(("uuid" = Uuid, Path)),
    responses((status = 204), (status = 401, description = "missing_credentials or a refused session"),
        (status = 403, description = "forbidden: a token instead of a session, or a session request without its X-CSRF-Token"),
        (status = 404)))]
pub async fn end_session(
    State(state): State<AppState>,
    caller: Caller,
    PathUuid(uuid): PathUuid<SessionId>,
) -> ApiResult<StatusCode> {
    caller.session()?;
    let user = caller.user()?;
    state.store.end_session(user.uuid, uuid, now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// End every session of the caller but this one, in every organization.
#[utoipa::path(delete, path = "/api/v1/user/me/sessions", tag = "account",
    responses((status = 204), (status = 401, description = "missing_credentials or a refused session"),
        (status = 403, description = "forbidden: a token instead of a session, or a session request without its X-CSRF-Token")))]
pub async fn end_other_sessions(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<StatusCode> {
    let current = caller.session()?;
    let user = caller.user()?;
    state
        .store
        .end_other_sessions(user.uuid, current, now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
