//! The settings pages over plain HTTP: who may open which page (a table, as
//! for the API), CSRF on every form, bad form input, and the headers every
//! page carries. The browser tests (`tests/browser/`) cover what needs a
//! real browser.

#[allow(dead_code)]
#[path = "api/support.rs"]
mod support;

use reqwest::redirect::Policy;
use reqwest::StatusCode;
use serde_json::json;
use support::{Auth, Backend, TestApp, PASSWORD};

struct Web {
    http: reqwest::Client,
    base: String,
}

#[derive(Clone)]
struct Visitor {
    name: &'static str,
    cookie: Option<String>,
    csrf: String,
}

impl Web {
    fn new(app: &TestApp) -> Web {
        Web {
            http: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .expect("client"),
            base: app.base.clone(),
        }
    }

    async fn get(&self, path: &str, who: &Visitor) -> reqwest::Response {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(c) = &who.cookie {
            req = req.header("cookie", format!("latchkey_session={c}"));
        }
        req.send().await.expect("get")
    }

    async fn post(&self, path: &str, who: &Visitor, form: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self.http.post(format!("{}{path}", self.base)).form(form);
        if let Some(c) = &who.cookie {
            req = req.header("cookie", format!("latchkey_session={c}"));
        }
        req.send().await.expect("post")
    }
}

