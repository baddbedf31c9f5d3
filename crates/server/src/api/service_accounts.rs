//! Service accounts (enterprise plan): credentials of the organization for
//! machines, with a role across the organization (system role, custom role
//! or legacy scopes) or one role per project (PRODUCT.md §2, API.md).

use super::pats::{check_lifetime, rotate_credential};
use super::{created, mint, ok, resolve_role, GivenRole, JsonOk};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, PathUuid};
use crate::state::{now, AppState};
use crate::wire::{
    CreateServiceAccountRequest, CustomRoleRef, ProjectGrantView, RotateRequest,
    ServiceAccountView, UpdateServiceAccountRequest,
};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use latchkey_core::grant::{legacy_scope_role, LEGACY_SCOPES};
use latchkey_core::{
    limits, policy, CredentialId, OrgId, Plan, ProjectId, Role, RoleId, Scope, ScopeSet, Target,
    TokenKind,
};
use latchkey_core::{AuditAction, TargetKind};
use latchkey_core::{Grant, Reach};
use latchkey_store::{
    AccountReach, AccountScope, Credential, RoleRef, ServiceAccount, ServiceAccountChange,
    ServiceAccountGrant,
};
use serde_json::json;
use std::collections::{HashMap, HashSet};

/// Names of the organization's projects and custom roles, for views.
struct Names {
    projects: HashMap<ProjectId, String>,
    roles: HashMap<RoleId, String>,
}

impl Names {
    async fn load(state: &AppState, org: OrgId) -> ApiResult<Names> {
        Ok(Names {
            projects: state
                .store
                .projects(org)
                .await?
                .into_iter()
                .map(|p| (p.uuid, p.name))
                .collect(),
            roles: super::custom_role_names(state, org).await?,
        })
    }

    fn role(&self, uuid: RoleId) -> CustomRoleRef {
        CustomRoleRef {
            uuid: uuid.into(),
            name: self.roles.get(&uuid).cloned().unwrap_or_default(),
        }
    }
}

impl ServiceAccountView {
    fn of(a: &ServiceAccount, names: &Names) -> ServiceAccountView {
        let c = &a.credential;
        let (role, custom_role, legacy_scopes, rows) = match &a.reach {
            AccountReach::Organization(RoleRef::System(r)) => (Some(*r), None, None, None),
            AccountReach::Organization(RoleRef::Custom(u)) => {
                (None, Some(names.role(*u)), None, None)
            }
            AccountReach::Legacy(scopes) => (None, None, Some(scopes.clone()), None),
            AccountReach::Projects(rows) => (None, None, None, Some(rows)),
        };
        ServiceAccountView {
            uuid: c.uuid.into(),
            name: c.name.clone(),
            description: c.name.clone(),
            display_prefix: c.display_prefix.clone(),
            expires_at: c.expires_at,
            created_at: c.created_at,
            rotated_at: c.rotated_at,
            last_used_at: c.last_used_at,
            scope: a.reach.scope(),
            role,
            custom_role,
            legacy_scopes,
            projects: rows.map(|rows| {
                rows.iter()
                    .map(|g| ProjectGrantView {
                        project_uuid: g.project_uuid.into(),
                        project_name: names
                            .projects
                            .get(&g.project_uuid)
                            .cloned()
                            .unwrap_or_default(),
                        role: match g.role {
                            RoleRef::System(r) => Some(r),
                            RoleRef::Custom(_) => None,
                        },
                        custom_role: match g.role {
                            RoleRef::Custom(u) => Some(names.role(u)),
                            RoleRef::System(_) => None,
                        },
                    })
                    .collect()
            }),
            project_count: rows.map(|rows| rows.len()),
            created_by: c.created_by.clone(),
            warnings: None,
            token: None,
        }
    }
}

fn target(c: &Credential) -> Target {
    Target {
        kind: TargetKind::ServiceAccount,
        uuid: c.uuid.into(),
        name: c.name.clone(),
    }
}

