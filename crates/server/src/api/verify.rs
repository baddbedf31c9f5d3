//! `POST /api/v1/auth/verify`: any backend asks latchkey about a token.

use super::{ok, JsonOk};
use crate::auth::{refused_verification, verify_token, Client};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::state::{now, AppState};
use crate::wire::{CredentialView, PrincipalView, VerifyOrg, VerifyRequest, VerifyResult};
use axum::extract::State;
use latchkey_core::Scope;

/// Valid or not, why not, who, which organization, which scopes, and
/// whether a scope is allowed (on a project). Always `200` when well formed;
/// `429` only for an invalid token, once its address has had 60 invalid
/// answers in a minute (a valid token is never refused).
#[utoipa::path(post, path = "/api/v1/auth/verify", tag = "verification", request_body = VerifyRequest,
    responses((status = 200, body = VerifyResult), (status = 400), (status = 429)))]
pub async fn verify(
    State(state): State<AppState>,
    client: Client,
    ApiJson(req): ApiJson<VerifyRequest>,
) -> ApiResult<JsonOk<VerifyResult>> {
    let at = now();
    if req.token.len() > 1024 {
        return Err(ApiError::invalid("token", "too long"));
    }
    let scope: Option<Scope> = req
        .scope
        .as_deref()
        .map(|s| {
            state
                .catalog
                .parse(s)
                .ok_or_else(|| ApiError::invalid("scope", "unknown scope"))
        })
        .transpose()?;
    let caller = match verify_token(&state, &req.token, &client, at).await? {
        Ok(caller) => caller,
        Err(refusal) => {
            let failure = refused_verification(&state, &refusal, &client, at).await?;
            return Ok(ok(VerifyResult::Invalid {
                valid: false,
                code: failure.code().into(),
            }));
        }
    };
    let allowed = match (scope, req.project_uuid) {
        (None, _) => None,
        (Some(scope), None) => Some(caller.access.org_scopes().contains(scope)),
        (Some(scope), Some(project)) => Some(
            crate::api::projects::scope_on_project(&state, &caller, scope, project.into()).await?,
        ),
    };
    Ok(ok(VerifyResult::Valid {
        valid: true,
        principal: PrincipalView::of(&caller),
        org: VerifyOrg {
            uuid: caller.org.uuid.into(),
            name: caller.org.name.clone(),
        },
        credential: CredentialView::of(&caller),
        scopes: state.catalog.names(caller.access.org_scopes()),
        allowed,
    }))
}
