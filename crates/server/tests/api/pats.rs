//! The personal access token lifecycle (PRODUCT.md §2) on the real server.

use crate::on_both_backends;
use crate::support::{in_days, in_two_seconds, Auth, TestApp};
use serde_json::json;

on_both_backends!(
    create_use_and_list,
    secret_shown_once,
    narrowed_scopes_and_grant_rule,
    edit_rules,
    rotation_rules,
    rotate_with_the_token_itself,
    revocation_is_immediate,
    expiry,
    role_is_reread_on_every_request,
    org_binding,
    admin_list_and_revoke,
    last_used_is_recorded,
    api_key_principals_cannot_manage_pats,
);

async fn create_use_and_list(app: TestApp) {
    let (uuid, token) = app
        .create_pat(
            &app.admin.session,
            json!({ "name": " laptop ", "expiresAt": in_days(30) }),
        )
        .await;
    assert_eq!(token.len(), 44);
    assert!(token.starts_with("lkpat_"));
    for header in [
        format!("ApiKey {token}"),
        format!("Bearer {token}"),
        format!("bearer {token}"),
        format!("APIKEY {token}"),
    ] {
        let me = app.get("/api/v1/user", &Auth::Header(header)).await;
        let me = me.expect(200);
        assert_eq!(me["credential"]["kind"], "pat");
        assert_eq!(me["credential"]["uuid"], uuid.as_str());
        assert_eq!(me["credential"]["displayPrefix"], &token[..10]);
        assert_eq!(me["principal"]["type"], "user");
        assert_eq!(me["role"], "admin");
    }
    let list = app
        .get("/api/v1/user/me/personal-access-tokens", &app.admin.session)
        .await;
    let list = list.expect(200).as_array().unwrap().clone();
    let mine = list
        .iter()
        .find(|t| t["uuid"] == uuid.as_str())
        .expect("listed");
    assert_eq!(mine["name"], "laptop");
    assert_eq!(mine["displayPrefix"], &token[..10]);
    assert_eq!(mine["scopes"], serde_json::Value::Null);
    assert!(mine.get("token").is_none(), "a list never shows the secret");
    let one = app
        .get(
            &format!("/api/v1/user/me/personal-access-tokens/{uuid}"),
            &Auth::Token(token.clone()),
        )
        .await;
    assert_eq!(one.expect(200)["uuid"], uuid.as_str());
    // The token reaches what its role allows.
    app.get("/api/v1/org/projects", &Auth::Token(token))
        .await
        .expect(200);
}

async fn secret_shown_once(app: TestApp) {
    let (uuid, token) = app
        .create_pat(&app.admin.session, json!({ "name": "once" }))
        .await;
    let again = app
        .get(
            &format!("/api/v1/user/me/personal-access-tokens/{uuid}"),
            &app.admin.session,
        )
        .await;
    // The token is there, shown without its secret.
    let shown = again.expect(200);
    assert_eq!(shown["uuid"], uuid.as_str(), "{shown}");
    assert_eq!(shown["displayPrefix"], &token[..10], "{shown}");
    assert!(!again.body.to_string().contains(&token[10..]));
    let listed = app
        .get("/api/v1/user/me/personal-access-tokens", &app.admin.session)
        .await;
    let list = listed.expect(200).as_array().expect("a list");
    assert!(
        list.iter().any(|t| t["uuid"] == uuid.as_str()),
        "listed: {list:?}"
    );
    assert!(!listed.body.to_string().contains(&token[10..]));
}

