//! `POST /oauth2/introspect` (RFC 7662): a resource server asks whether a
//! token of any organization is active, and what it is.
//!
//! The client (a resource server, instance-level) authenticates with HTTP
//! Basic `clientId:secret` or `Bearer lkrs_…`; both are resolved from memory
//! by the secret's hash, like every token. Failed client authentications
//! are counted per address in memory, so the endpoint can neither guess
//! secrets nor turn a flood into database reads.

use crate::auth::{audit_refusal, verify_token, Caller, Client, Memo, Principal};
use crate::cache::Lookup;
use crate::error::ApiError;
use crate::rate_limit::throttle_address;
use crate::resource_server::CachedClient;
use crate::state::{now, AppState};
use crate::wire::introspect::{
    IntrospectActive, IntrospectInactive, IntrospectRequest, IntrospectResponse, OAuthError,
};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use latchkey_core::{token, ExposeSecret, SecretString, TokenKind};
use latchkey_store::INSTANCE_CHANGES;
use std::sync::Arc;
use uuid::Uuid;

/// The longest `Authorization` value looked at: Basic of a uuid and a
/// secret, each percent-encoded at worst, is far below it.
const MAX_CLIENT_AUTH_LEN: usize = 512;

/// Always `200` for an authenticated resource server: the token's
/// description when it is active, exactly `{"active": false}` otherwise
/// (malformed, unknown, expired, revoked, suspended or removed owner,
/// service accounts turned off: it never says which). Without valid client
/// authentication `401 {"error": "invalid_client"}`; an address with 20
/// failed client authentications in a minute gets `429` with `Retry-After`
/// (longer each time it keeps failing). Answers are cached like every
/// authentication: with the token and the resource server cached, no
/// database read. Revoking a resource server reaches every replica at once
/// on PostgreSQL; on SQLite, a revocation by the operator command (another
/// process) reaches a running server within `--auth-cache-ttl-secs`.
#[utoipa::path(post, path = "/oauth2/introspect", tag = "verification",
    request_body(content = IntrospectRequest, content_type = "application/x-www-form-urlencoded"),
    security(("basic" = []), ("bearer" = [])),
    responses(
        (status = 200, body = IntrospectResponse, headers(("Cache-Control" = String, description = "no-store"))),
        (status = 400),
        (status = 401, body = OAuthError, headers(("WWW-Authenticate" = String, description = "Basic realm=\"latchkey\""))),
        (status = 429)
    ))]
pub async fn introspect(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let at = now();
    if authenticate_client(&state, &headers, at).await?.is_none() {
        state
            .introspect_failures
            .take(&throttle_address(client.ip), at)?;
        return Ok(invalid_client());
    }
    let token = token_of(&headers, body)?;
    let body = match verify_token(&state, token.expose_secret(), &client, at).await? {
        // The same for every question about this token while it is cached
        // (any change makes a new entry): made once, then answered as bytes.
        Ok(caller) => Memo::bytes(&caller.memo.introspection, || {
            json_bytes(&IntrospectResponse::Active(describe(&state, &caller)))
        })?,
        Err(refusal) => {
            audit_refusal(&state, &refusal, &client, at).await;
            json_bytes(&IntrospectResponse::Inactive(IntrospectInactive {
                active: false,
            }))?
        }
    };
    let mut response = ([(header::CONTENT_TYPE, JSON)], body).into_response();
    no_store(&mut response);
    Ok(response)
}

const JSON: HeaderValue = HeaderValue::from_static("application/json");

fn json_bytes(value: &IntrospectResponse) -> Result<Bytes, ApiError> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(ApiError::internal)
}

fn no_store(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

fn invalid_client() -> Response {
    let mut response = (
        StatusCode::UNAUTHORIZED,
        axum::Json(OAuthError {
            error: "invalid_client".into(),
        }),
    )
        .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"latchkey\""),
    );
    no_store(&mut response);
    response
}

