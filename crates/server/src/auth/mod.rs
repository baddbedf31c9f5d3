//! Authentication: turn a request's `Authorization` header or session cookie
//! into a [`Caller`]. It only parses and looks up; each handler states what it
//! needs with one visible call (`caller.require(Scope::…)`).
//!
//! - `caller`: who is calling, as every handler sees it;
//! - `token`: the token path (checksum, one keyed hash, one cache read);
//! - `resolved`: a credential as the database described it, prepared once
//!   and cached (see `cache.rs` for why a live entry is always current);
//! - `session`: the session cookie and its CSRF token;
//! - `cookies`: reading and setting cookies.

mod caller;
mod cookies;
pub(crate) mod resolved;
mod session;
mod token;

pub(crate) use caller::client_of;
pub use caller::{require_in, Caller, Client, Memo, Principal, ProjectRow};
pub use cookies::{
    cookie_value, secure_cookies, session_cookie, session_set_cookie, SESSION_COOKIE,
};
pub use resolved::{Refusal, Resolved};
pub use session::{csrf_token, session_hash, CSRF_HEADER};
pub(crate) use token::from_header;
pub use token::{audit_refusal, refused_verification, verify_token};

use crate::error::{ApiError, AuthFailure};
use crate::state::{now, AppState};
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

/// A request that may come with a credential (accepting an invitation): no
/// credential at all is `None`; one that is refused is still refused.
impl axum::extract::OptionalFromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Caller>, ApiError> {
        if parts.headers.get(header::AUTHORIZATION).is_none() && session_cookie(parts).is_none() {
            return Ok(None);
        }
        <Caller as FromRequestParts<AppState>>::from_request_parts(parts, state)
            .await
            .map(Some)
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        let at = now();
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let text = token::from_header(value).map_err(ApiError::Unauthenticated)?;
            let client = client_of(parts);
            return match verify_token(state, text, &client, at).await? {
                Ok(caller) => Ok(caller),
                Err(refusal) => {
                    audit_refusal(state, &refusal, &client, at).await;
                    Err(ApiError::Unauthenticated(refusal.failure))
                }
            };
        }
        match session_cookie(parts) {
            Some(id) => session::caller(state, parts, &id, at).await,
            None => Err(ApiError::Unauthenticated(AuthFailure::MissingCredentials)),
        }
    }
}
