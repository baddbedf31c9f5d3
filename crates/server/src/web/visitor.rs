//! The signed-in person a page is for, as the API sees them.

use super::client::ApiClient;
use super::frame;
use super::WebState;
use crate::auth::{csrf_token, secure_cookies, session_cookie, session_set_cookie};
use crate::wire::{CurrentUser, OrgView};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_core::Plan;

pub struct Visitor {
    pub api: ApiClient,
    /// `GET /api/v1/user`.
    pub me: CurrentUser,
    /// The organizations this person may switch to.
    pub orgs: Vec<OrgView>,
    /// The session's CSRF token, for the forms of the page.
    pub csrf: String,
    /// `scheme://host` as the browser addressed this server, for links shown
    /// to be copied (invites).
    pub origin: String,
    /// Whether this visitor's cookies are `Secure`.
    pub secure: bool,
}

impl Visitor {
    /// The organization-wide scope, as the API would judge it. Only decides
    /// what the page offers; the API decides what happens.
    pub fn can(&self, scope: &str) -> bool {
        self.me.scopes.iter().any(|s| s == scope)
    }

    pub fn enterprise(&self) -> bool {
        self.me.org.plan == Plan::Enterprise
    }

    /// What a token of theirs may carry: organization scopes and every
    /// project role's (the API's `grantableScopes`, given for every user).
    pub fn grantable_scopes(&self) -> &[String] {
        self.me.grantable_scopes.as_deref().unwrap_or_default()
    }
}

impl FromRequestParts<WebState> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Visitor, Response> {
        let Some(session) = session_cookie(parts) else {
            return Err(Redirect::to("/login").into_response());
        };
        let secure = secure_cookies(&state.app, &parts.headers);
        let api = ApiClient::new(state.api.clone(), parts, Some(session.clone()));
        let me: CurrentUser = match api.get("/api/v1/user").await {
            Ok(me) => me,
            Err(f) if f.status == StatusCode::UNAUTHORIZED => {
                return Err(signed_out(secure));
            }
            Err(f) => return Err(frame::bare_error(f.status, &f.text()).into_response()),
        };
        let orgs = api.get("/api/v1/orgs").await.unwrap_or_default();
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .filter(|h| {
                h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
            })
            .unwrap_or("localhost");
        Ok(Visitor {
            api,
            me,
            orgs,
            csrf: csrf_token(&state.app, &session),
            origin: format!("{}://{host}", if secure { "https" } else { "http" }),
            secure,
        })
    }
}

/// To the sign-in page, forgetting a session the server no longer knows.
pub fn signed_out(secure: bool) -> Response {
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_set_cookie("", time::Duration::ZERO, secure),
    );
    response
}
