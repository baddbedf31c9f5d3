//! Service accounts (admins, enterprise plan).

use super::{minted, rotate_call, shown, shown_with, Done, Kind};
use crate::state::now;
use crate::web::client::Failure;
use crate::web::form::{self, Fields, Id};
use crate::web::layout::{self, Notice, Section};
use crate::web::visitor::Visitor;
use crate::wire::{ProjectView, RolesView, ServiceAccountView};
use axum::extract::Query;
use axum::http::Method;
use axum::response::Response;
use maud::{html, Markup};
use serde_json::{json, Value};
use uuid::Uuid;

const API: &str = "/api/v1/service-accounts";
const HERE: &str = "/settings/service-accounts";

const KIND: Kind = Kind {
    section: Section::ServiceAccounts,
    title: "Service accounts",
    here: HERE,
    noun: "service account",
    secret_noun: "service account token",
    removal: "Delete",
    removal_effect: "Its token stops working at once.",
    removed: "deleted",
};

/// What the account may do: its role, or the "N projects" badge whose hover
/// and focus list each grant.
fn access(a: &ServiceAccountView) -> Markup {
    html! {
        @if let Some(grants) = &a.projects {
            @let id = format!("grants-{}", a.uuid);
            span.has-tooltip {
                span.badge.projects tabindex="0" aria-describedby=(id) {
                    (grants.len()) @if grants.len() == 1 { " project" } @else { " projects" }
                }
                span.tooltip role="tooltip" id=(id) {
                    @for g in grants {
                        span.grant { (g.project_name) " — " (layout::role_text(g.role, g.custom_role.as_ref())) }
                    }
                }
            }
        } @else if let Some(legacy) = &a.legacy_scopes {
            @for s in legacy { code.scope { (s) } " " }
            span.warn { "(legacy scopes)" }
        } @else {
            (layout::role_text(a.role, a.custom_role.as_ref()))
        }
    }
}

async fn load_form_data(v: &Visitor) -> Result<(RolesView, Vec<ProjectView>), Failure> {
    let roles: RolesView = v.api.get("/api/v1/org/roles").await?;
    let projects: Vec<ProjectView> = v.api.get("/api/v1/org/projects").await?;
    Ok((roles, projects))
}

/// One project row; `chosen` is `(project, role)` as typed before.
fn project_row(
    projects: &[ProjectView],
    roles: &[latchkey_core::Role],
    custom: &[(Uuid, String)],
    chosen: (&str, &str),
) -> Markup {
    html! {
        div.project-row {
            select name="project" aria-label="Project" {
                option value="" { "Choose a project…" }
                @for p in projects {
                    @let id = p.project_uuid.to_string();
                    option value=(id) selected[id == chosen.0] { (p.name) }
                }
            }
            select name="projectRole" aria-label="Role on the project" {
                (layout::role_options(roles, custom, Some(chosen.1)))
            }
            button.small.secondary type="button" data-remove-row="" { "Remove" }
        }
    }
}

