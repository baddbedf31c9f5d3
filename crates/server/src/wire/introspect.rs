//! `POST /oauth2/introspect` (RFC 7662): the form a resource server posts
//! and the two shapes of the answer.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use uuid::Uuid;

/// The form body (`application/x-www-form-urlencoded`).
#[derive(Deserialize, ToSchema)]
pub struct IntrospectRequest {
    /// The token asked about; any string at all (one that is no token, of
    /// any length, is simply not active).
    pub token: String,
    /// Accepted and ignored: latchkey tells its tokens apart by prefix.
    pub token_type_hint: Option<String>,
}

/// An active token (RFC 7662 §2.2 plus latchkey's own members).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct IntrospectActive {
    /// Always `true` in this shape.
    pub active: bool,
    /// The organization-wide effective scopes, space-separated.
    pub scope: String,
    /// The credential's uuid.
    pub client_id: Uuid,
    /// A user's email, an API key's name, a service account's description.
    pub username: String,
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// The principal's uuid.
    pub sub: Uuid,
    /// Creation or last rotation, Unix seconds.
    pub iat: i64,
    /// Expiry, Unix seconds; absent for a token without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// This server (`--public-url`).
    pub iss: String,
    pub latchkey_org_id: Uuid,
    pub latchkey_org_name: String,
    /// `user`, `api_key` or `service_account`.
    pub latchkey_principal_type: String,
    /// `pat`, `api_key` or `service_account`.
    pub latchkey_credential_kind: String,
    /// For a project-scoped service account only: each project's scopes,
    /// space-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latchkey_projects: Option<BTreeMap<Uuid, String>>,
}

/// Anything else: exactly `{"active": false}`, saying nothing of why.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntrospectInactive {
    /// Always `false` in this shape.
    pub active: bool,
}

// Built once per request and serialized at once.
#[allow(clippy::large_enum_variant)]
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum IntrospectResponse {
    Active(IntrospectActive),
    Inactive(IntrospectInactive),
}

/// RFC 6749 §5.2's error body: `{"error": "invalid_client"}`.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct OAuthError {
    #[schema(example = "invalid_client")]
    pub error: String,
}
