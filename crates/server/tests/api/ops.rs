//! Health, readiness and the OpenAPI document.

use crate::on_both_backends;
use crate::support::{Auth, TestApp};

on_both_backends!(
    health_and_readiness,
    openapi_describes_every_route,
    metrics_count_requests_and_authentications
);

async fn health_and_readiness(app: TestApp) {
    app.get("/healthz", &Auth::None).await.expect(200);
    app.get("/readyz", &Auth::None).await.expect(200);
    let id = app
        .get("/healthz", &Auth::None)
        .await
        .headers
        .get("x-request-id")
        .cloned();
    assert!(id.is_some(), "every response carries a request id");
}

async fn openapi_describes_every_route(app: TestApp) {
    let doc = app.get("/api/v1/openapi.json", &Auth::None).await;
    assert_eq!(doc.status, 200);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc.body["paths"].as_object().unwrap();
    let expected = [
        ("post", "/api/v1/login"),
        ("post", "/api/v1/logout"),
        ("post", "/api/v1/user/me/active-org"),
        ("post", "/api/v1/user/me/password"),
        ("get", "/api/v1/user/me/sessions"),
        ("delete", "/api/v1/user/me/sessions"),
        ("delete", "/api/v1/user/me/sessions/{uuid}"),
        ("post", "/api/v1/invites/{code}"),
        ("get", "/api/v1/user"),
        ("get", "/api/v1/org"),
        ("get", "/api/v1/orgs"),
        ("post", "/api/v1/orgs"),
        ("get", "/api/v1/org/users"),
        ("post", "/api/v1/org/users"),
        ("patch", "/api/v1/org/users/{userUuid}"),
        ("delete", "/api/v1/org/users/{userUuid}"),
        ("post", "/api/v1/org/users/{userUuid}/invite"),
        ("delete", "/api/v1/org/invites/{userUuid}"),
        ("get", "/api/v1/org/projects"),
        ("post", "/api/v1/org/projects"),
        ("get", "/api/v1/projects/{projectUuid}"),
        ("patch", "/api/v1/projects/{projectUuid}"),
        ("delete", "/api/v1/projects/{projectUuid}"),
        ("get", "/api/v1/projects/{projectUuid}/access"),
        ("put", "/api/v1/projects/{projectUuid}/access/{userUuid}"),
        ("delete", "/api/v1/projects/{projectUuid}/access/{userUuid}"),
        ("get", "/api/v1/org/scopes"),
        ("get", "/api/v1/org/roles"),
        ("post", "/api/v1/org/roles"),
        ("get", "/api/v1/org/roles/{roleUuid}"),
        ("patch", "/api/v1/org/roles/{roleUuid}"),
        ("delete", "/api/v1/org/roles/{roleUuid}"),
        ("get", "/api/v1/user/me/personal-access-tokens"),
        ("post", "/api/v1/user/me/personal-access-tokens"),
        ("get", "/api/v1/user/me/personal-access-tokens/{uuid}"),
        ("patch", "/api/v1/user/me/personal-access-tokens/{uuid}"),
        ("delete", "/api/v1/user/me/personal-access-tokens/{uuid}"),
        (
            "patch",
            "/api/v1/user/me/personal-access-tokens/{uuid}/rotate",
        ),
        ("get", "/api/v1/org/personal-access-tokens"),
        ("delete", "/api/v1/org/personal-access-tokens/{uuid}"),
        ("get", "/api/v1/org/api-keys"),
        ("post", "/api/v1/org/api-keys"),
        ("patch", "/api/v1/org/api-keys/{uuid}"),
        ("delete", "/api/v1/org/api-keys/{uuid}"),
        ("patch", "/api/v1/org/api-keys/{uuid}/rotate"),
        ("get", "/api/v1/service-accounts"),
        ("post", "/api/v1/service-accounts"),
        ("get", "/api/v1/service-accounts/{uuid}"),
        ("patch", "/api/v1/service-accounts/{uuid}"),
        ("delete", "/api/v1/service-accounts/{uuid}"),
        ("patch", "/api/v1/service-accounts/{uuid}/rotate"),
        ("get", "/api/v1/org/audit-logs"),
        ("post", "/api/v1/auth/verify"),
        ("get", "/auth/forward"),
        ("post", "/oauth2/introspect"),
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/metrics"),
    ];
    for (method, path) in expected {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not in the OpenAPI document"
        );
    }
    let schemas = &doc.body["components"]["schemas"];
    for schema in [
        "ServiceAccountView",
        "CreateServiceAccountRequest",
        "UpdateServiceAccountRequest",
        "CustomRoleView",
        "CreateRoleRequest",
        "UpdateRoleRequest",
        "IntrospectRequest",
        "IntrospectResponse",
        "OAuthError",
    ] {
        assert!(
            schemas.get(schema).is_some(),
            "{schema} is not in the OpenAPI document"
        );
    }
    let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(
        documented,
        expected.len(),
        "every documented operation is listed here"
    );
    // Each route answers (not the fallback 404, nor a 405) — the document and
    // the router agree. Without credentials or a body, no route gets as far as
    // looking anything up, so none of them has a 404 of its own to give.
    let fallback = app.get("/api/v1/no-such-route", &Auth::None).await;
    fallback.expect_error(404, "not_found");
    for (method, path) in expected {
        let concrete = path
            .replace("{code}", "x")
            .replace("{userUuid}", &uuid::Uuid::new_v4().to_string())
            .replace("{projectUuid}", &uuid::Uuid::new_v4().to_string())
            .replace("{roleUuid}", &uuid::Uuid::new_v4().to_string())
            .replace("{uuid}", &uuid::Uuid::new_v4().to_string());
        let resp = app
            .send(
                method.to_uppercase().parse().unwrap(),
                &concrete,
                &Auth::None,
                None,
            )
            .await;
        assert!(
            !matches!(resp.status, 404 | 405),
            "{method} {path}: {} {}",
            resp.status,
            resp.body
        );
    }
    // Scopes and roles.
    let scopes = app.get("/api/v1/org/scopes", &app.admin.pat).await;
    assert_eq!(scopes.expect(200).as_array().unwrap().len(), 16);
    let roles = app.get("/api/v1/org/roles", &app.admin.pat).await;
    let roles = roles.expect(200);
    assert_eq!(roles["systemRoles"].as_array().unwrap().len(), 6);
    assert_eq!(
        roles["systemRoles"][1]["scopes"],
        serde_json::json!(["projects:read", "content:read"])
    );
}

