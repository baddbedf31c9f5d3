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