async fn narrowed_scopes_and_grant_rule(app: TestApp) {
    let viewer = app.person("viewer@acme.test", "viewer").await;
    // A viewer cannot grant what they do not hold; the refused scopes are named.
    let resp = app
        .post(
            "/api/v1/user/me/personal-access-tokens",
            &viewer.session,
            json!({ "name": "x", "scopes": ["content:read", "members:write", "deploy:write"] }),
        )
        .await;
    resp.expect_error(403, "scopes_not_grantable");
    let mut refused: Vec<String> =
        serde_json::from_value(resp.body["error"]["details"]["scopes"].clone()).unwrap();
    refused.sort();
    assert_eq!(refused, ["deploy:write", "members:write"]);
    // Unknown scopes are a 400 naming the field.
    let resp = app
        .post(
            "/api/v1/user/me/personal-access-tokens",
            &viewer.session,
            json!({ "name": "x", "scopes": ["nope:nope"] }),
        )
        .await;
    resp.expect_error(400, "invalid_request");
    assert_eq!(resp.body["error"]["details"]["field"], "scopes");

    // An admin's token narrowed to content:read: projects:read is gone.
    let (_, narrow) = app
        .create_pat(
            &app.admin.session,
            json!({ "name": "narrow", "scopes": ["content:read"] }),
        )
        .await;
    let me = app.get("/api/v1/user", &Auth::Token(narrow.clone())).await;
    assert_eq!(me.expect(200)["scopes"], json!(["content:read"]));
    let resp = app
        .post(
            "/api/v1/org/projects",
            &Auth::Token(narrow.clone()),
            json!({ "name": "p" }),
        )
        .await;
    resp.expect_error(403, "missing_scope");
    assert_eq!(
        resp.body["error"]["details"]["requiredScope"],
        "projects:write"
    );
    // No credential mints one more powerful than itself.
    let resp = app
        .post(
            "/api/v1/user/me/personal-access-tokens",
            &Auth::Token(narrow.clone()),
            json!({ "name": "wider", "scopes": ["projects:write"] }),
        )
        .await;
    resp.expect_error(403, "scopes_not_grantable");
    let inherited = app
        .post(
            "/api/v1/user/me/personal-access-tokens",
            &Auth::Token(narrow.clone()),
            json!({ "name": "same" }),
        )
        .await;
    assert_eq!(inherited.expect(201)["scopes"], json!(["content:read"]));
    // An empty list is a token with no scopes at all, not the full role.
    let (_, empty) = app
        .create_pat(&app.admin.session, json!({ "name": "empty", "scopes": [] }))
        .await;
    assert_eq!(
        app.get("/api/v1/user", &Auth::Token(empty))
            .await
            .expect(200)["scopes"],
        json!([])
    );

    // A member with only a project role may grant that project role's scopes.
    let member = app.person("member@acme.test", "member").await;
    let project = app.create_project("site").await;
    app.put(
        &format!("/api/v1/projects/{project}/access/{}", member.uuid),
        &app.admin.session,
        json!({ "role": "editor" }),
    )
    .await
    .expect(200);
    let (_, editor_narrow) = app
        .create_pat(
            &member.session,
            json!({ "name": "w", "scopes": ["content:write"] }),
        )
        .await;
    let verify = app
        .post(
            "/api/v1/auth/verify",
            &Auth::None,
            json!({ "token": editor_narrow, "scope": "content:write", "projectUuid": project }),
        )
        .await;
    assert_eq!(verify.expect(200)["allowed"], true);
    let verify = app
        .post(
            "/api/v1/auth/verify",
            &Auth::None,
            json!({ "token": editor_narrow, "scope": "content:write" }),
        )
        .await;
    assert_eq!(
        verify.expect(200)["allowed"],
        false,
        "organization-wide a member holds nothing"
    );
}