/// The add form, in the dialog of the list page and on its own page;
/// `typed` fills it in again after a refusal.
fn add_form(
    v: &Visitor,
    roles: &RolesView,
    projects: &[ProjectView],
    typed: Option<&Fields>,
) -> Markup {
    let custom = super::custom_choices(roles);
    let mine = layout::credential_roles(v.me.role);
    let typed_value = |name: &str| typed.and_then(|f| f.get(name));
    let org_roles = layout::role_options(
        &mine,
        &custom,
        Some(typed_value("role").unwrap_or("viewer")),
    );
    let project_roles: Vec<_> = mine
        .iter()
        .copied()
        .filter(|r| r.is_project_role())
        .collect();
    let mut rows: Vec<(&str, &str)> = typed
        .map(|f| f.all("project").zip(f.all("projectRole")).collect())
        .unwrap_or_default();
    if rows.is_empty() {
        rows.push(("", "viewer"));
    }
    let by_project = typed_value("scope") == Some("project");
    html! {
        form.stack #add-service-account-form method="post" action=(HERE) {
            (layout::csrf(v))
            label for="description" { "Description" }
            input #description type="text" name="description" value=[typed_value("description")] required maxlength="1000" aria-describedby="description-hint";
            p #description-hint.hint { "What uses it? For example “nightly export job”." }
            (layout::expiry_picker(true))
            fieldset data-scope-choice="" {
                legend { "Scope" }
                div.choice {
                    input #scope-organization type="radio" name="scope" value="organization" checked[!by_project];
                    label for="scope-organization" { "Organization — one role across the organization" }
                }
                div.choice {
                    input #scope-project type="radio" name="scope" value="project" checked[by_project];
                    label for="scope-project" { "Projects — a role on each chosen project, nothing else" }
                }
            }
            fieldset data-scope-section="organization" {
                legend { "Organization role" }
                label for="sa-role" { "Role" }
                select #sa-role name="role" { (org_roles) }
            }
            fieldset data-scope-section="project" {
                legend { "Projects" }
                @if projects.is_empty() {
                    p.hint { "This organization has no projects yet." }
                }
                div #project-rows {
                    @for row in &rows { (project_row(projects, &project_roles, &custom, *row)) }
                }
                template #project-row-template { (project_row(projects, &project_roles, &custom, ("", "viewer"))) }
                button #add-project-row.small.secondary type="button" data-add-row="project-rows" data-template="project-row-template" { "Add project" }
            }
            div.actions {
                button #create-service-account type="submit" { "Add service account" }
                a.button.secondary href=(HERE) data-close-dialog="" { "Cancel" }
            }
        }
    }
}

