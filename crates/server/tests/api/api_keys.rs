//! Organization API keys (PRODUCT.md §2, API.md "Organization API keys") on
//! the real server.

use crate::on_both_backends;
use crate::support::{expires_though_cached, in_days, in_two_seconds, Auth, TestApp};
use serde_json::{json, Value};

on_both_backends!(
    create_use_and_list,
    secret_shown_once,
    create_validation,
    role_no_higher_than_the_creator,
    revocation_is_immediate,
    rotation_rules,
    rotate_with_the_key_itself,
    acts_as_itself,
    survives_the_creator_leaving,
    cannot_manage_personal_tokens,
    other_organizations_keys_are_not_found,
    expiry,
);

const KEYS: &str = "/api/v1/org/api-keys";

/// Creates a key; returns the creation response's results.
async fn create_key(app: &TestApp, auth: &Auth, body: Value) -> Value {
    app.post(KEYS, auth, body).await.expect(201).clone()
}

fn token_of(key: &Value) -> Auth {
    Auth::Token(key["token"].as_str().expect("token").to_string())
}

fn uuid_of(key: &Value) -> String {
    key["uuid"].as_str().expect("uuid").to_string()
}

async fn listed(app: &TestApp) -> Vec<Value> {
    app.get(KEYS, &app.admin.session)
        .await
        .expect(200)
        .as_array()
        .expect("a list")
        .clone()
}

fn scopes(me: &Value) -> Vec<String> {
    serde_json::from_value(me["scopes"].clone()).expect("scopes")
}

async fn create_use_and_list(app: TestApp) {
    let month = in_days(30);
    let key = create_key(
        &app,
        &app.admin.session,
        json!({ "name": " ci ", "role": "editor", "expiresAt": month }),
    )
    .await;
    let token = key["token"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 44);
    assert!(token.starts_with("lkkey_"));
    assert_eq!(key["name"], "ci");
    assert_eq!(key["role"], "editor");
    assert_eq!(key["displayPrefix"], &token[..10]);
    assert_eq!(key["expiresAt"], month.as_str());
    assert!(key["createdAt"].is_string());
    assert!(key["rotatedAt"].is_null());
    assert!(key["lastUsedAt"].is_null());
    assert_eq!(
        key["createdBy"],
        json!({ "type": "user", "uuid": app.admin.uuid, "name": app.admin.email })
    );
    // Both header schemes.
    for header in [format!("ApiKey {token}"), format!("Bearer {token}")] {
        app.get("/api/v1/user", &Auth::Header(header))
            .await
            .expect(200);
    }

    // A second key, without expiry, by the admin's PAT; the list is newest
    // first (times are whole seconds) and never shows a secret.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let second = create_key(
        &app,
        &app.admin.pat,
        json!({ "name": "reports", "role": "viewer" }),
    )
    .await;
    assert!(second["expiresAt"].is_null());
    let list = listed(&app).await;
    let ids: Vec<&str> = list.iter().map(|k| k["uuid"].as_str().unwrap()).collect();
    assert_eq!(ids, [uuid_of(&second), uuid_of(&key)]);
    let shown = &list[1];
    for field in [
        "uuid",
        "name",
        "displayPrefix",
        "expiresAt",
        "createdAt",
        "rotatedAt",
        "role",
        "createdBy",
    ] {
        assert_eq!(shown[field], key[field], "{field}");
    }
    assert!(
        shown.get("token").is_none(),
        "a list never shows the secret"
    );

    // The key reaches what its role allows, and nothing more.
    let as_key = token_of(&key);
    app.get("/api/v1/org/projects", &as_key).await.expect(200);
    let r = app
        .post("/api/v1/org/projects", &as_key, json!({ "name": "p" }))
        .await;
    r.expect_error(403, "missing_scope");
    assert_eq!(
        r.body["error"]["details"]["requiredScope"],
        "projects:write"
    );
    app.get(KEYS, &as_key)
        .await
        .expect_error(403, "missing_scope");

    // lastUsedAt follows use (the test server flushes every second).
    let mut used = Value::Null;
    for _ in 0..30 {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let list = listed(&app).await;
        used = list.iter().find(|k| k["uuid"] == key["uuid"]).unwrap()["lastUsedAt"].clone();
        if used.is_string() {
            break;
        }
    }
    assert!(used.is_string(), "lastUsedAt recorded");
}

