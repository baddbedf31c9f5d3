//! The HTTP client of the latchkey API (API.md): one token, JSON in and out,
//! the `{"status": "ok", "results": …}` envelope unwrapped, the error
//! envelope turned into a [`Failure::Api`], and anything else — no answer, a
//! timeout, a web page, a redirect — into [`Failure::Unreachable`].

use crate::failure::Failure;
use latchkey_core::{ExposeSecret, SecretString};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// More than any latchkey answer; a larger body is not latchkey talking.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: SecretString,
}

/// A server URL as given by a person: `http(s)://host[:port][/prefix]`,
/// without a trailing slash.
pub fn normalize_url(url: &str) -> Result<String, Failure> {
    let trimmed = url.trim().trim_end_matches('/');
    let parsed = reqwest::Url::parse(trimmed).map_err(|e| {
        Failure::Usage(format!(
            "{trimmed:?} is not a server URL ({e}); give one like https://latchkey.example.com"
        ))
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(Failure::Usage(format!(
            "{trimmed:?} is not an http:// or https:// URL"
        )));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(Failure::Usage(format!(
            "{trimmed:?}: give the server's base URL, without ?query or #fragment"
        )));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(Failure::Usage(
            "the server URL must not hold a user name or password".to_string(),
        ));
    }
    Ok(trimmed.to_string())
}

/// Plain HTTP to anything but this machine sends the token in clear text.
pub fn is_cleartext_remote(url: &str) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return false;
    };
    if parsed.scheme() != "http" {
        return false;
    }
    let Some(host) = parsed.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => !ip.is_loopback(),
        Err(_) => host != "localhost" && !host.ends_with(".localhost"),
    }
}

impl Api {
    pub fn new(base: &str, token: SecretString) -> Result<Api, Failure> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            // latchkey's API never redirects: a redirect means the URL is
            // not the API, and following one could carry the token elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("latchkey-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Failure::Local(format!("cannot start the HTTP client: {e}")))?;
        Ok(Api {
            http,
            base: base.to_string(),
            token,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub async fn get(&self, path: &str) -> Result<Value, Failure> {
        self.call(Method::GET, path, &[], None).await
    }

    pub async fn get_query(&self, path: &str, query: &[(&str, String)]) -> Result<Value, Failure> {
        self.call(Method::GET, path, query, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Result<Value, Failure> {
        self.call(Method::POST, path, &[], Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Result<Value, Failure> {
        self.call(Method::PATCH, path, &[], Some(body)).await
    }

    /// `204` is `Value::Null`.
    pub async fn delete(&self, path: &str) -> Result<Value, Failure> {
        self.call(Method::DELETE, path, &[], None).await
    }

    /// One request; the `results` of a success.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Value>,
    ) -> Result<Value, Failure> {
        let url = format!("{}{path}", self.base);
        let mut request = self
            .http
            .request(method, &url)
            .header(
                "Authorization",
                format!("Bearer {}", self.token.expose_secret()),
            )
            .header("Accept", "application/json");
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| unreachable(&self.base, &e))?;
        let status = response.status();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| unreachable(&self.base, &e))?;
        interpret(&self.base, status, &content_type, location, &bytes)
    }
}

/// Why a request got no answer, in words; never the request's headers.
fn unreachable(base: &str, e: &reqwest::Error) -> Failure {
    let why = if e.is_timeout() {
        "the request timed out".to_string()
    } else if e.is_connect() {
        format!("cannot connect ({})", root_cause(e))
    } else {
        root_cause(e)
    };
    Failure::Unreachable(format!("cannot reach the latchkey server at {base}: {why}"))
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: &(dyn std::error::Error + 'static) = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// The answer, if it is latchkey's JSON; otherwise say what it was.
fn interpret(
    base: &str,
    status: StatusCode,
    content_type: &str,
    location: Option<String>,
    bytes: &[u8],
) -> Result<Value, Failure> {
    if status == StatusCode::NO_CONTENT && status.is_success() {
        return Ok(Value::Null);
    }
    let not_latchkey = |what: String| {
        Failure::Unreachable(format!(
            "the server at {base} is not a latchkey API: it answered HTTP {}{what}; check the URL",
            status.as_u16()
        ))
    };
    if status.is_redirection() {
        return Err(not_latchkey(match location {
            Some(l) => format!(" redirecting to {l}"),
            None => " (a redirect)".to_string(),
        }));
    }
    let kind = if content_type.is_empty() {
        String::new()
    } else {
        format!(" with {}", content_type.split(';').next().unwrap_or(""))
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(not_latchkey(format!(
            "{kind}, a body of {} bytes",
            bytes.len()
        )));
    }
    let Ok(value) = serde_json::from_slice::<Value>(bytes) else {
        return Err(not_latchkey(kind));
    };
    match value.get("status").and_then(Value::as_str) {
        Some("ok") if status.is_success() => match value.get("results") {
            Some(results) => Ok(results.clone()),
            None => Err(not_latchkey(format!("{kind} without `results`"))),
        },
        Some("error") if !status.is_success() => {
            let error = value.get("error").unwrap_or(&Value::Null);
            match error.get("code").and_then(Value::as_str) {
                Some(code) => Err(Failure::Api {
                    status: status.as_u16(),
                    code: code.to_string(),
                    message: error
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    details: error.get("details").cloned().filter(|d| !d.is_null()),
                }),
                None => Err(not_latchkey(format!("{kind}, an error without a code"))),
            }
        }
        _ => Err(not_latchkey(format!("{kind}, JSON that is not latchkey's"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(status: u16, ct: &str, body: &str) -> Result<Value, Failure> {
        interpret(
            "http://x",
            StatusCode::from_u16(status).unwrap(),
            ct,
            None,
            body.as_bytes(),
        )
    }

    #[test]
    fn envelopes() {
        assert_eq!(
            run(200, "application/json", r#"{"status":"ok","results":[1]}"#).unwrap(),
            json!([1])
        );
        assert_eq!(run(204, "", "").unwrap(), Value::Null);
        match run(
            403,
            "application/json",
            r#"{"status":"error","error":{"statusCode":403,"code":"missing_scope","message":"m","details":{"requiredScope":"a:b"}}}"#,
        ) {
            Err(Failure::Api { status, code, .. }) => {
                assert_eq!((status, code.as_str()), (403, "missing_scope"))
            }
            other => panic!("{other:?}"),
        }
        for (status, ct, body) in [
            (200, "text/html", "<html></html>"),
            (200, "application/json", r#"{"hello":1}"#),
            (404, "application/json", r#"{"status":"ok","results":1}"#),
            (500, "text/plain", "oops"),
        ] {
            assert!(matches!(
                run(status, ct, body),
                Err(Failure::Unreachable(_))
            ));
        }
    }

    #[test]
    fn urls() {
        assert_eq!(
            normalize_url("https://a.example/").unwrap(),
            "https://a.example"
        );
        assert!(normalize_url("a.example").is_err());
        assert!(normalize_url("ftp://a.example").is_err());
        assert!(normalize_url("https://u:p@a.example").is_err());
        assert!(is_cleartext_remote("http://a.example"));
        assert!(!is_cleartext_remote("http://127.0.0.1:8080"));
        assert!(!is_cleartext_remote("http://localhost:8080"));
        assert!(!is_cleartext_remote("https://a.example"));
    }
}
