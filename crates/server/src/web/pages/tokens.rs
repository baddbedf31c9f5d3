//! Profile → Personal access tokens.

use super::{change, minted, rotate_call, shown, shown_with, Done, Kind};
use crate::state::now;
use crate::web::client::Failure;
use crate::web::form::{self, Fields, Id};
use crate::web::layout::{self, Notice, Section};
use crate::web::visitor::Visitor;
use crate::wire::{PatView, ScopeView};
use axum::extract::Query;
use axum::http::Method;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde_json::json;
use uuid::Uuid;

const API: &str = "/api/v1/user/me/personal-access-tokens";
const HERE: &str = "/settings/tokens";

const KIND: Kind = Kind {
    section: Section::Tokens,
    title: "Personal access tokens",
    here: HERE,
    noun: "token",
    secret_noun: "personal access token",
    removal: "Revoke",
    removal_effect: "Anything using it is refused from its next request.",
    removed: "revoked",
};

async fn render_list(
    v: &Visitor,
    flash: Option<&Notice>,
    secret: Option<&PatView>,
) -> Result<Markup, Failure> {
    let tokens: Vec<PatView> = v.api.get(API).await?;
    let at = now();
    Ok(layout::page(
        v,
        Section::Tokens,
        "Personal access tokens",
        flash,
        html! {
            @if let Some(c) = secret { (secret_of(c)) }
            p.lead {
                "Tokens act as you in " strong { (v.me.org.name) } ", with your role or fewer scopes. "
                "Use them with " code { "Authorization: Bearer <token>" } "."
            }
            p { a.button #new-token href="/settings/tokens/new" { "New token" } }
            @if tokens.is_empty() {
                p.empty { "You have no tokens in this organization." }
            } @else {
                div.table-wrap {
                    table #tokens {
                        caption.visually-hidden { "Your personal access tokens" }
                        thead { tr {
                            th scope="col" { "Name" } th scope="col" { "Token" } th scope="col" { "Scopes" }
                            th scope="col" { "Expiration" } th scope="col" { "Last used" } th scope="col" { "Created" }
                            th scope="col" { span.visually-hidden { "Actions" } }
                        } }
                        tbody {
                            @for t in &tokens {
                                tr data-token=(t.uuid) {
                                    th scope="row" { (t.name) }
                                    td { code { (t.display_prefix) "…" } }
                                    td { (scopes_text(t.scopes.as_deref())) }
                                    td { (layout::expiry(t.expires_at, at)) }
                                    td { (layout::last_used(t.last_used_at, at)) }
                                    td { (layout::day(Some(t.created_at))) }
                                    td.row-actions {
                                        a.button.small href={ (HERE) "/" (t.uuid) "/edit" } aria-label={ "Edit " (t.name) } { "Edit" }
                                        @if t.expires_at.is_some() {
                                            a.button.small href={ (HERE) "/" (t.uuid) "/rotate" } aria-label={ "Rotate " (t.name) } { "Rotate" }
                                        } @else {
                                            button.small type="button" disabled title="Tokens without an expiration cannot be rotated" aria-label={ "Rotate " (t.name) ": not possible without an expiration" } { "Rotate" }
                                        }
                                        a.button.small.danger href={ (HERE) "/" (t.uuid) "/revoke" } aria-label={ "Revoke " (t.name) } { "Revoke" }
                                    }
                                }
                            }
                        }
                    }
                }
                @if tokens.iter().any(|t| t.expires_at.is_none()) {
                    p.hint { "Tokens without an expiration cannot be rotated: create a new token with an expiration instead." }
                }
            }
        },
    ))
}

fn secret_of(c: &PatView) -> Markup {
    KIND.secret(c)
}

fn scopes_text(scopes: Option<&[String]>) -> Markup {
    html! {
        @match scopes {
            None => span.badge { "Full role" },
            Some(list) => {
                @for (i, s) in list.iter().enumerate() {
                    @if i > 0 { " " }
                    code.scope { (s) }
                }
            }
        }
    }
}

