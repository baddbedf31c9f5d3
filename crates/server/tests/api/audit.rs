//! The audit log (PRODUCT.md §4, API.md "Audit log"): every change is one
//! event naming who did it with which credential; refused credentials are
//! events too; failed changes leave nothing; no secret is ever in it.

use crate::on_both_backends;
use crate::support::{in_days, Auth, Resp, TestApp, PASSWORD};
use serde_json::{json, Value};

on_both_backends!(
    every_mutation_is_audited,
    failed_mutations_leave_no_event,
    refused_credentials_are_audited,
);

pub(crate) const LOG: &str = "/api/v1/org/audit-logs";

/// Every event of the caller's organization, newest first, walking all pages.
pub(crate) async fn all_events(app: &TestApp, auth: &Auth) -> Vec<Value> {
    walk(app, auth, "limit=500").await
}

/// Walks every page of a query (`limit=…&…`), checking the page shape.
pub(crate) async fn walk(app: &TestApp, auth: &Auth, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let path = match &cursor {
            Some(c) => format!("{LOG}?{query}&cursor={c}"),
            None => format!("{LOG}?{query}"),
        };
        let page = app.get(&path, auth).await;
        let page = page.expect(200);
        out.extend(page["items"].as_array().expect("items").iter().cloned());
        match &page["nextCursor"] {
            Value::String(c) => cursor = Some(c.clone()),
            Value::Null => return out,
            other => panic!("nextCursor is a string or null, not {other}"),
        }
    }
    panic!("paging does not end");
}

/// Who a credential is, as the audit log should name it: the actor from
/// `GET /user`'s principal, and its credential without `expiresAt`.
pub(crate) struct Who {
    pub(crate) actor: Value,
    pub(crate) credential: Value,
}

pub(crate) async fn who(app: &TestApp, auth: &Auth) -> Who {
    let me = app.get("/api/v1/user", auth).await;
    let me = me.expect(200);
    let p = &me["principal"];
    let c = &me["credential"];
    let mut credential = json!({ "kind": c["kind"] });
    for field in ["uuid", "name", "displayPrefix"] {
        if !c[field].is_null() {
            credential[field] = c[field].clone();
        }
    }
    Who {
        actor: json!({ "type": p["type"], "uuid": p["uuid"], "name": p["name"] }),
        credential,
    }
}

/// The log has exactly one event more than `before`, the newest, and it is
/// `action` on `target` by `by`; returns it.
#[track_caller]
pub(crate) fn one_new_event<'a>(
    events: &'a [Value],
    before: usize,
    action: &str,
    target: &str,
    by: &Who,
) -> &'a Value {
    assert_eq!(
        events.len(),
        before + 1,
        "exactly one new event for {action}; newest: {:?}",
        events
            .iter()
            .take(3)
            .map(|e| &e["action"])
            .collect::<Vec<_>>()
    );
    let e = &events[0];
    assert_eq!(e["action"], action, "{e}");
    assert_eq!(e["actor"], by.actor, "{action}: actor; {e}");
    assert_eq!(e["credential"], by.credential, "{action}: credential; {e}");
    assert_eq!(e["target"]["uuid"], target, "{action}: target; {e}");
    assert!(e["target"]["type"].is_string() && e["target"]["name"].is_string());
    assert_eq!(e["ip"], "127.0.0.1", "{action}: ip");
    assert!(uuid::Uuid::parse_str(e["uuid"].as_str().unwrap()).is_ok());
    let at = e["at"].as_str().unwrap();
    let at = time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
        .expect("at is RFC 3339");
    assert!((time::OffsetDateTime::now_utc() - at).abs() < time::Duration::minutes(5));
    assert!(e["details"].is_object(), "{e}");
    e
}

pub(crate) fn str_of(v: &Value, field: &str) -> String {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {v}"))
        .to_string()
}

/// A session of the admin in a given organization, from a login response.
pub(crate) fn session_from(resp: &Resp) -> Auth {
    let csrf = resp.expect(200)["csrfToken"].as_str().unwrap().to_string();
    let cookie = resp.headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_string())
        .unwrap();
    Auth::Session { cookie, csrf }
}

