//! Request bodies: malformed, wrong fields, out of bounds, oversize, unknown fields.

use crate::harness::*;
use crate::on_both_backends;
use crate::support::{in_days, Auth, TestApp, ADMIN_EMAIL, PASSWORD};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

on_both_backends!(
    malformed_bodies,
    field_errors,
    string_bounds,
    oversize_bodies,
    unknown_fields_are_ignored,
);

/// Not JSON, cut short, the wrong top-level type, trailing garbage, and the
/// wrong Content-Type: `400 invalid_request` about the body as a whole.
pub(crate) async fn malformed_bodies(app: TestApp) {
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
pub(crate) async fn field_errors(app: TestApp) {
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
pub(crate) type BodyOf = fn(&str) -> Value;

/// Empty, blank, too long, control characters, 60 KiB: `400` naming the
/// field (a 60 KiB string is under the body limit, so it reaches the field
/// check).
pub(crate) async fn string_bounds(app: TestApp) {
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
pub(crate) async fn oversize_bodies(app: TestApp) {
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
pub(crate) async fn unknown_fields_are_ignored(app: TestApp) {
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
