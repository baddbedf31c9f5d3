//! Projects, and who holds a role on each.

use super::{change, shown, shown_with, Done};
use crate::web::client::Failure;
use crate::web::form::{self, Fields, Id, Ids};
use crate::web::layout::{self, Notice, Section};
use crate::web::visitor::Visitor;
use crate::wire::{MemberView, ProjectAccessView, ProjectView, RolesView};
use axum::extract::Query;
use axum::http::Method;
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_core::Role;
use maud::{html, Markup};
use serde_json::json;
use uuid::Uuid;

const HERE: &str = "/settings/projects";

async fn render_list(v: &Visitor, flash: Option<&Notice>) -> Result<Markup, Failure> {
    let projects: Vec<ProjectView> = v.api.get("/api/v1/org/projects").await?;
    Ok(layout::page(
        v,
        Section::Projects,
        "Projects",
        flash,
        html! {
            @if v.can("projects:write") {
                form.inline.panel method="post" action=(HERE) {
                    (layout::csrf(v))
                    label for="project-name" { "New project" }
                    input #project-name type="text" name="name" required maxlength="100";
                    button type="submit" { "Create project" }
                }
            }
            @if projects.is_empty() {
                p.empty { "No projects you can see." }
            } @else {
                div.table-wrap {
                    table #projects {
                        caption.visually-hidden { "Projects" }
                        thead { tr { th scope="col" { "Project" } th scope="col" { "Your role" } th scope="col" { "Created" } } }
                        tbody {
                            @for p in &projects {
                                tr {
                                    th scope="row" { a href={ (HERE) "/" (p.project_uuid) } { (p.name) } }
                                    td { (layout::role_text(p.role, None)) }
                                    td { (layout::day(Some(p.created_at))) " by " (p.created_by.name) }
                                }
                            }
                        }
                    }
                }
            }
        },
    ))
}

pub async fn list(v: Visitor, Query(done): Query<Done>) -> Response {
    let flash = Notice::done(done.done.as_deref());
    shown(&v, Section::Projects, render_list(&v, flash.as_ref()).await)
}

pub async fn create(v: Visitor, fields: Fields) -> Response {
    let made = async {
        let body = json!({ "name": fields.required("name", "Name")? });
        change(
            &v,
            Method::POST,
            "/api/v1/org/projects",
            &fields,
            Some(body),
        )
        .await
    }
    .await;
    match made {
        Ok(()) => Redirect::to("/settings/projects?done=created").into_response(),
        Err(failure) => shown_with(
            &v,
            Section::Projects,
            failure.status,
            render_list(&v, Notice::failed(&failure).as_ref()).await,
        ),
    }
}

async fn render_show(v: &Visitor, uuid: Uuid, flash: Option<&Notice>) -> Result<Markup, Failure> {
    let project: ProjectView = v.api.get(&format!("/api/v1/projects/{uuid}")).await?;
    // Managing access needs `members:write` on the project; without it the
    // page shows the project alone.
    let access: Option<Vec<ProjectAccessView>> = v
        .api
        .get(&format!("/api/v1/projects/{uuid}/access"))
        .await
        .ok();
    let members: Vec<MemberView> = if access.is_some() {
        v.api.get("/api/v1/org/users").await.unwrap_or_default()
    } else {
        Vec::new()
    };
    let roles: RolesView = v.api.get("/api/v1/org/roles").await?;
    let project_roles: Vec<Role> = Role::ALL
        .into_iter()
        .filter(|r| r.is_project_role())
        .collect();
    let here = format!("{HERE}/{uuid}");
    Ok(layout::page(
        v,
        Section::Projects,
        &project.name,
        flash,
        html! {
            p { "Your role here: " strong { (layout::role_text(project.role, None)) } ". Created " (layout::day(Some(project.created_at))) " by " (project.created_by.name) "." }
            @match &access {
                None => p.hint { "Only members who can manage members of this project see who has access." },
                Some(access) => {
                    h2 { "Project access" }
                    @if access.is_empty() {
                        p.empty { "Nobody holds a role on this project alone; organization roles still apply." }
                    } @else {
                        div.table-wrap {
                            table #project-access {
                                thead { tr { th scope="col" { "Member" } th scope="col" { "Project role" } th scope="col" { span.visually-hidden { "Actions" } } } }
                                tbody {
                                    @for a in access {
                                        tr {
                                            th scope="row" { (a.email) }
                                            td { (layout::role_text(Some(a.role), a.custom_role.as_ref())) }
                                            td.row-actions {
                                                form.inline method="post" action={ (here) "/access/" (a.user_uuid) "/remove" } {
                                                    (layout::csrf(v))
                                                    button.small.danger type="submit" aria-label={ "Take away the project role of " (a.email) } { "Remove" }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    form.stack.panel method="post" action=(here) {
                        (layout::csrf(v))
                        h3 { "Give a project role" }
                        label for="access-member" { "Member" }
                        select #access-member name="userUuid" required {
                            @for m in &members { option value=(m.user_uuid) { (m.email) } }
                        }
                        label for="access-role" { "Role on this project" }
                        select #access-role name="role" { (layout::role_options(&project_roles, &super::custom_choices(&roles), Some("viewer"))) }
                        div.actions { button type="submit" { "Give role" } }
                    }
                }
            }
        },
    ))
}

pub async fn show(v: Visitor, Id(uuid): Id) -> Response {
    shown(&v, Section::Projects, render_show(&v, uuid, None).await)
}

pub async fn grant(v: Visitor, Id(uuid): Id, fields: Fields) -> Response {
    let saved = async {
        let user = fields
            .get("userUuid")
            .and_then(|u| Uuid::parse_str(u).ok())
            .ok_or_else(|| Failure::invalid("Member", "choose a member"))?;
        let body = form::role_choice(fields.get("role"), "Role")?;
        change(
            &v,
            Method::PUT,
            &format!("/api/v1/projects/{uuid}/access/{user}"),
            &fields,
            Some(body),
        )
        .await
    }
    .await;
    match saved {
        Ok(()) => Redirect::to(&format!("{HERE}/{uuid}")).into_response(),
        Err(failure) => shown_with(
            &v,
            Section::Projects,
            failure.status,
            render_show(&v, uuid, Notice::failed(&failure).as_ref()).await,
        ),
    }
}

pub async fn remove_access(v: Visitor, Ids(uuid, user): Ids, fields: Fields) -> Response {
    let path = format!("/api/v1/projects/{uuid}/access/{user}");
    match change(&v, Method::DELETE, &path, &fields, None).await {
        Ok(()) => Redirect::to(&format!("{HERE}/{uuid}")).into_response(),
        Err(failure) => shown_with(
            &v,
            Section::Projects,
            failure.status,
            render_show(&v, uuid, Notice::failed(&failure).as_ref()).await,
        ),
    }
}