async fn every_mutation_is_audited(app: TestApp) {
    let reader = app.admin.pat.clone();
    let session = app.admin.session.clone();
    let pat = app.admin.pat.clone();
    let key = app
        .post(
            "/api/v1/org/api-keys",
            &session,
            json!({ "name": "automation", "role": "admin" }),
        )
        .await;
    let key = Auth::Token(str_of(key.expect(201), "token"));
    let (s, p, k) = (
        who(&app, &session).await,
        who(&app, &pat).await,
        who(&app, &key).await,
    );
    assert_eq!(s.credential, json!({ "kind": "session" }));
    assert_eq!(p.credential["kind"], "pat");
    assert_eq!(k.credential["kind"], "api_key");
    assert_eq!(k.actor["type"], "api_key");
    let n = || async { all_events(&app, &reader).await.len() };

    // Members: add (session), change role (PAT), suspend (key), lift (session).
    let before = n().await;
    let added = app
        .post(
            "/api/v1/org/users",
            &session,
            json!({ "email": "m1@acme.test", "role": "viewer" }),
        )
        .await;
    let m1 = str_of(added.expect(201), "userUuid");
    let events = all_events(&app, &reader).await;
    let e = one_new_event(&events, before, "member.invited", &m1, &s);
    assert_eq!(e["target"]["type"], "user");
    assert_eq!(e["details"]["role"], "viewer");
    let member = format!("/api/v1/org/users/{m1}");
    for (auth, by, body, action) in [
        (&pat, &p, json!({ "role": "editor" }), "member.role_changed"),
        (&key, &k, json!({ "suspended": true }), "member.suspended"),
        (
            &session,
            &s,
            json!({ "suspended": false }),
            "member.unsuspended",
        ),
    ] {
        let before = n().await;
        app.patch(&member, auth, body).await.expect(200);
        let events = all_events(&app, &reader).await;
        one_new_event(&events, before, action, &m1, by);
    }

    // Projects: create (key), rename (PAT); access given (session) and taken
    // (key); delete (session).
    let before = n().await;
    let project = app
        .post("/api/v1/org/projects", &key, json!({ "name": "audited" }))
        .await;
    let project = str_of(project.expect(201), "projectUuid");
    let events = all_events(&app, &reader).await;
    let e = one_new_event(&events, before, "project.created", &project, &k);
    assert_eq!(e["target"]["type"], "project");
    let one = format!("/api/v1/projects/{project}");
    let before = n().await;
    app.patch(&one, &pat, json!({ "name": "renamed" }))
        .await
        .expect(200);
    let events = all_events(&app, &reader).await;
    let e = one_new_event(&events, before, "project.updated", &project, &p);
    assert_eq!(e["details"]["previousName"], "audited");
    let access = format!("{one}/access/{m1}");
    let before = n().await;
    app.put(&access, &session, json!({ "role": "developer" }))
        .await
        .expect(200);
    let events = all_events(&app, &reader).await;
    let e = one_new_event(&events, before, "project_access.granted", &project, &s);
    assert_eq!(e["details"]["user"]["uuid"], m1.as_str());
    let before = n().await;
    assert_eq!(app.delete(&access, &key).await.status, 204);
    let events = all_events(&app, &reader).await;
    one_new_event(&events, before, "project_access.revoked", &project, &k);
    let before = n().await;
    assert_eq!(app.delete(&one, &session).await.status, 204);
    let events = all_events(&app, &reader).await;
    one_new_event(&events, before, "project.deleted", &project, &s);

    // Personal access tokens: create (session); update and rotate with the
    // token itself; revoke (PAT); an admin revokes someone else's (key).
    let pats = "/api/v1/user/me/personal-access-tokens";
    let before = n().await;
    let created = app
        .post(
            pats,
            &session,
            json!({ "name": "audited", "expiresAt": in_days(60) }),
        )
        .await;
    let created = created.expect(201).clone();
    let pat_uuid = str_of(&created, "uuid");
    let events = all_events(&app, &reader).await;
    let e = one_new_event(&events, before, "pat.created", &pat_uuid, &s);
    assert_eq!(e["target"]["type"], "pat");
    assert_eq!(e["details"]["displayPrefix"], created["displayPrefix"]);
    let own = Auth::Token(str_of(&created, "token"));
    let by_itself = who(&app, &own).await;
    assert_eq!(by_itself.credential["uuid"], pat_uuid.as_str());
    let before = n().await;
    app.patch(
        &format!("{pats}/{pat_uuid}"),
        &own,
        json!({ "name": "audited too" }),
    )
    .await
    .expect(200);
    let events = all_events(&app, &reader).await;
    one_new_event(&events, before, "pat.updated", &pat_uuid, &by_itself);
    let before = n().await;
    let rotated = app
        .patch(
            &format!("{pats}/{pat_uuid}/rotate"),
            &own,
            json!({ "expiresAt": in_days(6) }),
        )
        .await;
    let rotated = rotated.expect(200).clone();
    let events = all_events(&app, &reader).await;
    // The rotation is made with the old secret: the event names its prefix.
    let mut renamed = by_itself.credential.clone();
    renamed["name"] = json!("audited too");
    let by_itself = Who {
        actor: by_itself.actor,
        credential: renamed,
    };
    let e = one_new_event(&events, before, "pat.rotated", &pat_uuid, &by_itself);
    assert_eq!(e["details"]["displayPrefix"], rotated["displayPrefix"]);
    assert_eq!(
        e["details"]["previousDisplayPrefix"],
        created["displayPrefix"]
    );
    let before = n().await;
    assert_eq!(
        app.delete(&format!("{pats}/{pat_uuid}"), &pat).await.status,
        204
    );
    let events = all_events(&app, &reader).await;
    one_new_event(&events, before, "pat.revoked", &pat_uuid, &p);
    let editor = app.person("editor@acme.test", "editor").await;
    let editor_pat = who(&app, &editor.pat).await;
    let editor_pat_uuid = editor_pat.credential["uuid"].as_str().unwrap().to_string();
    let before = n().await;
    let r = app
        .delete(
            &format!("/api/v1/org/personal-access-tokens/{editor_pat_uuid}"),
            &key,
        )
        .await;
    assert_eq!(r.status, 204);
    let events = all_events(&app, &reader).await;
    let e = one_new_event(&events, before, "pat.revoked", &editor_pat_uuid, &k);
    assert_eq!(e["details"]["byAdmin"], true);
    assert_eq!(e["details"]["owner"], editor.uuid.as_str());

    // API keys: create (session), rotate with the key itself, revoke (PAT).
    let keys = "/api/v1/org/api-keys";
    let before = n().await;
    let created = app
        .post(
            keys,
            &session,
            json!({ "name": "rotating", "role": "admin", "expiresAt": in_days(60) }),
        )
        .await;
    let created = created.expect(201).clone();
    let key_uuid = str_of(&created, "uuid");
    let events = all_events(&app, &reader).await;
    let e = one_new_event(&events, before, "api_key.created", &key_uuid, &s);
    assert_eq!(e["target"]["type"], "api_key");
    assert_eq!(e["details"]["role"], "admin");
    let own = Auth::Token(str_of(&created, "token"));
    let by_itself = who(&app, &own).await;
    assert_eq!(by_itself.actor["type"], "api_key");
    assert_eq!(by_itself.actor["uuid"], key_uuid.as_str());
    let before = n().await;
    app.patch(
        &format!("{keys}/{key_uuid}/rotate"),
        &own,
        json!({ "expiresAt": in_days(30) }),
    )
    .await
    .expect(200);
    let events = all_events(&app, &reader).await;
    one_new_event(&events, before, "api_key.rotated", &key_uuid, &by_itself);
    let before = n().await;
    assert_eq!(
        app.delete(&format!("{keys}/{key_uuid}"), &pat).await.status,
        204
    );
    let events = all_events(&app, &reader).await;
    one_new_event(&events, before, "api_key.revoked", &key_uuid, &p);

    // Members: remove (key).
    let before = n().await;
    assert_eq!(app.delete(&member, &key).await.status, 204);
    let events = all_events(&app, &reader).await;
    one_new_event(&events, before, "member.removed", &m1, &k);

    // A new organization: the event is in the new organization's log.
    let before = n().await;
    let org = app
        .post("/api/v1/orgs", &session, json!({ "name": "Initech" }))
        .await;
    let org = str_of(org.expect(201), "uuid");
    assert_eq!(n().await, before, "not in Acme's log");
    let login = app
        .try_login(crate::support::ADMIN_EMAIL, PASSWORD, Some(&org))
        .await;
    let initech = session_from(&login);
    let events = all_events(&app, &initech).await;
    let e = one_new_event(&events, 0, "org.created", &org, &s);
    assert_eq!(e["target"]["type"], "org");
}