async fn secret_shown_once(app: TestApp) {
    let key = create_key(
        &app,
        &app.admin.session,
        json!({ "name": "once", "role": "viewer", "expiresAt": in_days(3) }),
    )
    .await;
    let token = key["token"].as_str().unwrap().to_string();
    let rotated = app
        .patch(
            &format!("{KEYS}/{}/rotate", uuid_of(&key)),
            &app.admin.session,
            json!({ "expiresAt": in_days(30) }),
        )
        .await;
    let new = rotated.expect(200)["token"].as_str().unwrap().to_string();
    let uuid = uuid_of(&key);
    // Each response is the one asked for, holding the key, before it is
    // searched for the secret: an error body would hold no secret either.
    let list = app.get(KEYS, &app.admin.session).await;
    let keys = list.expect(200).as_array().expect("a list");
    assert!(keys.iter().any(|k| k["uuid"] == uuid.as_str()), "{keys:?}");
    let me = app.get("/api/v1/user", &Auth::Token(new.clone())).await;
    assert_eq!(me.expect(200)["credential"]["uuid"], uuid.as_str());
    assert_eq!(me.results()["credential"]["kind"], "api_key");
    let log = app
        .get("/api/v1/org/audit-logs?limit=500", &app.admin.pat)
        .await;
    let events = log.expect(200)["items"].as_array().expect("events");
    for action in ["api_key.created", "api_key.rotated"] {
        assert!(
            events
                .iter()
                .any(|e| e["action"] == action && e["target"]["uuid"] == uuid.as_str()),
            "{action} logged"
        );
    }
    for secret in [&token, &new] {
        for body in [&list.body, &me.body, &log.body] {
            assert!(!body.to_string().contains(&secret[10..]), "{body}");
        }
    }
}

async fn create_validation(app: TestApp) {
    let admin = &app.admin.session;
    let field_of = |r: &crate::support::Resp| r.body["error"]["details"]["field"].clone();
    let cases = [
        (json!({ "name": "  ", "role": "viewer" }), "name"),
        (json!({ "name": "x".repeat(101), "role": "viewer" }), "name"),
        (json!({ "name": "bell\u{7}", "role": "viewer" }), "name"),
        (json!({ "role": "viewer" }), "name"),
        (json!({ "name": "k" }), "role"),
        (json!({ "name": "k", "role": "owner" }), "role"),
        (json!({ "name": "k", "role": 5 }), "role"),
        // A member key would hold no scope anywhere: refused.
        (json!({ "name": "k", "role": "member" }), "role"),
        (
            json!({ "name": "k", "role": "viewer", "expiresAt": "2020-01-01T00:00:00Z" }),
            "expiresAt",
        ),
        (
            json!({ "name": "k", "role": "viewer", "expiresAt": "next tuesday" }),
            "expiresAt",
        ),
        (
            json!({ "name": "k", "role": "viewer", "expiresAt": 1700000000 }),
            "expiresAt",
        ),
    ];
    for (body, field) in cases {
        let r = app.post(KEYS, admin, body.clone()).await;
        r.expect_error(400, "invalid_request");
        assert_eq!(field_of(&r), field, "{body}");
    }
    let r = app.post(KEYS, admin, json!({ "name": "k", "role": "viewer", "expiresAt": (time::OffsetDateTime::now_utc() - time::Duration::seconds(1)).format(&time::format_description::well_known::Rfc3339).unwrap() })).await;
    r.expect_error(400, "invalid_request");
    assert!(listed(&app).await.is_empty(), "nothing was created");
    // The name limit is inclusive.
    create_key(
        &app,
        admin,
        json!({ "name": "x".repeat(100), "role": "admin" }),
    )
    .await;
}

