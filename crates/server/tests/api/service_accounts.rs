//! Service accounts (PRODUCT.md §2, API.md "Service accounts") on the real
//! server: plan and instance switch, organization and project scope, legacy
//! scopes, immutability, rotation, deletion, the setup token.

use crate::on_both_backends;
use crate::support::{expires_though_cached, in_days, in_two_seconds, Auth, Backend, TestApp};
use serde_json::{json, Value};

on_both_backends!(
    plan_required,
    organization_scope_with_a_system_role,
    legacy_scopes_work_with_warnings,
    create_validation,
    role_no_higher_than_the_creator,
    project_scope_sees_only_its_projects,
    rows_are_immutable,
    rotate_and_delete,
    project_row_with_a_custom_role,
    expiry,
);

const ACCOUNTS: &str = "/api/v1/service-accounts";

async fn create(app: &TestApp, body: Value) -> Value {
    app.post(ACCOUNTS, &app.admin.session, body)
        .await
        .expect(201)
        .clone()
}

fn token_of(account: &Value) -> Auth {
    Auth::Token(account["token"].as_str().expect("token").to_string())
}

fn path_of(account: &Value) -> String {
    format!("{ACCOUNTS}/{}", account["uuid"].as_str().expect("uuid"))
}

fn scopes(me: &Value) -> Vec<String> {
    serde_json::from_value(me["scopes"].clone()).expect("scopes")
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

async fn plan_required(app: TestApp) {
    // Listing is never gated (an admin can always see what exists); creating is.
    app.get(ACCOUNTS, &app.admin.session).await.expect(200);
    app.post(
        ACCOUNTS,
        &app.admin.session,
        json!({ "description": "bot", "scope": "organization", "role": "viewer" }),
    )
    .await
    .expect_error(403, "plan_required");
    // The plan is read on the next request.
    app.set_plan("enterprise").await;
    app.get(ACCOUNTS, &app.admin.session).await.expect(200);
    // Without service_accounts:write: missing_scope.
    let editor = app.person("editor@acme.test", "editor").await;
    app.get(ACCOUNTS, &editor.pat)
        .await
        .expect_error(403, "missing_scope");
}

async fn feature_disabled_on(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.service_accounts_enabled = false).await;
    app.set_plan("enterprise").await;
    app.get(ACCOUNTS, &app.admin.session).await.expect(200);
    app.post(
        ACCOUNTS,
        &app.admin.session,
        json!({ "description": "bot", "scope": "organization", "role": "viewer" }),
    )
    .await
    .expect_error(403, "feature_disabled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feature_disabled_sqlite() {
    feature_disabled_on(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feature_disabled_postgres() {
    feature_disabled_on(Backend::Postgres).await
}

async fn organization_scope_with_a_system_role(app: TestApp) {
    app.set_plan("enterprise").await;
    let month = in_days(30);
    let account = create(
        &app,
        json!({ "description": " deploy bot ", "scope": "organization", "role": "admin", "expiresAt": month }),
    )
    .await;
    let token = account["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("lksvc_") && token.len() == 44);
    assert_eq!(account["description"], "deploy bot");
    assert_eq!(account["scope"], "organization");
    assert_eq!(account["role"], "admin");
    assert_eq!(account["displayPrefix"], &token[..10]);
    assert_eq!(account["expiresAt"], month.as_str());
    assert!(account.get("warnings").is_none());
    assert!(account.get("projects").is_none());
    assert_eq!(account["createdBy"]["uuid"], app.admin.uuid.as_str());

    let auth = token_of(&account);
    let me = app.get("/api/v1/user", &auth).await.expect(200).clone();
    assert_eq!(me["principal"]["type"], "service_account");
    assert_eq!(me["credential"]["kind"], "service_account");
    assert_eq!(me["role"], "admin");
    // Actions are attributed to the account.
    let project = app
        .post(
            "/api/v1/org/projects",
            &auth,
            json!({ "name": "made by a bot" }),
        )
        .await
        .expect(201)
        .clone();
    assert_eq!(project["createdBy"]["type"], "service_account");
    assert_eq!(project["createdBy"]["uuid"], account["uuid"]);
    let created = events(&app, "project.created").await;
    assert_eq!(created[0]["actor"]["uuid"], account["uuid"]);
    assert_eq!(created[0]["credential"]["kind"], "service_account");

    // Listed and read without the secret.
    let listed = app.get(ACCOUNTS, &app.admin.pat).await.expect(200).clone();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(listed[0].get("token").is_none());
    assert_eq!(listed[0]["role"], "admin");
    let one = app
        .get(&path_of(&account), &app.admin.pat)
        .await
        .expect(200)
        .clone();
    assert!(one.get("token").is_none());
    assert_eq!(one["description"], "deploy bot");

    let ev = events(&app, "service_account.created").await;
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["target"]["uuid"], account["uuid"]);
    assert!(!ev[0].to_string().contains(&token));
}

async fn legacy_scopes_work_with_warnings(app: TestApp) {
    app.set_plan("enterprise").await;
    for (legacy, role) in [
        ("org:view", "viewer"),
        ("org:edit", "editor"),
        ("org:admin", "admin"),
    ] {
        let account = create(
            &app,
            json!({ "description": legacy, "scope": "organization", "scopes": [legacy] }),
        )
        .await;
        assert_eq!(account["legacyScopes"], json!([legacy]));
        let warnings = account["warnings"].as_array().expect("warnings");
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].as_str().unwrap().contains(legacy));
        let me = app
            .get("/api/v1/user", &token_of(&account))
            .await
            .expect(200)
            .clone();
        assert_eq!(me["role"], role);
        let expected = app
            .get("/api/v1/org/roles", &app.admin.pat)
            .await
            .expect(200)["systemRoles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["role"] == role)
            .unwrap()["scopes"]
            .clone();
        assert_eq!(json!(scopes(&me)), expected, "{legacy}");
        // The warning is only in the response that creates it.
        let one = app
            .get(&path_of(&account), &app.admin.pat)
            .await
            .expect(200)
            .clone();
        assert!(one.get("warnings").is_none());
        assert_eq!(one["legacyScopes"], json!([legacy]));
    }
    let resp = app
        .post(
            ACCOUNTS,
            &app.admin.session,
            json!({ "description": "x", "scope": "organization", "scopes": ["content:read"] }),
        )
        .await;
    resp.expect_error(400, "invalid_request");
    assert_eq!(resp.field(), "scopes");
}

async fn create_validation(app: TestApp) {
    app.set_plan("enterprise").await;
    let project = app.create_project("web").await;
    let cases = [
        (
            json!({ "description": "x", "scope": "organization" }),
            "role",
        ),
        (
            json!({ "description": "x", "scope": "organization", "role": "viewer", "scopes": ["org:view"] }),
            "role",
        ),
        (
            json!({ "description": "x", "scope": "organization", "role": "viewer", "customRoleUuid": uuid::Uuid::new_v4() }),
            "role",
        ),
        (
            json!({ "description": "x", "scope": "organization", "role": "member" }),
            "role",
        ),
        (
            json!({ "description": "x", "scope": "organization", "customRoleUuid": uuid::Uuid::new_v4() }),
            "customRoleUuid",
        ),
        (
            json!({ "description": "x", "scope": "organization", "role": "viewer", "projects": [] }),
            "projects",
        ),
        (
            json!({ "description": "x", "scope": "team", "role": "viewer" }),
            "scope",
        ),
        (
            json!({ "description": " ", "scope": "organization", "role": "viewer" }),
            "description",
        ),
        (
            json!({ "description": "x", "scope": "organization", "role": "viewer", "expiresAt": "2001-01-01T00:00:00Z" }),
            "expiresAt",
        ),
        (
            json!({ "description": "x", "scope": "project" }),
            "projects",
        ),
        (
            json!({ "description": "x", "scope": "project", "projects": [] }),
            "projects",
        ),
        (
            json!({ "description": "x", "scope": "project", "scopes": ["org:view"], "projects": [{ "projectUuid": project, "role": "viewer" }] }),
            "scopes",
        ),
        (
            json!({ "description": "x", "scope": "project", "role": "viewer", "projects": [{ "projectUuid": project, "role": "viewer" }] }),
            "role",
        ),
        (
            json!({ "description": "x", "scope": "project", "projects": [{ "projectUuid": project, "role": "viewer" }, { "projectUuid": project, "role": "editor" }] }),
            "projects[1].projectUuid",
        ),
        (
            json!({ "description": "x", "scope": "project", "projects": [{ "projectUuid": uuid::Uuid::new_v4(), "role": "viewer" }] }),
            "projects[0].projectUuid",
        ),
        (
            json!({ "description": "x", "scope": "project", "projects": [{ "projectUuid": project }] }),
            "projects[0].role",
        ),
        (
            json!({ "description": "x", "scope": "project", "projects": [{ "projectUuid": project, "role": "member" }] }),
            "projects[0].role",
        ),
        (
            json!({ "description": "x", "scope": "project", "projects": [{ "projectUuid": project, "role": "viewer", "customRoleUuid": uuid::Uuid::new_v4() }] }),
            "projects[0].role",
        ),
    ];
    for (body, field) in cases {
        let resp = app.post(ACCOUNTS, &app.admin.session, body.clone()).await;
        resp.expect_error(400, "invalid_request");
        assert_eq!(resp.field(), field, "{body}");
    }
    // A project of another organization is not one of this organization's.
    let other = app
        .post(
            "/api/v1/orgs",
            &app.admin.session,
            json!({ "name": "Other" }),
        )
        .await
        .expect(201)["uuid"]
        .clone();
    let elsewhere = app
        .login(crate::support::ADMIN_EMAIL, crate::support::PASSWORD)
        .await;
    app.post(
        "/api/v1/user/me/active-org",
        &elsewhere,
        json!({ "orgUuid": other }),
    )
    .await
    .expect(200);
    let foreign = app
        .post(
            "/api/v1/org/projects",
            &elsewhere,
            json!({ "name": "theirs" }),
        )
        .await
        .expect(201)["projectUuid"]
        .clone();
    let resp = app
        .post(
            ACCOUNTS,
            &app.admin.pat,
            json!({ "description": "x", "scope": "project", "projects": [{ "projectUuid": foreign, "role": "viewer" }] }),
        )
        .await;
    resp.expect_error(400, "invalid_request");
    assert_eq!(resp.field(), "projects[0].projectUuid");
    let listed = app.get(ACCOUNTS, &app.admin.pat).await.expect(200).clone();
    assert_eq!(listed, json!([]));
    assert!(events(&app, "service_account.created").await.is_empty());
}

async fn role_no_higher_than_the_creator(app: TestApp) {
    app.set_plan("enterprise").await;
    let project = app.create_project("web").await;
    let (_, narrowed) = app
        .create_pat(
            &app.admin.session,
            json!({ "name": "sa only", "scopes": ["service_accounts:write", "projects:read", "content:read"] }),
        )
        .await;
    let narrowed = Auth::Token(narrowed);
    app.post(
        ACCOUNTS,
        &narrowed,
        json!({ "description": "x", "scope": "organization", "role": "editor" }),
    )
    .await
    .expect_error(403, "role_too_high");
    app.post(
        ACCOUNTS,
        &narrowed,
        json!({ "description": "x", "scope": "organization", "scopes": ["org:admin"] }),
    )
    .await
    .expect_error(403, "role_too_high");
    app.post(
        ACCOUNTS,
        &narrowed,
        json!({ "description": "x", "scope": "project", "projects": [{ "projectUuid": project, "role": "editor" }] }),
    )
    .await
    .expect_error(403, "role_too_high");
    let ok = app
        .post(
            ACCOUNTS,
            &narrowed,
            json!({ "description": "x", "scope": "organization", "role": "viewer" }),
        )
        .await
        .expect(201)
        .clone();
    // Nor raised above the changer afterwards.
    app.patch(&path_of(&ok), &narrowed, json!({ "role": "admin" }))
        .await
        .expect_error(403, "role_too_high");
}

async fn project_scope_sees_only_its_projects(app: TestApp) {
    app.set_plan("enterprise").await;
    let web = app.create_project("web").await;
    let api = app.create_project("api").await;
    let hidden = app.create_project("hidden").await;
    let account = create(
        &app,
        json!({ "description": "per project", "scope": "project", "projects": [
            { "projectUuid": web, "role": "viewer" },
            { "projectUuid": api, "role": "developer" },
        ] }),
    )
    .await;
    assert_eq!(account["scope"], "project");
    assert_eq!(account["projectCount"], 2);
    assert!(account.get("role").is_none());
    let rows = account["projects"].as_array().unwrap();
    assert_eq!(rows[0]["projectName"], "api");
    assert_eq!(rows[0]["role"], "developer");
    assert_eq!(rows[1]["projectUuid"], web.as_str());

    let auth = token_of(&account);
    let me = app.get("/api/v1/user", &auth).await.expect(200).clone();
    assert!(scopes(&me).is_empty());
    let listed = app
        .get("/api/v1/org/projects", &auth)
        .await
        .expect(200)
        .clone();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["api", "web"]);
    assert_eq!(listed[0]["role"], "developer");
    let on_web = app
        .get(&format!("/api/v1/projects/{web}"), &auth)
        .await
        .expect(200)
        .clone();
    assert_eq!(on_web["role"], "viewer");
    app.get(&format!("/api/v1/projects/{hidden}"), &auth)
        .await
        .expect_error(404, "not_found");
    app.patch(
        &format!("/api/v1/projects/{web}"),
        &auth,
        json!({ "name": "w" }),
    )
    .await
    .expect_error(403, "missing_scope");
    app.get("/api/v1/org/users", &auth)
        .await
        .expect_error(403, "missing_scope");
    for (project, scope, allowed) in [
        (&api, "deploy:write", true),
        (&web, "content:read", true),
        (&web, "content:write", false),
        (&hidden, "content:read", false),
    ] {
        let verified = app
            .post(
                "/api/v1/auth/verify",
                &Auth::None,
                json!({ "token": account["token"], "scope": scope, "projectUuid": project }),
            )
            .await
            .expect(200)
            .clone();
        assert_eq!(verified["allowed"], allowed, "{scope} on {project}");
    }
    // Organization-wide, nothing.
    let verified = app
        .post(
            "/api/v1/auth/verify",
            &Auth::None,
            json!({ "token": account["token"], "scope": "projects:read" }),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(verified["allowed"], false);
    // Listed with the count and the rows.
    let listed = app.get(ACCOUNTS, &app.admin.pat).await.expect(200).clone();
    assert_eq!(listed[0]["projectCount"], 2);
    assert_eq!(listed[0]["projects"][1]["projectName"], "web");
    // A deleted project drops out of the rows.
    app.delete(&format!("/api/v1/projects/{api}"), &app.admin.pat)
        .await
        .expect(204);
    let listed = app
        .get("/api/v1/org/projects", &auth)
        .await
        .expect(200)
        .clone();
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

async fn rows_are_immutable(app: TestApp) {
    app.set_plan("enterprise").await;
    let web = app.create_project("web").await;
    let per_project = create(
        &app,
        json!({ "description": "p", "scope": "project", "projects": [{ "projectUuid": web, "role": "viewer" }] }),
    )
    .await;
    let org_wide = create(
        &app,
        json!({ "description": "o", "scope": "organization", "role": "viewer" }),
    )
    .await;
    for (account, body) in [
        (
            &per_project,
            json!({ "projects": [{ "projectUuid": web, "role": "editor" }] }),
        ),
        (&per_project, json!({ "scope": "organization" })),
        (&per_project, json!({ "role": "editor" })),
        (&org_wide, json!({ "scope": "project" })),
        (&org_wide, json!({ "projects": [] })),
    ] {
        let resp = app
            .patch(&path_of(account), &app.admin.session, body.clone())
            .await;
        resp.expect_error(400, "immutable_field");
    }
    // The description of either, and the role of an organization-scoped one, change.
    let changed = app
        .patch(
            &path_of(&per_project),
            &app.admin.session,
            json!({ "description": "renamed" }),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(changed["description"], "renamed");
    assert_eq!(changed["projectCount"], 1);
    let auth = token_of(&org_wide);
    assert_eq!(
        app.get("/api/v1/user", &auth).await.expect(200)["role"],
        "viewer"
    );
    let changed = app
        .patch(
            &path_of(&org_wide),
            &app.admin.session,
            json!({ "role": "editor" }),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(changed["role"], "editor");
    // On the account's next request.
    assert_eq!(
        app.get("/api/v1/user", &auth).await.expect(200)["role"],
        "editor"
    );
    let ev = events(&app, "service_account.updated").await;
    assert_eq!(ev.len(), 2);
}

async fn rotate_and_delete(app: TestApp) {
    app.set_plan("enterprise").await;
    let no_expiry = create(
        &app,
        json!({ "description": "n", "scope": "organization", "role": "viewer" }),
    )
    .await;
    app.patch(
        &format!("{}/rotate", path_of(&no_expiry)),
        &app.admin.session,
        json!({ "expiresAt": in_days(30) }),
    )
    .await
    .expect_error(400, "rotation_requires_expiry");

    let account = create(
        &app,
        json!({ "description": "r", "scope": "organization", "role": "viewer", "expiresAt": in_days(7) }),
    )
    .await;
    let old = token_of(&account);
    let rotated = app
        .patch(
            &format!("{}/rotate", path_of(&account)),
            &app.admin.session,
            json!({ "expiresAt": in_days(30) }),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(rotated["uuid"], account["uuid"]);
    assert!(rotated["rotatedAt"].is_string());
    let new = token_of(&rotated);
    app.get("/api/v1/user", &new).await.expect(200);
    app.get("/api/v1/user", &old)
        .await
        .expect_error(401, "token_revoked");
    // Once an hour.
    let again = app
        .patch(
            &format!("{}/rotate", path_of(&account)),
            &app.admin.session,
            json!({ "expiresAt": in_days(60) }),
        )
        .await;
    assert_eq!(again.status, 429, "{}", again.body);
    let ev = events(&app, "service_account.rotated").await;
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["target"]["uuid"], account["uuid"]);

    app.delete(&path_of(&account), &app.admin.session)
        .await
        .expect(204);
    app.get("/api/v1/user", &new)
        .await
        .expect_error(401, "token_revoked");
    app.get(&path_of(&account), &app.admin.session)
        .await
        .expect_error(404, "not_found");
    app.delete(&path_of(&account), &app.admin.session)
        .await
        .expect_error(404, "not_found");
    let ev = events(&app, "service_account.deleted").await;
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["actor"]["uuid"], app.admin.uuid.as_str());
}

async fn project_row_with_a_custom_role(app: TestApp) {
    app.set_plan("enterprise").await;
    let role = app
        .post(
            "/api/v1/org/roles",
            &app.admin.session,
            json!({ "name": "Previewer", "scopes": ["projects:read", "previews:write"] }),
        )
        .await
        .expect(201)
        .clone();
    let web = app.create_project("web").await;
    let account = create(
        &app,
        json!({ "description": "previews", "scope": "project",
                "projects": [{ "projectUuid": web, "customRoleUuid": role["uuid"] }] }),
    )
    .await;
    assert_eq!(
        account["projects"][0]["customRole"],
        json!({ "uuid": role["uuid"], "name": "Previewer" })
    );
    assert!(account["projects"][0].get("role").is_none());
    let auth = token_of(&account);
    app.get(&format!("/api/v1/projects/{web}"), &auth)
        .await
        .expect(200);
    for (scope, allowed) in [("previews:write", true), ("content:read", false)] {
        let verified = app
            .post(
                "/api/v1/auth/verify",
                &Auth::None,
                json!({ "token": account["token"], "scope": scope, "projectUuid": web }),
            )
            .await
            .expect(200)
            .clone();
        assert_eq!(verified["allowed"], allowed, "{scope}");
    }
    // The role's new scopes reach the account on its next request.
    app.patch(
        &format!("/api/v1/org/roles/{}", role["uuid"].as_str().unwrap()),
        &app.admin.session,
        json!({ "scopes": ["projects:read", "content:read"] }),
    )
    .await
    .expect(200);
    let verified = app
        .post(
            "/api/v1/auth/verify",
            &Auth::None,
            json!({ "token": account["token"], "scope": "content:read", "projectUuid": web }),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(verified["allowed"], true);
}

// ---- the setup token ----------------------------------------------------------------

fn generated_token() -> String {
    latchkey_core::TokenSecret::generate(
        latchkey_core::TokenKind::ServiceAccount,
        &mut rand::thread_rng(),
    )
    .expose()
    .to_string()
}

async fn setup_token_on(backend: Backend) {
    let token = generated_token();
    let given = token.clone();
    let app = TestApp::spawn_with(backend, move |c| {
        c.setup_service_account_token = Some(given.into());
    })
    .await;
    let auth = Auth::Token(token.clone());
    let me = app.get("/api/v1/user", &auth).await.expect(200).clone();
    assert_eq!(me["principal"]["type"], "service_account");
    assert_eq!(me["role"], "admin");
    assert_eq!(me["org"]["uuid"], app.org_uuid.as_str());
    assert_eq!(me["org"]["plan"], "enterprise");
    // It can set the instance up: a service account of its own.
    let account = app
        .post(
            ACCOUNTS,
            &auth,
            json!({ "description": "ci", "scope": "organization", "role": "developer" }),
        )
        .await
        .expect(201)
        .clone();
    assert_eq!(account["createdBy"]["type"], "service_account");
    let listed = app.get(ACCOUNTS, &auth).await.expect(200).clone();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let created = events(&app, "service_account.created").await;
    assert_eq!(created.len(), 2);
    assert!(!created.iter().any(|e| e.to_string().contains(&token)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_token_sqlite() {
    setup_token_on(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_token_postgres() {
    setup_token_on(Backend::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_setup_token_stops_the_server() {
    let mut good = generated_token();
    // A wrong checksum, a wrong kind, and not a token at all.
    good.replace_range(43.., if good.ends_with('A') { "B" } else { "A" });
    let pat = latchkey_core::TokenSecret::generate(
        latchkey_core::TokenKind::PersonalAccessToken,
        &mut rand::thread_rng(),
    )
    .expose()
    .to_string();
    // A token alone, without the organization to put it in, is refused too.
    {
        let dir = tempfile::tempdir().unwrap();
        let mut config = latchkey_server::ServeConfig::for_data_dir(dir.path().join("data"));
        config.secret_key = Some(crate::support::SECRET_KEY.into());
        config.setup_service_account_token = Some(generated_token().into());
        let err = latchkey_server::start(config)
            .await
            .err()
            .expect("refused")
            .to_string();
        assert!(err.contains("LATCHKEY_SETUP_ORG_NAME"), "{err}");
    }
    for bad in [good, pat, "lksvc_short".to_string()] {
        let dir = tempfile::tempdir().unwrap();
        let mut config = latchkey_server::ServeConfig::for_data_dir(dir.path().join("data"));
        config.secret_key = Some(crate::support::SECRET_KEY.into());
        config.setup_org_name = Some("Acme".into());
        config.setup_admin_email = Some(crate::support::ADMIN_EMAIL.into());
        config.setup_admin_password = Some(crate::support::PASSWORD.into());
        config.setup_service_account_token = Some(bad.clone().into());
        let err = match latchkey_server::start(config).await {
            Ok(_) => panic!("started with {bad}"),
            Err(e) => e.to_string(),
        };
        assert!(
            err.contains("LATCHKEY_SETUP_SERVICE_ACCOUNT_TOKEN"),
            "{err}"
        );
        assert!(!err.contains(&bad), "the message echoes the token: {err}");
    }
}

/// A service account past its `expiresAt` is refused, though it was cached
/// while valid.
async fn expiry(app: TestApp) {
    app.set_plan("enterprise").await;
    let account = create(
        &app,
        json!({ "description": "brief", "scope": "organization", "role": "viewer", "expiresAt": in_two_seconds() }),
    )
    .await;
    let token = account["token"].as_str().unwrap();
    expires_though_cached(&app, token, "service_account").await;
    let shown = app.get(&path_of(&account), &app.admin.session).await;
    assert_eq!(shown.expect(200)["expiresAt"], account["expiresAt"]);
}
