//! The page shell, and the pieces many pages show: notices, times,
//! confirmations, the expiry picker, the once-shown secret.

use super::client::Failure;
use super::form::{CSRF_FIELD, EXPIRY_DAYS};
pub use super::frame::{bare_error, plain, Notice};
use super::frame::{head, notice};
use super::visitor::{signed_out, Visitor};
use crate::wire::CustomRoleRef;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use latchkey_core::Role;
use maud::{html, Markup, DOCTYPE};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Tokens,
    Account,
    ServiceAccounts,
    ApiKeys,
    Members,
    Projects,
    Roles,
    Audit,
}

/// A settings page: header, navigation by what the visitor may do, content.
pub fn page(
    v: &Visitor,
    section: Section,
    title: &str,
    flash: Option<&Notice>,
    content: Markup,
) -> Markup {
    let nav = [
        (
            Section::Tokens,
            "Personal access tokens",
            "/settings/tokens",
            true,
        ),
        (Section::Account, "Account", "/settings/account", true),
        (
            Section::ServiceAccounts,
            "Service accounts",
            "/settings/service-accounts",
            v.can("service_accounts:write"),
        ),
        (
            Section::ApiKeys,
            "API keys",
            "/settings/api-keys",
            v.can("api_keys:write"),
        ),
        (
            Section::Members,
            "Members",
            "/settings/members",
            v.can("members:write"),
        ),
        (Section::Projects, "Projects", "/settings/projects", true),
        (Section::Roles, "Roles", "/settings/roles", true),
        (
            Section::Audit,
            "Audit log",
            "/settings/audit-log",
            v.can("audit:read"),
        ),
    ];
    html! {
        (DOCTYPE)
        html lang="en" {
        (head(title))
        body {
            a.skip href="#main" { "Skip to content" }
            header.top {
                a.brand href="/settings/tokens" { "latchkey" }
                @if v.orgs.len() > 1 {
                    form.org-switch method="post" action="/settings/active-org" {
                        (csrf(v))
                        label for="org-switch" { "Organization" }
                        select #org-switch name="orgUuid" {
                            @for org in &v.orgs {
                                option value=(org.uuid) selected[org.uuid == v.me.org.uuid] { (org.name) }
                            }
                        }
                        button type="submit" { "Switch" }
                    }
                } @else {
                    span.org { (v.me.org.name) }
                }
                span.who {
                    (v.me.principal.email.as_deref().unwrap_or(&v.me.principal.actor.name))
                    " · " (role_text(v.me.role, v.me.custom_role.as_ref()))
                }
                form method="post" action="/logout" {
                    (csrf(v))
                    button.link type="submit" { "Sign out" }
                }
            }
            div.frame {
                nav aria-label="Settings" {
                    // Profile first (the visitor's own tokens), then the
                    // organization's settings.
                    @for (group, items) in [("Profile", &nav[..2]), (v.me.org.name.as_str(), &nav[2..])] {
                        p.nav-group { (group) }
                        ul {
                            @for (s, label, href, shown) in items {
                                @if *shown {
                                    li {
                                        a href=(href) aria-current=[(*s == section).then_some("page")] { (label) }
                                    }
                                }
                            }
                        }
                    }
                }
                main #main {
                    h1 { (title) }
                    (notice(flash))
                    (content)
                }
            }
        }
        }
    }
}

/// A page the API refused to fill: signed out, or the visitor's answer.
pub fn refused(v: &Visitor, section: Section, failure: &Failure) -> Response {
    if failure.status == StatusCode::UNAUTHORIZED {
        return signed_out(v.secure);
    }
    let (title, explanation) = match (failure.status, failure.code.as_str()) {
        (_, "plan_required") => (
            "Enterprise plan required",
            "This needs the enterprise plan. An operator can change the plan with `latchkey org set-plan <organization> enterprise` on the server host.",
        ),
        (_, "forbidden") if failure.message.contains("X-CSRF-Token") => (
            "This form has expired",
            "The page was made for an earlier sign-in. Reload the page and try again.",
        ),
        (_, "feature_disabled") => (
            "Turned off",
            "This is turned off on this latchkey server (LATCHKEY_SERVICE_ACCOUNTS_ENABLED=false).",
        ),
        (StatusCode::FORBIDDEN, _) => (
            "Not allowed",
            "Your role in this organization does not allow this page. An admin of the organization can change your role.",
        ),
        (StatusCode::NOT_FOUND, _) => ("Not found", "There is nothing here in this organization."),
        _ => ("Something went wrong", "The request could not be completed."),
    };
    (
        failure.status,
        page(
            v,
            section,
            title,
            Some(&Notice::Error(failure.text())),
            html! { p.explain { (explanation) } },
        ),
    )
        .into_response()
}

pub fn csrf(v: &Visitor) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(v.csrf); }
}

/// The RFC 3339 text of a time, as the API wrote it, for `datetime`.
fn rfc3339(t: OffsetDateTime) -> Option<String> {
    t.format(&Rfc3339).ok()
}

/// `2026-11-23 14:05 UTC`
pub fn when(at: Option<OffsetDateTime>) -> Markup {
    match at {
        Some(t) => html! {
            time datetime=[rfc3339(t)] {
                (format!(
                    "{:04}-{:02}-{:02} {:02}:{:02} UTC",
                    t.year(),
                    u8::from(t.month()),
                    t.day(),
                    t.hour(),
                    t.minute()
                ))
            }
        },
        None => html! { "never" },
    }
}

