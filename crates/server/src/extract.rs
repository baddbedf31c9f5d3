//! Extractors whose rejections are the API's `400 invalid_request` naming the
//! field, instead of axum's plain-text ones.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;

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

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let inner = e.inner();
        let mut path = e.path().to_string();
        let message = inner.to_string();
        // "missing field `name`" names the field in the message, not the path.
        if let Some(missing) = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
        {
            path = if path == "." {
                missing.to_string()
            } else {
                format!("{path}.{missing}")
            };
        }
        let (field, message) = match inner.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                (None, "the body is not valid JSON".to_string())
            }
            _ => ((path != ".").then_some(path), strip_position(&message)),
        };
        ApiError::InvalidRequest { field, message }
    })?;
    de.end().map_err(|_| ApiError::InvalidRequest {
        field: None,
        message: "the body has trailing characters after the JSON value".into(),
    })?;
    Ok(value)
}

/// serde_json appends " at line 1 column 12"; the field name says more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// A path id that must be a UUID: `400 invalid_request` naming it otherwise.
pub struct PathUuid(pub uuid::Uuid);

impl<S: Send + Sync> FromRequestParts<S> for PathUuid {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let params = axum::extract::RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::invalid("path", "the path could not be read"))?;
        let (name, value) = params
            .iter()
            .last()
            .ok_or_else(|| ApiError::invalid("path", "the path has no id"))?;
        uuid::Uuid::parse_str(value)
            .map(PathUuid)
            .map_err(|_| ApiError::invalid(name, "must be a UUID"))
    }
}

/// Two path ids, both UUIDs (`/projects/{projectUuid}/access/{userUuid}`).
pub struct PathUuids(pub uuid::Uuid, pub uuid::Uuid);

impl<S: Send + Sync> FromRequestParts<S> for PathUuids {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let params = axum::extract::RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::invalid("path", "the path could not be read"))?;
        let mut ids = params.iter().map(|(name, value)| {
            uuid::Uuid::parse_str(value).map_err(|_| ApiError::invalid(name, "must be a UUID"))
        });
        match (ids.next(), ids.next()) {
            (Some(a), Some(b)) => Ok(PathUuids(a?, b?)),
            _ => Err(ApiError::invalid("path", "the path needs two ids")),
        }
    }
}

/// Query parameters, with the failing one named.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded_de(query);
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|e| {
                let message = e.inner().to_string();
                let field = e.path().to_string();
                ApiError::InvalidRequest {
                    field: (field != ".").then_some(field),
                    message,
                }
            })
    }
}

fn serde_urlencoded_de(query: &str) -> serde_urlencoded::Deserializer<'_> {
    serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()))
}
