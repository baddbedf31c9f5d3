//! The pages' client of the JSON API: requests into the API's router, in
//! process, carrying the visitor's session, address and user agent.

use crate::auth::{CSRF_HEADER, SESSION_COOKIE};
use crate::forwarded::ClientAddr;
use crate::wire::{Envelope, ErrorEnvelope};
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::Router;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::net::SocketAddr;
use tower::ServiceExt;

/// An API answer other than success, as the page shows it.
#[derive(Clone, Debug)]
pub struct Failure {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub field: Option<String>,
}

impl Failure {
    /// A form value the page itself refuses before asking the API.
    pub fn invalid(field: &str, message: impl Into<String>) -> Failure {
        Failure {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_request".into(),
            message: message.into(),
            field: Some(field.into()),
        }
    }

    pub fn not_found() -> Failure {
        Failure {
            status: StatusCode::NOT_FOUND,
            code: "not_found".into(),
            message: "not found".into(),
            field: None,
        }
    }

    /// What the page itself refuses to offer (the API would refuse it too).
    pub fn forbidden(message: &str) -> Failure {
        Failure {
            status: StatusCode::FORBIDDEN,
            code: "missing_scope".into(),
            message: message.into(),
            field: None,
        }
    }

    /// What a person reads: the field, when one is named, and the message.
    pub fn text(&self) -> String {
        match &self.field {
            Some(field) => format!("{field}: {}", self.message),
            None => self.message.clone(),
        }
    }

    fn unreadable(status: StatusCode) -> Failure {
        Failure {
            status,
            code: "internal".into(),
            message: "the server gave an answer this page cannot read".into(),
            field: None,
        }
    }
}

/// One visitor's calls into the API.
#[derive(Clone)]
pub struct ApiClient {
    router: Router,
    session: Option<String>,
    connect: Option<ConnectInfo<SocketAddr>>,
    /// The visitor's address as resolved at the edge (behind trusted proxies).
    client: Option<ClientAddr>,
    /// Headers the API reads for audit events and cookies.
    forwarded: HeaderMap,
}

impl ApiClient {
    pub fn new(router: Router, parts: &Parts, session: Option<String>) -> ApiClient {
        let mut forwarded = HeaderMap::new();
        for name in [
            header::USER_AGENT,
            header::HeaderName::from_static("x-forwarded-proto"),
        ] {
            if let Some(value) = parts.headers.get(&name) {
                forwarded.insert(name, value.clone());
            }
        }
        ApiClient {
            router,
            session,
            connect: parts.extensions.get::<ConnectInfo<SocketAddr>>().cloned(),
            client: parts.extensions.get::<ClientAddr>().copied(),
            forwarded,
        }
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, Failure> {
        let (_, body) = self.call(Method::GET, path, None, None).await?;
        results(body)
    }

    /// A change, with the CSRF token the form carried.
    pub async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        csrf: &str,
        body: Option<Value>,
    ) -> Result<T, Failure> {
        let (_, body) = self.call(method, path, Some(csrf), body).await?;
        results(body)
    }

    /// A call whose response headers matter (login sets a cookie).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        csrf: Option<&str>,
        body: Option<Value>,
    ) -> Result<(HeaderMap, Value), Failure> {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(headers) = request.headers_mut() {
            headers.extend(self.forwarded.clone());
            if let Some(session) = &self.session {
                if let Ok(cookie) = HeaderValue::from_str(&format!("{SESSION_COOKIE}={session}")) {
                    headers.insert(header::COOKIE, cookie);
                }
            }
            if let Some(csrf) = csrf.and_then(|c| HeaderValue::from_str(c).ok()) {
                headers.insert(CSRF_HEADER, csrf);
            }
            if body.is_some() {
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
            }
        }
        if let Some(connect) = self.connect {
            request = request.extension(connect);
        }
        if let Some(client) = self.client {
            request = request.extension(client);
        }
        let body = match body {
            Some(value) => Body::from(value.to_string()),
            None => Body::empty(),
        };
        let request = request
            .body(body)
            .map_err(|_| Failure::unreadable(StatusCode::BAD_REQUEST))?;
        let response = match self.router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, 16 * 1024 * 1024)
            .await
            .map_err(|_| Failure::unreadable(parts.status))?;
        if parts.status.is_success() {
            let value = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).map_err(|_| Failure::unreadable(parts.status))?
            };
            return Ok((parts.headers, value));
        }
        let error = serde_json::from_slice::<ErrorEnvelope>(&bytes)
            .map_err(|_| Failure::unreadable(parts.status))?
            .error;
        let field = error.detail_str("field").map(str::to_string);
        let scopes = error.details.as_ref().and_then(|d| d.get("scopes"));
        let message = match scopes.and_then(Value::as_array) {
            Some(scopes) => format!(
                "{} ({})",
                error.message,
                scopes
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => error.message,
        };
        Err(Failure {
            status: parts.status,
            code: error.code.into_owned(),
            message,
            field,
        })
    }
}

fn results<T: DeserializeOwned>(body: Value) -> Result<T, Failure> {
    if body.is_null() {
        return serde_json::from_value(Value::Null)
            .map_err(|_| Failure::unreadable(StatusCode::NO_CONTENT));
    }
    serde_json::from_value::<Envelope<T>>(body)
        .map(|e| e.results)
        .map_err(|_| Failure::unreadable(StatusCode::OK))
}
