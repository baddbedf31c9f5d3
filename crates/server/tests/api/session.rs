//! Login, logout, invites and the organization switch.

use crate::on_both_backends;
use crate::support::{Auth, TestApp, ADMIN_EMAIL, PASSWORD};
use serde_json::json;

on_both_backends!(
    login_and_logout,
    wrong_logins_look_alike_and_are_throttled,
    invites_work_once,
    cookie_attributes
);

async fn login_and_logout(app: TestApp) {
    let r = app.try_login("  ADMIN@acme.test ", PASSWORD, None).await;
    let r = r.expect(200);
    assert_eq!(r["user"]["email"], ADMIN_EMAIL);
    assert_eq!(r["org"]["uuid"], app.org_uuid.as_str());
    assert_eq!(r["org"]["role"], "admin");
    let session = app.login(ADMIN_EMAIL, PASSWORD).await;
    assert_eq!(
        app.get("/api/v1/user", &session).await.expect(200)["credential"],
        json!({ "kind": "session" })
    );
    // Logout needs the CSRF token like any change.
    let Auth::Session { cookie, .. } = session.clone() else {
        unreachable!()
    };
    app.post("/api/v1/logout", &Auth::SessionNoCsrf { cookie }, json!({}))
        .await
        .expect_error(403, "forbidden");
    let out = app.post("/api/v1/logout", &session, json!({})).await;
    assert_eq!(out.status, 204);
    assert!(out
        .headers
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    app.get("/api/v1/user", &session)
        .await
        .expect_error(401, "invalid_token");
    // A token cannot log out.
    app.post("/api/v1/logout", &app.admin.pat, json!({}))
        .await
        .expect_error(403, "forbidden");
}

async fn wrong_logins_look_alike_and_are_throttled(app: TestApp) {
    let wrong_password = app.try_login(ADMIN_EMAIL, "not the password", None).await;
    wrong_password.expect_error(401, "invalid_login");
    let no_such_user = app
        .try_login("nobody@acme.test", "not the password", None)
        .await;
    no_such_user.expect_error(401, "invalid_login");
    assert_eq!(wrong_password.body, no_such_user.body);
    // An invited user without a password cannot log in either.
    app.add_member("pending@acme.test", "viewer").await;
    app.try_login("pending@acme.test", "", None)
        .await
        .expect_error(401, "invalid_login");
    for _ in 0..10 {
        app.try_login("target@acme.test", "guess", None).await;
    }
    let throttled = app.try_login("target@acme.test", "guess", None).await;
    throttled.expect_error(429, "rate_limited");
    assert!(throttled.headers.get("retry-after").is_some());
}

async fn invites_work_once(app: TestApp) {
    let (uuid, code) = app.add_member("new@acme.test", "editor").await;
    let code = code.expect("invite for a new user");
    let short = app
        .post(
            &format!("/api/v1/invites/{code}"),
            &Auth::None,
            json!({ "password": "short" }),
        )
        .await;
    short.expect_error(400, "invalid_request");
    assert_eq!(short.body["error"]["details"]["field"], "password");
    let ok = app
        .post(
            &format!("/api/v1/invites/{code}"),
            &Auth::None,
            json!({ "password": "a good password", "name": "Nova" }),
        )
        .await;
    let ok = ok.expect(200);
    assert_eq!(ok["user"]["uuid"], uuid.as_str());
    assert_eq!(ok["user"]["name"], "Nova");
    app.post(
        &format!("/api/v1/invites/{code}"),
        &Auth::None,
        json!({ "password": "another password" }),
    )
    .await
    .expect_error(404, "not_found");
    app.post(
        "/api/v1/invites/nonsense",
        &Auth::None,
        json!({ "password": "another password" }),
    )
    .await
    .expect_error(404, "not_found");
    let session = app.login("new@acme.test", "a good password").await;
    assert_eq!(
        app.get("/api/v1/user", &session).await.expect(200)["role"],
        "editor"
    );
    // An existing user is invited to another organization, and joins it by
    // accepting with their own session.
    let globex = app
        .post("/api/v1/orgs", &session, json!({ "name": "Globex" }))
        .await;
    let globex = globex.expect(201)["uuid"].as_str().unwrap().to_string();
    app.post(
        "/api/v1/user/me/active-org",
        &session,
        json!({ "orgUuid": globex }),
    )
    .await
    .expect(200);
    let added = app
        .post(
            "/api/v1/org/users",
            &session,
            json!({ "email": ADMIN_EMAIL, "role": "viewer" }),
        )
        .await;
    let link = added.expect(201)["inviteUrl"].as_str().unwrap().to_string();
    assert_eq!(added.results()["status"], "invited");
    let orgs = app.get("/api/v1/orgs", &app.admin.session).await;
    assert_eq!(orgs.expect(200).as_array().unwrap().len(), 1);
    let code = link.trim_start_matches("/invite/");
    app.post(
        &format!("/api/v1/invites/{code}"),
        &app.admin.session,
        json!({}),
    )
    .await
    .expect(200);
    let orgs = app.get("/api/v1/orgs", &app.admin.session).await;
    assert_eq!(orgs.expect(200).as_array().unwrap().len(), 2);
}

async fn cookie_attributes(app: TestApp) {
    let r = app.try_login(ADMIN_EMAIL, PASSWORD, None).await;
    let cookie = r
        .headers
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.starts_with("latchkey_session="));
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert!(!cookie.contains("Secure"));
    let behind_https = app
        .http
        .post(format!("{}/api/v1/login", app.base))
        .header("X-Forwarded-Proto", "https")
        .json(&json!({ "email": ADMIN_EMAIL, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert!(behind_https
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .contains("Secure"));
}
