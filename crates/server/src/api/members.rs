//! Members of the organization: list, invite (every addition is an
//! invitation its person accepts), withdraw or reissue an invitation, change
//! role, suspend, remove.

use super::{created, custom_role_names, ok, resolve_role, GivenRole, JsonOk};
use crate::api::session::INVITE_LIFETIME;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, PathUuid};
use crate::state::{now, AppState};
use crate::wire::{AddMemberRequest, CustomRoleRef, MemberView, UpdateMemberRequest};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use latchkey_core::{
    limits, token, ExposeSecret, RoleId, Scope, ScopeSet, SecretString, Target, UserId,
};
use latchkey_core::{AuditAction, TargetKind};
use latchkey_core::{Grant, Reach};
use latchkey_store::{Member, MemberChange, MemberUser, NewInvite, NewMember, User};
use serde_json::json;
use std::collections::HashMap;
use time::OffsetDateTime;

impl MemberView {
    fn of(m: &Member, names: &HashMap<RoleId, String>) -> MemberView {
        let status = m.membership.status();
        MemberView {
            user_uuid: m.user.uuid.into(),
            email: m.user.email.clone(),
            // Until they accept, the account is none of the organization's
            // business: its name may come from elsewhere.
            name: (!m.membership.is_pending())
                .then(|| m.user.name.clone())
                .flatten(),
            role: m.membership.role.base_role(),
            custom_role: m.membership.role.custom().map(|uuid| CustomRoleRef {
                uuid: uuid.into(),
                name: names.get(&uuid).cloned().unwrap_or_default(),
            }),
            status: status.as_str().to_string(),
            suspended: m.membership.suspended_at.is_some(),
            created_at: m.membership.created_at,
            invite_url: None,
        }
    }
}

fn member_target(user: &User) -> Target {
    Target {
        kind: TargetKind::User,
        uuid: user.uuid.into(),
        name: user.display_name().to_string(),
    }
}

/// The role given must not hold a scope the giver lacks.
fn check_role_grant(caller: &Caller, scopes: ScopeSet) -> ApiResult<()> {
    if scopes.is_subset_of(caller.access.org_scopes()) {
        Ok(())
    } else {
        Err(ApiError::RoleTooHigh)
    }
}

/// Members with their roles.
#[utoipa::path(get, path = "/api/v1/org/users", tag = "members", responses((status = 200, body = Vec<MemberView>), (status = 403)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<JsonOk<Vec<MemberView>>> {
    caller.require(Scope::MEMBERS_WRITE, &state.catalog)?;
    let members = state.store.members(caller.org.uuid).await?;
    let names = custom_role_names(&state, caller.org.uuid).await?;
    Ok(ok(members
        .iter()
        .map(|m| MemberView::of(m, &names))
        .collect()))
}

/// Invite a person by email. The answer is the same whether or not the email
/// has an account anywhere: `201`, status `invited`, and the `inviteUrl` to
/// send them. They become a member only by accepting it.
#[utoipa::path(post, path = "/api/v1/org/users", tag = "members", request_body = AddMemberRequest,
    responses((status = 201, body = MemberView),
        (status = 400, description = "invalid_request naming email, name, role or customRoleUuid"),
        (status = 401, description = "missing_credentials, malformed_token, invalid_token, token_expired, token_revoked, account_suspended or feature_disabled"),
        (status = 403, description = "missing_scope members:write, role_too_high, or plan_required (a custom role)"),
        (status = 409, description = "conflict: the person is in the organization or invited already")))]
