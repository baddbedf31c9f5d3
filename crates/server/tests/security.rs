//! The security regression suite: each test reproduces a finding of an
//! attacker's review ("Trust, part 1") and is named after it. Every test runs
//! on SQLite and PostgreSQL against the real server on a real socket.

#[path = "api/support.rs"]
#[allow(dead_code)]
mod support;

use serde_json::{json, Value};
use support::{in_days, Auth, Backend, TestApp, PASSWORD};

on_both_backends!(
    another_organizations_invitation_cannot_set_the_password_of_an_invited_account,
    adding_an_email_answers_the_same_whether_or_not_it_has_an_account,
    an_added_account_joins_only_when_its_owner_accepts,
    invitations_can_be_withdrawn_and_reissued,
    organization_names_are_no_oracle,
    a_project_scoped_service_account_never_becomes_organization_wide,
    service_accounts_stay_manageable_after_a_plan_downgrade,
    a_credential_cannot_outlive_the_token_that_made_it,
    an_expired_credential_cannot_be_rotated_back_to_life,
    a_credential_without_expiry_can_be_given_one,
    scopes_null_gives_back_the_full_role_within_the_minting_rule,
    names_refuse_invisible_characters_and_look_alikes,
    a_removed_members_session_is_revoked,
    member_events_record_the_members_role,
);

const USERS: &str = "/api/v1/org/users";
const PATS: &str = "/api/v1/user/me/personal-access-tokens";
const KEYS: &str = "/api/v1/org/api-keys";
const ACCOUNTS: &str = "/api/v1/service-accounts";

fn code_of(member: &Value) -> String {
    member["inviteUrl"]
        .as_str()
        .expect("an invite link")
        .trim_start_matches("/invite/")
        .to_string()
}

/// A session switched to a new organization the user creates.
async fn own_org(app: &TestApp, session: &Auth, name: &str) -> String {
    let org = app
        .post("/api/v1/orgs", session, json!({ "name": name }))
        .await;
    let org_uuid = org.expect(201)["uuid"].as_str().expect("uuid").to_string();
    app.post(
        "/api/v1/user/me/active-org",
        session,
        json!({ "orgUuid": org_uuid }),
    )
    .await
    .expect(200);
    org_uuid
}

/// The finding: org B's admin invites victim@ (no password yet); any
/// signed-in user creates an organization, adds victim@, and sets the
/// victim's password through that organization's link, then signs in to B.
async fn another_organizations_invitation_cannot_set_the_password_of_an_invited_account(
    app: TestApp,
) {
    let victim = "victim@acme.test";
    let invited = app
        .post(
            USERS,
            &app.admin.session,
            json!({ "email": victim, "role": "admin" }),
        )
        .await;
    let first_code = code_of(invited.expect(201));

    // Even a viewer can create an organization of their own.
    let attacker = app.person("attacker@acme.test", "viewer").await;
    own_org(&app, &attacker.session, "Evil").await;
    let added = app
        .post(
            USERS,
            &attacker.session,
            json!({ "email": victim, "role": "viewer" }),
        )
        .await;
    let evil_code = code_of(added.expect(201));
    assert_eq!(added.results()["status"], "invited");

    // Without the victim's session the attacker's link sets nothing.
    let taken = app
        .post(
            &format!("/api/v1/invites/{evil_code}"),
            &Auth::None,
            json!({ "password": "attacker password" }),
        )
        .await;
    assert_eq!(taken.status, 401, "body: {}", taken.body);
    assert_eq!(taken.code(), "login_required");
    // Nor with the attacker's own session.
    let taken = app
        .post(
            &format!("/api/v1/invites/{evil_code}"),
            &attacker.session,
            json!({}),
        )
        .await;
    assert_eq!(taken.status, 404, "body: {}", taken.body);
    app.try_login(victim, "attacker password", None)
        .await
        .expect_error(401, "invalid_login");

    // The first organization's link still belongs to the victim.
    app.post(
        &format!("/api/v1/invites/{first_code}"),
        &Auth::None,
        json!({ "password": PASSWORD }),
    )
    .await
    .expect(200);
    let session = app.login(victim, PASSWORD).await;
    let me = app.get("/api/v1/user", &session).await;
    assert_eq!(me.expect(200)["org"]["uuid"], app.org_uuid.as_str());
    // The other organization's invitation is still pending, for the victim to decide.
    app.post(&format!("/api/v1/invites/{evil_code}"), &session, json!({}))
        .await
        .expect(200);
}

