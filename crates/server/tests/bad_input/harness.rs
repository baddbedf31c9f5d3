//! How the bad input is sent (raw sockets included), what a clear refusal looks like, and every endpoint with a valid body.

use crate::support::{in_days, Auth, Resp, TestApp, ADMIN_EMAIL};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE, COOKIE};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Operations whose body is a form, not JSON: their bad input is
/// `introspection_bad_input`'s.
pub(crate) const FORM_OPERATIONS: [&str; 1] = ["POST /oauth2/introspect"];

pub(crate) const MAX_BODY: usize = 64 * 1024;

/// Every error: a JSON body `{"status": "error", "error": {statusCode, code,
/// message}}` with the status repeated, and never a 500.
#[track_caller]
pub(crate) fn assert_json_error(resp: &Resp, ctx: &str) {
    assert!(
        resp.status >= 400 && resp.status < 500,
        "{ctx}: status {}; body: {}",
        resp.status,
        resp.body
    );
    let content_type = resp
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(
        content_type.starts_with("application/json"),
        "{ctx}: content type {content_type:?}; body: {}",
        resp.body
    );
    assert_eq!(resp.body["status"], "error", "{ctx}: {}", resp.body);
    assert_eq!(
        resp.body["error"]["statusCode"], resp.status,
        "{ctx}: {}",
        resp.body
    );
    assert!(!resp.code().is_empty(), "{ctx}: no code: {}", resp.body);
    assert!(
        resp.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{ctx}: no message: {}",
        resp.body
    );
}

#[track_caller]
pub(crate) fn assert_error(resp: &Resp, status: u16, code: &str, ctx: &str) {
    assert_json_error(resp, ctx);
    assert_eq!(
        (resp.status, resp.code()),
        (status, code),
        "{ctx}: {}",
        resp.body
    );
}

/// `400 invalid_request` with `details.field` exactly `field` (absent for
/// an error about the body as a whole).
#[track_caller]
pub(crate) fn assert_invalid(resp: &Resp, field: Option<&str>, ctx: &str) {
    assert_error(resp, 400, "invalid_request", ctx);
    assert_eq!(
        resp.body["error"]["details"]["field"].as_str(),
        field,
        "{ctx}: {}",
        resp.body
    );
    if field.is_none() {
        assert!(
            resp.body["error"]["details"]["field"].is_null(),
            "{ctx}: {}",
            resp.body
        );
    }
}

/// The server is still up.
pub(crate) async fn healthy(app: &TestApp) {
    let resp = app.get("/healthz", &Auth::None).await;
    assert_eq!(resp.status, 200, "healthz: {}", resp.body);
}

pub(crate) fn with_auth(req: reqwest::RequestBuilder, auth: &Auth) -> reqwest::RequestBuilder {
    match auth {
        Auth::None => req,
        Auth::Token(t) => req.header(AUTHORIZATION, format!("ApiKey {t}")),
        Auth::Header(h) => req.header(AUTHORIZATION, h),
        Auth::Session { cookie, csrf } => req
            .header(COOKIE, format!("latchkey_session={cookie}"))
            .header("X-CSRF-Token", csrf),
        Auth::SessionNoCsrf { cookie } => req.header(COOKIE, format!("latchkey_session={cookie}")),
    }
}

pub(crate) async fn read(resp: reqwest::Response) -> Resp {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.expect("body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    Resp {
        status,
        body,
        headers,
    }
}

/// A body of any bytes, with any (or no) Content-Type.
pub(crate) async fn send_bytes(
    app: &TestApp,
    method: Method,
    path: &str,
    auth: &Auth,
    content_type: Option<&[u8]>,
    body: Vec<u8>,
) -> Resp {
    let mut req = with_auth(
        app.http.request(method, format!("{}{}", app.base, path)),
        auth,
    );
    if let Some(ct) = content_type {
        req = req.header(
            CONTENT_TYPE,
            HeaderValue::from_bytes(ct).expect("header value"),
        );
    }
    read(req.body(body).send().await.expect("request")).await
}

/// A request with extra raw headers (bytes ≥ 0x80 included).
pub(crate) async fn send_with_headers(
    app: &TestApp,
    method: Method,
    path: &str,
    headers: &[(&str, &[u8])],
    body: Option<Value>,
) -> Resp {
    let mut req = app.http.request(method, format!("{}{}", app.base, path));
    for (name, value) in headers {
        req = req.header(*name, HeaderValue::from_bytes(value).expect("header value"));
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    read(req.send().await.expect("request")).await
}

/// Parses a complete HTTP/1.1 response with a Content-Length.
pub(crate) fn parse_response(buf: &[u8]) -> Option<Resp> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let mut headers = HeaderMap::new();
    let mut len = None;
    for line in head.lines().skip(1) {
        let (name, value) = line.split_once(':')?;
        if name.eq_ignore_ascii_case("content-length") {
            len = value.trim().parse::<usize>().ok();
        }
        if name.eq_ignore_ascii_case("content-type") {
            headers.insert(CONTENT_TYPE, HeaderValue::from_str(value.trim()).ok()?);
        }
    }
    let body = buf.get(end + 4..end + 4 + len?)?;
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into()))
    };
    Some(Resp {
        status,
        body,
        headers,
    })
}

