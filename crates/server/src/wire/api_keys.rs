//! Organization API keys.

use latchkey_core::{Actor, Role, TokenSecret};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// A credential object (API.md) with the key's fixed role and its creator.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyView {
    pub uuid: Uuid,
    pub name: String,
    pub display_prefix: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub rotated_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    pub role: Role,
    pub created_by: Actor,
    /// The secret: only in the response that creates or rotates the key.
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
pub struct CreateApiKeyRequest {
    #[schema(min_length = 1, max_length = 100, format = "latchkey-name")]
    pub name: String,
    /// A system role from `viewer` up, no higher than the creator's.
    #[schema(schema_with = crate::openapi::role_from_viewer)]
    pub role: Role,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateApiKeyRequest {
    #[schema(min_length = 1, max_length = 100, format = "latchkey-name")]
    pub name: Option<String>,
    /// Earlier than the current expiry, or a first one (it only shortens the
    /// key's life); later is `400 expiry_extension_not_allowed`.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}