async fn adding_an_email_answers_the_same_whether_or_not_it_has_an_account(app: TestApp) {
    // elsewhere@ has an account (with a password) in another organization.
    let other_admin = app.person("founder@acme.test", "viewer").await;
    own_org(&app, &other_admin.session, "Elsewhere").await;
    app.person("elsewhere@acme.test", "viewer").await;

    let shape = |v: &Value| {
        let mut keys: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
        keys.sort();
        (
            keys,
            v["status"].clone(),
            v["name"].clone(),
            v["suspended"].clone(),
        )
    };
    let known = app
        .post(
            USERS,
            &other_admin.session,
            json!({ "email": "elsewhere@acme.test", "role": "viewer" }),
        )
        .await;
    let unknown = app
        .post(
            USERS,
            &other_admin.session,
            json!({ "email": "nobody@acme.test", "role": "viewer" }),
        )
        .await;
    assert_eq!(shape(known.expect(201)), shape(unknown.expect(201)));
    assert_eq!(known.results()["status"], "invited");
    assert!(known.results()["inviteUrl"].is_string());
    assert!(known.results()["name"].is_null());
}

async fn an_added_account_joins_only_when_its_owner_accepts(app: TestApp) {
    let ada = app.person("ada@acme.test", "viewer").await;
    let founder = app.person("founder@acme.test", "viewer").await;
    let org = own_org(&app, &founder.session, "Beta").await;
    let added = app
        .post(
            USERS,
            &founder.session,
            json!({ "email": "ada@acme.test", "role": "admin" }),
        )
        .await;
    let code = code_of(added.expect(201));
    // Not a member yet: no sign-in to it, no switch to it.
    app.try_login("ada@acme.test", PASSWORD, Some(&org))
        .await
        .expect_error(404, "not_found");
    app.post(
        "/api/v1/user/me/active-org",
        &ada.session,
        json!({ "orgUuid": org }),
    )
    .await
    .expect_error(404, "not_found");
    let members = app.get(USERS, &founder.session).await;
    let row = members
        .expect(200)
        .as_array()
        .expect("list")
        .iter()
        .find(|m| m["email"] == "ada@acme.test")
        .cloned()
        .expect("listed");
    assert_eq!(row["status"], "invited");
    // The link sets no password for an account that has one.
    app.post(
        &format!("/api/v1/invites/{code}"),
        &Auth::None,
        json!({ "password": "another password" }),
    )
    .await
    .expect_error(401, "login_required");
    app.try_login("ada@acme.test", "another password", None)
        .await
        .expect_error(401, "invalid_login");
    // Ada accepts with her own session.
    app.post(&format!("/api/v1/invites/{code}"), &ada.session, json!({}))
        .await
        .expect(200);
    app.post(
        "/api/v1/user/me/active-org",
        &ada.session,
        json!({ "orgUuid": org }),
    )
    .await
    .expect(200);
    let members = app.get(USERS, &founder.session).await;
    let row = members
        .expect(200)
        .as_array()
        .expect("list")
        .iter()
        .find(|m| m["email"] == "ada@acme.test")
        .cloned()
        .expect("listed");
    assert_eq!(row["status"], "active");
    // A code works once.
    app.post(&format!("/api/v1/invites/{code}"), &ada.session, json!({}))
        .await
        .expect_error(404, "not_found");
}