async fn role_no_higher_than_the_creator(app: TestApp) {
    let admin = &app.admin.session;
    // Only admins hold api_keys:write among the system roles.
    let developer = app.person("dev@acme.test", "developer").await;
    let r = app
        .post(
            KEYS,
            &developer.pat,
            json!({ "name": "k", "role": "viewer" }),
        )
        .await;
    r.expect_error(403, "missing_scope");
    assert_eq!(
        r.body["error"]["details"]["requiredScope"],
        "api_keys:write"
    );
    app.post(
        KEYS,
        &developer.pat,
        json!({ "name": "k", "role": "admin" }),
    )
    .await
    .expect_error(403, "missing_scope");

    // An admin's PAT narrowed to api_keys:write and content:read holds less
    // than an editor (or even a viewer, which has projects:read).
    let (_, narrow) = app
        .create_pat(
            admin,
            json!({ "name": "keys only", "scopes": ["api_keys:write", "content:read"] }),
        )
        .await;
    let narrow = Auth::Token(narrow);
    for role in ["admin", "editor", "viewer"] {
        let r = app
            .post(KEYS, &narrow, json!({ "name": "k", "role": role }))
            .await;
        r.expect_error(403, "role_too_high");
        assert_eq!(r.body["status"], "error");
    }
    // With projects:read as well, a viewer key is within reach, an editor
    // key (content:export, content:write, …) is not.
    let (_, reader) = app
        .create_pat(
            admin,
            json!({ "name": "keys and read", "scopes": ["api_keys:write", "projects:read", "content:read"] }),
        )
        .await;
    let reader = Auth::Token(reader);
    let viewer_key = create_key(
        &app,
        &reader,
        json!({ "name": "viewer key", "role": "viewer", "expiresAt": in_days(7) }),
    )
    .await;
    assert_eq!(viewer_key["role"], "viewer");
    app.post(KEYS, &reader, json!({ "name": "k", "role": "editor" }))
        .await
        .expect_error(403, "role_too_high");
    assert_eq!(listed(&app).await.len(), 1);

    // Rotation hands out the secret: the same rule holds.
    let editor_key = create_key(
        &app,
        admin,
        json!({ "name": "editor key", "role": "editor", "expiresAt": in_days(7) }),
    )
    .await;
    app.patch(
        &format!("{KEYS}/{}/rotate", uuid_of(&editor_key)),
        &reader,
        json!({ "expiresAt": in_days(30) }),
    )
    .await
    .expect_error(403, "role_too_high");
    app.get("/api/v1/user", &token_of(&editor_key))
        .await
        .expect(200);
    app.patch(
        &format!("{KEYS}/{}/rotate", uuid_of(&viewer_key)),
        &reader,
        json!({ "expiresAt": in_days(30) }),
    )
    .await
    .expect(200);

    // An admin key may mint another admin key; the new key's creator is the key.
    let admin_key = create_key(&app, admin, json!({ "name": "root", "role": "admin" })).await;
    let minted = create_key(
        &app,
        &token_of(&admin_key),
        json!({ "name": "minted", "role": "admin" }),
    )
    .await;
    assert_eq!(
        minted["createdBy"],
        json!({ "type": "api_key", "uuid": admin_key["uuid"], "name": "root" })
    );
    // An editor key holds no api_keys:write.
    app.post(
        KEYS,
        &token_of(&editor_key),
        json!({ "name": "k", "role": "viewer" }),
    )
    .await
    .expect_error(403, "missing_scope");
}