pub async fn add(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<AddMemberRequest>,
) -> ApiResult<Response> {
    caller.require(Scope::MEMBERS_WRITE, &state.catalog)?;
    let email = limits::email("email", &req.email)?;
    let name = super::optional_name(req.name.as_deref())?;
    let given = resolve_role(&state, &caller.org, req.role, req.custom_role_uuid)
        .await?
        .ok_or_else(|| ApiError::invalid("role", "give a role or a customRoleUuid"))?;
    check_role_grant(&caller, given.scopes)?;
    let at = now();
    // Whether the email has an account anywhere changes nothing in the
    // answer: it is an invitation either way.
    let (member_user, user) = match state.store.user_by_email(&email).await? {
        Some(login) => (MemberUser::Existing(login.user.uuid), login.user),
        None => {
            let user = User {
                uuid: UserId::random(),
                email: email.into(),
                name: name.map(String::from),
                created_at: at,
            };
            (MemberUser::New(user.clone()), user)
        }
    };
    let (code, invite) = new_invite(&state, at);
    let event = caller.audit(
        AuditAction::MemberInvited,
        Some(member_target(&user)),
        given.describe(),
        at,
    );
    let new = NewMember {
        org_uuid: caller.org.uuid,
        user: member_user,
        role: given.role_ref(),
        now: at,
    };
    state.store.add_member(&new, &invite, &event).await?;
    let view = invited_view(&state, &caller, user.uuid, code).await?;
    Ok(created(view).into_response())
}

/// A fresh invitation link and what the store keeps of it.
fn new_invite(state: &AppState, at: OffsetDateTime) -> (SecretString, NewInvite) {
    let code = token::random_secret(&mut rand::thread_rng());
    let invite = NewInvite {
        code_hash: state
            .hasher
            .hash_parts(&[b"invite\0", code.expose_secret().as_bytes()]),
        created_at: at,
        expires_at: at + INVITE_LIFETIME,
    };
    (code, invite)
}

async fn invited_view(
    state: &AppState,
    caller: &Caller,
    user: UserId,
    code: SecretString,
) -> ApiResult<MemberView> {
    let member = state
        .store
        .member(caller.org.uuid, user)
        .await?
        .ok_or(ApiError::NotFound)?;
    let names = custom_role_names(state, caller.org.uuid).await?;
    let mut view = MemberView::of(&member, &names);
    view.invite_url = Some(format!("/invite/{}", code.expose_secret()));
    Ok(view)
}

/// A pending invitation of this organization.
async fn invited(state: &AppState, caller: &Caller, user: UserId) -> ApiResult<Member> {
    state
        .store
        .member(caller.org.uuid, user)
        .await?
        .filter(|m| m.membership.is_pending())
        .ok_or(ApiError::NotFound)
}

/// A new link for a pending invitation; the previous link stops working.
#[utoipa::path(post, path = "/api/v1/org/users/{userUuid}/invite", tag = "members",
    params(("userUuid" = Uuid, Path)),
    responses((status = 200, body = MemberView), (status = 401, description = "missing_credentials, malformed_token, invalid_token, token_expired, token_revoked, account_suspended or feature_disabled"),
        (status = 403, description = "missing_scope members:write"), (status = 404, description = "no pending invitation for this person in this organization")))]
pub async fn reissue_invite(
    State(state): State<AppState>,
    caller: Caller,
    PathUuid(user_uuid): PathUuid<UserId>,
) -> ApiResult<JsonOk<MemberView>> {
    caller.require(Scope::MEMBERS_WRITE, &state.catalog)?;
    let member = invited(&state, &caller, user_uuid).await?;
    let at = now();
    let (code, invite) = new_invite(&state, at);
    let event = caller.audit(
        AuditAction::MemberInviteReissued,
        Some(member_target(&member.user)),
        json!({}),
        at,
    );
    state
        .store
        .reissue_invite(caller.org.uuid, user_uuid, &invite, &event)
        .await?;
    Ok(ok(invited_view(&state, &caller, user_uuid, code).await?))
}

/// Withdraw a pending invitation: its link dies and the person is not listed.
#[utoipa::path(delete, path = "/api/v1/org/invites/{userUuid}", tag = "members",
    params(("userUuid" = Uuid, Path)),
    responses((status = 204), (status = 401, description = "missing_credentials, malformed_token, invalid_token, token_expired, token_revoked, account_suspended or feature_disabled"),
        (status = 403, description = "missing_scope members:write"), (status = 404, description = "no pending invitation for this person in this organization")))]
