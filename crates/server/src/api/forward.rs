//! `/auth/forward` and every path below it, any method: the authorization
//! decision a reverse proxy asks for one request (nginx `auth_request`,
//! Traefik `ForwardAuth`, Caddy `forward_auth`, Envoy `ext_authz`).
//!
//! What is needed comes from the forward-auth URL's `?scope=&project=`, or
//! else from the first configured rule matching the proxied request, or else
//! is only a valid credential. The token path is the API's own (cached alike,
//! refusals audited alike); invalid answers count toward the same per-address
//! limit as `POST /auth/verify`.

use crate::auth::{from_header, refused_verification, verify_token, Caller, Client};
use crate::error::{ApiError, ApiResult, AuthFailure};
use crate::extract::parse_query;
use crate::state::{now, AppState};
use crate::wire::forward as wire;
use crate::wire::ForwardQuery;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, Uri};
use axum::response::Response;
use latchkey_core::forward::{method_name, RequestPath, Requirement};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use std::borrow::Cow;

/// Where the routes are; below it, the rest of the path is the proxied one.
pub const PATH: &str = "/auth/forward";

/// Any method; an empty `200` with the caller's identity in `X-Latchkey-*`
/// headers, or the API's error body: `400` (a bad query or forwarded
/// header), `401` (with `WWW-Authenticate`), `403 missing_scope`, `429`.
///
/// Below `/auth/forward` (Envoy's `ext_authz` with `path_prefix:
/// /auth/forward`), the rest of the path and the request's own method are the
/// proxied request's, and its query is the client's: ignored.
#[utoipa::path(get, path = "/auth/forward", tag = "forward auth", params(ForwardQuery),
    description = "The authorization decision for one request a reverse proxy is about to pass on: nginx `auth_request`, Traefik `ForwardAuth`, Caddy `forward_auth`, Envoy `ext_authz` (HTTP). **Any method** is answered alike, and so is **every path below `/auth/forward`**: for Envoy, `/auth/forward/<original path>` is the request to decide on, with its own method (its query, the client's, is ignored).\n\nThe credential is the `Authorization` header the proxy passes on (`Bearer` or `ApiKey`, as everywhere in the API; no session cookie). What is needed: `scope` (and `project`) in this URL's query; else the first `[[forward_auth.rules]]` of the server's configuration file matching the method (`X-Forwarded-Method` or `X-Original-Method`, else the request's own) and path (`X-Forwarded-Uri` or `X-Original-URI`; when both of a pair are sent they must agree); else only a valid credential. With rules configured, a request naming no scope must carry the original URI.\n\nA path is read as servers read it (percent-decoded, `.`, `..` and empty segments resolved); one that could be read two ways (an encoded `/`, a `\\`, control characters, bad percent-encoding) is `400`, so the proxy refuses the request.",
    responses(
        (status = 200, description = "Allowed. The body is empty; the headers say who is calling.",
            headers(
                ("X-Latchkey-Principal-Type" = String, description = "`user`, `api_key` or `service_account`"),
                ("X-Latchkey-Principal-Id" = String, description = "the principal's UUID"),
                ("X-Latchkey-Principal-Name" = String, description = "a user's name (else email), an API key's name, a service account's description; percent-encoded UTF-8 (`%`, controls and non-ASCII bytes as `%XX`)"),
                ("X-Latchkey-Org-Id" = String, description = "the organization's UUID"),
                ("X-Latchkey-Credential-Kind" = String, description = "`pat`, `api_key` or `service_account`"),
                ("X-Latchkey-Credential-Id" = String, description = "the credential's UUID"),
                ("X-Latchkey-Scopes" = String, description = "space-separated organization-wide effective scopes (empty for none)"),
            )),
        (status = 400, description = "invalid_request: `details.field` names the query parameter or forwarded header"),
        (status = 403, description = "missing_scope: `details.requiredScope`; also for a project that is not the caller's organization's"),
        (status = 429, description = "rate_limited: too many invalid credentials from this address (a valid one is never refused)"),
    ))]