/// `2026-11-23`
pub fn day(at: Option<OffsetDateTime>) -> Markup {
    match at {
        Some(t) => html! {
            time datetime=[rfc3339(t)] {
                (format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day()))
            }
        },
        None => html! { "—" },
    }
}

/// "expires in 30 days", "expired", "no expiration".
pub fn expiry(at: Option<OffsetDateTime>, now: OffsetDateTime) -> Markup {
    let Some(at) = at else {
        return html! { span.warn title="Tokens without an expiry stay valid until revoked" { "No expiration" } };
    };
    let left = at - now;
    html! {
        @if left.is_negative() || left.is_zero() {
            span.expired { "Expired" } " " small { (day(Some(at))) }
        } @else {
            // Whole days left, rounded up, as the CLI says it.
            @let days = latchkey_core::policy::days_left(at, now);
            span { @if days <= 1 { "Expires within a day" } @else { "Expires in " (days) " days" } }
            " " small { (day(Some(at))) }
        }
    }
}

/// "never", "today", "3 days ago"; `lastUsedAt` may lag by a minute.
pub fn last_used(at: Option<OffsetDateTime>, now: OffsetDateTime) -> String {
    match at {
        None => "Never used".into(),
        Some(at) => match (now - at).whole_days() {
            d if d <= 0 => "Today".into(),
            1 => "Yesterday".into(),
            d => format!("{d} days ago"),
        },
    }
}

/// The expiry picker: fixed days, a date, or none (with a recommendation
/// against it). `allow_none` is false for rotation, which needs an expiry.
pub fn expiry_picker(allow_none: bool) -> Markup {
    html! {
        fieldset.expiry {
            legend { "Expiration" }
            label for="expiry" { "Expires after" }
            select #expiry name="expiry" data-expiry="" aria-describedby="expiry-advice" {
                @for days in EXPIRY_DAYS {
                    option value=(days) selected[days == 30] { (days) " days" }
                }
                option value="custom" { "Custom date…" }
                @if allow_none { option value="none" { "No expiration" } }
            }
            div.custom-date data-custom-date="" {
                label for="expiresOn" { "Expiration date (UTC)" }
                input #expiresOn type="date" name="expiresOn";
            }
            p #expiry-advice.hint {
                "We recommend an expiration: a token that expires cannot be used forever by whoever finds it."
                @if allow_none { " A token with no expiration cannot be rotated." }
            }
        }
    }
}

/// The system roles, and the organization's custom roles as `custom:<uuid>`.
pub fn role_options(
    roles: &[Role],
    custom: &[(uuid::Uuid, String)],
    selected: Option<&str>,
) -> Markup {
    html! {
        @for role in roles {
            option value=(role.as_str()) selected[selected == Some(role.as_str())] { (role_label(*role)) }
        }
        @if !custom.is_empty() {
            optgroup label="Custom roles" {
                @for (uuid, name) in custom {
                    @let value = format!("custom:{uuid}");
                    option value=(value) selected[selected == Some(value.as_str())] { (name) }
                }
            }
        }
    }
}

/// A role as lists show it: a system role, or a custom role by name.
pub fn role_text(role: Option<latchkey_core::Role>, custom: Option<&CustomRoleRef>) -> String {
    match (custom, role) {
        (Some(c), _) => c.name.clone(),
        (None, Some(r)) => role_label(r).to_string(),
        (None, None) => "—".into(),
    }
}

pub fn role_label(role: Role) -> &'static str {
    match role {
        Role::Member => "Member",
        Role::Viewer => "Viewer",
        Role::InteractiveViewer => "Interactive viewer",
        Role::Editor => "Editor",
        Role::Developer => "Developer",
        Role::Admin => "Admin",
    }
}

/// A secret just minted: shown once, with a copy button and the warning.
pub fn new_secret(what: &str, name: &str, token: Option<&str>) -> Markup {
    let Some(token) = token else {
        return html! {};
    };
    html! {
        section.secret aria-labelledby="new-secret-title" {
            h2 #new-secret-title { "Your new " (what) ": " (name) }
            p.warn { "Copy it now. It will not be shown again: latchkey keeps only a keyed hash of it. Reloading this page would submit the form again and make another one." }
            div.copy-row {
                label.visually-hidden for="new-token-secret" { "The new " (what) }
                input #new-token-secret type="text" readonly value=(token) spellcheck="false" autocomplete="off";
                button #copy-token type="button" data-copy="new-token-secret" { "Copy" }
                span.copied role="status" aria-live="polite" {}
            }
        }
    }
}

/// "Are you sure?" for a destructive change: one form, one button, a way back.
pub fn confirm(v: &Visitor, action: &str, question: Markup, button: &str, back: &str) -> Markup {
    html! {
        form.confirm method="post" action=(action) {
            (csrf(v))
            (question)
            div.actions {
                button.danger type="submit" { (button) }
                a.button.secondary href=(back) { "Cancel" }
            }
        }
    }
}

/// Roles the visitor could give (no higher than their own); every role when
/// the visitor's own is not a system role.
pub fn roles_up_to(mine: Option<Role>) -> Vec<Role> {
    Role::ALL
        .into_iter()
        .filter(|r| mine.is_none_or(|m| *r <= m))
        .collect()
}

/// Roles a credential may hold (an API key, an organization-wide service
/// account): viewer and above, no higher than the visitor's own.
pub fn credential_roles(mine: Option<Role>) -> Vec<Role> {
    roles_up_to(mine)
        .into_iter()
        .filter(|r| *r != Role::Member)
        .collect()
}
