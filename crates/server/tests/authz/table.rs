//! The table: principal columns, expected answers, targets, and one row per route.

use reqwest::Method;
use serde_json::{json, Value};

/// The principal columns of the table, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Who {
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

pub(crate) const COLUMNS: [Who; 15] = [
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
pub(crate) enum Expect {
    Status(u16),
    Error(u16, &'static str),
    /// An OAuth error body, `{"error": code}` (token introspection).
    OAuth(u16, &'static str),
}

pub(crate) const OK: Expect = Expect::Status(200);
pub(crate) const NEW: Expect = Expect::Status(201);
pub(crate) const DEL: Expect = Expect::Status(204);
pub(crate) const ANON: Expect = Expect::Error(401, "missing_credentials");
/// `403 missing_scope` naming the row's scope in `details.requiredScope`.
pub(crate) const SCOPE: Expect = Expect::Error(403, "missing_scope");
pub(crate) const DENY: Expect = Expect::Error(403, "forbidden");
pub(crate) const UNGRANTABLE: Expect = Expect::Error(403, "scopes_not_grantable");
pub(crate) const NF: Expect = Expect::Error(404, "not_found");
/// A wrong current password for a password change.
pub(crate) const WRONG_PASSWORD: Expect = Expect::Error(400, "invalid_request");
/// No organization principal is a resource server: introspection's `401`.
pub(crate) const CLIENT: Expect = Expect::OAuth(401, "invalid_client");

/// Routes whose one principal is a resource server (instance-level, no
/// column of the table): every column gets `CLIENT`, and the test checks
/// that a resource server gets `200` on each.
pub(crate) const RESOURCE_SERVER_ROUTES: [&str; 1] = ["/oauth2/introspect"];

/// What a row is aimed at. `Fresh…` targets are created anew for every cell,
/// so a cell that destroys its target leaves nothing behind for the next one.
/// `Other…` targets belong to the other organization (Globex).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Target {
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

pub(crate) struct Row {
    pub(crate) method: Method,
    /// The path as the OpenAPI document writes it; `{name}` is filled in.
    pub(crate) path: &'static str,
    pub(crate) target: Target,
    /// `{name}` inside string values is filled in too.
    pub(crate) body: Option<Value>,
    /// What a `403 missing_scope` cell must name.
    pub(crate) scope: Option<&'static str>,
    pub(crate) expect: [Expect; 15],
}

pub(crate) fn row(
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
pub(crate) fn table() -> Vec<Row> {
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
        // Only a session changes a password (a wrong current one here, so the
        // shared session's password stays): tokens are refused.
        row(post.clone(), "/api/v1/user/me/password", Nothing, Some(json!({ "currentPassword": "not the password", "newPassword": "{password}" })), None,
                                                                                   [ANON, DENY, DENY, DENY, DENY, DENY, WRONG_PASSWORD, DENY, DENY, DENY, DENY, DENY, DENY, DENY, DENY]),
        // A person's own sessions: a session only. Ending another's (or one
        // that does not exist) is 404; ending all the others leaves this one.
        row(get.clone(), "/api/v1/user/me/sessions", Nothing, None, None,          [ANON, DENY, DENY, DENY, DENY, DENY, OK,   DENY, DENY, DENY, DENY, DENY, DENY, DENY, DENY]),
        row(delete.clone(), "/api/v1/user/me/sessions/{uuid}", FreshSession, None, None,
                                                                                   [ANON, DENY, DENY, DENY, DENY, DENY, DEL,  DENY, DENY, DENY, DENY, DENY, DENY, DENY, DENY]),
        row(delete.clone(), "/api/v1/user/me/sessions", Nothing, None, None,       [ANON, DENY, DENY, DENY, DENY, DENY, DEL,  DENY, DENY, DENY, DENY, DENY, DENY, DENY, DENY]),
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
        // Forward auth: a token in the Authorization header (a session is not
        // what a proxy passes on); a project that is not the caller's
        // organization's is a 403 like one without the scope, never a 404.
        row(get.clone(), "/auth/forward", Nothing, None, None,                     [ANON, OK,   OK,   OK,   OK,   OK,   ANON, OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK  ]),
        row(get.clone(), "/auth/forward?scope=projects:read", Nothing, None, projects_read,
                                                                                   [ANON, SCOPE,OK,   OK,   OK,   OK,   ANON, SCOPE,OK,   SCOPE,OK,   OK,   OK,   SCOPE,OK  ]),
        row(get.clone(), "/auth/forward?scope=projects:write&project={projectUuid}", Project, None, projects_write,
                                                                                   [ANON, SCOPE,SCOPE,SCOPE,SCOPE,OK,   ANON, SCOPE,SCOPE,OK,   SCOPE,OK,   SCOPE,OK,   SCOPE]),
        row(get.clone(), "/auth/forward?scope=projects:read&project={projectUuid}", OtherProject, None, projects_read,
                                                                                   [ANON, SCOPE,SCOPE,SCOPE,SCOPE,SCOPE,ANON, SCOPE,OK,   SCOPE,SCOPE,SCOPE,SCOPE,SCOPE,SCOPE]),
        row(get.clone(), "/healthz", Nothing, None, None,                          [OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK  ]),
        row(get.clone(), "/metrics", Nothing, None, None,                          [OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK  ]),
        row(get.clone(), "/readyz", Nothing, None, None,                           [OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK  ]),
        row(get, "/api/v1/openapi.json", Nothing, None, None,                      [OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK  ]),
    ]
}