/// Creating and editing need service accounts on for the instance and the
/// enterprise plan. Listing, rotating and deleting never do: an admin can
/// always see and remove what exists (after a downgrade, existing accounts
/// keep working; with the instance switch off, their tokens are refused).
fn creatable(state: &AppState, caller: &Caller) -> ApiResult<()> {
    if !state.service_accounts_enabled {
        return Err(ApiError::FeatureDisabled(
            "service accounts are turned off on this instance".into(),
        ));
    }
    if caller.org.plan != Plan::Enterprise {
        return Err(ApiError::PlanRequired);
    }
    Ok(())
}

async fn account(
    state: &AppState,
    caller: &Caller,
    uuid: CredentialId,
) -> ApiResult<ServiceAccount> {
    state
        .store
        .service_account(caller.org.uuid, uuid)
        .await?
        .ok_or(ApiError::NotFound)
}

/// The scopes of a role reference as this instance reads them now.
async fn role_ref_scopes(state: &AppState, org: OrgId, role: &RoleRef) -> ApiResult<ScopeSet> {
    let custom = match role.custom() {
        Some(uuid) => state.store.custom_role(org, uuid).await?,
        None => None,
    };
    let names = custom.as_ref().map(|r| r.scopes.as_slice());
    Ok(Grant::of(*role, names).scopes(&state.catalog, Reach::Project))
}

/// Whether the caller holds, on that project, every scope given there.
fn check_project_grant(caller: &Caller, project: ProjectId, scopes: ScopeSet) -> ApiResult<()> {
    let (_, standing) = super::projects::project_standing(caller, project);
    if scopes.is_subset_of(caller.access.project_scopes(standing)) {
        Ok(())
    } else {
        Err(ApiError::RoleTooHigh)
    }
}

/// No credential hands out (by creation, change or rotation) an account
/// more powerful than itself: `403 role_too_high`.
async fn check_account_fits(
    state: &AppState,
    caller: &Caller,
    a: &ServiceAccount,
) -> ApiResult<()> {
    let scopes = match &a.reach {
        AccountReach::Projects(rows) => {
            for g in rows {
                let scopes = role_ref_scopes(state, caller.org.uuid, &g.role).await?;
                check_project_grant(caller, g.project_uuid, scopes)?;
            }
            return Ok(());
        }
        AccountReach::Organization(RoleRef::System(r)) => {
            Grant::System(*r).scopes(&state.catalog, Reach::Organization)
        }
        // A custom role's scopes are the same wherever it applies.
        AccountReach::Organization(custom) => {
            role_ref_scopes(state, caller.org.uuid, custom).await?
        }
        AccountReach::Legacy(names) => {
            Grant::Legacy(names).scopes(&state.catalog, Reach::Organization)
        }
    };
    if scopes.is_subset_of(caller.access.org_scopes()) {
        Ok(())
    } else {
        Err(ApiError::RoleTooHigh)
    }
}

/// The organization's service accounts, newest first; never their secrets.
#[utoipa::path(get, path = "/api/v1/service-accounts", tag = "service accounts",
    responses((status = 200, body = Vec<ServiceAccountView>), (status = 401, description = "missing_credentials, malformed_token, invalid_token, token_expired, token_revoked, account_suspended or feature_disabled"),
        (status = 403, description = "missing_scope service_accounts:write (listing needs no plan)")))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<JsonOk<Vec<ServiceAccountView>>> {
    caller.require(Scope::SERVICE_ACCOUNTS_WRITE, &state.catalog)?;
    let accounts = state.store.service_accounts(caller.org.uuid).await?;
    let names = Names::load(&state, caller.org.uuid).await?;
    Ok(ok(accounts
        .iter()
        .map(|a| ServiceAccountView::of(a, &names))
        .collect()))
}

/// What an organization-scoped account is given.
enum OrgRole {
    Given(GivenRole),
    Legacy(Vec<String>),
}