async fn invitations_can_be_withdrawn_and_reissued(app: TestApp) {
    let added = app
        .post(
            USERS,
            &app.admin.session,
            json!({ "email": "new@acme.test", "role": "viewer" }),
        )
        .await;
    let first = code_of(added.expect(201));
    let user = added.results()["userUuid"]
        .as_str()
        .expect("uuid")
        .to_string();

    let reissued = app
        .post(
            &format!("/api/v1/org/users/{user}/invite"),
            &app.admin.session,
            json!({}),
        )
        .await;
    let second = code_of(reissued.expect(200));
    assert_ne!(first, second);
    // The old link died with the new one.
    app.post(
        &format!("/api/v1/invites/{first}"),
        &Auth::None,
        json!({ "password": PASSWORD }),
    )
    .await
    .expect_error(404, "not_found");

    app.delete(&format!("/api/v1/org/invites/{user}"), &app.admin.session)
        .await
        .expect(204);
    app.post(
        &format!("/api/v1/invites/{second}"),
        &Auth::None,
        json!({ "password": PASSWORD }),
    )
    .await
    .expect_error(404, "not_found");
    let members = app.get(USERS, &app.admin.session).await;
    assert!(!members
        .expect(200)
        .as_array()
        .expect("list")
        .iter()
        .any(|m| m["userUuid"] == user.as_str()));
    // An active member has no invitation to withdraw.
    app.delete(
        &format!("/api/v1/org/invites/{}", app.admin.uuid),
        &app.admin.session,
    )
    .await
    .expect_error(404, "not_found");
}

async fn organization_names_are_no_oracle(app: TestApp) {
    let someone = app.person("someone@acme.test", "viewer").await;
    // "Acme" exists; nothing says so.
    app.post("/api/v1/orgs", &someone.session, json!({ "name": "Acme" }))
        .await
        .expect(201);
}

async fn enterprise_project(app: &TestApp) -> String {
    app.set_plan("enterprise").await;
    app.create_project("doomed").await
}

async fn a_project_scoped_service_account_never_becomes_organization_wide(app: TestApp) {
    let project = enterprise_project(&app).await;
    let created = app
        .post(
            ACCOUNTS,
            &app.admin.session,
            json!({ "description": "deployer", "scope": "project",
                    "projects": [{ "projectUuid": project, "role": "developer" }] }),
        )
        .await;
    let r = created.expect(201);
    let uuid = r["uuid"].as_str().expect("uuid").to_string();
    let token = Auth::Token(r["token"].as_str().expect("token").to_string());
    app.delete(&format!("/api/v1/projects/{project}"), &app.admin.session)
        .await
        .expect(204);

    let shown = app
        .get(&format!("{ACCOUNTS}/{uuid}"), &app.admin.session)
        .await;
    let shown = shown.expect(200);
    assert_eq!(shown["scope"], "project");
    assert_eq!(shown["projectCount"], 0);
    assert!(shown["role"].is_null());
    let escalated = app
        .patch(
            &format!("{ACCOUNTS}/{uuid}"),
            &app.admin.session,
            json!({ "role": "admin" }),
        )
        .await;
    escalated.expect_error(400, "immutable_field");
    // It reaches nothing.
    let me = app.get("/api/v1/user", &token).await;
    assert_eq!(me.expect(200)["scopes"], json!([]));
    app.get(USERS, &token)
        .await
        .expect_error(403, "missing_scope");
    app.post(KEYS, &token, json!({ "name": "escalate", "role": "admin" }))
        .await
        .expect_error(403, "missing_scope");
}

async fn service_accounts_stay_manageable_after_a_plan_downgrade(app: TestApp) {
    app.set_plan("enterprise").await;
    let made = |description: &'static str| {
        let app = &app;
        async move {
            let r = app
                .post(
                    ACCOUNTS,
                    &app.admin.session,
                    json!({ "description": description, "scope": "organization", "role": "viewer",
                            "expiresAt": in_days(30) }),
                )
                .await;
            let r = r.expect(201);
            (
                r["uuid"].as_str().expect("uuid").to_string(),
                r["token"].as_str().expect("token").to_string(),
            )
        }
    };
    let (first, first_token) = made("first").await;
    let (second, _) = made("second").await;
    app.set_plan("free").await;
    // Existing accounts keep working on the free plan (documented).
    app.get("/api/v1/user", &Auth::Token(first_token))
        .await
        .expect(200);
    // The admin can still see, rotate and delete them...
    let listed = app.get(ACCOUNTS, &app.admin.session).await;
    assert_eq!(listed.expect(200).as_array().expect("list").len(), 2);
    app.get(&format!("{ACCOUNTS}/{first}"), &app.admin.session)
        .await
        .expect(200);
    app.patch(
        &format!("{ACCOUNTS}/{first}/rotate"),
        &app.admin.session,
        json!({ "expiresAt": in_days(10) }),
    )
    .await
    .expect(200);
    app.delete(&format!("{ACCOUNTS}/{second}"), &app.admin.session)
        .await
        .expect(204);
    // ...but creating and editing need the enterprise plan.
    app.post(
        ACCOUNTS,
        &app.admin.session,
        json!({ "description": "third", "scope": "organization", "role": "viewer" }),
    )
    .await
    .expect_error(403, "plan_required");
    app.patch(
        &format!("{ACCOUNTS}/{first}"),
        &app.admin.session,
        json!({ "description": "renamed" }),
    )
    .await
    .expect_error(403, "plan_required");
}

