//! Every form: its CSRF token, and bad input answered with a clear page.

use crate::support::{Backend, TestApp, PASSWORD};
use crate::visitors::*;
use reqwest::StatusCode;
use serde_json::json;

/// A form of a page: where it posts, and the fields it would send (the CSRF
/// field left out), as a browser would fill them in unchanged.
#[derive(Debug)]
pub(crate) struct PageForm {
    pub(crate) action: String,
    pub(crate) fields: Vec<(String, String)>,
}

/// The value of `name="…"` in one tag.
pub(crate) fn attribute(tag: &str, name: &str) -> Option<String> {
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
pub(crate) fn post_forms(page: &str) -> Vec<PageForm> {
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
pub(crate) fn route_of(path: &str) -> String {
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
pub(crate) async fn everything(app: &TestApp, project: &str) -> Vec<serde_json::Value> {
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
        json!({ "name": "k", "role": "viewer", "expiresAt": crate::support::in_days(30) }),
    )
    .await
    .expect(201);
    app.post(
        "/api/v1/service-accounts",
        &app.admin.session,
        json!({ "description": "sa", "scope": "organization", "role": "viewer", "expiresAt": crate::support::in_days(30) }),
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
        json!({ "name": "expiring", "expiresAt": crate::support::in_days(30) }),
    )
    .await;
    let (_, code) = app.add_member("invited@acme.test", "viewer").await;
    let invite = format!("/invite/{}", code.expect("an invite"));
    // A second session of the admin, so the account page offers to end it.
    app.login(crate::support::ADMIN_EMAIL, PASSWORD).await;

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
        "/settings/account/password",
        "/settings/account/sessions/end-others",
        "/settings/account/sessions/{uuid}/end",
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
                ("email", crate::support::ADMIN_EMAIL),
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
