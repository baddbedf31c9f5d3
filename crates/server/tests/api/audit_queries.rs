//! The audit log read back: filters, paging, query rules, one organization's
//! log only, and never a secret in it.

use super::audit::*;
use crate::on_both_backends;
use crate::support::{in_days, Auth, TestApp, PASSWORD, SECRET_KEY};
use serde_json::json;

on_both_backends!(
    filters_and_paging,
    query_validation_and_scope,
    organizations_see_only_their_own_log,
    no_secret_in_the_log,
);

async fn filters_and_paging(app: TestApp) {
    let admin = &app.admin.pat;
    let key = app
        .post(
            "/api/v1/org/api-keys",
            &app.admin.session,
            json!({ "name": "builder", "role": "admin" }),
        )
        .await;
    let key = key.expect(201).clone();
    let key_uuid = str_of(&key, "uuid");
    let as_key = Auth::Token(str_of(&key, "token"));

    // 55 projects by the key, then a rename by the admin.
    let mut projects = Vec::new();
    for i in 0..55 {
        let r = app
            .post(
                "/api/v1/org/projects",
                &as_key,
                json!({ "name": format!("p{i}") }),
            )
            .await;
        projects.push(str_of(r.expect(201), "projectUuid"));
    }
    app.patch(
        &format!("/api/v1/projects/{}", projects[0]),
        admin,
        json!({ "name": "first" }),
    )
    .await
    .expect(200);

    // Everything, newest first.
    let all = all_events(&app, admin).await;
    assert!(all.len() >= 57, "{}", all.len());
    assert_eq!(all[0]["action"], "project.updated");
    assert_eq!(all[1]["target"]["uuid"], projects[54].as_str());
    let times: Vec<&str> = all.iter().map(|e| e["at"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
    let ids: std::collections::BTreeSet<&str> =
        all.iter().map(|e| e["uuid"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), all.len());

    // The default page is 50, with a cursor to the rest; pages of 7 walk the
    // same list exactly once; 500 is the most.
    let first = app.get(LOG, admin).await;
    let first = first.expect(200);
    assert_eq!(first["items"].as_array().unwrap().len(), 50);
    assert!(first["nextCursor"].is_string());
    assert_eq!(first["items"][0], all[0]);
    assert_eq!(walk(&app, admin, "limit=7").await, all);
    assert_eq!(walk(&app, admin, "limit=1").await.len(), all.len());
    let last = app.get(&format!("{LOG}?limit=500"), admin).await;
    assert!(last.expect(200)["nextCursor"].is_null());
    // Empty values are left out.
    let blank = app
        .get(
            &format!("{LOG}?action=&actorUuid=&targetUuid=&since=&until=&cursor=&limit=500"),
            admin,
        )
        .await;
    assert_eq!(blank.expect(200)["items"].as_array().unwrap(), &all);

    // By action, by actor, by target; and combined, paged.
    let created = walk(&app, admin, "limit=500&action=project.created").await;
    assert_eq!(created.len(), 55);
    assert!(created.iter().all(|e| e["action"] == "project.created"));
    assert_eq!(
        walk(&app, admin, "limit=4&action=project.created").await,
        created
    );
    let by_key = walk(&app, admin, &format!("limit=500&actorUuid={key_uuid}")).await;
    assert_eq!(by_key, created, "the key did exactly those");
    let admin_uuid = &app.admin.uuid;
    let by_admin = walk(&app, admin, &format!("limit=500&actorUuid={admin_uuid}")).await;
    assert!(by_admin
        .iter()
        .all(|e| e["actor"]["uuid"] == admin_uuid.as_str()));
    assert!(by_admin.iter().any(|e| e["action"] == "api_key.created"));
    assert!(by_admin.iter().any(|e| e["action"] == "project.updated"));
    let on_first = walk(
        &app,
        admin,
        &format!("limit=500&targetUuid={}", projects[0]),
    )
    .await;
    let actions: Vec<&str> = on_first
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["project.updated", "project.created"]);
    let both = walk(
        &app,
        admin,
        &format!(
            "limit=1&action=project.created&actorUuid={key_uuid}&targetUuid={}",
            projects[3]
        ),
    )
    .await;
    assert_eq!(both.len(), 1);
    assert_eq!(both[0]["target"]["uuid"], projects[3].as_str());
    assert!(walk(&app, admin, "limit=5&action=nothing.happened")
        .await
        .is_empty());
    assert!(walk(
        &app,
        admin,
        &format!("limit=5&actorUuid={}", uuid::Uuid::new_v4())
    )
    .await
    .is_empty());

    // By time: since and until are inclusive, in whole seconds.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let mid = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap();
    let rfc = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let later = app.create_project("later").await;
    let since = walk(&app, admin, &format!("limit=2&since={}", rfc(mid))).await;
    assert_eq!(since.len(), 1);
    assert_eq!(since[0]["target"]["uuid"], later.as_str());
    let until = walk(
        &app,
        admin,
        &format!("limit=500&until={}", rfc(mid - time::Duration::SECOND)),
    )
    .await;
    assert_eq!(until, all);
    let window = walk(
        &app,
        admin,
        &format!(
            "limit=500&since={}&until={}",
            rfc(mid - time::Duration::hours(1)),
            rfc(mid + time::Duration::hours(1))
        ),
    )
    .await;
    assert_eq!(window.len(), all.len() + 1);
    // An offset other than Z (the `+` escaped, as a query needs).
    let offset = walk(
        &app,
        admin,
        &format!(
            "limit=500&since={}",
            rfc(mid.to_offset(time::macros::offset!(+2))).replace('+', "%2B")
        ),
    )
    .await;
    assert_eq!(offset, since);
    assert!(walk(&app, admin, &format!("limit=5&since={}", in_days(1)))
        .await
        .is_empty());
    assert!(walk(&app, admin, "limit=5&until=2001-01-01T00:00:00Z")
        .await
        .is_empty());

    // The client's user agent is kept.
    let resp = app
        .http
        .post(format!("{}/api/v1/org/projects", app.base))
        .header("Authorization", format!("Bearer {}", app.admin.pat_token))
        .header("User-Agent", "latchkey-tests/1.0")
        .json(&json!({ "name": "with agent" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let newest = app.get(&format!("{LOG}?limit=1"), admin).await;
    assert_eq!(
        newest.expect(200)["items"][0]["userAgent"],
        "latchkey-tests/1.0"
    );
}

async fn query_validation_and_scope(app: TestApp) {
    let admin = &app.admin.pat;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=-1", "limit"),
        ("limit=ten", "limit"),
        ("cursor=garbage", "cursor"),
        ("cursor=12abc", "cursor"),
        ("since=yesterday", "since"),
        ("since=2026-01-01", "since"),
        ("until=2026-13-01T00:00:00Z", "until"),
        ("actorUuid=nobody", "actorUuid"),
        ("targetUuid=123", "targetUuid"),
    ] {
        let r = app.get(&format!("{LOG}?{query}"), admin).await;
        r.expect_error(400, "invalid_request");
        assert_eq!(r.body["error"]["details"]["field"], field, "{query}");
    }
    let long = "a".repeat(101);
    let r = app.get(&format!("{LOG}?action={long}"), admin).await;
    r.expect_error(400, "invalid_request");
    assert_eq!(r.body["error"]["details"]["field"], "action");
    app.get(&format!("{LOG}?limit=500"), admin)
        .await
        .expect(200);
    app.get(&format!("{LOG}?limit=1&unknown=ignored"), admin)
        .await
        .expect(200);

    // audit:read: admins only, whatever the credential.
    app.get(LOG, &Auth::None)
        .await
        .expect_error(401, "missing_credentials");
    app.get(LOG, &app.admin.session).await.expect(200);
    let editor = app.person("editor@acme.test", "editor").await;
    let key = |role: &'static str| {
        let app = &app;
        async move {
            let r = app
                .post(
                    "/api/v1/org/api-keys",
                    &app.admin.session,
                    json!({ "name": role, "role": role }),
                )
                .await;
            Auth::Token(str_of(r.expect(201), "token"))
        }
    };
    let (_, narrowed) = app
        .create_pat(
            &app.admin.session,
            json!({ "name": "no audit", "scopes": ["api_keys:write"] }),
        )
        .await;
    for auth in [
        editor.pat.clone(),
        editor.session.clone(),
        key("developer").await,
        Auth::Token(narrowed),
    ] {
        let r = app.get(LOG, &auth).await;
        r.expect_error(403, "missing_scope");
        assert_eq!(r.body["error"]["details"]["requiredScope"], "audit:read");
    }
    app.get(LOG, &key("admin").await).await.expect(200);
}

async fn organizations_see_only_their_own_log(app: TestApp) {
    let globex = app
        .post(
            "/api/v1/orgs",
            &app.admin.session,
            json!({ "name": "Globex" }),
        )
        .await;
    let globex = str_of(globex.expect(201), "uuid");
    let login = app
        .try_login(crate::support::ADMIN_EMAIL, PASSWORD, Some(&globex))
        .await;
    let globex_session = session_from(&login);
    let secret = app
        .post(
            "/api/v1/org/projects",
            &globex_session,
            json!({ "name": "secret plans" }),
        )
        .await;
    let secret = str_of(secret.expect(201), "projectUuid");

    let acme = all_events(&app, &app.admin.pat).await;
    let text = serde_json::to_string(&acme).unwrap();
    assert!(!text.contains(&globex), "nothing of Globex in Acme's log");
    assert!(!text.contains(&secret));
    let filtered = app
        .get(&format!("{LOG}?targetUuid={secret}"), &app.admin.pat)
        .await;
    assert!(filtered.expect(200)["items"].as_array().unwrap().is_empty());

    let theirs = all_events(&app, &globex_session).await;
    let actions: Vec<&str> = theirs
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["project.created", "org.created"]);
    // A cursor of one organization's log reads nothing of another's.
    let page = app.get(&format!("{LOG}?limit=1"), &app.admin.pat).await;
    let cursor = str_of(page.expect(200), "nextCursor");
    let other = app
        .get(&format!("{LOG}?limit=500&cursor={cursor}"), &globex_session)
        .await;
    for e in other.expect(200)["items"].as_array().unwrap() {
        assert!(
            theirs.contains(e),
            "only Globex's own events, whatever the cursor: {e}"
        );
    }
}

async fn no_secret_in_the_log(app: TestApp) {
    let admin = &app.admin.session;
    let mut secrets: Vec<String> = vec![
        PASSWORD.to_string(),
        SECRET_KEY.to_string(),
        app.admin.pat_token.clone(),
    ];
    if let Auth::Session { cookie, csrf } = admin {
        secrets.push(cookie.clone());
        secrets.push(csrf.clone());
    }

    // A new member through an invite, with a password of their own.
    let (member, code) = app.add_member("new@acme.test", "editor").await;
    let code = code.expect("an invite");
    let member_password = "the member's own passphrase";
    app.post(
        &format!("/api/v1/invites/{code}"),
        &Auth::None,
        json!({ "password": member_password }),
    )
    .await
    .expect(200);
    secrets.push(code);
    secrets.push(member_password.to_string());
    app.try_login("new@acme.test", "not the passphrase", None)
        .await
        .expect_error(401, "invalid_login");
    secrets.push("not the passphrase".to_string());
    let member_session = app.login("new@acme.test", member_password).await;
    if let Auth::Session { cookie, csrf } = &member_session {
        secrets.push(cookie.clone());
        secrets.push(csrf.clone());
    }
    // A password change: a wrong current password, then the right one (the
    // same new password both times, so it is the one kept).
    let new_password = "the member's next passphrase";
    for (current, status) in [("a wrong current one", 400), (member_password, 204)] {
        let changed = app
            .post(
                "/api/v1/user/me/password",
                &member_session,
                json!({ "currentPassword": current, "newPassword": new_password }),
            )
            .await;
        assert_eq!(changed.status, status, "{}", changed.body);
    }
    secrets.push("a wrong current one".to_string());
    secrets.push(new_password.to_string());

    // Tokens of every kind: created, rotated (old and new), revoked and used.
    let pats = "/api/v1/user/me/personal-access-tokens";
    let pat = app
        .post(
            pats,
            &member_session,
            json!({ "name": "member pat", "expiresAt": in_days(60) }),
        )
        .await;
    let pat = pat.expect(201).clone();
    let pat_uuid = str_of(&pat, "uuid");
    secrets.push(str_of(&pat, "token"));
    let rotated = app
        .patch(
            &format!("{pats}/{pat_uuid}/rotate"),
            &Auth::Token(str_of(&pat, "token")),
            json!({ "expiresAt": in_days(6) }),
        )
        .await;
    let rotated_pat = str_of(rotated.expect(200), "token");
    secrets.push(rotated_pat.clone());
    app.get("/api/v1/user", &Auth::Token(str_of(&pat, "token")))
        .await
        .expect_error(401, "token_revoked");
    let key = app
        .post(
            "/api/v1/org/api-keys",
            admin,
            json!({ "name": "ci", "role": "admin", "expiresAt": in_days(60) }),
        )
        .await;
    let key = key.expect(201).clone();
    let first_key = str_of(&key, "token");
    secrets.push(first_key.clone());
    let rotated = app
        .patch(
            &format!("/api/v1/org/api-keys/{}/rotate", str_of(&key, "uuid")),
            &Auth::Token(first_key.clone()),
            json!({ "expiresAt": in_days(30) }),
        )
        .await;
    let second_key = str_of(rotated.expect(200), "token");
    secrets.push(second_key.clone());
    app.get("/api/v1/user", &Auth::Token(first_key))
        .await
        .expect_error(401, "token_revoked");
    let project = app
        .post(
            "/api/v1/org/projects",
            &Auth::Token(second_key.clone()),
            json!({ "name": "by key" }),
        )
        .await;
    let project = str_of(project.expect(201), "projectUuid");
    app.put(
        &format!("/api/v1/projects/{project}/access/{member}"),
        &Auth::Token(second_key.clone()),
        json!({ "role": "admin" }),
    )
    .await
    .expect(200);
    app.delete(
        &format!("/api/v1/org/personal-access-tokens/{pat_uuid}"),
        &Auth::Token(second_key.clone()),
    )
    .await;
    app.get("/api/v1/user", &Auth::Token(rotated_pat))
        .await
        .expect_error(401, "token_revoked");
    // Verification of a revoked token is a refusal too.
    app.post(
        "/api/v1/auth/verify",
        &Auth::None,
        json!({ "token": str_of(&pat, "token") }),
    )
    .await
    .expect(200);
    let del = app
        .delete(
            &format!("/api/v1/org/api-keys/{}", str_of(&key, "uuid")),
            &app.admin.pat,
        )
        .await;
    assert_eq!(del.status, 204);
    app.get("/api/v1/user", &Auth::Token(second_key))
        .await
        .expect_error(401, "token_revoked");
    app.delete(&format!("/api/v1/org/users/{member}"), admin)
        .await;

    let log = all_events(&app, &app.admin.pat).await;
    let text = serde_json::to_string(&log).unwrap();
    let refusals = log.iter().filter(|e| e["action"] == "auth.refused").count();
    assert!(refusals >= 3, "the refusals are in the log: {refusals}");
    assert!(log.len() >= 12, "{}", log.len());
    for secret in &secrets {
        assert!(
            !text.contains(secret.as_str()),
            "a secret is in the audit log"
        );
        // A token's display prefix may be shown; nothing after it.
        if secret.len() == 44 {
            assert!(
                !text.contains(&secret[10..]),
                "the secret part of a token is in the audit log"
            );
            assert!(
                !text.contains(&secret[20..]),
                "part of a token's secret is in the audit log"
            );
        }
    }
}
