//! The session cookie: reading it (and any other), and setting it.

use crate::state::AppState;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};

pub const SESSION_COOKIE: &str = "latchkey_session";

pub fn session_cookie(parts: &Parts) -> Option<String> {
    cookie_value(parts, SESSION_COOKIE)
}

/// The value of the request's cookie `name`.
pub fn cookie_value(parts: &Parts, name: &str) -> Option<String> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

/// Cookies are `Secure` when the operator says so or the request came
/// through HTTPS (`X-Forwarded-Proto: https` from the proxy). Believed from
/// any peer, trusted proxy or not, on purpose: it can only add `Secure`,
/// which makes a cookie stricter for the one who asked, never looser for
/// anyone; ignoring it from unlisted proxies would quietly drop `Secure`
/// behind a TLS proxy that was never added to `--trusted-proxies`.
pub fn secure_cookies(state: &AppState, headers: &axum::http::HeaderMap) -> bool {
    state.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

/// `Set-Cookie` for the session: HttpOnly, SameSite=Lax, the whole site;
/// an empty value with no lifetime ends it.
pub fn session_set_cookie(value: &str, max_age: time::Duration, secure: bool) -> HeaderValue {
    let cookie = cookie::Cookie::build((SESSION_COOKIE, value.to_string()))
        .http_only(true)
        .same_site(cookie::SameSite::Lax)
        .secure(secure)
        .path("/")
        .max_age(cookie::time::Duration::seconds(max_age.whole_seconds()))
        .build();
    HeaderValue::from_str(&cookie.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
}
