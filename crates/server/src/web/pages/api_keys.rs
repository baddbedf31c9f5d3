//! Organization API keys (admins).

use super::{minted, rotate_call, shown, shown_with, Done, Kind};
use crate::state::now;
use crate::web::client::Failure;
use crate::web::form::{self, Fields, Id};
use crate::web::layout::{self, Notice, Section};
use crate::web::visitor::Visitor;
use crate::wire::ApiKeyView;
use axum::extract::Query;
use axum::http::Method;
use axum::response::Response;
use maud::{html, Markup};
use serde_json::{json, Value};
use uuid::Uuid;

const API: &str = "/api/v1/org/api-keys";
const HERE: &str = "/settings/api-keys";

const KIND: Kind = Kind {
    section: Section::ApiKeys,
    title: "API keys",
    here: HERE,
    noun: "API key",
    secret_noun: "API key",
    removal: "Revoke",
    removal_effect: "Anything using it is refused from its next request.",
    removed: "revoked",
};

async fn render_list(
    v: &Visitor,
    flash: Option<&Notice>,
    secret: Option<&ApiKeyView>,
) -> Result<Markup, Failure> {
    let keys: Vec<ApiKeyView> = v.api.get(API).await?;
    let at = now();
    Ok(layout::page(
        v,
        Section::ApiKeys,
        "API keys",
        flash,
        html! {
            @if let Some(c) = secret { (secret_of(c)) }
            p.lead { "API keys belong to the organization and act with a fixed role. Send them as " code { "Authorization: ApiKey <key>" } "." }
            p { a.button #new-api-key href={ (HERE) "/new" } { "New API key" } }
            @if keys.is_empty() {
                p.empty { "No API keys yet." }
            } @else {
                div.table-wrap {
                    table #api-keys {
                        caption.visually-hidden { "API keys" }
                        thead { tr {
                            th scope="col" { "Name" } th scope="col" { "Key" } th scope="col" { "Role" }
                            th scope="col" { "Expiration" } th scope="col" { "Last used" } th scope="col" { "Created by" }
                            th scope="col" { span.visually-hidden { "Actions" } }
                        } }
                        tbody {
                            @for k in &keys {
                                tr data-api-key=(k.uuid) {
                                    th scope="row" { (k.name) }
                                    td { code { (k.display_prefix) "…" } }
                                    td { (layout::role_text(Some(k.role), None)) }
                                    td { (layout::expiry(k.expires_at, at)) }
                                    td { (layout::last_used(k.last_used_at, at)) }
                                    td { (k.created_by.name) br; small { (layout::day(Some(k.created_at))) } }
                                    td.row-actions {
                                        @if k.expires_at.is_some() {
                                            a.button.small href={ (HERE) "/" (k.uuid) "/rotate" } aria-label={ "Rotate " (k.name) } { "Rotate" }
                                        } @else {
                                            button.small type="button" disabled title="Keys without an expiration cannot be rotated" aria-label={ "Rotate " (k.name) ": not possible without an expiration" } { "Rotate" }
                                        }
                                        a.button.small.danger href={ (HERE) "/" (k.uuid) "/revoke" } aria-label={ "Revoke " (k.name) } { "Revoke" }
                                    }
                                }
                            }
                        }
                    }
                }
                @if keys.iter().any(|k| k.expires_at.is_none()) {
                    p.hint { "Keys without an expiration cannot be rotated: create a new key with an expiration instead." }
                }
            }
        },
    ))
}

fn secret_of(c: &ApiKeyView) -> Markup {
    KIND.secret(c)
}

pub async fn list(v: Visitor, Query(done): Query<Done>) -> Response {
    let flash = Notice::done(done.done.as_deref());
    shown(
        &v,
        Section::ApiKeys,
        render_list(&v, flash.as_ref(), None).await,
    )
}

async fn render_new(v: &Visitor, flash: Option<&Notice>) -> Result<Markup, Failure> {
    let _: Vec<Value> = v.api.get(API).await?;
    let roles = layout::credential_roles(v.me.role);
    Ok(layout::page(
        v,
        Section::ApiKeys,
        "New API key",
        flash,
        html! {
            form.stack method="post" action=(HERE) {
                (layout::csrf(v))
                label for="name" { "Name" }
                input #name type="text" name="name" required maxlength="100";
                label for="key-role" { "Role" }
                select #key-role name="role" aria-describedby="role-hint" { (layout::role_options(&roles, &[], Some("viewer"))) }
                p #role-hint.hint { "No higher than your own role." }
                (layout::expiry_picker(true))
                div.actions {
                    button #create-api-key type="submit" { "Create API key" }
                    a.button.secondary href=(HERE) { "Cancel" }
                }
            }
        },
    ))
}

pub async fn new(v: Visitor) -> Response {
    shown(&v, Section::ApiKeys, render_new(&v, None).await)
}

pub async fn create(v: Visitor, fields: Fields) -> Response {
    let made = async {
        let mut body = json!({
            "name": fields.required("name", "Name")?,
            "role": fields.required("role", "Role")?,
        });
        if let Some(at) = form::expiry(&fields, now())? {
            body["expiresAt"] = json!(at);
        }
        v.api
            .send::<ApiKeyView>(Method::POST, API, fields.csrf(), Some(body))
            .await
    }
    .await;
    match made {
        Ok(created) => minted(
            &v,
            KIND.section,
            KIND.title,
            secret_of(&created),
            render_list(&v, None, Some(&created)).await,
        ),
        Err(failure) => shown_with(
            &v,
            Section::ApiKeys,
            failure.status,
            render_new(&v, Notice::failed(&failure).as_ref()).await,
        ),
    }
}

/// API keys have no single-key read; the list holds it.
async fn one(v: &Visitor, uuid: Uuid) -> Result<ApiKeyView, Failure> {
    let keys: Vec<ApiKeyView> = v.api.get(API).await?;
    keys.into_iter()
        .find(|k| k.uuid == uuid)
        .ok_or_else(Failure::not_found)
}

pub async fn rotate_page(v: Visitor, Id(uuid): Id) -> Response {
    KIND.rotate_form(&v, one(&v, uuid).await, None)
}

pub async fn rotate(v: Visitor, Id(uuid): Id, fields: Fields) -> Response {
    match rotate_call::<ApiKeyView>(&v, &format!("{API}/{uuid}/rotate"), &fields).await {
        Ok(rotated) => minted(
            &v,
            KIND.section,
            KIND.title,
            secret_of(&rotated),
            render_list(&v, Some(&KIND.rotated_notice()), Some(&rotated)).await,
        ),
        Err(failure) => KIND.rotate_refused(&v, one(&v, uuid).await, &failure),
    }
}

pub async fn revoke_page(v: Visitor, Id(uuid): Id) -> Response {
    KIND.removal_page(&v, one(&v, uuid).await)
}

pub async fn revoke(v: Visitor, Id(uuid): Id, fields: Fields) -> Response {
    KIND.remove(&v, &format!("{API}/{uuid}"), &fields).await
}
