//! Every failure body: `{"status": "error", "error": {…}}` (the `Error`
//! schema of the OpenAPI document, written out in `openapi.rs`).

use serde::{Deserialize, Serialize};
use std::borrow::Cow;

// Fields in alphabetical order: the order these bodies have always had on
// the wire (they were JSON maps, which sort their keys).
#[derive(Serialize, Deserialize, Debug)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
    /// `error`; borrowed when built, owned when read.
    pub status: Cow<'static, str>,
}

#[derive(Serialize, Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// Stable and machine-readable: `invalid_request`, `missing_scope`, …
    pub code: Cow<'static, str>,
    /// What the code adds: the `field` of an `invalid_request`, the
    /// `requiredScope` of a `missing_scope`, `retryAfter`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
    pub message: String,
    pub status_code: u16,
}

impl ErrorBody {
    /// `details.<key>` as a string, when given.
    pub fn detail_str(&self, key: &str) -> Option<&str> {
        self.details.as_ref()?.get(key)?.as_str()
    }
}
