//! The scope catalog, system roles and custom roles.

use latchkey_core::{Actor, Role};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// `{uuid, name}` of a custom role, as members, grants and `/user` show it.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct CustomRoleRef {
    pub uuid: Uuid,
    pub name: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ScopeView {
    pub scope: String,
    pub description: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct SystemRoleView {
    pub role: Role,
    pub scopes: Vec<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct RolesView {
    pub system_roles: Vec<SystemRoleView>,
    pub custom_roles: Vec<CustomRoleView>,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomRoleView {
    pub uuid: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub scopes: Vec<String>,
    pub created_by: Actor,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateRoleRequest {
    #[schema(min_length = 1, max_length = 100, format = "latchkey-name")]
    pub name: String,
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    #[schema(value_type = Vec<crate::openapi::ScopeName>, min_items = 1, max_items = 128)]
    pub scopes: Vec<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateRoleRequest {
    #[schema(min_length = 1, max_length = 100, format = "latchkey-name")]
    pub name: Option<String>,
    /// `null` or `""` clears it.
    #[serde(
        default,
        with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    #[schema(max_length = 1000)]
    pub description: Option<Option<String>>,
    #[schema(value_type = Option<Vec<crate::openapi::ScopeName>>, min_items = 1, max_items = 128)]
    pub scopes: Option<Vec<String>>,
}
