//! Members: adding, roles, suspension, removal, and the rules that guard them.

use crate::on_both_backends;
use crate::support::{Auth, TestApp};
use serde_json::json;

on_both_backends!(
    member_management,
    the_last_admin_stays,
    roles_cannot_exceed_the_granter
);

async fn member_management(app: TestApp) {
    let (uuid, code) = app.add_member("Casey@Acme.test", "viewer").await;
    assert!(code.is_some());
    let list = app.get("/api/v1/org/users", &app.admin.pat).await;
    let list = list.expect(200).as_array().unwrap().clone();
    let casey = list
        .iter()
        .find(|m| m["userUuid"] == uuid.as_str())
        .unwrap();
    assert_eq!(casey["email"], "casey@acme.test");
    assert_eq!(
        (casey["role"].as_str(), casey["suspended"].as_bool()),
        (Some("viewer"), Some(false))
    );
    app.post(
        "/api/v1/org/users",
        &app.admin.pat,
        json!({ "email": "casey@acme.test", "role": "editor" }),
    )
    .await
    .expect_error(409, "conflict");
    let path = format!("/api/v1/org/users/{uuid}");
    assert_eq!(
        app.patch(&path, &app.admin.pat, json!({ "role": "developer" }))
            .await
            .expect(200)["role"],
        "developer"
    );
    assert_eq!(
        app.patch(&path, &app.admin.pat, json!({ "suspended": true }))
            .await
            .expect(200)["suspended"],
        true
    );
    assert_eq!(app.delete(&path, &app.admin.pat).await.status, 204);
    app.delete(&path, &app.admin.pat)
        .await
        .expect_error(404, "not_found");
    app.patch(
        &format!("/api/v1/org/users/{}", uuid::Uuid::new_v4()),
        &app.admin.pat,
        json!({ "role": "viewer" }),
    )
    .await
    .expect_error(404, "not_found");
    app.post(
        "/api/v1/org/users",
        &app.admin.pat,
        json!({ "email": "x@acme.test", "customRoleUuid": uuid::Uuid::new_v4() }),
    )
    .await
    .expect_error(400, "invalid_request");
    app.post(
        "/api/v1/org/users",
        &app.admin.pat,
        json!({ "email": "x@acme.test", "role": "viewer", "customRoleUuid": uuid::Uuid::new_v4() }),
    )
    .await
    .expect_error(400, "invalid_request");
    app.post(
        "/api/v1/org/users",
        &app.admin.pat,
        json!({ "email": "not-an-email", "role": "viewer" }),
    )
    .await
    .expect_error(400, "invalid_request");
}

async fn the_last_admin_stays(app: TestApp) {
    let me = format!("/api/v1/org/users/{}", app.admin.uuid);
    app.patch(&me, &app.admin.session, json!({ "role": "editor" }))
        .await
        .expect_error(409, "conflict");
    app.patch(&me, &app.admin.session, json!({ "suspended": true }))
        .await
        .expect_error(409, "conflict");
    app.delete(&me, &app.admin.session)
        .await
        .expect_error(409, "conflict");
    // Still an admin, nothing changed.
    assert_eq!(
        app.get("/api/v1/user", &app.admin.pat).await.expect(200)["role"],
        "admin"
    );
    // With a second admin the first may step down.
    let second = app.person("second@acme.test", "admin").await;
    app.patch(&me, &second.pat, json!({ "role": "editor" }))
        .await
        .expect(200);
    assert_eq!(
        app.get("/api/v1/user", &app.admin.pat).await.expect(200)["role"],
        "editor"
    );
}

async fn roles_cannot_exceed_the_granter(app: TestApp) {
    // A project admin manages that project's access but cannot give more than
    // they hold there, and has no say on the organization's members.
    let member = app.person("m@acme.test", "member").await;
    let other = app.person("o@acme.test", "viewer").await;
    let project = app.create_project("p").await;
    app.put(
        &format!("/api/v1/projects/{project}/access/{}", member.uuid),
        &app.admin.pat,
        json!({ "role": "developer" }),
    )
    .await
    .expect(200);
    let grant = |role: &str| json!({ "role": role });
    app.put(
        &format!("/api/v1/projects/{project}/access/{}", other.uuid),
        &member.pat,
        grant("editor"),
    )
    .await
    .expect_error(403, "missing_scope");
    app.put(
        &format!("/api/v1/projects/{project}/access/{}", member.uuid),
        &app.admin.pat,
        grant("admin"),
    )
    .await
    .expect(200);
    app.put(
        &format!("/api/v1/projects/{project}/access/{}", other.uuid),
        &member.pat,
        grant("editor"),
    )
    .await
    .expect(200);
    app.put(
        &format!("/api/v1/projects/{project}/access/{}", other.uuid),
        &member.pat,
        grant("member"),
    )
    .await
    .expect_error(400, "invalid_request");
    app.get("/api/v1/org/users", &member.pat)
        .await
        .expect_error(403, "missing_scope");
    // A narrowed admin token lacks members:write.
    let (_, narrow) = app
        .create_pat(
            &app.admin.session,
            json!({ "name": "n", "scopes": ["projects:read"] }),
        )
        .await;
    let r = app
        .post(
            "/api/v1/org/users",
            &Auth::Token(narrow),
            json!({ "email": "z@acme.test", "role": "viewer" }),
        )
        .await;
    r.expect_error(403, "missing_scope");
    assert_eq!(r.body["error"]["details"]["requiredScope"], "members:write");
}