async fn organization_role(
    state: &AppState,
    caller: &Caller,
    req: &CreateServiceAccountRequest,
) -> ApiResult<OrgRole> {
    if req.projects.is_some() {
        return Err(ApiError::invalid(
            "projects",
            "projects go with scope \"project\"",
        ));
    }
    let given = [
        req.role.is_some(),
        req.custom_role_uuid.is_some(),
        req.scopes.is_some(),
    ];
    match given.iter().filter(|g| **g).count() {
        0 => {
            return Err(ApiError::invalid(
                "role",
                "give one of role, customRoleUuid or scopes",
            ))
        }
        1 => {}
        _ => {
            return Err(ApiError::invalid(
                "role",
                "give only one of role, customRoleUuid and scopes",
            ))
        }
    }
    if let Some(scopes) = &req.scopes {
        if scopes.is_empty() {
            return Err(ApiError::invalid("scopes", "give one legacy scope"));
        }
        let unknown: Vec<&str> = scopes
            .iter()
            .map(String::as_str)
            .filter(|s| legacy_scope_role(s).is_none())
            .collect();
        if !unknown.is_empty() {
            return Err(ApiError::invalid(
                "scopes",
                format!(
                    "only the legacy scopes {} are accepted here (use role or customRoleUuid instead); unknown: {}",
                    LEGACY_SCOPES.join(", "),
                    unknown.join(", ")
                ),
            ));
        }
        let mut names: Vec<String> = Vec::new();
        for s in scopes {
            if !names.contains(s) {
                names.push(s.clone());
            }
        }
        return Ok(OrgRole::Legacy(names));
    }
    let given = resolve_role(state, &caller.org, req.role, req.custom_role_uuid)
        .await?
        .ok_or_else(|| ApiError::invalid("role", "give one of role, customRoleUuid or scopes"))?;
    if given.custom.is_none() && given.role == Role::Member {
        return Err(ApiError::invalid(
            "role",
            "an organization-scoped service account's role is viewer or above: a member account could do nothing",
        ));
    }
    Ok(OrgRole::Given(given))
}

async fn project_rows(
    state: &AppState,
    caller: &Caller,
    req: &CreateServiceAccountRequest,
) -> ApiResult<Vec<ServiceAccountGrant>> {
    if req.scopes.is_some() {
        return Err(ApiError::invalid(
            "scopes",
            "legacy scopes apply to organization scope only",
        ));
    }
    if req.role.is_some() || req.custom_role_uuid.is_some() {
        let field = if req.role.is_some() {
            "role"
        } else {
            "customRoleUuid"
        };
        return Err(ApiError::invalid(
            field,
            "with scope \"project\" each row of projects carries its role",
        ));
    }
    let rows = match &req.projects {
        Some(rows) if !rows.is_empty() => rows,
        _ => {
            return Err(ApiError::invalid(
                "projects",
                "give at least one project row",
            ))
        }
    };
    if rows.len() > limits::MAX_PROJECT_ROWS {
        return Err(ApiError::invalid(
            "projects",
            format!("at most {} rows", limits::MAX_PROJECT_ROWS),
        ));
    }
    let mut seen = HashSet::new();
    let mut grants = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let field = |name: &str| format!("projects[{i}].{name}");
        if !seen.insert(row.project_uuid) {
            return Err(ApiError::invalid(
                field("projectUuid"),
                "this project is listed twice",
            ));
        }
        if state
            .store
            .project(caller.org.uuid, row.project_uuid.into())
            .await?
            .is_none()
        {
            return Err(ApiError::invalid(
                field("projectUuid"),
                "no such project in this organization",
            ));
        }
        let given = resolve_role(state, &caller.org, row.role, row.custom_role_uuid)
            .await
            .map_err(|e| match e {
                ApiError::InvalidRequest { field: f, message } => ApiError::InvalidRequest {
                    field: f.map(|f| field(&f)),
                    message,
                },
                other => other,
            })?
            .ok_or_else(|| ApiError::invalid(field("role"), "give a role or a customRoleUuid"))?;
        if given.custom.is_none() && !given.role.is_project_role() {
            return Err(ApiError::invalid(
                field("role"),
                "a project role is viewer or above",
            ));
        }
        check_project_grant(caller, row.project_uuid.into(), given.scopes)?;
        grants.push(ServiceAccountGrant {
            project_uuid: row.project_uuid.into(),
            role: given.role_ref(),
        });
    }
    Ok(grants)
}

