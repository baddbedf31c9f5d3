//! What every page carries, and the pages at work: editing, switching, paging, the scope picker, expiry.

use crate::support::{Backend, TestApp, PASSWORD};
use crate::visitors::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_never_cached_framed_or_scripted_from_elsewhere() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let web = Web::new(&app);
    let admin = visitor("admin", &app.admin.session);
    for path in ["/login", "/settings/tokens"] {
        let response = web.get(path, &admin).await;
        let h = response.headers();
        assert_eq!(h["cache-control"], "no-store", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        let csp = h["content-security-policy"].to_str().expect("csp");
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
        let page = response.text().await.expect("body");
        assert!(!page.contains("<script>"), "no inline script on {path}");
    }
    for (asset, kind) in [
        ("/assets/app.css", "text/css"),
        ("/assets/app.js", "text/javascript"),
    ] {
        let response = web.get(asset, &admin).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], kind);
    }
    // The session cookie set by the sign-in form is HttpOnly and SameSite.
    let page = web
        .http
        .get(format!("{}/login", web.base))
        .send()
        .await
        .expect("get");
    let form_cookie = page.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .to_string();
    let token = form_cookie
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_string())
        .expect("form token");
    let response = web
        .http
        .post(format!("{}/login", web.base))
        .header("cookie", format!("latchkey_form={token}"))
        .form(&[
            ("email", crate::support::ADMIN_EMAIL),
            ("password", PASSWORD),
            ("_csrf", &token),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let session = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|c| c.to_str().ok())
        .find(|c| c.starts_with("latchkey_session="))
        .expect("session cookie")
        .to_string();
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Lax"),
        "{session}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_switching_and_paging() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let web = Web::new(&app);
    let admin = visitor("admin", &app.admin.session);
    let csrf = admin.csrf.clone();

    // Edit: rename, narrow, bring the expiry forward; never extend it.
    let (uuid, _) = app
        .create_pat(
            &app.admin.session,
            json!({ "name": "old name", "expiresAt": crate::support::in_days(60) }),
        )
        .await;
    let edit = format!("/settings/tokens/{uuid}/edit");
    let page = web.get(&edit, &admin).await.text().await.expect("page");
    assert!(
        page.contains("value=\"old name\""),
        "the form holds the name"
    );
    let earlier = (time::OffsetDateTime::now_utc() + time::Duration::days(10)).date();
    let later = (time::OffsetDateTime::now_utc() + time::Duration::days(90)).date();
    let response = web
        .post(
            &edit,
            &admin,
            &[
                ("name", "new name"),
                ("access", "selected"),
                ("scope", "content:read"),
                ("expiresOn", &later.to_string()),
                ("_csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response
        .text()
        .await
        .expect("page")
        .contains("role=\"alert\""));
    let response = web
        .post(
            &edit,
            &admin,
            &[
                ("name", "new name"),
                ("access", "selected"),
                ("scope", "content:read"),
                ("expiresOn", &earlier.to_string()),
                ("_csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let pat = app
        .get(
            &format!("/api/v1/user/me/personal-access-tokens/{uuid}"),
            &app.admin.session,
        )
        .await;
    let pat = pat.expect(200);
    assert_eq!(pat["name"], "new name");
    assert_eq!(pat["scopes"], json!(["content:read"]));
    assert!(pat["expiresAt"]
        .as_str()
        .expect("expiry")
        .starts_with(&earlier.to_string()));

    // Service accounts on the free plan: the page explains the plan.
    // Existing accounts stay listed; adding one is not offered.
    let response = web.get("/settings/service-accounts", &admin).await;
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.expect("page");
    assert!(page.contains("Enterprise plan required") && page.contains("set-plan"));
    assert!(!page.contains("id=\"add-service-account\""));

    // Switching organization: the header offers both; the pages follow.
    app.post(
        "/api/v1/orgs",
        &app.admin.session,
        json!({ "name": "Globex" }),
    )
    .await
    .expect(201);
    let page = web
        .get("/settings/tokens", &admin)
        .await
        .text()
        .await
        .expect("page");
    assert!(page.contains("id=\"org-switch\"") && page.contains("Globex"));
    let globex = app.get("/api/v1/orgs", &app.admin.session).await;
    let globex = globex
        .expect(200)
        .as_array()
        .expect("orgs")
        .iter()
        .find(|o| o["name"] == "Globex")
        .expect("Globex")["uuid"]
        .as_str()
        .expect("uuid")
        .to_string();
    let response = web
        .post(
            "/settings/active-org",
            &admin,
            &[("orgUuid", &globex), ("_csrf", &csrf)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let page = web
        .get("/settings/tokens", &admin)
        .await
        .text()
        .await
        .expect("page");
    assert!(
        page.contains("<strong>Globex</strong>"),
        "the tokens of Globex"
    );
    assert!(page.contains("You have no tokens in this organization."));
    let response = web
        .post(
            "/settings/active-org",
            &admin,
            &[("orgUuid", &app.org_uuid), ("_csrf", &csrf)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    // The audit log pages by 50, newest first, keeping its filter.
    for i in 0..55 {
        app.create_project(&format!("p{i}")).await;
    }
    let page = web
        .get("/settings/audit-log?action=project.created", &admin)
        .await
        .text()
        .await
        .expect("page");
    assert_eq!(page.matches("<code>project.created</code>").count(), 50);
    let at = page.find("id=\"older\" href=\"").expect("an older page") + 17;
    let next = page[at..]
        .split('"')
        .next()
        .expect("href")
        .replace("&amp;", "&");
    assert!(next.contains("action=project.created") && next.contains("cursor="));
    let older = web.get(&next, &admin).await;
    assert_eq!(older.status(), StatusCode::OK);
    let older = older.text().await.expect("page");
    assert_eq!(older.matches("<code>project.created</code>").count(), 5);
    assert!(!older.contains("id=\"older\""));
    let response = web.get("/settings/audit-log?actorUuid=nope", &admin).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.expect("page").contains("actorUuid"));
    app.stop().await;
}

/// The scope checkboxes of `/settings/tokens/new`, in page order.
fn offered_scopes(page: &str) -> Vec<String> {
    page.split("name=\"scope\" value=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().expect("value").to_string())
        .collect()
}

/// The picker offers what the API accepts: organization scopes and every
/// project role's, custom project roles included (`GET /api/v1/org/projects`
/// cannot tell: it shows a custom project role as `role: null`, and not at
/// all a project whose custom role lacks `projects:read`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scope_picker_offers_what_the_api_accepts() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.set_plan("enterprise").await;
    let web = Web::new(&app);
    let project = app.create_project("Website").await;
    let other = app.create_project("Docs").await;
    let editor = app.person("editor@acme.test", "member").await;
    let custom = app.person("custom@acme.test", "member").await;
    app.put(
        &format!("/api/v1/projects/{project}/access/{}", editor.uuid),
        &app.admin.session,
        json!({ "role": "editor" }),
    )
    .await
    .expect(200);
    // A custom project role without `projects:read`: the project is not even
    // listed for its holder, yet the API lets them grant `deploy:write`.
    let role = app
        .post(
            "/api/v1/org/roles",
            &app.admin.session,
            json!({ "name": "Deployer", "scopes": ["deploy:write"] }),
        )
        .await;
    let role = role.expect(201)["uuid"].as_str().expect("uuid").to_string();
    app.put(
        &format!("/api/v1/projects/{other}/access/{}", custom.uuid),
        &app.admin.session,
        json!({ "customRoleUuid": role }),
    )
    .await
    .expect(200);

    // The editor: exactly the editor role's scopes, and a token with one.
    let who = visitor("editor", &editor.session);
    let page = web.get("/settings/tokens/new", &who).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.expect("page");
    let mut offered = offered_scopes(&page);
    offered.sort();
    assert_eq!(
        offered,
        [
            "comments:write",
            "content:export",
            "content:read",
            "content:write",
            "projects:read",
            "schedules:write",
        ],
        "{page}"
    );
    let response = web
        .post(
            "/settings/tokens",
            &who,
            &[
                ("name", "writer"),
                ("expiry", "30"),
                ("access", "selected"),
                ("scope", "content:write"),
                ("_csrf", &who.csrf),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let tokens = app
        .get("/api/v1/user/me/personal-access-tokens", &editor.session)
        .await;
    let tokens = tokens.expect(200);
    let writer = tokens
        .as_array()
        .expect("list")
        .iter()
        .find(|t| t["name"] == "writer")
        .expect("the token was made");
    assert_eq!(writer["scopes"], json!(["content:write"]));

    // A custom project role counts, listed project or not.
    let who = visitor("custom", &custom.session);
    let page = web.get("/settings/tokens/new", &who).await;
    let page = page.text().await.expect("page");
    assert_eq!(offered_scopes(&page), ["deploy:write"], "{page}");
    app.stop().await;
}

/// A member without a project role holds no scope: no checkbox, and no
/// "only these scopes" that could only fail; the full role alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_without_scopes_is_offered_the_full_role_only() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let web = Web::new(&app);
    let bare = app.person("bare@acme.test", "member").await;
    let who = visitor("bare", &bare.session);
    let page = web.get("/settings/tokens/new", &who).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.expect("page");
    assert!(offered_scopes(&page).is_empty(), "{page}");
    assert!(page.contains("id=\"access-full\"") && page.contains("Full role"));
    assert!(!page.contains("id=\"access-selected\""), "{page}");
    app.stop().await;
}

/// "Expires in N days": whole days, rounded up, as the CLI says it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_reads_in_whole_days_rounded_up() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let web = Web::new(&app);
    let admin = visitor("admin", &app.admin.session);
    // As a real request has it: now + 30 days, a moment ago.
    let at =
        time::OffsetDateTime::now_utc() + time::Duration::days(30) - time::Duration::seconds(5);
    let at = at
        .format(&time::format_description::well_known::Rfc3339)
        .expect("rfc3339");
    app.create_pat(
        &app.admin.session,
        json!({ "name": "thirty", "expiresAt": at }),
    )
    .await;
    let page = web
        .get("/settings/tokens", &admin)
        .await
        .text()
        .await
        .expect("page");
    assert!(page.contains("Expires in 30 days"), "{page}");
    app.stop().await;
}
