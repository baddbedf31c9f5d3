//! Who am I, and which organizations.

use super::{created, ok, JsonOk};
use crate::auth::{Caller, Memo, Principal};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::state::{now, AppState};
use crate::wire::{
    CreateOrgRequest, CredentialView, CurrentUser, CustomRoleRef, OrgDetail, OrgView, PrincipalView,
};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use latchkey_core::{AuditAction, OrgId, TargetKind};
use latchkey_core::{Plan, Role, Target};
use latchkey_store::{NewAdmin, Org};

impl PrincipalView {
    pub fn of(caller: &Caller) -> PrincipalView {
        let email = match &caller.principal {
            Principal::User(u) => Some(u.email.clone()),
            _ => None,
        };
        PrincipalView {
            actor: caller.actor(),
            email,
        }
    }
}

impl CredentialView {
    pub fn of(caller: &Caller) -> CredentialView {
        CredentialView {
            kind: caller.credential.kind,
            uuid: caller.credential.uuid,
            name: caller.credential.name.clone(),
            display_prefix: caller.credential.display_prefix.clone(),
            expires_at: caller.credential_expires_at,
        }
    }
}

/// The principal behind this credential, its organization and what it may do there.
#[utoipa::path(get, path = "/api/v1/user", tag = "identity", responses((status = 200, body = CurrentUser), (status = 401)))]
pub async fn current_user(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    // The same for every request with this credential while it is cached:
    // made once, then answered as bytes.
    let body = Memo::bytes(&caller.memo.current_user, || {
        serde_json::to_vec(&current_user_view(&state, &caller).0)
            .map(Bytes::from)
            .map_err(ApiError::internal)
    })?;
    Ok(([(header::CONTENT_TYPE, JSON)], body).into_response())
}

const JSON: HeaderValue = HeaderValue::from_static("application/json");

fn current_user_view(state: &AppState, caller: &Caller) -> JsonOk<CurrentUser> {
    let grantable_scopes = match &caller.principal {
        Principal::User(_) => Some(state.catalog.names(super::pats::grantable_scopes(caller))),
        _ => None,
    };
    ok(CurrentUser {
        principal: PrincipalView::of(caller),
        org: OrgView::of(&caller.org),
        role: caller.role.filter(|_| caller.custom_role.is_none()),
        custom_role: caller
            .custom_role
            .as_ref()
            .map(|(uuid, name)| CustomRoleRef {
                uuid: (*uuid).into(),
                name: name.to_string(),
            }),
        scopes: state.catalog.names(caller.access.org_scopes()),
        grantable_scopes,
        credential: CredentialView::of(caller),
    })
}

/// The organization the credential or session is bound to.
#[utoipa::path(get, path = "/api/v1/org", tag = "identity", responses((status = 200, body = OrgDetail)))]
pub async fn current_org(caller: Caller) -> JsonOk<OrgDetail> {
    let o = &caller.org;
    ok(OrgDetail {
        uuid: o.uuid.into(),
        name: o.name.clone(),
        plan: o.plan,
        created_at: o.created_at,
    })
}

/// A token sees its own organization; a session every organization of its user.
#[utoipa::path(get, path = "/api/v1/orgs", tag = "identity", responses((status = 200, body = Vec<OrgView>)))]
pub async fn list_orgs(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<JsonOk<Vec<OrgView>>> {
    let views = match (&caller.session, &caller.principal) {
        (Some(_), Principal::User(user)) => state
            .store
            .memberships_of(user.uuid)
            .await?
            .iter()
            .filter(|(_, m)| m.suspended_at.is_none())
            .map(|(org, m)| OrgView {
                role: Some(m.role.base_role()),
                ..OrgView::of(org)
            })
            .collect(),
        _ => vec![OrgView {
            role: caller.role,
            ..OrgView::of(&caller.org)
        }],
    };
    Ok(ok(views))
}

/// Create an organization (plan `free`) with the signed-in user as its admin.
#[utoipa::path(post, path = "/api/v1/orgs", tag = "identity", request_body = CreateOrgRequest,
    responses((status = 201, body = OrgView), (status = 400, description = "invalid_request naming name"), (status = 401, description = "missing_credentials, malformed_token, invalid_token, token_expired, token_revoked, account_suspended or feature_disabled"),
        (status = 403, description = "forbidden: not a web session, or LATCHKEY_ORG_CREATION=operator")))]
pub async fn create_org(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateOrgRequest>,
) -> ApiResult<Response> {
    caller.session()?;
    let user = caller.user()?;
    if state.org_creation == crate::config::OrgCreation::Operator {
        return Err(ApiError::Forbidden(
            "on this instance organizations are created by the operator".into(),
        ));
    }
    let name = super::name(&req.name)?;
    let at = now();
    let org = Org {
        uuid: OrgId::random(),
        name: name.into(),
        plan: Plan::Free,
        created_at: at,
    };
    let target = Target {
        kind: TargetKind::Org,
        uuid: org.uuid.into(),
        name: org.name.clone(),
    };
    let mut event = caller.audit(
        AuditAction::OrgCreated,
        Some(target),
        serde_json::json!({}),
        at,
    );
    // The event belongs to the new organization's log.
    event.org_uuid = org.uuid;
    state
        .store
        .create_org(&org, &NewAdmin::Existing(user.uuid), &event)
        .await?;
    Ok(created(OrgView {
        role: Some(Role::Admin),
        ..OrgView::of(&org)
    })
    .into_response())
}
