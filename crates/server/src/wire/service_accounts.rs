//! Service accounts: organization-wide or per-project machine credentials.

use super::roles::CustomRoleRef;
use latchkey_core::grant::LEGACY_SCOPES;
use latchkey_core::{AccountScope, Actor, Role, TokenSecret};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// One project row of a project-scoped service account: the project and the
/// role the account holds on it (a system role or a custom role).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectGrantView {
    pub project_uuid: Uuid,
    pub project_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_role: Option<CustomRoleRef>,
}

/// A credential object (API.md) with the account's role or project rows.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccountView {
    pub uuid: Uuid,
    /// The description, as credential lists and the audit log name it.
    pub name: String,
    pub description: String,
    pub display_prefix: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub rotated_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    pub scope: AccountScope,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_role: Option<CustomRoleRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legacy_scopes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub projects: Option<Vec<ProjectGrantView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_count: Option<usize>,
    pub created_by: Actor,
    /// Deprecation notices (legacy scopes); only in the response that creates it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<String>>,
    /// The secret: only in the response that creates or rotates the account.
    #[serde(
        default,
        with = "super::revealed",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub token: Option<TokenSecret>,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectRowRequest {
    pub project_uuid: Uuid,
    #[schema(schema_with = crate::openapi::optional_role_from_viewer)]
    pub role: Option<Role>,
    pub custom_role_uuid: Option<Uuid>,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateServiceAccountRequest {
    #[schema(min_length = 1, max_length = 1000, format = "latchkey-name")]
    pub description: String,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    pub scope: AccountScope,
    /// Organization scope: a system role from `viewer` up.
    pub role: Option<Role>,
    /// Organization scope: a custom role of the organization.
    pub custom_role_uuid: Option<Uuid>,
    /// Organization scope, deprecated: `org:view`, `org:edit` or `org:admin`.
    #[schema(schema_with = legacy_scopes)]
    pub scopes: Option<Vec<String>>,
    /// Project scope: one row per project.
    pub projects: Option<Vec<ProjectRowRequest>>,
}

/// Null, or legacy scopes.
fn legacy_scopes() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(LEGACY_SCOPES)),
        )
        .description(Some(
            "Organization scope, deprecated: `org:view`, `org:edit` or `org:admin`.",
        ))
        .build()
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateServiceAccountRequest {
    #[schema(min_length = 1, max_length = 1000, format = "latchkey-name")]
    pub description: Option<String>,
    /// Earlier than the current expiry, or a first one.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    pub role: Option<Role>,
    pub custom_role_uuid: Option<Uuid>,
    /// Immutable: giving it is `400 immutable_field`.
    #[schema(value_type = Option<String>)]
    pub scope: Option<serde_json::Value>,
    /// Immutable: giving it is `400 immutable_field`.
    #[schema(value_type = Option<Vec<Object>>)]
    pub projects: Option<serde_json::Value>,
    /// Legacy scopes are not changed; give a role instead.
    pub scopes: Option<serde_json::Value>,
}
