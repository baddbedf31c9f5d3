//! Custom roles (PRODUCT.md §1, API.md "Members, projects, roles") on the
//! real server: the enterprise plan, the catalog, assignment to members and
//! service accounts, deletion while assigned, audit events.

use crate::on_both_backends;
use crate::support::{Auth, TestApp};
use serde_json::{json, Value};

on_both_backends!(
    needs_the_enterprise_plan,
    create_list_get_update_delete,
    validation,
    scopes_within_the_creator,
    member_with_a_custom_role,
    service_account_with_a_custom_role,
    delete_while_assigned_is_a_conflict,
    project_role_that_is_a_custom_role,
);

const ROLES: &str = "/api/v1/org/roles";

async fn create_role(app: &TestApp, name: &str, scopes: &[&str]) -> Value {
    app.post(
        ROLES,
        &app.admin.session,
        json!({ "name": name, "description": "d", "scopes": scopes }),
    )
    .await
    .expect(201)
    .clone()
}

async fn events(app: &TestApp, action: &str) -> Vec<Value> {
    app.get(
        &format!("/api/v1/org/audit-logs?action={action}"),
        &app.admin.session,
    )
    .await
    .expect(200)["items"]
        .as_array()
        .expect("items")
        .clone()
}

fn scopes(me: &Value) -> Vec<String> {
    serde_json::from_value(me["scopes"].clone()).expect("scopes")
}

async fn needs_the_enterprise_plan(app: TestApp) {
    let resp = app
        .post(
            ROLES,
            &app.admin.session,
            json!({ "name": "billing", "scopes": ["projects:read"] }),
        )
        .await;
    resp.expect_error(403, "plan_required");
    assert_eq!(resp.body["error"]["details"]["plan"], "enterprise");
    // An unknown uuid names the field whatever the plan.
    let resp = app
        .post(
            "/api/v1/org/users",
            &app.admin.session,
            json!({ "email": "x@acme.test", "customRoleUuid": uuid::Uuid::new_v4() }),
        )
        .await;
    resp.expect_error(400, "invalid_request");
    assert_eq!(resp.field(), "customRoleUuid");
    // The list still answers, with system roles and no custom ones.
    let roles = app.get(ROLES, &app.admin.session).await.expect(200).clone();
    assert_eq!(roles["systemRoles"].as_array().unwrap().len(), 6);
    assert_eq!(roles["customRoles"], json!([]));
    assert!(events(&app, "role.created").await.is_empty());

    // Roles made on the enterprise plan cannot be given or changed after a
    // move back to free; they can still be read and deleted.
    app.set_plan("enterprise").await;
    let role = create_role(&app, "Kept", &["projects:read"]).await;
    app.set_plan("free").await;
    app.post(
        "/api/v1/org/users",
        &app.admin.session,
        json!({ "email": "x@acme.test", "customRoleUuid": role["uuid"] }),
    )
    .await
    .expect_error(403, "plan_required");
    let path = format!("{ROLES}/{}", role["uuid"].as_str().unwrap());
    app.patch(&path, &app.admin.session, json!({ "name": "Other" }))
        .await
        .expect_error(403, "plan_required");
    app.get(&path, &app.admin.session).await.expect(200);
    app.delete(&path, &app.admin.session).await.expect(204);
}