pub async fn list(v: Visitor, Query(done): Query<Done>) -> Response {
    let flash = Notice::done(done.done.as_deref());
    shown(
        &v,
        Section::Tokens,
        render_list(&v, flash.as_ref(), None).await,
    )
}

/// The scopes the visitor may put on a token, as the API judges them (their
/// organization scopes and every project role's), in catalog order, with
/// descriptions.
async fn grantable(v: &Visitor) -> Result<Vec<ScopeView>, Failure> {
    let catalog: Vec<ScopeView> = v.api.get("/api/v1/org/scopes").await?;
    Ok(catalog
        .into_iter()
        .filter(|s| v.grantable_scopes().contains(&s.scope))
        .collect())
}

fn scope_id(scope: &str) -> String {
    format!("scope-{}", scope.replace([':', '.'], "-"))
}

/// Full role, or a checklist of scopes.
fn scope_picker(scopes: &[ScopeView], chosen: Option<&[String]>, offer_full: bool) -> Markup {
    let narrowed = chosen.is_some() || !offer_full;
    html! {
        fieldset.scopes data-scope-picker="" {
            legend { "Access" }
            @if offer_full {
                div.choice {
                    input #access-full type="radio" name="access" value="full" checked[!narrowed];
                    label for="access-full" { "Full role — everything your role allows, now and as it changes" }
                }
            }
            @if scopes.is_empty() && offer_full {
                p.hint { "You hold no scopes in this organization yet, so there are none to choose from." }
            } @else {
                div.choice {
                    input #access-selected type="radio" name="access" value="selected" checked[narrowed];
                    label for="access-selected" { "Only these scopes (only scopes you hold are listed):" }
                }
                ul.checklist {
                    @for s in scopes {
                        @let id = scope_id(&s.scope);
                        @let on = chosen.is_some_and(|c| c.iter().any(|x| x == &s.scope));
                        li {
                            input id=(id) type="checkbox" name="scope" value=(s.scope) checked[on];
                            label for=(id) { code { (s.scope) } " — " (s.description) }
                        }
                    }
                }
            }
        }
    }
}

/// `scopes` for the API: `None` for the full role.
fn chosen_scopes(fields: &Fields) -> Result<Option<Vec<String>>, Failure> {
    if fields.get("access") != Some("selected") {
        return Ok(None);
    }
    let scopes: Vec<String> = fields
        .all("scope")
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if scopes.is_empty() {
        return Err(Failure::invalid(
            "Access",
            "choose at least one scope, or the full role",
        ));
    }
    Ok(Some(scopes))
}

async fn render_new(
    v: &Visitor,
    flash: Option<&Notice>,
    typed: Option<&Fields>,
) -> Result<Markup, Failure> {
    let name = typed.and_then(|f| f.get("name")).unwrap_or("");
    let chosen: Option<Vec<String>> = typed
        .filter(|f| f.get("access") == Some("selected"))
        .map(|f| f.all("scope").map(str::to_string).collect());
    let scopes = grantable(v).await?;
    Ok(layout::page(
        v,
        Section::Tokens,
        "New personal access token",
        flash,
        html! {
            form.stack method="post" action=(HERE) {
                (layout::csrf(v))
                label for="name" { "Name" }
                input #name type="text" name="name" value=(name) required maxlength="100" aria-describedby="name-hint";
                p #name-hint.hint { "What is this token for? For example “CI deploys”." }
                (layout::expiry_picker(true))
                (scope_picker(&scopes, chosen.as_deref(), true))
                div.actions {
                    button #create-token type="submit" { "Create token" }
                    a.button.secondary href=(HERE) { "Cancel" }
                }
            }
        },
    ))
}

pub async fn new(v: Visitor) -> Response {
    shown(&v, Section::Tokens, render_new(&v, None, None).await)
}

