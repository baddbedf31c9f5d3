//! Bad input on the real server (API.md, Conventions and Authentication):
//! every malformed body, header, path id or query is a JSON error that says
//! what is wrong (`400 invalid_request` naming the field in
//! `details.field`, `413 payload_too_large`, `401 malformed_token`, …) —
//! never a 500, a panic, a hang or a plain-text body — and the server stays
//! up afterwards.

#[allow(dead_code)]
#[path = "api/support.rs"]
mod support;

use latchkey_core::{TokenKind, TokenSecret};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE, COOKIE};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::{in_days, Auth, Resp, TestApp, ADMIN_EMAIL, PASSWORD};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

on_both_backends!(
    malformed_bodies,
    field_errors,
    string_bounds,
    oversize_bodies,
    unknown_fields_are_ignored,
    garbage_authorization,
    garbage_session_cookie,
    non_uuid_path_ids,
    bad_query_params,
    unknown_routes_and_methods,
    invite_codes_and_passwords,
    login_bad_input,
    introspection_bad_input,
);

/// Operations whose body is a form, not JSON: their bad input is
/// `introspection_bad_input`'s.
const FORM_OPERATIONS: [&str; 1] = ["POST /oauth2/introspect"];

const MAX_BODY: usize = 64 * 1024;

// ---------------------------------------------------------------------------
// Assertions

