//! The settings pages in a real headless Chromium, against the real server
//! on 127.0.0.1:0. Screenshots of each page land in
//! `target/browser-screenshots/`.

#[allow(dead_code)]
#[path = "../api/support.rs"]
mod support;

mod chrome;

use chrome::Browser;
use serde_json::json;
use support::{Auth, Backend, TestApp, ADMIN_EMAIL, PASSWORD};

/// The page is no wider than the window: nothing scrolls sideways but tables.
async fn fits_width(browser: &Browser) -> bool {
    browser
        .script("return document.documentElement.scrollWidth <= window.innerWidth;")
        .await
        .as_bool()
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pat_is_created_used_rotated_and_revoked_from_the_page() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let browser = Browser::start("personal_access_tokens", &app.base).await;
    browser.open("/settings/tokens").await;
    assert_eq!(
        browser.heading().await,
        "Sign in",
        "signed out goes to sign-in"
    );
    browser.shot("01-sign-in").await;
    browser.sign_in(ADMIN_EMAIL, PASSWORD).await;
    assert_eq!(browser.heading().await, "Personal access tokens");
    browser.shot("02-tokens").await;

    // New token: 30 days, one scope.
    browser.go("#new-token").await;
    assert_eq!(browser.heading().await, "New personal access token");
    assert!(
        browser
            .text("#expiry-advice")
            .await
            .contains("We recommend"),
        "the picker recommends an expiry"
    );
    // Only scopes the admin holds are offered; operator scopes are not
    // part of the organization roles' catalog view unless held.
    assert!(browser.has("#scope-content-read").await);
    browser.fill("#name", "CI deploys").await;
    browser
        .find("#expiry")
        .await
        .select_by_value("30")
        .await
        .expect("select");
    browser.click("#scope-content-read").await;
    assert!(
        browser
            .find("#access-selected")
            .await
            .is_selected()
            .await
            .expect("radio"),
        "ticking a scope chooses 'only these scopes'"
    );
    browser.shot("03-new-token").await;
    browser.go("#create-token").await;
    let secret = browser.value("#new-token-secret").await;
    assert!(
        secret.starts_with("lkpat_"),
        "the secret is shown: {secret}"
    );
    assert!(browser
        .text("section.secret")
        .await
        .contains("will not be shown again"));
    assert!(
        !browser.url().await.contains(&secret),
        "no secret in the address"
    );
    assert!(
        !browser.title().await.contains(&secret),
        "no secret in the title"
    );
    browser.click("#copy-token").await;
    browser.shot("04-token-created").await;
    // The list without the one-time panel: the README's picture.
    browser.open("/settings/tokens").await;
    assert!(!browser.has("#new-token-secret").await, "shown once only");
    assert!(!browser.text("main").await.contains(&secret[10..]));
    browser.shot("04b-tokens-list").await;

    // The token works, with its one scope and a 30-day expiry.
    let me = app.get("/api/v1/user", &Auth::Token(secret.clone())).await;
    assert_eq!(me.expect(200)["scopes"], json!(["content:read"]));
    let expires = me.results()["credential"]["expiresAt"]
        .as_str()
        .expect("an expiry")
        .to_string();
    let expires =
        time::OffsetDateTime::parse(&expires, &time::format_description::well_known::Rfc3339)
            .expect("time");
    let days = (expires - time::OffsetDateTime::now_utc()).whole_hours();
    assert!(
        (29 * 24..=30 * 24).contains(&days),
        "30 days, got {days} hours"
    );
    let row = browser.text("#tokens tbody tr").await;
    assert!(
        row.contains("CI deploys") && row.contains("content:read"),
        "{row}"
    );
    assert!(
        row.contains("Expires in 29 days") || row.contains("Expires in 30 days"),
        "{row}"
    );

    // Rotate from the page: a new secret, the old one refused.
    browser.go("a[aria-label='Rotate CI deploys']").await;
    assert_eq!(browser.heading().await, "Rotate token");
    browser
        .find("#expiry")
        .await
        .select_by_value("7")
        .await
        .expect("select");
    browser.shot("05-rotate").await;
    browser.go("main form button[type=submit]").await;
    let rotated = browser.value("#new-token-secret").await;
    assert!(rotated.starts_with("lkpat_") && rotated != secret);
    browser.shot("06-rotated").await;
    app.get("/api/v1/user", &Auth::Token(secret.clone()))
        .await
        .expect_error(401, "token_revoked");
    app.get("/api/v1/user", &Auth::Token(rotated.clone()))
        .await
        .expect(200);

    // Revoke, with a confirmation; then the token is refused.
    browser.go("a[aria-label='Revoke CI deploys']").await;
    assert_eq!(browser.heading().await, "Revoke token");
    browser.shot("07-revoke-confirm").await;
    browser.go("form.confirm button.danger").await;
    assert!(browser
        .text(".notice.success")
        .await
        .contains("Token revoked"));
    assert!(!browser.text("main").await.contains("CI deploys"));
    browser.shot("08-revoked").await;
    app.get("/api/v1/user", &Auth::Token(rotated))
        .await
        .expect_error(401, "token_revoked");

    // A token without expiry: rotation is disabled, with the reason.
    browser.go("#new-token").await;
    browser.fill("#name", "forever").await;
    browser
        .find("#expiry")
        .await
        .select_by_value("none")
        .await
        .expect("select");
    browser.go("#create-token").await;
    browser.find("#new-token-secret").await;
    let rotate = browser.find("button[aria-label^='Rotate forever']").await;
    assert!(!rotate.is_enabled().await.expect("enabled"));
    assert!(browser.text("main").await.contains("cannot be rotated"));

    // 360 px wide: the page still fits; the table scrolls in its box.
    browser
        .client
        .set_window_size(360, 800)
        .await
        .expect("resize");
    browser.open("/settings/tokens").await;
    browser.shot("09-tokens-360px").await;
    let widths = browser
        .script("return [window.innerWidth, document.documentElement.scrollWidth, [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth).map(e => e.tagName + '.' + e.className).slice(0, 8)];")
        .await;
    assert!(
        fits_width(&browser).await,
        "the tokens page fits 360 px: {widths}"
    );
    browser.open("/settings/tokens/new").await;
    assert!(fits_width(&browser).await, "the new-token form fits 360 px");
    browser.shot("10-new-token-360px").await;
    browser.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_adds_a_project_scoped_service_account_with_two_projects() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.set_plan("enterprise").await;
    let alpha = app.create_project("Alpha").await;
    app.create_project("Beta").await;
    let browser = Browser::start("service_accounts", &app.base).await;
    browser.sign_in(ADMIN_EMAIL, PASSWORD).await;
    browser.go("nav a[href='/settings/service-accounts']").await;
    assert_eq!(browser.heading().await, "Service accounts");
    browser.shot("01-service-accounts-empty").await;

    // The dialog, project scope, two rows.
    browser.click("#add-service-account").await;
    let dialog_open = browser
        .script("return document.getElementById('add-service-account-dialog').open;")
        .await;
    assert_eq!(dialog_open, json!(true), "the dialog opens in place");
    browser.fill("#description", "nightly export").await;
    browser.click("#scope-project").await;
    assert!(!browser
        .find("#sa-role")
        .await
        .is_displayed()
        .await
        .expect("shown"));
    let row = |n: usize, what: &str| {
        format!("#project-rows .project-row:nth-child({n}) select[name={what}]")
    };
    browser
        .find(&row(1, "project"))
        .await
        .select_by_label("Alpha")
        .await
        .expect("select");
    browser
        .find(&row(1, "projectRole"))
        .await
        .select_by_value("editor")
        .await
        .expect("select");
    browser.click("#add-project-row").await;
    browser
        .find(&row(2, "project"))
        .await
        .select_by_label("Beta")
        .await
        .expect("select");
    browser
        .find(&row(2, "projectRole"))
        .await
        .select_by_value("viewer")
        .await
        .expect("select");
    browser.shot("02-add-dialog").await;
    browser.go("#create-service-account").await;
    let secret = browser.value("#new-token-secret").await;
    assert!(secret.starts_with("lksvc_"), "{secret}");
    browser.shot("03-created").await;

    // Its token reaches Alpha as an editor and nothing organization-wide.
    let token = Auth::Token(secret);
    app.get(&format!("/api/v1/projects/{alpha}"), &token)
        .await
        .expect(200);
    app.get("/api/v1/org/users", &token)
        .await
        .expect_error(403, "missing_scope");

    // The badge, and its grants on focus (keyboard) and hover.
    let badge = browser.find("#service-accounts .badge.projects").await;
    assert_eq!(badge.text().await.expect("text"), "2 projects");
    assert_eq!(
        browser.text("#service-accounts .tooltip").await,
        "",
        "hidden until asked"
    );
    browser
        .script("document.querySelector('#service-accounts .badge.projects').focus();")
        .await;
    let grants = browser.text("#service-accounts .tooltip").await;
    assert!(grants.contains("Alpha — Editor"), "{grants}");
    assert!(grants.contains("Beta — Viewer"), "{grants}");
    browser.shot("04-badge-grants").await;

    // The ⋯ menu, opened from the keyboard: rotate and delete; no custom
    // role to view.
    let enter = char::from(fantoccini::key::Key::Enter).to_string();
    browser
        .find("#service-accounts details.menu summary")
        .await
        .send_keys(&enter)
        .await
        .expect("enter");
    let menu = browser.text("#service-accounts details.menu ul").await;
    assert!(
        menu.contains("Rotate token") && menu.contains("Delete"),
        "{menu}"
    );
    assert!(!menu.contains("View custom role"));
    browser.shot("05-menu").await;
    browser
        .go("#service-accounts details.menu a[href$='/delete']")
        .await;
    assert_eq!(browser.heading().await, "Delete service account");
    browser.go("form.confirm button.danger").await;
    browser.find(".notice.success").await;
    app.get(&format!("/api/v1/projects/{alpha}"), &token)
        .await
        .expect_error(401, "token_revoked");
    browser.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_cannot_reach_admin_pages() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.set_plan("enterprise").await;
    app.person("viewer@acme.test", "viewer").await;
    let browser = Browser::start("viewer", &app.base).await;
    browser.sign_in("viewer@acme.test", PASSWORD).await;
    let nav = browser.text("nav").await;
    for admin_only in ["Service accounts", "API keys", "Members", "Audit log"] {
        assert!(
            !nav.contains(admin_only),
            "{admin_only} offered to a viewer: {nav}"
        );
    }
    browser.shot("01-viewer-tokens").await;
    for path in [
        "/settings/service-accounts",
        "/settings/api-keys",
        "/settings/members",
        "/settings/audit-log",
        "/settings/roles/new",
    ] {
        browser.open(path).await;
        assert_eq!(browser.heading().await, "Not allowed", "{path}");
        assert!(!browser.has("table").await, "{path} shows no data");
    }
    browser.shot("02-viewer-refused").await;
    // Signing out ends the session: the pages go back to sign-in.
    browser.open("/settings/tokens").await;
    browser.go("header form button").await;
    browser.find("#email").await;
    browser.open("/settings/tokens").await;
    assert_eq!(browser.heading().await, "Sign in");
    browser.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_other_pages_render_for_an_admin() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.set_plan("enterprise").await;
    let project = app.create_project("Website").await;
    let browser = Browser::start("admin_pages", &app.base).await;
    browser.sign_in(ADMIN_EMAIL, PASSWORD).await;

    // Members: invite shows the link; the invitee sets a password with it.
    browser.open("/settings/members").await;
    browser.fill("#invite-email", "new@acme.test").await;
    browser
        .find("#invite-role")
        .await
        .select_by_value("editor")
        .await
        .expect("select");
    browser.go("details.panel form button[type=submit]").await;
    let link = browser.value("#invite-link").await;
    assert!(link.contains("/invite/"), "{link}");
    browser.shot("01-members-invited").await;

    // API keys: create one no higher than the admin's role.
    browser.open("/settings/api-keys/new").await;
    browser.fill("#name", "billing sync").await;
    browser
        .find("#key-role")
        .await
        .select_by_value("developer")
        .await
        .expect("select");
    browser.go("#create-api-key").await;
    let key = browser.value("#new-token-secret").await;
    assert!(key.starts_with("lkkey_"), "{key}");
    app.get("/api/v1/user", &Auth::Token(key)).await.expect(200);
    browser.shot("02-api-keys").await;

    // Custom roles: a scope checklist.
    browser.open("/settings/roles/new").await;
    browser.fill("#role-name", "Auditor").await;
    browser.click("#role-scope-audit-read").await;
    browser.shot("03-new-role").await;
    browser.go("main form button[type=submit]").await;
    assert!(browser.text("#custom-roles").await.contains("Auditor"));
    browser.shot("04-roles").await;

    // Projects and project access.
    browser.open(&format!("/settings/projects/{project}")).await;
    assert_eq!(browser.heading().await, "Website");
    browser.shot("05-project").await;

    // The audit log shows what the pages did, and filters.
    browser.open("/settings/audit-log").await;
    let log = browser.text("#audit-log").await;
    assert!(
        log.contains("api_key.created") && log.contains("role.created"),
        "{log}"
    );
    browser.shot("06-audit-log").await;
    browser.fill("#f-action", "api_key.created").await;
    browser.go("form.filters button[type=submit]").await;
    let filtered = browser.text("#audit-log").await;
    assert!(filtered.contains("api_key.created") && !filtered.contains("role.created"));

    // Every other page, each with its screenshot, at 1280 and 360 px.
    let first = |r: support::Resp, key: &str| -> String {
        r.expect(200)[0][key].as_str().expect("uuid").to_string()
    };
    let pat = first(
        app.get("/api/v1/user/me/personal-access-tokens", &app.admin.session)
            .await,
        "uuid",
    );
    let api_key = first(
        app.get("/api/v1/org/api-keys", &app.admin.session).await,
        "uuid",
    );
    let role = app.get("/api/v1/org/roles", &app.admin.session).await;
    let role = role.expect(200)["customRoles"][0]["uuid"]
        .as_str()
        .expect("uuid")
        .to_string();
    let member = first(
        app.get("/api/v1/org/users", &app.admin.session).await,
        "userUuid",
    );
    let pages = [
        ("tokens-new", "/settings/tokens/new".to_string()),
        ("token-edit", format!("/settings/tokens/{pat}/edit")),
        (
            "token-rotate-no-expiry",
            format!("/settings/tokens/{pat}/rotate"),
        ),
        (
            "service-accounts-new",
            "/settings/service-accounts/new".into(),
        ),
        ("api-keys-new", "/settings/api-keys/new".into()),
        (
            "api-key-rotate",
            format!("/settings/api-keys/{api_key}/rotate"),
        ),
        (
            "api-key-revoke",
            format!("/settings/api-keys/{api_key}/revoke"),
        ),
        ("members", "/settings/members".into()),
        (
            "member-remove",
            format!("/settings/members/{member}/remove"),
        ),
        ("projects", "/settings/projects".into()),
        ("roles", "/settings/roles".into()),
        ("role", format!("/settings/roles/{role}")),
        ("role-delete", format!("/settings/roles/{role}/delete")),
    ];
    for (width, suffix) in [(1280, ""), (360, "-360px")] {
        browser
            .client
            .set_window_size(width, 900)
            .await
            .expect("resize");
        for (name, path) in &pages {
            browser.open(path).await;
            let heading = browser.heading().await;
            assert!(
                !["Not allowed", "Not found", "Something went wrong"].contains(&heading.as_str()),
                "{path}: {heading}"
            );
            assert!(fits_width(&browser).await, "{path} fits {width} px");
            browser.shot(&format!("page-{name}{suffix}")).await;
        }
    }

    // The invitee accepts in a fresh browser and lands on their tokens.
    browser.close().await;
    let invitee = Browser::start("invite", &app.base).await;
    let path = link
        .split_once("/invite/")
        .map(|(_, code)| format!("/invite/{code}"))
        .expect("path");
    invitee.open(&path).await;
    invitee.fill("#password", "a long new password").await;
    invitee.fill("#password2", "a long new password").await;
    invitee.shot("01-accept-invite").await;
    invitee.go("form button[type=submit]").await;
    assert!(invitee
        .text(".notice.success")
        .await
        .contains("password is set"));
    invitee
        .sign_in("new@acme.test", "a long new password")
        .await;
    assert_eq!(invitee.heading().await, "Personal access tokens");
    invitee.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_changes_their_password_and_signs_out_elsewhere() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let elsewhere = app.login(ADMIN_EMAIL, PASSWORD).await;
    let browser = Browser::start("account", &app.base).await;
    browser.sign_in(ADMIN_EMAIL, PASSWORD).await;
    browser.open("/settings/account").await;
    assert_eq!(browser.heading().await, "Account");
    let sessions = browser.text("#sessions").await;
    assert!(sessions.contains("This session"), "{sessions}");
    // The page's own session, the shared one and `elsewhere`.
    assert_eq!(
        browser
            .script("return document.querySelectorAll('#sessions tbody tr').length")
            .await,
        3
    );
    browser.shot("01-account").await;

    // A wrong current password: the page says so and nothing changes.
    browser.fill("#current-password", "not the password").await;
    browser.fill("#new-password", "a new long passphrase").await;
    browser.go("#change-password").await;
    let refused = browser.text(".notice").await;
    assert!(
        refused.contains("Current password") || refused.contains("currentPassword"),
        "{refused}"
    );
    assert_eq!(
        browser.value("#current-password").await,
        "",
        "typed passwords are not sent back"
    );
    app.get("/api/v1/user", &elsewhere).await.expect(200);

    browser.fill("#current-password", PASSWORD).await;
    browser.fill("#new-password", "a new long passphrase").await;
    browser.go("#change-password").await;
    assert!(browser
        .text(".notice.success")
        .await
        .contains("Password changed"));
    app.get("/api/v1/user", &elsewhere)
        .await
        .expect_error(401, "token_revoked");
    assert_eq!(
        browser
            .script("return document.querySelectorAll('#sessions tbody tr').length")
            .await,
        1,
        "only the page's own session is left"
    );
    assert!(!browser.has("#end-other-sessions").await);
    browser.shot("02-password-changed").await;
    app.try_login(ADMIN_EMAIL, "a new long passphrase", None)
        .await
        .expect(200);
    browser.close().await;
    app.stop().await;
}