pub async fn create(v: Visitor, fields: Fields) -> Response {
    let made = async {
        let mut body = json!({ "name": fields.required("name", "Name")? });
        if let Some(at) = form::expiry(&fields, now())? {
            body["expiresAt"] = json!(at);
        }
        if let Some(scopes) = chosen_scopes(&fields)? {
            body["scopes"] = json!(scopes);
        }
        v.api
            .send::<PatView>(Method::POST, API, fields.csrf(), Some(body))
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
            Section::Tokens,
            failure.status,
            render_new(&v, Notice::failed(&failure).as_ref(), Some(&fields)).await,
        ),
    }
}

async fn one(v: &Visitor, uuid: Uuid) -> Result<PatView, Failure> {
    v.api.get(&format!("{API}/{uuid}")).await
}

async fn render_edit(v: &Visitor, uuid: Uuid, flash: Option<&Notice>) -> Result<Markup, Failure> {
    let token = one(v, uuid).await?;
    let mut scopes = grantable(v).await?;
    // Scopes the token holds but its owner no longer does stay visible.
    for s in token.scopes.iter().flatten() {
        if !scopes.iter().any(|x| &x.scope == s) {
            scopes.push(ScopeView {
                scope: s.clone(),
                description: "no longer held by your role".into(),
            });
        }
    }
    let action = format!("{HERE}/{uuid}/edit");
    Ok(layout::page(
        v,
        Section::Tokens,
        "Edit token",
        flash,
        html! {
            form.stack method="post" action=(action) {
                (layout::csrf(v))
                label for="name" { "Name" }
                input #name type="text" name="name" value=(token.name) required maxlength="100";
                (scope_picker(&scopes, token.scopes.as_deref(), token.scopes.is_none()))
                @if token.scopes.is_some() {
                    p.hint { "A token with chosen scopes cannot be widened to the full role; create a new token for that." }
                }
                label for="expiresOn" { "Expiration (can only move earlier)" }
                input #expiresOn type="date" name="expiresOn" aria-describedby="expiry-now";
                p #expiry-now.hint { "Now: " (layout::expiry(token.expires_at, now())) ". Leave empty to keep it." }
                div.actions {
                    button type="submit" { "Save" }
                    a.button.secondary href=(HERE) { "Cancel" }
                }
            }
        },
    ))
}

pub async fn edit_page(v: Visitor, Id(uuid): Id) -> Response {
    shown(&v, Section::Tokens, render_edit(&v, uuid, None).await)
}

pub async fn edit(v: Visitor, Id(uuid): Id, fields: Fields) -> Response {
    let saved = async {
        let mut body = json!({ "name": fields.required("name", "Name")? });
        if let Some(scopes) = chosen_scopes(&fields)? {
            body["scopes"] = json!(scopes);
        }
        if fields.get("expiresOn").is_some() {
            body["expiresAt"] = json!(form::expiry(&with_custom(&fields), now())?);
        }
        change(
            &v,
            Method::PATCH,
            &format!("{API}/{uuid}"),
            &fields,
            Some(body),
        )
        .await
    }
    .await;
    match saved {
        Ok(()) => Redirect::to("/settings/tokens?done=updated").into_response(),
        Err(failure) => shown_with(
            &v,
            Section::Tokens,
            failure.status,
            render_edit(&v, uuid, Notice::failed(&failure).as_ref()).await,
        ),
    }
}

/// The edit form's date alone, read as the picker's custom date.
fn with_custom(fields: &Fields) -> Fields {
    Fields::of(vec![
        ("expiry".into(), "custom".into()),
        (
            "expiresOn".into(),
            fields.get("expiresOn").unwrap_or("").into(),
        ),
    ])
}

pub async fn rotate_page(v: Visitor, Id(uuid): Id) -> Response {
    KIND.rotate_form(&v, one(&v, uuid).await, None)
}

pub async fn rotate(v: Visitor, Id(uuid): Id, fields: Fields) -> Response {
    match rotate_call::<PatView>(&v, &format!("{API}/{uuid}/rotate"), &fields).await {
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
