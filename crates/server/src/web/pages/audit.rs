//! The audit log: a filterable, paged table.

use super::{shown, shown_with};
use crate::web::client::Failure;
use crate::web::layout::{self, Notice, Section};
use crate::web::visitor::Visitor;
use crate::wire::{AuditEventView, Paged};
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use latchkey_core::CredentialRef;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;

/// The page's own query: dates as the date inputs send them.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    action: Option<String>,
    actor_uuid: Option<String>,
    target_uuid: Option<String>,
    since: Option<String>,
    until: Option<String>,
    cursor: Option<String>,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// A date input's `YYYY-MM-DD` as the start (or end) of that day, UTC.
fn day_bound(date: &str, end: bool) -> String {
    format!("{date}T{}Z", if end { "23:59:59" } else { "00:00:00" })
}

impl Filter {
    fn api_query(&self) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("action", given(&self.action).map(str::to_string)),
            ("actorUuid", given(&self.actor_uuid).map(str::to_string)),
            ("targetUuid", given(&self.target_uuid).map(str::to_string)),
            ("since", given(&self.since).map(|d| day_bound(d, false))),
            ("until", given(&self.until).map(|d| day_bound(d, true))),
            ("cursor", given(&self.cursor).map(str::to_string)),
        ] {
            if let Some(value) = value {
                q.append_pair(name, &value);
            }
        }
        q.finish()
    }

    /// This page's address with another cursor.
    fn page_link(&self, cursor: &str) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("action", given(&self.action)),
            ("actorUuid", given(&self.actor_uuid)),
            ("targetUuid", given(&self.target_uuid)),
            ("since", given(&self.since)),
            ("until", given(&self.until)),
            ("cursor", Some(cursor).filter(|c| !c.is_empty())),
        ] {
            if let Some(value) = value {
                q.append_pair(name, value);
            }
        }
        format!("/settings/audit-log?{}", q.finish())
    }
}

fn credential_text(c: &Option<CredentialRef>) -> String {
    let Some(c) = c else { return "—".into() };
    let kind = c.kind.as_str();
    match (c.name.as_deref(), c.display_prefix.as_deref()) {
        (Some(name), Some(prefix)) => format!("{kind} “{name}” ({prefix}…)"),
        (None, Some(prefix)) => format!("{kind} ({prefix}…)"),
        (Some(name), None) => format!("{kind} “{name}”"),
        _ => kind.to_string(),
    }
}

async fn render(v: &Visitor, filter: &Filter) -> Result<Markup, Failure> {
    let page: Paged<AuditEventView> = v
        .api
        .get(&format!("/api/v1/org/audit-logs?{}", filter.api_query()))
        .await?;
    Ok(layout::page(
        v,
        Section::Audit,
        "Audit log",
        None,
        html! {
            form.filters method="get" action="/settings/audit-log" {
                div { label for="f-action" { "Action" } input #f-action type="text" name="action" placeholder="pat.created" value=[given(&filter.action)] maxlength="100"; }
                div { label for="f-actor" { "Actor id" } input #f-actor type="text" name="actorUuid" value=[given(&filter.actor_uuid)] maxlength="36"; }
                div { label for="f-target" { "Target id" } input #f-target type="text" name="targetUuid" value=[given(&filter.target_uuid)] maxlength="36"; }
                div { label for="f-since" { "From (UTC)" } input #f-since type="date" name="since" value=[given(&filter.since)]; }
                div { label for="f-until" { "To (UTC)" } input #f-until type="date" name="until" value=[given(&filter.until)]; }
                div.actions { button type="submit" { "Filter" } a.button.secondary href="/settings/audit-log" { "Clear" } }
            }
            @if page.items.is_empty() {
                p.empty { "No events match." }
            } @else {
                div.table-wrap {
                    table #audit-log {
                        caption.visually-hidden { "Audit events, newest first" }
                        thead { tr {
                            th scope="col" { "When" } th scope="col" { "Action" } th scope="col" { "Actor" }
                            th scope="col" { "Credential" } th scope="col" { "Target" } th scope="col" { "Address" }
                        } }
                        tbody {
                            @for e in &page.items {
                                tr {
                                    td { (layout::when(Some(e.at))) }
                                    td {
                                        code { (e.action) }
                                        @if let Some(code) = e.details.get("code").and_then(Value::as_str) { " " small { (code) } }
                                    }
                                    td { @if let Some(a) = &e.actor {
                                        a href={ "/settings/audit-log?actorUuid=" (a.uuid) } title="Only this actor's events" { (a.name) }
                                        " " small { (a.kind.as_str()) }
                                    } @else { "—" } }
                                    td { (credential_text(&e.credential)) }
                                    td { @if let Some(t) = &e.target {
                                        a href={ "/settings/audit-log?targetUuid=" (t.uuid) } title="Only events about this" { (t.name) }
                                        " " small { (t.kind.as_str()) }
                                    } @else { "—" } }
                                    td { (e.ip.as_deref().unwrap_or("—")) }
                                }
                            }
                        }
                    }
                }
            }
            div.actions {
                @if given(&filter.cursor).is_some() {
                    a.button.secondary #newest href=(filter.page_link("")) { "← Newest events" }
                }
                @if let Some(cursor) = &page.next_cursor {
                    a.button.secondary #older href=(filter.page_link(cursor)) rel="next" { "Older events →" }
                }
            }
        },
    ))
}

pub async fn list(
    v: Visitor,
    filter: Result<Query<Filter>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let filter = filter.map(|Query(f)| f).unwrap_or_default();
    match render(&v, &filter).await {
        // A filter the API refuses (a malformed id) is said on the page, with
        // a way back to every event.
        Err(failure) if failure.status == StatusCode::BAD_REQUEST && v.can("audit:read") => {
            shown_with(
                &v,
                Section::Audit,
                failure.status,
                Ok(layout::page(
                    &v,
                    Section::Audit,
                    "Audit log",
                    Notice::failed(&failure).as_ref(),
                    html! { p { a href="/settings/audit-log" { "Show every event" } } },
                )),
            )
        }
        other => shown(&v, Section::Audit, other),
    }
}
