//! What teams give a member's credentials, through the request path and its
//! caches. The teams are set up through the store here, as an operator
//! would; the routes that manage them have their own tests.

use crate::on_both_backends;
use crate::support::{Auth, TestApp};
use latchkey_core::{AuditAction, AuditEvent, OrgId, ProjectId, Role, TeamId, UserId};
use latchkey_store::{NewTeam, RoleRef};
use serde_json::{json, Value};

on_both_backends!(
    a_team_role_reaches_the_members_tokens_at_once,
    team_project_roles_decide_verify_on_a_project
);

fn event(app: &TestApp, action: AuditAction) -> AuditEvent {
    AuditEvent {
        org_uuid: org(app),
        at: time::OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .unwrap(),
        action,
        actor: None,
        credential: None,
        target: None,
        ip: None,
        user_agent: None,
        details: json!({ "by": "test" }),
    }
}

fn org(app: &TestApp) -> OrgId {
    app.org_uuid.parse().expect("org uuid")
}

fn store(app: &TestApp) -> &dyn latchkey_store::Store {
    app.server.as_ref().expect("running").store.as_ref()
}

async fn new_team(app: &TestApp, name: &str, role: Option<Role>) -> TeamId {
    let team = NewTeam {
        uuid: TeamId::random(),
        org_uuid: org(app),
        name: name.into(),
        role: role.map(RoleRef::System),
        now: time::OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .unwrap(),
    };
    store(app)
        .create_team(&team, &event(app, AuditAction::TeamCreated))
        .await
        .expect("create_team");
    team.uuid
}

async fn join(app: &TestApp, team: TeamId, user: &str) {
    let user: UserId = user.parse().unwrap();
    store(app)
        .add_team_member(
            org(app),
            team,
            user,
            time::OffsetDateTime::now_utc(),
            &event(app, AuditAction::TeamMemberAdded),
        )
        .await
        .expect("add_team_member");
}

async fn scopes(app: &TestApp, auth: &Auth) -> (Value, Vec<String>) {
    let me = app.get("/api/v1/user", auth).await;
    let r = me.expect(200);
    let scopes = r["scopes"]
        .as_array()
        .expect("scopes")
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    (r["role"].clone(), scopes)
}

async fn a_team_role_reaches_the_members_tokens_at_once(app: TestApp) {
    let viewer = app.person("viewer@acme.test", "viewer").await;
    let (role, held) = scopes(&app, &viewer.pat).await;
    assert_eq!(role, "viewer");
    assert!(!held.contains(&"content:write".to_string()));
    // Cached now; the team change must reach it at once.
    let editors = new_team(&app, "Editors", Some(Role::Editor)).await;
    join(&app, editors, &viewer.uuid).await;
    for auth in [&viewer.pat, &viewer.session] {
        let (role, held) = scopes(&app, auth).await;
        assert_eq!(role, "editor", "the highest of own and team role");
        assert!(held.contains(&"content:write".to_string()));
        assert!(!held.contains(&"members:write".to_string()));
    }
    // A team without an organization role adds nothing.
    let idle = new_team(&app, "Idle", None).await;
    join(&app, idle, &viewer.uuid).await;
    assert_eq!(scopes(&app, &viewer.pat).await.0, "editor");
    // A lower team role does not lower anything.
    let admin_uuid = app.admin.uuid.clone();
    let viewers = new_team(&app, "Viewers", Some(Role::Viewer)).await;
    join(&app, viewers, &admin_uuid).await;
    assert!(scopes(&app, &app.admin.pat)
        .await
        .1
        .contains(&"members:write".to_string()));

    // Leaving the team takes it away the moment it happens.
    store(&app)
        .remove_team_member(
            org(&app),
            editors,
            viewer.uuid.parse().unwrap(),
            &event(&app, AuditAction::TeamMemberRemoved),
        )
        .await
        .unwrap();
    let (role, held) = scopes(&app, &viewer.pat).await;
    assert_eq!(role, "viewer");
    assert!(!held.contains(&"content:write".to_string()));
    // So does the team's deletion.
    join(&app, editors, &viewer.uuid).await;
    assert_eq!(scopes(&app, &viewer.pat).await.0, "editor");
    store(&app)
        .delete_team(org(&app), editors, &event(&app, AuditAction::TeamDeleted))
        .await
        .unwrap();
    assert_eq!(scopes(&app, &viewer.pat).await.0, "viewer");

    // A suspended member gets nothing from teams either.
    let again = new_team(&app, "Editors again", Some(Role::Admin)).await;
    join(&app, again, &viewer.uuid).await;
    app.patch(
        &format!("/api/v1/org/users/{}", viewer.uuid),
        &app.admin.pat,
        json!({ "suspended": true }),
    )
    .await
    .expect(200);
    app.get("/api/v1/user", &viewer.pat)
        .await
        .expect_error(401, "account_suspended");
    let verified = app
        .post(
            "/api/v1/auth/verify",
            &Auth::None,
            json!({ "token": viewer.pat_token, "scope": "members:write" }),
        )
        .await;
    let v = verified.expect(200);
    assert_eq!(
        (v["valid"].clone(), v["code"].clone()),
        (json!(false), json!("account_suspended"))
    );
}

