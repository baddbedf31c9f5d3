//! Roles: the system roles, and custom roles (enterprise) with a scope
//! checklist.

use super::{change, shown, shown_with, Done};
use crate::web::client::Failure;
use crate::web::form::{Fields, Id};
use crate::web::layout::{self, Notice, Section};
use crate::web::visitor::Visitor;
use crate::wire::{CustomRoleView, RolesView, ScopeView};
use axum::extract::Query;
use axum::http::Method;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde_json::json;
use uuid::Uuid;

const HERE: &str = "/settings/roles";

fn scope_list(scopes: &[String]) -> Markup {
    html! { @for s in scopes { code.scope { (s) } " " } }
}

async fn render_list(v: &Visitor, flash: Option<&Notice>) -> Result<Markup, Failure> {
    let roles: RolesView = v.api.get("/api/v1/org/roles").await?;
    let editable = v.can("roles:write");
    Ok(layout::page(
        v,
        Section::Roles,
        "Roles",
        flash,
        html! {
            h2 { "Custom roles" }
            @if !v.enterprise() {
                p.explain { "Custom roles need the enterprise plan. An operator can change the plan with " code { "latchkey org set-plan" } "." }
            } @else if editable {
                p { a.button #new-role href={ (HERE) "/new" } { "New custom role" } }
            }
            @if roles.custom_roles.is_empty() {
                p.empty { "No custom roles." }
            } @else {
                div.table-wrap {
                    table #custom-roles {
                        thead { tr { th scope="col" { "Name" } th scope="col" { "Description" } th scope="col" { "Scopes" } } }
                        tbody {
                            @for r in &roles.custom_roles {
                                tr {
                                    th scope="row" { a href={ (HERE) "/" (r.uuid) } { (r.name) } }
                                    td { (r.description.as_deref().unwrap_or("")) }
                                    td { (scope_list(&r.scopes)) }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "System roles" }
            div.table-wrap {
                table #system-roles {
                    thead { tr { th scope="col" { "Role" } th scope="col" { "Scopes" } } }
                    tbody {
                        @for r in &roles.system_roles {
                            tr { th scope="row" { (layout::role_label(r.role)) } td { (scope_list(&r.scopes)) } }
                        }
                    }
                }
            }
        },
    ))
}

pub async fn list(v: Visitor, Query(done): Query<Done>) -> Response {
    let flash = Notice::done(done.done.as_deref());
    shown(&v, Section::Roles, render_list(&v, flash.as_ref()).await)
}

fn role_form(
    v: &Visitor,
    action: &str,
    role: Option<&CustomRoleView>,
    catalog: &[ScopeView],
) -> Markup {
    html! {
        form.stack method="post" action=(action) {
            (layout::csrf(v))
            label for="role-name" { "Name" }
            input #role-name type="text" name="name" required maxlength="100" value=[role.map(|r| r.name.as_str())];
            label for="role-description" { "Description (optional)" }
            input #role-description type="text" name="description" maxlength="1000" value=[role.and_then(|r| r.description.as_deref())];
            fieldset {
                legend { "Scopes" }
                p.hint { "Only scopes you hold yourself are offered." }
                ul.checklist {
                    @for s in catalog.iter().filter(|s| v.can(&s.scope) || role.is_some_and(|r| r.scopes.contains(&s.scope))) {
                        @let id = format!("role-scope-{}", s.scope.replace([':', '.'], "-"));
                        @let on = role.is_some_and(|r| r.scopes.contains(&s.scope));
                        li {
                            input id=(id) type="checkbox" name="scope" value=(s.scope) checked[on];
                            label for=(id) { code { (s.scope) } " — " (s.description) }
                        }
                    }
                }
            }
            div.actions {
                button type="submit" { "Save role" }
                a.button.secondary href=(HERE) { "Cancel" }
            }
        }
    }
}

fn role_body(fields: &Fields) -> Result<serde_json::Value, Failure> {
    let scopes: Vec<&str> = fields.all("scope").filter(|s| !s.is_empty()).collect();
    Ok(json!({
        "name": fields.required("name", "Name")?,
        "description": fields.get("description").unwrap_or(""),
        "scopes": scopes,
    }))
}

async fn render_new(v: &Visitor, flash: Option<&Notice>) -> Result<Markup, Failure> {
    let catalog: Vec<ScopeView> = v.api.get("/api/v1/org/scopes").await?;
    if !v.can("roles:write") {
        return Err(Failure::forbidden("this needs the scope roles:write"));
    }
    Ok(layout::page(
        v,
        Section::Roles,
        "New custom role",
        flash,
        role_form(v, HERE, None, &catalog),
    ))
}

pub async fn new(v: Visitor) -> Response {
    shown(&v, Section::Roles, render_new(&v, None).await)
}

pub async fn create(v: Visitor, fields: Fields) -> Response {
    let made = match role_body(&fields) {
        Ok(body) => change(&v, Method::POST, "/api/v1/org/roles", &fields, Some(body)).await,
        Err(f) => Err(f),
    };
    match made {
        Ok(()) => Redirect::to("/settings/roles?done=created").into_response(),
        Err(failure) => shown_with(
            &v,
            Section::Roles,
            failure.status,
            render_new(&v, Notice::failed(&failure).as_ref()).await,
        ),
    }
}

async fn render_show(v: &Visitor, uuid: Uuid, flash: Option<&Notice>) -> Result<Markup, Failure> {
    let role: CustomRoleView = v.api.get(&format!("/api/v1/org/roles/{uuid}")).await?;
    let catalog: Vec<ScopeView> = v.api.get("/api/v1/org/scopes").await?;
    let here = format!("{HERE}/{uuid}");
    Ok(layout::page(
        v,
        Section::Roles,
        &format!("Custom role: {}", role.name),
        flash,
        html! {
            @if v.can("roles:write") {
                (role_form(v, &here, Some(&role), &catalog))
                p { a.button.danger href={ (here) "/delete" } { "Delete role…" } }
            } @else {
                @if let Some(d) = &role.description { p { (d) } }
                p { "Scopes: " (scope_list(&role.scopes)) }
            }
        },
    ))
}

pub async fn show(v: Visitor, Id(uuid): Id) -> Response {
    shown(&v, Section::Roles, render_show(&v, uuid, None).await)
}

pub async fn update(v: Visitor, Id(uuid): Id, fields: Fields) -> Response {
    let path = format!("/api/v1/org/roles/{uuid}");
    let saved = match role_body(&fields) {
        Ok(body) => change(&v, Method::PATCH, &path, &fields, Some(body)).await,
        Err(f) => Err(f),
    };
    match saved {
        Ok(()) => Redirect::to("/settings/roles?done=updated").into_response(),
        Err(failure) => shown_with(
            &v,
            Section::Roles,
            failure.status,
            render_show(&v, uuid, Notice::failed(&failure).as_ref()).await,
        ),
    }
}

pub async fn delete_page(v: Visitor, Id(uuid): Id) -> Response {
    let role: Result<CustomRoleView, Failure> =
        v.api.get(&format!("/api/v1/org/roles/{uuid}")).await;
    match role {
        Ok(role) if v.can("roles:write") => layout::page(
            &v,
            Section::Roles,
            "Delete custom role",
            None,
            layout::confirm(
                &v,
                &format!("{HERE}/{uuid}/delete"),
                html! {
                    p { "Delete the custom role " strong { (role.name) } "?" }
                    p { "A role still given to a member, a project grant or a service account cannot be deleted; change those first." }
                },
                "Delete role",
                &format!("{HERE}/{uuid}"),
            ),
        )
        .into_response(),
        Ok(_) => layout::refused(&v, Section::Roles, &Failure::forbidden("this needs the scope roles:write")),
        Err(failure) => layout::refused(&v, Section::Roles, &failure),
    }
}

pub async fn delete(v: Visitor, Id(uuid): Id, fields: Fields) -> Response {
    let path = format!("/api/v1/org/roles/{uuid}");
    match change(&v, Method::DELETE, &path, &fields, None).await {
        Ok(()) => Redirect::to("/settings/roles?done=deleted").into_response(),
        Err(failure) => shown_with(
            &v,
            Section::Roles,
            failure.status,
            render_show(&v, uuid, Notice::failed(&failure).as_ref()).await,
        ),
    }
}
