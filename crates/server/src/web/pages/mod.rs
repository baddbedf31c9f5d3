//! One module per settings page, each a thin client of its API resource.

pub mod account;
pub mod api_keys;
pub mod audit;
pub mod members;
pub mod projects;
pub mod roles;
pub mod service_accounts;
pub mod session;
pub mod tokens;

use super::client::Failure;
use super::form::{self, Fields};
use super::layout::{self, Notice, Section};
use super::visitor::Visitor;
use crate::wire::{CredentialObject, RolesView};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

/// `?done=` after a change that redirects back to a list.
#[derive(Deserialize, Default)]
pub struct Done {
    pub done: Option<String>,
}

/// The organization's custom roles as the role pickers offer them.
pub fn custom_choices(roles: &RolesView) -> Vec<(Uuid, String)> {
    roles
        .custom_roles
        .iter()
        .map(|r| (r.uuid, r.name.clone()))
        .collect()
}

/// A change whose answer is not shown: a redirect back to `to` on success.
pub async fn change(
    v: &Visitor,
    method: Method,
    path: &str,
    fields: &Fields,
    body: Option<serde_json::Value>,
) -> Result<(), Failure> {
    v.api
        .send::<serde_json::Value>(method, path, fields.csrf(), body)
        .await
        .map(|_| ())
}

/// What the pages of one kind of credential (personal access tokens, API
/// keys, service accounts) share: where they live and how they name one.
pub struct Kind {
    pub section: Section,
    /// The list page's title and address.
    pub title: &'static str,
    pub here: &'static str,
    /// "token", "API key", "service account".
    pub noun: &'static str,
    /// What the one-time panel calls the secret.
    pub secret_noun: &'static str,
    /// "Revoke" or "Delete", what it does, and the list's `?done=` after it.
    pub removal: &'static str,
    pub removal_effect: &'static str,
    pub removed: &'static str,
}

impl Kind {
    /// The once-shown panel for a secret just minted.
    pub fn secret(&self, minted: &impl CredentialObject) -> Markup {
        let token = minted.token().map(latchkey_core::TokenSecret::expose);
        layout::new_secret(self.secret_noun, minted.name(), token)
    }

    /// The rotation page: the new expiry, or why it cannot be rotated (no
    /// expiry); the refusal page when the credential could not be read.
    pub fn rotate_form(
        &self,
        v: &Visitor,
        loaded: Result<impl CredentialObject, Failure>,
        flash: Option<&Notice>,
    ) -> Response {
        let credential = match loaded {
            Ok(c) => c,
            Err(failure) => return layout::refused(v, self.section, &failure),
        };
        let action = format!("{}/{}/rotate", self.here, credential.uuid());
        let back = self.here;
        layout::page(
            v,
            self.section,
            &format!("Rotate {}", self.noun),
            flash,
            html! {
                p { "Rotating " strong { (credential.name()) } " (" code { (credential.display_prefix()) "…" } ") makes a new secret at once; the current one stops working." }
                @if credential.expires_at().is_none() {
                    p.explain #no-rotation {
                        "This " (self.noun) " has no expiration, so it cannot be rotated. Create a new one with an expiration, move what uses this one over, then revoke this one."
                    }
                    p { a.button.secondary href=(back) { "Back" } }
                } @else {
                    form.stack method="post" action=(action) {
                        (layout::csrf(v))
                        (layout::expiry_picker(false))
                        div.actions {
                            button type="submit" { "Rotate" }
                            a.button.secondary href=(back) { "Cancel" }
                        }
                    }
                }
            },
        )
        .into_response()
    }

    /// The rotation page again after a refused rotation, with the refusal
    /// said and its status.
    pub fn rotate_refused(
        &self,
        v: &Visitor,
        loaded: Result<impl CredentialObject, Failure>,
        failure: &Failure,
    ) -> Response {
        let mut response = self.rotate_form(v, loaded, Notice::failed(failure).as_ref());
        if response.status() == StatusCode::OK {
            *response.status_mut() = failure.status;
        }
        response
    }

    /// The notice above the list after a rotation.
    pub fn rotated_notice(&self) -> Notice {
        let mut noun = self.noun.to_string();
        if let Some(first) = noun.get_mut(..1) {
            first.make_ascii_uppercase();
        }
        Notice::Success(format!("{noun} rotated. The old secret no longer works."))
    }

    /// "Revoke …?" / "Delete …?": one button, a way back.
    pub fn removal_page(
        &self,
        v: &Visitor,
        loaded: Result<impl CredentialObject, Failure>,
    ) -> Response {
        let credential = match loaded {
            Ok(c) => c,
            Err(failure) => return layout::refused(v, self.section, &failure),
        };
        let title = format!("{} {}", self.removal, self.noun);
        let action = format!(
            "{}/{}/{}",
            self.here,
            credential.uuid(),
            self.removal.to_ascii_lowercase()
        );
        layout::page(
            v,
            self.section,
            &title,
            None,
            layout::confirm(
                v,
                &action,
                html! {
                    p { (self.removal) " " strong { (credential.name()) } " (" code { (credential.display_prefix()) "…" } ")?" }
                    p { (self.removal_effect) " This cannot be undone." }
                },
                &title,
                self.here,
            ),
        )
        .into_response()
    }

    /// The removal itself: `DELETE <api_path>`, then back to the list.
    pub async fn remove(&self, v: &Visitor, api_path: &str, fields: &Fields) -> Response {
        match change(v, Method::DELETE, api_path, fields, None).await {
            Ok(()) => Redirect::to(&format!("{}?done={}", self.here, self.removed)).into_response(),
            Err(failure) => layout::refused(v, self.section, &failure),
        }
    }
}

/// Rotates through `PATCH <api_path>` with the expiry the form chose.
pub async fn rotate_call<T: serde::de::DeserializeOwned>(
    v: &Visitor,
    api_path: &str,
    fields: &Fields,
) -> Result<T, Failure> {
    let expires_at = form::expiry(fields, crate::state::now())?
        .ok_or_else(|| Failure::invalid("Expiration", "a rotated token needs an expiration"))?;
    v.api
        .send(
            Method::PATCH,
            api_path,
            fields.csrf(),
            Some(json!({ "expiresAt": expires_at })),
        )
        .await
}

/// The answer to a create or rotate: the list with the new secret on top.
/// If the list cannot be read back, the secret is shown alone with the
/// reason: it exists nowhere else, so the page must never lose it.
pub fn minted(
    v: &Visitor,
    section: Section,
    title: &str,
    secret: Markup,
    listed: Result<Markup, Failure>,
) -> Response {
    match listed {
        Ok(markup) => (StatusCode::OK, markup).into_response(),
        Err(failure) => (
            StatusCode::OK,
            layout::page(v, section, title, Notice::failed(&failure).as_ref(), secret),
        )
            .into_response(),
    }
}

/// Renders `markup` with `status`, or the failure page when a load failed.
pub fn shown(v: &Visitor, section: Section, result: Result<Markup, Failure>) -> Response {
    match result {
        Ok(markup) => (StatusCode::OK, markup).into_response(),
        Err(failure) => layout::refused(v, section, &failure),
    }
}

/// A list page re-rendered after a failed change: the failure as its notice,
/// with the failure's status.
pub fn shown_with(
    v: &Visitor,
    section: Section,
    status: StatusCode,
    result: Result<Markup, Failure>,
) -> Response {
    match result {
        Ok(markup) => (status, markup).into_response(),
        Err(failure) => layout::refused(v, section, &failure),
    }
}
