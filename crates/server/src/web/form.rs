//! Submitted forms: their fields, and the choices the pages' forms share
//! (expiry, role) turned into what the API takes.

use super::client::Failure;
use super::frame;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::{Date, Duration, OffsetDateTime, Time};
use uuid::Uuid;

/// The name of every form's CSRF field.
pub const CSRF_FIELD: &str = "_csrf";

/// A submitted `application/x-www-form-urlencoded` body, in order; a name
/// may repeat (checkboxes, project rows).
pub struct Fields(Vec<(String, String)>);

impl<S: Send + Sync> FromRequest<S> for Fields {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            let status = rejection.status();
            frame::bare_error(status, "The form could not be read.").into_response()
        })?;
        decode(&bytes).map(Fields).ok_or_else(|| {
            frame::bare_error(StatusCode::BAD_REQUEST, "The form could not be read.")
                .into_response()
        })
    }
}

/// An `application/x-www-form-urlencoded` body as its pairs; `None` when a
/// name or value is not UTF-8 once decoded. (Decoding it lossily would turn
/// what was sent into U+FFFD characters nobody typed, and keep them.)
pub(crate) fn decode(body: &[u8]) -> Option<Vec<(String, String)>> {
    // Strict where `form_urlencoded` is lossy: `+` is a space, then the
    // percent-decoded bytes must be UTF-8.
    let text = |part: &[u8]| -> Option<String> {
        let spaced: Vec<u8> = part
            .iter()
            .map(|b| if *b == b'+' { b' ' } else { *b })
            .collect();
        percent_encoding::percent_decode(&spaced)
            .decode_utf8()
            .ok()
            .map(|text| text.into_owned())
    };
    body.split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|b| *b == b'=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &pair[..0]),
            };
            Some((text(name)?, text(value)?))
        })
        .collect()
}

impl Fields {
    pub fn of(pairs: Vec<(String, String)>) -> Fields {
        Fields(pairs)
    }

    /// The first value of `name`, trimmed; `None` when absent or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The first value of `name` exactly as sent: passwords are not trimmed.
    pub fn raw(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// Every value of `name`, in order, empty ones included.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.trim())
    }

    pub fn csrf(&self) -> &str {
        self.get(CSRF_FIELD).unwrap_or("")
    }

    /// A required text field, sent as typed (the API checks its length).
    pub fn required(&self, name: &str, label: &str) -> Result<String, Failure> {
        self.get(name)
            .map(str::to_string)
            .ok_or_else(|| Failure::invalid(label, "is required"))
    }
}

/// The `{uuid}` of a page's path; anything else is a missing page.
pub struct Id(pub Uuid);

/// Both uuids of a path such as `/settings/projects/{uuid}/access/{user}/remove`.
pub struct Ids(pub Uuid, pub Uuid);

fn missing() -> Response {
    frame::bare_error(StatusCode::NOT_FOUND, "There is no such page.").into_response()
}

/// The path's parameters as uuids; empty when any is not one.
async fn path_uuids<S: Send + Sync>(parts: &mut Parts, state: &S) -> Vec<Uuid> {
    let Ok(params) = RawPathParams::from_request_parts(parts, state).await else {
        return Vec::new();
    };
    params
        .iter()
        .map(|(_, v)| Uuid::parse_str(v).ok())
        .collect::<Option<Vec<_>>>()
        .unwrap_or_default()
}

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Id, Response> {
        match path_uuids(parts, state).await.as_slice() {
            [uuid, ..] => Ok(Id(*uuid)),
            [] => Err(missing()),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Ids {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Ids, Response> {
        match path_uuids(parts, state).await.as_slice() {
            [a, b, ..] => Ok(Ids(*a, *b)),
            _ => Err(missing()),
        }
    }
}

/// The expiry choices of PRODUCT.md §2: a number of days, a date, or none.
pub const EXPIRY_DAYS: [i64; 4] = [7, 30, 60, 90];

/// `expiresAt` from the `expiry` select (`7`…`90`, `custom`, `none`) and the
/// `expiresOn` date; `None` for no expiry. A custom date expires at the end
/// of that day, UTC.
pub fn expiry(fields: &Fields, now: OffsetDateTime) -> Result<Option<String>, Failure> {
    let at = match fields.get("expiry").unwrap_or("30") {
        "none" => return Ok(None),
        "custom" => {
            let date = fields
                .get("expiresOn")
                .ok_or_else(|| Failure::invalid("Expiration date", "choose a date"))?;
            let format = time::macros::format_description!("[year]-[month]-[day]");
            let day = Date::parse(date, &format)
                .map_err(|_| Failure::invalid("Expiration date", "is not a date"))?;
            let at = day.with_time(Time::from_hms(23, 59, 59).unwrap_or(Time::MIDNIGHT));
            let at = at.assume_utc();
            if at <= now {
                return Err(Failure::invalid("Expiration date", "must be in the future"));
            }
            at
        }
        days => {
            let days = days
                .parse::<i64>()
                .ok()
                .filter(|d| EXPIRY_DAYS.contains(d))
                .ok_or_else(|| Failure::invalid("Expiration", "not one of the choices"))?;
            now + Duration::days(days)
        }
    };
    at.format(&Rfc3339)
        .map(Some)
        .map_err(|_| Failure::invalid("Expiration", "is out of range"))
}

/// `{role}` or `{customRoleUuid}` from a role select whose custom roles are
/// `custom:<uuid>`.
pub fn role_choice(value: Option<&str>, label: &str) -> Result<Value, Failure> {
    match value {
        None => Err(Failure::invalid(label, "choose a role")),
        Some(v) => Ok(match v.strip_prefix("custom:") {
            Some(uuid) => json!({ "customRoleUuid": uuid }),
            None => json!({ "role": v }),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::decode;

    fn pairs(body: &str) -> Option<Vec<(String, String)>> {
        decode(body.as_bytes())
    }

    #[test]
    fn a_form_decodes_as_browsers_encode_it() {
        let own = |v: &[(&str, &str)]| {
            Some(
                v.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!(
            pairs("name=a+b%20c&scope=x&scope=y&_csrf="),
            own(&[
                ("name", "a b c"),
                ("scope", "x"),
                ("scope", "y"),
                ("_csrf", "")
            ])
        );
        assert_eq!(pairs("a=%C3%A9%2B&&b"), own(&[("a", "é+"), ("b", "")]));
        // What is no escape stays as sent, as browsers and `form_urlencoded` do.
        assert_eq!(
            pairs("a=100%&b=%zz&c=%+1&d=%4"),
            own(&[("a", "100%"), ("b", "%zz"), ("c", "% 1"), ("d", "%4")])
        );
        assert_eq!(pairs(""), own(&[]));
    }

    #[test]
    fn a_form_that_is_not_utf8_is_refused_not_mangled() {
        assert_eq!(pairs("name=%ff%fe"), None);
        assert_eq!(pairs("%c3=x"), None);
        assert_eq!(decode(b"name=\xff"), None);
    }
}
