//! Members of the organization and their invitations.

use super::roles::CustomRoleRef;
use latchkey_core::Role;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberView {
    pub user_uuid: Uuid,
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
    pub custom_role: Option<CustomRoleRef>,
    /// `invited` until the person accepts, then `active` or `suspended`.
    #[schema(value_type = String, example = "active")]
    pub status: String,
    pub suspended: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Only in the response that invites or reissues: the link to accept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invite_url: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddMemberRequest {
    #[schema(format = "latchkey-email")]
    pub email: String,
    #[schema(min_length = 1, max_length = 100, format = "latchkey-name")]
    pub name: Option<String>,
    pub role: Option<Role>,
    pub custom_role_uuid: Option<Uuid>,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateMemberRequest {
    pub role: Option<Role>,
    pub custom_role_uuid: Option<Uuid>,
    pub suspended: Option<bool>,
}