async fn failed_mutations_leave_no_event(app: TestApp) {
    let admin = &app.admin.pat;
    let viewer = app.person("viewer@acme.test", "viewer").await;
    app.create_project("taken").await;
    let key = app
        .post(
            "/api/v1/org/api-keys",
            admin,
            json!({ "name": "k", "role": "viewer", "expiresAt": in_days(60) }),
        )
        .await;
    let key_uuid = str_of(key.expect(201), "uuid");
    let key_rotate = format!("/api/v1/org/api-keys/{key_uuid}/rotate");
    app.patch(&key_rotate, admin, json!({ "expiresAt": in_days(30) }))
        .await
        .expect(200);
    let (forever, _) = app
        .create_pat(&app.admin.session, json!({ "name": "forever" }))
        .await;
    let (_, narrow) = app
        .create_pat(
            &app.admin.session,
            json!({ "name": "narrow", "scopes": ["api_keys:write", "content:read"] }),
        )
        .await;
    let before = all_events(&app, admin).await;

    let project = |name: &str| json!({ "name": name });
    app.post("/api/v1/org/projects", admin, project("taken"))
        .await
        .expect_error(409, "conflict");
    app.post("/api/v1/org/projects", &viewer.pat, project("new"))
        .await
        .expect_error(403, "missing_scope");
    app.post("/api/v1/org/projects", admin, project(" "))
        .await
        .expect_error(400, "invalid_request");
    app.delete(&format!("/api/v1/projects/{}", uuid::Uuid::new_v4()), admin)
        .await
        .expect_error(404, "not_found");
    app.post(
        "/api/v1/org/users",
        admin,
        json!({ "email": "viewer@acme.test", "role": "viewer" }),
    )
    .await
    .expect_error(409, "conflict");
    // The last admin cannot demote themself: the change and its event roll back together.
    app.patch(
        &format!("/api/v1/org/users/{}", app.admin.uuid),
        admin,
        json!({ "role": "viewer" }),
    )
    .await
    .expect_error(409, "conflict");
    app.post(
        "/api/v1/org/api-keys",
        &Auth::Token(narrow),
        json!({ "name": "k", "role": "editor" }),
    )
    .await
    .expect_error(403, "role_too_high");
    app.post(
        "/api/v1/org/api-keys",
        &viewer.pat,
        json!({ "name": "k", "role": "viewer" }),
    )
    .await
    .expect_error(403, "missing_scope");
    app.patch(&key_rotate, admin, json!({ "expiresAt": in_days(30) }))
        .await
        .expect_error(429, "rate_limited");
    app.patch(
        &format!("/api/v1/user/me/personal-access-tokens/{forever}/rotate"),
        &app.admin.session,
        json!({ "expiresAt": in_days(30) }),
    )
    .await
    .expect_error(400, "rotation_requires_expiry");
    app.post(
        "/api/v1/user/me/personal-access-tokens",
        &viewer.pat,
        json!({ "name": "wide", "scopes": ["members:write"] }),
    )
    .await
    .expect_error(403, "scopes_not_grantable");
    app.post("/api/v1/orgs", admin, json!({ "name": "Tokenco" }))
        .await
        .expect_error(403, "forbidden");

    let after = all_events(&app, admin).await;
    assert_eq!(
        after.len(),
        before.len(),
        "failed changes leave no event; newest: {}",
        after[0]
    );
    assert_eq!(after, before);
}

