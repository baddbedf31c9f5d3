//! Projects and the project roles given on them.

use super::{created, ok, resolve_role, JsonOk};
use crate::auth::{require_in, Caller};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, PathUuid, PathUuids};
use crate::state::{now, AppState};
use crate::wire::{
    CustomRoleRef, ProjectAccessView, ProjectRequest, ProjectRoleRequest, ProjectView,
};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use latchkey_core::{AuditAction, OrgId, ProjectId, TargetKind, UserId};
use latchkey_core::{Role, Scope, ScopeSet, Target};
use latchkey_store::Project;
use serde_json::json;

impl ProjectView {
    fn of(p: &Project, role: Option<Role>) -> ProjectView {
        ProjectView {
            project_uuid: p.uuid.into(),
            name: p.name.clone(),
            role,
            created_at: p.created_at,
            created_by: p.created_by.clone(),
            updated_by: p.updated_by.clone(),
        }
    }
}

fn project_target(p: &Project) -> Target {
    Target {
        kind: TargetKind::Project,
        uuid: p.uuid.into(),
        name: p.name.clone(),
    }
}

/// The caller's standing on one project.
struct OnProject {
    project: Project,
    scopes: ScopeSet,
    role: Option<Role>,
}

fn effective_role(org_role: Option<Role>, project_role: Option<Role>) -> Option<Role> {
    match (org_role.filter(|r| *r != Role::Member), project_role) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// The caller's project role on one project and the scopes it gives: a
/// user's project role, or a project-scoped service account's row, as
/// cached with the credential.
pub(crate) fn project_standing(
    caller: &Caller,
    project: ProjectId,
) -> (Option<Role>, Option<ScopeSet>) {
    match caller.project_row(project) {
        Some(row) => (row.role, Some(row.scopes)),
        None => (None, None),
    }
}

/// Whether `project` is one of the organization's: one indexed read per
/// (organization, project) until anything in the organization changes.
pub(crate) async fn exists(state: &AppState, org: OrgId, project: ProjectId) -> ApiResult<bool> {
    use crate::cache::Lookup;
    let now = std::time::Instant::now();
    let key = (org, project);
    if let Some(entry) = state.project_exists.get(&key, now) {
        if let Lookup::Found(found) = &entry.lookup {
            return Ok(**found);
        }
    }
    let ticket = state.project_exists.ticket();
    let found = state.store.project(org, project).await?.is_some();
    let entry = Lookup::Found(std::sync::Arc::new(found));
    state
        .project_exists
        .insert(key, entry, Some(org), ticket, now);
    Ok(found)
}

/// Whether the caller holds `scope` on `project` (`POST /auth/verify` with
/// `projectUuid`, `/auth/forward` with a project). A role on the project
/// means it exists (roles go with their project); without one, the
/// organization-wide scopes decide, and only when they would allow it is
/// the project looked up: a project that is not the organization's is
/// never allowed, and never told apart from one without the scope.
pub(crate) async fn scope_on_project(
    state: &AppState,
    caller: &Caller,
    scope: Scope,
    project: ProjectId,
) -> ApiResult<bool> {
    let (_, role_scopes) = project_standing(caller, project);
    let allowed = caller.access.project_scopes(role_scopes).contains(scope);
    Ok(allowed && (role_scopes.is_some() || exists(state, caller.org.uuid, project).await?))
}

/// Loads a project of the caller's organization. A project the caller cannot
/// see at all (another organization's, or no role on it) is `404`.
async fn on_project(state: &AppState, caller: &Caller, uuid: ProjectId) -> ApiResult<OnProject> {
    let project = state
        .store
        .project(caller.org.uuid, uuid)
        .await?
        .ok_or(ApiError::NotFound)?;
    let (project_role, role_scopes) = project_standing(caller, uuid);
    if !caller
        .access
        .project_scopes_unnarrowed(role_scopes)
        .contains(Scope::PROJECTS_READ)
    {
        return Err(ApiError::NotFound);
    }
    Ok(OnProject {
        project,
        scopes: caller.access.project_scopes(role_scopes),
        role: effective_role(caller.role, project_role),
    })
}

/// Projects the caller can read.
#[utoipa::path(get, path = "/api/v1/org/projects", tag = "projects", responses((status = 200, body = Vec<ProjectView>)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<JsonOk<Vec<ProjectView>>> {
    let projects = state.store.projects(caller.org.uuid).await?;
    let views = projects
        .iter()
        .filter_map(|p| {
            let (project_role, role_scopes) = project_standing(&caller, p.uuid);
            let scopes = caller.access.project_scopes(role_scopes);
            scopes
                .contains(Scope::PROJECTS_READ)
                .then(|| ProjectView::of(p, effective_role(caller.role, project_role)))
        })
        .collect();
    Ok(ok(views))
}

