//! Signing in and out, accepting an invite, switching organization.

use crate::auth::{cookie_value, secure_cookies, session_cookie};
use crate::web::client::{ApiClient, Failure};
use crate::web::form::{Fields, CSRF_FIELD};
use crate::web::layout::{self, Notice};
use crate::web::visitor::Visitor;
use crate::web::WebState;
use crate::wire::{AcceptInviteResult, Envelope};
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_core::ExposeSecret;
use maud::{html, Markup};
use serde_json::json;
use subtle::ConstantTimeEq;

/// The double-submit cookie of the forms used before there is a session.
const FORM_COOKIE: &str = "latchkey_form";

pub async fn home() -> Redirect {
    Redirect::to("/settings/tokens")
}

/// A fresh form token, set as a cookie and echoed in the form: a page from
/// another site cannot read the cookie, so it cannot make a matching form.
fn form_token(secure: bool) -> (String, HeaderValue) {
    // Not a secret of anyone's: it only has to be unguessable by another site.
    let token = latchkey_core::token::random_secret(&mut rand::thread_rng())
        .expose_secret()
        .to_string();
    let secure = if secure { "; Secure" } else { "" };
    let cookie =
        format!("{FORM_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=3600{secure}");
    let value = HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""));
    (token, value)
}

fn form_token_matches(parts: &Parts, fields: &Fields) -> bool {
    let sent = fields.csrf();
    match cookie_value(parts, FORM_COOKIE) {
        Some(kept) if !sent.is_empty() => kept.as_bytes().ct_eq(sent.as_bytes()).into(),
        _ => false,
    }
}

/// As the session cookie: `Secure` when configured or behind HTTPS.
fn behind_https(state: &WebState, parts: &Parts) -> bool {
    secure_cookies(&state.app, &parts.headers)
}

fn with_form_token(
    secure: bool,
    status: StatusCode,
    render: impl FnOnce(&str) -> Markup,
) -> Response {
    let (token, cookie) = form_token(secure);
    (status, [(header::SET_COOKIE, cookie)], render(&token)).into_response()
}

fn login_form(token: &str, email: &str, flash: Option<&Notice>) -> Markup {
    layout::plain(
        "Sign in",
        flash,
        html! {
            form.stack method="post" action="/login" {
                input type="hidden" name=(CSRF_FIELD) value=(token);
                label for="email" { "Email" }
                input #email type="email" name="email" value=(email) required autocomplete="username" maxlength="254" autofocus;
                label for="password" { "Password" }
                input #password type="password" name="password" required autocomplete="current-password" maxlength="1024";
                button type="submit" { "Sign in" }
            }
        },
    )
}

pub async fn login_page(State(state): State<WebState>, parts: Parts) -> Response {
    with_form_token(behind_https(&state, &parts), StatusCode::OK, |token| {
        login_form(token, "", None)
    })
}

pub async fn login(State(state): State<WebState>, parts: Parts, fields: Fields) -> Response {
    let email = fields.get("email").unwrap_or("").to_string();
    let secure = behind_https(&state, &parts);
    if !form_token_matches(&parts, &fields) {
        let notice = Notice::Error("The form expired. Please sign in again.".into());
        return with_form_token(secure, StatusCode::FORBIDDEN, |t| {
            login_form(t, &email, Some(&notice))
        });
    }
    let api = ApiClient::new(state.api.clone(), &parts, None);
    let body = json!({ "email": email, "password": fields.raw("password") });
    match api
        .call(Method::POST, "/api/v1/login", None, Some(body))
        .await
    {
        Ok((headers, _)) => {
            let mut response = Redirect::to("/settings/tokens").into_response();
            pass_cookies(&headers, response.headers_mut());
            response
        }
        Err(failure) => {
            let message = match failure.code.as_str() {
                "invalid_login" => "Wrong email or password.".to_string(),
                "rate_limited" => "Too many attempts. Wait a few minutes and try again.".into(),
                _ => failure.text(),
            };
            with_form_token(secure, failure.status, |t| {
                login_form(t, &email, Some(&Notice::Error(message)))
            })
        }
    }
}

fn pass_cookies(from: &HeaderMap, to: &mut HeaderMap) {
    for cookie in from.get_all(header::SET_COOKIE) {
        to.append(header::SET_COOKIE, cookie.clone());
    }
}

pub async fn logout(v: Visitor, fields: Fields) -> Response {
    match v
        .api
        .call(Method::POST, "/api/v1/logout", Some(fields.csrf()), None)
        .await
    {
        Ok((headers, _)) => {
            let mut response = Redirect::to("/login").into_response();
            pass_cookies(&headers, response.headers_mut());
            response
        }
        Err(failure) => layout::refused(&v, layout::Section::Tokens, &failure),
    }
}

pub async fn switch_org(v: Visitor, fields: Fields) -> Response {
    let org = fields.get("orgUuid").unwrap_or("");
    let sent: Result<serde_json::Value, Failure> = v
        .api
        .send(
            Method::POST,
            "/api/v1/user/me/active-org",
            fields.csrf(),
            Some(json!({ "orgUuid": org })),
        )
        .await;
    match sent {
        Ok(_) => Redirect::to("/settings/tokens?done=switched").into_response(),
        Err(failure) => layout::refused(&v, layout::Section::Tokens, &failure),
    }
}