fn visitor(name: &'static str, auth: &Auth) -> Visitor {
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
enum Sees {
    Page,
    Forbidden,
    NotFound,
    SignIn,
}
use Sees::*;

fn seen(response: &reqwest::Response) -> Sees {
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
            json!({ "name": "k", "role": "viewer", "expiresAt": support::in_days(30) }),
        )
        .await;
    let key = key.expect(201)["uuid"].as_str().expect("uuid").to_string();
    let sa = app
        .post(
            "/api/v1/service-accounts",
            &app.admin.session,
            json!({ "description": "sa", "scope": "organization", "role": "viewer", "expiresAt": support::in_days(30) }),
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
        .try_login(support::ADMIN_EMAIL, PASSWORD, Some(&other_org))
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

/// A form of a page: where it posts, and the fields it would send (the CSRF
/// field left out), as a browser would fill them in unchanged.
#[derive(Debug)]
struct PageForm {
    action: String,
    fields: Vec<(String, String)>,
}

/// The value of `name="…"` in one tag.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let len = tag[at..].find('"')?;
    Some(
        tag[at..at + len]
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// Every `<form method="post">` of a page.
fn post_forms(page: &str) -> Vec<PageForm> {
    let mut forms = Vec::new();
    let mut rest = page;
    while let Some(at) = rest.find("<form") {
        rest = &rest[at..];
        let tag = &rest[..rest.find('>').expect("a form tag ends")];
        let body = &rest[..rest.find("</form>").expect("a form ends")];
        rest = &rest[body.len()..];
        if attribute(tag, "method").as_deref() != Some("post") {
            continue;
        }
        let mut fields = Vec::new();
        let mut inner = &body[tag.len()..];
        while let Some(at) = inner.find('<') {
            inner = &inner[at..];
            let tag = &inner[..inner.find('>').unwrap_or(inner.len())];
            let name = attribute(tag, "name");
            if let Some(name) = name.filter(|n| n != "_csrf") {
                if tag.starts_with("<input") {
                    let kind = attribute(tag, "type").unwrap_or_default();
                    let value = attribute(tag, "value").filter(|v| !v.is_empty());
                    // What a forged form would fill in: something valid.
                    let value = value.unwrap_or_else(|| match kind.as_str() {
                        "email" => "forged@acme.test".into(),
                        "number" => "7".into(),
                        "date" => "2099-01-01".into(),
                        _ => "forged 1".into(),
                    });
                    if !matches!(kind.as_str(), "checkbox" | "radio") || tag.contains(" checked") {
                        fields.push((name, value));
                    }
                } else if tag.starts_with("<select") {
                    let options = &inner[..inner.find("</select>").unwrap_or(inner.len())];
                    let first = options
                        .split("<option")
                        .skip(1)
                        .filter_map(|o| attribute(&format!(" {o}"), "value"))
                        .find(|v| !v.is_empty())
                        .unwrap_or_default();
                    fields.push((name, first));
                } else if tag.starts_with("<textarea") {
                    fields.push((name, "x".into()));
                }
            }
            inner = &inner[1..];
        }
        forms.push(PageForm {
            action: attribute(tag, "action").expect("a form posts somewhere"),
            fields,
        });
    }
    forms
}

/// A path with its uuids (and an invite code) as the router's parameters.
fn route_of(path: &str) -> String {
    path.split('/')
        .enumerate()
        .map(|(i, part)| {
            if uuid::Uuid::parse_str(part).is_ok() {
                "{uuid}".to_string()
            } else if i == 2 && path.starts_with("/invite/") {
                "{code}".to_string()
            } else {
                part.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// What an admin can see of the organization through the API: a form that
/// changed anything changes one of these.
async fn everything(app: &TestApp, project: &str) -> Vec<serde_json::Value> {
    let mut seen = Vec::new();
    for path in [
        "/api/v1/user".to_string(),
        "/api/v1/orgs".into(),
        "/api/v1/org/users".into(),
        "/api/v1/org/projects".into(),
        format!("/api/v1/projects/{project}/access"),
        "/api/v1/org/roles".into(),
        "/api/v1/user/me/personal-access-tokens".into(),
        "/api/v1/org/api-keys".into(),
        "/api/v1/service-accounts".into(),
    ] {
        let resp = app.get(&path, &app.admin.session).await;
        let mut value = resp.expect(200).clone();
        // Reading is no change; the session's own use is recorded.
        if let Some(list) = value.as_array_mut() {
            for item in list {
                if let Some(o) = item.as_object_mut() {
                    o.remove("lastUsedAt");
                }
            }
        }
        seen.push(json!({ "path": path, "value": value }));
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_form_needs_its_csrf_token() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.set_plan("enterprise").await;
    let web = Web::new(&app);
    let admin = visitor("admin", &app.admin.session);
    // Something of every kind, so that every page shows every form it has.
    let project = app.create_project("Website").await;
    let viewer = app.person("viewer@acme.test", "viewer").await;
    app.put(
        &format!("/api/v1/projects/{project}/access/{}", viewer.uuid),
        &app.admin.session,
        json!({ "role": "editor" }),
    )
    .await
    .expect(200);
    app.post(
        "/api/v1/org/roles",
        &app.admin.session,
        json!({ "name": "Auditor", "scopes": ["audit:read"] }),
    )
    .await
    .expect(201);
    app.post(
        "/api/v1/org/api-keys",
        &app.admin.session,
        json!({ "name": "k", "role": "viewer", "expiresAt": support::in_days(30) }),
    )
    .await
    .expect(201);
    app.post(
        "/api/v1/service-accounts",
        &app.admin.session,
        json!({ "description": "sa", "scope": "organization", "role": "viewer", "expiresAt": support::in_days(30) }),
    )
    .await
    .expect(201);
    app.post(
        "/api/v1/orgs",
        &app.admin.session,
        json!({ "name": "Other" }),
    )
    .await
    .expect(201);
    // A token that expires (one that does not cannot be rotated).
    app.create_pat(
        &app.admin.session,
        json!({ "name": "expiring", "expiresAt": support::in_days(30) }),
    )
    .await;
    let (_, code) = app.add_member("invited@acme.test", "viewer").await;
    let invite = format!("/invite/{}", code.expect("an invite"));

    // Every page an admin can reach from the settings, and every form on them.
    let mut pages = vec!["/settings/tokens".to_string()];
    let mut visited = std::collections::BTreeSet::new();
    let mut forms: Vec<PageForm> = Vec::new();
    while let Some(path) = pages.pop() {
        if !visited.insert(path.clone()) {
            continue;
        }
        let response = web.get(&path, &admin).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let page = response.text().await.expect("page");
        for link in page.split(" href=\"").skip(1) {
            let link = link[..link.find('"').unwrap_or(0)].replace("&amp;", "&");
            let link = link.split(['?', '#']).next().unwrap_or("").to_string();
            if link.starts_with("/settings/") && !visited.contains(&link) {
                pages.push(link);
            }
        }
        for form in post_forms(&page) {
            if !forms.iter().any(|f| f.action == form.action) {
                forms.push(form);
            }
        }
    }
    let anonymous = Visitor {
        name: "anonymous",
        cookie: None,
        csrf: String::new(),
    };
    for path in ["/login".to_string(), invite] {
        let response = web.get(&path, &anonymous).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        forms.extend(post_forms(&response.text().await.expect("page")));
    }
    // Every route that takes a form, and nothing else, has a form on a page:
    // a new form is in this list, or this test fails.
    let mut routes: Vec<String> = forms.iter().map(|f| route_of(&f.action)).collect();
    routes.sort();
    routes.dedup();
    let mut expected = vec![
        "/invite/{code}",
        "/login",
        "/logout",
        "/settings/active-org",
        "/settings/api-keys",
        "/settings/api-keys/{uuid}/revoke",
        "/settings/api-keys/{uuid}/rotate",
        "/settings/members",
        "/settings/members/{uuid}",
        "/settings/members/{uuid}/remove",
        "/settings/projects",
        "/settings/projects/{uuid}",
        "/settings/projects/{uuid}/access/{uuid}/remove",
        "/settings/roles",
        "/settings/roles/{uuid}",
        "/settings/roles/{uuid}/delete",
        "/settings/service-accounts",
        "/settings/service-accounts/{uuid}/delete",
        "/settings/service-accounts/{uuid}/rotate",
        "/settings/tokens",
        "/settings/tokens/{uuid}/edit",
        "/settings/tokens/{uuid}/revoke",
        "/settings/tokens/{uuid}/rotate",
    ];
    expected.sort();
    assert_eq!(routes, expected, "the forms on the pages");

    let before = everything(&app, &project).await;
    for form in &forms {
        let signed_out_form =
            ["/login", "/invite/{code}"].contains(&route_of(&form.action).as_str());
        let fields: Vec<(&str, &str)> = form
            .fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        for csrf in [
            None,
            Some("0000"),
            Some(&admin.csrf[..admin.csrf.len() - 1]),
        ] {
            let mut fields = fields.clone();
            if let Some(c) = csrf {
                fields.push(("_csrf", c));
            }
            let who = if signed_out_form { &anonymous } else { &admin };
            let response = web.post(&form.action, who, &fields).await;
            assert_eq!(
                response.status(),
                StatusCode::FORBIDDEN,
                "{} with {csrf:?}: {fields:?}",
                form.action
            );
        }
        if !signed_out_form {
            // Signed out, a form goes to sign-in and changes nothing.
            assert_eq!(
                seen(&web.post(&form.action, &anonymous, &fields).await),
                SignIn,
                "{}",
                form.action
            );
        }
    }
    assert_eq!(
        everything(&app, &project).await,
        before,
        "no form changed anything without its token"
    );

    // Sign-in needs the form token its page set as a cookie.
    let response = web
        .post(
            "/login",
            &Visitor {
                name: "anonymous",
                cookie: None,
                csrf: String::new(),
            },
            &[
                ("email", support::ADMIN_EMAIL),
                ("password", PASSWORD),
                ("_csrf", "forged"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response
        .headers()
        .get_all("set-cookie")
        .iter()
        .all(|c| !c.to_str().unwrap_or("").starts_with("latchkey_session=")));

    // With its token, the same form works.
    let response = web
        .post(
            "/settings/projects",
            &admin,
            &[("name", "made by a form"), ("_csrf", &admin.csrf)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_form_input_is_a_clear_4xx_page() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let web = Web::new(&app);
    let admin = visitor("admin", &app.admin.session);
    let csrf = admin.csrf.clone();
    let long_name = "n".repeat(5000);
    // (path, form, status, what the page says)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, StatusCode, &'a str);
    let cases: Vec<Case> = vec![
        (
            "/settings/tokens",
            vec![("expiry", "30")],
            StatusCode::BAD_REQUEST,
            "Name: is required",
        ),
        (
            "/settings/tokens",
            vec![("name", &long_name)],
            StatusCode::BAD_REQUEST,
            "name",
        ),
        (
            "/settings/tokens",
            vec![("name", "x"), ("expiry", "12")],
            StatusCode::BAD_REQUEST,
            "Expiration: not one of the choices",
        ),
        (
            "/settings/tokens",
            vec![("name", "x"), ("expiry", "custom")],
            StatusCode::BAD_REQUEST,
            "Expiration date: choose a date",
        ),
        (
            "/settings/tokens",
            vec![
                ("name", "x"),
                ("expiry", "custom"),
                ("expiresOn", "2001-01-01"),
            ],
            StatusCode::BAD_REQUEST,
            "must be in the future",
        ),
        (
            "/settings/tokens",
            vec![
                ("name", "x"),
                ("expiry", "custom"),
                ("expiresOn", "next week"),
            ],
            StatusCode::BAD_REQUEST,
            "is not a date",
        ),
        (
            "/settings/tokens",
            vec![("name", "x"), ("access", "selected")],
            StatusCode::BAD_REQUEST,
            "choose at least one scope",
        ),
        (
            "/settings/tokens",
            vec![
                ("name", "x"),
                ("access", "selected"),
                ("scope", "nope:nope"),
            ],
            StatusCode::BAD_REQUEST,
            "nope:nope",
        ),
        (
            "/settings/api-keys",
            vec![("name", "x"), ("role", "emperor")],
            StatusCode::BAD_REQUEST,
            "role",
        ),
        (
            "/settings/members",
            vec![("email", "not an email"), ("role", "viewer")],
            StatusCode::BAD_REQUEST,
            "email",
        ),
    ];
    for (path, mut form, status, says) in cases {
        form.push(("_csrf", &csrf));
        let response = web.post(path, &admin, &form).await;
        assert_eq!(response.status(), status, "{path} {form:?}");
        let page = response.text().await.expect("body");
        assert!(
            page.contains("role=\"alert\""),
            "{path}: the page says what is wrong"
        );
        assert!(
            page.contains(says),
            "{path} {form:?}: expected {says:?} on the page"
        );
    }
    // A refused form comes back filled in as it was typed.
    let response = web
        .post(
            "/settings/tokens",
            &admin,
            &[
                ("name", "kept name"),
                ("access", "selected"),
                ("scope", "content:read"),
                ("scope", "nope:nope"),
                ("_csrf", &csrf),
            ],
        )
        .await;
    let page = response.text().await.expect("page");
    assert!(page.contains("value=\"kept name\""), "the name is kept");
    assert!(
        page.contains("value=\"content:read\" checked"),
        "the ticked scope stays ticked"
    );

    // Not a uuid, not UTF-8, too big: never a 500.
    let response = web.get("/settings/tokens/not-a-uuid/edit", &admin).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = web
        .http
        .post(format!("{}/settings/tokens", web.base))
        .header(
            "cookie",
            format!(
                "latchkey_session={}",
                admin.cookie.clone().unwrap_or_default()
            ),
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("name=%ff%fe&_csrf={csrf}"))
        .send()
        .await
        .expect("post");
    // The token is right, so the answer is about the encoding: the form is
    // refused, and no token is made under a name the user never typed.
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let page = response.text().await.expect("page");
    assert!(page.contains("The form could not be read."), "{page}");
    let pats = app
        .get("/api/v1/user/me/personal-access-tokens", &app.admin.session)
        .await;
    let pats = pats.expect(200).as_array().expect("list").clone();
    assert!(
        pats.iter()
            .all(|t| !t["name"].as_str().unwrap_or("").contains('\u{fffd}')),
        "{pats:?}"
    );
    let response = web
        .http
        .post(format!("{}/settings/tokens", web.base))
        .header(
            "cookie",
            format!(
                "latchkey_session={}",
                admin.cookie.clone().unwrap_or_default()
            ),
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("name={}&_csrf={csrf}", "a".repeat(70 * 1024)))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let response = web.get("/invite/..%2f..%2fetc", &admin).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

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
            ("email", support::ADMIN_EMAIL),
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
            json!({ "name": "old name", "expiresAt": support::in_days(60) }),
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
