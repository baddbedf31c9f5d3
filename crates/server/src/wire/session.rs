//! Web sessions: signing in, switching organization, accepting invitations.

use super::identity::{OrgView, UserView};
use latchkey_core::secret::{expose_option_to_serializer, expose_to_serializer, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginRequest {
    #[schema(max_length = 254)]
    pub email: String,
    #[schema(value_type = String, max_length = 256)]
    #[serde(serialize_with = "expose_to_serializer")]
    pub password: SecretString,
    pub org_uuid: Option<Uuid>,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginResult {
    pub user: UserView,
    pub org: OrgView,
    /// Send back as `X-CSRF-Token` on every session request that changes anything.
    pub csrf_token: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActiveOrgRequest {
    pub org_uuid: Uuid,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcceptInviteRequest {
    /// Only through the link that may set the account's password (the
    /// first organization to invite a new person), and without a session.
    #[schema(value_type = Option<String>, min_length = 8, max_length = 256)]
    #[serde(serialize_with = "expose_option_to_serializer")]
    pub password: Option<SecretString>,
    #[schema(min_length = 1, max_length = 100, format = "latchkey-name")]
    pub name: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcceptInviteResult {
    pub user: UserView,
    pub org_uuid: Uuid,
}
