//! `/auth/forward`: the query of a proxy's forward-auth URL, and the headers
//! of its answer.

use serde::{Deserialize, Serialize};

/// `?scope=&project=` on the forward-auth URL, as configured per location in
/// the proxy. Read only on `/auth/forward` itself: below it (Envoy), the
/// query is the client's own and says nothing about what is needed.
#[derive(Serialize, Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ForwardQuery {
    /// The scope the request needs: organization-wide, or on `project`. When
    /// given, the configuration file's rules are not consulted.
    #[param(value_type = Option<crate::openapi::ScopeName>)]
    pub scope: Option<String>,
    /// The project `scope` is needed on (needs `scope`). A project that is not
    /// the caller's organization's is answered `403`, like one it holds no
    /// role on.
    #[param(value_type = Option<uuid::Uuid>)]
    pub project: Option<String>,
}

/// The headers of a `200`, in the order they are described (API.md).
pub const PRINCIPAL_TYPE: &str = "x-latchkey-principal-type";
pub const PRINCIPAL_ID: &str = "x-latchkey-principal-id";
/// Percent-encoded UTF-8: `%`, controls and every byte outside ASCII are
/// written `%XX`, so any name is a valid header value and an ASCII name
/// without `%` arrives as it is.
pub const PRINCIPAL_NAME: &str = "x-latchkey-principal-name";
pub const ORG_ID: &str = "x-latchkey-org-id";
pub const CREDENTIAL_KIND: &str = "x-latchkey-credential-kind";
pub const CREDENTIAL_ID: &str = "x-latchkey-credential-id";
/// Space-separated organization-wide effective scopes (empty for none).
pub const SCOPES: &str = "x-latchkey-scopes";

pub const IDENTITY_HEADERS: [&str; 7] = [
    PRINCIPAL_TYPE,
    PRINCIPAL_ID,
    PRINCIPAL_NAME,
    ORG_ID,
    CREDENTIAL_KIND,
    CREDENTIAL_ID,
    SCOPES,
];