async fn revocation_is_immediate(app: TestApp) {
    let key = create_key(
        &app,
        &app.admin.session,
        json!({ "name": "gone", "role": "developer" }),
    )
    .await;
    let as_key = token_of(&key);
    app.get("/api/v1/user", &as_key).await.expect(200);
    let path = format!("{KEYS}/{}", uuid_of(&key));
    // Without the scope, nothing happens.
    let viewer = app.person("viewer@acme.test", "viewer").await;
    app.delete(&path, &viewer.pat)
        .await
        .expect_error(403, "missing_scope");
    app.get("/api/v1/user", &as_key).await.expect(200);

    let r = app.delete(&path, &app.admin.pat).await;
    assert_eq!(r.status, 204);
    assert_eq!(r.body, Value::Null);
    app.get("/api/v1/user", &as_key)
        .await
        .expect_error(401, "token_revoked");
    let v = app
        .post(
            "/api/v1/auth/verify",
            &Auth::None,
            json!({ "token": key["token"] }),
        )
        .await;
    assert_eq!(v.expect(200)["valid"], false);
    assert_eq!(v.results()["code"], "token_revoked");
    app.delete(&path, &app.admin.pat)
        .await
        .expect_error(404, "not_found");
    app.patch(
        &format!("{path}/rotate"),
        &app.admin.pat,
        json!({ "expiresAt": in_days(30) }),
    )
    .await
    .expect_error(404, "not_found");
    assert!(listed(&app).await.is_empty());

    // A key with api_keys:write may revoke itself.
    let admin_key = create_key(
        &app,
        &app.admin.session,
        json!({ "name": "self", "role": "admin" }),
    )
    .await;
    let r = app
        .delete(
            &format!("{KEYS}/{}", uuid_of(&admin_key)),
            &token_of(&admin_key),
        )
        .await;
    assert_eq!(r.status, 204);
    app.get("/api/v1/user", &token_of(&admin_key))
        .await
        .expect_error(401, "token_revoked");

    // Ids that are not keys of this organization.
    let (pat_uuid, _) = app
        .create_pat(&app.admin.session, json!({ "name": "a pat" }))
        .await;
    for id in [pat_uuid, uuid::Uuid::new_v4().to_string()] {
        app.delete(&format!("{KEYS}/{id}"), &app.admin.pat)
            .await
            .expect_error(404, "not_found");
    }
    let r = app
        .delete(&format!("{KEYS}/not-a-uuid"), &app.admin.pat)
        .await;
    r.expect_error(400, "invalid_request");
    assert_eq!(r.body["error"]["details"]["field"], "uuid");
    // The PAT was not touched.
    app.get("/api/v1/user", &app.admin.pat).await.expect(200);
}

async fn rotation_rules(app: TestApp) {
    let admin = &app.admin.session;
    let key = create_key(
        &app,
        admin,
        json!({ "name": "r", "role": "editor", "expiresAt": in_days(7) }),
    )
    .await;
    let old = key["token"].as_str().unwrap().to_string();
    let path = format!("{KEYS}/{}/rotate", uuid_of(&key));
    let r = app.patch(&path, admin, json!({})).await;
    r.expect_error(400, "invalid_request");
    assert_eq!(r.body["error"]["details"]["field"], "expiresAt");
    let r = app
        .patch(&path, admin, json!({ "expiresAt": "2001-01-01T00:00:00Z" }))
        .await;
    r.expect_error(400, "invalid_request");
    assert_eq!(r.body["error"]["details"]["field"], "expiresAt");
    let r = app
        .patch(&path, admin, json!({ "expiresAt": "soon" }))
        .await;
    r.expect_error(400, "invalid_request");
    // Without the scope: refused before anything else.
    let editor = app.person("editor@acme.test", "editor").await;
    app.patch(&path, &editor.pat, json!({ "expiresAt": in_days(30) }))
        .await
        .expect_error(403, "missing_scope");
    app.get("/api/v1/user", &Auth::Token(old.clone()))
        .await
        .expect(200);

    let month = in_days(30);
    let r = app.patch(&path, admin, json!({ "expiresAt": month })).await;
    let r = r.expect(200).clone();
    let new = r["token"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    assert!(new.starts_with("lkkey_"));
    assert_eq!(r["uuid"], key["uuid"]);
    assert_eq!(r["name"], "r");
    assert_eq!(r["role"], "editor");
    assert_eq!(r["createdBy"], key["createdBy"]);
    assert_eq!(r["createdAt"], key["createdAt"]);
    assert_eq!(r["expiresAt"], month.as_str());
    assert!(r["rotatedAt"].is_string());
    assert_eq!(r["displayPrefix"], &new[..10]);
    app.get("/api/v1/user", &Auth::Token(old.clone()))
        .await
        .expect_error(401, "token_revoked");
    let me = app.get("/api/v1/user", &Auth::Token(new.clone())).await;
    assert_eq!(me.expect(200)["credential"]["uuid"], key["uuid"]);
    assert_eq!(me.results()["role"], "editor");
    let list = listed(&app).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["displayPrefix"], &new[..10]);
    assert_eq!(list[0]["rotatedAt"], r["rotatedAt"]);

    // At most once an hour, whoever asks.
    for auth in [admin, &app.admin.pat] {
        let again = app
            .patch(&path, auth, json!({ "expiresAt": in_days(30) }))
            .await;
        again.expect_error(429, "rate_limited");
        let retry: u64 = again
            .headers
            .get("retry-after")
            .expect("Retry-After")
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((3590..=3600).contains(&retry), "{retry}");
    }
    app.get("/api/v1/user", &Auth::Token(new)).await.expect(200);

    // No expiry, no rotation.
    let forever = create_key(&app, admin, json!({ "name": "forever", "role": "viewer" })).await;
    app.patch(
        &format!("{KEYS}/{}/rotate", uuid_of(&forever)),
        admin,
        json!({ "expiresAt": in_days(30) }),
    )
    .await
    .expect_error(400, "rotation_requires_expiry");
    app.get("/api/v1/user", &token_of(&forever))
        .await
        .expect(200);
}

