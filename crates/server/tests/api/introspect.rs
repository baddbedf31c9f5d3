//! `POST /oauth2/introspect` (RFC 7662) on both backends: what an active
//! token of each kind says, that anything else is exactly `{"active":
//! false}`, client authentication, revocation, caching and the throttle.

use crate::on_both_backends;
use crate::support::{basic, in_days, TestApp};
use serde_json::{json, Value};
use std::time::Duration;

on_both_backends!(
    each_principal_kind_is_described,
    inactive_tokens_say_nothing_more,
    client_authentication_basic_and_bearer,
    revocations_are_seen_on_the_next_introspection,
    cached_answers_read_no_database,
    failed_client_authentications_are_throttled,
    introspection_records_last_use,
);

fn assert_active(resp: &crate::support::Resp) -> &Value {
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(
        resp.headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    assert_eq!(resp.body["active"], true, "{}", resp.body);
    &resp.body
}

#[track_caller]
fn assert_inactive(resp: &crate::support::Resp, what: &str) {
    assert_eq!(resp.status, 200, "{what}: {}", resp.body);
    assert_eq!(resp.body, json!({ "active": false }), "{what}");
    assert_eq!(
        resp.headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store"),
        "{what}"
    );
}

fn unix(rfc3339: &str) -> i64 {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .expect("time")
        .unix_timestamp()
}

async fn each_principal_kind_is_described(app: TestApp) {
    app.set_plan("enterprise").await;
    let (_, secret) = app.resource_server("gateway").await;
    let rs = format!("Bearer {secret}");
    let issuer = app.base.clone();

    // A PAT with an expiry.
    let expires = in_days(30);
    let resp = app
        .post(
            "/api/v1/user/me/personal-access-tokens",
            &app.admin.session,
            json!({ "name": "laptop", "expiresAt": expires, "scopes": ["projects:read", "content:read"] }),
        )
        .await;
    let pat = resp.expect(201).clone();
    let token = pat["token"].as_str().unwrap();
    let body = app.introspect(Some(&rs), token).await.body;
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "active",
            "client_id",
            "exp",
            "iat",
            "iss",
            "latchkey_credential_kind",
            "latchkey_org_id",
            "latchkey_org_name",
            "latchkey_principal_type",
            "scope",
            "sub",
            "token_type",
            "username"
        ]
    );
    assert_eq!(body["scope"], "projects:read content:read");
    assert_eq!(body["client_id"], pat["uuid"]);
    assert_eq!(body["username"], crate::support::ADMIN_EMAIL);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["sub"], app.admin.uuid.as_str());
    assert_eq!(body["iat"], unix(pat["createdAt"].as_str().unwrap()));
    assert_eq!(body["exp"], unix(&expires));
    assert_eq!(body["iss"], issuer.as_str());
    assert_eq!(body["latchkey_org_id"], app.org_uuid.as_str());
    assert_eq!(body["latchkey_org_name"], "Acme");
    assert_eq!(body["latchkey_principal_type"], "user");
    assert_eq!(body["latchkey_credential_kind"], "pat");

    // An API key without an expiry: no `exp`; username is its name.
    let key = app
        .post(
            "/api/v1/org/api-keys",
            &app.admin.session,
            json!({ "name": "deploy key", "role": "viewer", "expiresAt": null }),
        )
        .await
        .expect(201)
        .clone();
    let resp = app
        .introspect(Some(&rs), key["token"].as_str().unwrap())
        .await;
    let body = assert_active(&resp);
    assert!(body.get("exp").is_none(), "{body}");
    assert!(body.get("latchkey_projects").is_none());
    assert_eq!(body["username"], "deploy key");
    assert_eq!(body["sub"], key["uuid"]);
    assert_eq!(body["client_id"], key["uuid"]);
    assert_eq!(body["latchkey_principal_type"], "api_key");
    assert_eq!(body["latchkey_credential_kind"], "api_key");
    assert!(body["scope"]
        .as_str()
        .unwrap()
        .split(' ')
        .any(|s| s == "projects:read"));

    // Service accounts, organization and project scope.
    let org_account = app
        .post(
            "/api/v1/service-accounts",
            &app.admin.session,
            json!({ "description": "ci bot", "scope": "organization", "role": "editor", "expiresAt": in_days(10) }),
        )
        .await
        .expect(201)
        .clone();
    let resp = app
        .introspect(Some(&rs), org_account["token"].as_str().unwrap())
        .await;
    let body = assert_active(&resp);
    assert_eq!(body["username"], "ci bot");
    assert_eq!(body["latchkey_principal_type"], "service_account");
    assert_eq!(body["latchkey_credential_kind"], "service_account");
    assert!(body.get("latchkey_projects").is_none());

    let web = app.create_project("web").await;
    let api = app.create_project("api").await;
    let project_account = app
        .post(
            "/api/v1/service-accounts",
            &app.admin.session,
            json!({ "description": "per project", "scope": "project", "projects": [
                { "projectUuid": web, "role": "viewer" },
                { "projectUuid": api, "role": "developer" },
            ] }),
        )
        .await
        .expect(201)
        .clone();
    let resp = app
        .introspect(Some(&rs), project_account["token"].as_str().unwrap())
        .await;
    let body = assert_active(&resp);
    assert_eq!(body["scope"], "", "nothing organization-wide");
    let projects = body["latchkey_projects"]
        .as_object()
        .expect("latchkey_projects");
    assert_eq!(projects.len(), 2);
    let web_scopes: Vec<&str> = projects[&web].as_str().unwrap().split(' ').collect();
    let api_scopes: Vec<&str> = projects[&api].as_str().unwrap().split(' ').collect();
    assert!(web_scopes.contains(&"content:read"), "{web_scopes:?}");
    assert!(!web_scopes.contains(&"deploy:write"), "{web_scopes:?}");
    assert!(
        api_scopes.len() > web_scopes.len(),
        "developer holds more than viewer"
    );
}

