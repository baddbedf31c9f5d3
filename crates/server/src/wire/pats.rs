//! Personal access tokens, and the rotation request every credential shares.

use latchkey_core::{Actor, TokenSecret};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// A credential object (API.md), with a PAT's own scope list.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PatView {
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
    /// `null` is the owner's full role.
    pub scopes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<Actor>,
    /// The secret: only in the response that creates or rotates the token.
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
pub struct CreatePatRequest {
    #[schema(min_length = 1, max_length = 100, format = "latchkey-name")]
    pub name: String,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// A subset of the caller's scopes; absent or `null` is the full role.
    #[schema(value_type = Option<Vec<crate::openapi::ScopeName>>, max_items = 128)]
    pub scopes: Option<Vec<String>>,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdatePatRequest {
    #[schema(min_length = 1, max_length = 100, format = "latchkey-name")]
    pub name: Option<String>,
    /// A new list (within what you hold), or `null` for the full role (a
    /// narrowed token passes on its own list instead).
    #[serde(
        default,
        with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<Vec<crate::openapi::ScopeName>>, max_items = 128)]
    pub scopes: Option<Option<Vec<String>>>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RotateRequest {
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}
