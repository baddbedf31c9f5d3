//! Web sessions: login, logout, switching organization, accepting invites.

use super::ok;
use crate::auth::{csrf_token, secure_cookies, session_hash, session_set_cookie, Caller, Client};
use crate::error::{ApiError, ApiResult, AuthFailure};
use crate::extract::ApiJson;
use crate::state::{now, AppState};
use crate::wire::{
    AcceptInviteRequest, AcceptInviteResult, ActiveOrgRequest, LoginRequest, LoginResult, OrgView,
    UserView,
};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use latchkey_core::{limits, token, Actor, ActorKind, AuditEvent, ExposeSecret, Target};
use latchkey_core::{AuditAction, TargetKind};
use latchkey_store::{Acceptance, NewSession};
use serde_json::json;
use time::Duration;

pub const SESSION_LIFETIME: Duration = Duration::days(7);
/// Invites are good for a week.
pub const INVITE_LIFETIME: Duration = Duration::days(7);

/// Sign in with email and password; sets the session cookie.
#[utoipa::path(post, path = "/api/v1/login", tag = "session", request_body = LoginRequest,
    responses((status = 200, body = LoginResult), (status = 400, description = "invalid_request naming email or password"),
        (status = 401, description = "invalid_login or account_suspended"), (status = 404, description = "orgUuid: not an organization of this account"),
        (status = 429, description = "rate_limited, with Retry-After"), (status = 503, description = "unavailable: password hashing is saturated, with Retry-After")))]
pub async fn login(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    let at = now();
    if req.email.chars().count() > limits::MAX_EMAIL_CHARS {
        return Err(ApiError::invalid("email", "too long"));
    }
    if req.password.expose_secret().chars().count() > limits::MAX_PASSWORD_CHARS {
        return Err(ApiError::invalid("password", "too long"));
    }
    let email = req.email.trim().to_lowercase();
    // Counted before the password is hashed, so concurrent guesses cannot
    // all reach it; per (account, address) and per address, so guesses from
    // elsewhere never lock out the right password.
    let attempt = state
        .sign_in
        .begin(state.store.as_ref(), &state.hasher, &email, client.ip, at)
        .await?;
    let checked = async {
        // No account has a control character in its email (member emails are
        // checked when added), and PostgreSQL refuses a NUL in a query: no lookup.
        let login = if email.chars().any(char::is_control) {
            None
        } else {
            state.store.user_by_email(&email).await?
        };
        let stored_hash = login.as_ref().and_then(|l| l.password_hash.clone());
        let verified = state.passwords.verify(req.password, stored_hash).await?;
        Ok::<_, ApiError>(login.filter(|_| verified))
    }
    .await;
    // Only a wrong password counts: a saturated hash queue or a database
    // outage must not lock the real user out.
    let checked = match checked {
        Ok(checked) => checked,
        Err(e) => {
            state
                .sign_in
                .abandoned(state.store.as_ref(), attempt)
                .await?;
            return Err(e);
        }
    };
    let Some(login) = checked else {
        // The attempt stays counted: it was a failure.
        return Err(ApiError::InvalidLogin);
    };
    state
        .sign_in
        .succeeded(state.store.as_ref(), attempt)
        .await?;
    let memberships = state.store.memberships_of(login.user.uuid).await?;
    let chosen = match req.org_uuid {
        Some(org) => memberships
            .into_iter()
            .find(|(o, _)| o.uuid == org.into())
            .ok_or(ApiError::NotFound)?,
        None => {
            let any = !memberships.is_empty();
            memberships
                .into_iter()
                .find(|(_, m)| m.suspended_at.is_none())
                .ok_or(if any {
                    ApiError::Unauthenticated(AuthFailure::AccountSuspended)
                } else {
                    ApiError::InvalidLogin
                })?
        }
    };
    let (org, membership) = chosen;
    if membership.suspended_at.is_some() {
        return Err(ApiError::Unauthenticated(AuthFailure::AccountSuspended));
    }
    let session_id = token::random_secret(&mut rand::thread_rng());
    state
        .store
        .create_session(&NewSession {
            id_hash: session_hash(&state, session_id.expose_secret()),
            uuid: latchkey_core::SessionId::random(),
            user_uuid: login.user.uuid,
            org_uuid: org.uuid,
            created_at: at,
            expires_at: at + SESSION_LIFETIME,
            ip: client.ip_text(),
            user_agent: client.user_agent_text(),
        })
        .await?;
    let mut org_view = OrgView::of(&org);
    org_view.role = Some(membership.role.base_role());
    let body = LoginResult {
        user: UserView::of(&login.user),
        org: org_view,
        csrf_token: csrf_token(&state, session_id.expose_secret()),
    };
    let cookie = session_set_cookie(
        session_id.expose_secret(),
        SESSION_LIFETIME,
        secure_cookies(&state, &headers),
    );
    Ok(([(header::SET_COOKIE, cookie)], ok(body)).into_response())
}