async fn create_list_get_update_delete(app: TestApp) {
    app.set_plan("enterprise").await;
    let role = create_role(&app, "Auditor", &["audit:read", "projects:read"]).await;
    let uuid = role["uuid"].as_str().unwrap().to_string();
    assert_eq!(role["name"], "Auditor");
    assert_eq!(role["description"], "d");
    // Catalog order, not request order.
    assert_eq!(role["scopes"], json!(["projects:read", "audit:read"]));
    assert_eq!(role["createdBy"]["uuid"], app.admin.uuid.as_str());

    let viewer = app.person("viewer@acme.test", "viewer").await;
    // Anyone may read roles.
    let listed = app.get(ROLES, &viewer.pat).await.expect(200).clone();
    assert_eq!(listed["customRoles"][0]["uuid"], uuid.as_str());
    let one = app
        .get(&format!("{ROLES}/{uuid}"), &viewer.pat)
        .await
        .expect(200)
        .clone();
    assert_eq!(one["name"], "Auditor");
    // Only roles:write changes them.
    app.patch(
        &format!("{ROLES}/{uuid}"),
        &viewer.pat,
        json!({ "name": "x" }),
    )
    .await
    .expect_error(403, "missing_scope");

    let updated = app
        .patch(
            &format!("{ROLES}/{uuid}"),
            &app.admin.pat,
            json!({ "name": "Auditors", "description": null, "scopes": ["audit:read"] }),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(updated["name"], "Auditors");
    assert!(updated["description"].is_null());
    assert_eq!(updated["scopes"], json!(["audit:read"]));

    app.delete(&format!("{ROLES}/{uuid}"), &app.admin.pat)
        .await
        .expect(204);
    app.get(&format!("{ROLES}/{uuid}"), &app.admin.pat)
        .await
        .expect_error(404, "not_found");
    app.get(&format!("{ROLES}/{}", uuid::Uuid::new_v4()), &app.admin.pat)
        .await
        .expect_error(404, "not_found");

    for (action, name) in [
        ("role.created", "Auditor"),
        ("role.updated", "Auditor"),
        ("role.deleted", "Auditors"),
    ] {
        let evs = events(&app, action).await;
        assert_eq!(evs.len(), 1, "{action}");
        assert_eq!(evs[0]["actor"]["uuid"], app.admin.uuid.as_str());
        assert_eq!(evs[0]["target"]["uuid"], uuid.as_str());
        assert_eq!(evs[0]["target"]["name"], name);
    }
}

async fn validation(app: TestApp) {
    app.set_plan("enterprise").await;
    let resp = app
        .post(
            ROLES,
            &app.admin.session,
            json!({ "name": "r", "scopes": ["projects:read", "nope:read", "billing:write"] }),
        )
        .await;
    resp.expect_error(400, "invalid_request");
    assert_eq!(resp.field(), "scopes");
    let message = resp.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("nope:read") && message.contains("billing:write"),
        "{message}"
    );
    app.post(
        ROLES,
        &app.admin.session,
        json!({ "name": "r", "scopes": [] }),
    )
    .await
    .expect_error(400, "invalid_request");
    let resp = app
        .post(
            ROLES,
            &app.admin.session,
            json!({ "name": " ", "scopes": ["projects:read"] }),
        )
        .await;
    resp.expect_error(400, "invalid_request");
    assert_eq!(resp.field(), "name");
    create_role(&app, "dup", &["projects:read"]).await;
    app.post(
        ROLES,
        &app.admin.session,
        json!({ "name": "dup", "scopes": ["content:read"] }),
    )
    .await
    .expect_error(409, "conflict");
    assert_eq!(events(&app, "role.created").await.len(), 1);
}

async fn scopes_within_the_creator(app: TestApp) {
    app.set_plan("enterprise").await;
    // A PAT narrowed to roles:write and projects:read may define a role of
    // those, not one with content:write.
    let (_, narrowed) = app
        .create_pat(
            &app.admin.session,
            json!({ "name": "roles only", "scopes": ["roles:write", "projects:read"] }),
        )
        .await;
    let narrowed = Auth::Token(narrowed);
    app.post(
        ROLES,
        &narrowed,
        json!({ "name": "ok", "scopes": ["projects:read"] }),
    )
    .await
    .expect(201);
    app.post(
        ROLES,
        &narrowed,
        json!({ "name": "high", "scopes": ["content:write"] }),
    )
    .await
    .expect_error(403, "role_too_high");
}