pub async fn forward(
    State(state): State<AppState>,
    client: Client,
    request: Request,
) -> ApiResult<Response> {
    // The request's own parts, read in place: no copy of its headers. (The
    // body, never read, is dropped here as it would be before the handler.)
    let (parts, _) = request.into_parts();
    let headers = &parts.headers;
    let at = now();
    let needed = needed(&state, &parts.method, &parts.uri, headers)?;
    let caller = match headers.get(header::AUTHORIZATION) {
        None => return Err(ApiError::Unauthenticated(AuthFailure::MissingCredentials)),
        Some(value) => {
            let outcome = match from_header(value) {
                Ok(text) => verify_token(&state, text, &client, at).await?,
                Err(failure) => Err(failure.into()),
            };
            match outcome {
                Ok(caller) => caller,
                Err(refusal) => {
                    let failure = refused_verification(&state, &refusal, &client, at).await?;
                    return Err(ApiError::Unauthenticated(failure));
                }
            }
        }
    };
    if let Some(need) = needed {
        let allowed = match need.project {
            None => caller.access.org_scopes().contains(need.scope),
            Some(project) => {
                crate::api::projects::scope_on_project(&state, &caller, need.scope, project.into())
                    .await?
            }
        };
        if !allowed {
            return Err(ApiError::MissingScope(
                state.catalog.name(need.scope).to_string(),
            ));
        }
    }
    // An empty `200` whose headers are the prepared ones as they are.
    let mut response = Response::new(Body::empty());
    *response.headers_mut() = identity(&state, &caller);
    Ok(response)
}

/// What the request needs, before anything is authenticated: a bad query or
/// forwarded header is the proxy's mistake (or a client's forgery) and is
/// refused whatever the credential.
fn needed(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> ApiResult<Option<Requirement>> {
    let below = uri
        .path()
        .strip_prefix(PATH)
        .filter(|rest| !rest.is_empty());
    if let Some(rest) = below {
        let path =
            RequestPath::parse(rest).map_err(|e| ApiError::invalid("path", e.to_string()))?;
        return Ok(state.forward_rules.requirement(method.as_str(), &path));
    }
    let query = forward_query(uri.query().unwrap_or(""))?;
    if let Some(name) = query.scope {
        let scope = state.catalog.parse(&name).ok_or_else(|| {
            ApiError::invalid(
                "scope",
                "not a scope of this server (GET /api/v1/org/scopes)",
            )
        })?;
        let project = query
            .project
            .map(|p| {
                // The documented form only, as the OpenAPI pattern says.
                uuid::Uuid::try_parse(&p)
                    .ok()
                    .filter(|_| p.len() == 36)
                    .ok_or_else(|| ApiError::invalid("project", "must be a UUID"))
            })
            .transpose()?;
        return Ok(Some(Requirement { scope, project }));
    }
    if query.project.is_some() {
        return Err(ApiError::invalid("project", "needs scope"));
    }
    if state.forward_rules.is_empty() {
        return Ok(None);
    }
    let Some((uri_field, target)) = forwarded(headers, "X-Forwarded-Uri", "X-Original-URI")? else {
        return Err(ApiError::invalid(
            "X-Forwarded-Uri",
            "the forward-auth rules need the original request's URI (X-Forwarded-Uri or X-Original-URI), or a scope in the query",
        ));
    };
    let path =
        RequestPath::parse(target).map_err(|e| ApiError::invalid(uri_field, e.to_string()))?;
    let method = match forwarded(headers, "X-Forwarded-Method", "X-Original-Method")? {
        Some((field, text)) => {
            method_name(text).ok_or_else(|| ApiError::invalid(field, "not a method name"))?
        }
        None => method.as_str().to_string(),
    };
    Ok(state.forward_rules.requirement(&method, &path))
}

/// `scope` and `project` of the forward-auth URL, as `ForwardQuery` reads
/// them (other parameters ignored), borrowed from the URL unless decoding
/// changed them. A parameter sent twice is left to `parse_query`, whose
/// refusal names it as every query's does.
fn forward_query(query: &str) -> ApiResult<Asked<'_>> {
    let mut scope = None;
    let mut project = None;
    for (key, value) in pairs(query) {
        let slot = match &*key {
            "scope" => &mut scope,
            "project" => &mut project,
            _ => continue,
        };
        if slot.replace(value).is_some() {
            let owned: ForwardQuery = parse_query(query)?;
            return Ok(Asked {
                scope: owned.scope.map(Cow::Owned),
                project: owned.project.map(Cow::Owned),
            });
        }
    }
    Ok(Asked { scope, project })
}

