//! The world the table runs in: two organizations, every kind of principal, and a fresh target per row.

use crate::support::{in_days, Auth, TestApp, ADMIN_EMAIL, PASSWORD};
use crate::table::*;
use serde_json::{json, Value};

/// Principals and the standing resources the rows aim at.
pub(crate) struct World {
    /// One credential per column of [`COLUMNS`].
    pub(crate) auth: Vec<Auth>,
    pub(crate) acme: String,
    pub(crate) globex: String,
    pub(crate) admin_token: String,
    pub(crate) project: String,
    pub(crate) globex_project: String,
    pub(crate) project_admin: String,
    pub(crate) grantee: String,
    pub(crate) patchee: String,
    pub(crate) outsider: String,
    pub(crate) outsider_session: Auth,
    pub(crate) globex_member: String,
    pub(crate) admin_pat: String,
    pub(crate) globex_pat: String,
    pub(crate) editor_session: Auth,
}

pub(crate) fn uuid_of(v: &Value, field: &str) -> String {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {v}"))
        .to_string()
}

pub(crate) async fn build_world(app: &TestApp) -> World {
    let admin = &app.admin;
    let project = app.create_project("Shared").await;

    let member = app.person("member@acme.test", "member").await;
    let viewer = app.person("viewer@acme.test", "viewer").await;
    let editor = app.person("editor@acme.test", "editor").await;
    let developer = app.person("developer@acme.test", "developer").await;
    let project_admin = app.person("project-admin@acme.test", "member").await;
    app.put(
        &format!("/api/v1/projects/{project}/access/{}", project_admin.uuid),
        &admin.pat,
        json!({ "role": "admin" }),
    )
    .await
    .expect(200);
    let (_, narrowed) = app
        .create_pat(
            &admin.session,
            json!({ "name": "narrowed", "scopes": ["content:read"] }),
        )
        .await;
    let (grantee, _) = app.add_member("grantee@acme.test", "viewer").await;
    let (patchee, _) = app.add_member("patchee@acme.test", "viewer").await;
    let (admin_pat, _) = app
        .create_pat(&admin.session, json!({ "name": "aimed at" }))
        .await;
    let api_key = |role: &'static str| async move {
        let resp = app
            .post(
                "/api/v1/org/api-keys",
                &admin.pat,
                json!({ "name": format!("{role} key"), "role": role }),
            )
            .await;
        Auth::Token(uuid_of(resp.expect(201), "token"))
    };
    let editor_key = api_key("editor").await;
    let admin_key = api_key("admin").await;

    // The outsider joins Acme only to sign in, creates Globex, moves the
    // session there, and leaves Acme: from then on an admin of another
    // organization only.
    let (outsider, code) = app.add_member("outsider@globex.test", "viewer").await;
    let code = code.expect("a new user gets an invite");
    app.post(
        &format!("/api/v1/invites/{code}"),
        &Auth::None,
        json!({ "password": PASSWORD }),
    )
    .await
    .expect(200);
    let outsider_session = app.login("outsider@globex.test", PASSWORD).await;
    let globex = app
        .post(
            "/api/v1/orgs",
            &outsider_session,
            json!({ "name": "Globex" }),
        )
        .await;
    let globex = uuid_of(globex.expect(201), "uuid");
    app.post(
        "/api/v1/user/me/active-org",
        &outsider_session,
        json!({ "orgUuid": globex }),
    )
    .await
    .expect(200);
    app.delete(&format!("/api/v1/org/users/{outsider}"), &admin.pat)
        .await
        .expect(204);
    let me = app.get("/api/v1/user", &outsider_session).await;
    assert_eq!(me.expect(200)["org"]["uuid"], globex.as_str());
    // Custom roles and service accounts need the enterprise plan.
    app.set_plan_of(&app.org_uuid, "enterprise").await;
    app.set_plan_of(&globex, "enterprise").await;
    let custom_role = app
        .post(
            "/api/v1/org/roles",
            &admin.pat,
            json!({ "name": "auditor", "scopes": ["projects:read", "content:read", "audit:read"] }),
        )
        .await;
    let custom_role = uuid_of(custom_role.expect(201), "uuid");
    let account = |body: Value| async move {
        let resp = app.post("/api/v1/service-accounts", &admin.pat, body).await;
        Auth::Token(uuid_of(resp.expect(201), "token"))
    };
    let editor_account = account(
        json!({ "description": "editor account", "scope": "organization", "role": "editor" }),
    )
    .await;
    let project_account = account(
        json!({ "description": "project account", "scope": "project",
        "projects": [{ "projectUuid": project, "role": "admin" }] }),
    )
    .await;
    let custom_account = account(json!({ "description": "custom account", "scope": "organization", "customRoleUuid": custom_role })).await;
    let (_, other_token) = app
        .create_pat(&outsider_session, json!({ "name": "globex admin" }))
        .await;
    let (globex_pat, _) = app
        .create_pat(&outsider_session, json!({ "name": "aimed at" }))
        .await;
    let globex_project = app
        .post(
            "/api/v1/org/projects",
            &outsider_session,
            json!({ "name": "Globex project" }),
        )
        .await;
    let globex_project = uuid_of(globex_project.expect(201), "projectUuid");
    let globex_member = app
        .post(
            "/api/v1/org/users",
            &outsider_session,
            json!({ "email": "member@globex.test", "role": "viewer" }),
        )
        .await;
    let globex_member = uuid_of(globex_member.expect(201), "userUuid");

    let auth = COLUMNS
        .iter()
        .map(|who| match who {
            Who::Anonymous => Auth::None,
            Who::Member => member.pat.clone(),
            Who::Viewer => viewer.pat.clone(),
            Who::Editor => editor.pat.clone(),
            Who::Developer => developer.pat.clone(),
            Who::Admin => admin.pat.clone(),
            Who::AdminSession => admin.session.clone(),
            Who::Narrowed => Auth::Token(narrowed.clone()),
            Who::OtherOrgAdmin => Auth::Token(other_token.clone()),
            Who::ProjectAdmin => project_admin.pat.clone(),
            Who::EditorKey => editor_key.clone(),
            Who::AdminKey => admin_key.clone(),
            Who::EditorAccount => editor_account.clone(),
            Who::ProjectAccount => project_account.clone(),
            Who::CustomAccount => custom_account.clone(),
        })
        .collect();
    World {
        auth,
        acme: app.org_uuid.clone(),
        globex,
        admin_token: admin.pat_token.clone(),
        project,
        globex_project,
        project_admin: project_admin.uuid,
        grantee,
        patchee,
        outsider,
        outsider_session,
        globex_member,
        admin_pat,
        globex_pat,
        editor_session: editor.session,
    }
}

