//! The one error type of the HTTP API and the one place it becomes a response.

use crate::wire::{ErrorBody, ErrorEnvelope};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use latchkey_core::policy::PolicyError;
use latchkey_store::StoreError;
use serde_json::{json, Value};

/// Why a credential was refused; each is a stable `401` code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthFailure {
    MissingCredentials,
    MalformedToken,
    InvalidToken,
    TokenExpired,
    TokenRevoked,
    AccountSuspended,
    /// A service account's token while the instance has them turned off.
    FeatureDisabled,
}

impl AuthFailure {
    pub const fn code(self) -> &'static str {
        match self {
            AuthFailure::MissingCredentials => "missing_credentials",
            AuthFailure::MalformedToken => "malformed_token",
            AuthFailure::InvalidToken => "invalid_token",
            AuthFailure::TokenExpired => "token_expired",
            AuthFailure::TokenRevoked => "token_revoked",
            AuthFailure::AccountSuspended => "account_suspended",
            AuthFailure::FeatureDisabled => "feature_disabled",
        }
    }

    const fn message(self) -> &'static str {
        match self {
            AuthFailure::MissingCredentials => {
                "this request needs a credential: an Authorization header or a session"
            }
            AuthFailure::MalformedToken => {
                "the token is not a latchkey token (prefix, length or checksum)"
            }
            AuthFailure::InvalidToken => "no such credential",
            AuthFailure::TokenExpired => "the credential has expired",
            AuthFailure::TokenRevoked => "the credential has been revoked",
            AuthFailure::AccountSuspended => "the account is suspended in this organization",
            AuthFailure::FeatureDisabled => "service accounts are turned off on this instance",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    InvalidRequest {
        field: Option<String>,
        message: String,
    },
    #[error("the request body is larger than 64 KiB")]
    PayloadTooLarge,
    /// A `400` with its own stable code (`expiry_extension_not_allowed`, …).
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("{}", .0.message())]
    Unauthenticated(AuthFailure),
    #[error("wrong email or password")]
    InvalidLogin,
    /// An invitation that only a signed-in session of its account accepts.
    #[error("sign in to the invited account, then accept the invitation with that session")]
    LoginRequired,
    #[error("a credential may not expire later than the token that makes it")]
    LifetimeTooLong {
        max_expires_at: time::OffsetDateTime,
    },
    #[error("this needs the scope {0}")]
    MissingScope(String),
    #[error("these scopes cannot be granted: {}", .0.join(", "))]
    ScopesNotGrantable(Vec<String>),
    #[error("the role is higher than your own")]
    RoleTooHigh,
    #[error("this needs the enterprise plan")]
    PlanRequired,
    #[error("{0}")]
    FeatureDisabled(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("this method is not allowed on this path")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    #[error("too many requests; retry in {retry_after} seconds")]
    RateLimited { retry_after: u64 },
    #[error("the database is unreachable")]
    Unavailable,
    /// Too much work queued (password hashing); `503` with `Retry-After`.
    #[error("the server is busy; retry in a few seconds")]
    Overloaded { retry_after: u64 },
    /// Kept whole, so the log shows the cause and what caused it.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::InvalidRequest {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    pub fn internal(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> ApiError {
        ApiError::Internal(e.into())
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::InvalidRequest { .. } => (StatusCode::BAD_REQUEST, "invalid_request"),
            ApiError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            ApiError::Unauthenticated(f) => (StatusCode::UNAUTHORIZED, f.code()),
            ApiError::InvalidLogin => (StatusCode::UNAUTHORIZED, "invalid_login"),
            ApiError::LoginRequired => (StatusCode::UNAUTHORIZED, "login_required"),
            ApiError::LifetimeTooLong { .. } => (StatusCode::FORBIDDEN, "lifetime_too_long"),
            ApiError::MissingScope(_) => (StatusCode::FORBIDDEN, "missing_scope"),
            ApiError::ScopesNotGrantable(_) => (StatusCode::FORBIDDEN, "scopes_not_grantable"),
            ApiError::RoleTooHigh => (StatusCode::FORBIDDEN, "role_too_high"),
            ApiError::PlanRequired => (StatusCode::FORBIDDEN, "plan_required"),
            ApiError::FeatureDisabled(_) => (StatusCode::FORBIDDEN, "feature_disabled"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Overloaded { .. } => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    fn details(&self) -> Option<Value> {
        match self {
            ApiError::InvalidRequest { field: Some(f), .. } => Some(json!({ "field": f })),
            ApiError::MissingScope(s) => Some(json!({ "requiredScope": s })),
            ApiError::ScopesNotGrantable(s) => Some(json!({ "scopes": s })),
            ApiError::PlanRequired => Some(json!({ "plan": "enterprise" })),
            ApiError::RateLimited { retry_after } | ApiError::Overloaded { retry_after } => {
                Some(json!({ "retryAfter": retry_after }))
            }
            ApiError::LifetimeTooLong { max_expires_at } => Some(json!({
                "maxExpiresAt": max_expires_at
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default()
            })),
            _ => None,
        }
    }
}

/// A bound on untrusted input (`latchkey_core::limits`) names its field.
impl From<latchkey_core::limits::FieldError> for ApiError {
    fn from(e: latchkey_core::limits::FieldError) -> ApiError {
        ApiError::invalid(e.field, e.message)
    }
}

impl From<PolicyError> for ApiError {
    fn from(e: PolicyError) -> ApiError {
        match e {
            PolicyError::ExpiryNotInFuture => {
                ApiError::invalid("expiresAt", "must be in the future")
            }
            PolicyError::ExpiryExtension => ApiError::BadRequest {
                code: "expiry_extension_not_allowed",
                message: "the expiry may only be brought forward".into(),
            },
            PolicyError::RotationRequiresExpiry => ApiError::BadRequest {
                code: "rotation_requires_expiry",
                message: "a token without an expiry cannot be rotated".into(),
            },
            PolicyError::RotationTooSoon { retry_after_secs } => ApiError::RateLimited {
                retry_after: retry_after_secs,
            },
            PolicyError::CredentialExpired => ApiError::BadRequest {
                code: "credential_expired",
                message: "an expired credential cannot be rotated; create a new one".into(),
            },
            PolicyError::LifetimeTooLong { max_expires_at } => {
                ApiError::LifetimeTooLong { max_expires_at }
            }
        }
    }
}

/// What the API says of a stored rule a change would break.
fn conflict_text(what: latchkey_store::Conflict) -> &'static str {
    use latchkey_store::Conflict;
    match what {
        Conflict::UserEmail => "a user with this email exists",
        Conflict::Membership => "the user is a member of this organization already",
        Conflict::Secret => "a credential with this secret exists",
        Conflict::ProjectName => "a project with this name exists",
        Conflict::CustomRoleName => "a custom role of this name exists",
        Conflict::OrgId => "an organization with this id exists",
        Conflict::ProjectListedTwice => "a project is listed twice",
        Conflict::LastAdmin => "the organization must keep an active admin",
        Conflict::CustomRoleInUse => "the custom role is still assigned (to a member, a team, a project role or a service account)",
        Conflict::ResourceServerName => "a resource server with this name exists",
        Conflict::TeamName => "a team of this name exists",
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Conflict(what) => ApiError::Conflict(conflict_text(what).into()),
            StoreError::InvalidCursor => {
                ApiError::invalid("cursor", "not a cursor this server gave out")
            }
            StoreError::Database(sqlx_error) if is_unreachable(&sqlx_error) => {
                ApiError::Unavailable
            }
            other => ApiError::Internal(Box::new(other)),
        }
    }
}

