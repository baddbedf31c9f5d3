//! The session path: a session cookie's id, hashed like a token, its
//! membership, and the CSRF token every change must carry.

use crate::error::{ApiError, AuthFailure};
use crate::state::AppState;
use axum::http::request::Parts;
use axum::http::Method;
use latchkey_core::{Access, CredentialKind, CredentialRef, Grant, Reach, TokenHash};
use std::sync::Arc;
use time::OffsetDateTime;

use super::{client_of, Caller, Principal};

pub const CSRF_HEADER: &str = "x-csrf-token";

pub fn session_hash(state: &AppState, session_id: &str) -> TokenHash {
    state
        .hasher
        .hash_parts(&[b"session\0", session_id.as_bytes()])
}

/// The CSRF token of a session, derived from its id so nothing more is stored.
pub fn csrf_token(state: &AppState, session_id: &str) -> String {
    state
        .hasher
        .hash_parts(&[b"csrf\0", session_id.as_bytes()])
        .to_hex()
}

pub(super) async fn caller(
    state: &AppState,
    parts: &Parts,
    session_id: &str,
    at: OffsetDateTime,
) -> Result<Caller, ApiError> {
    let id_hash = session_hash(state, session_id);
    let session = state
        .store
        .session(&id_hash)
        .await?
        .filter(|s| s.id_hash.ct_eq(&id_hash))
        .ok_or(ApiError::Unauthenticated(AuthFailure::InvalidToken))?;
    if session.revoked_at.is_some() {
        return Err(ApiError::Unauthenticated(AuthFailure::TokenRevoked));
    }
    if session.expires_at <= at {
        return Err(ApiError::Unauthenticated(AuthFailure::TokenExpired));
    }
    let membership = session
        .membership
        .ok_or(ApiError::Unauthenticated(AuthFailure::TokenRevoked))?;
    if membership.suspended_at.is_some() {
        return Err(ApiError::Unauthenticated(AuthFailure::AccountSuspended));
    }
    let custom = match membership.custom_role_uuid {
        Some(uuid) => state.store.custom_role(session.org.uuid, uuid).await?,
        None => None,
    };
    let base = Grant::stored(
        membership.role,
        membership.custom_role_uuid.is_some(),
        custom.as_ref().map(|r| r.scopes.as_slice()),
    )
    .scopes(&state.catalog, Reach::Organization);
    let custom_role = custom.map(|r| (r.uuid, Arc::<str>::from(r.name)));
    let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe {
        let expected = csrf_token(state, session_id);
        let given = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let matches: bool =
            subtle::ConstantTimeEq::ct_eq(given.as_bytes(), expected.as_bytes()).into();
        if !matches {
            return Err(ApiError::Forbidden(
                "a session request that changes anything needs the X-CSRF-Token header from login"
                    .into(),
            ));
        }
    }
    Ok(Caller {
        org: Arc::new(session.org),
        principal: Principal::User(Arc::new(session.user)),
        credential: Arc::new(CredentialRef {
            kind: CredentialKind::Session,
            uuid: None,
            name: None,
            display_prefix: None,
        }),
        credential_expires_at: None,
        role: Some(membership.role),
        custom_role,
        projects: None,
        project_roles: None,
        access: Access::new(base, None),
        session: Some(id_hash),
        client: client_of(parts),
    })
}
