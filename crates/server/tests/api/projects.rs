//! Projects, project roles and attribution.

use crate::on_both_backends;
use crate::support::{Auth, TestApp};
use serde_json::json;

on_both_backends!(
    project_crud_and_attribution,
    project_roles_decide_visibility,
    verify_answers_other_backends,
    verify_on_a_project_follows_its_creation_and_deletion
);

/// `allowed` on a project the caller holds no role on is read from the
/// cached existence of the project: it follows creation and deletion.
async fn verify_on_a_project_follows_its_creation_and_deletion(app: TestApp) {
    let ask = |project: String| {
        let app = &app;
        async move {
            app.post(
                "/api/v1/auth/verify",
                &Auth::None,
                json!({ "token": app.admin.pat_token, "scope": "content:read", "projectUuid": project }),
            )
            .await
            .expect(200)["allowed"]
                .clone()
        }
    };
    let absent = uuid::Uuid::new_v4().to_string();
    assert_eq!(ask(absent).await, false, "no such project");
    let created = app
        .post(
            "/api/v1/org/projects",
            &app.admin.pat,
            json!({ "name": "docs" }),
        )
        .await;
    let project = created.expect(201)["projectUuid"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        ask(project.clone()).await,
        true,
        "created after the set was cached"
    );
    app.delete(&format!("/api/v1/projects/{project}"), &app.admin.pat)
        .await
        .expect(204);
    assert_eq!(ask(project).await, false, "deleted");
}

async fn project_crud_and_attribution(app: TestApp) {
    let created = app
        .post(
            "/api/v1/org/projects",
            &app.admin.pat,
            json!({ "name": "website" }),
        )
        .await;
    let created = created.expect(201).clone();
    let uuid = created["projectUuid"].as_str().unwrap().to_string();
    assert_eq!(
        created["createdBy"],
        json!({ "type": "user", "uuid": app.admin.uuid, "name": crate::support::ADMIN_EMAIL })
    );
    assert_eq!(created["role"], "admin");
    app.post(
        "/api/v1/org/projects",
        &app.admin.pat,
        json!({ "name": "website" }),
    )
    .await
    .expect_error(409, "conflict");
    let editor = app.person("e@acme.test", "admin").await;
    let renamed = app
        .patch(
            &format!("/api/v1/projects/{uuid}"),
            &editor.pat,
            json!({ "name": "site" }),
        )
        .await;
    let renamed = renamed.expect(200);
    assert_eq!(renamed["name"], "site");
    assert_eq!(renamed["updatedBy"]["uuid"], editor.uuid.as_str());
    assert_eq!(renamed["createdBy"]["uuid"], app.admin.uuid.as_str());
    assert_eq!(
        app.get(&format!("/api/v1/projects/{uuid}"), &app.admin.pat)
            .await
            .expect(200)["name"],
        "site"
    );
    assert_eq!(
        app.delete(&format!("/api/v1/projects/{uuid}"), &app.admin.pat)
            .await
            .status,
        204
    );
    app.get(&format!("/api/v1/projects/{uuid}"), &app.admin.pat)
        .await
        .expect_error(404, "not_found");
}