#[utoipa::path(post, path = "/api/v1/org/projects", tag = "projects", request_body = ProjectRequest,
    responses((status = 201, body = ProjectView), (status = 403), (status = 409)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<ProjectRequest>,
) -> ApiResult<Response> {
    caller.require(Scope::PROJECTS_WRITE, &state.catalog)?;
    let name = super::name(&req.name)?;
    let at = now();
    let actor = caller.actor();
    let project = Project {
        uuid: ProjectId::random(),
        org_uuid: caller.org.uuid,
        name: name.into(),
        created_at: at,
        created_by: actor.clone(),
        updated_at: at,
        updated_by: actor,
    };
    let event = caller.audit(
        AuditAction::ProjectCreated,
        Some(project_target(&project)),
        json!({}),
        at,
    );
    state.store.create_project(&project, &event).await?;
    Ok(created(ProjectView::of(&project, effective_role(caller.role, None))).into_response())
}

#[utoipa::path(get, path = "/api/v1/projects/{projectUuid}", tag = "projects",
    params(("projectUuid" = Uuid, Path)), responses((status = 200, body = ProjectView), (status = 404)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    PathUuid(uuid): PathUuid<ProjectId>,
) -> ApiResult<JsonOk<ProjectView>> {
    let on = on_project(&state, &caller, uuid).await?;
    require_in(on.scopes, Scope::PROJECTS_READ, &state.catalog)?;
    Ok(ok(ProjectView::of(&on.project, on.role)))
}

#[utoipa::path(patch, path = "/api/v1/projects/{projectUuid}", tag = "projects", request_body = ProjectRequest,
    params(("projectUuid" = Uuid, Path)), responses((status = 200, body = ProjectView), (status = 403), (status = 404), (status = 409)))]
pub async fn rename(
    State(state): State<AppState>,
    caller: Caller,
    PathUuid(uuid): PathUuid<ProjectId>,
    ApiJson(req): ApiJson<ProjectRequest>,
) -> ApiResult<JsonOk<ProjectView>> {
    let on = on_project(&state, &caller, uuid).await?;
    require_in(on.scopes, Scope::PROJECTS_WRITE, &state.catalog)?;
    let name = super::name(&req.name)?;
    let at = now();
    let details = json!({ "previousName": on.project.name, "name": name });
    let event = caller.audit(
        AuditAction::ProjectUpdated,
        Some(project_target(&on.project)),
        details,
        at,
    );
    state
        .store
        .rename_project(caller.org.uuid, uuid, &name, &caller.actor(), at, &event)
        .await?;
    let project = state
        .store
        .project(caller.org.uuid, uuid)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(ok(ProjectView::of(&project, on.role)))
}

#[utoipa::path(delete, path = "/api/v1/projects/{projectUuid}", tag = "projects",
    params(("projectUuid" = Uuid, Path)), responses((status = 204), (status = 403), (status = 404)))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathUuid(uuid): PathUuid<ProjectId>,
) -> ApiResult<StatusCode> {
    let on = on_project(&state, &caller, uuid).await?;
    require_in(on.scopes, Scope::PROJECTS_WRITE, &state.catalog)?;
    let event = caller.audit(
        AuditAction::ProjectDeleted,
        Some(project_target(&on.project)),
        json!({}),
        now(),
    );
    state
        .store
        .delete_project(caller.org.uuid, uuid, &event)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Project roles given on the project.
#[utoipa::path(get, path = "/api/v1/projects/{projectUuid}/access", tag = "projects",
    params(("projectUuid" = Uuid, Path)), responses((status = 200, body = Vec<ProjectAccessView>), (status = 403), (status = 404)))]
