//! The API's wire types: every request and response body, as the handlers
//! build them, the web pages read them from the in-process API and the CLI
//! reads them over HTTP. One declaration per shape, so a renamed field fails
//! to compile instead of failing in a client. Serde and OpenAPI only: no
//! axum, no store, no caller; the handlers fill them from those.

pub mod account;
pub mod api_keys;
pub mod audit;
pub mod errors;
pub mod forward;
pub mod identity;
pub mod introspect;
pub mod members;
pub mod pats;
pub mod projects;
pub mod roles;
pub mod service_accounts;
pub mod session;
pub mod verify;

pub use account::*;
pub use api_keys::*;
pub use audit::*;
pub use errors::*;
pub use forward::ForwardQuery;
pub use identity::*;
pub use members::*;
pub use pats::*;
pub use projects::*;
pub use roles::*;
pub use service_accounts::*;
pub use session::*;
pub use verify::*;

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use utoipa::ToSchema;

/// Every success body: `{"status": "ok", "results": …}`.
#[derive(Serialize, Deserialize)]
pub struct Envelope<T> {
    /// `ok`; borrowed when built, owned when read.
    pub status: Cow<'static, str>,
    pub results: T,
}

impl<T> Envelope<T> {
    pub fn ok(results: T) -> Envelope<T> {
        Envelope {
            status: Cow::Borrowed("ok"),
            results,
        }
    }
}

/// `?limit=&cursor=`
#[derive(Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    #[schema(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    #[param(max_length = 200)]
    #[schema(max_length = 200)]
    pub cursor: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A freshly minted secret: written as the string itself (the one place it
/// leaves the process), read back as a token that was checked well formed.
pub mod revealed {
    use latchkey_core::TokenSecret;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(token: &Option<TokenSecret>, s: S) -> Result<S::Ok, S::Error> {
        match token {
            Some(t) => s.serialize_str(t.expose()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<TokenSecret>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| {
                TokenSecret::from_well_formed(&text)
                    .map_err(|_| serde::de::Error::custom("not a well-formed latchkey token"))
            })
            .transpose()
    }
}

/// A field that may be absent (`None`), `null` (`Some(None)`) or a value;
/// written back the same way (absent stays absent).
pub mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn deserialize<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Option::<T>::deserialize(d).map(Some)
    }

    pub fn serialize<S, T>(value: &Option<Option<T>>, s: S) -> Result<S::Ok, S::Error>
    where
        S: Serializer,
        T: Serialize,
    {
        match value {
            Some(inner) => inner.serialize(s),
            None => s.serialize_none(),
        }
    }
}

/// The credential object every kind shares (API.md): what a client may
/// read of any of them without knowing which kind it holds.
pub trait CredentialObject {
    fn uuid(&self) -> uuid::Uuid;
    fn name(&self) -> &str;
    fn display_prefix(&self) -> &str;
    fn expires_at(&self) -> Option<time::OffsetDateTime>;
    /// Only in the answer that creates or rotates it.
    fn token(&self) -> Option<&latchkey_core::TokenSecret>;
}

macro_rules! credential_object {
    ($($view:ty),*) => {$(
        impl CredentialObject for $view {
            fn uuid(&self) -> uuid::Uuid {
                self.uuid
            }
            fn name(&self) -> &str {
                &self.name
            }
            fn display_prefix(&self) -> &str {
                &self.display_prefix
            }
            fn expires_at(&self) -> Option<time::OffsetDateTime> {
                self.expires_at
            }
            fn token(&self) -> Option<&latchkey_core::TokenSecret> {
                self.token.as_ref()
            }
        }
    )*};
}

credential_object!(PatView, ApiKeyView, ServiceAccountView);
