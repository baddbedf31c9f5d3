//! The authorization table (API.md "Authentication", PRODUCT.md §1-3): every
//! route of the router, for every kind of principal, written as data and
//! driven by one loop.
//!
//! Each row is a route (method and OpenAPI path template), the resource it is
//! aimed at (a [`Target`], created fresh for the rows that would destroy it),
//! a body, the scope a `403 missing_scope` must name, and one expected answer
//! per principal column. The test also reads the server's OpenAPI document:
//! an operation without a row, or a row for an operation the server does not
//! document, fails it, so a new endpoint cannot be added without saying who
//! may call it.

#[allow(dead_code)]
#[path = "api/support.rs"]
mod support;

use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Instant;
use support::{in_days, Auth, TestApp, ADMIN_EMAIL, PASSWORD};

on_both_backends!(authorization_table);

/// The principal columns of the table, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    /// No credential at all.
    Anonymous,
    /// A PAT of an organization `member` with no project role.
    Member,
    Viewer,
    Editor,
    Developer,
    /// A full-role PAT of the organization's admin.
    Admin,
    /// The admin's web session, with its CSRF token.
    AdminSession,
    /// A PAT of the admin narrowed to `["content:read"]`.
    Narrowed,
    /// The admin of another organization (Globex), who is not in Acme.
    OtherOrgAdmin,
    /// A PAT of an organization `member` with project role `admin` on the
    /// project the project rows aim at.
    ProjectAdmin,
    /// An Acme API key with the fixed role `editor`.
    EditorKey,
    /// An Acme API key with the fixed role `admin`.
    AdminKey,
    /// An Acme service account, organization scope, system role `editor`.
    EditorAccount,
    /// An Acme service account, project scope, `admin` on the project the
    /// project rows aim at and nothing else.
    ProjectAccount,
    /// An Acme service account, organization scope, with a custom role of
    /// `projects:read`, `content:read` and `audit:read`.
    CustomAccount,
}

