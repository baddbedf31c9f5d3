//! Custom roles (enterprise plan): an organization's own named sets of
//! scopes, given wherever a system role can be (PRODUCT.md §1).

use super::{created, ok, JsonOk};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, PathUuid};
use crate::state::{now, AppState};
use crate::wire::{CreateRoleRequest, CustomRoleView, UpdateRoleRequest};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use latchkey_core::{limits, Plan, RoleId, Scope, ScopeSet, Target};
use latchkey_core::{AuditAction, TargetKind};
use latchkey_core::{Grant, Reach};
use latchkey_store::{CustomRole, CustomRoleChange};
use serde_json::json;

impl CustomRoleView {
    pub fn of(r: &CustomRole) -> CustomRoleView {
        CustomRoleView {
            uuid: r.uuid.into(),
            name: r.name.clone(),
            description: r.description.clone(),
            scopes: r.scopes.clone(),
            created_by: r.created_by.clone(),
        }
    }
}

fn target(r: &CustomRole) -> Target {
    Target {
        kind: TargetKind::Role,
        uuid: r.uuid.into(),
        name: r.name.clone(),
    }
}

fn require_enterprise(caller: &Caller) -> ApiResult<()> {
    if caller.org.plan == Plan::Enterprise {
        Ok(())
    } else {
        Err(ApiError::PlanRequired)
    }
}

fn description(d: Option<&str>) -> ApiResult<Option<String>> {
    // The length is the value's, as the document states it.
    if d.is_some_and(|d| d.chars().count() > limits::MAX_DESCRIPTION_CHARS) {
        return Err(ApiError::invalid(
            "description",
            format!("at most {} characters", limits::MAX_DESCRIPTION_CHARS),
        ));
    }
    Ok(d.map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_string))
}

/// Parses the scope list: every name must be in the catalog (`400` naming
/// the unknown ones), at least one, and none the caller lacks
/// (`403 role_too_high`: nobody defines a role above themself).
fn role_scopes(state: &AppState, caller: &Caller, names: &[String]) -> ApiResult<Vec<String>> {
    if names.is_empty() {
        return Err(ApiError::invalid("scopes", "give at least one scope"));
    }
    let set: ScopeSet = state
        .catalog
        .parse_all(names.iter().map(String::as_str))
        .map_err(|unknown| {
            ApiError::invalid("scopes", format!("unknown scopes: {}", unknown.join(", ")))
        })?;
    if !set.is_subset_of(caller.access.org_scopes()) {
        return Err(ApiError::RoleTooHigh);
    }
    Ok(state.catalog.names(set))
}

async fn custom_role(state: &AppState, caller: &Caller, uuid: RoleId) -> ApiResult<CustomRole> {
    state
        .store
        .custom_role(caller.org.uuid, uuid)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Create a custom role (enterprise plan).
#[utoipa::path(post, path = "/api/v1/org/roles", tag = "roles", request_body = CreateRoleRequest,
    responses((status = 201, body = CustomRoleView), (status = 400, description = "invalid_request naming name, description or scopes (unknown scopes are named)"),
        (status = 403, description = "missing_scope roles:write, plan_required, or role_too_high"), (status = 409, description = "a custom role of this name exists")))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateRoleRequest>,
) -> ApiResult<Response> {
    caller.require(Scope::ROLES_WRITE, &state.catalog)?;
    require_enterprise(&caller)?;
    let name = super::name(&req.name)?;
    let description = description(req.description.as_deref())?;
    let scopes = role_scopes(&state, &caller, &req.scopes)?;
    let at = now();
    let role = CustomRole {
        uuid: RoleId::random(),
        org_uuid: caller.org.uuid,
        name: name.into(),
        description,
        scopes,
        created_at: at,
        created_by: caller.actor(),
        updated_at: at,
    };
    let event = caller.audit(
        AuditAction::RoleCreated,
        Some(target(&role)),
        json!({ "scopes": role.scopes }),
        at,
    );
    state.store.create_custom_role(&role, &event).await?;
    Ok(created(CustomRoleView::of(&role)).into_response())
}

/// One custom role.
#[utoipa::path(get, path = "/api/v1/org/roles/{roleUuid}", tag = "roles",
    params(("roleUuid" = Uuid, Path)), responses((status = 200, body = CustomRoleView), (status = 404)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    PathUuid(uuid): PathUuid<RoleId>,
) -> ApiResult<JsonOk<CustomRoleView>> {
    let role = custom_role(&state, &caller, uuid).await?;
    Ok(ok(CustomRoleView::of(&role)))
}

/// Rename a custom role, or change its description or scopes; holders get
/// the new scopes on their next request.
#[utoipa::path(patch, path = "/api/v1/org/roles/{roleUuid}", tag = "roles", request_body = UpdateRoleRequest,
    params(("roleUuid" = Uuid, Path)),
    responses((status = 200, body = CustomRoleView), (status = 400), (status = 403, description = "missing_scope roles:write, plan_required, or role_too_high"), (status = 404), (status = 409)))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    PathUuid(uuid): PathUuid<RoleId>,
    ApiJson(req): ApiJson<UpdateRoleRequest>,
) -> ApiResult<JsonOk<CustomRoleView>> {
    caller.require(Scope::ROLES_WRITE, &state.catalog)?;
    require_enterprise(&caller)?;
    let role = custom_role(&state, &caller, uuid).await?;
    // Nobody changes a role that holds more than they do.
    let current = Grant::Custom(&role.scopes).scopes(&state.catalog, Reach::Organization);
    if !current.is_subset_of(caller.access.org_scopes()) {
        return Err(ApiError::RoleTooHigh);
    }
    let change = CustomRoleChange {
        name: super::optional_name(req.name.as_deref())?.map(String::from),
        description: req
            .description
            .as_ref()
            .map(|d| description(d.as_deref()))
            .transpose()?,
        scopes: req
            .scopes
            .as_ref()
            .map(|s| role_scopes(&state, &caller, s))
            .transpose()?,
    };
    let at = now();
    let details = json!({
        "previousName": role.name,
        "name": change.name,
        "previousScopes": role.scopes,
        "scopes": change.scopes,
    });
    let event = caller.audit(AuditAction::RoleUpdated, Some(target(&role)), details, at);
    state
        .store
        .update_custom_role(caller.org.uuid, uuid, &change, at, &event)
        .await?;
    Ok(ok(CustomRoleView::of(
        &custom_role(&state, &caller, uuid).await?,
    )))
}

/// Delete a custom role; `409` while a member, project role or service
/// account still holds it.
#[utoipa::path(delete, path = "/api/v1/org/roles/{roleUuid}", tag = "roles",
    params(("roleUuid" = Uuid, Path)),
    responses((status = 204), (status = 403, description = "missing_scope roles:write"), (status = 404), (status = 409, description = "the role is still assigned")))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathUuid(uuid): PathUuid<RoleId>,
) -> ApiResult<StatusCode> {
    caller.require(Scope::ROLES_WRITE, &state.catalog)?;
    let role = custom_role(&state, &caller, uuid).await?;
    let event = caller.audit(
        AuditAction::RoleDeleted,
        Some(target(&role)),
        json!({ "scopes": role.scopes }),
        now(),
    );
    state
        .store
        .delete_custom_role(caller.org.uuid, uuid, &event)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
