//! `POST /api/v1/auth/verify`: a backend asks about a token.

use super::identity::{CredentialView, PrincipalView};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyRequest {
    pub token: String,
    /// Ask whether this scope is allowed…
    #[schema(value_type = Option<crate::openapi::ScopeName>)]
    pub scope: Option<String>,
    /// …on this project (organization-wide when absent).
    pub project_uuid: Option<Uuid>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct VerifyOrg {
    pub uuid: Uuid,
    pub name: String,
}

// Built once per request and serialized at once; boxing would only allocate.
#[allow(clippy::large_enum_variant)]
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum VerifyResult {
    Valid {
        valid: bool,
        principal: PrincipalView,
        org: VerifyOrg,
        credential: CredentialView,
        scopes: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        allowed: Option<bool>,
    },
    Invalid {
        valid: bool,
        // Borrowed when built (a refusal's code), owned when read.
        code: std::borrow::Cow<'static, str>,
    },
}
