//! The token path: checksum, one keyed hash, one cache read, a few checks,
//! `Arc` clones. The database is read only when the cache has no live entry
//! for the hash.

use crate::cache::Lookup;
use crate::error::{ApiError, AuthFailure};
use crate::state::AppState;
use axum::http::header;
use latchkey_core::AuditAction;
use latchkey_core::{token, AuditEvent, CredentialRef};
use latchkey_store::TokenLookup;
use std::sync::Arc;
use time::OffsetDateTime;

use super::caller::{Caller, Client};
use super::resolved::{credential_ref, Refusal, Resolved};

/// Checks a token and resolves what it may do now. Shared by every
/// authenticated route and by `POST /auth/verify`. The outer error is the
/// server's own trouble (database unreachable: `503`), never the token's.
pub async fn verify_token(
    state: &AppState,
    text: &str,
    client: &Client,
    at: OffsetDateTime,
) -> Result<Result<Caller, Refusal>, ApiError> {
    // The checksum is checked before any database work.
    let Ok(parsed) = token::parse(text) else {
        state.metrics.refused(AuthFailure::MalformedToken);
        return Ok(Err(AuthFailure::MalformedToken.into()));
    };
    // A resource server's secret is no organization's credential: nothing
    // to look up.
    if parsed.kind() == latchkey_core::TokenKind::ResourceServer {
        state.metrics.refused(AuthFailure::InvalidToken);
        return Ok(Err(AuthFailure::InvalidToken.into()));
    }
    let hash = state.hasher.hash(parsed.expose());
    let load = async {
        Ok::<_, ApiError>(match state.store.authenticate(&hash).await? {
            // The index found it; compare again in constant time where the
            // secret's hash meets the stored one.
            TokenLookup::Found(record) if record.token_hash.ct_eq(&hash) => {
                let org = record.org.uuid;
                let resolved =
                    Resolved::from_record(&state.catalog, state.service_accounts_enabled, record);
                (Lookup::Found(Arc::new(resolved)), Some(org))
            }
            TokenLookup::Found(_) | TokenLookup::Unknown => (Lookup::Unknown, None),
            TokenLookup::Retired { credential } => (
                Lookup::Retired {
                    org: credential.org_uuid,
                    credential: credential_ref(&credential),
                },
                Some(credential.org_uuid),
            ),
        })
    };
    let (entry, hit) = state
        .cache
        .get_or_load(hash, std::time::Instant::now(), load)
        .await?;
    state.metrics.cache_lookup(hit);
    let outcome = match &entry.lookup {
        Lookup::Found(resolved) => {
            let caller = resolved.admit(client, at);
            if caller.is_ok() && resolved.due_for_last_used(at) {
                if let Some(uuid) = resolved.credential.uuid {
                    state.last_used.record(uuid.into(), at);
                }
            }
            Ok(caller)
        }
        // Named by the prefix of the secret presented, not the current one,
        // so the log tells which leaked secret was tried.
        Lookup::Retired { org, credential } => Ok(Err(Refusal {
            failure: AuthFailure::TokenRevoked,
            known: Some((
                (*org),
                CredentialRef {
                    display_prefix: Some(parsed.display_prefix().to_string()),
                    ..credential.clone()
                },
            )),
        })),
        Lookup::Unknown => Ok(Err(AuthFailure::InvalidToken.into())),
    };
    match &outcome {
        Ok(Ok(_)) => state.metrics.authenticated(),
        Ok(Err(refusal)) => state.metrics.refused(refusal.failure),
        Err(_) => {}
    }
    outcome
}

/// Records a refused credential of a known organization, collapsed: the
/// first refusal of a credential and code at once, the rest of the minute
/// summed up in one event later (`refusals.rs`).
pub async fn audit_refusal(
    state: &AppState,
    refusal: &Refusal,
    client: &Client,
    at: OffsetDateTime,
) {
    let Some((org_uuid, credential)) = &refusal.known else {
        return;
    };
    let event = AuditEvent {
        org_uuid: (*org_uuid),
        at,
        action: AuditAction::AuthRefused,
        actor: None,
        credential: Some(credential.clone()),
        target: None,
        ip: client.ip_text(),
        user_agent: client.user_agent_text(),
        details: serde_json::json!({ "code": refusal.failure.code() }),
    };
    let Some(event) = state.refusals.note(event, refusal.failure.code()) else {
        return;
    };
    if let Err(error) = state.store.append_audit(&event).await {
        tracing::warn!(%error, "could not record a refused credential");
    }
}

/// A token refused at a verification endpoint (`/auth/verify`, `/auth/forward`):
/// audited, then counted against its address. Only refused tokens count, and
/// only they are ever refused: a backend or proxy asking for all its users is
/// one address, and a valid token always gets its answer. Counted in this
/// process's memory: a token has 190 random bits, so the limit is against
/// abuse, not guessing, and a flood of bad tokens cannot become database
/// writes. `429` once the address is over the limit.
pub async fn refused_verification(
    state: &AppState,
    refusal: &Refusal,
    client: &Client,
    at: OffsetDateTime,
) -> Result<AuthFailure, ApiError> {
    audit_refusal(state, refusal, client, at).await;
    state
        .verify_failures
        .take(&crate::rate_limit::throttle_address(client.ip), at)?;
    Ok(refusal.failure)
}

/// `ApiKey <token>` or `Bearer <token>`, scheme case-insensitive.
pub(crate) fn from_header(value: &header::HeaderValue) -> Result<&str, AuthFailure> {
    let value = value.to_str().map_err(|_| AuthFailure::MalformedToken)?;
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or(AuthFailure::MalformedToken)?;
    if scheme.eq_ignore_ascii_case("apikey") || scheme.eq_ignore_ascii_case("bearer") {
        Ok(token.trim())
    } else {
        Err(AuthFailure::MalformedToken)
    }
}