async fn rotate_with_the_key_itself(app: TestApp) {
    // An admin key holds api_keys:write: it may rotate itself, within its
    // own life (not past it: 403 lifetime_too_long).
    let key = create_key(
        &app,
        &app.admin.session,
        json!({ "name": "self", "role": "admin", "expiresAt": in_days(7) }),
    )
    .await;
    app.patch(
        &format!("{KEYS}/{}/rotate", uuid_of(&key)),
        &token_of(&key),
        json!({ "expiresAt": in_days(14) }),
    )
    .await
    .expect_error(403, "lifetime_too_long");
    let r = app
        .patch(
            &format!("{KEYS}/{}/rotate", uuid_of(&key)),
            &token_of(&key),
            json!({ "expiresAt": in_days(6) }),
        )
        .await;
    let new = r.expect(200)["token"].as_str().unwrap().to_string();
    app.get("/api/v1/user", &token_of(&key))
        .await
        .expect_error(401, "token_revoked");
    app.get("/api/v1/user", &Auth::Token(new)).await.expect(200);

    // An editor key does not.
    let editor_key = create_key(
        &app,
        &app.admin.session,
        json!({ "name": "editor", "role": "editor", "expiresAt": in_days(7) }),
    )
    .await;
    let r = app
        .patch(
            &format!("{KEYS}/{}/rotate", uuid_of(&editor_key)),
            &token_of(&editor_key),
            json!({ "expiresAt": in_days(14) }),
        )
        .await;
    r.expect_error(403, "missing_scope");
    assert_eq!(
        r.body["error"]["details"]["requiredScope"],
        "api_keys:write"
    );
    app.get("/api/v1/user", &token_of(&editor_key))
        .await
        .expect(200);
}