async fn member_with_a_custom_role(app: TestApp) {
    app.set_plan("enterprise").await;
    let role = create_role(&app, "Readers", &["projects:read", "audit:read"]).await;
    let role_uuid = role["uuid"].as_str().unwrap();
    let person = app.person("p@acme.test", "viewer").await;
    // role and customRoleUuid together are refused.
    app.patch(
        &format!("/api/v1/org/users/{}", person.uuid),
        &app.admin.session,
        json!({ "role": "editor", "customRoleUuid": role_uuid }),
    )
    .await
    .expect_error(400, "invalid_request");
    // A custom role of nowhere.
    let resp = app
        .patch(
            &format!("/api/v1/org/users/{}", person.uuid),
            &app.admin.session,
            json!({ "customRoleUuid": uuid::Uuid::new_v4() }),
        )
        .await;
    resp.expect_error(400, "invalid_request");
    assert_eq!(resp.field(), "customRoleUuid");

    let member = app
        .patch(
            &format!("/api/v1/org/users/{}", person.uuid),
            &app.admin.session,
            json!({ "customRoleUuid": role_uuid }),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(
        member["customRole"],
        json!({ "uuid": role_uuid, "name": "Readers" })
    );
    // Its scopes are the member's organization-wide base, on the next request,
    // through a PAT and a session alike.
    for auth in [&person.pat, &person.session] {
        let me = app.get("/api/v1/user", auth).await.expect(200).clone();
        assert_eq!(scopes(&me), ["projects:read", "audit:read"]);
        assert_eq!(me["customRole"]["uuid"], role_uuid);
        app.get("/api/v1/org/audit-logs", auth).await.expect(200);
        app.get("/api/v1/org/users", auth)
            .await
            .expect_error(403, "missing_scope");
    }
    // Changing the role's scopes changes the member's at once.
    app.patch(
        &format!("{ROLES}/{role_uuid}"),
        &app.admin.session,
        json!({ "scopes": ["projects:read"] }),
    )
    .await
    .expect(200);
    let me = app
        .get("/api/v1/user", &person.pat)
        .await
        .expect(200)
        .clone();
    assert_eq!(scopes(&me), ["projects:read"]);
    // Listed with its name; a new member can be added with it too.
    let users = app
        .get("/api/v1/org/users", &app.admin.session)
        .await
        .expect(200)
        .clone();
    let listed = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["userUuid"] == person.uuid.as_str())
        .unwrap()
        .clone();
    assert_eq!(listed["customRole"]["name"], "Readers");
    let added = app
        .post(
            "/api/v1/org/users",
            &app.admin.session,
            json!({ "email": "new@acme.test", "customRoleUuid": role_uuid }),
        )
        .await
        .expect(201)
        .clone();
    assert_eq!(added["customRole"]["uuid"], role_uuid);
    // Back to a system role.
    let back = app
        .patch(
            &format!("/api/v1/org/users/{}", person.uuid),
            &app.admin.session,
            json!({ "role": "editor" }),
        )
        .await
        .expect(200)
        .clone();
    assert!(back["customRole"].is_null());
    let me = app
        .get("/api/v1/user", &person.pat)
        .await
        .expect(200)
        .clone();
    assert_eq!(me["role"], "editor");
    assert!(me["customRole"].is_null());
}

