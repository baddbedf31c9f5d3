//! Projects and the project roles given on them.

use super::roles::CustomRoleRef;
use latchkey_core::{Actor, Role};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectView {
    pub project_uuid: Uuid,
    pub name: String,
    /// The caller's effective role on the project.
    pub role: Option<Role>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: Actor,
    pub updated_by: Actor,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ProjectRequest {
    #[schema(min_length = 1, max_length = 100, format = "latchkey-name")]
    pub name: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectAccessView {
    pub user_uuid: Uuid,
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
    pub custom_role: Option<CustomRoleRef>,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectRoleRequest {
    #[schema(schema_with = crate::openapi::optional_role_from_viewer)]
    pub role: Option<Role>,
    pub custom_role_uuid: Option<Uuid>,
}