/// The live resource server the request authenticates as, if any. The outer
/// error is the server's own trouble (database unreachable).
async fn authenticate_client(
    state: &AppState,
    headers: &HeaderMap,
    at: time::OffsetDateTime,
) -> Result<Option<Arc<CachedClient>>, ApiError> {
    let Some((client_id, secret)) = headers.get(header::AUTHORIZATION).and_then(presented) else {
        return Ok(None);
    };
    // The checksum and prefix before any hashing or database work.
    match token::parse(secret.expose_secret()) {
        Ok(parsed) if parsed.kind() == TokenKind::ResourceServer => {}
        _ => return Ok(None),
    }
    let hash = state.hasher.hash(secret.expose_secret());
    let load = async {
        Ok::<_, ApiError>(match state.store.resource_server_by_hash(&hash).await? {
            // Found by the index; compared again in constant time.
            Some((server, stored)) if stored.ct_eq(&hash) => (
                Lookup::Found(Arc::new(CachedClient::new(server))),
                Some(INSTANCE_CHANGES),
            ),
            _ => (Lookup::Unknown, None),
        })
    };
    let (entry, _) = state
        .resource_servers
        .get_or_load(hash, std::time::Instant::now(), load)
        .await?;
    Ok(match &entry.lookup {
        Lookup::Found(client)
            if client.server.revoked_at.is_none()
                && client_id.is_none_or(|id| id == client.server.uuid.uuid()) =>
        {
            if client.due_for_last_used(at) {
                state
                    .last_used
                    .record_resource_server(client.server.uuid, at);
            }
            Some(client.clone())
        }
        _ => None,
    })
}

/// `Basic base64(clientId:secret)` (each part form-urlencoded first, per
/// RFC 6749 §2.3.1, or plain) or `Bearer <secret>`, scheme in any case.
fn presented(value: &HeaderValue) -> Option<(Option<Uuid>, SecretString)> {
    if value.len() > MAX_CLIENT_AUTH_LEN {
        return None;
    }
    let (scheme, rest) = value.to_str().ok()?.trim().split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some((None, SecretString::from(rest)));
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .map(SecretString::from)?;
    let (id, secret) = decoded.expose_secret().split_once(':')?;
    let id = Uuid::parse_str(&form_decoded(id)?).ok()?;
    Some((Some(id), SecretString::from(form_decoded(secret)?)))
}

/// One form-urlencoded value (`+` a space, then percent-decoded UTF-8).
/// Neither a uuid nor a secret has a `%` or `+`, so plain passes unchanged.
fn form_decoded(part: &str) -> Option<String> {
    let spaced = part.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|text| text.into_owned())
}

/// The `token` of a form body; refuses anything else, naming the field.
fn token_of(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<SecretString, ApiError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(ApiError::InvalidRequest {
            field: None,
            message:
                "the body must be a form, with Content-Type: application/x-www-form-urlencoded"
                    .into(),
        });
    }
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::InvalidRequest {
                field: None,
                message: "the request body could not be read".into(),
            }
        }
    })?;
    let pairs = crate::web::form::decode(&body).ok_or_else(|| ApiError::InvalidRequest {
        field: None,
        message: "the form is not UTF-8 once decoded".into(),
    })?;
    let mut tokens = pairs.into_iter().filter(|(name, _)| name == "token");
    let (_, token) = tokens
        .next()
        .ok_or_else(|| ApiError::invalid("token", "is required"))?;
    // RFC 6749 §3.1: a parameter is sent once.
    if tokens.next().is_some() {
        return Err(ApiError::invalid("token", "is given more than once"));
    }
    Ok(SecretString::from(token))
}

/// RFC 7662's members for an active token, and latchkey's own.
fn describe(state: &AppState, caller: &Caller) -> IntrospectActive {
    let actor = caller.actor();
    let username = match &caller.principal {
        Principal::User(user) => user.email.clone(),
        Principal::ApiKey { name, .. } | Principal::ServiceAccount { name, .. } => name.to_string(),
    };
    let scopes = |set| state.catalog.names(set).join(" ");
    let projects = caller.project_scoped.then(|| {
        caller
            .projects
            .iter()
            .map(|(uuid, row)| {
                (
                    uuid.uuid(),
                    scopes(caller.access.project_scopes(Some(row.scopes))),
                )
            })
            .collect()
    });
    IntrospectActive {
        active: true,
        scope: scopes(caller.access.org_scopes()),
        client_id: caller.credential.uuid.unwrap_or(actor.uuid),
        username,
        token_type: "Bearer".into(),
        sub: actor.uuid,
        iat: caller
            .credential_issued_at
            .map_or(0, |t| t.unix_timestamp()),
        exp: caller.credential_expires_at.map(|t| t.unix_timestamp()),
        iss: state.issuer.clone(),
        latchkey_org_id: caller.org.uuid.into(),
        latchkey_org_name: caller.org.name.clone(),
        latchkey_principal_type: actor.kind.as_str().into(),
        latchkey_credential_kind: caller.credential.kind.as_str().into(),
        latchkey_projects: projects,
    }
}