/// The database is down or restarting, as opposed to a query gone wrong.
fn is_unreachable(e: &latchkey_store::SqlxError) -> bool {
    use latchkey_store::SqlxError as E;
    match e {
        E::Io(_)
        | E::Tls(_)
        | E::PoolTimedOut
        | E::PoolClosed
        | E::WorkerCrashed
        | E::Protocol(_) => true,
        // SQLSTATE class 08 (connection exception) and 57 (operator
        // intervention: shutting down, cannot connect now).
        E::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57")),
        _ => false,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        // Internal causes are logged, never echoed: they may name tables,
        // files or values.
        let message = match &self {
            ApiError::Internal(cause) => {
                let mut chain = cause.to_string();
                let mut source = cause.source();
                while let Some(s) = source {
                    chain.push_str(": ");
                    chain.push_str(&s.to_string());
                    source = s.source();
                }
                tracing::error!(cause = %chain, "internal error");
                "internal error".to_string()
            }
            ApiError::Unavailable => {
                tracing::warn!("database unreachable");
                self.to_string()
            }
            other => other.to_string(),
        };
        let body = ErrorEnvelope {
            error: ErrorBody {
                code: code.into(),
                details: self.details(),
                message,
                status_code: status.as_u16(),
            },
            status: "error".into(),
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let ApiError::RateLimited { retry_after } | ApiError::Overloaded { retry_after } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        // RFC 6750 §3: every 401 names the scheme; `error` only when a
        // credential was given and refused.
        if status == StatusCode::UNAUTHORIZED {
            let challenge = match self {
                ApiError::Unauthenticated(AuthFailure::MissingCredentials)
                | ApiError::InvalidLogin
                | ApiError::LoginRequired => r#"Bearer realm="latchkey""#,
                _ => r#"Bearer realm="latchkey", error="invalid_token""#,
            };
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