/// Invite codes are letters, digits, `-` and `_`; anything else is no code.
fn valid_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 64
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// For a visitor already signed in: accept with that account. Only the
/// invited account's own session can (the API answers 404 to any other).
fn invite_accept_form(code: &str, token: &str, flash: Option<&Notice>) -> Markup {
    let action = format!("/invite/{code}");
    layout::plain(
        "Accept your invitation",
        flash,
        html! {
            p { "You are signed in. Accept the invitation to join the organization with this account." }
            form.stack method="post" action=(action) {
                input type="hidden" name=(CSRF_FIELD) value=(token);
                button type="submit" { "Accept invitation" }
            }
            p.hint { "Invited with another account? " a href="/logout" { "Sign out" } " first, then open the link again." }
        },
    )
}

fn invite_form(code: &str, token: &str, flash: Option<&Notice>) -> Markup {
    let action = format!("/invite/{code}");
    layout::plain(
        "Accept your invitation",
        flash,
        html! {
            p { "Choose a password to finish setting up your latchkey account." }
            form.stack method="post" action=(action) {
                input type="hidden" name=(CSRF_FIELD) value=(token);
                label for="name" { "Your name (optional)" }
                input #name type="text" name="name" maxlength="100" autocomplete="name";
                label for="password" { "Password" }
                input #password type="password" name="password" required minlength="8" maxlength="1024" autocomplete="new-password" aria-describedby="password-hint";
                p #password-hint.hint { "At least 8 characters." }
                label for="password2" { "Password again" }
                input #password2 type="password" name="password2" required minlength="8" maxlength="1024" autocomplete="new-password";
                button type="submit" { "Set password" }
            }
        },
    )
}

pub async fn invite_page(
    State(state): State<WebState>,
    Path(code): Path<String>,
    parts: Parts,
) -> Response {
    if !valid_code(&code) {
        return layout::bare_error(StatusCode::NOT_FOUND, "This invite link is not valid.")
            .into_response();
    }
    let signed_in = session_cookie(&parts).is_some();
    with_form_token(behind_https(&state, &parts), StatusCode::OK, |t| {
        if signed_in {
            invite_accept_form(&code, t, None)
        } else {
            invite_form(&code, t, None)
        }
    })
}

pub async fn accept_invite(
    State(state): State<WebState>,
    Path(code): Path<String>,
    parts: Parts,
    fields: Fields,
) -> Response {
    if !valid_code(&code) {
        return layout::bare_error(StatusCode::NOT_FOUND, "This invite link is not valid.")
            .into_response();
    }
    let secure = behind_https(&state, &parts);
    let again = |status: StatusCode, message: String| {
        with_form_token(secure, status, |t| {
            invite_form(&code, t, Some(&Notice::Error(message)))
        })
    };
    if !form_token_matches(&parts, &fields) {
        return again(
            StatusCode::FORBIDDEN,
            "The form expired. Please try again.".into(),
        );
    }
    let path = format!("/api/v1/invites/{code}");
    // Signed in: accept with that session (its CSRF token is derived from it).
    if let Some(session) = session_cookie(&parts) {
        let csrf = crate::auth::csrf_token(&state.app, &session);
        let api = ApiClient::new(state.api.clone(), &parts, Some(session));
        return match api
            .call(Method::POST, &path, Some(&csrf), Some(json!({})))
            .await
        {
            Ok(_) => layout::plain(
                "You're in",
                Some(&Notice::Success("You have joined the organization.".into())),
                html! { p { a.button href="/settings/tokens" { "Go to your settings" } } },
            )
            .into_response(),
            Err(failure) => layout::bare_error(
                failure.status,
                "This invite link is not valid for the account you are signed in as: it was used already, has expired (after 7 days), or is for another account.",
            )
            .into_response(),
        };
    }
    let password = fields.raw("password");
    if fields.raw("password2") != password {
        return again(
            StatusCode::BAD_REQUEST,
            "The two passwords are not the same.".into(),
        );
    }
    let mut body = json!({ "password": password });
    if let Some(name) = fields.get("name") {
        body["name"] = json!(name);
    }
    let api = ApiClient::new(state.api.clone(), &parts, None);
    match api.call(Method::POST, &path, None, Some(body)).await {
        Ok((_, value)) => {
            let email = serde_json::from_value::<Envelope<AcceptInviteResult>>(value)
                .map(|a| a.results.user.email)
                .unwrap_or_default();
            layout::plain(
                "You're all set",
                Some(&Notice::Success("Your password is set.".into())),
                html! {
                    p { "Sign in as " strong { (email) } " to manage your tokens." }
                    p { a.button href="/login" { "Sign in" } }
                },
            )
            .into_response()
        }
        Err(failure) if failure.status == StatusCode::NOT_FOUND => layout::bare_error(
            StatusCode::NOT_FOUND,
            "This invite link is not valid: it was used already, has expired (after 7 days), or never existed. Ask an admin for a new one.",
        )
        .into_response(),
        Err(failure) if failure.code == "login_required" => layout::plain(
            "Sign in to accept",
            Some(&Notice::Error(
                "This invitation is for an account that already exists: it cannot set a password.".into(),
            )),
            html! {
                p { "Sign in to the invited account, then open this link again to accept." }
                p { a.button href="/login" { "Sign in" } }
            },
        )
        .into_response(),
        Err(failure) => again(failure.status, failure.text()),
    }
}
