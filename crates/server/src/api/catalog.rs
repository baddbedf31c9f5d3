//! The scope catalog and the roles built from it.

use super::{ok, JsonOk};
use crate::auth::Caller;
use crate::state::AppState;
use crate::wire::{CustomRoleView, RolesView, ScopeView, SystemRoleView};
use axum::extract::State;
use latchkey_core::Role;

/// Every scope this instance knows.
#[utoipa::path(get, path = "/api/v1/org/scopes", tag = "roles", responses((status = 200, body = Vec<ScopeView>)))]
pub async fn scopes(State(state): State<AppState>, _caller: Caller) -> JsonOk<Vec<ScopeView>> {
    ok(state
        .catalog
        .entries()
        .map(|(scope, description)| ScopeView {
            scope: scope.to_string(),
            description: description.to_string(),
        })
        .collect())
}

/// System roles with their scopes, and the organization's custom roles.
#[utoipa::path(get, path = "/api/v1/org/roles", tag = "roles", responses((status = 200, body = RolesView)))]
pub async fn roles(
    State(state): State<AppState>,
    caller: Caller,
) -> crate::error::ApiResult<JsonOk<RolesView>> {
    let custom = state.store.custom_roles(caller.org.uuid).await?;
    Ok(ok(RolesView {
        system_roles: Role::ALL
            .into_iter()
            .map(|role| SystemRoleView {
                role,
                scopes: state.catalog.names(role.scopes_in(&state.catalog)),
            })
            .collect(),
        custom_roles: custom.iter().map(CustomRoleView::of).collect(),
    }))
}
