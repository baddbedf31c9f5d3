//! The audit log (PRODUCT.md §4, API.md "Audit log"): every change is one
//! event naming who did it with which credential; refused credentials are
//! events too; failed changes leave nothing; no secret is ever in it.

use crate::on_both_backends;
use crate::support::{in_days, Auth, Resp, TestApp, PASSWORD, SECRET_KEY};
use serde_json::{json, Value};

on_both_backends!(
    every_mutation_is_audited,
    failed_mutations_leave_no_event,
    refused_credentials_are_audited,
    filters_and_paging,
    query_validation_and_scope,
    organizations_see_only_their_own_log,
    no_secret_in_the_log,
);

const LOG: &str = "/api/v1/org/audit-logs";

/// Every event of the caller's organization, newest first, walking all pages.
async fn all_events(app: &TestApp, auth: &Auth) -> Vec<Value> {
    walk(app, auth, "limit=500").await
}

/// Walks every page of a query (`limit=…&…`), checking the page shape.
async fn walk(app: &TestApp, auth: &Auth, query: &str) -> Vec<Value> {
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
struct Who {
    actor: Value,
    credential: Value,
}

async fn who(app: &TestApp, auth: &Auth) -> Who {
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
fn one_new_event<'a>(
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

fn str_of(v: &Value, field: &str) -> String {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {v}"))
        .to_string()
}

/// A session of the admin in a given organization, from a login response.
fn session_from(resp: &Resp) -> Auth {
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
