//! Who may open which page: a table, as for the API.

use crate::support::{Auth, Backend, TestApp, PASSWORD};
use reqwest::redirect::Policy;
use reqwest::StatusCode;
use serde_json::json;

pub(crate) struct Web {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
}

#[derive(Clone)]
pub(crate) struct Visitor {
    pub(crate) name: &'static str,
    pub(crate) cookie: Option<String>,
    pub(crate) csrf: String,
}

impl Web {
    pub(crate) fn new(app: &TestApp) -> Web {
        Web {
            http: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .expect("client"),
            base: app.base.clone(),
        }
    }

    pub(crate) async fn get(&self, path: &str, who: &Visitor) -> reqwest::Response {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(c) = &who.cookie {
            req = req.header("cookie", format!("latchkey_session={c}"));
        }
        req.send().await.expect("get")
    }

    pub(crate) async fn post(
        &self,
        path: &str,
        who: &Visitor,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = self.http.post(format!("{}{path}", self.base)).form(form);
        if let Some(c) = &who.cookie {
            req = req.header("cookie", format!("latchkey_session={c}"));
        }
        req.send().await.expect("post")
    }
}

pub(crate) fn visitor(name: &'static str, auth: &Auth) -> Visitor {
    match auth {
        Auth::Session { cookie, csrf } => Visitor {
            name,
            cookie: Some(cookie.clone()),
            csrf: csrf.clone(),
        },
        _ => panic!("a session"),
    }
}

/// What a visitor gets: the page, the page saying no, or the sign-in page.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Sees {
    Page,
    Forbidden,
    NotFound,
    SignIn,
}
pub(crate) use Sees::*;