async fn edit_rules(app: TestApp) {
    let (uuid, token) = app
        .create_pat(
            &app.admin.session,
            json!({ "name": "e", "expiresAt": in_days(30) }),
        )
        .await;
    let path = format!("/api/v1/user/me/personal-access-tokens/{uuid}");
    let r = app
        .patch(
            &path,
            &app.admin.session,
            json!({ "name": "renamed", "scopes": ["content:read"] }),
        )
        .await;
    let r = r.expect(200);
    assert_eq!(
        (r["name"].as_str(), r["scopes"].clone()),
        (Some("renamed"), json!(["content:read"]))
    );
    assert_eq!(
        app.get("/api/v1/user", &Auth::Token(token.clone()))
            .await
            .expect(200)["scopes"],
        json!(["content:read"])
    );
    // Expiry only comes forward.
    app.patch(
        &path,
        &app.admin.session,
        json!({ "expiresAt": in_days(31) }),
    )
    .await
    .expect_error(400, "expiry_extension_not_allowed");
    let week = in_days(7);
    let r = app
        .patch(&path, &app.admin.session, json!({ "expiresAt": week }))
        .await;
    assert_eq!(r.expect(200)["expiresAt"], week.as_str());
    let r = app
        .patch(
            &path,
            &app.admin.session,
            json!({ "expiresAt": "2001-01-01T00:00:00Z" }),
        )
        .await;
    r.expect_error(400, "invalid_request");
    assert_eq!(r.body["error"]["details"]["field"], "expiresAt");
    let (no_expiry, _) = app
        .create_pat(&app.admin.session, json!({ "name": "forever" }))
        .await;
    // A first expiry only shortens its life; then it cannot move later.
    app.patch(
        &format!("/api/v1/user/me/personal-access-tokens/{no_expiry}"),
        &app.admin.session,
        json!({ "expiresAt": in_days(7) }),
    )
    .await
    .expect(200);
    app.patch(
        &format!("/api/v1/user/me/personal-access-tokens/{no_expiry}"),
        &app.admin.session,
        json!({ "expiresAt": in_days(8) }),
    )
    .await
    .expect_error(400, "expiry_extension_not_allowed");
    // Scopes beyond the editor's are refused.
    let viewer = app.person("v@acme.test", "viewer").await;
    let (vuuid, _) = app
        .create_pat(&viewer.session, json!({ "name": "v" }))
        .await;
    app.patch(
        &format!("/api/v1/user/me/personal-access-tokens/{vuuid}"),
        &viewer.session,
        json!({ "scopes": ["members:write"] }),
    )
    .await
    .expect_error(403, "scopes_not_grantable");
    // Another user's token is not found.
    app.patch(
        &format!("/api/v1/user/me/personal-access-tokens/{vuuid}"),
        &app.admin.session,
        json!({ "name": "mine now" }),
    )
    .await
    .expect_error(404, "not_found");
}

