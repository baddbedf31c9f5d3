//! The web settings pages (PRODUCT.md §5): server-rendered HTML with plain
//! forms and a little JavaScript, all served by this binary.
//!
//! Every page is an in-process client of the JSON API: it calls the same
//! handlers with the visitor's session cookie, and a form's CSRF field
//! becomes the `X-CSRF-Token` header of that call. Authorization,
//! validation and audit events therefore live in one place, the API, and a
//! page shows what the API allows the visitor and nothing else.

mod client;
pub(crate) mod form;
mod frame;
mod layout;
mod pages;
mod visitor;

pub use client::{ApiClient, Failure};

use crate::state::AppState;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

#[derive(Clone)]
pub struct WebState {
    pub app: AppState,
    /// The API's routes, called in process.
    pub api: Router,
}

const APP_CSS: &str = include_str!("assets/app.css");
const APP_JS: &str = include_str!("assets/app.js");

pub fn routes(app: AppState, api: Router) -> Router {
    use pages::{
        account, api_keys, audit, members, projects, roles, service_accounts, session, tokens,
    };
    let state = WebState { app, api };
    Router::new()
        .route("/", get(session::home))
        .route("/login", get(session::login_page).post(session::login))
        .route("/logout", post(session::logout))
        .route(
            "/invite/{code}",
            get(session::invite_page).post(session::accept_invite),
        )
        .route("/settings/active-org", post(session::switch_org))
        .route("/settings/account", get(account::page))
        .route("/settings/account/password", post(account::change_password))
        .route(
            "/settings/account/sessions/{uuid}/end",
            post(account::end_session),
        )
        .route(
            "/settings/account/sessions/end-others",
            post(account::end_other_sessions),
        )
        .route("/settings/tokens", get(tokens::list).post(tokens::create))
        .route("/settings/tokens/new", get(tokens::new))
        .route(
            "/settings/tokens/{uuid}/edit",
            get(tokens::edit_page).post(tokens::edit),
        )
        .route(
            "/settings/tokens/{uuid}/rotate",
            get(tokens::rotate_page).post(tokens::rotate),
        )
        .route(
            "/settings/tokens/{uuid}/revoke",
            get(tokens::revoke_page).post(tokens::revoke),
        )
        .route(
            "/settings/service-accounts",
            get(service_accounts::list).post(service_accounts::create),
        )
        .route("/settings/service-accounts/new", get(service_accounts::new))
        .route(
            "/settings/service-accounts/{uuid}/rotate",
            get(service_accounts::rotate_page).post(service_accounts::rotate),
        )
        .route(
            "/settings/service-accounts/{uuid}/delete",
            get(service_accounts::delete_page).post(service_accounts::delete),
        )
        .route(
            "/settings/api-keys",
            get(api_keys::list).post(api_keys::create),
        )
        .route("/settings/api-keys/new", get(api_keys::new))
        .route(
            "/settings/api-keys/{uuid}/rotate",
            get(api_keys::rotate_page).post(api_keys::rotate),
        )
        .route(
            "/settings/api-keys/{uuid}/revoke",
            get(api_keys::revoke_page).post(api_keys::revoke),
        )
        .route(
            "/settings/members",
            get(members::list).post(members::invite),
        )
        .route("/settings/members/{uuid}", post(members::update))
        .route(
            "/settings/members/{uuid}/remove",
            get(members::remove_page).post(members::remove),
        )
        .route(
            "/settings/projects",
            get(projects::list).post(projects::create),
        )
        .route(
            "/settings/projects/{uuid}",
            get(projects::show).post(projects::grant),
        )
        .route(
            "/settings/projects/{uuid}/access/{user}/remove",
            post(projects::remove_access),
        )
        .route("/settings/roles", get(roles::list).post(roles::create))
        .route("/settings/roles/new", get(roles::new))
        .route(
            "/settings/roles/{uuid}",
            get(roles::show).post(roles::update),
        )
        .route(
            "/settings/roles/{uuid}/delete",
            get(roles::delete_page).post(roles::delete),
        )
        .route("/settings/audit-log", get(audit::list))
        .route("/assets/app.css", get(|| asset(APP_CSS, "text/css")))
        .route("/assets/app.js", get(|| asset(APP_JS, "text/javascript")))
        .layer(axum::middleware::map_response(page_headers))
        .with_state(state)
}

async fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        body,
    )
        .into_response()
}

/// Pages may show a secret once: never cached, never framed, no referrer
/// (an invite code is in its page's address), scripts only from here.
async fn page_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}