/// With the instance switch off, service-account tokens are refused, and
/// the accounts can still be listed and deleted.
async fn service_accounts_switched_off_are_refused_and_deletable(backend: Backend) {
    let token = latchkey_core::TokenSecret::generate(
        latchkey_core::TokenKind::ServiceAccount,
        &mut rand::thread_rng(),
    )
    .expose()
    .to_string();
    let given = token.clone();
    let app = TestApp::spawn_with(backend, move |c| {
        c.setup_service_account_token = Some(given.into());
        c.service_accounts_enabled = false;
    })
    .await;
    let auth = Auth::Token(token.clone());
    let refused = app.get("/api/v1/user", &auth).await;
    refused.expect_error(401, "feature_disabled");
    let verified = app
        .post(
            "/api/v1/auth/verify",
            &Auth::None,
            json!({ "token": token }),
        )
        .await;
    assert_eq!(verified.expect(200)["valid"], false);
    assert_eq!(verified.results()["code"], "feature_disabled");
    // The admin, minting through it, is what the finding did: no longer.
    app.post(KEYS, &auth, json!({ "name": "x", "role": "admin" }))
        .await
        .expect_error(401, "feature_disabled");
    let listed = app.get(ACCOUNTS, &app.admin.session).await;
    let accounts = listed.expect(200).as_array().expect("list").clone();
    assert_eq!(accounts.len(), 1);
    let uuid = accounts[0]["uuid"].as_str().expect("uuid");
    app.delete(&format!("{ACCOUNTS}/{uuid}"), &app.admin.session)
        .await
        .expect(204);
    app.post(
        ACCOUNTS,
        &app.admin.session,
        json!({ "description": "new", "scope": "organization", "role": "viewer" }),
    )
    .await
    .expect_error(403, "feature_disabled");
}

mod service_accounts_switched_off {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::service_accounts_switched_off_are_refused_and_deletable(super::Backend::Sqlite).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::service_accounts_switched_off_are_refused_and_deletable(super::Backend::Postgres)
            .await
    }
}

async fn a_credential_cannot_outlive_the_token_that_made_it(app: TestApp) {
    app.set_plan("enterprise").await;
    let (short_uuid, short) = app
        .create_pat(
            &app.admin.session,
            json!({ "name": "one day", "expiresAt": in_days(1) }),
        )
        .await;
    let short = Auth::Token(short);
    let too_long = [
        (PATS, json!({ "name": "forever" })),
        (PATS, json!({ "name": "two days", "expiresAt": in_days(2) })),
        (KEYS, json!({ "name": "forever", "role": "admin" })),
        (
            ACCOUNTS,
            json!({ "description": "forever", "scope": "organization", "role": "admin" }),
        ),
    ];
    for (path, body) in too_long {
        let r = app.post(path, &short, body.clone()).await;
        r.expect_error(403, "lifetime_too_long");
        assert!(
            r.body["error"]["details"]["maxExpiresAt"].is_string(),
            "{path} {body}: {}",
            r.body
        );
    }
    // Within its own life, it may.
    let hours = (time::OffsetDateTime::now_utc() + time::Duration::hours(12))
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    app.post(PATS, &short, json!({ "name": "half", "expiresAt": hours }))
        .await
        .expect(201);
    app.post(
        KEYS,
        &short,
        json!({ "name": "half", "role": "admin", "expiresAt": hours }),
    )
    .await
    .expect(201);
    // Nor does it rotate itself (or another) past its own end.
    app.patch(
        &format!("{PATS}/{short_uuid}/rotate"),
        &short,
        json!({ "expiresAt": in_days(30) }),
    )
    .await
    .expect_error(403, "lifetime_too_long");
    // A web session has no such cap.
    app.post(PATS, &app.admin.session, json!({ "name": "from the page" }))
        .await
        .expect(201);
}