async fn inactive_tokens_say_nothing_more(app: TestApp) {
    let (_, secret) = app.resource_server("gateway").await;
    let rs = format!("Bearer {secret}");
    let ask = |token: String| {
        let app = &app;
        let rs = rs.clone();
        async move { app.introspect(Some(&rs), &token).await }
    };
    assert_inactive(&ask("not a token".into()).await, "malformed");
    assert_inactive(
        &ask(crate::support::with_wrong_checksum(&app.admin.pat_token)).await,
        "checksum",
    );
    let unknown = latchkey_core::TokenSecret::generate(
        latchkey_core::TokenKind::PersonalAccessToken,
        &mut rand::thread_rng(),
    );
    assert_inactive(&ask(unknown.expose().into()).await, "unknown");
    assert_inactive(&ask(secret.clone()).await, "a resource server's own secret");

    // Revoked.
    let (uuid, token) = app
        .create_pat(
            &app.admin.session,
            json!({ "name": "gone", "expiresAt": in_days(3) }),
        )
        .await;
    app.delete(
        &format!("/api/v1/user/me/personal-access-tokens/{uuid}"),
        &app.admin.session,
    )
    .await;
    assert_inactive(&ask(token).await, "revoked");

    // Rotated away: the old secret is dead.
    let (uuid, old) = app
        .create_pat(
            &app.admin.session,
            json!({ "name": "rotated", "expiresAt": in_days(3) }),
        )
        .await;
    app.patch(
        &format!("/api/v1/user/me/personal-access-tokens/{uuid}/rotate"),
        &app.admin.session,
        json!({ "expiresAt": in_days(5) }),
    )
    .await
    .expect(200);
    assert_inactive(&ask(old).await, "rotated away");

    // Expired (moved into the past before it was ever cached).
    let (uuid, token) = app
        .create_pat(
            &app.admin.session,
            json!({ "name": "old", "expiresAt": in_days(3) }),
        )
        .await;
    app.operator_sql(&format!(
        "UPDATE credentials SET expires_at = 1000 WHERE uuid = '{uuid}'"
    ))
    .await;
    assert_inactive(&ask(token).await, "expired");

    // A suspended owner, then a removed one.
    let dev = app.person("dev@acme.test", "developer").await;
    assert_active(&ask(dev.pat_token.clone()).await);
    let member = format!("/api/v1/org/users/{}", dev.uuid);
    app.patch(&member, &app.admin.session, json!({ "suspended": true }))
        .await
        .expect(200);
    assert_inactive(&ask(dev.pat_token.clone()).await, "suspended owner");
    app.delete(&member, &app.admin.session).await;
    assert_inactive(&ask(dev.pat_token.clone()).await, "removed owner");
}