async fn project_roles_decide_visibility(app: TestApp) {
    let member = app.person("m@acme.test", "member").await;
    let viewer = app.person("v@acme.test", "viewer").await;
    let a = app.create_project("a").await;
    let b = app.create_project("b").await;
    let names = |r: crate::support::Resp| -> Vec<String> {
        r.expect(200)
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(names(app.get("/api/v1/org/projects", &member.pat).await).is_empty());
    app.get(&format!("/api/v1/projects/{a}"), &member.pat)
        .await
        .expect_error(404, "not_found");
    assert_eq!(
        names(app.get("/api/v1/org/projects", &viewer.pat).await),
        ["a", "b"]
    );
    // A project role opens one project, at the higher of the two roles.
    app.put(
        &format!("/api/v1/projects/{a}/access/{}", member.uuid),
        &app.admin.pat,
        json!({ "role": "editor" }),
    )
    .await
    .expect(200);
    app.put(
        &format!("/api/v1/projects/{a}/access/{}", viewer.uuid),
        &app.admin.pat,
        json!({ "role": "developer" }),
    )
    .await
    .expect(200);
    assert_eq!(
        names(app.get("/api/v1/org/projects", &member.pat).await),
        ["a"]
    );
    assert_eq!(
        app.get(&format!("/api/v1/projects/{a}"), &member.pat)
            .await
            .expect(200)["role"],
        "editor"
    );
    assert_eq!(
        app.get(&format!("/api/v1/projects/{a}"), &viewer.pat)
            .await
            .expect(200)["role"],
        "developer"
    );
    assert_eq!(
        app.get(&format!("/api/v1/projects/{b}"), &viewer.pat)
            .await
            .expect(200)["role"],
        "viewer"
    );
    let access = app
        .get(&format!("/api/v1/projects/{a}/access"), &app.admin.pat)
        .await;
    assert_eq!(access.expect(200).as_array().unwrap().len(), 2);
    app.patch(
        &format!("/api/v1/projects/{a}"),
        &member.pat,
        json!({ "name": "x" }),
    )
    .await
    .expect_error(403, "missing_scope");
    // Taking the role away closes the project again.
    assert_eq!(
        app.delete(
            &format!("/api/v1/projects/{a}/access/{}", member.uuid),
            &app.admin.pat
        )
        .await
        .status,
        204
    );
    app.get(&format!("/api/v1/projects/{a}"), &member.pat)
        .await
        .expect_error(404, "not_found");
    app.delete(
        &format!("/api/v1/projects/{a}/access/{}", member.uuid),
        &app.admin.pat,
    )
    .await
    .expect_error(404, "not_found");
    // Someone who is not a member cannot be given a project role.
    app.put(
        &format!("/api/v1/projects/{a}/access/{}", uuid::Uuid::new_v4()),
        &app.admin.pat,
        json!({ "role": "viewer" }),
    )
    .await
    .expect_error(404, "not_found");
}

async fn verify_answers_other_backends(app: TestApp) {
    let editor = app.person("e@acme.test", "editor").await;
    let project = app.create_project("p").await;
    let v = app
        .post(
            "/api/v1/auth/verify",
            &Auth::None,
            json!({ "token": editor.pat_token, "scope": "content:write", "projectUuid": project }),
        )
        .await;
    let v = v.expect(200).clone();
    assert_eq!(v["valid"], true);
    assert_eq!(v["allowed"], true);
    assert_eq!(v["principal"]["uuid"], editor.uuid.as_str());
    assert_eq!(v["principal"]["type"], "user");
    assert_eq!(v["org"]["uuid"], app.org_uuid.as_str());
    assert_eq!(v["credential"]["kind"], "pat");
    assert_eq!(v["credential"]["displayPrefix"], &editor.pat_token[..10]);
    assert!(v["scopes"]
        .as_array()
        .unwrap()
        .contains(&json!("content:write")));
    let denied = app
        .post(
            "/api/v1/auth/verify",
            &Auth::None,
            json!({ "token": editor.pat_token, "scope": "deploy:write" }),
        )
        .await;
    assert_eq!(denied.expect(200)["allowed"], false);
    let no_scope = app
        .post(
            "/api/v1/auth/verify",
            &Auth::None,
            json!({ "token": editor.pat_token }),
        )
        .await;
    assert!(no_scope.expect(200).get("allowed").is_none());
    let foreign = app.post("/api/v1/auth/verify", &Auth::None, json!({ "token": editor.pat_token, "scope": "content:read", "projectUuid": uuid::Uuid::new_v4() })).await;
    assert_eq!(foreign.expect(200)["allowed"], false);
    let bad = app
        .post(
            "/api/v1/auth/verify",
            &Auth::None,
            json!({ "token": "lkpat_nope" }),
        )
        .await;
    assert_eq!(
        bad.expect(200).clone(),
        json!({ "valid": false, "code": "malformed_token" })
    );
    app.post(
        "/api/v1/auth/verify",
        &Auth::None,
        json!({ "token": editor.pat_token, "scope": "nope:nope" }),
    )
    .await
    .expect_error(400, "invalid_request");
    // Too many invalid tokens from one address (one was counted above): the
    // next invalid one is refused, a valid one still gets its answer.
    for _ in 0..59 {
        app.post(
            "/api/v1/auth/verify",
            &Auth::None,
            json!({ "token": "lkpat_nope" }),
        )
        .await
        .expect(200);
    }
    app.post(
        "/api/v1/auth/verify",
        &Auth::None,
        json!({ "token": "lkpat_nope" }),
    )
    .await
    .expect_error(429, "rate_limited");
    let valid = app
        .post(
            "/api/v1/auth/verify",
            &Auth::None,
            json!({ "token": editor.pat_token }),
        )
        .await;
    assert_eq!(valid.expect(200)["valid"], true);
}
