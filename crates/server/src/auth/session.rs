//! The session path: a session cookie's id, hashed like a token and cached
//! like one (the hashes cannot meet: each is keyed by its own domain), and
//! the CSRF token every change must carry.

use crate::cache::Lookup;
use crate::error::{ApiError, AuthFailure};
use crate::state::AppState;
use axum::http::request::Parts;
use axum::http::Method;
use latchkey_core::TokenHash;
use std::sync::Arc;
use time::OffsetDateTime;

use super::resolved::Resolved;
use super::{client_of, Caller};

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

/// A session cookie, resolved like a token (one keyed hash, one cache read;
/// the database only when nothing live is cached), then its CSRF token.
pub(super) async fn caller(
    state: &AppState,
    parts: &Parts,
    session_id: &str,
    at: OffsetDateTime,
) -> Result<Caller, ApiError> {
    let id_hash = session_hash(state, session_id);
    let load = async {
        Ok::<_, ApiError>(match state.store.session(&id_hash).await? {
            Some(record) if record.id_hash.ct_eq(&id_hash) => {
                let org = record.org.uuid;
                let resolved = Resolved::from_session(&state.catalog, record);
                (Lookup::Found(Arc::new(resolved)), Some(org))
            }
            _ => (Lookup::Unknown, None),
        })
    };
    let (entry, _) = state
        .cache
        .get_or_load(id_hash, std::time::Instant::now(), load)
        .await?;
    let caller = match &entry.lookup {
        // Refusals of a session are not audited: it names no credential.
        Lookup::Found(resolved) => {
            let caller = resolved
                .admit(&client_of(parts), at)
                .map_err(|refusal| ApiError::Unauthenticated(refusal.failure))?;
            if resolved.due_for_last_used(at) {
                state.last_used.record_session(id_hash, at);
            }
            caller
        }
        Lookup::Retired { .. } | Lookup::Unknown => {
            return Err(ApiError::Unauthenticated(AuthFailure::InvalidToken))
        }
    };
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
    Ok(caller)
}