/// Create a service account; the response holds the secret, once.
///
/// Organization scope takes exactly one of `role`, `customRoleUuid` or the
/// deprecated `scopes` (`org:view|org:edit|org:admin`, accepted with
/// `warnings`); project scope takes `projects`, one row per project of this
/// organization with a `role` or `customRoleUuid`. Nothing given may exceed
/// what the creator holds (`403 role_too_high`).
#[utoipa::path(post, path = "/api/v1/service-accounts", tag = "service accounts", request_body = CreateServiceAccountRequest,
    responses((status = 201, body = ServiceAccountView),
        (status = 400, description = "invalid_request naming description, scope, role, customRoleUuid, scopes, projects or projects[i].…, or expiresAt"),
        (status = 401, description = "missing_credentials, malformed_token, invalid_token, token_expired, token_revoked, account_suspended or feature_disabled"),
        (status = 403, description = "missing_scope service_accounts:write, plan_required, feature_disabled, role_too_high, or lifetime_too_long")))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateServiceAccountRequest>,
) -> ApiResult<Response> {
    caller.require(Scope::SERVICE_ACCOUNTS_WRITE, &state.catalog)?;
    creatable(&state, &caller)?;
    let description = limits::name(
        "description",
        &req.description,
        limits::MAX_DESCRIPTION_CHARS,
    )?;
    let at = now();
    policy::check_new_expiry(req.expires_at, at)?;
    check_lifetime(&caller, req.expires_at)?;
    let (credential, secret) = mint(
        &caller,
        TokenKind::ServiceAccount,
        description,
        req.expires_at,
        at,
    );
    let mut warnings = None;
    let (reach, details) = match req.scope {
        AccountScope::Organization => match organization_role(&state, &caller, &req).await? {
            OrgRole::Given(given) => {
                if !given.scopes.is_subset_of(caller.access.org_scopes()) {
                    return Err(ApiError::RoleTooHigh);
                }
                (
                    AccountReach::Organization(given.role_ref()),
                    given.describe(),
                )
            }
            OrgRole::Legacy(names) => {
                if !Grant::Legacy(&names)
                    .scopes(&state.catalog, Reach::Organization)
                    .is_subset_of(caller.access.org_scopes())
                {
                    return Err(ApiError::RoleTooHigh);
                }
                warnings = Some(
                    names
                        .iter()
                        .map(|s| {
                            let role = legacy_scope_role(s).unwrap_or(Role::Viewer);
                            format!(
                                "the scope `{s}` is deprecated: it works as the `{}` role across the organization; give `role: \"{}\"` instead",
                                role.as_str(),
                                role.as_str()
                            )
                        })
                        .collect(),
                );
                let details = json!({ "legacyScopes": names });
                (AccountReach::Legacy(names), details)
            }
        },
        AccountScope::Project => {
            let grants = project_rows(&state, &caller, &req).await?;
            let details = json!({ "projectCount": grants.len() });
            (AccountReach::Projects(grants), details)
        }
    };
    let mut details = details;
    details["scope"] = json!(req.scope.as_str());
    details["displayPrefix"] = json!(credential.display_prefix);
    details["expiresAt"] = json!(credential.expires_at.map(|t| t.unix_timestamp()));
    let account = ServiceAccount { credential, reach };
    let event = caller.audit(
        AuditAction::ServiceAccountCreated,
        Some(target(&account.credential)),
        details,
        at,
    );
    state
        .store
        .insert_service_account(&account, &state.hasher.hash(secret.expose()), &event)
        .await?;
    // Read back, so the rows come in the order every list shows them.
    let account = self::account(&state, &caller, account.credential.uuid).await?;
    let names = Names::load(&state, caller.org.uuid).await?;
    let mut view = ServiceAccountView::of(&account, &names);
    view.token = Some(secret);
    view.warnings = warnings;
    Ok(created(view).into_response())
}