const COLUMNS: [Who; 15] = [
    Who::Anonymous,
    Who::Member,
    Who::Viewer,
    Who::Editor,
    Who::Developer,
    Who::Admin,
    Who::AdminSession,
    Who::Narrowed,
    Who::OtherOrgAdmin,
    Who::ProjectAdmin,
    Who::EditorKey,
    Who::AdminKey,
    Who::EditorAccount,
    Who::ProjectAccount,
    Who::CustomAccount,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Status(u16),
    Error(u16, &'static str),
    /// An OAuth error body, `{"error": code}` (token introspection).
    OAuth(u16, &'static str),
}

const OK: Expect = Expect::Status(200);
const NEW: Expect = Expect::Status(201);
const DEL: Expect = Expect::Status(204);
const ANON: Expect = Expect::Error(401, "missing_credentials");
/// `403 missing_scope` naming the row's scope in `details.requiredScope`.
const SCOPE: Expect = Expect::Error(403, "missing_scope");
const DENY: Expect = Expect::Error(403, "forbidden");
const UNGRANTABLE: Expect = Expect::Error(403, "scopes_not_grantable");
const NF: Expect = Expect::Error(404, "not_found");
/// No organization principal is a resource server: introspection's `401`.
const CLIENT: Expect = Expect::OAuth(401, "invalid_client");

/// Routes whose one principal is a resource server (instance-level, no
/// column of the table): every column gets `CLIENT`, and the test checks
/// that a resource server gets `200` on each.
const RESOURCE_SERVER_ROUTES: [&str; 1] = ["/oauth2/introspect"];

/// What a row is aimed at. `Fresh…` targets are created anew for every cell,
/// so a cell that destroys its target leaves nothing behind for the next one.
/// `Other…` targets belong to the other organization (Globex).
#[derive(Clone, Copy, Debug)]
enum Target {
    Nothing,
    /// Acme's shared project (the project admin holds `admin` on it).
    Project,
    FreshProject,
    OtherProject,
    FreshOtherProject,
    /// Acme's project and an Acme member without a project role on it.
    ProjectGrantee,
    /// As `ProjectGrantee`, the member given `viewer` on it just before.
    ProjectFreshGrant,
    /// Acme's project and a user who is only in Globex.
    ProjectOutsider,
    OtherProjectMember,
    OtherProjectFreshGrant,
    /// An Acme member (a viewer) to change.
    Member,
    FreshMember,
    OtherMember,
    FreshOtherMember,
    /// A PAT of the Acme admin that no column authenticates with.
    AdminPat,
    /// A PAT of the Acme admin, full role, with an expiry (rotatable).
    FreshAdminPat,
    /// As `FreshAdminPat`, narrowed to `["content:read"]`.
    FreshNarrowAdminPat,
    /// A PAT of the Globex admin.
    OtherPat,
    FreshOtherPat,
    /// A PAT of the Acme editor, for the admin revocation.
    FreshEditorPat,
    /// An unused invite code to Acme.
    FreshInvite,
    /// For the session column: a new admin session, so logging out does not
    /// end the shared one.
    FreshSession,
    /// An Acme API key (role `editor`, with an expiry) that no column
    /// authenticates with.
    FreshApiKey,
    /// A Globex API key (role `editor`, with an expiry).
    FreshOtherApiKey,
    /// An Acme custom role that nothing holds.
    FreshCustomRole,
    FreshOtherCustomRole,
    /// An Acme service account (organization scope, role `editor`, with an
    /// expiry) that no column authenticates with.
    FreshServiceAccount,
    FreshOtherServiceAccount,
}

struct Row {
    method: Method,
    /// The path as the OpenAPI document writes it; `{name}` is filled in.
    path: &'static str,
    target: Target,
    /// `{name}` inside string values is filled in too.
    body: Option<Value>,
    /// What a `403 missing_scope` cell must name.
    scope: Option<&'static str>,
    expect: [Expect; 15],
}

fn row(
    method: Method,
    path: &'static str,
    target: Target,
    body: Option<Value>,
    scope: Option<&'static str>,
    expect: [Expect; 15],
) -> Row {
    Row {
        method,
        path,
        target,
        body,
        scope,
        expect,
    }
}

#[rustfmt::skip]
fn table() -> Vec<Row> {
    use Target::*;
    let (get, post, put, patch, delete) = (Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE);
    let members = Some("members:write");
    let projects_read = Some("projects:read");
    let projects_write = Some("projects:write");
    let tokens_admin = Some("tokens:admin");
    let api_keys = Some("api_keys:write");
    let audit_read = Some("audit:read");
    let roles = Some("roles:write");
    let accounts = Some("service_accounts:write");
    vec![
        // Columns:                                                                 anon        viewer      dev         session     other       editorkey   projacct
        //                                                                                member      editor      admin       narrow      projadm     adminkey    edacct      customacct
        // Session and identity.
        row(post.clone(), "/api/v1/login", Nothing, Some(json!({ "email": "{adminEmail}", "password": "{password}", "orgUuid": "{acme}" })), None,
                                                                                   [OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK  ]),
        row(post.clone(), "/api/v1/logout", FreshSession, None, None,              [ANON, DENY, DENY, DENY, DENY, DENY, DEL,  DENY, DENY, DENY, DENY, DENY, DENY, DENY, DENY]),
        row(post.clone(), "/api/v1/user/me/active-org", Nothing, Some(json!({ "orgUuid": "{acme}" })), None,
                                                                                   [ANON, DENY, DENY, DENY, DENY, DENY, OK,   DENY, DENY, DENY, DENY, DENY, DENY, DENY, DENY]),
        // Switching to an organization the user is not in.
        row(post.clone(), "/api/v1/user/me/active-org", Nothing, Some(json!({ "orgUuid": "{globex}" })), None,
                                                                                   [ANON, DENY, DENY, DENY, DENY, DENY, NF,   DENY, DENY, DENY, DENY, DENY, DENY, DENY, DENY]),
        // A new person's first invitation sets the password without a
        // credential; with one, only a session of the invited account accepts
        // (a token is refused, another account's session sees nothing).
        row(post.clone(), "/api/v1/invites/{code}", FreshInvite, Some(json!({ "password": "{password}" })), None,
                                                                                   [OK,   DENY, DENY, DENY, DENY, DENY, NF,   DENY, DENY, DENY, DENY, DENY, DENY, DENY, DENY]),
        row(get.clone(), "/api/v1/user", Nothing, None, None,                      [ANON, OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK  ]),
        row(get.clone(), "/api/v1/org", Nothing, None, None,                       [ANON, OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK  ]),
        row(get.clone(), "/api/v1/orgs", Nothing, None, None,                      [ANON, OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK  ]),
        row(post.clone(), "/api/v1/orgs", Nothing, Some(json!({ "name": "Org {n}" })), None,
                                                                                   [ANON, DENY, DENY, DENY, DENY, DENY, NEW,  DENY, DENY, DENY, DENY, DENY, DENY, DENY, DENY]),

        // Members (organization-wide `members:write`). The other organization's
        // admin manages its own members; an Acme member is not one of them.
        row(get.clone(), "/api/v1/org/users", Nothing, None, members,              [ANON, SCOPE,SCOPE,SCOPE,SCOPE,OK,   OK,   SCOPE,OK,   SCOPE,SCOPE,OK,   SCOPE,SCOPE,SCOPE]),
        row(post.clone(), "/api/v1/org/users", Nothing, Some(json!({ "email": "new{n}@acme.test", "role": "viewer" })), members,
                                                                                   [ANON, SCOPE,SCOPE,SCOPE,SCOPE,NEW,  NEW,  SCOPE,NEW,  SCOPE,SCOPE,NEW,  SCOPE,SCOPE,SCOPE]),
        row(patch.clone(), "/api/v1/org/users/{userUuid}", Member, Some(json!({ "role": "viewer" })), members,
                                                                                   [ANON, SCOPE,SCOPE,SCOPE,SCOPE,OK,   OK,   SCOPE,NF,   SCOPE,SCOPE,OK,   SCOPE,SCOPE,SCOPE]),
        row(patch.clone(), "/api/v1/org/users/{userUuid}", OtherMember, Some(json!({ "role": "viewer" })), members,
                                                                                   [ANON, SCOPE,SCOPE,SCOPE,SCOPE,NF,   NF,   SCOPE,OK,   SCOPE,SCOPE,NF,   SCOPE,SCOPE,SCOPE]),
        row(delete.clone(), "/api/v1/org/users/{userUuid}", FreshMember, None, members,
                                                                                   [ANON, SCOPE,SCOPE,SCOPE,SCOPE,DEL,  DEL,  SCOPE,NF,   SCOPE,SCOPE,DEL,  SCOPE,SCOPE,SCOPE]),
        row(delete.clone(), "/api/v1/org/users/{userUuid}", FreshOtherMember, None, members,
                                                                                   [ANON, SCOPE,SCOPE,SCOPE,SCOPE,NF,   NF,   SCOPE,DEL,  SCOPE,SCOPE,NF,   SCOPE,SCOPE,SCOPE]),
        // Fresh members are pending invitations until they accept.
        row(post.clone(), "/api/v1/org/users/{userUuid}/invite", FreshMember, None, members,
                                                                                   [ANON, SCOPE,SCOPE,SCOPE,SCOPE,OK,   OK,   SCOPE,NF,   SCOPE,SCOPE,OK,   SCOPE,SCOPE,SCOPE]),
        row(post.clone(), "/api/v1/org/users/{userUuid}/invite", FreshOtherMember, None, members,
                                                                                   [ANON, SCOPE,SCOPE,SCOPE,SCOPE,NF,   NF,   SCOPE,OK,   SCOPE,SCOPE,NF,   SCOPE,SCOPE,SCOPE]),
        row(delete.clone(), "/api/v1/org/invites/{userUuid}", FreshMember, None, members,
                                                                                   [ANON, SCOPE,SCOPE,SCOPE,SCOPE,DEL,  DEL,  SCOPE,NF,   SCOPE,SCOPE,DEL,  SCOPE,SCOPE,SCOPE]),
        row(delete.clone(), "/api/v1/org/invites/{userUuid}", FreshOtherMember, None, members,
                                                                                   [ANON, SCOPE,SCOPE,SCOPE,SCOPE,NF,   NF,   SCOPE,DEL,  SCOPE,SCOPE,NF,   SCOPE,SCOPE,SCOPE]),

        // Projects. Invisible (no role on it, or another organization's) is 404;
        // visible without the scope is 403.
        row(get.clone(), "/api/v1/org/projects", Nothing, None, None,              [ANON, OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK  ]),
        row(post.clone(), "/api/v1/org/projects", Nothing, Some(json!({ "name": "Project {n}" })), projects_write,
                                                                                   [ANON, SCOPE,SCOPE,SCOPE,SCOPE,NEW,  NEW,  SCOPE,NEW,  SCOPE,SCOPE,NEW,  SCOPE,SCOPE,SCOPE]),
        row(get.clone(), "/api/v1/projects/{projectUuid}", Project, None, projects_read,
                                                                                   [ANON, NF,   OK,   OK,   OK,   OK,   OK,   SCOPE,NF,   OK,   OK,   OK,   OK,   OK,   OK  ]),
        row(get.clone(), "/api/v1/projects/{projectUuid}", OtherProject, None, None,
                                                                                   [ANON, NF,   NF,   NF,   NF,   NF,   NF,   NF,   OK,   NF,   NF,   NF,   NF,   NF,   NF  ]),
        row(patch.clone(), "/api/v1/projects/{projectUuid}", Project, Some(json!({ "name": "Renamed {n}" })), projects_write,
                                                                                   [ANON, NF,   SCOPE,SCOPE,SCOPE,OK,   OK,   SCOPE,NF,   OK,   SCOPE,OK,   SCOPE,OK,   SCOPE]),
        row(patch.clone(), "/api/v1/projects/{projectUuid}", OtherProject, Some(json!({ "name": "Renamed {n}" })), None,
                                                                                   [ANON, NF,   NF,   NF,   NF,   NF,   NF,   NF,   OK,   NF,   NF,   NF,   NF,   NF,   NF  ]),
        // The project account's rows were fixed at its creation: a new
        // project is not one of them.
        row(delete.clone(), "/api/v1/projects/{projectUuid}", FreshProject, None, projects_write,
                                                                                   [ANON, NF,   SCOPE,SCOPE,SCOPE,DEL,  DEL,  SCOPE,NF,   DEL,  SCOPE,DEL,  SCOPE,NF,   SCOPE]),
        row(delete.clone(), "/api/v1/projects/{projectUuid}", FreshOtherProject, None, None,
                                                                                   [ANON, NF,   NF,   NF,   NF,   NF,   NF,   NF,   DEL,  NF,   NF,   NF,   NF,   NF,   NF  ]),

        // Project access (`members:write` on the project).
        row(get.clone(), "/api/v1/projects/{projectUuid}/access", Project, None, members,
                                                                                   [ANON, NF,   SCOPE,SCOPE,SCOPE,OK,   OK,   SCOPE,NF,   OK,   SCOPE,OK,   SCOPE,OK,   SCOPE]),
        row(get.clone(), "/api/v1/projects/{projectUuid}/access", OtherProject, None, None,
                                                                                   [ANON, NF,   NF,   NF,   NF,   NF,   NF,   NF,   OK,   NF,   NF,   NF,   NF,   NF,   NF  ]),
        row(put.clone(), "/api/v1/projects/{projectUuid}/access/{userUuid}", ProjectGrantee, Some(json!({ "role": "viewer" })), members,
                                                                                   [ANON, NF,   SCOPE,SCOPE,SCOPE,OK,   OK,   SCOPE,NF,   OK,   SCOPE,OK,   SCOPE,OK,   SCOPE]),
        // A user of another organization cannot be given a role on Acme's project.
        row(put.clone(), "/api/v1/projects/{projectUuid}/access/{userUuid}", ProjectOutsider, Some(json!({ "role": "viewer" })), members,
                                                                                   [ANON, NF,   SCOPE,SCOPE,SCOPE,NF,   NF,   SCOPE,NF,   NF,   SCOPE,NF,   SCOPE,NF,   SCOPE]),
        row(put.clone(), "/api/v1/projects/{projectUuid}/access/{userUuid}", OtherProjectMember, Some(json!({ "role": "viewer" })), None,
                                                                                   [ANON, NF,   NF,   NF,   NF,   NF,   NF,   NF,   OK,   NF,   NF,   NF,   NF,   NF,   NF  ]),
        row(delete.clone(), "/api/v1/projects/{projectUuid}/access/{userUuid}", ProjectFreshGrant, None, members,
                                                                                   [ANON, NF,   SCOPE,SCOPE,SCOPE,DEL,  DEL,  SCOPE,NF,   DEL,  SCOPE,DEL,  SCOPE,DEL,  SCOPE]),
        row(delete.clone(), "/api/v1/projects/{projectUuid}/access/{userUuid}", OtherProjectFreshGrant, None, None,
                                                                                   [ANON, NF,   NF,   NF,   NF,   NF,   NF,   NF,   DEL,  NF,   NF,   NF,   NF,   NF,   NF  ]),

        // Catalog.
        row(get.clone(), "/api/v1/org/scopes", Nothing, None, None,                [ANON, OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK  ]),
        row(get.clone(), "/api/v1/org/roles", Nothing, None, None,                 [ANON, OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK  ]),

        // Custom roles (`roles:write` to change; anyone reads their own
        // organization's). Both organizations are on the enterprise plan.
        row(post.clone(), "/api/v1/org/roles", Nothing, Some(json!({ "name": "role {n}", "scopes": ["projects:read"] })), roles,
                                                                                   [ANON, SCOPE,SCOPE,SCOPE,SCOPE,NEW,  NEW,  SCOPE,NEW,  SCOPE,SCOPE,NEW,  SCOPE,SCOPE,SCOPE]),
        row(get.clone(), "/api/v1/org/roles/{roleUuid}", FreshCustomRole, None, None,
                                                                                   [ANON, OK,   OK,   OK,   OK,   OK,   OK,   OK,   NF,   OK,   OK,   OK,   OK,   OK,   OK  ]),
        row(get.clone(), "/api/v1/org/roles/{roleUuid}", FreshOtherCustomRole, None, None,
                                                                                   [ANON, NF,   NF,   NF,   NF,   NF,   NF,   NF,   OK,   NF,   NF,   NF,   NF,   NF,   NF  ]),
        row(patch.clone(), "/api/v1/org/roles/{roleUuid}", FreshCustomRole, Some(json!({ "description": "changed {n}" })), roles,
                                                                                   [ANON, SCOPE,SCOPE,SCOPE,SCOPE,OK,   OK,   SCOPE,NF,   SCOPE,SCOPE,OK,   SCOPE,SCOPE,SCOPE]),
        row(patch.clone(), "/api/v1/org/roles/{roleUuid}", FreshOtherCustomRole, Some(json!({ "description": "changed {n}" })), roles,
                                                                                   [ANON, SCOPE,SCOPE,SCOPE,SCOPE,NF,   NF,   SCOPE,OK,   SCOPE,SCOPE,NF,   SCOPE,SCOPE,SCOPE]),
        row(delete.clone(), "/api/v1/org/roles/{roleUuid}", FreshCustomRole, None, roles,
                                                                                   [ANON, SCOPE,SCOPE,SCOPE,SCOPE,DEL,  DEL,  SCOPE,NF,   SCOPE,SCOPE,DEL,  SCOPE,SCOPE,SCOPE]),
        row(delete.clone(), "/api/v1/org/roles/{roleUuid}", FreshOtherCustomRole, None, roles,
                                                                                   [ANON, SCOPE,SCOPE,SCOPE,SCOPE,NF,   NF,   SCOPE,DEL,  SCOPE,SCOPE,NF,   SCOPE,SCOPE,SCOPE]),

        // The caller's own personal access tokens: any user principal, its own
        // tokens only (anyone else's is 404); an API key is not a user.
        row(get.clone(), "/api/v1/user/me/personal-access-tokens", Nothing, None, None,
                                                                                   [ANON, OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   DENY, DENY, DENY, DENY, DENY]),
        row(post.clone(), "/api/v1/user/me/personal-access-tokens", Nothing, Some(json!({ "name": "row {n}" })), None,
                                                                                   [ANON, NEW,  NEW,  NEW,  NEW,  NEW,  NEW,  NEW,  NEW,  NEW,  DENY, DENY, DENY, DENY, DENY]),
        row(get.clone(), "/api/v1/user/me/personal-access-tokens/{uuid}", AdminPat, None, None,
                                                                                   [ANON, NF,   NF,   NF,   NF,   OK,   OK,   OK,   NF,   NF,   DENY, DENY, DENY, DENY, DENY]),
        row(get.clone(), "/api/v1/user/me/personal-access-tokens/{uuid}", OtherPat, None, None,
                                                                                   [ANON, NF,   NF,   NF,   NF,   NF,   NF,   NF,   OK,   NF,   DENY, DENY, DENY, DENY, DENY]),
        row(patch.clone(), "/api/v1/user/me/personal-access-tokens/{uuid}", AdminPat, Some(json!({ "name": "renamed {n}" })), None,
                                                                                   [ANON, NF,   NF,   NF,   NF,   OK,   OK,   OK,   NF,   NF,   DENY, DENY, DENY, DENY, DENY]),
        row(patch.clone(), "/api/v1/user/me/personal-access-tokens/{uuid}", OtherPat, Some(json!({ "name": "renamed {n}" })), None,
                                                                                   [ANON, NF,   NF,   NF,   NF,   NF,   NF,   NF,   OK,   NF,   DENY, DENY, DENY, DENY, DENY]),
        row(delete.clone(), "/api/v1/user/me/personal-access-tokens/{uuid}", FreshAdminPat, None, None,
                                                                                   [ANON, NF,   NF,   NF,   NF,   DEL,  DEL,  DEL,  NF,   NF,   DENY, DENY, DENY, DENY, DENY]),
        row(delete.clone(), "/api/v1/user/me/personal-access-tokens/{uuid}", FreshOtherPat, None, None,
                                                                                   [ANON, NF,   NF,   NF,   NF,   NF,   NF,   NF,   DEL,  NF,   DENY, DENY, DENY, DENY, DENY]),
        // Rotation hands out a new secret: a token narrowed to content:read
        // must not obtain one for its owner's full-role token (PRODUCT.md §2,
        // "No credential can mint a credential that is more powerful than
        // itself"), but may rotate one no more powerful than itself.
        row(patch.clone(), "/api/v1/user/me/personal-access-tokens/{uuid}/rotate", FreshAdminPat, Some(json!({ "expiresAt": "{in30days}" })), None,
                                                                                   [ANON, NF,   NF,   NF,   NF,   OK,   OK,   UNGRANTABLE,NF,   NF,   DENY, DENY, DENY, DENY, DENY]),
        row(patch.clone(), "/api/v1/user/me/personal-access-tokens/{uuid}/rotate", FreshNarrowAdminPat, Some(json!({ "expiresAt": "{in30days}" })), None,
                                                                                   [ANON, NF,   NF,   NF,   NF,   OK,   OK,   OK,   NF,   NF,   DENY, DENY, DENY, DENY, DENY]),
        row(patch.clone(), "/api/v1/user/me/personal-access-tokens/{uuid}/rotate", FreshOtherPat, Some(json!({ "expiresAt": "{in30days}" })), None,
                                                                                   [ANON, NF,   NF,   NF,   NF,   NF,   NF,   NF,   OK,   NF,   DENY, DENY, DENY, DENY, DENY]),

        // Every member's tokens (`tokens:admin`).
        row(get.clone(), "/api/v1/org/personal-access-tokens", Nothing, None, tokens_admin,
                                                                                   [ANON, SCOPE,SCOPE,SCOPE,SCOPE,OK,   OK,   SCOPE,OK,   SCOPE,SCOPE,OK,   SCOPE,SCOPE,SCOPE]),
        row(delete.clone(), "/api/v1/org/personal-access-tokens/{uuid}", FreshEditorPat, None, tokens_admin,
                                                                                   [ANON, SCOPE,SCOPE,SCOPE,SCOPE,DEL,  DEL,  SCOPE,NF,   SCOPE,SCOPE,DEL,  SCOPE,SCOPE,SCOPE]),
        row(delete.clone(), "/api/v1/org/personal-access-tokens/{uuid}", FreshOtherPat, None, tokens_admin,
                                                                                   [ANON, SCOPE,SCOPE,SCOPE,SCOPE,NF,   NF,   SCOPE,DEL,  SCOPE,SCOPE,NF,   SCOPE,SCOPE,SCOPE]),

        // Organization API keys (`api_keys:write`); another organization's
        // key is 404. Every column that holds the scope holds every role, so
        // `role_too_high` is covered by the API-key tests, not here.
        row(get.clone(), "/api/v1/org/api-keys", Nothing, None, api_keys,          [ANON, SCOPE,SCOPE,SCOPE,SCOPE,OK,   OK,   SCOPE,OK,   SCOPE,SCOPE,OK,   SCOPE,SCOPE,SCOPE]),
        row(post.clone(), "/api/v1/org/api-keys", Nothing, Some(json!({ "name": "key {n}", "role": "viewer" })), api_keys,
                                                                                   [ANON, SCOPE,SCOPE,SCOPE,SCOPE,NEW,  NEW,  SCOPE,NEW,  SCOPE,SCOPE,NEW,  SCOPE,SCOPE,SCOPE]),
        row(delete.clone(), "/api/v1/org/api-keys/{uuid}", FreshApiKey, None, api_keys,
                                                                                   [ANON, SCOPE,SCOPE,SCOPE,SCOPE,DEL,  DEL,  SCOPE,NF,   SCOPE,SCOPE,DEL,  SCOPE,SCOPE,SCOPE]),
        row(delete.clone(), "/api/v1/org/api-keys/{uuid}", FreshOtherApiKey, None, api_keys,
                                                                                   [ANON, SCOPE,SCOPE,SCOPE,SCOPE,NF,   NF,   SCOPE,DEL,  SCOPE,SCOPE,NF,   SCOPE,SCOPE,SCOPE]),
        row(patch.clone(), "/api/v1/org/api-keys/{uuid}", FreshApiKey, Some(json!({ "name": "renamed {n}" })), api_keys,
                                                                                   [ANON, SCOPE,SCOPE,SCOPE,SCOPE,OK,   OK,   SCOPE,NF,   SCOPE,SCOPE,OK,   SCOPE,SCOPE,SCOPE]),
        row(patch.clone(), "/api/v1/org/api-keys/{uuid}", FreshOtherApiKey, Some(json!({ "name": "renamed {n}" })), api_keys,
                                                                                   [ANON, SCOPE,SCOPE,SCOPE,SCOPE,NF,   NF,   SCOPE,OK,   SCOPE,SCOPE,NF,   SCOPE,SCOPE,SCOPE]),
        row(patch.clone(), "/api/v1/org/api-keys/{uuid}/rotate", FreshApiKey, Some(json!({ "expiresAt": "{in30days}" })), api_keys,
                                                                                   [ANON, SCOPE,SCOPE,SCOPE,SCOPE,OK,   OK,   SCOPE,NF,   SCOPE,SCOPE,OK,   SCOPE,SCOPE,SCOPE]),
        row(patch.clone(), "/api/v1/org/api-keys/{uuid}/rotate", FreshOtherApiKey, Some(json!({ "expiresAt": "{in30days}" })), api_keys,
                                                                                   [ANON, SCOPE,SCOPE,SCOPE,SCOPE,NF,   NF,   SCOPE,OK,   SCOPE,SCOPE,NF,   SCOPE,SCOPE,SCOPE]),

        // Service accounts (`service_accounts:write`); another organization's
        // account is 404. `role_too_high`, the plan and the instance switch
        // are covered by the service-account tests.
        row(get.clone(), "/api/v1/service-accounts", Nothing, None, accounts,      [ANON, SCOPE,SCOPE,SCOPE,SCOPE,OK,   OK,   SCOPE,OK,   SCOPE,SCOPE,OK,   SCOPE,SCOPE,SCOPE]),
        row(post.clone(), "/api/v1/service-accounts", Nothing, Some(json!({ "description": "bot {n}", "scope": "organization", "role": "viewer" })), accounts,
                                                                                   [ANON, SCOPE,SCOPE,SCOPE,SCOPE,NEW,  NEW,  SCOPE,NEW,  SCOPE,SCOPE,NEW,  SCOPE,SCOPE,SCOPE]),
        row(get.clone(), "/api/v1/service-accounts/{uuid}", FreshServiceAccount, None, accounts,
                                                                                   [ANON, SCOPE,SCOPE,SCOPE,SCOPE,OK,   OK,   SCOPE,NF,   SCOPE,SCOPE,OK,   SCOPE,SCOPE,SCOPE]),
        row(get.clone(), "/api/v1/service-accounts/{uuid}", FreshOtherServiceAccount, None, accounts,
                                                                                   [ANON, SCOPE,SCOPE,SCOPE,SCOPE,NF,   NF,   SCOPE,OK,   SCOPE,SCOPE,NF,   SCOPE,SCOPE,SCOPE]),
        row(patch.clone(), "/api/v1/service-accounts/{uuid}", FreshServiceAccount, Some(json!({ "description": "renamed {n}" })), accounts,
                                                                                   [ANON, SCOPE,SCOPE,SCOPE,SCOPE,OK,   OK,   SCOPE,NF,   SCOPE,SCOPE,OK,   SCOPE,SCOPE,SCOPE]),
        row(patch.clone(), "/api/v1/service-accounts/{uuid}", FreshOtherServiceAccount, Some(json!({ "description": "renamed {n}" })), accounts,
                                                                                   [ANON, SCOPE,SCOPE,SCOPE,SCOPE,NF,   NF,   SCOPE,OK,   SCOPE,SCOPE,NF,   SCOPE,SCOPE,SCOPE]),
        row(delete.clone(), "/api/v1/service-accounts/{uuid}", FreshServiceAccount, None, accounts,
                                                                                   [ANON, SCOPE,SCOPE,SCOPE,SCOPE,DEL,  DEL,  SCOPE,NF,   SCOPE,SCOPE,DEL,  SCOPE,SCOPE,SCOPE]),
        row(delete.clone(), "/api/v1/service-accounts/{uuid}", FreshOtherServiceAccount, None, accounts,
                                                                                   [ANON, SCOPE,SCOPE,SCOPE,SCOPE,NF,   NF,   SCOPE,DEL,  SCOPE,SCOPE,NF,   SCOPE,SCOPE,SCOPE]),
        row(patch.clone(), "/api/v1/service-accounts/{uuid}/rotate", FreshServiceAccount, Some(json!({ "expiresAt": "{in30days}" })), accounts,
                                                                                   [ANON, SCOPE,SCOPE,SCOPE,SCOPE,OK,   OK,   SCOPE,NF,   SCOPE,SCOPE,OK,   SCOPE,SCOPE,SCOPE]),
        row(patch.clone(), "/api/v1/service-accounts/{uuid}/rotate", FreshOtherServiceAccount, Some(json!({ "expiresAt": "{in30days}" })), accounts,
                                                                                   [ANON, SCOPE,SCOPE,SCOPE,SCOPE,NF,   NF,   SCOPE,OK,   SCOPE,SCOPE,NF,   SCOPE,SCOPE,SCOPE]),

        // The audit log (`audit:read`), of the caller's own organization.
        row(get.clone(), "/api/v1/org/audit-logs", Nothing, None, audit_read,      [ANON, SCOPE,SCOPE,SCOPE,SCOPE,OK,   OK,   SCOPE,OK,   SCOPE,SCOPE,OK,   SCOPE,SCOPE,OK  ]),

        // A resource server only (checked apart from the columns).
        row(post.clone(), "/oauth2/introspect", Nothing, None, None,              [CLIENT,CLIENT,CLIENT,CLIENT,CLIENT,CLIENT,CLIENT,CLIENT,CLIENT,CLIENT,CLIENT,CLIENT,CLIENT,CLIENT,CLIENT]),

        // No credential needed.
        row(post.clone(), "/api/v1/auth/verify", Nothing, Some(json!({ "token": "{adminToken}", "scope": "projects:read" })), None,
                                                                                   [OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK  ]),
        row(get.clone(), "/healthz", Nothing, None, None,                          [OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK  ]),
        row(get.clone(), "/metrics", Nothing, None, None,                          [OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK  ]),
        row(get.clone(), "/readyz", Nothing, None, None,                           [OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK  ]),
        row(get, "/api/v1/openapi.json", Nothing, None, None,                      [OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK  ]),
    ]
}

/// Principals and the standing resources the rows aim at.
struct World {
    /// One credential per column of [`COLUMNS`].
    auth: Vec<Auth>,
    acme: String,
    globex: String,
    admin_token: String,
    project: String,
    globex_project: String,
    project_admin: String,
    grantee: String,
    patchee: String,
    outsider: String,
    outsider_session: Auth,
    globex_member: String,
    admin_pat: String,
    globex_pat: String,
    editor_session: Auth,
}

fn uuid_of(v: &Value, field: &str) -> String {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {v}"))
        .to_string()
}

async fn build_world(app: &TestApp) -> World {
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

type Params = Vec<(&'static str, String)>;

/// Creates what a cell aims at; returns the path parameters and, for the
/// session column of a logout, the session to use instead of the shared one.
async fn prepare(
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
                auth = Some(Auth::Session { cookie, csrf });
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

fn fill(template: &str, params: &Params) -> String {
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

/// Why a response is not what the cell expects, if it is not.
fn mismatch(resp: &support::Resp, expect: Expect, scope: Option<&str>) -> Option<String> {
    let body = &resp.body;
    match expect {
        Expect::Status(status) => {
            if resp.status != status {
                return Some(format!("expected {status}, got {}: {body}", resp.status));
            }
            // Enveloped API answers say so (health checks and the OpenAPI
            // document are not enveloped).
            if body.is_object() && body.get("results").is_some() && body["status"] != "ok" {
                return Some(format!("a success without status ok: {body}"));
            }
        }
        Expect::OAuth(status, code) => {
            if resp.status != status || resp.body != json!({ "error": code }) {
                return Some(format!(
                    "expected {status} {{\"error\": {code:?}}}, got {}: {body}",
                    resp.status
                ));
            }
            if status == 401
                && resp
                    .headers
                    .get("www-authenticate")
                    .and_then(|v| v.to_str().ok())
                    != Some("Basic realm=\"latchkey\"")
            {
                return Some(format!("no Basic challenge: {:?}", resp.headers));
            }
        }
        Expect::Error(status, code) => {
            if (resp.status, resp.code()) != (status, code) {
                return Some(format!(
                    "expected {status} {code}, got {} {}: {body}",
                    resp.status,
                    resp.code()
                ));
            }
            if body["status"] != "error" || body["error"]["statusCode"] != status {
                return Some(format!("not an error envelope: {body}"));
            }
            if code == "missing_scope" && body["error"]["details"]["requiredScope"] != json!(scope)
            {
                return Some(format!("details.requiredScope should be {scope:?}: {body}"));
            }
            if code == "scopes_not_grantable"
                && body["error"]["details"]["scopes"]
                    .as_array()
                    .is_none_or(Vec::is_empty)
            {
                return Some(format!("details.scopes should list the scopes: {body}"));
            }
        }
    }
    None
}

/// Every operation the server documents has rows, and every row is an
/// operation the server documents (or the OpenAPI document itself).
async fn check_coverage(app: &TestApp, rows: &[Row]) {
    let doc = app.get("/api/v1/openapi.json", &Auth::None).await;
    assert_eq!(doc.status, 200);
    let paths = doc.body["paths"].as_object().expect("OpenAPI paths");
    let mut documented = BTreeSet::new();
    for (path, item) in paths {
        for method in ["get", "post", "put", "patch", "delete", "head", "options"] {
            if item.get(method).is_some() {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    documented.insert(("GET".to_string(), "/api/v1/openapi.json".to_string()));
    let tabled: BTreeSet<(String, String)> = rows
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    let without_rows: Vec<_> = documented.difference(&tabled).collect();
    assert!(
        without_rows.is_empty(),
        "routes without rows in the authorization table: {without_rows:?}"
    );
    let undocumented: Vec<_> = tabled.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "rows for routes the server does not document: {undocumented:?}"
    );
}

async fn authorization_table(app: TestApp) {
    let started = Instant::now();
    let rows = table();
    for r in &rows {
        if r.expect.contains(&SCOPE) {
            assert!(
                r.scope.is_some(),
                "{} {} expects missing_scope without naming the scope",
                r.method,
                r.path
            );
        }
    }
    check_coverage(&app, &rows).await;
    let world = build_world(&app).await;
    let setup = started.elapsed();

    let mut failures = Vec::new();
    let mut cells = 0;
    for r in &rows {
        for (column, who) in COLUMNS.iter().enumerate() {
            cells += 1;
            let (params, own_auth) = prepare(&app, &world, r.target, *who, cells).await;
            let path = fill(r.path, &params);
            let body = r
                .body
                .as_ref()
                .map(|b| serde_json::from_str(&fill(&b.to_string(), &params)).expect("body"));
            let auth = own_auth.as_ref().unwrap_or(&world.auth[column]);
            let resp = app.send(r.method.clone(), &path, auth, body).await;
            if let Some(why) = mismatch(&resp, r.expect[column], r.scope) {
                failures.push(format!(
                    "{} {} [{:?}] as {who:?}: {why}",
                    r.method, r.path, r.target
                ));
            }
        }
    }
    // The one principal of the resource-server routes gets its answer, and
    // its secret is no organization's credential.
    let (client_id, secret) = app.resource_server("authz").await;
    for r in rows
        .iter()
        .filter(|r| RESOURCE_SERVER_ROUTES.contains(&r.path))
    {
        assert!(r.expect.iter().all(|e| *e == CLIENT), "{}", r.path);
        let token = world.admin_token.clone();
        for auth in [
            format!("Bearer {secret}"),
            support::basic(&client_id, &secret),
        ] {
            let resp = app.introspect(Some(&auth), &token).await;
            if resp.status != 200 || resp.body["active"] != true {
                failures.push(format!("{} as a resource server: {resp:?}", r.path));
            }
        }
    }
    let resp = app
        .get("/api/v1/user", &Auth::Header(format!("Bearer {secret}")))
        .await;
    if (resp.status, resp.code()) != (401, "invalid_token") {
        failures.push(format!(
            "a resource server's secret on the org API: {resp:?}"
        ));
    }
    eprintln!(
        "{:?}: {} rows x {} principals = {cells} cells; setup {:?}, total {:?}",
        app.backend,
        rows.len(),
        COLUMNS.len(),
        setup,
        started.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} of {cells} cells differ from the table:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
