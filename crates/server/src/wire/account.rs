//! A person's own account: password (and, later, sessions and two-factor).

use latchkey_core::secret::expose_to_serializer;
use latchkey_core::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangePasswordRequest {
    #[schema(value_type = String, max_length = 256)]
    #[serde(serialize_with = "expose_to_serializer")]
    pub current_password: SecretString,
    #[schema(value_type = String, min_length = 8, max_length = 256)]
    #[serde(serialize_with = "expose_to_serializer")]
    pub new_password: SecretString,
}

/// One of the caller's own live sessions, in any of their organizations.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    pub uuid: uuid::Uuid,
    /// The organization it is signed in to.
    pub org_uuid: uuid::Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
    /// Its last request, to the minute (written in batches); `null` until then.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_seen_at: Option<time::OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: time::OffsetDateTime,
    /// The address it signed in from.
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The session making this request.
    pub current: bool,
}