async fn acts_as_itself(app: TestApp) {
    let key = create_key(
        &app,
        &app.admin.session,
        json!({ "name": "deployer", "role": "admin", "expiresAt": in_days(30) }),
    )
    .await;
    let as_key = token_of(&key);
    let me = app.get("/api/v1/user", &as_key).await;
    let me = me.expect(200);
    assert_eq!(
        me["principal"],
        json!({ "type": "api_key", "uuid": key["uuid"], "name": "deployer" }),
        "no email: the key is not a person"
    );
    assert_eq!(me["credential"]["kind"], "api_key");
    assert_eq!(me["credential"]["uuid"], key["uuid"]);
    assert_eq!(me["credential"]["name"], "deployer");
    assert_eq!(me["credential"]["displayPrefix"], key["displayPrefix"]);
    assert_eq!(me["credential"]["expiresAt"], key["expiresAt"]);
    assert_eq!(me["role"], "admin");
    assert_eq!(me["org"]["uuid"], app.org_uuid.as_str());
    assert_eq!(scopes(me).len(), 16);
    let orgs = app.get("/api/v1/orgs", &as_key).await;
    let orgs = orgs.expect(200).as_array().unwrap().clone();
    assert_eq!(orgs.len(), 1);
    assert_eq!(orgs[0]["role"], "admin");

    // What it creates is attributed to the key.
    let project = app
        .post(
            "/api/v1/org/projects",
            &as_key,
            json!({ "name": "built by CI" }),
        )
        .await;
    let project = project.expect(201).clone();
    let by_key = json!({ "type": "api_key", "uuid": key["uuid"], "name": "deployer" });
    assert_eq!(project["createdBy"], by_key);
    assert_eq!(project["updatedBy"], by_key);
    let renamed = app
        .patch(
            &format!(
                "/api/v1/projects/{}",
                project["projectUuid"].as_str().unwrap()
            ),
            &app.admin.pat,
            json!({ "name": "renamed by a person" }),
        )
        .await;
    let renamed = renamed.expect(200);
    assert_eq!(renamed["createdBy"], by_key);
    assert_eq!(renamed["updatedBy"]["type"], "user");

    // A viewer key sees what a viewer sees.
    let viewer_key = create_key(
        &app,
        &app.admin.session,
        json!({ "name": "dashboards", "role": "viewer" }),
    )
    .await;
    let me = app.get("/api/v1/user", &token_of(&viewer_key)).await;
    assert_eq!(scopes(me.expect(200)), ["projects:read", "content:read"]);
    let projects = app
        .get("/api/v1/org/projects", &token_of(&viewer_key))
        .await;
    assert_eq!(projects.expect(200).as_array().unwrap().len(), 1);
    let verify = app
        .post(
            "/api/v1/auth/verify",
            &Auth::None,
            json!({ "token": viewer_key["token"], "scope": "content:write" }),
        )
        .await;
    let verify = verify.expect(200);
    assert_eq!(verify["valid"], true);
    assert_eq!(verify["allowed"], false);
    assert_eq!(verify["principal"]["type"], "api_key");
    assert_eq!(verify["credential"]["kind"], "api_key");
}

async fn survives_the_creator_leaving(app: TestApp) {
    let second = app.person("second-admin@acme.test", "admin").await;
    let key = create_key(
        &app,
        &second.session,
        json!({ "name": "integration", "role": "developer" }),
    )
    .await;
    assert_eq!(key["createdBy"]["uuid"], second.uuid.as_str());
    let as_key = token_of(&key);
    app.get("/api/v1/user", &as_key).await.expect(200);

    // The first admin removes the second: the second's PAT dies, the key lives.
    let r = app
        .delete(
            &format!("/api/v1/org/users/{}", second.uuid),
            &app.admin.pat,
        )
        .await;
    assert_eq!(r.status, 204);
    app.get("/api/v1/user", &second.pat)
        .await
        .expect_error(401, "token_revoked");
    let me = app.get("/api/v1/user", &as_key).await;
    assert_eq!(me.expect(200)["principal"]["type"], "api_key");
    assert_eq!(me.results()["role"], "developer");
    app.get("/api/v1/org/projects", &as_key).await.expect(200);
    let list = listed(&app).await;
    assert_eq!(list.len(), 1);
    assert_eq!(
        list[0]["createdBy"]["uuid"],
        second.uuid.as_str(),
        "the creator is still named"
    );

    // Demoting an admin does not narrow the keys they made either: the role
    // is fixed at creation.
    let third = app.person("third-admin@acme.test", "admin").await;
    let fixed = create_key(
        &app,
        &third.session,
        json!({ "name": "fixed", "role": "admin" }),
    )
    .await;
    app.patch(
        &format!("/api/v1/org/users/{}", third.uuid),
        &app.admin.pat,
        json!({ "role": "viewer" }),
    )
    .await
    .expect(200);
    let me = app.get("/api/v1/user", &token_of(&fixed)).await;
    assert_eq!(me.expect(200)["role"], "admin");
}