/// Every error: a JSON body `{"status": "error", "error": {statusCode, code,
/// message}}` with the status repeated, and never a 500.
#[track_caller]
fn assert_json_error(resp: &Resp, ctx: &str) {
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
fn assert_error(resp: &Resp, status: u16, code: &str, ctx: &str) {
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
fn assert_invalid(resp: &Resp, field: Option<&str>, ctx: &str) {
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
async fn healthy(app: &TestApp) {
    let resp = app.get("/healthz", &Auth::None).await;
    assert_eq!(resp.status, 200, "healthz: {}", resp.body);
}

// ---------------------------------------------------------------------------
// Sending what `TestApp::send` will not

fn with_auth(req: reqwest::RequestBuilder, auth: &Auth) -> reqwest::RequestBuilder {
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

async fn read(resp: reqwest::Response) -> Resp {
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
async fn send_bytes(
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
async fn send_with_headers(
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
fn parse_response(buf: &[u8]) -> Option<Resp> {
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
async fn raw_exchange(app: &TestApp, head: &str, body_parts: Vec<Vec<u8>>) -> (Resp, Duration) {
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

fn chunked(data: &[u8], chunk_size: usize) -> Vec<Vec<u8>> {
    let mut parts: Vec<Vec<u8>> = data
        .chunks(chunk_size)
        .map(|c| [format!("{:x}\r\n", c.len()).as_bytes(), c, b"\r\n"].concat())
        .collect();
    parts.push(b"0\r\n\r\n".to_vec());
    parts
}

fn obj(field: &str, value: impl Into<Value>) -> Value {
    let mut map = serde_json::Map::new();
    map.insert(field.to_string(), value.into());
    Value::Object(map)
}

// ---------------------------------------------------------------------------
// The endpoints that take a body

struct Fixture {
    project: String,
    member: String,
    invite: String,
    /// One of the admin's PATs, with an expiry (so it could be rotated).
    pat: String,
    /// An API key with an expiry.
    api_key: String,
    /// A service account with an expiry.
    service_account: String,
    /// A custom role.
    role: String,
}

async fn fixture(app: &TestApp) -> Fixture {
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

struct Endpoint {
    name: &'static str,
    method: Method,
    path: String,
    auth: Auth,
    /// A body that deserializes (never sent on its own: it might succeed).
    parses: Value,
    /// A string field of the body.
    text_field: &'static str,
}

fn endpoints(app: &TestApp, fx: &Fixture) -> Vec<Endpoint> {
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

fn endpoint<'a>(eps: &'a [Endpoint], name: &str) -> &'a Endpoint {
    eps.iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no endpoint {name}"))
}

async fn send_to(app: &TestApp, ep: &Endpoint, body: Value) -> Resp {
    app.send(ep.method.clone(), &ep.path, &ep.auth, Some(body))
        .await
}

// ---------------------------------------------------------------------------
// Bodies

/// Not JSON, cut short, the wrong top-level type, trailing garbage, and the
/// wrong Content-Type: `400 invalid_request` about the body as a whole.
async fn malformed_bodies(app: TestApp) {
    let fx = fixture(&app).await;
    // The table holds every operation the API documents a body for, and no
    // other: a new one is added there, or this fails.
    let doc = app.get("/api/v1/openapi.json", &Auth::None).await;
    let mut documented: Vec<String> = Vec::new();
    assert_eq!(doc.status, 200);
    for (path, item) in doc.body["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("operations") {
            if let Some(body) = op.get("requestBody") {
                let form = body["content"]
                    .get("application/x-www-form-urlencoded")
                    .is_some();
                let name = format!("{} {path}", method.to_uppercase());
                assert_eq!(
                    form,
                    FORM_OPERATIONS.contains(&name.as_str()),
                    "{name}: a form body is listed in FORM_OPERATIONS"
                );
                if form {
                    continue;
                }
                let template: Vec<&str> = path
                    .split('/')
                    .map(|part| if part.starts_with('{') { "{}" } else { part })
                    .collect();
                documented.push(format!("{} {}", method.to_uppercase(), template.join("/")));
            }
        }
    }
    documented.sort();
    let ids = [
        &fx.project,
        &fx.member,
        &fx.invite,
        &fx.pat,
        &fx.api_key,
        &fx.service_account,
        &fx.role,
    ];
    let mut tabled: Vec<String> = endpoints(&app, &fx)
        .iter()
        .map(|ep| {
            let path = ids
                .iter()
                .fold(ep.path.clone(), |path, id| path.replace(id.as_str(), "{}"));
            format!("{} {path}", ep.method)
        })
        .collect();
    tabled.sort();
    assert_eq!(tabled, documented, "every operation that takes a body");
    for ep in endpoints(&app, &fx) {
        let ok = ep.parses.to_string();
        let f = ep.text_field;
        let bodies: Vec<(&str, Vec<u8>)> = vec![
            ("empty", vec![]),
            ("whitespace", b" \r\n\t ".to_vec()),
            ("not JSON", b"not json".to_vec()),
            ("XML", b"<name>x</name>".to_vec()),
            ("form-encoded", b"name=x&email=y".to_vec()),
            ("truncated", ok.as_bytes()[..ok.len() - 1].to_vec()),
            ("cut inside a key", b"{\"na".to_vec()),
            ("an open brace", b"{".to_vec()),
            ("unquoted key", b"{name: \"x\"}".to_vec()),
            ("single quotes", b"{'name': 'x'}".to_vec()),
            (
                "trailing comma inside",
                format!("{{\"{f}\": \"x\",}}").into_bytes(),
            ),
            ("a comment", b"{/* c */}".to_vec()),
            ("NaN", format!("{{\"{f}\": NaN}}").into_bytes()),
            ("a byte order mark", format!("\u{feff}{ok}").into_bytes()),
            (
                "invalid UTF-8",
                [format!("{{\"{f}\": \"").as_bytes(), b"\xff\xfe", b"\"}"].concat(),
            ),
            (
                "a raw control character in a string",
                format!("{{\"{f}\": \"a\u{1}b\"}}").into_bytes(),
            ),
            (
                "deep nesting, unterminated",
                format!("{{\"deep\": {}", "[".repeat(30_000)).into_bytes(),
            ),
            (
                "deeply nested arrays",
                format!("{}{}", "[".repeat(30_000), "]".repeat(30_000)).into_bytes(),
            ),
            ("an empty array", b"[]".to_vec()),
            ("an array holding the body", format!("[{ok}]").into_bytes()),
            ("a string", b"\"x\"".to_vec()),
            ("null", b"null".to_vec()),
            ("a number", b"42".to_vec()),
            ("a boolean", b"true".to_vec()),
            ("trailing garbage", format!("{ok} x").into_bytes()),
            ("two values", format!("{ok}{ok}").into_bytes()),
            ("a trailing comma", format!("{ok},").into_bytes()),
            ("a trailing NUL", format!("{ok}\u{0}").into_bytes()),
        ];
        for (label, body) in bodies {
            let resp = send_bytes(
                &app,
                ep.method.clone(),
                &ep.path,
                &ep.auth,
                Some(b"application/json"),
                body,
            )
            .await;
            assert_invalid(&resp, None, &format!("{}: {label}", ep.name));
        }
        // Well-formed JSON, but a lone surrogate is no text: the field is named.
        let body = format!("{{\"{f}\": \"\\ud800\"}}").into_bytes();
        let resp = send_bytes(
            &app,
            ep.method.clone(),
            &ep.path,
            &ep.auth,
            Some(b"application/json"),
            body,
        )
        .await;
        assert_invalid(&resp, Some(f), &format!("{}: a lone surrogate", ep.name));
        // A body that would parse, but not declared as JSON.
        let content_types: [Option<&[u8]>; 10] = [
            None,
            Some(b""),
            Some(b"text/plain"),
            Some(b"text/json"),
            Some(b"application/x-www-form-urlencoded"),
            Some(b"multipart/form-data; boundary=x"),
            Some(b"application/jsonp"),
            Some(b"json"),
            Some(b"application/json, text/plain"),
            Some(b"application/json\xff"),
        ];
        for ct in content_types {
            let resp = send_bytes(
                &app,
                ep.method.clone(),
                &ep.path,
                &ep.auth,
                ct,
                ok.clone().into_bytes(),
            )
            .await;
            assert_invalid(
                &resp,
                None,
                &format!(
                    "{}: Content-Type {:?}",
                    ep.name,
                    ct.map(String::from_utf8_lossy)
                ),
            );
        }
    }
    // JSON by another spelling is JSON.
    let eps = endpoints(&app, &fx);
    let patch = endpoint(&eps, "patch pat");
    for ct in [
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "application/merge-patch+json",
        "application/json;charset=latin1",
    ] {
        let resp = send_bytes(
            &app,
            Method::PATCH,
            &patch.path,
            &patch.auth,
            Some(ct.as_bytes()),
            br#"{"name": "renamed"}"#.to_vec(),
        )
        .await;
        assert_eq!(resp.expect(200)["name"], "renamed", "{ct}");
    }
    // A positional array is not an object, even when it has the right shape.
    let resp = app
        .send(
            Method::POST,
            "/api/v1/org/projects",
            &app.admin.pat,
            Some(json!(["positional"])),
        )
        .await;
    assert_invalid(&resp, None, "project as an array");
    let resp = app
        .send(
            Method::POST,
            "/api/v1/login",
            &Auth::None,
            Some(json!([ADMIN_EMAIL, PASSWORD])),
        )
        .await;
    assert_invalid(&resp, None, "login as an array");
    let projects = app.get("/api/v1/org/projects", &app.admin.pat).await;
    assert!(!projects.expect(200).to_string().contains("positional"));
    healthy(&app).await;
}

/// Wrong types, unknown enum values, missing required fields, duplicate
/// keys: `400 invalid_request` naming the field, nested ones included.
async fn field_errors(app: TestApp) {
    let fx = fixture(&app).await;
    let eps = endpoints(&app, &fx);
    let uuid = uuid::Uuid::new_v4().to_string();
    let cases: Vec<(&str, Value, &str)> = vec![
        // Wrong types.
        ("login", json!({ "email": 5, "password": "x" }), "email"),
        ("login", json!({ "email": null, "password": "x" }), "email"),
        (
            "login",
            json!({ "email": { "a": 1 }, "password": "x" }),
            "email",
        ),
        (
            "login",
            json!({ "email": ADMIN_EMAIL, "password": ["x"] }),
            "password",
        ),
        (
            "login",
            json!({ "email": ADMIN_EMAIL, "password": 12345678 }),
            "password",
        ),
        (
            "login",
            json!({ "email": ADMIN_EMAIL, "password": "x", "orgUuid": 7 }),
            "orgUuid",
        ),
        (
            "login",
            json!({ "email": ADMIN_EMAIL, "password": "x", "orgUuid": "nope" }),
            "orgUuid",
        ),
        ("accept invite", json!({ "password": 12345678 }), "password"),
        ("accept invite", json!({ "password": null }), "password"),
        (
            "accept invite",
            json!({ "password": "a fine password", "name": 5 }),
            "name",
        ),
        ("create org", json!({ "name": 5 }), "name"),
        ("create org", json!({ "name": ["Other"] }), "name"),
        ("create org", json!({ "name": true }), "name"),
        ("active org", json!({ "orgUuid": 5 }), "orgUuid"),
        ("active org", json!({ "orgUuid": "x" }), "orgUuid"),
        ("active org", json!({ "orgUuid": null }), "orgUuid"),
        (
            "add member",
            json!({ "email": 5, "role": "member" }),
            "email",
        ),
        (
            "add member",
            json!({ "email": "a@acme.test", "role": 5 }),
            "role",
        ),
        (
            "add member",
            json!({ "email": "a@acme.test", "role": ["member"] }),
            "role",
        ),
        (
            "add member",
            json!({ "email": "a@acme.test", "name": {}, "role": "member" }),
            "name",
        ),
        (
            "add member",
            json!({ "email": "a@acme.test", "customRoleUuid": "x" }),
            "customRoleUuid",
        ),
        (
            "add member",
            json!({ "email": "a@acme.test", "customRoleUuid": 1 }),
            "customRoleUuid",
        ),
        ("patch member", json!({ "suspended": "yes" }), "suspended"),
        ("patch member", json!({ "suspended": {} }), "suspended"),
        ("patch member", json!({ "suspended": 1 }), "suspended"),
        ("patch member", json!({ "role": 1 }), "role"),
        (
            "patch member",
            json!({ "customRoleUuid": [] }),
            "customRoleUuid",
        ),
        ("create project", json!({ "name": 1 }), "name"),
        ("create project", json!({ "name": null }), "name"),
        ("create project", json!({ "name": { "x": 1 } }), "name"),
        ("patch project", json!({ "name": 1.5 }), "name"),
        ("patch project", json!({ "name": null }), "name"),
        ("put access", json!({ "role": true }), "role"),
        (
            "put access",
            json!({ "customRoleUuid": [] }),
            "customRoleUuid",
        ),
        ("create pat", json!({ "name": 1 }), "name"),
        (
            "create pat",
            json!({ "name": "t", "scopes": "projects:read" }),
            "scopes",
        ),
        (
            "create pat",
            json!({ "name": "t", "scopes": { "a": 1 } }),
            "scopes",
        ),
        (
            "create pat",
            json!({ "name": "t", "scopes": ["projects:read", 1] }),
            "scopes[1]",
        ),
        (
            "create pat",
            json!({ "name": "t", "scopes": [null] }),
            "scopes[0]",
        ),
        (
            "create pat",
            json!({ "name": "t", "scopes": ["projects:read", "projects:write", ["x"]] }),
            "scopes[2]",
        ),
        (
            "create pat",
            json!({ "name": "t", "expiresAt": 1893456000 }),
            "expiresAt",
        ),
        (
            "create pat",
            json!({ "name": "t", "expiresAt": "tomorrow" }),
            "expiresAt",
        ),
        (
            "create pat",
            json!({ "name": "t", "expiresAt": "2030-02-30T00:00:00Z" }),
            "expiresAt",
        ),
        (
            "create pat",
            json!({ "name": "t", "expiresAt": "2030-01-01" }),
            "expiresAt",
        ),
        (
            "create pat",
            json!({ "name": "t", "expiresAt": [in_days(1)] }),
            "expiresAt",
        ),
        ("patch pat", json!({ "name": 1 }), "name"),
        ("patch pat", json!({ "scopes": [1] }), "scopes[0]"),
        ("patch pat", json!({ "scopes": "projects:read" }), "scopes"),
        ("patch pat", json!({ "expiresAt": true }), "expiresAt"),
        ("rotate pat", json!({ "expiresAt": 5 }), "expiresAt"),
        ("rotate pat", json!({ "expiresAt": "soon" }), "expiresAt"),
        ("rotate pat", json!({ "expiresAt": null }), "expiresAt"),
        ("verify", json!({ "token": 5 }), "token"),
        ("verify", json!({ "token": ["x"] }), "token"),
        ("verify", json!({ "token": null }), "token"),
        ("verify", json!({ "token": "x", "scope": 5 }), "scope"),
        (
            "verify",
            json!({ "token": "x", "projectUuid": "x" }),
            "projectUuid",
        ),
        // Unknown enum values and names.
        (
            "add member",
            json!({ "email": "a@acme.test", "role": "owner" }),
            "role",
        ),
        (
            "add member",
            json!({ "email": "a@acme.test", "role": "Admin" }),
            "role",
        ),
        (
            "add member",
            json!({ "email": "a@acme.test", "role": "" }),
            "role",
        ),
        (
            "add member",
            json!({ "email": "a@acme.test", "role": " admin" }),
            "role",
        ),
        (
            "add member",
            json!({ "email": "a@acme.test", "role": "admin", "customRoleUuid": uuid }),
            "role",
        ),
        (
            "add member",
            json!({ "email": "a@acme.test", "customRoleUuid": uuid }),
            "customRoleUuid",
        ),
        ("patch member", json!({ "role": "owner" }), "role"),
        ("patch member", json!({ "role": "ADMIN" }), "role"),
        ("put access", json!({ "role": "owner" }), "role"),
        ("put access", json!({ "role": "member" }), "role"),
        (
            "put access",
            json!({ "customRoleUuid": uuid }),
            "customRoleUuid",
        ),
        (
            "create pat",
            json!({ "name": "t", "scopes": ["owner:all"] }),
            "scopes",
        ),
        (
            "create pat",
            json!({ "name": "t", "scopes": ["projects:read", "PROJECTS:READ"] }),
            "scopes",
        ),
        ("patch pat", json!({ "scopes": [""] }), "scopes"),
        (
            "verify",
            json!({ "token": "x", "scope": "owner:all" }),
            "scope",
        ),
        ("verify", json!({ "token": "x", "scope": "" }), "scope"),
        // Missing required fields.
        ("login", json!({}), "email"),
        ("login", json!({ "password": "x" }), "email"),
        ("login", json!({ "email": ADMIN_EMAIL }), "password"),
        ("accept invite", json!({}), "password"),
        ("accept invite", json!({ "name": "Ada" }), "password"),
        ("create org", json!({}), "name"),
        ("active org", json!({}), "orgUuid"),
        ("add member", json!({}), "email"),
        ("add member", json!({ "role": "member" }), "email"),
        ("add member", json!({ "email": "a@acme.test" }), "role"),
        (
            "add member",
            json!({ "email": "a@acme.test", "role": null }),
            "role",
        ),
        ("create project", json!({}), "name"),
        ("patch project", json!({}), "name"),
        ("put access", json!({}), "role"),
        ("put access", json!({ "role": null }), "role"),
        ("create pat", json!({}), "name"),
        ("create pat", json!({ "expiresAt": in_days(1) }), "name"),
        ("rotate pat", json!({}), "expiresAt"),
        ("verify", json!({}), "token"),
        ("verify", json!({ "scope": "projects:read" }), "token"),
    ];
    for (name, body, field) in cases {
        let resp = send_to(&app, endpoint(&eps, name), body.clone()).await;
        assert_invalid(&resp, Some(field), &format!("{name} {body}"));
    }
    // A key given twice is named too.
    let dupes: [(&str, &str, &str); 4] = [
        ("create project", r#"{"name": "a", "name": "b"}"#, "name"),
        (
            "login",
            r#"{"email": "a@acme.test", "password": "x", "email": "b@acme.test"}"#,
            "email",
        ),
        (
            "patch member",
            r#"{"suspended": false, "suspended": true}"#,
            "suspended",
        ),
        ("verify", r#"{"token": "x", "token": "y"}"#, "token"),
    ];
    for (name, body, field) in dupes {
        let ep = endpoint(&eps, name);
        let resp = send_bytes(
            &app,
            ep.method.clone(),
            &ep.path,
            &ep.auth,
            Some(b"application/json"),
            body.as_bytes().to_vec(),
        )
        .await;
        assert_invalid(&resp, Some(field), &format!("{name} {body}"));
    }
    // Nothing above changed the member.
    let members = app.get("/api/v1/org/users", &app.admin.pat).await;
    let member = members
        .expect(200)
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["userUuid"] == fx.member.as_str())
        .cloned()
        .expect("member");
    assert_eq!(
        (member["role"].as_str(), member["suspended"].as_bool()),
        (Some("member"), Some(false))
    );
    healthy(&app).await;
}

/// A body around one value.
type BodyOf = fn(&str) -> Value;

/// Empty, blank, too long, control characters, 60 KiB: `400` naming the
/// field (a 60 KiB string is under the body limit, so it reaches the field
/// check).
async fn string_bounds(app: TestApp) {
    let fx = fixture(&app).await;
    let eps = endpoints(&app, &fx);
    let huge = "x".repeat(60 * 1024);
    let bad_names: Vec<(&str, String)> = vec![
        ("empty", String::new()),
        ("spaces", "   ".into()),
        ("whitespace", " \t\n\r ".into()),
        ("101 characters", "n".repeat(101)),
        ("101 two-byte characters", "é".repeat(101)),
        ("NUL", "a\u{0}b".into()),
        ("bell", "a\u{7}b".into()),
        ("newline", "two\nlines".into()),
        ("tab", "a\tb".into()),
        ("DEL", "a\u{7f}".into()),
        ("C1 control", "a\u{85}b".into()),
        ("terminal escape", "\u{1b}[31mred".into()),
        ("60 KiB", huge.clone()),
    ];
    let name_bodies: [(&str, BodyOf); 7] = [
        ("create org", |n| json!({ "name": n })),
        ("create project", |n| json!({ "name": n })),
        ("patch project", |n| json!({ "name": n })),
        ("create pat", |n| json!({ "name": n })),
        ("patch pat", |n| json!({ "name": n })),
        (
            "add member",
            |n| json!({ "email": "named@acme.test", "name": n, "role": "member" }),
        ),
        (
            "accept invite",
            |n| json!({ "password": "a fine password", "name": n }),
        ),
    ];
    for (name, body) in name_bodies {
        for (label, value) in &bad_names {
            let resp = send_to(&app, endpoint(&eps, name), body(value)).await;
            assert_invalid(&resp, Some("name"), &format!("{name}: {label}"));
        }
    }
    let bad_emails: Vec<(&str, String)> = vec![
        ("empty", String::new()),
        ("spaces", "   ".into()),
        ("no @", "no-at-sign".into()),
        ("no local part", "@acme.test".into()),
        ("no domain", "a@".into()),
        ("no dot in the domain", "a@acme".into()),
        ("leading dot", "a@.test".into()),
        ("trailing dot", "a@acme.".into()),
        ("inner space", "a b@acme.test".into()),
        ("NUL", "a\u{0}@acme.test".into()),
        ("newline", "a\n@acme.test".into()),
        ("255 characters", format!("{}@acme.test", "a".repeat(245))),
        ("60 KiB", format!("{huge}@acme.test")),
    ];
    for (label, email) in &bad_emails {
        let resp = send_to(
            &app,
            endpoint(&eps, "add member"),
            json!({ "email": email, "role": "member" }),
        )
        .await;
        assert_invalid(&resp, Some("email"), &format!("add member email: {label}"));
    }
    let bad_passwords: Vec<(&str, String)> = vec![
        ("empty", String::new()),
        ("7 characters", "1234567".into()),
        ("257 characters", "p".repeat(257)),
        ("60 KiB", huge.clone()),
    ];
    for (label, password) in &bad_passwords {
        let resp = send_to(
            &app,
            endpoint(&eps, "accept invite"),
            json!({ "password": password }),
        )
        .await;
        assert_invalid(
            &resp,
            Some("password"),
            &format!("accept invite password: {label}"),
        );
    }
    // 60 KiB in every other string field.
    let others: Vec<(&str, Value, &str)> = vec![
        ("login", json!({ "email": huge, "password": "x" }), "email"),
        (
            "login",
            json!({ "email": ADMIN_EMAIL, "password": huge }),
            "password",
        ),
        ("active org", json!({ "orgUuid": huge }), "orgUuid"),
        (
            "add member",
            json!({ "email": "a@acme.test", "role": huge }),
            "role",
        ),
        (
            "add member",
            json!({ "email": "a@acme.test", "customRoleUuid": huge }),
            "customRoleUuid",
        ),
        ("patch member", json!({ "role": huge }), "role"),
        ("put access", json!({ "role": huge }), "role"),
        (
            "create pat",
            json!({ "name": "t", "expiresAt": huge }),
            "expiresAt",
        ),
        (
            "create pat",
            json!({ "name": "t", "scopes": [huge] }),
            "scopes",
        ),
        (
            "create pat",
            json!({ "name": "t", "scopes": vec!["projects:read"; 129] }),
            "scopes",
        ),
        ("patch pat", json!({ "scopes": [huge] }), "scopes"),
        ("rotate pat", json!({ "expiresAt": huge }), "expiresAt"),
        ("verify", json!({ "token": huge }), "token"),
        ("verify", json!({ "token": "x".repeat(1025) }), "token"),
        ("verify", json!({ "token": "x", "scope": huge }), "scope"),
    ];
    for (name, body, field) in others {
        let resp = send_to(&app, endpoint(&eps, name), body).await;
        assert_invalid(&resp, Some(field), &format!("{name}: 60 KiB in {field}"));
    }
    // At the limits, names are accepted (trimmed).
    for (name, expected) in [
        ("  padded  ", "padded"),
        (&*"n".repeat(100), &*"n".repeat(100)),
        (&*"é".repeat(100), &*"é".repeat(100)),
    ] {
        let resp = app
            .post(
                "/api/v1/org/projects",
                &app.admin.pat,
                json!({ "name": name }),
            )
            .await;
        assert_eq!(resp.expect(201)["name"], expected);
    }
    healthy(&app).await;
}

/// Over 64 KiB: `413 payload_too_large`, with a Content-Length, chunked
/// without one, or when the declared length alone is too much.
async fn oversize_bodies(app: TestApp) {
    let fx = fixture(&app).await;
    let filler = "x".repeat(70 * 1024);
    for ep in endpoints(&app, &fx) {
        let resp = send_to(&app, &ep, obj(ep.text_field, filler.as_str())).await;
        assert_error(&resp, 413, "payload_too_large", ep.name);
    }
    // Exactly at the limit is read (and the name is too long); one byte more is not.
    let body_of = |len: usize| format!("{{\"name\":\"{}\"}}", "x".repeat(len - 11)).into_bytes();
    assert_eq!(body_of(MAX_BODY).len(), MAX_BODY);
    let resp = send_bytes(
        &app,
        Method::POST,
        "/api/v1/org/projects",
        &app.admin.pat,
        Some(b"application/json"),
        body_of(MAX_BODY),
    )
    .await;
    assert_invalid(&resp, Some("name"), "exactly 64 KiB");
    let resp = send_bytes(
        &app,
        Method::POST,
        "/api/v1/org/projects",
        &app.admin.pat,
        Some(b"application/json"),
        body_of(MAX_BODY + 1),
    )
    .await;
    assert_error(&resp, 413, "payload_too_large", "64 KiB + 1");
    // The Content-Type is checked first.
    let resp = send_bytes(
        &app,
        Method::POST,
        "/api/v1/org/projects",
        &app.admin.pat,
        Some(b"text/plain"),
        body_of(MAX_BODY + 1),
    )
    .await;
    assert_invalid(&resp, None, "64 KiB + 1 as text/plain");

    // Chunked, without Content-Length.
    let auth = format!("Authorization: ApiKey {}\r\n", app.admin.pat_token);
    for (path, auth) in [
        ("/api/v1/org/projects", auth.as_str()),
        ("/api/v1/login", ""),
    ] {
        let head = format!("POST {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
        let body = format!("{{\"name\":\"{}\"}}", "x".repeat(80 * 1024));
        let (resp, _) = raw_exchange(&app, &head, chunked(body.as_bytes(), 8 * 1024)).await;
        assert_error(&resp, 413, "payload_too_large", &format!("chunked {path}"));
    }
    // A small chunked body is fine.
    let head = format!("POST /api/v1/org/projects HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
    let (resp, _) = raw_exchange(&app, &head, chunked(br#"{"name": "chunked"}"#, 5)).await;
    assert_eq!(resp.expect(201)["name"], "chunked");

    // A client that waits for `100 Continue` before sending an oversize body
    // gets its 413 at once, and no `100 Continue` (which would not parse as
    // the response here).
    let head = format!(
        "POST /api/v1/org/projects HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Type: application/json\r\nContent-Length: 1048576\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
    );
    let (resp, took) = raw_exchange(&app, &head, vec![]).await;
    assert_error(
        &resp,
        413,
        "payload_too_large",
        "declared 1 MiB, expecting 100 Continue",
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
    healthy(&app).await;
}

/// Fields the API does not know are ignored (no `deny_unknown_fields`):
/// pinned, including the traps (a snake_case `expires_at`, a client-chosen
/// `uuid` or `token`).
async fn unknown_fields_are_ignored(app: TestApp) {
    let fx = fixture(&app).await;
    let chosen = uuid::Uuid::new_v4().to_string();
    let resp = app
        .post("/api/v1/org/projects", &app.admin.pat, json!({ "name": "extra fields", "projectUuid": chosen, "uuid": chosen, "createdBy": { "type": "user" }, "orgUuid": chosen }))
        .await;
    let project = resp.expect(201);
    assert_eq!(project["name"], "extra fields");
    assert_ne!(project["projectUuid"], chosen.as_str());
    assert_eq!(project["createdBy"]["uuid"], app.admin.uuid.as_str());

    let resp = app
        .post("/api/v1/user/me/personal-access-tokens", &app.admin.pat, json!({ "name": "extras", "uuid": chosen, "token": app.admin.pat_token, "expires_at": in_days(1), "owner": chosen }))
        .await;
    let pat = resp.expect(201);
    assert_ne!(pat["uuid"], chosen.as_str());
    assert_ne!(pat["token"], app.admin.pat_token.as_str());
    assert_eq!(
        pat["expiresAt"],
        Value::Null,
        "snake_case expires_at is not expiresAt"
    );

    let path = format!("/api/v1/org/users/{}", fx.member);
    let resp = app
        .patch(
            &path,
            &app.admin.pat,
            json!({ "suspend": true, "roles": "admin" }),
        )
        .await;
    let member = resp.expect(200);
    assert_eq!(
        (member["role"].as_str(), member["suspended"].as_bool()),
        (Some("member"), Some(false))
    );

    let resp = app
        .post(
            "/api/v1/login",
            &Auth::None,
            json!({ "email": ADMIN_EMAIL, "password": PASSWORD, "rememberMe": true }),
        )
        .await;
    resp.expect(200);
    let resp = app.post("/api/v1/auth/verify", &Auth::None, json!({ "token": app.admin.pat_token, "scopes": ["nope"], "extra": { "deep": [[[]]] } })).await;
    assert_eq!(resp.expect(200)["valid"], true);
    healthy(&app).await;
}

// ---------------------------------------------------------------------------
// Credentials

/// Garbage in `Authorization`: `401 malformed_token`, before any lookup; a
/// well-formed token nobody issued: `401 invalid_token`.
async fn garbage_authorization(app: TestApp) {
    let fx = fixture(&app).await;
    let token = app.admin.pat_token.clone();
    let mut wrong_checksum = token.clone();
    let last = wrong_checksum.pop().unwrap();
    wrong_checksum.push(if last == 'A' { 'B' } else { 'A' });
    let mut non_ascii = token.clone().into_bytes();
    non_ascii[20] = 0xe9;
    let headers: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("spaces", b"   ".to_vec()),
        ("scheme only", b"ApiKey".to_vec()),
        ("Bearer only", b"Bearer".to_vec()),
        (
            "scheme and 44 spaces",
            format!("ApiKey {}", " ".repeat(44)).into_bytes(),
        ),
        ("Basic", b"Basic abc".to_vec()),
        (
            "Basic with credentials",
            b"Basic YWRtaW46cGFzc3dvcmQ=".to_vec(),
        ),
        ("unknown scheme", format!("Token {token}").into_bytes()),
        ("no scheme", token.clone().into_bytes()),
        ("tab for a space", format!("ApiKey\t{token}").into_bytes()),
        ("short", b"ApiKey lkpat_abc".to_vec()),
        (
            "wrong checksum",
            format!("ApiKey {wrong_checksum}").into_bytes(),
        ),
        (
            "wrong prefix",
            format!("ApiKey lkxyz_{}", &token[6..]).into_bytes(),
        ),
        (
            "upper-case prefix",
            format!("Bearer LKPAT_{}", &token[6..]).into_bytes(),
        ),
        ("two tokens", format!("ApiKey {token} {token}").into_bytes()),
        (
            "not base62",
            format!("ApiKey lkpat_{}", "-".repeat(38)).into_bytes(),
        ),
        (
            "10 KB",
            format!("ApiKey {}", "a".repeat(10_000)).into_bytes(),
        ),
        (
            "non-ASCII bytes",
            [b"ApiKey ".as_slice(), &[0xff, 0xfe, 0x80, 0xe9]].concat(),
        ),
        (
            "a non-ASCII byte in a token",
            [b"ApiKey ".as_slice(), &non_ascii].concat(),
        ),
    ];
    let pats = "/api/v1/user/me/personal-access-tokens";
    let routes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/api/v1/user".into(), None),
        (
            Method::POST,
            "/api/v1/org/projects".into(),
            Some(json!({ "name": "p" })),
        ),
        (
            Method::PATCH,
            format!("/api/v1/projects/{}", fx.project),
            Some(json!({ "name": "p" })),
        ),
        (Method::DELETE, format!("{pats}/{}", fx.pat), None),
        (Method::POST, "/api/v1/logout".into(), None),
    ];
    for (method, path, body) in &routes {
        for (label, value) in &headers {
            let resp = send_with_headers(
                &app,
                method.clone(),
                path,
                &[("authorization", value)],
                body.clone(),
            )
            .await;
            assert_error(
                &resp,
                401,
                "malformed_token",
                &format!("{method} {path}: {label}"),
            );
        }
        // Well-formed, checksum and all, but never issued.
        for kind in TokenKind::ALL {
            let unknown = TokenSecret::generate(kind, &mut rand::thread_rng());
            let resp = app
                .send(
                    method.clone(),
                    path,
                    &Auth::Token(unknown.expose().to_string()),
                    body.clone(),
                )
                .await;
            assert_error(
                &resp,
                401,
                "invalid_token",
                &format!("{method} {path}: unknown {kind:?}"),
            );
        }
    }
    // Nothing above was accepted: the token and its project are intact.
    app.get(&format!("{pats}/{}", fx.pat), &app.admin.pat)
        .await
        .expect(200);
    // Loose but valid spellings still work.
    for header in [
        format!("ApiKey {token}  "),
        format!("bearer {token}"),
        format!("ApiKey   {token}"),
    ] {
        app.get("/api/v1/user", &Auth::Header(header.clone()))
            .await
            .expect(200);
    }
    // The same garbage asked about through /auth/verify: 200, not valid.
    let unknown = TokenSecret::generate(TokenKind::ApiKey, &mut rand::thread_rng());
    let asked: [(&str, &str); 8] = [
        ("", "malformed_token"),
        ("   ", "malformed_token"),
        (&format!("ApiKey {token}"), "malformed_token"),
        (&wrong_checksum, "malformed_token"),
        (&format!("lkxyz_{}", &token[6..]), "malformed_token"),
        (&format!("lkpat_{}é", &token[6..42]), "malformed_token"),
        (&"a".repeat(1024), "malformed_token"),
        (unknown.expose(), "invalid_token"),
    ];
    for (asked, code) in asked {
        let resp = app
            .post(
                "/api/v1/auth/verify",
                &Auth::None,
                json!({ "token": asked }),
            )
            .await;
        let r = resp.expect(200);
        assert_eq!(
            (r["valid"].as_bool(), r["code"].as_str()),
            (Some(false), Some(code)),
            "{asked:?}"
        );
    }
    healthy(&app).await;
}

/// A session cookie nobody issued: `401`; a real session without its CSRF
/// header (or with a garbage one): `403 forbidden`.
async fn garbage_session_cookie(app: TestApp) {
    let cookies: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "garbage",
            b"latchkey_session=garbage".to_vec(),
            "invalid_token",
        ),
        (
            "empty value",
            b"latchkey_session=".to_vec(),
            "invalid_token",
        ),
        (
            "quoted",
            b"latchkey_session=\"abc\"".to_vec(),
            "invalid_token",
        ),
        (
            "64 hex",
            format!("latchkey_session={}", "ab".repeat(32)).into_bytes(),
            "invalid_token",
        ),
        (
            "10 KB",
            format!("latchkey_session={}", "a".repeat(10_000)).into_bytes(),
            "invalid_token",
        ),
        (
            "twice",
            b"latchkey_session=a; latchkey_session=b".to_vec(),
            "invalid_token",
        ),
        (
            "no value",
            b"latchkey_session".to_vec(),
            "missing_credentials",
        ),
        ("another cookie", b"other=1".to_vec(), "missing_credentials"),
        ("separators", b";;; =; ".to_vec(), "missing_credentials"),
        (
            "non-ASCII bytes",
            [b"latchkey_session=".as_slice(), &[0xff, 0xfe]].concat(),
            "missing_credentials",
        ),
    ];
    let routes: [(Method, &str, Option<Value>); 4] = [
        (Method::GET, "/api/v1/user", None),
        (Method::GET, "/api/v1/orgs", None),
        (
            Method::POST,
            "/api/v1/org/projects",
            Some(json!({ "name": "p" })),
        ),
        (Method::POST, "/api/v1/logout", None),
    ];
    for (method, path, body) in &routes {
        for (label, cookie, code) in &cookies {
            let headers: [(&str, &[u8]); 2] = [("cookie", cookie), ("x-csrf-token", b"garbage")];
            let resp = send_with_headers(&app, method.clone(), path, &headers, body.clone()).await;
            assert_error(&resp, 401, code, &format!("{method} {path}: {label}"));
        }
    }
    let Auth::Session { cookie, .. } = &app.admin.session else {
        panic!("a session")
    };
    let cookie = format!("latchkey_session={cookie}");
    let bad_csrf: [&[u8]; 4] = [b"", b"garbage", &[0xff, 0xfe], &[b'a'; 10_000]];
    for csrf in bad_csrf {
        let headers: [(&str, &[u8]); 2] = [("cookie", cookie.as_bytes()), ("x-csrf-token", csrf)];
        let resp = send_with_headers(
            &app,
            Method::POST,
            "/api/v1/org/projects",
            &headers,
            Some(json!({ "name": "p" })),
        )
        .await;
        assert_error(
            &resp,
            403,
            "forbidden",
            &format!(
                "CSRF {:?}",
                String::from_utf8_lossy(&csrf[..csrf.len().min(8)])
            ),
        );
    }
    // The real session still works.
    app.get("/api/v1/user", &app.admin.session)
        .await
        .expect(200);
    healthy(&app).await;
}

// ---------------------------------------------------------------------------
// Paths and queries

/// A path id that is not a UUID: `400 invalid_request` naming the path
/// parameter; a UUID that names nothing: `404`.
async fn non_uuid_path_ids(app: TestApp) {
    let fx = fixture(&app).await;
    let long = "a".repeat(10_000);
    let bad_ids = [
        "x",
        "1",
        "not-a-uuid",
        "00000000-0000-0000-0000-00000000000",
        "00000000-0000-0000-0000-0000000000000",
        "g0000000-0000-0000-0000-000000000000",
        "%20",
        "%00",
        "%FF",
        "%C3%28",
        "a%2Fb",
        long.as_str(),
    ];
    let pats = "/api/v1/user/me/personal-access-tokens";
    let (p, m) = (fx.project.as_str(), fx.member.as_str());
    // `{}` is where the id goes.
    let routes: Vec<(Method, String, Option<Value>, &str)> = vec![
        (
            Method::PATCH,
            "/api/v1/org/users/{}".into(),
            Some(json!({ "suspended": false })),
            "userUuid",
        ),
        (
            Method::DELETE,
            "/api/v1/org/users/{}".into(),
            None,
            "userUuid",
        ),
        (
            Method::GET,
            "/api/v1/projects/{}".into(),
            None,
            "projectUuid",
        ),
        (
            Method::PATCH,
            "/api/v1/projects/{}".into(),
            Some(json!({ "name": "p" })),
            "projectUuid",
        ),
        (
            Method::DELETE,
            "/api/v1/projects/{}".into(),
            None,
            "projectUuid",
        ),
        (
            Method::GET,
            "/api/v1/projects/{}/access".into(),
            None,
            "projectUuid",
        ),
        (
            Method::PUT,
            format!("/api/v1/projects/{{}}/access/{m}"),
            Some(json!({ "role": "viewer" })),
            "projectUuid",
        ),
        (
            Method::DELETE,
            format!("/api/v1/projects/{{}}/access/{m}"),
            None,
            "projectUuid",
        ),
        (
            Method::PUT,
            format!("/api/v1/projects/{p}/access/{{}}"),
            Some(json!({ "role": "viewer" })),
            "userUuid",
        ),
        (
            Method::DELETE,
            format!("/api/v1/projects/{p}/access/{{}}"),
            None,
            "userUuid",
        ),
        (
            Method::PUT,
            "/api/v1/projects/{}/access/{}".into(),
            Some(json!({ "role": "viewer" })),
            "projectUuid",
        ),
        (Method::GET, format!("{pats}/{{}}"), None, "uuid"),
        (
            Method::PATCH,
            format!("{pats}/{{}}"),
            Some(json!({ "name": "t" })),
            "uuid",
        ),
        (Method::DELETE, format!("{pats}/{{}}"), None, "uuid"),
        (
            Method::PATCH,
            format!("{pats}/{{}}/rotate"),
            Some(json!({ "expiresAt": in_days(5) })),
            "uuid",
        ),
        (
            Method::DELETE,
            "/api/v1/org/personal-access-tokens/{}".into(),
            None,
            "uuid",
        ),
        (
            Method::POST,
            "/api/v1/org/users/{}/invite".into(),
            None,
            "userUuid",
        ),
        (
            Method::DELETE,
            "/api/v1/org/invites/{}".into(),
            None,
            "userUuid",
        ),
        (
            Method::PATCH,
            "/api/v1/org/api-keys/{}".into(),
            Some(json!({ "name": "k", "expiresAt": in_days(5) })),
            "uuid",
        ),
    ];
    for (method, template, body, field) in &routes {
        for id in bad_ids {
            let path = template.replace("{}", id);
            let resp = app
                .send(method.clone(), &path, &app.admin.pat, body.clone())
                .await;
            assert_invalid(
                &resp,
                Some(field),
                &format!("{method} {}", &path[..path.len().min(80)]),
            );
        }
        let path = template.replace("{}", &uuid::Uuid::new_v4().to_string());
        let resp = app
            .send(method.clone(), &path, &app.admin.pat, body.clone())
            .await;
        assert_error(&resp, 404, "not_found", &format!("{method} {path}"));
    }
    // Nothing above touched the fixture.
    app.get(&format!("/api/v1/projects/{p}"), &app.admin.pat)
        .await
        .expect(200);
    app.get(&format!("{pats}/{}", fx.pat), &app.admin.pat)
        .await
        .expect(200);
    healthy(&app).await;
}

/// `?limit=` and `?cursor=` that are not what the server gives out: `400`
/// naming the parameter; odd but well-formed ones: `200`.
async fn bad_query_params(app: TestApp) {
    let _fx = fixture(&app).await;
    let path = "/api/v1/org/personal-access-tokens";
    let uuid = uuid::Uuid::new_v4();
    let cases: Vec<(String, &str)> = vec![
        ("limit=abc".into(), "limit"),
        ("limit=-1".into(), "limit"),
        ("limit=100000".into(), "limit"),
        ("limit=0".into(), "limit"),
        ("limit=501".into(), "limit"),
        ("limit=".into(), "limit"),
        ("limit=1.5".into(), "limit"),
        ("limit=1e3".into(), "limit"),
        ("limit=4294967296".into(), "limit"),
        ("limit=99999999999999999999999".into(), "limit"),
        ("limit=%FF".into(), "limit"),
        ("limit=%205".into(), "limit"),
        ("limit=1&limit=2".into(), "limit"),
        ("cursor=garbage".into(), "cursor"),
        (format!("cursor={}", "a".repeat(10_000)), "cursor"),
        ("cursor=.".into(), "cursor"),
        ("cursor=1.x".into(), "cursor"),
        (format!("cursor=x.{uuid}"), "cursor"),
        (format!("cursor=99999999999999999999.{uuid}"), "cursor"),
        ("cursor=%FF%FE".into(), "cursor"),
        ("cursor=%00".into(), "cursor"),
        ("limit=10&cursor=abc".into(), "cursor"),
        ("cursor=a&cursor=b".into(), "cursor"),
    ];
    for (query, field) in &cases {
        let resp = app.get(&format!("{path}?{query}"), &app.admin.pat).await;
        assert_invalid(&resp, Some(field), &query[..query.len().min(80)]);
    }
    // Paging still works, and odd but well-formed cursors are just positions.
    let first = app.get(&format!("{path}?limit=1"), &app.admin.pat).await;
    let first = first.expect(200);
    assert_eq!(first["items"].as_array().map(Vec::len), Some(1));
    // An empty cursor is the first page, as an empty audit filter is none.
    let empty = app
        .get(&format!("{path}?limit=1&cursor="), &app.admin.pat)
        .await;
    assert_eq!(empty.expect(200)["items"], first["items"]);
    let next = first["nextCursor"]
        .as_str()
        .expect("a second page")
        .to_string();
    let second = app
        .get(
            &format!("{path}?limit=1&cursor={next}&unknown=1"),
            &app.admin.pat,
        )
        .await;
    assert_eq!(
        second.expect(200)["items"].as_array().map(Vec::len),
        Some(1)
    );
    for query in [
        String::new(),
        "limit=500".into(),
        "foo=bar".into(),
        format!("cursor=0.{uuid}"),
        format!("cursor=-9223372036854775808.{uuid}"),
        format!("cursor=9223372036854775807.{uuid}"),
    ] {
        let resp = app.get(&format!("{path}?{query}"), &app.admin.pat).await;
        assert!(resp.expect(200)["items"].is_array(), "{query}");
    }
    healthy(&app).await;
}

/// No such route: `404 not_found`; no such method on a route: `405`.
/// JSON either way, before authentication.
async fn unknown_routes_and_methods(app: TestApp) {
    let uuid = uuid::Uuid::new_v4();
    // (`/` is the web pages' home: a redirect to them.)
    let not_found = [
        (Method::GET, "/nope".to_string()),
        (Method::GET, "/api".into()),
        (Method::GET, "/api/v1".into()),
        (Method::GET, "/api/v1/nope".into()),
        (Method::GET, "/api/v2/org".into()),
        (Method::GET, "/api/v1/org/projects/".into()),
        (Method::GET, "/API/V1/ORG".into()),
        (
            Method::GET,
            format!("/api/v1/projects/{uuid}/access/{uuid}/extra"),
        ),
        (Method::POST, "/api/v1/nope".into()),
        (Method::POST, "/api/v1/invites".into()),
        (Method::POST, "/api/v1/invites/".into()),
        (Method::GET, "/%FF".into()),
    ];
    for (method, path) in &not_found {
        for auth in [&Auth::None, &app.admin.pat] {
            let resp = send_bytes(
                &app,
                method.clone(),
                path,
                auth,
                Some(b"application/json"),
                b"garbage".to_vec(),
            )
            .await;
            assert_error(&resp, 404, "not_found", &format!("{method} {path}"));
        }
    }
    let wrong_method = [
        (Method::GET, "/api/v1/login".to_string()),
        (Method::DELETE, "/api/v1/login".into()),
        (Method::PUT, "/api/v1/org/projects".into()),
        (Method::POST, format!("/api/v1/projects/{uuid}")),
        (Method::POST, "/api/v1/projects/not-a-uuid".into()),
        (Method::GET, "/api/v1/auth/verify".into()),
        (Method::GET, format!("/api/v1/org/users/{uuid}")),
        (Method::PATCH, "/api/v1/org/personal-access-tokens".into()),
        (Method::DELETE, "/api/v1/org/personal-access-tokens".into()),
        (
            Method::GET,
            format!("/api/v1/user/me/personal-access-tokens/{uuid}/rotate"),
        ),
        (Method::POST, "/healthz".into()),
        (Method::OPTIONS, "/api/v1/org/projects".into()),
        (
            Method::from_bytes(b"BREW").unwrap(),
            "/api/v1/org/projects".into(),
        ),
    ];
    for (method, path) in &wrong_method {
        for auth in [&Auth::None, &app.admin.pat] {
            let resp = send_bytes(
                &app,
                method.clone(),
                path,
                auth,
                Some(b"application/json"),
                b"garbage".to_vec(),
            )
            .await;
            assert_error(
                &resp,
                405,
                "method_not_allowed",
                &format!("{method} {path}"),
            );
        }
    }
    healthy(&app).await;
}

// ---------------------------------------------------------------------------
// Invites and login

/// Codes that are not codes: `404`; a bad password: `400 password`, and
/// the code still works afterwards (once).
async fn invite_codes_and_passwords(app: TestApp) {
    let (_, code) = app.add_member("invitee@acme.test", "viewer").await;
    let code = code.expect("invite");
    let good = json!({ "password": "a fine password" });
    let long = "a".repeat(10_000);
    for bad in [
        long.as_str(),
        &"a".repeat(65),
        "unknown",
        "%FF",
        "%C3%28",
        "%00",
        &format!("{code}%00"),
        &format!("{code}x"),
        &code.to_uppercase(),
    ] {
        let resp = app
            .post(&format!("/api/v1/invites/{bad}"), &Auth::None, good.clone())
            .await;
        assert_error(&resp, 404, "not_found", &bad[..bad.len().min(80)]);
    }
    // The body is read before the code is looked up.
    let resp = app
        .post(
            &format!("/api/v1/invites/{long}"),
            &Auth::None,
            json!({ "password": 5 }),
        )
        .await;
    assert_invalid(&resp, Some("password"), "10 KB code, numeric password");
    let path = format!("/api/v1/invites/{code}");
    let bad: Vec<(Value, &str)> = vec![
        (json!({ "password": 12345678 }), "password"),
        (json!({ "password": null }), "password"),
        (json!({ "password": ["a fine password"] }), "password"),
        (
            json!({ "password": { "value": "a fine password" } }),
            "password",
        ),
        (json!({ "password": true }), "password"),
        (json!({}), "password"),
        (json!({ "password": "" }), "password"),
        (json!({ "password": "short" }), "password"),
        (json!({ "password": "p".repeat(257) }), "password"),
        (json!({ "password": "p".repeat(60 * 1024) }), "password"),
        (json!({ "password": "a fine password", "name": 5 }), "name"),
        (
            json!({ "password": "a fine password", "name": " " }),
            "name",
        ),
    ];
    for (body, field) in bad {
        let resp = app.post(&path, &Auth::None, body.clone()).await;
        assert_invalid(
            &resp,
            Some(field),
            &body.to_string()[..body.to_string().len().min(80)],
        );
    }
    let resp = app
        .post(
            &path,
            &Auth::None,
            json!({ "password": "p".repeat(256), "name": "Invitee" }),
        )
        .await;
    assert_eq!(resp.expect(200)["user"]["name"], "Invitee");
    let resp = app.post(&path, &Auth::None, good).await;
    assert_error(&resp, 404, "not_found", "a used code");
    app.login("invitee@acme.test", &"p".repeat(256)).await;
    healthy(&app).await;
}

/// Login: over-long fields are `400` naming them; anything else that is not
/// an account (a NUL in the email included) is the one `401 invalid_login`.
async fn login_bad_input(app: TestApp) {
    let huge = "x".repeat(60 * 1024);
    let cases: Vec<(Value, &str)> = vec![
        (json!({ "email": huge, "password": PASSWORD }), "email"),
        (
            json!({ "email": format!("{}@acme.test", "a".repeat(245)), "password": PASSWORD }),
            "email",
        ),
        (
            json!({ "email": ADMIN_EMAIL, "password": huge }),
            "password",
        ),
        (
            json!({ "email": ADMIN_EMAIL, "password": "p".repeat(257) }),
            "password",
        ),
    ];
    for (body, field) in cases {
        let resp = app.post("/api/v1/login", &Auth::None, body).await;
        assert_invalid(&resp, Some(field), field);
    }
    let refused = [
        ("admin@acme.test\u{0}", PASSWORD),
        ("admin\u{0}@acme.test", PASSWORD),
        ("admin@acme.test\u{7}", PASSWORD),
        ("", PASSWORD),
        (ADMIN_EMAIL, ""),
        (ADMIN_EMAIL, "\u{0}"),
    ];
    for (email, password) in refused {
        let resp = app.try_login(email, password, None).await;
        assert_error(
            &resp,
            401,
            "invalid_login",
            &format!("{email:?} / {password:?}"),
        );
    }
    let resp = app
        .try_login(
            ADMIN_EMAIL,
            PASSWORD,
            Some(&uuid::Uuid::new_v4().to_string()),
        )
        .await;
    assert_error(
        &resp,
        404,
        "not_found",
        "an organization the user is not in",
    );
    // None of that locked the account out.
    app.login(ADMIN_EMAIL, PASSWORD).await;
    healthy(&app).await;
}

/// Token introspection's bad input: what is not a form, a form without its
/// one `token`, an oversize body: `400`/`413` in the API's error body, naming
/// the field. Garbage client authentication: `401 {"error":
/// "invalid_client"}`. Any garbage as the token: exactly `{"active": false}`.
async fn introspection_bad_input(app: TestApp) {
    let (client_id, secret) = app.resource_server("bad-input").await;
    let bearer = format!("Bearer {secret}");
    let form = Some("application/x-www-form-urlencoded");
    let bodies: Vec<(&str, Option<&str>, String, Option<&str>)> = vec![
        (
            "JSON",
            Some("application/json"),
            json!({ "token": "x" }).to_string(),
            None,
        ),
        ("no content type", None, "token=x".into(), None),
        ("text", Some("text/plain"), "token=x".into(), None),
        (
            "multipart",
            Some("multipart/form-data; boundary=x"),
            "--x--".into(),
            None,
        ),
        ("empty form", form, String::new(), Some("token")),
        (
            "no token",
            form,
            "token_type_hint=access_token".into(),
            Some("token"),
        ),
        ("token twice", form, "token=a&token=b".into(), Some("token")),
        ("not UTF-8", form, "token=%ff%fe".into(), None),
    ];
    for (label, content_type, body, field) in bodies {
        let resp = app.introspect_raw(Some(&bearer), content_type, body).await;
        assert_invalid(&resp, field, label);
    }
    let huge = format!("token={}", "a".repeat(MAX_BODY + 1));
    let resp = app.introspect_raw(Some(&bearer), form, huge).await;
    assert_error(&resp, 413, "payload_too_large", "oversize");

    let unknown_rs = TokenSecret::generate(TokenKind::ResourceServer, &mut rand::thread_rng());
    let garbage_clients: Vec<(String, String)> = vec![
        ("none".into(), String::new()),
        ("a scheme alone".into(), "Basic".into()),
        ("not base64".into(), "Basic !!!*".into()),
        (
            "no colon".into(),
            support::basic("", "").replace("Og==", "YWJj"),
        ),
        ("a non-uuid id".into(), support::basic("gateway", &secret)),
        (
            "another id".into(),
            support::basic(&uuid::Uuid::new_v4().to_string(), &secret),
        ),
        (
            "an unknown secret".into(),
            support::basic(&client_id, unknown_rs.expose()),
        ),
        (
            "an organization token".into(),
            format!("Bearer {}", app.admin.pat_token),
        ),
        (
            "an org token as Basic".into(),
            support::basic(&client_id, &app.admin.pat_token),
        ),
        (
            "a wrong checksum".into(),
            format!("Bearer {}x", &secret[..42]),
        ),
        ("ApiKey scheme".into(), format!("ApiKey {secret}")),
        ("very long".into(), format!("Bearer {}", "a".repeat(4000))),
        ("Digest".into(), "Digest username=x".into()),
    ];
    for (label, header) in garbage_clients {
        let auth = (!header.is_empty()).then_some(header.as_str());
        let resp = app.introspect(auth, &app.admin.pat_token).await;
        assert_eq!(resp.status, 401, "{label}: {}", resp.body);
        assert_eq!(resp.body, json!({ "error": "invalid_client" }), "{label}");
        assert_eq!(
            resp.headers
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some("Basic realm=\"latchkey\""),
            "{label}"
        );
    }

    let token = app.admin.pat_token.clone();
    let unknown = TokenSecret::generate(TokenKind::ApiKey, &mut rand::thread_rng());
    let garbage_tokens = [
        String::new(),
        "   ".into(),
        format!("Bearer {token}"),
        format!("{}x", &token[..43]),
        format!("lkxyz_{}", &token[6..]),
        format!("lkpat_{}é", &token[6..42]),
        "a".repeat(1024),
        "a".repeat(20_000),
        "\u{0}\u{202e}".into(),
        unknown.expose().to_string(),
        secret.clone(),
    ];
    for asked in garbage_tokens {
        let resp = app.introspect(Some(&bearer), &asked).await;
        assert_eq!(resp.status, 200, "{asked:?}");
        assert_eq!(resp.body, json!({ "active": false }), "{asked:?}");
    }
    healthy(&app).await;
}