pub(crate) type Params = Vec<(&'static str, String)>;

/// Creates what a cell aims at; returns the path parameters and, for the
/// session column of a logout, the session to use instead of the shared one.
pub(crate) async fn prepare(
    app: &TestApp,
    w: &World,
    target: Target,
    who: Who,
    n: usize,
) -> (Params, Option<Auth>) {
    let admin = &app.admin;
    let mut params: Params = Vec::new();
    let mut auth = None;
    let fresh_pat = |auth: Auth, body: Value| async move {
        let resp = app
            .post("/api/v1/user/me/personal-access-tokens", &auth, body)
            .await;
        uuid_of(resp.expect(201), "uuid")
    };
    match target {
        Target::Nothing => {}
        Target::Project => params.push(("projectUuid", w.project.clone())),
        Target::FreshProject => {
            let project = app.create_project(&format!("Doomed {n}")).await;
            app.put(
                &format!("/api/v1/projects/{project}/access/{}", w.project_admin),
                &admin.pat,
                json!({ "role": "admin" }),
            )
            .await
            .expect(200);
            params.push(("projectUuid", project));
        }
        Target::OtherProject => params.push(("projectUuid", w.globex_project.clone())),
        Target::FreshOtherProject => {
            let resp = app
                .post(
                    "/api/v1/org/projects",
                    &w.outsider_session,
                    json!({ "name": format!("Doomed {n}") }),
                )
                .await;
            params.push(("projectUuid", uuid_of(resp.expect(201), "projectUuid")));
        }
        Target::ProjectGrantee => {
            params.push(("projectUuid", w.project.clone()));
            params.push(("userUuid", w.grantee.clone()));
        }
        Target::ProjectFreshGrant => {
            app.put(
                &format!("/api/v1/projects/{}/access/{}", w.project, w.grantee),
                &admin.pat,
                json!({ "role": "viewer" }),
            )
            .await
            .expect(200);
            params.push(("projectUuid", w.project.clone()));
            params.push(("userUuid", w.grantee.clone()));
        }
        Target::ProjectOutsider => {
            params.push(("projectUuid", w.project.clone()));
            params.push(("userUuid", w.outsider.clone()));
        }
        Target::OtherProjectMember => {
            params.push(("projectUuid", w.globex_project.clone()));
            params.push(("userUuid", w.globex_member.clone()));
        }
        Target::OtherProjectFreshGrant => {
            app.put(
                &format!(
                    "/api/v1/projects/{}/access/{}",
                    w.globex_project, w.globex_member
                ),
                &w.outsider_session,
                json!({ "role": "viewer" }),
            )
            .await
            .expect(200);
            params.push(("projectUuid", w.globex_project.clone()));
            params.push(("userUuid", w.globex_member.clone()));
        }
        Target::Member => params.push(("userUuid", w.patchee.clone())),
        Target::FreshMember => {
            let (uuid, _) = app
                .add_member(&format!("leaving{n}@acme.test"), "viewer")
                .await;
            params.push(("userUuid", uuid));
        }
        Target::OtherMember => params.push(("userUuid", w.globex_member.clone())),
        Target::FreshOtherMember => {
            let resp = app
                .post(
                    "/api/v1/org/users",
                    &w.outsider_session,
                    json!({ "email": format!("leaving{n}@globex.test"), "role": "viewer" }),
                )
                .await;
            params.push(("userUuid", uuid_of(resp.expect(201), "userUuid")));
        }
        Target::AdminPat => params.push(("uuid", w.admin_pat.clone())),
        Target::FreshAdminPat => {
            let body = json!({ "name": format!("fresh {n}"), "expiresAt": in_days(60) });
            params.push(("uuid", fresh_pat(admin.session.clone(), body).await));
        }
        Target::FreshNarrowAdminPat => {
            let body = json!({ "name": format!("fresh {n}"), "expiresAt": in_days(60), "scopes": ["content:read"] });
            params.push(("uuid", fresh_pat(admin.session.clone(), body).await));
        }
        Target::OtherPat => params.push(("uuid", w.globex_pat.clone())),
        Target::FreshOtherPat => {
            let body = json!({ "name": format!("fresh {n}"), "expiresAt": in_days(60) });
            params.push(("uuid", fresh_pat(w.outsider_session.clone(), body).await));
        }
        Target::FreshEditorPat => {
            let body = json!({ "name": format!("fresh {n}") });
            params.push(("uuid", fresh_pat(w.editor_session.clone(), body).await));
        }
        Target::FreshInvite => {
            let (_, code) = app
                .add_member(&format!("invited{n}@acme.test"), "viewer")
                .await;
            params.push(("code", code.expect("a new user gets an invite")));
        }
        Target::FreshApiKey => {
            let resp = app
                .post(
                    "/api/v1/org/api-keys",
                    &admin.pat,
                    json!({ "name": format!("fresh {n}"), "role": "editor", "expiresAt": in_days(60) }),
                )
                .await;
            params.push(("uuid", uuid_of(resp.expect(201), "uuid")));
        }
        Target::FreshOtherApiKey => {
            let resp = app
                .post(
                    "/api/v1/org/api-keys",
                    &w.outsider_session,
                    json!({ "name": format!("fresh {n}"), "role": "editor", "expiresAt": in_days(60) }),
                )
                .await;
            params.push(("uuid", uuid_of(resp.expect(201), "uuid")));
        }
        Target::FreshCustomRole | Target::FreshOtherCustomRole => {
            let by = match target {
                Target::FreshCustomRole => &admin.pat,
                _ => &w.outsider_session,
            };
            let resp = app
                .post(
                    "/api/v1/org/roles",
                    by,
                    json!({ "name": format!("fresh {n}"), "scopes": ["projects:read"] }),
                )
                .await;
            params.push(("roleUuid", uuid_of(resp.expect(201), "uuid")));
        }
        Target::FreshServiceAccount | Target::FreshOtherServiceAccount => {
            let by = match target {
                Target::FreshServiceAccount => &admin.pat,
                _ => &w.outsider_session,
            };
            let resp = app
                .post(
                    "/api/v1/service-accounts",
                    by,
                    json!({ "description": format!("fresh {n}"), "scope": "organization", "role": "editor", "expiresAt": in_days(60) }),
                )
                .await;
            params.push(("uuid", uuid_of(resp.expect(201), "uuid")));
        }
        Target::FreshSession => {
            if who == Who::AdminSession {
                let resp = app.try_login(ADMIN_EMAIL, PASSWORD, Some(&w.acme)).await;
                let csrf = resp.expect(200)["csrfToken"]
                    .as_str()
                    .expect("csrf")
                    .to_string();
                let cookie = resp.headers["set-cookie"]
                    .to_str()
                    .expect("ascii")
                    .split(';')
                    .next()
                    .and_then(|kv| kv.split_once('='))
                    .map(|(_, v)| v.to_string())
                    .expect("cookie");
                let fresh = Auth::Session { cookie, csrf };
                // Its id, for the rows that end one session.
                let listed = app.get("/api/v1/user/me/sessions", &fresh).await;
                let own = listed
                    .expect(200)
                    .as_array()
                    .expect("sessions")
                    .iter()
                    .find(|s| s["current"] == true)
                    .expect("the fresh session is listed")["uuid"]
                    .as_str()
                    .expect("uuid")
                    .to_string();
                params.push(("uuid", own));
                auth = Some(fresh);
            } else {
                // Refused before any lookup.
                params.push(("uuid", uuid::Uuid::new_v4().to_string()));
            }
        }
    }
    params.push(("n", n.to_string()));
    params.push(("acme", w.acme.clone()));
    params.push(("globex", w.globex.clone()));
    params.push(("adminEmail", ADMIN_EMAIL.to_string()));
    params.push(("password", PASSWORD.to_string()));
    params.push(("adminToken", w.admin_token.clone()));
    params.push(("in30days", in_days(30)));
    (params, auth)
}

pub(crate) fn fill(template: &str, params: &Params) -> String {
    let filled = params.iter().fold(template.to_string(), |s, (k, v)| {
        s.replace(&format!("{{{k}}}"), v)
    });
    assert!(
        !filled.contains("{projectUuid}")
            && !filled.contains("{userUuid}")
            && !filled.contains("{uuid}")
            && !filled.contains("{code}")
            && !filled.contains("{roleUuid}"),
        "the row's target does not fill {template}"
    );
    filled
}
