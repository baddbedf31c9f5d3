//! Reading the audit log (`audit:read`): newest first, filtered, paged.

use super::{ok, JsonOk, PageQuery, Paged};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;
use crate::state::AppState;
use axum::extract::State;
use latchkey_core::{Actor, CredentialRef, Scope, Target};
use latchkey_store::{AuditFilter, StoredAuditEvent};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// The longest `action` filter worth looking up; actions are short names.
const MAX_ACTION_CHARS: usize = 100;

/// One event. `actor` is null for a refused credential (`auth.refused`);
/// `credential` is `{kind: "session"}` for a web session and never holds
/// more of a token than its display prefix.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEventView {
    uuid: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
    action: String,
    actor: Option<Actor>,
    credential: Option<CredentialRef>,
    target: Option<Target>,
    ip: Option<String>,
    user_agent: Option<String>,
    #[schema(value_type = Object)]
    details: serde_json::Value,
}

impl AuditEventView {
    fn of(e: StoredAuditEvent) -> AuditEventView {
        AuditEventView {
            uuid: e.uuid,
            at: e.at,
            action: e.action,
            actor: e.actor,
            credential: e.credential,
            target: e.target,
            ip: e.ip,
            user_agent: e.user_agent,
            details: e.details,
        }
    }
}

/// Filters and paging. An empty value is the same as leaving it out.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct AuditQuery {
    /// Exactly this action, e.g. `pat.created`.
    action: Option<String>,
    /// Events whose actor (user, service account or API key) has this id.
    #[param(
        pattern = "^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$"
    )]
    actor_uuid: Option<String>,
    /// Events whose target has this id.
    #[param(
        pattern = "^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$"
    )]
    target_uuid: Option<String>,
    /// RFC 3339; events at or after it.
    #[param(schema_with = time_or_empty)]
    since: Option<String>,
    /// RFC 3339; events at or before it.
    #[param(schema_with = time_or_empty)]
    until: Option<String>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// From the previous page's `nextCursor`.
    #[param(max_length = 200)]
    cursor: Option<String>,
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

fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

fn uuid_param(field: &str, value: &Option<String>) -> ApiResult<Option<Uuid>> {
    given(value)
        .map(|v| Uuid::parse_str(v).map_err(|_| ApiError::invalid(field, "must be a UUID")))
        .transpose()
}

fn time_param(field: &str, value: &Option<String>) -> ApiResult<Option<OffsetDateTime>> {
    given(value)
        .map(|v| {
            OffsetDateTime::parse(v, &Rfc3339).map_err(|_| {
                ApiError::invalid(field, "must be an RFC 3339 time, e.g. 2026-01-31T12:00:00Z")
            })
        })
        .transpose()
}

impl AuditQuery {
    fn filter(&self) -> ApiResult<AuditFilter> {
        let action = given(&self.action).map(str::to_string);
        if action
            .as_ref()
            .is_some_and(|a| a.chars().count() > MAX_ACTION_CHARS)
        {
            return Err(ApiError::invalid(
                "action",
                format!("must be at most {MAX_ACTION_CHARS} characters"),
            ));
        }
        Ok(AuditFilter {
            action,
            actor_uuid: uuid_param("actorUuid", &self.actor_uuid)?,
            target_uuid: uuid_param("targetUuid", &self.target_uuid)?,
            since: time_param("since", &self.since)?,
            until: time_param("until", &self.until)?,
        })
    }
}

/// The organization's audit events, newest first.
#[utoipa::path(get, path = "/api/v1/org/audit-logs", tag = "audit", params(AuditQuery),
    responses((status = 200, body = Paged<AuditEventView>),
        (status = 400, description = "invalid_request naming the parameter"),
        (status = 403, description = "missing_scope audit:read")))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<JsonOk<Paged<AuditEventView>>> {
    caller.require(Scope::AUDIT_READ, &state.catalog)?;
    let filter = q.filter()?;
    let page = PageQuery {
        limit: q.limit,
        cursor: given(&q.cursor).map(str::to_string),
    }
    .page()?;
    let events = state
        .store
        .audit_events(caller.org.uuid, &filter, &page)
        .await?;
    Ok(ok(Paged {
        items: events.items.into_iter().map(AuditEventView::of).collect(),
        next_cursor: events.next_cursor,
    }))
}