async fn refused_credentials_are_audited(app: TestApp) {
    let reader = &app.admin.pat;
    let newest_refusal = || async {
        let page = app
            .get(&format!("{LOG}?action=auth.refused&limit=1"), reader)
            .await;
        page.expect(200)["items"][0].clone()
    };

    // A revoked PAT.
    let (uuid, token) = app
        .create_pat(&app.admin.session, json!({ "name": "doomed" }))
        .await;
    assert_eq!(
        app.delete(
            &format!("/api/v1/user/me/personal-access-tokens/{uuid}"),
            &app.admin.session
        )
        .await
        .status,
        204
    );
    let before = all_events(&app, reader).await.len();
    app.get("/api/v1/user", &Auth::Token(token.clone()))
        .await
        .expect_error(401, "token_revoked");
    let events = all_events(&app, reader).await;
    assert_eq!(events.len(), before + 1);
    let e = &events[0];
    assert_eq!(e["action"], "auth.refused");
    assert_eq!(e["details"]["code"], "token_revoked");
    assert_eq!(
        e["credential"],
        json!({ "kind": "pat", "uuid": uuid, "name": "doomed", "displayPrefix": &token[..10] })
    );
    assert!(e["actor"].is_null());
    assert_eq!(e["ip"], "127.0.0.1");

    // A key's secret that was rotated away.
    let key = app
        .post(
            "/api/v1/org/api-keys",
            &app.admin.session,
            json!({ "name": "rotated", "role": "viewer", "expiresAt": in_days(60) }),
        )
        .await;
    let key = key.expect(201).clone();
    let old = str_of(&key, "token");
    app.patch(
        &format!("/api/v1/org/api-keys/{}/rotate", str_of(&key, "uuid")),
        &app.admin.session,
        json!({ "expiresAt": in_days(30) }),
    )
    .await
    .expect(200);
    app.get("/api/v1/org/projects", &Auth::Token(old.clone()))
        .await
        .expect_error(401, "token_revoked");
    let e = newest_refusal().await;
    assert_eq!(e["details"]["code"], "token_revoked");
    assert_eq!(e["credential"]["kind"], "api_key");
    assert_eq!(e["credential"]["uuid"], key["uuid"]);
    assert_eq!(e["credential"]["name"], "rotated");

    // A suspended member's PAT.
    let member = app.person("member@acme.test", "editor").await;
    app.patch(
        &format!("/api/v1/org/users/{}", member.uuid),
        &app.admin.pat,
        json!({ "suspended": true }),
    )
    .await
    .expect(200);
    app.get("/api/v1/user", &member.pat)
        .await
        .expect_error(401, "account_suspended");
    let e = newest_refusal().await;
    assert_eq!(e["details"]["code"], "account_suspended");
    assert_eq!(e["credential"]["displayPrefix"], &member.pat_token[..10]);

    // An expired key.
    let soon = (time::OffsetDateTime::now_utc() + time::Duration::seconds(2))
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let brief = app
        .post(
            "/api/v1/org/api-keys",
            &app.admin.session,
            json!({ "name": "brief", "role": "viewer", "expiresAt": soon }),
        )
        .await;
    let brief = str_of(brief.expect(201), "token");
    tokio::time::sleep(std::time::Duration::from_millis(2600)).await;
    app.get("/api/v1/user", &Auth::Token(brief.clone()))
        .await
        .expect_error(401, "token_expired");
    let e = newest_refusal().await;
    assert_eq!(e["details"]["code"], "token_expired");
    assert_eq!(e["credential"]["displayPrefix"], &brief[..10]);

    // Tokens of no known organization leave nothing: there is no log to put
    // them in, and they name nothing.
    let before = all_events(&app, reader).await.len();
    let unknown = latchkey_core::TokenSecret::generate(
        latchkey_core::TokenKind::ApiKey,
        &mut rand::thread_rng(),
    );
    app.get("/api/v1/user", &Auth::Token(unknown.expose().to_string()))
        .await
        .expect_error(401, "invalid_token");
    app.get("/api/v1/user", &Auth::Token("lkkey_nonsense".into()))
        .await
        .expect_error(401, "malformed_token");
    assert_eq!(all_events(&app, reader).await.len(), before);
}
