//! Login, logout, invites and the organization switch.

use crate::on_both_backends;
use crate::support::{Auth, Backend, TestApp, ADMIN_EMAIL, PASSWORD};
use serde_json::json;

on_both_backends!(
    login_and_logout,
    wrong_logins_look_alike_and_are_throttled,
    invites_work_once,
    cookie_attributes,
    passwords_are_argon2id_with_the_default_parameters,
);

mod sessions_last_seven_days {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::sessions_last_seven_days(super::Backend::Sqlite).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::sessions_last_seven_days(super::Backend::Postgres).await
    }
}

const SEVEN_DAYS: i64 = 7 * 24 * 60 * 60;

fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The cookie lives seven days, the stored session as long, and a session
/// past its stored end is refused. (The cache is off: the end is moved in
/// the database, behind the server's back.)
async fn sessions_last_seven_days(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.auth_cache_capacity = 0).await;
    let before = unix_now();
    let r = app.try_login(ADMIN_EMAIL, PASSWORD, None).await;
    r.expect(200);
    let cookie = r.headers["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie
            .split("; ")
            .any(|a| a == format!("Max-Age={SEVEN_DAYS}")),
        "{cookie}"
    );
    let rows = app
        .operator_integers("SELECT created_at, expires_at FROM sessions")
        .await;
    assert_eq!(rows.len(), 2, "the test app's own session and this one");
    for row in &rows {
        assert_eq!(row[1] - row[0], SEVEN_DAYS, "{rows:?}");
    }
    assert!(rows.iter().any(|r| (before..=unix_now()).contains(&r[0])));

    // The stored end is what counts: a minute before it the session works…
    let session = app.login(ADMIN_EMAIL, PASSWORD).await;
    let soon = unix_now() + 60;
    assert_eq!(
        app.operator_sql(&format!("UPDATE sessions SET expires_at = {soon}"))
            .await,
        3
    );
    app.get("/api/v1/user", &session).await.expect(200);
    // …and once it has passed, the session is refused, for the API as for
    // the pages; a token of the same user is not touched.
    let past = unix_now() - 1;
    app.operator_sql(&format!("UPDATE sessions SET expires_at = {past}"))
        .await;
    app.get("/api/v1/user", &session)
        .await
        .expect_error(401, "token_expired");
    let Auth::Session { cookie, .. } = &session else {
        unreachable!()
    };
    let page = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/settings/tokens", app.base))
        .header("Cookie", format!("latchkey_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303);
    assert_eq!(page.headers()["location"], "/login");
    app.get("/api/v1/user", &app.admin.pat).await.expect(200);
}

/// Every password is stored as an argon2id hash with argon2's default
/// parameters (19 MiB, two passes, one lane: the memory the password queue
/// budgets for), a salt of its own, and verifies: the first admin's, and
/// one set by accepting an invite.
async fn passwords_are_argon2id_with_the_default_parameters(app: TestApp) {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    let (_, code) = app.add_member("new@acme.test", "viewer").await;
    let invited = "an invited password";
    app.post(
        &format!("/api/v1/invites/{}", code.expect("an invite")),
        &Auth::None,
        json!({ "password": invited }),
    )
    .await
    .expect(200);
    let store = &app.server.as_ref().expect("running").store;
    let mut salts = Vec::new();
    for (email, password) in [(ADMIN_EMAIL, PASSWORD), ("new@acme.test", invited)] {
        let login = store.user_by_email(email).await.unwrap().expect("a user");
        let stored = login.password_hash.expect("a password hash");
        let stored = latchkey_core::ExposeSecret::expose_secret(&stored);
        let hash = PasswordHash::new(stored).expect("a PHC string");
        assert_eq!(hash.algorithm.as_str(), "argon2id", "{email}");
        assert_eq!(hash.version, Some(0x13), "{email}");
        let params = argon2::Params::try_from(&hash).expect("argon2 parameters");
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (19 * 1024, 2, 1),
            "{email}"
        );
        let salt = hash.salt.expect("a salt").to_string();
        assert!(salt.len() >= 22, "at least 16 bytes of salt: {salt}");
        salts.push(salt);
        let argon = argon2::Argon2::default();
        assert!(argon.verify_password(password.as_bytes(), &hash).is_ok());
        assert!(argon.verify_password(b"not it", &hash).is_err());
        assert!(!stored.contains(password));
    }
    assert_ne!(salts[0], salts[1], "each password has its own salt");
}

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
