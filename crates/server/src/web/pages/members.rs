//! Members: invite, change role, suspend, remove (admins).

use super::{change, shown, shown_with, Done};
use crate::web::client::Failure;
use crate::web::form::{self, Fields, Id};
use crate::web::layout::{self, Notice, Section};
use crate::web::visitor::Visitor;
use crate::wire::{MemberView, RolesView};
use axum::extract::Query;
use axum::http::Method;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde_json::json;

const API: &str = "/api/v1/org/users";
const HERE: &str = "/settings/members";

/// A member's role as the role picker names it.
fn role_value(m: &MemberView) -> String {
    match &m.custom_role {
        Some(c) => format!("custom:{}", c.uuid),
        None => m.role.as_str().to_string(),
    }
}

async fn render_list(
    v: &Visitor,
    flash: Option<&Notice>,
    invited: Option<&MemberView>,
) -> Result<Markup, Failure> {
    let members: Vec<MemberView> = v.api.get(API).await?;
    let roles: RolesView = v.api.get("/api/v1/org/roles").await?;
    let custom = super::custom_choices(&roles);
    let mine = layout::roles_up_to(v.me.role);
    Ok(layout::page(
        v,
        Section::Members,
        "Members",
        flash,
        html! {
            @if let Some(m) = invited {
                @if let Some(url) = &m.invite_url {
                    section.secret aria-labelledby="invite-title" {
                        h2 #invite-title { "Invitation for " (m.email) }
                        p { "Send this link to them. It works once, for 7 days." }
                        div.copy-row {
                            label.visually-hidden for="invite-link" { "Invite link" }
                            input #invite-link type="text" readonly value={ (v.origin) (url) };
                            button type="button" data-copy="invite-link" { "Copy" }
                            span.copied role="status" aria-live="polite" {}
                        }
                    }
                }
            }
            details.panel open[members.len() <= 1] {
                summary { "Invite a member" }
                form.stack method="post" action=(HERE) {
                    (layout::csrf(v))
                    label for="invite-email" { "Email" }
                    input #invite-email type="email" name="email" required maxlength="254";
                    label for="invite-name" { "Name (optional)" }
                    input #invite-name type="text" name="name" maxlength="100";
                    label for="invite-role" { "Role" }
                    select #invite-role name="role" { (layout::role_options(&mine, &custom, Some("viewer"))) }
                    div.actions { button type="submit" { "Invite" } }
                }
            }
            div.table-wrap {
                table #members {
                    caption.visually-hidden { "Members" }
                    thead { tr {
                        th scope="col" { "Member" } th scope="col" { "Role" } th scope="col" { "Status" }
                        th scope="col" { "Joined" } th scope="col" { span.visually-hidden { "Actions" } }
                    } }
                    tbody {
                        @for m in &members {
                            @let role_id = format!("role-{}", m.user_uuid);
                            tr data-member=(m.user_uuid) {
                                th scope="row" { (m.email) @if let Some(n) = &m.name { br; small { (n) } } }
                                td {
                                    form.inline method="post" action={ (HERE) "/" (m.user_uuid) } {
                                        (layout::csrf(v))
                                        label.visually-hidden for=(role_id) { "Role of " (m.email) }
                                        select id=(role_id) name="role" {
                                            (layout::role_options(&mine, &custom, Some(&role_value(m))))
                                        }
                                        button.small type="submit" aria-label={ "Change the role of " (m.email) } { "Change" }
                                    }
                                }
                                td { @if m.suspended { span.expired { "Suspended" } } @else { "Active" } }
                                td { (layout::day(Some(m.created_at))) }
                                td.row-actions {
                                    form.inline method="post" action={ (HERE) "/" (m.user_uuid) } {
                                        (layout::csrf(v))
                                        input type="hidden" name="suspended" value=(if m.suspended { "false" } else { "true" });
                                        button.small.secondary type="submit" aria-label={ @if m.suspended { "Unsuspend " } @else { "Suspend " } (m.email) } { @if m.suspended { "Unsuspend" } @else { "Suspend" } }
                                    }
                                    a.button.small.danger href={ (HERE) "/" (m.user_uuid) "/remove" } aria-label={ "Remove " (m.email) } { "Remove" }
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
    shown(
        &v,
        Section::Members,
        render_list(&v, flash.as_ref(), None).await,
    )
}

pub async fn invite(v: Visitor, fields: Fields) -> Response {
    let made = async {
        let mut body = form::role_choice(fields.get("role"), "Role")?;
        body["email"] = json!(fields.required("email", "Email")?);
        if let Some(name) = fields.get("name") {
            body["name"] = json!(name);
        }
        v.api
            .send::<MemberView>(Method::POST, API, fields.csrf(), Some(body))
            .await
    }
    .await;
    match made {
        Ok(member) => {
            let notice = Notice::Success(format!("{} is a member now.", member.email));
            shown(
                &v,
                Section::Members,
                render_list(&v, Some(&notice), Some(&member)).await,
            )
        }
        Err(failure) => shown_with(
            &v,
            Section::Members,
            failure.status,
            render_list(&v, Notice::failed(&failure).as_ref(), None).await,
        ),
    }
}

pub async fn update(v: Visitor, Id(uuid): Id, fields: Fields) -> Response {
    let body = match fields.get("suspended") {
        Some(s) => Ok(json!({ "suspended": s == "true" })),
        None => form::role_choice(fields.get("role"), "Role"),
    };
    let saved = match body {
        Ok(body) => {
            change(
                &v,
                Method::PATCH,
                &format!("{API}/{uuid}"),
                &fields,
                Some(body),
            )
            .await
        }
        Err(f) => Err(f),
    };
    match saved {
        Ok(()) => Redirect::to("/settings/members?done=updated").into_response(),
        Err(failure) => shown_with(
            &v,
            Section::Members,
            failure.status,
            render_list(&v, Notice::failed(&failure).as_ref(), None).await,
        ),
    }
}

pub async fn remove_page(v: Visitor, Id(uuid): Id) -> Response {
    let members: Result<Vec<MemberView>, Failure> = v.api.get(API).await;
    let member = members.map(|ms| ms.into_iter().find(|m| m.user_uuid == uuid));
    match member {
        Ok(Some(m)) => layout::page(
            &v,
            Section::Members,
            "Remove member",
            None,
            layout::confirm(
                &v,
                &format!("{HERE}/{uuid}/remove"),
                html! {
                    p { "Remove " strong { (m.email) } " from " (v.me.org.name) "?" }
                    p { "Their personal access tokens for this organization are revoked at once." }
                },
                "Remove member",
                HERE,
            ),
        )
        .into_response(),
        Ok(None) => layout::refused(&v, Section::Members, &Failure::not_found()),
        Err(failure) => layout::refused(&v, Section::Members, &failure),
    }
}

pub async fn remove(v: Visitor, Id(uuid): Id, fields: Fields) -> Response {
    match change(&v, Method::DELETE, &format!("{API}/{uuid}"), &fields, None).await {
        Ok(()) => Redirect::to("/settings/members?done=removed").into_response(),
        Err(failure) => shown_with(
            &v,
            Section::Members,
            failure.status,
            render_list(&v, Notice::failed(&failure).as_ref(), None).await,
        ),
    }
}
