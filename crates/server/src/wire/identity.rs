//! Who is calling and which organizations: `/user`, `/org`, `/orgs`.

use super::roles::CustomRoleRef;
use latchkey_core::{Actor, CredentialKind, Plan, Role};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgView {
    pub uuid: Uuid,
    pub name: String,
    pub plan: Plan,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub uuid: Uuid,
    pub email: String,
    pub name: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrincipalView {
    #[serde(flatten)]
    pub actor: Actor,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialView {
    pub kind: CredentialKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uuid: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_prefix: Option<String>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_at: Option<OffsetDateTime>,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CurrentUser {
    pub principal: PrincipalView,
    pub org: OrgView,
    pub role: Option<Role>,
    pub custom_role: Option<CustomRoleRef>,
    /// Organization-wide effective scopes, after any token narrowing.
    pub scopes: Vec<String>,
    /// For a user: the scopes a personal access token made now may carry
    /// (organization role and project roles, within any narrowing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grantable_scopes: Option<Vec<String>>,
    pub credential: CredentialView,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgDetail {
    pub uuid: Uuid,
    pub name: String,
    pub plan: Plan,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct CreateOrgRequest {
    #[schema(min_length = 1, max_length = 100, format = "latchkey-name")]
    pub name: String,
}
