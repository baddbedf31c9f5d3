//! The audit log as read: events, and the filters of the list.

use latchkey_core::{Actor, CredentialRef, Target};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// One event. `actor` is null for a refused credential (`auth.refused`);
/// `credential` is `{kind: "session"}` for a web session and never holds
/// more of a token than its display prefix.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEventView {
    pub uuid: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub action: String,
    pub actor: Option<Actor>,
    pub credential: Option<CredentialRef>,
    pub target: Option<Target>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

/// Filters and paging. An empty value is the same as leaving it out.
#[derive(Serialize, Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct AuditQuery {
    /// Exactly this action, e.g. `pat.created`.
    pub action: Option<String>,
    /// Events whose actor (user, service account or API key) has this id.
    #[param(
        pattern = "^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$"
    )]
    pub actor_uuid: Option<String>,
    /// Events whose target has this id.
    #[param(
        pattern = "^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$"
    )]
    pub target_uuid: Option<String>,
    /// RFC 3339; events at or after it.
    #[param(schema_with = time_or_empty)]
    pub since: Option<String>,
    /// RFC 3339; events at or before it.
    #[param(schema_with = time_or_empty)]
    pub until: Option<String>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// From the previous page's `nextCursor`.
    #[param(max_length = 200)]
    pub cursor: Option<String>,
}

/// An RFC 3339 time, or empty (the same as leaving it out).
fn time_or_empty() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{
        AnyOfBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type,
    };
    Schema::AnyOf(
        AnyOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .max_length(Some(0)),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
            )
            .build(),
    )
}