pub async fn access(
    State(state): State<AppState>,
    caller: Caller,
    PathUuid(uuid): PathUuid<ProjectId>,
) -> ApiResult<JsonOk<Vec<ProjectAccessView>>> {
    let on = on_project(&state, &caller, uuid).await?;
    require_in(on.scopes, Scope::MEMBERS_WRITE, &state.catalog)?;
    let grants = state.store.project_access(uuid).await?;
    let names = super::custom_role_names(&state, caller.org.uuid).await?;
    Ok(ok(grants
        .into_iter()
        .map(|g| ProjectAccessView {
            user_uuid: g.user.uuid.into(),
            email: g.user.email,
            name: g.user.name,
            role: g.role.base_role(),
            custom_role: g.role.custom().map(|uuid| CustomRoleRef {
                uuid: uuid.into(),
                name: names.get(&uuid).cloned().unwrap_or_default(),
            }),
        })
        .collect()))
}

/// Give or change a member's project role.
#[utoipa::path(put, path = "/api/v1/projects/{projectUuid}/access/{userUuid}", tag = "projects", request_body = ProjectRoleRequest,
    params(("projectUuid" = Uuid, Path), ("userUuid" = Uuid, Path)),
    responses((status = 200, body = ProjectAccessView), (status = 403), (status = 404)))]
pub async fn grant(
    State(state): State<AppState>,
    caller: Caller,
    PathUuids(uuid, user_uuid): PathUuids<ProjectId, UserId>,
    ApiJson(req): ApiJson<ProjectRoleRequest>,
) -> ApiResult<JsonOk<ProjectAccessView>> {
    let on = on_project(&state, &caller, uuid).await?;
    require_in(on.scopes, Scope::MEMBERS_WRITE, &state.catalog)?;
    let given = resolve_role(&state, &caller.org, req.role, req.custom_role_uuid)
        .await?
        .ok_or_else(|| ApiError::invalid("role", "give a role or a customRoleUuid"))?;
    let role = given.role;
    if given.custom.is_none() && !role.is_project_role() {
        return Err(ApiError::invalid(
            "role",
            "a project role is viewer or above",
        ));
    }
    let given_scopes = match &given.custom {
        Some(_) => given.scopes,
        None => role.scopes(),
    };
    if !given_scopes.is_subset_of(on.scopes) {
        return Err(ApiError::RoleTooHigh);
    }
    let member = state
        .store
        .member(caller.org.uuid, user_uuid)
        .await?
        .ok_or(ApiError::NotFound)?;
    let at = now();
    let mut details = given.describe();
    details["user"] = json!({ "uuid": member.user.uuid, "email": member.user.email });
    let event = caller.audit(
        AuditAction::ProjectAccessGranted,
        Some(project_target(&on.project)),
        details,
        at,
    );
    match &given.custom {
        Some(custom) => {
            state
                .store
                .set_project_custom_role(caller.org.uuid, uuid, user_uuid, custom.uuid, at, &event)
                .await?
        }
        None => {
            state
                .store
                .set_project_role(caller.org.uuid, uuid, user_uuid, role, at, &event)
                .await?
        }
    }
    Ok(ok(ProjectAccessView {
        user_uuid: user_uuid.into(),
        email: member.user.email,
        name: member.user.name,
        role,
        custom_role: given.custom.as_ref().map(|c| CustomRoleRef {
            uuid: c.uuid.into(),
            name: c.name.clone(),
        }),
    }))
}

/// Take a project role away.
#[utoipa::path(delete, path = "/api/v1/projects/{projectUuid}/access/{userUuid}", tag = "projects",
    params(("projectUuid" = Uuid, Path), ("userUuid" = Uuid, Path)), responses((status = 204), (status = 403), (status = 404)))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    PathUuids(uuid, user_uuid): PathUuids<ProjectId, UserId>,
) -> ApiResult<StatusCode> {
    let on = on_project(&state, &caller, uuid).await?;
    require_in(on.scopes, Scope::MEMBERS_WRITE, &state.catalog)?;
    let details = json!({ "user": { "uuid": user_uuid } });
    let event = caller.audit(
        AuditAction::ProjectAccessRevoked,
        Some(project_target(&on.project)),
        details,
        now(),
    );
    state
        .store
        .remove_project_role(uuid, user_uuid, &event)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