/// Service accounts turned off: their tokens are not active.
async fn feature_disabled_on(backend: crate::support::Backend) {
    let app = TestApp::spawn_with(backend, |c| c.service_accounts_enabled = false).await;
    app.set_plan("enterprise").await;
    let (_, secret) = app.resource_server("gateway").await;
    // Made while the feature was on: the setup path of an instance with
    // service accounts off cannot make one, so write it as the store does.
    let hasher = latchkey_core::TokenHasher::new(crate::support::SECRET_KEY.as_bytes()).unwrap();
    let token = latchkey_core::TokenSecret::generate(
        latchkey_core::TokenKind::ServiceAccount,
        &mut rand::thread_rng(),
    );
    let org: latchkey_core::OrgId = app.org_uuid.parse().unwrap();
    latchkey_server::operator::setup_service_account(
        app.server.as_ref().unwrap().store.as_ref(),
        org,
        &token,
        &hasher.hash(token.expose()),
    )
    .await
    .unwrap();
    let resp = app
        .introspect(Some(&format!("Bearer {secret}")), token.expose())
        .await;
    assert_inactive(&resp, "service accounts turned off");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feature_disabled_sqlite() {
    feature_disabled_on(crate::support::Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feature_disabled_postgres() {
    feature_disabled_on(crate::support::Backend::Postgres).await
}

async fn client_authentication_basic_and_bearer(app: TestApp) {
    let (client_id, secret) = app.resource_server("gateway").await;
    let token = app.admin.pat_token.clone();
    // Form-encoded then base64 (RFC 6749), and plain: the same here, as
    // neither a uuid nor a secret has a character to encode; and upper-case.
    let plain = {
        use base64::Engine;
        format!(
            "basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"))
        )
    };
    for auth in [
        basic(&client_id, &secret),
        plain,
        format!("Bearer {secret}"),
        format!("bearer {secret}"),
    ] {
        assert_active(&app.introspect(Some(&auth), &token).await);
    }
    // Another resource server's id with this secret, or no client at all.
    let (other_id, other_secret) = app.resource_server("reports").await;
    for auth in [
        Some(basic(&other_id, &secret)),
        Some(basic(&client_id, &other_secret)),
        Some(format!("Bearer {token}")),
        None,
    ] {
        let resp = app.introspect(auth.as_deref(), &token).await;
        assert_eq!(resp.status, 401, "{auth:?}");
        assert_eq!(resp.body, json!({ "error": "invalid_client" }));
        assert_eq!(
            resp.headers
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some("Basic realm=\"latchkey\"")
        );
    }
    // Revoked by the operator: refused at the next request (this process's
    // store tells its caches at commit).
    let store = app.server.as_ref().unwrap().store.clone();
    latchkey_server::operator::revoke_resource_server(store.as_ref(), "gateway")
        .await
        .unwrap();
    let resp = app
        .introspect(Some(&format!("Bearer {secret}")), &token)
        .await;
    assert_eq!(resp.status, 401);
    assert_eq!(resp.body, json!({ "error": "invalid_client" }));
    assert_active(
        &app.introspect(Some(&format!("Bearer {other_secret}")), &token)
            .await,
    );
    // Neither secret reached any organization's audit log.
    let events = app
        .get("/api/v1/org/audit-logs?limit=100", &app.admin.session)
        .await
        .expect(200)
        .to_string();
    assert!(!events.contains(&secret) && !events.contains(&other_secret));
}

async fn revocations_are_seen_on_the_next_introspection(app: TestApp) {
    let (_, secret) = app.resource_server("gateway").await;
    let rs = format!("Bearer {secret}");
    let (uuid, token) = app
        .create_pat(
            &app.admin.session,
            json!({ "name": "soon gone", "expiresAt": in_days(3) }),
        )
        .await;
    // Twice, so the second answer comes from the cache.
    assert_active(&app.introspect(Some(&rs), &token).await);
    assert_active(&app.introspect(Some(&rs), &token).await);
    app.delete(
        &format!("/api/v1/user/me/personal-access-tokens/{uuid}"),
        &app.admin.session,
    )
    .await;
    assert_inactive(
        &app.introspect(Some(&rs), &token).await,
        "revoked while cached",
    );
}

/// With the token and the resource server cached, an answer reads nothing:
/// a change written behind the server's back (no notice) is not seen.
async fn cached_answers_read_no_database(app: TestApp) {
    let (client_id, secret) = app.resource_server("gateway").await;
    let rs = format!("Bearer {secret}");
    let token = app.admin.pat_token.clone();
    assert_active(&app.introspect(Some(&rs), &token).await);
    app.operator_sql(&format!(
        "UPDATE resource_servers SET revoked_at = 1000 WHERE uuid = '{client_id}'"
    ))
    .await;
    app.operator_sql("UPDATE credentials SET revoked_at = 1000 WHERE kind = 'pat'")
        .await;
    assert_active(&app.introspect(Some(&rs), &token).await);
}

async fn failed_client_authentications_are_throttled(app: TestApp) {
    let (_, secret) = app.resource_server("gateway").await;
    let token = app.admin.pat_token.clone();
    let wrong = latchkey_core::TokenSecret::generate(
        latchkey_core::TokenKind::ResourceServer,
        &mut rand::thread_rng(),
    );
    let wrong = format!("Bearer {}", wrong.expose());
    for i in 0..20 {
        let resp = app.introspect(Some(&wrong), &token).await;
        assert_eq!(resp.status, 401, "attempt {i}: {}", resp.body);
    }
    let resp = app.introspect(Some(&wrong), &token).await;
    resp.expect_error(429, "rate_limited");
    let retry: u64 = resp.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 60, "{retry}");
    // A resource server that authenticates is never refused.
    assert_active(
        &app.introspect(Some(&format!("Bearer {secret}")), &token)
            .await,
    );
}