pub async fn withdraw_invite(
    State(state): State<AppState>,
    caller: Caller,
    PathUuid(user_uuid): PathUuid<UserId>,
) -> ApiResult<StatusCode> {
    caller.require(Scope::MEMBERS_WRITE, &state.catalog)?;
    let member = invited(&state, &caller, user_uuid).await?;
    let event = caller.audit(
        AuditAction::MemberInviteWithdrawn,
        Some(member_target(&member.user)),
        json!({}),
        now(),
    );
    state
        .store
        .withdraw_invite(caller.org.uuid, user_uuid, &event)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Change a member's role or suspend them; takes effect on their next request.
#[utoipa::path(patch, path = "/api/v1/org/users/{userUuid}", tag = "members", request_body = UpdateMemberRequest,
    params(("userUuid" = Uuid, Path)), responses((status = 200, body = MemberView), (status = 404), (status = 409)))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    PathUuid(user_uuid): PathUuid<UserId>,
    ApiJson(req): ApiJson<UpdateMemberRequest>,
) -> ApiResult<JsonOk<MemberView>> {
    caller.require(Scope::MEMBERS_WRITE, &state.catalog)?;
    let given = resolve_role(&state, &caller.org, req.role, req.custom_role_uuid).await?;
    let member = state
        .store
        .member(caller.org.uuid, user_uuid)
        .await?
        .ok_or(ApiError::NotFound)?;
    if let Some(given) = &given {
        check_role_grant(&caller, given.scopes)?;
    }
    // Nobody changes someone above themself.
    check_role_grant(&caller, member_scopes(&state, &member).await?)?;
    let at = now();
    let role = given.as_ref().map(|g| g.role);
    let change = MemberChange {
        role: given.as_ref().map(GivenRole::role_ref),
        suspended_at: req.suspended.map(|s| s.then_some(at)),
    };
    let names = custom_role_names(&state, caller.org.uuid).await?;
    let action = match (role, req.suspended) {
        (Some(_), None) => AuditAction::MemberRoleChanged,
        (None, Some(true)) => AuditAction::MemberSuspended,
        (None, Some(false)) => AuditAction::MemberUnsuspended,
        (None, None) => return Ok(ok(MemberView::of(&member, &names))),
        (Some(_), Some(_)) => AuditAction::MemberUpdated,
    };
    // The role the member holds after the change, whatever changed.
    let details = json!({
        "role": role.unwrap_or(member.membership.role.base_role()),
        "customRole": given.as_ref().and_then(|g| g.custom.as_ref()).map(|c| json!({ "uuid": c.uuid, "name": c.name })),
        "previousRole": member.membership.role.base_role(),
        "previousCustomRoleUuid": member.membership.role.custom(),
        "suspended": req.suspended,
    });
    let event = caller.audit(action, Some(member_target(&member.user)), details, at);
    state
        .store
        .update_member(caller.org.uuid, user_uuid, &change, &event)
        .await?;
    let member = state
        .store
        .member(caller.org.uuid, user_uuid)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(ok(MemberView::of(&member, &names)))
}

/// Remove a member; their personal access tokens for this organization are revoked.
#[utoipa::path(delete, path = "/api/v1/org/users/{userUuid}", tag = "members",
    params(("userUuid" = Uuid, Path)), responses((status = 204), (status = 404), (status = 409)))]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    PathUuid(user_uuid): PathUuid<UserId>,
) -> ApiResult<StatusCode> {
    caller.require(Scope::MEMBERS_WRITE, &state.catalog)?;
    let member = state
        .store
        .member(caller.org.uuid, user_uuid)
        .await?
        .ok_or(ApiError::NotFound)?;
    check_role_grant(&caller, member_scopes(&state, &member).await?)?;
    let at = now();
    let event = caller.audit(
        AuditAction::MemberRemoved,
        Some(member_target(&member.user)),
        json!({}),
        at,
    );
    state
        .store
        .remove_member(caller.org.uuid, user_uuid, at, &event)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What a member's organization role holds (a custom role's scopes, or the
/// system role's).
async fn member_scopes(state: &AppState, member: &Member) -> ApiResult<ScopeSet> {
    let m = &member.membership;
    let custom = match m.role.custom() {
        Some(uuid) => state.store.custom_role(m.org_uuid, uuid).await?,
        None => None,
    };
    let custom_names = custom.as_ref().map(|r| r.scopes.as_slice());
    Ok(Grant::of(m.role, custom_names).scopes(&state.catalog, Reach::Organization))
}