async fn render_list(
    v: &Visitor,
    flash: Option<&Notice>,
    secret: Option<&ServiceAccountView>,
) -> Result<Markup, Failure> {
    let accounts: Vec<ServiceAccountView> = v.api.get(API).await?;
    let enterprise = v.enterprise();
    let (roles, projects) = if enterprise {
        load_form_data(v).await?
    } else {
        Default::default()
    };
    let at = now();
    Ok(layout::page(
        v,
        Section::ServiceAccounts,
        "Service accounts",
        flash,
        html! {
            @if let Some(a) = secret { (secret_of(a)) }
            p.lead { "Service accounts are credentials of the organization for machines: they keep working when the person who made them leaves." }
            // Existing accounts stay listed, rotatable and deletable on any
            // plan; only creating and editing need the enterprise plan.
            @if enterprise {
                p { a.button #add-service-account href={ (HERE) "/new" } data-open-dialog="add-service-account-dialog" { "Add service account" } }
                dialog #add-service-account-dialog aria-labelledby="add-sa-title" {
                    h2 #add-sa-title { "Add service account" }
                    (add_form(v, &roles, &projects, None))
                }
            } @else {
                p.notice #plan-notice { "Enterprise plan required to add or edit service accounts. An operator can change the plan with " code { "latchkey org set-plan <organization> enterprise" } " on the server host. Existing accounts keep working, and can be rotated and deleted here." }
            }
            @if accounts.is_empty() {
                p.empty { "No service accounts yet." }
            } @else {
                div.table-wrap {
                    table #service-accounts {
                        caption.visually-hidden { "Service accounts" }
                        thead { tr {
                            th scope="col" { "Description" } th scope="col" { "Token" } th scope="col" { "Role" }
                            th scope="col" { "Expiration" } th scope="col" { "Last used" } th scope="col" { "Created by" }
                            th scope="col" { span.visually-hidden { "Actions" } }
                        } }
                        tbody {
                            @for a in &accounts {
                                tr data-service-account=(a.uuid) {
                                    th scope="row" { (a.description) }
                                    td { code { (a.display_prefix) "…" } }
                                    td { (access(a)) }
                                    td { (layout::expiry(a.expires_at, at)) }
                                    td { (layout::last_used(a.last_used_at, at)) }
                                    td { (a.created_by.name) br; small { (layout::day(Some(a.created_at))) } }
                                    td.row-actions {
                                        details.menu {
                                            summary aria-label={ "Actions for " (a.description) } { "⋯" }
                                            ul {
                                                @if a.expires_at.is_some() {
                                                    li { a href={ (HERE) "/" (a.uuid) "/rotate" } { "Rotate token" } }
                                                } @else {
                                                    li.disabled { span { "Rotate token" } small { "Not possible without an expiration" } }
                                                }
                                                @if let Some(role) = &a.custom_role {
                                                    li { a href={ "/settings/roles/" (role.uuid) } { "View custom role" } }
                                                }
                                                li { a.danger href={ (HERE) "/" (a.uuid) "/delete" } { "Delete" } }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    ))
}

fn secret_of(a: &ServiceAccountView) -> Markup {
    KIND.secret(a)
}

pub async fn list(v: Visitor, Query(done): Query<Done>) -> Response {
    let flash = Notice::done(done.done.as_deref());
    shown(
        &v,
        Section::ServiceAccounts,
        render_list(&v, flash.as_ref(), None).await,
    )
}

async fn render_new(
    v: &Visitor,
    flash: Option<&Notice>,
    typed: Option<&Fields>,
) -> Result<Markup, Failure> {
    // The list's answer decides the plan and permission explanation.
    let _: Vec<Value> = v.api.get(API).await?;
    let (roles, projects) = load_form_data(v).await?;
    Ok(layout::page(
        v,
        Section::ServiceAccounts,
        "Add service account",
        flash,
        add_form(v, &roles, &projects, typed),
    ))
}

pub async fn new(v: Visitor) -> Response {
    shown(
        &v,
        Section::ServiceAccounts,
        render_new(&v, None, None).await,
    )
}

fn create_body(fields: &Fields) -> Result<Value, Failure> {
    let mut body = json!({ "description": fields.required("description", "Description")? });
    if let Some(at) = form::expiry(fields, now())? {
        body["expiresAt"] = json!(at);
    }
    match fields.get("scope") {
        Some("project") => {
            let mut rows = Vec::new();
            for (project, role) in fields.all("project").zip(fields.all("projectRole")) {
                if project.is_empty() {
                    continue;
                }
                let mut row = form::role_choice(Some(role).filter(|r| !r.is_empty()), "Role")?;
                row["projectUuid"] = json!(project);
                rows.push(row);
            }
            if rows.is_empty() {
                return Err(Failure::invalid("Projects", "choose at least one project"));
            }
            body["scope"] = json!("project");
            body["projects"] = json!(rows);
        }
        _ => {
            let role = form::role_choice(fields.get("role"), "Role")?;
            body["scope"] = json!("organization");
            if let Some(obj) = role.as_object() {
                for (k, val) in obj {
                    body[k] = val.clone();
                }
            }
        }
    }
    Ok(body)
}

pub async fn create(v: Visitor, fields: Fields) -> Response {
    let made = match create_body(&fields) {
        Ok(body) => {
            v.api
                .send::<ServiceAccountView>(Method::POST, API, fields.csrf(), Some(body))
                .await
        }
        Err(f) => Err(f),
    };
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
            Section::ServiceAccounts,
            failure.status,
            render_new(&v, Notice::failed(&failure).as_ref(), Some(&fields)).await,
        ),
    }
}

async fn one(v: &Visitor, uuid: Uuid) -> Result<ServiceAccountView, Failure> {
    v.api.get(&format!("{API}/{uuid}")).await
}

pub async fn rotate_page(v: Visitor, Id(uuid): Id) -> Response {
    KIND.rotate_form(&v, one(&v, uuid).await, None)
}

pub async fn rotate(v: Visitor, Id(uuid): Id, fields: Fields) -> Response {
    match rotate_call::<ServiceAccountView>(&v, &format!("{API}/{uuid}/rotate"), &fields).await {
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

pub async fn delete_page(v: Visitor, Id(uuid): Id) -> Response {
    KIND.removal_page(&v, one(&v, uuid).await)
}

pub async fn delete(v: Visitor, Id(uuid): Id, fields: Fields) -> Response {
    KIND.remove(&v, &format!("{API}/{uuid}"), &fields).await
}