async fn team_project_roles_decide_verify_on_a_project(app: TestApp) {
    let member = app.person("member@acme.test", "member").await;
    let web = app.create_project("web").await;
    let docs = app.create_project("docs").await;
    let allowed = |project: String, scope: &'static str| {
        let app = &app;
        let token = member.pat_token.clone();
        async move {
            app.post(
                "/api/v1/auth/verify",
                &Auth::None,
                json!({ "token": token, "scope": scope, "projectUuid": project }),
            )
            .await
            .expect(200)["allowed"]
                .clone()
        }
    };
    assert_eq!(allowed(web.clone(), "content:read").await, false);
    let team = new_team(&app, "Web", None).await;
    join(&app, team, &member.uuid).await;
    let web_id: ProjectId = web.parse().unwrap();
    store(&app)
        .set_team_project_role(
            org(&app),
            team,
            web_id,
            RoleRef::System(Role::Editor),
            time::OffsetDateTime::now_utc(),
            &event(&app, AuditAction::TeamProjectAccessGranted),
        )
        .await
        .unwrap();
    assert_eq!(allowed(web.clone(), "content:write").await, true);
    assert_eq!(allowed(web.clone(), "deploy:write").await, false);
    // Only where the team's role is; organization-wide, nothing.
    assert_eq!(allowed(docs.clone(), "content:read").await, false);
    assert!(scopes(&app, &member.pat).await.1.is_empty());
    // The member's own project role and the team's: the higher one.
    app.put(
        &format!("/api/v1/projects/{web}/access/{}", member.uuid),
        &app.admin.pat,
        json!({ "role": "developer" }),
    )
    .await
    .expect(200);
    assert_eq!(allowed(web.clone(), "deploy:write").await, true);
    app.delete(
        &format!("/api/v1/projects/{web}/access/{}", member.uuid),
        &app.admin.pat,
    )
    .await
    .expect(204);
    assert_eq!(allowed(web.clone(), "deploy:write").await, false);
    assert_eq!(allowed(web.clone(), "content:write").await, true);
    // The project is listed for the member through the team.
    let listed = app.get("/api/v1/org/projects", &member.pat).await;
    let names: Vec<&str> = listed
        .expect(200)
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["web"]);
    // Taken away: gone at once.
    store(&app)
        .remove_team_project_role(
            org(&app),
            team,
            web_id,
            &event(&app, AuditAction::TeamProjectAccessRevoked),
        )
        .await
        .unwrap();
    assert_eq!(allowed(web, "content:read").await, false);
}