async fn service_account_with_a_custom_role(app: TestApp) {
    app.set_plan("enterprise").await;
    let role = create_role(&app, "Deployer", &["projects:read", "deploy:write"]).await;
    let role_uuid = role["uuid"].as_str().unwrap();
    let account = app
        .post(
            "/api/v1/service-accounts",
            &app.admin.session,
            json!({ "description": "deploy bot", "scope": "organization", "customRoleUuid": role_uuid }),
        )
        .await
        .expect(201)
        .clone();
    assert_eq!(
        account["customRole"],
        json!({ "uuid": role_uuid, "name": "Deployer" })
    );
    let token = Auth::Token(account["token"].as_str().unwrap().to_string());
    let me = app.get("/api/v1/user", &token).await.expect(200).clone();
    assert_eq!(scopes(&me), ["projects:read", "deploy:write"]);
    let verified = app
        .post(
            "/api/v1/auth/verify",
            &Auth::None,
            json!({ "token": account["token"], "scope": "deploy:write" }),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(verified["allowed"], true);
}

async fn delete_while_assigned_is_a_conflict(app: TestApp) {
    app.set_plan("enterprise").await;
    let role = create_role(&app, "Held", &["projects:read"]).await;
    let role_uuid = role["uuid"].as_str().unwrap().to_string();
    let path = format!("{ROLES}/{role_uuid}");

    // Held by a member.
    let person = app.person("p@acme.test", "viewer").await;
    let member_path = format!("/api/v1/org/users/{}", person.uuid);
    app.patch(
        &member_path,
        &app.admin.session,
        json!({ "customRoleUuid": role_uuid }),
    )
    .await
    .expect(200);
    app.delete(&path, &app.admin.session)
        .await
        .expect_error(409, "conflict");
    app.patch(
        &member_path,
        &app.admin.session,
        json!({ "role": "viewer" }),
    )
    .await
    .expect(200);

    // Held by a project row of a service account.
    let project = app.create_project("web").await;
    let account = app
        .post(
            "/api/v1/service-accounts",
            &app.admin.session,
            json!({ "description": "bot", "scope": "project",
                    "projects": [{ "projectUuid": project, "customRoleUuid": role_uuid }] }),
        )
        .await
        .expect(201)
        .clone();
    app.delete(&path, &app.admin.session)
        .await
        .expect_error(409, "conflict");
    assert!(events(&app, "role.deleted").await.is_empty());
    // A deleted service account holds nothing.
    app.delete(
        &format!(
            "/api/v1/service-accounts/{}",
            account["uuid"].as_str().unwrap()
        ),
        &app.admin.session,
    )
    .await
    .expect(204);
    app.delete(&path, &app.admin.session).await.expect(204);
    assert_eq!(events(&app, "role.deleted").await.len(), 1);
}

// ---- operator-defined scopes (`--config`) -------------------------------------------

async fn operator_scopes_on(backend: crate::support::Backend) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latchkey.toml");
    std::fs::write(
        &path,
        "[[scopes]]\nname = \"billing:read\"\ndescription = \"Read invoices\"\n\n[[scopes]]\nname = \"billing:write\"\n",
    )
    .unwrap();
    let app = TestApp::spawn_with(backend, move |c| c.config = Some(path)).await;
    app.set_plan("enterprise").await;
    let catalog = app
        .get("/api/v1/org/scopes", &app.admin.pat)
        .await
        .expect(200)
        .clone();
    let billing = catalog
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["scope"] == "billing:read")
        .expect("billing:read in the catalog")
        .clone();
    assert_eq!(billing["description"], "Read invoices");
    // The admin holds every scope of the catalog, these too, and may put
    // them in a custom role.
    let role = create_role(&app, "Billing", &["billing:read", "projects:read"]).await;
    assert_eq!(role["scopes"], json!(["projects:read", "billing:read"]));
    let account = app
        .post(
            "/api/v1/service-accounts",
            &app.admin.session,
            json!({ "description": "invoices", "scope": "organization", "customRoleUuid": role["uuid"] }),
        )
        .await
        .expect(201)
        .clone();
    for (scope, allowed) in [("billing:read", true), ("billing:write", false)] {
        let verified = app
            .post(
                "/api/v1/auth/verify",
                &Auth::None,
                json!({ "token": account["token"], "scope": scope }),
            )
            .await
            .expect(200)
            .clone();
        assert_eq!(verified["allowed"], allowed, "{scope}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_scopes_sqlite() {
    operator_scopes_on(crate::support::Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_scopes_postgres() {
    operator_scopes_on(crate::support::Backend::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_configuration_file_stops_the_server() {
    let dir = tempfile::tempdir().unwrap();
    for (text, says) in [
        ("[[scopes]]\nname = \"Billing\"\n", "Billing"),
        ("[[scopes]]\nname = \"content:read\"\n", "content:read"),
        ("[[scopes]\nname = ", "not valid"),
        ("[[scopes]]\nname = \"a:b\"\nextra = 1\n", "extra"),
    ] {
        let path = dir.path().join("latchkey.toml");
        std::fs::write(&path, text).unwrap();
        let mut config = latchkey_server::ServeConfig::for_data_dir(dir.path().join("data"));
        config.secret_key = Some(crate::support::SECRET_KEY.into());
        config.config = Some(path);
        let err = match latchkey_server::start(config).await {
            Ok(_) => panic!("started with {text:?}"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(says), "{err}");
        assert!(err.contains("latchkey.toml"), "{err}");
    }
    let mut config = latchkey_server::ServeConfig::for_data_dir(dir.path().join("data"));
    config.secret_key = Some(crate::support::SECRET_KEY.into());
    config.config = Some(dir.path().join("missing.toml"));
    let err = latchkey_server::start(config)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("missing.toml"), "{err}");
}

async fn project_role_that_is_a_custom_role(app: TestApp) {
    app.set_plan("enterprise").await;
    let role = create_role(&app, "Shipper", &["projects:read", "deploy:write"]).await;
    let role_uuid = role["uuid"].as_str().unwrap().to_string();
    let web = app.create_project("web").await;
    let other = app.create_project("other").await;
    let person = app.person("p@acme.test", "member").await;
    let access = format!("/api/v1/projects/{web}/access/{}", person.uuid);
    // Before: the member reaches no project.
    app.get(&format!("/api/v1/projects/{web}"), &person.pat)
        .await
        .expect_error(404, "not_found");
    let granted = app
        .put(
            &access,
            &app.admin.session,
            json!({ "customRoleUuid": role_uuid }),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(
        granted["customRole"],
        json!({ "uuid": role_uuid, "name": "Shipper" })
    );
    let listed = app
        .get(
            &format!("/api/v1/projects/{web}/access"),
            &app.admin.session,
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(listed[0]["customRole"]["uuid"], role_uuid.as_str());
    // The custom role's scopes are the member's on that project, nowhere else.
    app.get(&format!("/api/v1/projects/{web}"), &person.pat)
        .await
        .expect(200);
    app.get(&format!("/api/v1/projects/{other}"), &person.pat)
        .await
        .expect_error(404, "not_found");
    let projects = app
        .get("/api/v1/org/projects", &person.pat)
        .await
        .expect(200)
        .clone();
    assert_eq!(projects.as_array().unwrap().len(), 1);
    for (project, scope, allowed) in [
        (&web, "deploy:write", true),
        (&web, "content:write", false),
        (&other, "deploy:write", false),
    ] {
        let verified = app
            .post(
                "/api/v1/auth/verify",
                &Auth::None,
                json!({ "token": person.pat_token, "scope": scope, "projectUuid": project }),
            )
            .await
            .expect(200)
            .clone();
        assert_eq!(verified["allowed"], allowed, "{scope} on {project}");
    }
    // Held on a project: not deletable.
    app.delete(&format!("{ROLES}/{role_uuid}"), &app.admin.session)
        .await
        .expect_error(409, "conflict");
    let ev = events(&app, "project_access.granted").await;
    assert_eq!(ev[0]["details"]["customRole"]["uuid"], role_uuid.as_str());
    // A system role replaces it.
    let granted = app
        .put(&access, &app.admin.session, json!({ "role": "viewer" }))
        .await
        .expect(200)
        .clone();
    assert!(granted["customRole"].is_null());
    let verified = app
        .post(
            "/api/v1/auth/verify",
            &Auth::None,
            json!({ "token": person.pat_token, "scope": "deploy:write", "projectUuid": web }),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(verified["allowed"], false);
    app.delete(&format!("{ROLES}/{role_uuid}"), &app.admin.session)
        .await
        .expect(204);
}