/// The query's pairs as `form_urlencoded::parse` reads them. Without a `%`
/// or `+` there is nothing to decode: then they are slices of the query.
fn pairs(query: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    let plain = !query.bytes().any(|b| b == b'%' || b == b'+');
    let sliced = plain.then(|| {
        query.split('&').filter(|s| !s.is_empty()).map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (Cow::Borrowed(key), Cow::Borrowed(value))
        })
    });
    let decoded = (!plain).then(|| form_urlencoded::parse(query.as_bytes()));
    sliced
        .into_iter()
        .flatten()
        .chain(decoded.into_iter().flatten())
}

/// What the forward-auth URL asks for (`ForwardQuery`, borrowed).
struct Asked<'q> {
    scope: Option<Cow<'q, str>>,
    project: Option<Cow<'q, str>>,
}

/// The value of one of two headers naming the same thing, with the name it
/// came under. Sent twice, or under both names with different values, it is
/// refused: one of them was not written by the proxy.
fn forwarded<'h>(
    headers: &'h HeaderMap,
    first: &'static str,
    second: &'static str,
) -> ApiResult<Option<(&'static str, &'h str)>> {
    let read = |name: &'static str| -> ApiResult<Option<&'h str>> {
        let mut values = headers.get_all(name).iter();
        let Some(value) = values.next() else {
            return Ok(None);
        };
        if values.next().is_some() {
            return Err(ApiError::invalid(name, "sent more than once"));
        }
        value
            .to_str()
            .map(Some)
            .map_err(|_| ApiError::invalid(name, "not printable ASCII"))
    };
    match (read(first)?, read(second)?) {
        (Some(a), Some(b)) if a != b => Err(ApiError::invalid(
            first,
            format!("{first} and {second} disagree"),
        )),
        (Some(a), _) => Ok(Some((first, a))),
        (None, Some(b)) => Ok(Some((second, b))),
        (None, None) => Ok(None),
    }
}

/// `%`, controls and (by `utf8_percent_encode` itself) every non-ASCII byte.
const NAME_ESCAPES: &AsciiSet = &CONTROLS.add(b'%');

/// The `X-Latchkey-*` headers of a `200`: every one, always, so a proxy that
/// copies them replaces whatever a client sent under those names. Built once
/// per cached credential: what they say changes only with a new cache entry.
fn identity(state: &AppState, caller: &Caller) -> HeaderMap {
    // A clone: cheaper than inserting them one by one into a new map.
    caller
        .memo
        .forward_identity
        .get_or_init(|| identity_headers(state, caller))
        .clone()
}

fn identity_headers(state: &AppState, caller: &Caller) -> HeaderMap {
    let actor = caller.actor();
    let name = utf8_percent_encode(&actor.name, NAME_ESCAPES).to_string();
    let scopes = state.catalog.names(caller.access.org_scopes()).join(" ");
    let credential_id = caller
        .credential
        .uuid
        .map(|u| u.to_string())
        .unwrap_or_default();
    let values = [
        (wire::PRINCIPAL_TYPE, actor.kind.as_str().to_string()),
        (wire::PRINCIPAL_ID, actor.uuid.to_string()),
        (wire::PRINCIPAL_NAME, name),
        (wire::ORG_ID, caller.org.uuid.to_string()),
        (
            wire::CREDENTIAL_KIND,
            caller.credential.kind.as_str().to_string(),
        ),
        (wire::CREDENTIAL_ID, credential_id),
        (wire::SCOPES, scopes),
    ];
    let mut headers = HeaderMap::with_capacity(values.len());
    for (name, value) in values {
        // Every value is printable ASCII by construction; one that were not
        // would be left out rather than fail the answer.
        if let Ok(value) = HeaderValue::try_from(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::pairs;

    /// The query is read as `form_urlencoded` reads it, sliced or decoded.
    #[test]
    fn pairs_are_form_urlencoded_ones() {
        for query in [
            "",
            "&",
            "&&scope=a",
            "scope=content:read&project=6f1c4c7e-5b1a-4a57-9a57-1f0b6a2f1e11",
            "scope",
            "scope=",
            "=x",
            "scope=a=b&x",
            "scope=a&scope=b",
            "scope=content%3Aread",
            "scope=a+b&project=c",
            "sc%6Fpe=a",
            "scope=%FF%FE",
            "scope=%zz&",
        ] {
            let ours: Vec<_> = pairs(query).collect();
            let theirs: Vec<_> = form_urlencoded::parse(query.as_bytes()).collect();
            assert_eq!(ours, theirs, "{query:?}");
        }
    }
}