async fn introspection_records_last_use(app: TestApp) {
    let (_, secret) = app.resource_server("gateway").await;
    let (uuid, token) = app
        .create_pat(
            &app.admin.session,
            json!({ "name": "used", "expiresAt": in_days(3) }),
        )
        .await;
    let path = format!("/api/v1/user/me/personal-access-tokens/{uuid}");
    assert!(app.get(&path, &app.admin.session).await.expect(200)["lastUsedAt"].is_null());
    assert_active(
        &app.introspect(Some(&format!("Bearer {secret}")), &token)
            .await,
    );
    // The token's and the resource server's (what `latchkey resource-servers
    // list` shows) are both written within the flush interval.
    let store = app.server.as_ref().expect("running").store.clone();
    let (mut token_seen, mut server_seen) = (false, false);
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        token_seen = !app.get(&path, &app.admin.session).await.expect(200)["lastUsedAt"].is_null();
        server_seen = store.resource_servers().await.unwrap()[0]
            .last_used_at
            .is_some();
        if token_seen && server_seen {
            break;
        }
    }
    assert!(token_seen, "the token's lastUsedAt was written");
    assert!(server_seen, "the resource server's last use was written");
}

/// PostgreSQL: a revocation by another process (the operator command on
/// another host) reaches the running server through the change notices.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_process_revoking_is_heard_postgres() {
    let app = TestApp::spawn(crate::support::Backend::Postgres).await;
    let (_, secret) = app.resource_server("gateway").await;
    let rs = format!("Bearer {secret}");
    let token = app.admin.pat_token.clone();
    assert_active(&app.introspect(Some(&rs), &token).await);
    let other = latchkey_store::SqlStore::open_postgres(
        &app.postgres_url_for_tests(),
        &latchkey_store::PoolSettings::default(),
    )
    .await
    .unwrap();
    latchkey_server::operator::revoke_resource_server(&other, "gateway")
        .await
        .unwrap();
    other.close().await;
    let started = std::time::Instant::now();
    loop {
        let resp = app.introspect(Some(&rs), &token).await;
        if resp.status == 401 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the revocation was not heard (the cache TTL is 30 s)"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `iss` is `--public-url` when given (the address clients use, not the
/// bound one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_issuer_is_the_public_url() {
    let app = TestApp::spawn_with(crate::support::Backend::Sqlite, |c| {
        c.public_url = Some("https://auth.example.com".into())
    })
    .await;
    let (_, secret) = app.resource_server("gateway").await;
    let resp = app
        .introspect(Some(&format!("Bearer {secret}")), &app.admin.pat_token)
        .await;
    assert_eq!(assert_active(&resp)["iss"], "https://auth.example.com");
}