async fn an_expired_credential_cannot_be_rotated_back_to_life(app: TestApp) {
    let soon = (time::OffsetDateTime::now_utc() + time::Duration::seconds(2))
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (pat, _) = app
        .create_pat(
            &app.admin.session,
            json!({ "name": "brief", "expiresAt": soon }),
        )
        .await;
    let key = app
        .post(
            KEYS,
            &app.admin.session,
            json!({ "name": "brief", "role": "viewer", "expiresAt": soon }),
        )
        .await;
    let key = key.expect(201)["uuid"].as_str().expect("uuid").to_string();
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    app.patch(
        &format!("{PATS}/{pat}/rotate"),
        &app.admin.session,
        json!({ "expiresAt": in_days(30) }),
    )
    .await
    .expect_error(400, "credential_expired");
    app.patch(
        &format!("{KEYS}/{key}/rotate"),
        &app.admin.session,
        json!({ "expiresAt": in_days(30) }),
    )
    .await
    .expect_error(400, "credential_expired");
}

async fn a_credential_without_expiry_can_be_given_one(app: TestApp) {
    app.set_plan("enterprise").await;
    let (pat, _) = app
        .create_pat(&app.admin.session, json!({ "name": "open" }))
        .await;
    let r = app
        .patch(
            &format!("{PATS}/{pat}"),
            &app.admin.session,
            json!({ "expiresAt": in_days(30) }),
        )
        .await;
    assert!(r.expect(200)["expiresAt"].is_string());
    // It may now be rotated.
    app.patch(
        &format!("{PATS}/{pat}/rotate"),
        &app.admin.session,
        json!({ "expiresAt": in_days(20) }),
    )
    .await
    .expect(200);

    let key = app
        .post(
            KEYS,
            &app.admin.session,
            json!({ "name": "open", "role": "viewer" }),
        )
        .await;
    let key = key.expect(201)["uuid"].as_str().expect("uuid").to_string();
    let r = app
        .patch(
            &format!("{KEYS}/{key}"),
            &app.admin.session,
            json!({ "expiresAt": in_days(30) }),
        )
        .await;
    assert!(r.expect(200)["expiresAt"].is_string());
    app.patch(
        &format!("{KEYS}/{key}"),
        &app.admin.session,
        json!({ "expiresAt": in_days(40) }),
    )
    .await
    .expect_error(400, "expiry_extension_not_allowed");

    let account = app
        .post(
            ACCOUNTS,
            &app.admin.session,
            json!({ "description": "open", "scope": "organization", "role": "viewer" }),
        )
        .await;
    let account = account.expect(201)["uuid"]
        .as_str()
        .expect("uuid")
        .to_string();
    let r = app
        .patch(
            &format!("{ACCOUNTS}/{account}"),
            &app.admin.session,
            json!({ "expiresAt": in_days(30) }),
        )
        .await;
    assert!(r.expect(200)["expiresAt"].is_string());
    app.patch(
        &format!("{ACCOUNTS}/{account}/rotate"),
        &app.admin.session,
        json!({ "expiresAt": in_days(20) }),
    )
    .await
    .expect(200);
}