async fn rotation_rules(app: TestApp) {
    let (uuid, old) = app
        .create_pat(
            &app.admin.session,
            json!({ "name": "r", "expiresAt": in_days(7) }),
        )
        .await;
    let path = format!("/api/v1/user/me/personal-access-tokens/{uuid}/rotate");
    app.patch(&path, &app.admin.session, json!({}))
        .await
        .expect_error(400, "invalid_request");
    app.patch(
        &path,
        &app.admin.session,
        json!({ "expiresAt": "2001-01-01T00:00:00Z" }),
    )
    .await
    .expect_error(400, "invalid_request");
    let month = in_days(30);
    let r = app
        .patch(&path, &app.admin.session, json!({ "expiresAt": month }))
        .await;
    let r = r.expect(200).clone();
    let new = r["token"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    assert_eq!(r["uuid"], uuid.as_str());
    assert_eq!(r["name"], "r");
    assert_eq!(r["expiresAt"], month.as_str());
    assert!(r["rotatedAt"].is_string());
    assert_eq!(r["displayPrefix"], &new[..10]);
    app.get("/api/v1/user", &Auth::Token(old.clone()))
        .await
        .expect_error(401, "token_revoked");
    app.get("/api/v1/user", &Auth::Token(new.clone()))
        .await
        .expect(200);
    // At most once an hour.
    let again = app
        .patch(
            &path,
            &app.admin.session,
            json!({ "expiresAt": in_days(30) }),
        )
        .await;
    again.expect_error(429, "rate_limited");
    let retry: u64 = again
        .headers
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((3590..=3600).contains(&retry), "{retry}");
    // No expiry, no rotation.
    let (forever, _) = app
        .create_pat(&app.admin.session, json!({ "name": "forever" }))
        .await;
    app.patch(
        &format!("/api/v1/user/me/personal-access-tokens/{forever}/rotate"),
        &app.admin.session,
        json!({ "expiresAt": in_days(30) }),
    )
    .await
    .expect_error(400, "rotation_requires_expiry");
}

async fn rotate_with_the_token_itself(app: TestApp) {
    let (uuid, token) = app
        .create_pat(
            &app.admin.session,
            json!({ "name": "self", "expiresAt": in_days(7) }),
        )
        .await;
    // Within its own life only: a leaked token cannot keep itself alive.
    app.patch(
        &format!("/api/v1/user/me/personal-access-tokens/{uuid}/rotate"),
        &Auth::Token(token.clone()),
        json!({ "expiresAt": in_days(14) }),
    )
    .await
    .expect_error(403, "lifetime_too_long");
    let r = app
        .patch(
            &format!("/api/v1/user/me/personal-access-tokens/{uuid}/rotate"),
            &Auth::Token(token.clone()),
            json!({ "expiresAt": in_days(6) }),
        )
        .await;
    let new = r.expect(200)["token"].as_str().unwrap().to_string();
    app.get("/api/v1/user", &Auth::Token(token))
        .await
        .expect_error(401, "token_revoked");
    app.get("/api/v1/user", &Auth::Token(new)).await.expect(200);
}

async fn revocation_is_immediate(app: TestApp) {
    let (uuid, token) = app
        .create_pat(&app.admin.session, json!({ "name": "gone" }))
        .await;
    app.get("/api/v1/user", &Auth::Token(token.clone()))
        .await
        .expect(200);
    let r = app
        .delete(
            &format!("/api/v1/user/me/personal-access-tokens/{uuid}"),
            &app.admin.session,
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(r.body, serde_json::Value::Null);
    app.get("/api/v1/user", &Auth::Token(token.clone()))
        .await
        .expect_error(401, "token_revoked");
    app.delete(
        &format!("/api/v1/user/me/personal-access-tokens/{uuid}"),
        &app.admin.session,
    )
    .await
    .expect_error(404, "not_found");
    let listed = app
        .get("/api/v1/user/me/personal-access-tokens", &app.admin.session)
        .await;
    assert!(!listed.body.to_string().contains(&uuid));
    let v = app
        .post(
            "/api/v1/auth/verify",
            &Auth::None,
            json!({ "token": token }),
        )
        .await;
    assert_eq!(v.expect(200)["code"], "token_revoked");
}

async fn expiry(app: TestApp) {
    let soon = in_two_seconds();
    let (_, token) = app
        .create_pat(
            &app.admin.session,
            json!({ "name": "brief", "expiresAt": soon }),
        )
        .await;
    app.get("/api/v1/user", &Auth::Token(token.clone()))
        .await
        .expect(200);
    tokio::time::sleep(std::time::Duration::from_millis(2600)).await;
    app.get("/api/v1/user", &Auth::Token(token.clone()))
        .await
        .expect_error(401, "token_expired");
    let v = app
        .post(
            "/api/v1/auth/verify",
            &Auth::None,
            json!({ "token": token }),
        )
        .await;
    assert_eq!(v.expect(200)["code"], "token_expired");
    let r = app
        .post(
            "/api/v1/user/me/personal-access-tokens",
            &app.admin.session,
            json!({ "name": "past", "expiresAt": "2020-01-01T00:00:00Z" }),
        )
        .await;
    r.expect_error(400, "invalid_request");
    assert_eq!(r.body["error"]["details"]["field"], "expiresAt");
    let r = app
        .post(
            "/api/v1/user/me/personal-access-tokens",
            &app.admin.session,
            json!({ "name": "bad", "expiresAt": "next tuesday" }),
        )
        .await;
    r.expect_error(400, "invalid_request");
    assert_eq!(r.body["error"]["details"]["field"], "expiresAt");
}

async fn role_is_reread_on_every_request(app: TestApp) {
    let dev = app.person("dev@acme.test", "developer").await;
    let (_, narrowed) = app
        .create_pat(
            &dev.session,
            json!({ "name": "deploy", "scopes": ["deploy:write", "content:read"] }),
        )
        .await;
    let scopes = |r: crate::support::Resp| r.expect(200)["scopes"].clone();
    assert!(scopes(app.get("/api/v1/user", &dev.pat).await)
        .as_array()
        .unwrap()
        .contains(&json!("deploy:write")));
    // Demote: every PAT narrows at once.
    let user = format!("/api/v1/org/users/{}", dev.uuid);
    app.patch(&user, &app.admin.session, json!({ "role": "viewer" }))
        .await
        .expect(200);
    assert_eq!(
        scopes(app.get("/api/v1/user", &dev.pat).await),
        json!(["projects:read", "content:read"])
    );
    assert_eq!(
        scopes(
            app.get("/api/v1/user", &Auth::Token(narrowed.clone()))
                .await
        ),
        json!(["content:read"])
    );
    // Suspend: all stop at once, and come back when lifted.
    app.patch(&user, &app.admin.session, json!({ "suspended": true }))
        .await
        .expect(200);
    app.get("/api/v1/user", &dev.pat)
        .await
        .expect_error(401, "account_suspended");
    app.get("/api/v1/user", &dev.session)
        .await
        .expect_error(401, "account_suspended");
    app.patch(&user, &app.admin.session, json!({ "suspended": false }))
        .await
        .expect(200);
    app.get("/api/v1/user", &dev.pat).await.expect(200);
    // Remove: revoked.
    assert_eq!(app.delete(&user, &app.admin.session).await.status, 204);
    app.get("/api/v1/user", &dev.pat)
        .await
        .expect_error(401, "token_revoked");
    app.get("/api/v1/user", &Auth::Token(narrowed))
        .await
        .expect_error(401, "token_revoked");
    // Removal revokes the member's sessions for the organization (kept, so
    // a later re-invitation cannot bring an old session back to life).
    app.get("/api/v1/user", &dev.session)
        .await
        .expect_error(401, "token_revoked");
}

async fn org_binding(app: TestApp) {
    // A second organization, created by a session of the same admin.
    let other = app
        .post(
            "/api/v1/orgs",
            &app.admin.session,
            json!({ "name": "Globex" }),
        )
        .await;
    let other_org = other.expect(201)["uuid"].as_str().unwrap().to_string();
    let globex_session = match app
        .try_login(
            crate::support::ADMIN_EMAIL,
            crate::support::PASSWORD,
            Some(&other_org),
        )
        .await
    {
        r if r.status == 200 => {
            let cookie = r
                .headers
                .get("set-cookie")
                .unwrap()
                .to_str()
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .split_once('=')
                .unwrap()
                .1
                .to_string();
            Auth::Session {
                cookie,
                csrf: r.results()["csrfToken"].as_str().unwrap().to_string(),
            }
        }
        r => panic!("login to the second org: {}", r.body),
    };
    let globex_project = app
        .post(
            "/api/v1/org/projects",
            &globex_session,
            json!({ "name": "secret plans" }),
        )
        .await;
    let globex_project = globex_project.expect(201)["projectUuid"]
        .as_str()
        .unwrap()
        .to_string();
    // The Acme PAT sees one organization and gets 404 on Globex's project.
    let orgs = app.get("/api/v1/orgs", &app.admin.pat).await;
    let orgs = orgs.expect(200).as_array().unwrap().clone();
    assert_eq!(orgs.len(), 1);
    assert_eq!(orgs[0]["uuid"], app.org_uuid.as_str());
    app.get(
        &format!("/api/v1/projects/{globex_project}"),
        &app.admin.pat,
    )
    .await
    .expect_error(404, "not_found");
    app.delete(
        &format!("/api/v1/projects/{globex_project}"),
        &app.admin.pat,
    )
    .await
    .expect_error(404, "not_found");
    // A session sees both, and can switch.
    let orgs = app.get("/api/v1/orgs", &app.admin.session).await;
    assert_eq!(orgs.expect(200).as_array().unwrap().len(), 2);
    let switched = app
        .post(
            "/api/v1/user/me/active-org",
            &app.admin.session,
            json!({ "orgUuid": other_org }),
        )
        .await;
    assert_eq!(switched.expect(200)["uuid"], other_org.as_str());
    app.get(
        &format!("/api/v1/projects/{globex_project}"),
        &app.admin.session,
    )
    .await
    .expect(200);
    app.post(
        "/api/v1/user/me/active-org",
        &app.admin.session,
        json!({ "orgUuid": uuid::Uuid::new_v4() }),
    )
    .await
    .expect_error(404, "not_found");
    // Tokens cannot create organizations.
    app.post("/api/v1/orgs", &app.admin.pat, json!({ "name": "Initech" }))
        .await
        .expect_error(403, "forbidden");
}

async fn admin_list_and_revoke(app: TestApp) {
    let editor = app.person("editor@acme.test", "editor").await;
    for i in 0..4 {
        app.create_pat(&editor.session, json!({ "name": format!("e{i}") }))
            .await;
    }
    // Walk every page of 2.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/org/personal-access-tokens?limit=2&cursor={c}"),
            None => "/api/v1/org/personal-access-tokens?limit=2".to_string(),
        };
        let page = app.get(&path, &app.admin.pat).await;
        let page = page.expect(200).clone();
        for item in page["items"].as_array().unwrap() {
            assert!(item.get("token").is_none());
            assert_eq!(item["owner"]["type"], "user");
            seen.push(item["uuid"].as_str().unwrap().to_string());
        }
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    // admin's own + editor's 5 (one from person())
    assert_eq!(seen.len(), 6);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 6);
    app.get("/api/v1/org/personal-access-tokens?limit=0", &app.admin.pat)
        .await
        .expect_error(400, "invalid_request");
    app.get(
        "/api/v1/org/personal-access-tokens?limit=501",
        &app.admin.pat,
    )
    .await
    .expect_error(400, "invalid_request");
    app.get(
        "/api/v1/org/personal-access-tokens?cursor=garbage",
        &app.admin.pat,
    )
    .await
    .expect_error(400, "invalid_request");
    app.get("/api/v1/org/personal-access-tokens", &editor.pat)
        .await
        .expect_error(403, "missing_scope");
    // The admin revokes the editor's token.
    let editor_pat_uuid = app.get("/api/v1/user", &editor.pat).await.expect(200)["credential"]
        ["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    app.delete(
        &format!("/api/v1/org/personal-access-tokens/{editor_pat_uuid}"),
        &editor.pat,
    )
    .await
    .expect_error(403, "missing_scope");
    assert_eq!(
        app.delete(
            &format!("/api/v1/org/personal-access-tokens/{editor_pat_uuid}"),
            &app.admin.pat
        )
        .await
        .status,
        204
    );
    app.get("/api/v1/user", &editor.pat)
        .await
        .expect_error(401, "token_revoked");
}