async fn metrics_count_requests_and_authentications(app: TestApp) {
    // On PostgreSQL the change listener connects in the background and, once
    // listening, empties the cache (anything may have changed while it was
    // not): use the token a few times, so that some use follows that.
    for _ in 0..5 {
        app.get("/api/v1/user", &app.admin.pat).await.expect(200);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    app.get("/api/v1/user", &Auth::Token("lkpat_notatoken".into()))
        .await
        .expect_error(401, "malformed_token");
    let resp = app
        .http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let text = resp.text().await.unwrap();
    let value = |needle: &str| -> u64 {
        let line = text
            .lines()
            .find(|l| l.starts_with(needle))
            .unwrap_or_else(|| panic!("{needle} missing from:\n{text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert!(value(r#"latchkey_token_authentications_total{outcome="ok"}"#) >= 2);
    assert!(value(r#"latchkey_token_authentications_total{outcome="malformed_token"}"#) >= 1);
    assert!(value(r#"latchkey_http_responses_total{class="2xx"}"#) >= 2);
    assert!(value(r#"latchkey_http_responses_total{class="4xx"}"#) >= 1);
    assert!(
        value("latchkey_auth_cache_hits_total") >= 1,
        "the second use came from memory"
    );
    assert!(value("latchkey_auth_cache_entries") >= 1);
    assert!(
        !text.contains(&app.admin.pat_token[10..]),
        "no secret in the metrics"
    );
}