/// One service account.
#[utoipa::path(get, path = "/api/v1/service-accounts/{uuid}", tag = "service accounts",
    params(("uuid" = Uuid, Path)), responses((status = 200, body = ServiceAccountView), (status = 401, description = "missing_credentials, malformed_token, invalid_token, token_expired, token_revoked, account_suspended or feature_disabled"),
        (status = 403, description = "missing_scope service_accounts:write"), (status = 404)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    PathUuid(uuid): PathUuid<CredentialId>,
) -> ApiResult<JsonOk<ServiceAccountView>> {
    caller.require(Scope::SERVICE_ACCOUNTS_WRITE, &state.catalog)?;
    let a = account(&state, &caller, uuid).await?;
    let names = Names::load(&state, caller.org.uuid).await?;
    Ok(ok(ServiceAccountView::of(&a, &names)))
}

fn immutable(field: &str) -> ApiError {
    ApiError::BadRequest {
        code: "immutable_field",
        message: format!(
            "`{field}` of a service account cannot change after creation; create another account"
        ),
    }
}

/// Change the description, or the role of an organization-scoped account.
/// A service account's scope and project rows never change: giving `scope`
/// or `projects` (or a role for a project-scoped account) is
/// `400 immutable_field`.
#[utoipa::path(patch, path = "/api/v1/service-accounts/{uuid}", tag = "service accounts", request_body = UpdateServiceAccountRequest,
    params(("uuid" = Uuid, Path)),
    responses((status = 200, body = ServiceAccountView), (status = 400, description = "immutable_field (scope, projects, or the role of a project-scoped account), expiry_extension_not_allowed, or invalid_request"), (status = 401, description = "missing_credentials, malformed_token, invalid_token, token_expired, token_revoked, account_suspended or feature_disabled"),
        (status = 403, description = "missing_scope service_accounts:write, plan_required, feature_disabled, role_too_high, or lifetime_too_long"), (status = 404)))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    PathUuid(uuid): PathUuid<CredentialId>,
    ApiJson(req): ApiJson<UpdateServiceAccountRequest>,
) -> ApiResult<JsonOk<ServiceAccountView>> {
    caller.require(Scope::SERVICE_ACCOUNTS_WRITE, &state.catalog)?;
    creatable(&state, &caller)?;
    let a = account(&state, &caller, uuid).await?;
    if req.scope.is_some() {
        return Err(immutable("scope"));
    }
    if req.projects.is_some() {
        return Err(immutable("projects"));
    }
    if req.scopes.is_some() {
        return Err(ApiError::invalid(
            "scopes",
            "legacy scopes are not changed; give role or customRoleUuid instead",
        ));
    }
    let description = req
        .description
        .as_deref()
        .map(|d| limits::name("description", d, limits::MAX_DESCRIPTION_CHARS))
        .transpose()?;
    let given = resolve_role(&state, &caller.org, req.role, req.custom_role_uuid).await?;
    if given.is_some() && a.is_project_scoped() {
        return Err(immutable(if req.role.is_some() {
            "role"
        } else {
            "customRoleUuid"
        }));
    }
    // Nobody changes an account that holds more than they do.
    check_account_fits(&state, &caller, &a).await?;
    if let Some(given) = &given {
        if given.custom.is_none() && given.role == Role::Member {
            return Err(ApiError::invalid("role", "viewer or above"));
        }
        if !given.scopes.is_subset_of(caller.access.org_scopes()) {
            return Err(ApiError::RoleTooHigh);
        }
    }
    let at = now();
    if let Some(expires_at) = req.expires_at {
        policy::check_expiry_change(a.credential.expires_at, expires_at, at)?;
        check_lifetime(&caller, Some(expires_at))?;
    }
    if description.is_none() && given.is_none() && req.expires_at.is_none() {
        let names = Names::load(&state, caller.org.uuid).await?;
        return Ok(ok(ServiceAccountView::of(&a, &names)));
    }
    let mut details = json!({
        "previousDescription": a.credential.name,
        "description": description,
        "expiresAt": req.expires_at.map(|t| t.unix_timestamp()),
    });
    if let Some(given) = &given {
        details["newRole"] = given.describe();
        let (role, custom, legacy) = match &a.reach {
            AccountReach::Organization(RoleRef::System(r)) => (Some(*r), None, None),
            AccountReach::Organization(RoleRef::Custom(u)) => (None, Some(*u), None),
            AccountReach::Legacy(names) => (None, None, Some(names)),
            AccountReach::Projects(_) => (None, None, None),
        };
        details["previousRole"] = json!({
            "role": role,
            "customRoleUuid": custom,
            "legacyScopes": legacy,
        });
    }
    let event = caller.audit(
        AuditAction::ServiceAccountUpdated,
        Some(target(&a.credential)),
        details,
        at,
    );
    state
        .store
        .update_service_account(
            uuid,
            &ServiceAccountChange {
                name: description.map(String::from),
                role: given.as_ref().map(GivenRole::role_ref),
                expires_at: req.expires_at,
            },
            &event,
        )
        .await?;
    let a = account(&state, &caller, uuid).await?;
    let names = Names::load(&state, caller.org.uuid).await?;
    Ok(ok(ServiceAccountView::of(&a, &names)))
}

