//! Extractors whose rejections are the API's `400 invalid_request` naming the
//! field, instead of axum's plain-text ones.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, RawPathParamsRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use latchkey_core::limits;
use serde::de::{DeserializeOwned, IgnoredAny};

/// A JSON body, deserialized with the path of the failing field kept.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| {
                let mime = ct
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                mime == "application/json" || mime.ends_with("+json")
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::InvalidRequest {
                field: None,
                message: "the body must be JSON, with Content-Type: application/json".into(),
            });
        }
        // A client that waits for `100 Continue` before sending an oversize
        // body gets its 413 at once. (Without `Expect`, the body is read up to
        // the limit: answering before the client has sent it would break the
        // connection under it.)
        let expects_continue = req
            .headers()
            .get(header::EXPECT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"));
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if expects_continue && declared.is_some_and(|len| len > limits::MAX_BODY_BYTES as u64) {
            return Err(ApiError::PayloadTooLarge);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(body_error)?;
        parse_json(&bytes).map(ApiJson)
    }
}

fn body_error(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else {
        ApiError::InvalidRequest {
            field: None,
            message: "the request body could not be read".into(),
        }
    }
}

/// A JSON object body. What is wrong with the body as a whole (not UTF-8,
/// not JSON, not an object) has no field; anything else names the field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let body_error = |message: &str| ApiError::InvalidRequest {
        field: None,
        message: message.into(),
    };
    // The syntax first, on its own: serde_json also reports some wrong types
    // (a number where an enum goes) as syntax errors.
    let text = std::str::from_utf8(bytes).map_err(|_| body_error("the body is not valid JSON"))?;
    serde_json::from_str::<IgnoredAny>(text).map_err(|e| {
        if e.to_string().starts_with("trailing characters") {
            body_error("the body has trailing characters after the JSON value")
        } else {
            body_error("the body is not valid JSON")
        }
    })?;
    // serde would take an array as a struct's fields in order.
    if !text.trim_start().starts_with('{') {
        return Err(body_error("the body must be a JSON object"));
    }
    let mut de = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let message = strip_position(&e.inner().to_string());
        let field = field_of(e.path().to_string(), &message);
        let message = match e.inner().classify() {
            serde_json::error::Category::Data => message,
            _ => "has the wrong type or an invalid value".to_string(),
        };
        ApiError::InvalidRequest { field, message }
    })
}

/// The failing field: serde names a missing or repeated one in its message
/// ("missing field `name`"), not in the path.
fn field_of(mut path: String, message: &str) -> Option<String> {
    let named = ["missing field `", "duplicate field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.split('`').next());
    if let Some(named) = named {
        path = if path == "." {
            named.to_string()
        } else {
            format!("{path}.{named}")
        };
    }
    (path != ".").then_some(path)
}

/// serde_json appends " at line 1 column 12"; the field name says more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// A path id that must be a UUID: `400 invalid_request` naming it otherwise.
/// Read as the id type the handler names (`PathUuid<ProjectId>`).
pub struct PathUuid<T = uuid::Uuid>(pub T);

impl<S: Send + Sync, T: From<uuid::Uuid>> FromRequestParts<S> for PathUuid<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let params = axum::extract::RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|r| ApiError::invalid(rejected_param(&r), "must be a UUID"))?;
        let (name, value) = params
            .iter()
            .last()
            .ok_or_else(|| ApiError::invalid("path", "the path has no id"))?;
        uuid::Uuid::parse_str(value)
            .map(|uuid| PathUuid(T::from(uuid)))
            .map_err(|_| ApiError::invalid(name, "must be a UUID"))
    }
}

/// The parameter axum could not decode (not UTF-8 once percent-decoded); it
/// names it only in its message: "Invalid UTF-8 in `userUuid`".
fn rejected_param(rejection: &RawPathParamsRejection) -> String {
    rejection
        .body_text()
        .split('`')
        .nth(1)
        .unwrap_or("path")
        .to_string()
}

/// Two path ids, both UUIDs (`/projects/{projectUuid}/access/{userUuid}`).
pub struct PathUuids<A = uuid::Uuid, B = uuid::Uuid>(pub A, pub B);

impl<S: Send + Sync, A: From<uuid::Uuid>, B: From<uuid::Uuid>> FromRequestParts<S>
    for PathUuids<A, B>
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let params = axum::extract::RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|r| ApiError::invalid(rejected_param(&r), "must be a UUID"))?;
        let mut ids = params.iter().map(|(name, value)| {
            uuid::Uuid::parse_str(value).map_err(|_| ApiError::invalid(name, "must be a UUID"))
        });
        match (ids.next(), ids.next()) {
            (Some(a), Some(b)) => Ok(PathUuids(A::from(a?), B::from(b?))),
            _ => Err(ApiError::invalid("path", "the path needs two ids")),
        }
    }
}

/// Query parameters, with the failing one named.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parse_query(parts.uri.query().unwrap_or("")).map(ApiQuery)
    }
}

/// A query string, with the failing parameter named.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded_de(query);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let message = e.inner().to_string();
        let field = field_of(e.path().to_string(), &message);
        ApiError::InvalidRequest { field, message }
    })
}

fn serde_urlencoded_de(query: &str) -> serde_urlencoded::Deserializer<'_> {
    serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()))
}