/// A raw HTTP/1.1 exchange, for what reqwest will not send: a chunked body
/// without Content-Length, or a Content-Length that promises more than comes.
/// Returns the response and how long it took.
pub(crate) async fn raw_exchange(
    app: &TestApp,
    head: &str,
    body_parts: Vec<Vec<u8>>,
) -> (Resp, Duration) {
    let started = Instant::now();
    let addr = app.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("write head");
    for part in body_parts {
        // The server may answer (and stop reading) before the body is done.
        if stream.write_all(&part).await.is_err() {
            break;
        }
    }
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let finished = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    if parse_response(&buf).is_some() {
                        break;
                    }
                }
            }
        }
    })
    .await;
    assert!(
        finished.is_ok(),
        "no response within 10 s; got {:?}",
        String::from_utf8_lossy(&buf)
    );
    let resp = parse_response(&buf)
        .unwrap_or_else(|| panic!("incomplete response: {:?}", String::from_utf8_lossy(&buf)));
    (resp, started.elapsed())
}

pub(crate) fn chunked(data: &[u8], chunk_size: usize) -> Vec<Vec<u8>> {
    let mut parts: Vec<Vec<u8>> = data
        .chunks(chunk_size)
        .map(|c| [format!("{:x}\r\n", c.len()).as_bytes(), c, b"\r\n"].concat())
        .collect();
    parts.push(b"0\r\n\r\n".to_vec());
    parts
}

pub(crate) fn obj(field: &str, value: impl Into<Value>) -> Value {
    let mut map = serde_json::Map::new();
    map.insert(field.to_string(), value.into());
    Value::Object(map)
}

pub(crate) struct Fixture {
    pub(crate) project: String,
    pub(crate) member: String,
    pub(crate) invite: String,
    /// One of the admin's PATs, with an expiry (so it could be rotated).
    pub(crate) pat: String,
    /// An API key with an expiry.
    pub(crate) api_key: String,
    /// A service account with an expiry.
    pub(crate) service_account: String,
    /// A custom role.
    pub(crate) role: String,
}

pub(crate) async fn fixture(app: &TestApp) -> Fixture {
    let project = app.create_project("bad input").await;
    let (member, invite) = app.add_member("member@acme.test", "member").await;
    let (pat, _) = app
        .create_pat(
            &app.admin.session,
            json!({ "name": "rotatable", "expiresAt": in_days(30) }),
        )
        .await;
    let key = app
        .post(
            "/api/v1/org/api-keys",
            &app.admin.pat,
            json!({ "name": "bad input", "role": "viewer", "expiresAt": in_days(30) }),
        )
        .await;
    let api_key = key.expect(201)["uuid"].as_str().expect("uuid").to_string();
    // Service accounts and custom roles are on the enterprise plan.
    app.set_plan("enterprise").await;
    let account = app
        .post(
            "/api/v1/service-accounts",
            &app.admin.pat,
            json!({ "description": "bad input", "scope": "organization", "role": "viewer", "expiresAt": in_days(30) }),
        )
        .await;
    let service_account = account.expect(201)["uuid"]
        .as_str()
        .expect("uuid")
        .to_string();
    let role = app
        .post(
            "/api/v1/org/roles",
            &app.admin.pat,
            json!({ "name": "bad input", "scopes": ["audit:read"] }),
        )
        .await;
    let role = role.expect(201)["uuid"].as_str().expect("uuid").to_string();
    Fixture {
        project,
        member,
        invite: invite.expect("a new member gets an invite"),
        pat,
        api_key,
        service_account,
        role,
    }
}

pub(crate) struct Endpoint {
    pub(crate) name: &'static str,
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) auth: Auth,
    /// A body that deserializes (never sent on its own: it might succeed).
    pub(crate) parses: Value,
    /// A string field of the body.
    pub(crate) text_field: &'static str,
}