async fn scopes_null_gives_back_the_full_role_within_the_minting_rule(app: TestApp) {
    let (pat, token) = app
        .create_pat(
            &app.admin.session,
            json!({ "name": "narrow", "scopes": ["content:read"] }),
        )
        .await;
    let r = app
        .patch(
            &format!("{PATS}/{pat}"),
            &app.admin.session,
            json!({ "scopes": null }),
        )
        .await;
    assert!(r.expect(200)["scopes"].is_null(), "{}", r.body);
    let me = app.get("/api/v1/user", &Auth::Token(token)).await;
    assert!(me.expect(200)["scopes"]
        .as_array()
        .expect("scopes")
        .iter()
        .any(|s| s == "members:write"));

    // A narrowed token cannot widen another to the full role.
    let (_, narrow) = app
        .create_pat(
            &app.admin.session,
            json!({ "name": "narrow minter", "scopes": ["content:read"] }),
        )
        .await;
    let narrow = Auth::Token(narrow);
    let (other, _) = app
        .create_pat(
            &narrow,
            json!({ "name": "child", "scopes": ["content:read"] }),
        )
        .await;
    let r = app
        .patch(
            &format!("{PATS}/{other}"),
            &narrow,
            json!({ "scopes": null }),
        )
        .await;
    assert_eq!(
        r.expect(200)["scopes"],
        json!(["content:read"]),
        "a narrowed minter passes on its own list"
    );
}

async fn names_refuse_invisible_characters_and_look_alikes(app: TestApp) {
    app.create_project("website").await;
    for bad in ["web\u{200b}site", "\u{202e}etisbew", "web\u{feff}site"] {
        let r = app
            .post(
                "/api/v1/org/projects",
                &app.admin.pat,
                json!({ "name": bad }),
            )
            .await;
        r.expect_error(400, "invalid_request");
        assert_eq!(r.field(), "name");
    }
    // Look-alikes are the same name: NFKC with case folded.
    let other = app.create_project("Other").await;
    for look_alike in ["ｗｅｂｓｉｔｅ", "WebSite"] {
        app.post(
            "/api/v1/org/projects",
            &app.admin.pat,
            json!({ "name": look_alike }),
        )
        .await
        .expect_error(409, "conflict");
        app.patch(
            &format!("/api/v1/projects/{other}"),
            &app.admin.pat,
            json!({ "name": look_alike }),
        )
        .await
        .expect_error(409, "conflict");
    }
    app.set_plan("enterprise").await;
    app.post(
        "/api/v1/org/roles",
        &app.admin.pat,
        json!({ "name": "Deployer", "scopes": ["projects:read"] }),
    )
    .await
    .expect(201);
    app.post(
        "/api/v1/org/roles",
        &app.admin.pat,
        json!({ "name": "ＤＥＰＬＯＹＥＲ", "scopes": ["projects:read"] }),
    )
    .await
    .expect_error(409, "conflict");
    let r = app
        .post(PATS, &app.admin.session, json!({ "name": "ci\u{200d}" }))
        .await;
    r.expect_error(400, "invalid_request");
}

async fn a_removed_members_session_is_revoked(app: TestApp) {
    let gone = app.person("gone@acme.test", "viewer").await;
    app.delete(&format!("{USERS}/{}", gone.uuid), &app.admin.session)
        .await
        .expect(204);
    app.get("/api/v1/user", &gone.session)
        .await
        .expect_error(401, "token_revoked");
    app.get("/api/v1/user", &gone.pat)
        .await
        .expect_error(401, "token_revoked");
}

async fn member_events_record_the_members_role(app: TestApp) {
    let m = app.person("watched@acme.test", "editor").await;
    app.patch(
        &format!("{USERS}/{}", m.uuid),
        &app.admin.session,
        json!({ "suspended": true }),
    )
    .await
    .expect(200);
    let events = app
        .get(
            "/api/v1/org/audit-logs?action=member.suspended",
            &app.admin.session,
        )
        .await;
    let items = events.expect(200)["items"]
        .as_array()
        .expect("items")
        .clone();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["details"]["role"], "editor");
}

/// The SQLite file holds every hash: only its owner reads it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_database_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let app = TestApp::spawn(Backend::Sqlite).await;
    let data = app.dir.path().join("data");
    let mut seen = 0;
    for entry in std::fs::read_dir(&data).expect("data dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().to_string();
        if name.contains("sqlite") || name.ends_with(".db") || name.contains(".db-") {
            let mode = entry.metadata().expect("metadata").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{name} is {mode:o}");
            seen += 1;
        }
    }
    assert!(seen >= 1, "no database file found in {}", data.display());
}