/// Delete a service account; its token stops working at once.
#[utoipa::path(delete, path = "/api/v1/service-accounts/{uuid}", tag = "service accounts",
    params(("uuid" = Uuid, Path)), responses((status = 204), (status = 401, description = "missing_credentials, malformed_token, invalid_token, token_expired, token_revoked, account_suspended or feature_disabled"),
        (status = 403, description = "missing_scope service_accounts:write (deleting needs no plan)"), (status = 404)))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathUuid(uuid): PathUuid<CredentialId>,
) -> ApiResult<StatusCode> {
    caller.require(Scope::SERVICE_ACCOUNTS_WRITE, &state.catalog)?;
    let a = account(&state, &caller, uuid).await?;
    let at = now();
    let details = json!({ "displayPrefix": a.credential.display_prefix });
    let event = caller.audit(
        AuditAction::ServiceAccountDeleted,
        Some(target(&a.credential)),
        details,
        at,
    );
    state.store.revoke_credential(uuid, at, &event).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// New secret, same account; the old secret stops working at once. As PAT
/// rotation: a new expiry in the future is required, an account without an
/// expiry cannot be rotated (`400 rotation_requires_expiry`), a second
/// rotation within an hour is `429`. The caller must hold what the account
/// holds (`403 role_too_high`).
#[utoipa::path(patch, path = "/api/v1/service-accounts/{uuid}/rotate", tag = "service accounts", request_body = RotateRequest,
    params(("uuid" = Uuid, Path)),
    responses((status = 200, body = ServiceAccountView), (status = 400, description = "rotation_requires_expiry, credential_expired, or expiresAt not in the future"), (status = 401, description = "missing_credentials, malformed_token, invalid_token, token_expired, token_revoked, account_suspended or feature_disabled"),
        (status = 403, description = "missing_scope service_accounts:write, role_too_high, or lifetime_too_long (rotating needs no plan)"), (status = 404), (status = 429)))]
pub async fn rotate(
    State(state): State<AppState>,
    caller: Caller,
    PathUuid(uuid): PathUuid<CredentialId>,
    ApiJson(req): ApiJson<RotateRequest>,
) -> ApiResult<JsonOk<ServiceAccountView>> {
    caller.require(Scope::SERVICE_ACCOUNTS_WRITE, &state.catalog)?;
    let a = account(&state, &caller, uuid).await?;
    check_account_fits(&state, &caller, &a).await?;
    let secret = rotate_credential(
        &state,
        &caller,
        &a.credential,
        req.expires_at,
        AuditAction::ServiceAccountRotated,
        target(&a.credential),
    )
    .await?;
    let a = account(&state, &caller, uuid).await?;
    let names = Names::load(&state, caller.org.uuid).await?;
    let mut view = ServiceAccountView::of(&a, &names);
    view.token = Some(secret);
    Ok(ok(view))
}