pub(crate) fn endpoints(app: &TestApp, fx: &Fixture) -> Vec<Endpoint> {
    let pat = &app.admin.pat;
    let session = &app.admin.session;
    let e = |name, method, path: String, auth: &Auth, parses, text_field| Endpoint {
        name,
        method,
        path,
        auth: auth.clone(),
        parses,
        text_field,
    };
    let pats = "/api/v1/user/me/personal-access-tokens";
    vec![
        e(
            "login",
            Method::POST,
            "/api/v1/login".into(),
            &Auth::None,
            json!({ "email": ADMIN_EMAIL, "password": "not the password" }),
            "email",
        ),
        e(
            "accept invite",
            Method::POST,
            format!("/api/v1/invites/{}", fx.invite),
            &Auth::None,
            json!({ "password": "a fine password" }),
            "password",
        ),
        e(
            "create org",
            Method::POST,
            "/api/v1/orgs".into(),
            session,
            json!({ "name": "Other" }),
            "name",
        ),
        e(
            "active org",
            Method::POST,
            "/api/v1/user/me/active-org".into(),
            session,
            json!({ "orgUuid": app.org_uuid }),
            "orgUuid",
        ),
        e(
            "change password",
            Method::POST,
            "/api/v1/user/me/password".into(),
            session,
            json!({ "currentPassword": "x", "newPassword": "long enough" }),
            "newPassword",
        ),
        e(
            "add member",
            Method::POST,
            "/api/v1/org/users".into(),
            pat,
            json!({ "email": "new@acme.test", "role": "member" }),
            "email",
        ),
        e(
            "patch member",
            Method::PATCH,
            format!("/api/v1/org/users/{}", fx.member),
            pat,
            json!({ "suspended": false }),
            "role",
        ),
        e(
            "create project",
            Method::POST,
            "/api/v1/org/projects".into(),
            pat,
            json!({ "name": "p" }),
            "name",
        ),
        e(
            "patch project",
            Method::PATCH,
            format!("/api/v1/projects/{}", fx.project),
            pat,
            json!({ "name": "p" }),
            "name",
        ),
        e(
            "put access",
            Method::PUT,
            format!("/api/v1/projects/{}/access/{}", fx.project, fx.member),
            pat,
            json!({ "role": "viewer" }),
            "role",
        ),
        e(
            "create pat",
            Method::POST,
            pats.into(),
            pat,
            json!({ "name": "t" }),
            "name",
        ),
        e(
            "patch pat",
            Method::PATCH,
            format!("{pats}/{}", fx.pat),
            pat,
            json!({ "name": "t" }),
            "name",
        ),
        e(
            "rotate pat",
            Method::PATCH,
            format!("{pats}/{}/rotate", fx.pat),
            pat,
            json!({ "expiresAt": in_days(10) }),
            "expiresAt",
        ),
        e(
            "create api key",
            Method::POST,
            "/api/v1/org/api-keys".into(),
            pat,
            json!({ "name": "k", "role": "viewer" }),
            "name",
        ),
        e(
            "patch api key",
            Method::PATCH,
            format!("/api/v1/org/api-keys/{}", fx.api_key),
            pat,
            json!({ "name": "k" }),
            "name",
        ),
        e(
            "rotate api key",
            Method::PATCH,
            format!("/api/v1/org/api-keys/{}/rotate", fx.api_key),
            pat,
            json!({ "expiresAt": in_days(10) }),
            "expiresAt",
        ),
        e(
            "create service account",
            Method::POST,
            "/api/v1/service-accounts".into(),
            pat,
            json!({ "description": "sa", "scope": "organization", "role": "viewer" }),
            "description",
        ),
        e(
            "patch service account",
            Method::PATCH,
            format!("/api/v1/service-accounts/{}", fx.service_account),
            pat,
            json!({ "description": "sa" }),
            "description",
        ),
        e(
            "rotate service account",
            Method::PATCH,
            format!("/api/v1/service-accounts/{}/rotate", fx.service_account),
            pat,
            json!({ "expiresAt": in_days(10) }),
            "expiresAt",
        ),
        e(
            "create role",
            Method::POST,
            "/api/v1/org/roles".into(),
            pat,
            json!({ "name": "r", "scopes": ["audit:read"] }),
            "name",
        ),
        e(
            "patch role",
            Method::PATCH,
            format!("/api/v1/org/roles/{}", fx.role),
            pat,
            json!({ "name": "r" }),
            "name",
        ),
        e(
            "verify",
            Method::POST,
            "/api/v1/auth/verify".into(),
            &Auth::None,
            json!({ "token": "x" }),
            "token",
        ),
    ]
}

pub(crate) fn endpoint<'a>(eps: &'a [Endpoint], name: &str) -> &'a Endpoint {
    eps.iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no endpoint {name}"))
}

pub(crate) async fn send_to(app: &TestApp, ep: &Endpoint, body: Value) -> Resp {
    app.send(ep.method.clone(), &ep.path, &ep.auth, Some(body))
        .await
}
