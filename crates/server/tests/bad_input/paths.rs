//! Paths, queries, forwarded requests and routes that are not there.

use crate::harness::*;
use crate::on_both_backends;
use crate::support::{in_days, Auth, TestApp};
use latchkey_core::{TokenKind, TokenSecret};
use reqwest::Method;
use serde_json::{json, Value};

on_both_backends!(
    non_uuid_path_ids,
    bad_query_params,
    forward_auth_bad_input,
    unknown_routes_and_methods,
    introspection_bad_input,
);

/// A path id that is not a UUID: `400 invalid_request` naming the path
/// parameter; a UUID that names nothing: `404`.
pub(crate) async fn non_uuid_path_ids(app: TestApp) {
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
pub(crate) async fn bad_query_params(app: TestApp) {
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

/// `/auth/forward`: a bad query, a forwarded header that is not one, a path
/// that could be read two ways: `400` naming the parameter or header, with
/// or without a credential (before it is looked at); garbage credentials are
/// the API's `401`s. Never a 500, never a hang.
pub(crate) async fn forward_auth_bad_input(app: TestApp) {
    let token = app.admin.pat.clone();
    let uuid = uuid::Uuid::new_v4();
    let long = "a".repeat(10_000);
    let queries: Vec<(String, &str)> = vec![
        ("scope=nope".into(), "scope"),
        ("scope=".into(), "scope"),
        ("scope=CONTENT:READ".into(), "scope"),
        ("scope=content:read&scope=content:write".into(), "scope"),
        (format!("scope={long}"), "scope"),
        ("scope=%FF%FE".into(), "scope"),
        ("scope=content%3Aread%00".into(), "scope"),
        ("scope=content:read&project=website".into(), "project"),
        ("scope=content:read&project=".into(), "project"),
        (
            format!("scope=content:read&project={}", uuid.simple()),
            "project",
        ),
        (format!("scope=content:read&project={{{uuid}}}"), "project"),
        (format!("scope=content:read&project={uuid}x"), "project"),
        (format!("scope=content:read&project={long}"), "project"),
        (
            format!("scope=content:read&project={uuid}&project={uuid}"),
            "project",
        ),
        (format!("project={uuid}"), "project"),
    ];
    for (query, field) in &queries {
        for auth in [&Auth::None, &token] {
            let resp = app.get(&format!("/auth/forward?{query}"), auth).await;
            assert_invalid(&resp, Some(field), &query[..query.len().min(80)]);
        }
    }
    // A valid project that does not exist is no bad input: a 403.
    let resp = app
        .get(
            &format!("/auth/forward?scope=content:read&project={uuid}"),
            &token,
        )
        .await;
    assert_error(&resp, 403, "missing_scope", "unknown project");
    // Garbage credentials, as on every route.
    for value in [
        b"".as_slice(),
        b"Bearer",
        b"Bearer lkpat_abc",
        b"Basic YWRtaW46cGFzc3dvcmQ=",
        &[0xff, 0xfe, 0x80],
    ] {
        let resp = send_with_headers(
            &app,
            Method::GET,
            "/auth/forward",
            &[("authorization", value)],
            None,
        )
        .await;
        assert_error(
            &resp,
            401,
            "malformed_token",
            &String::from_utf8_lossy(value),
        );
    }
    // Below /auth/forward the path is the proxied request's (Envoy).
    for path in [
        "/auth/forward/a%2Fb",
        "/auth/forward/a%FF",
        "/auth/forward/a%5C",
    ] {
        let resp = app.get(path, &token).await;
        assert_error(&resp, 400, "invalid_request", path);
        assert_eq!(resp.body["error"]["details"]["field"], "path", "{path}");
    }
    healthy(&app).await;

    // The forwarded headers are read where rules need them.
    let rules =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/latchkey.toml");
    let ruled = TestApp::spawn_with(app.backend, |c| c.config = Some(rules)).await;
    let auth = format!("Bearer {}", ruled.admin.pat_token);
    let long_uri = format!("/{}", "a".repeat(9_000));
    let long_method = "M".repeat(40);
    // (the forwarded headers sent, the field the refusal must name)
    type Headers<'a> = Vec<(&'a str, &'a [u8])>;
    let cases: Vec<(Headers, &str)> = vec![
        (
            vec![("x-forwarded-uri", b"/caf\xc3\xa9")],
            "X-Forwarded-Uri",
        ),
        (
            vec![("x-forwarded-uri", &[b'/', 0xc3, 0xa9])],
            "X-Forwarded-Uri",
        ),
        (vec![("x-original-uri", &[b'/', 0xff])], "X-Original-URI"),
        (
            vec![("x-forwarded-uri", long_uri.as_bytes())],
            "X-Forwarded-Uri",
        ),
        (vec![("x-forwarded-uri", b"/a%zz")], "X-Forwarded-Uri"),
        (vec![("x-forwarded-uri", b"/a%00b")], "X-Forwarded-Uri"),
        (vec![("x-forwarded-uri", b"/a/../..")], "X-Forwarded-Uri"),
        (
            vec![("x-forwarded-uri", b"/admin/..;/public")],
            "X-Forwarded-Uri",
        ),
        (vec![("x-forwarded-uri", b"*")], "X-Forwarded-Uri"),
        (
            vec![("x-forwarded-uri", b"https://elsewhere/admin")],
            "X-Forwarded-Uri",
        ),
        (vec![("x-original-uri", b"admin")], "X-Original-URI"),
        (
            vec![("x-forwarded-uri", b"/a"), ("x-forwarded-uri", b"/b")],
            "X-Forwarded-Uri",
        ),
        (
            vec![("x-forwarded-uri", b"/a"), ("x-original-uri", b"/b")],
            "X-Forwarded-Uri",
        ),
        (
            vec![
                ("x-forwarded-uri", b"/a"),
                ("x-forwarded-method", b"GET POST"),
            ],
            "X-Forwarded-Method",
        ),
        (
            vec![("x-forwarded-uri", b"/a"), ("x-original-method", b"")],
            "X-Original-Method",
        ),
        (
            vec![("x-forwarded-uri", b"/a"), ("x-forwarded-method", &[0xff])],
            "X-Forwarded-Method",
        ),
        (
            vec![
                ("x-forwarded-uri", b"/a"),
                ("x-forwarded-method", long_method.as_bytes()),
            ],
            "X-Forwarded-Method",
        ),
        (
            vec![
                ("x-forwarded-uri", b"/a"),
                ("x-forwarded-method", b"GET"),
                ("x-original-method", b"PUT"),
            ],
            "X-Forwarded-Method",
        ),
        (vec![], "X-Forwarded-Uri"),
    ];
    for (headers, field) in &cases {
        for with_token in [false, true] {
            let mut sent = headers.clone();
            if with_token {
                sent.push(("authorization", auth.as_bytes()));
            }
            let resp = send_with_headers(&ruled, Method::GET, "/auth/forward", &sent, None).await;
            assert_invalid(&resp, Some(field), &format!("{headers:?}"));
        }
    }
    healthy(&ruled).await;
}

/// No such route: `404 not_found`; no such method on a route: `405`.
/// JSON either way, before authentication.
pub(crate) async fn unknown_routes_and_methods(app: TestApp) {
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

/// Token introspection's bad input: what is not a form, a form without its
/// one `token`, an oversize body: `400`/`413` in the API's error body, naming
/// the field. Garbage client authentication: `401 {"error":
/// "invalid_client"}`. Any garbage as the token: exactly `{"active": false}`.
pub(crate) async fn introspection_bad_input(app: TestApp) {
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
            crate::support::basic("", "").replace("Og==", "YWJj"),
        ),
        (
            "a non-uuid id".into(),
            crate::support::basic("gateway", &secret),
        ),
        (
            "another id".into(),
            crate::support::basic(&uuid::Uuid::new_v4().to_string(), &secret),
        ),
        (
            "an unknown secret".into(),
            crate::support::basic(&client_id, unknown_rs.expose()),
        ),
        (
            "an organization token".into(),
            format!("Bearer {}", app.admin.pat_token),
        ),
        (
            "an org token as Basic".into(),
            crate::support::basic(&client_id, &app.admin.pat_token),
        ),
        (
            "a wrong checksum".into(),
            format!("Bearer {}", crate::support::with_wrong_checksum(&secret)),
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
        crate::support::with_wrong_checksum(&token),
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