/// End the session.
#[utoipa::path(post, path = "/api/v1/logout", tag = "session", responses((status = 204)))]
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
) -> ApiResult<Response> {
    state.store.delete_session(caller.session()?).await?;
    let cookie = session_set_cookie("", Duration::ZERO, secure_cookies(&state, &headers));
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

/// Switch the session to another of the user's organizations.
#[utoipa::path(post, path = "/api/v1/user/me/active-org", tag = "session", request_body = ActiveOrgRequest,
    responses((status = 200, body = OrgView), (status = 404)))]
pub async fn set_active_org(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<ActiveOrgRequest>,
) -> ApiResult<Response> {
    let id_hash = caller.session()?;
    let user = caller.user()?;
    let (org, membership) = state
        .store
        .memberships_of(user.uuid)
        .await?
        .into_iter()
        .find(|(o, m)| o.uuid == req.org_uuid.into() && m.suspended_at.is_none())
        .ok_or(ApiError::NotFound)?;
    state.store.set_session_org(id_hash, org.uuid).await?;
    let mut view = OrgView::of(&org);
    view.role = Some(membership.role.base_role());
    Ok(ok(view).into_response())
}

/// Accept an invitation; the person becomes a member. A code works once, for
/// 7 days. The link of the first organization to invite a new person sets
/// the account's password (`{password}`, no session); every other link is
/// accepted by a signed-in session of the invited account (`401
/// login_required` without one; another account's session: `404`).
#[utoipa::path(post, path = "/api/v1/invites/{code}", tag = "session", request_body = AcceptInviteRequest,
    params(("code" = String, Path)),
    responses((status = 200, body = AcceptInviteResult), (status = 400, description = "invalid_request naming password or name"),
        (status = 401, description = "login_required: this link is accepted by a signed-in session of the invited account; or a refused session"),
        (status = 403, description = "forbidden: a token instead of a session, or a session request without its X-CSRF-Token"),
        (status = 404, description = "no such unused, unexpired link, or another account's session"),
        (status = 503, description = "unavailable: password hashing is saturated, with Retry-After")))]
pub async fn accept_invite(
    State(state): State<AppState>,
    client: Client,
    caller: Option<Caller>,
    code: Result<Path<String>, PathRejection>,
    ApiJson(req): ApiJson<AcceptInviteRequest>,
) -> ApiResult<Response> {
    // A code that is not UTF-8 once percent-decoded is no code either.
    let Ok(Path(code)) = code else {
        return Err(ApiError::NotFound);
    };
    if code.len() > 64 {
        return Err(ApiError::NotFound);
    }
    let at = now();
    let code_hash = state.hasher.hash_parts(&[b"invite\0", code.as_bytes()]);
    // The code first: nothing is hashed for a link that does not exist.
    let invite = state
        .store
        .pending_invite(&code_hash, at)
        .await?
        .ok_or(ApiError::NotFound)?;
    let member = state
        .store
        .member(invite.org_uuid, invite.user_uuid)
        .await?
        .ok_or(ApiError::NotFound)?;
    let user = &member.user;
    let mut event = AuditEvent {
        org_uuid: invite.org_uuid,
        at,
        action: AuditAction::MemberJoined,
        actor: Some(Actor {
            kind: ActorKind::User,
            uuid: user.uuid.into(),
            name: user.display_name().to_string(),
        }),
        credential: None,
        target: Some(Target {
            kind: TargetKind::User,
            uuid: user.uuid.into(),
            name: user.display_name().to_string(),
        }),
        ip: client.ip_text(),
        user_agent: client.user_agent_text(),
        details: json!({}),
    };
    let name;
    let password_hash;
    let acceptance = match &caller {
        Some(caller) => {
            caller.session()?;
            if caller.user()?.uuid != invite.user_uuid {
                return Err(ApiError::NotFound);
            }
            event.credential = Some((*caller.credential).clone());
            event.details = json!({ "via": "session" });
            Acceptance::BySession {
                user_uuid: invite.user_uuid,
            }
        }
        None => {
            if !invite.sets_password {
                return Err(ApiError::LoginRequired);
            }
            let password = req
                .password
                .ok_or_else(|| ApiError::invalid("password", "set a password to accept"))?;
            limits::password("password", password.expose_secret())?;
            name = super::optional_name(req.name.as_deref())?;
            password_hash = state.passwords.hash(password).await?;
            event.details = json!({ "via": "invitation link", "passwordSet": true });
            Acceptance::SetPassword {
                password_hash: &password_hash,
                name: name.as_deref(),
            }
        }
    };
    let (user, org_uuid) = state
        .store
        .accept_invite(&code_hash, &acceptance, at, &event)
        .await?;
    Ok(ok(AcceptInviteResult {
        user: UserView::of(&user),
        org_uuid: org_uuid.into(),
    })
    .into_response())
}
