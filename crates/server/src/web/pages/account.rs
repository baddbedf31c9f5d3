//! The visitor's own account: the password, and where it is signed in.

use super::{change, shown, shown_with, Done};
use crate::state::now;
use crate::web::client::Failure;
use crate::web::form::{Fields, Id};
use crate::web::layout::{self, Notice, Section};
use crate::web::visitor::Visitor;
use crate::wire::SessionView;
use axum::extract::Query;
use axum::http::Method;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde_json::json;

const HERE: &str = "/settings/account";
const SESSIONS: &str = "/api/v1/user/me/sessions";

async fn render(v: &Visitor, flash: Option<&Notice>) -> Result<Markup, Failure> {
    let sessions: Vec<SessionView> = v.api.get(SESSIONS).await?;
    let at = now();
    Ok(layout::page(
        v,
        Section::Account,
        "Account",
        flash,
        html! {
            p.lead { "Signed in as " strong { (v.me.principal.email.as_deref().unwrap_or(&v.me.principal.actor.name)) } "." }
            h2 { "Password" }
            form.stack #password method="post" action={ (HERE) "/password" } {
                (layout::csrf(v))
                label for="current-password" { "Current password" }
                input #current-password type="password" name="currentPassword" required maxlength="256" autocomplete="current-password";
                label for="new-password" { "New password" }
                input #new-password type="password" name="newPassword" required minlength="8" maxlength="256" autocomplete="new-password" aria-describedby="new-password-hint";
                p #new-password-hint.hint { "8 to 256 characters. Every other session of your account is signed out; your tokens keep working." }
                div.actions { button #change-password type="submit" { "Change password" } }
            }
            h2 { "Sessions" }
            p { "Where your account is signed in, in every organization." }
            div.table-wrap {
                table #sessions {
                    caption.visually-hidden { "Sessions" }
                    thead { tr {
                        th scope="col" { "Signed in" } th scope="col" { "Last used" } th scope="col" { "Address" }
                        th scope="col" { "Browser or client" } th scope="col" { span.visually-hidden { "Actions" } }
                    } }
                    tbody {
                        @for s in &sessions {
                            tr data-session=(s.uuid) {
                                th scope="row" {
                                    (layout::day(Some(s.created_at)))
                                    @if s.current { " " span.badge { "This session" } }
                                }
                                td { (layout::last_used(s.last_seen_at, at)) }
                                td { (s.ip.as_deref().unwrap_or("unknown")) }
                                td { (s.user_agent.as_deref().unwrap_or("unknown")) }
                                td.row-actions {
                                    @if !s.current {
                                        form method="post" action={ (HERE) "/sessions/" (s.uuid) "/end" } {
                                            (layout::csrf(v))
                                            button.small.danger type="submit" aria-label={ "Sign out the session from " (s.ip.as_deref().unwrap_or("an unknown address")) } { "Sign out" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if sessions.len() > 1 {
                form method="post" action={ (HERE) "/sessions/end-others" } {
                    (layout::csrf(v))
                    button.secondary #end-other-sessions type="submit" { "Sign out every other session" }
                }
            }
        },
    ))
}

pub async fn page(v: Visitor, Query(done): Query<Done>) -> Response {
    let flash = Notice::done(done.done.as_deref());
    shown(&v, Section::Account, render(&v, flash.as_ref()).await)
}

/// After a change: back to the page with its notice, or the page with the
/// refusal (never the passwords that were typed).
async fn after(v: &Visitor, result: Result<(), Failure>, done: &str) -> Response {
    match result {
        Ok(()) => Redirect::to(&format!("{HERE}?done={done}")).into_response(),
        Err(failure) => shown_with(
            v,
            Section::Account,
            failure.status,
            render(v, Notice::failed(&failure).as_ref()).await,
        ),
    }
}

pub async fn change_password(v: Visitor, fields: Fields) -> Response {
    let result = async {
        let body = json!({
            "currentPassword": fields.required("currentPassword", "Current password")?,
            "newPassword": fields.required("newPassword", "New password")?,
        });
        change(
            &v,
            Method::POST,
            "/api/v1/user/me/password",
            &fields,
            Some(body),
        )
        .await
    }
    .await;
    after(&v, result, "password_changed").await
}

pub async fn end_session(v: Visitor, Id(uuid): Id, fields: Fields) -> Response {
    let result = change(
        &v,
        Method::DELETE,
        &format!("{SESSIONS}/{uuid}"),
        &fields,
        None,
    )
    .await;
    after(&v, result, "signed_out").await
}

pub async fn end_other_sessions(v: Visitor, fields: Fields) -> Response {
    let result = change(&v, Method::DELETE, SESSIONS, &fields, None).await;
    after(&v, result, "signed_out").await
}