async fn cannot_manage_personal_tokens(app: TestApp) {
    let key = create_key(
        &app,
        &app.admin.session,
        json!({ "name": "admin key", "role": "admin" }),
    )
    .await;
    let as_key = token_of(&key);
    let (pat_uuid, _) = app
        .create_pat(
            &app.admin.session,
            json!({ "name": "mine", "expiresAt": in_days(7) }),
        )
        .await;
    let pats = "/api/v1/user/me/personal-access-tokens";
    let one = format!("{pats}/{pat_uuid}");
    app.get(pats, &as_key).await.expect_error(403, "forbidden");
    app.post(pats, &as_key, json!({ "name": "x" }))
        .await
        .expect_error(403, "forbidden");
    app.get(&one, &as_key).await.expect_error(403, "forbidden");
    app.patch(&one, &as_key, json!({ "name": "x" }))
        .await
        .expect_error(403, "forbidden");
    app.patch(
        &format!("{one}/rotate"),
        &as_key,
        json!({ "expiresAt": in_days(30) }),
    )
    .await
    .expect_error(403, "forbidden");
    app.delete(&one, &as_key)
        .await
        .expect_error(403, "forbidden");
    // Organizations are made by people with a session.
    app.post("/api/v1/orgs", &as_key, json!({ "name": "Keyco" }))
        .await
        .expect_error(403, "forbidden");
    // The admin view of tokens is a matter of scope (tokens:admin), which
    // an admin key holds.
    app.get("/api/v1/org/personal-access-tokens", &as_key)
        .await
        .expect(200);
}

async fn other_organizations_keys_are_not_found(app: TestApp) {
    let key = create_key(
        &app,
        &app.admin.session,
        json!({ "name": "acme", "role": "admin", "expiresAt": in_days(7) }),
    )
    .await;
    // The admin creates Globex and signs in to it.
    let globex = app
        .post(
            "/api/v1/orgs",
            &app.admin.session,
            json!({ "name": "Globex" }),
        )
        .await;
    let globex = globex.expect(201)["uuid"].as_str().unwrap().to_string();
    app.post(
        "/api/v1/user/me/active-org",
        &app.admin.session,
        json!({ "orgUuid": globex }),
    )
    .await
    .expect(200);
    let globex_key = create_key(
        &app,
        &app.admin.session,
        json!({ "name": "globex", "role": "admin", "expiresAt": in_days(7) }),
    )
    .await;
    let list = app.get(KEYS, &app.admin.session).await;
    let list = list.expect(200).as_array().unwrap().clone();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["uuid"], globex_key["uuid"]);
    let me = app.get("/api/v1/user", &token_of(&globex_key)).await;
    assert_eq!(me.expect(200)["org"]["uuid"], globex.as_str());

    // Each key is a stranger in the other organization.
    let acme_path = format!("{KEYS}/{}", uuid_of(&key));
    let globex_path = format!("{KEYS}/{}", uuid_of(&globex_key));
    for (auth, path) in [
        (token_of(&key), &globex_path),
        (token_of(&globex_key), &acme_path),
        (app.admin.session.clone(), &acme_path),
    ] {
        app.delete(path, &auth).await.expect_error(404, "not_found");
        app.patch(
            &format!("{path}/rotate"),
            &auth,
            json!({ "expiresAt": in_days(30) }),
        )
        .await
        .expect_error(404, "not_found");
    }
    let acme_list = app.get(KEYS, &token_of(&key)).await;
    let acme_list = acme_list.expect(200).as_array().unwrap().clone();
    assert_eq!(acme_list.len(), 1);
    assert_eq!(acme_list[0]["uuid"], key["uuid"]);
    app.get("/api/v1/user", &token_of(&key)).await.expect(200);
    app.get("/api/v1/user", &token_of(&globex_key))
        .await
        .expect(200);
}

/// A key past its `expiresAt` is refused, though it was cached while valid.
async fn expiry(app: TestApp) {
    let key = create_key(
        &app,
        &app.admin.session,
        json!({ "name": "brief", "role": "viewer", "expiresAt": in_two_seconds() }),
    )
    .await;
    let token = key["token"].as_str().unwrap();
    expires_though_cached(&app, token, "api_key").await;
    // Still listed, as expired, for the admin to see.
    let shown = listed(&app).await;
    let shown = shown
        .iter()
        .find(|k| k["uuid"] == key["uuid"])
        .expect("listed");
    assert_eq!(shown["expiresAt"], key["expiresAt"]);
}