async fn last_used_is_recorded(app: TestApp) {
    let (uuid, token) = app
        .create_pat(&app.admin.session, json!({ "name": "used" }))
        .await;
    let path = format!("/api/v1/user/me/personal-access-tokens/{uuid}");
    assert!(app.get(&path, &app.admin.session).await.expect(200)["lastUsedAt"].is_null());
    app.get("/api/v1/user", &Auth::Token(token))
        .await
        .expect(200);
    // The test server flushes every second.
    let mut used = serde_json::Value::Null;
    for _ in 0..30 {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        used = app.get(&path, &app.admin.session).await.expect(200)["lastUsedAt"].clone();
        if used.is_string() {
            break;
        }
    }
    assert!(used.is_string(), "lastUsedAt recorded");
}

async fn api_key_principals_cannot_manage_pats(app: TestApp) {
    // Sessions and PATs are user principals; without CSRF a session cannot change anything.
    let Auth::Session { cookie, .. } = app.admin.session.clone() else {
        unreachable!()
    };
    let r = app
        .post(
            "/api/v1/user/me/personal-access-tokens",
            &Auth::SessionNoCsrf {
                cookie: cookie.clone(),
            },
            json!({ "name": "csrf" }),
        )
        .await;
    r.expect_error(403, "forbidden");
    app.get(
        "/api/v1/user/me/personal-access-tokens",
        &Auth::SessionNoCsrf { cookie },
    )
    .await
    .expect(200);
}
