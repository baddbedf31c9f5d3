//! Reading the audit log (`audit:read`): newest first, filtered, paged.

use super::{ok, JsonOk};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;
use crate::state::AppState;
use crate::wire::{AuditEventView, AuditQuery, PageQuery, Paged};
use axum::extract::State;
use latchkey_core::Scope;
use latchkey_store::{AuditFilter, StoredAuditEvent};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use uuid::Uuid;

/// The longest `action` filter worth looking up; actions are short names.
const MAX_ACTION_CHARS: usize = 100;

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
