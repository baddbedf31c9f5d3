//! Audit events as data: the domain decides what is recorded, storage writes
//! it in the same transaction as the change it records.

use crate::access::CredentialKind;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    User,
    ServiceAccount,
    ApiKey,
}

impl ActorKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::ServiceAccount => "service_account",
            ActorKind::ApiKey => "api_key",
        }
    }

    pub fn parse(s: &str) -> Option<ActorKind> {
        match s {
            "user" => Some(ActorKind::User),
            "service_account" => Some(ActorKind::ServiceAccount),
            "api_key" => Some(ActorKind::ApiKey),
            _ => None,
        }
    }
}

/// Who did something: `createdBy`, `updatedBy`, an audit event's actor.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Actor {
    #[serde(rename = "type")]
    pub kind: ActorKind,
    pub uuid: Uuid,
    pub name: String,
}

/// The credential a request was made with; never the secret, at most its
/// display prefix.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialRef {
    pub kind: CredentialKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uuid: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_prefix: Option<String>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Target {
    #[serde(rename = "type")]
    pub kind: String,
    pub uuid: Uuid,
    pub name: String,
}

/// One append-only audit event. `at` is set by the caller (time is a parameter).
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEvent {
    pub org_uuid: Uuid,
    pub at: time::OffsetDateTime,
    pub action: &'static str,
    pub actor: Option<Actor>,
    pub credential: Option<CredentialRef>,
    pub target: Option<Target>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub details: serde_json::Value,
}