pub(crate) fn seen(response: &reqwest::Response) -> Sees {
    match response.status() {
        StatusCode::OK => Page,
        StatusCode::FORBIDDEN => Forbidden,
        StatusCode::NOT_FOUND => NotFound,
        StatusCode::SEE_OTHER
            if response
                .headers()
                .get("location")
                .is_some_and(|l| l == "/login") =>
        {
            SignIn
        }
        other => panic!("unexpected status {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_against_every_kind_of_visitor() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.set_plan("enterprise").await;
    let web = Web::new(&app);
    let project = app.create_project("Website").await;
    let member = app.person("member@acme.test", "member").await;
    let viewer = app.person("viewer@acme.test", "viewer").await;
    let developer = app.person("developer@acme.test", "developer").await;
    // A custom role holding only `audit:read`.
    let role = app
        .post(
            "/api/v1/org/roles",
            &app.admin.session,
            json!({ "name": "Auditor", "scopes": ["audit:read"] }),
        )
        .await;
    let role_uuid = role.expect(201)["uuid"].as_str().expect("uuid").to_string();
    let added = app
        .post(
            "/api/v1/org/users",
            &app.admin.session,
            json!({ "email": "auditor@acme.test", "customRoleUuid": role_uuid }),
        )
        .await;
    let code = added.expect(201)["inviteUrl"]
        .as_str()
        .expect("invite")
        .trim_start_matches("/invite/")
        .to_string();
    app.post(
        &format!("/api/v1/invites/{code}"),
        &Auth::None,
        json!({ "password": PASSWORD }),
    )
    .await
    .expect(200);
    let auditor = app.login("auditor@acme.test", PASSWORD).await;

    let key = app
        .post(
            "/api/v1/org/api-keys",
            &app.admin.session,
            json!({ "name": "k", "role": "viewer", "expiresAt": crate::support::in_days(30) }),
        )
        .await;
    let key = key.expect(201)["uuid"].as_str().expect("uuid").to_string();
    let sa = app
        .post(
            "/api/v1/service-accounts",
            &app.admin.session,
            json!({ "description": "sa", "scope": "organization", "role": "viewer", "expiresAt": crate::support::in_days(30) }),
        )
        .await;
    let sa = sa.expect(201)["uuid"].as_str().expect("uuid").to_string();
    // The admin's own PAT, which nobody else may open.
    let admin_pat = app
        .get("/api/v1/user/me/personal-access-tokens", &app.admin.session)
        .await;
    let admin_pat = admin_pat.expect(200)[0]["uuid"]
        .as_str()
        .expect("uuid")
        .to_string();

    let who = [
        Visitor {
            name: "anonymous",
            cookie: None,
            csrf: String::new(),
        },
        visitor("member", &member.session),
        visitor("viewer", &viewer.session),
        visitor("developer", &developer.session),
        visitor("auditor", &auditor),
        visitor("admin", &app.admin.session),
    ];
    let pat = format!("/settings/tokens/{admin_pat}");
    // Columns as `who`: anonymous, member, viewer, developer, auditor, admin.
    let rows: Vec<(String, [Sees; 6])> = vec![
        (
            "/settings/tokens".into(),
            [SignIn, Page, Page, Page, Page, Page],
        ),
        (
            "/settings/tokens/new".into(),
            [SignIn, Page, Page, Page, Page, Page],
        ),
        (
            format!("{pat}/edit"),
            [SignIn, NotFound, NotFound, NotFound, NotFound, Page],
        ),
        (
            format!("{pat}/rotate"),
            [SignIn, NotFound, NotFound, NotFound, NotFound, Page],
        ),
        (
            format!("{pat}/revoke"),
            [SignIn, NotFound, NotFound, NotFound, NotFound, Page],
        ),
        (
            "/settings/service-accounts".into(),
            [SignIn, Forbidden, Forbidden, Forbidden, Forbidden, Page],
        ),
        (
            "/settings/service-accounts/new".into(),
            [SignIn, Forbidden, Forbidden, Forbidden, Forbidden, Page],
        ),
        (
            format!("/settings/service-accounts/{sa}/rotate"),
            [SignIn, Forbidden, Forbidden, Forbidden, Forbidden, Page],
        ),
        (
            format!("/settings/service-accounts/{sa}/delete"),
            [SignIn, Forbidden, Forbidden, Forbidden, Forbidden, Page],
        ),
        (
            "/settings/api-keys".into(),
            [SignIn, Forbidden, Forbidden, Forbidden, Forbidden, Page],
        ),
        (
            "/settings/api-keys/new".into(),
            [SignIn, Forbidden, Forbidden, Forbidden, Forbidden, Page],
        ),
        (
            format!("/settings/api-keys/{key}/rotate"),
            [SignIn, Forbidden, Forbidden, Forbidden, Forbidden, Page],
        ),
        (
            format!("/settings/api-keys/{key}/revoke"),
            [SignIn, Forbidden, Forbidden, Forbidden, Forbidden, Page],
        ),
        (
            "/settings/members".into(),
            [SignIn, Forbidden, Forbidden, Forbidden, Forbidden, Page],
        ),
        (
            format!("/settings/members/{}/remove", viewer.uuid),
            [SignIn, Forbidden, Forbidden, Forbidden, Forbidden, Page],
        ),
        (
            "/settings/projects".into(),
            [SignIn, Page, Page, Page, Page, Page],
        ),
        (
            format!("/settings/projects/{project}"),
            [SignIn, NotFound, Page, Page, NotFound, Page],
        ),
        (
            "/settings/roles".into(),
            [SignIn, Page, Page, Page, Page, Page],
        ),
        (
            "/settings/roles/new".into(),
            [SignIn, Forbidden, Forbidden, Forbidden, Forbidden, Page],
        ),
        (
            format!("/settings/roles/{role_uuid}"),
            [SignIn, Page, Page, Page, Page, Page],
        ),
        (
            "/settings/audit-log".into(),
            [SignIn, Forbidden, Forbidden, Forbidden, Page, Page],
        ),
    ];
    let mut wrong = Vec::new();
    for (path, expected) in &rows {
        for (visitor, want) in who.iter().zip(expected) {
            let got = seen(&web.get(path, visitor).await);
            if got != *want {
                wrong.push(format!(
                    "{path} as {}: {got:?}, expected {want:?}",
                    visitor.name
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} cells wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );

    // Another organization's things are missing pages, even for its admin.
    let other = app
        .post(
            "/api/v1/orgs",
            &app.admin.session,
            json!({ "name": "Other" }),
        )
        .await;
    let other_org = other.expect(201)["uuid"]
        .as_str()
        .expect("uuid")
        .to_string();
    app.set_plan_of(&other_org, "enterprise").await;
    let elsewhere = app
        .try_login(crate::support::ADMIN_EMAIL, PASSWORD, Some(&other_org))
        .await;
    elsewhere.expect(200);
    let other_admin = {
        let cookie = elsewhere.headers["set-cookie"]
            .to_str()
            .expect("cookie")
            .split(';')
            .next()
            .and_then(|kv| kv.split_once('='))
            .map(|(_, v)| v.to_string())
            .expect("value");
        Visitor {
            name: "admin of another organization",
            cookie: Some(cookie),
            csrf: elsewhere.results()["csrfToken"]
                .as_str()
                .expect("csrf")
                .into(),
        }
    };
    for path in [
        format!("{pat}/edit"),
        format!("/settings/service-accounts/{sa}/rotate"),
        format!("/settings/api-keys/{key}/revoke"),
        format!("/settings/members/{}/remove", viewer.uuid),
        format!("/settings/projects/{project}"),
        format!("/settings/roles/{role_uuid}"),
    ] {
        assert_eq!(
            seen(&web.get(&path, &other_admin).await),
            NotFound,
            "{path}"
        );
    }
    // …and so are its changes.
    let response = web
        .post(
            &format!("/settings/service-accounts/{sa}/delete"),
            &other_admin,
            &[("_csrf", &other_admin.csrf)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    app.get(
        &format!("/api/v1/service-accounts/{sa}"),
        &app.admin.session,
    )
    .await
    .expect(200);
    app.stop().await;
}
