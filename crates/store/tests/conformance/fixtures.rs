//! What the tests build their worlds from.

pub(crate) use crate::harness::*;
pub(crate) use latchkey_core::ExposeSecret;
pub(crate) use latchkey_core::{
    Actor, ActorKind, AuditAction, AuditEvent, CredentialKind, CredentialRef, Plan, Role, Target,
    TargetKind, TokenHash, TokenHasher,
};
pub(crate) use latchkey_store::testing::PgDatabase;
pub(crate) use latchkey_store::{
    Acceptance, AccountScope, MemberStatus, PendingInvite, ServiceAccountChange,
};
pub(crate) use latchkey_store::{
    AccountReach, CredentialId, CustomRole, CustomRoleChange, OrgId, ProjectId, RoleRef,
    ServiceAccount, ServiceAccountGrant, UserId,
};
pub(crate) use latchkey_store::{
    AuditFilter, Backend, Credential, CredentialChange, MemberChange, MemberUser, NewAdmin,
    NewInvite, NewMember, NewSession, Org, PageRequest, PoolSettings, Project, Rotation, SqlStore,
    Store, StoreError, StoredAuditEvent, TokenLookup, User,
};
pub(crate) use latchkey_store::{
    CustomRoleGrant, HeldRole, ProjectRoleRecord, SessionId, SessionInfo,
};
pub(crate) use sqlx::{AnyConnection, Connection, PgConnection, Row, SqliteConnection};
pub(crate) use std::collections::{BTreeMap, BTreeSet};
pub(crate) use std::future::Future;
pub(crate) use std::sync::{Arc, OnceLock};
pub(crate) use time::{Duration, OffsetDateTime};
pub(crate) use uuid::Uuid;

// ---- fixtures -----------------------------------------------------------------

/// Now, in whole seconds (what the store keeps).
pub(crate) fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc().replace_nanosecond(0).unwrap()
}

pub(crate) fn secs(n: i64) -> Duration {
    Duration::seconds(n)
}

pub(crate) fn hasher() -> &'static TokenHasher {
    static HASHER: OnceLock<TokenHasher> = OnceLock::new();
    HASHER.get_or_init(|| TokenHasher::new(&[7u8; 32]).expect("test key"))
}

/// The hash of a fresh random secret.
pub(crate) fn new_hash() -> TokenHash {
    hasher().hash(&format!("lkpat_{}", Uuid::new_v4().simple()))
}

pub(crate) fn new_user(email: &str) -> User {
    User {
        uuid: Uuid::new_v4().into(),
        email: email.to_string(),
        name: Some(format!("Name of {email}")),
        created_at: now(),
    }
}

pub(crate) fn actor(user: &User) -> Actor {
    Actor {
        kind: ActorKind::User,
        uuid: user.uuid.into(),
        name: user.display_name().to_string(),
    }
}

pub(crate) fn target(kind: &str, uuid: Uuid, name: &str) -> Target {
    Target {
        kind: TargetKind::parse(kind).expect("a target kind"),
        uuid,
        name: name.to_string(),
    }
}

/// A minimal audit event for `org`, named as stored.
pub(crate) fn ev(org: OrgId, action: &str) -> AuditEvent {
    AuditEvent {
        org_uuid: org,
        at: now(),
        action: AuditAction::parse(action).expect("an audit action"),
        actor: None,
        credential: None,
        target: None,
        ip: None,
        user_agent: None,
        details: serde_json::json!({}),
    }
}

pub(crate) fn new_org_value(name: &str) -> Org {
    Org {
        uuid: Uuid::new_v4().into(),
        name: name.to_string(),
        plan: Plan::Free,
        created_at: now(),
    }
}

/// An organization with a new admin user `admin@<name>.test`.
/// A second organization founded by an existing user (its admin).
pub(crate) async fn org_founded_by(t: &TestDb, name: &str, founder: UserId) -> Org {
    let org = new_org_value(name);
    t.create_org(
        &org,
        &NewAdmin::Existing(founder),
        &ev(org.uuid, "org.created"),
    )
    .await
    .expect("create_org");
    org
}

pub(crate) async fn new_org(t: &TestDb, name: &str) -> (Org, User) {
    let org = new_org_value(name);
    let admin = new_user(&format!("admin@{name}.test"));
    t.create_org(
        &org,
        &NewAdmin::New {
            user: admin.clone(),
            password_hash: "$argon2id$test".to_string(),
        },
        &ev(org.uuid, "org.created"),
    )
    .await
    .expect("create_org");
    (org, admin)
}

/// A link issued at `at`, valid for a week.
pub(crate) fn invite_at(at: OffsetDateTime) -> NewInvite {
    NewInvite {
        code_hash: new_hash(),
        created_at: at,
        expires_at: at + Duration::days(7),
    }
}

/// Acceptance through a link that may set the password, keeping the name.
pub(crate) fn set_password(password_hash: &str) -> Acceptance<'_> {
    Acceptance::SetPassword {
        password_hash,
        name: None,
    }
}

pub(crate) fn by_session(user_uuid: UserId) -> Acceptance<'static> {
    Acceptance::BySession { user_uuid }
}

/// Invites a new user (no password yet) to `org` with `role`: a pending
/// membership. Returns the user and the link's code. One event,
/// `member.invited`.
pub(crate) async fn invite_new_member(
    t: &TestDb,
    org: OrgId,
    email: &str,
    role: Role,
) -> (User, TokenHash) {
    let user = new_user(email);
    let invite = invite_at(now());
    t.add_member(
        &NewMember {
            org_uuid: org,
            user: MemberUser::New(user.clone()),
            role: RoleRef::System(role),
            now: now(),
        },
        &invite,
        &ev(org, "member.invited"),
    )
    .await
    .expect("add_member");
    (user, invite.code_hash)
}

/// Invites an existing user to `org` with `role`; returns the link's code.
/// One event, `member.invited`.
pub(crate) async fn invite_existing_member(
    t: &TestDb,
    org: OrgId,
    user: UserId,
    role: Role,
) -> TokenHash {
    let invite = invite_at(now());
    t.add_member(
        &NewMember {
            org_uuid: org,
            user: MemberUser::Existing(user),
            role: RoleRef::System(role),
            now: now(),
        },
        &invite,
        &ev(org, "member.invited"),
    )
    .await
    .expect("add_member (existing user)");
    invite.code_hash
}

/// Accepts an invitation now, with the event `member.joined` in the
/// invitation's organization (read from the link).
pub(crate) async fn accept(
    t: &TestDb,
    code: &TokenHash,
    acceptance: &Acceptance<'_>,
) -> (User, OrgId) {
    let at = now();
    let pending = t
        .pending_invite(code, at)
        .await
        .unwrap()
        .expect("a pending invitation");
    t.accept_invite(code, acceptance, at, &ev(pending.org_uuid, "member.joined"))
        .await
        .expect("accept_invite")
}

/// A new user who was invited to `org` and accepted, setting a password: an
/// active member. Two events, `member.invited` and `member.joined`.
pub(crate) async fn add_new_member(t: &TestDb, org: OrgId, email: &str, role: Role) -> User {
    let (user, code) = invite_new_member(t, org, email, role).await;
    let hash = format!("$argon2id${email}");
    accept(t, &code, &set_password(&hash)).await;
    user
}

/// An existing user invited to `org` who accepted from a signed-in session:
/// an active member. Two events, `member.invited` and `member.joined`.
pub(crate) async fn add_existing_member(t: &TestDb, org: OrgId, user: UserId, role: Role) {
    let code = invite_existing_member(t, org, user, role).await;
    accept(t, &code, &by_session(user)).await;
}

pub(crate) fn pat(org: OrgId, owner: &User, name: &str, created_at: OffsetDateTime) -> Credential {
    Credential {
        uuid: Uuid::new_v4().into(),
        kind: CredentialKind::Pat,
        org_uuid: org,
        owner_uuid: Some(owner.uuid),
        name: name.to_string(),
        display_prefix: format!("lkpat_{}", &Uuid::new_v4().simple().to_string()[..6]),
        scopes: None,
        role: None,
        expires_at: Some(created_at + Duration::days(30)),
        created_at,
        rotated_at: None,
        last_used_at: None,
        revoked_at: None,
        created_by: actor(owner),
    }
}

pub(crate) fn org_credential(
    kind: CredentialKind,
    org: OrgId,
    creator: &User,
    role: Role,
) -> Credential {
    Credential {
        uuid: Uuid::new_v4().into(),
        kind,
        org_uuid: org,
        owner_uuid: None,
        name: format!("{} by {}", kind.as_str(), creator.email),
        display_prefix: "lkkey_abc123".to_string(),
        scopes: None,
        role: Some(role),
        expires_at: None,
        created_at: now(),
        rotated_at: None,
        last_used_at: None,
        revoked_at: None,
        created_by: actor(creator),
    }
}

/// Inserts the credential under a fresh secret and returns that secret's hash.
pub(crate) async fn insert(t: &TestDb, c: &Credential) -> TokenHash {
    let hash = new_hash();
    t.insert_credential(c, &hash, &ev(c.org_uuid, "pat.created"))
        .await
        .expect("insert_credential");
    hash
}

pub(crate) fn new_project(org: OrgId, name: &str, by: &User) -> Project {
    let at = now();
    Project {
        uuid: Uuid::new_v4().into(),
        org_uuid: org,
        name: name.to_string(),
        created_at: at,
        created_by: actor(by),
        updated_at: at,
        updated_by: actor(by),
    }
}

pub(crate) async fn create_project(t: &TestDb, org: OrgId, name: &str, by: &User) -> Project {
    let p = new_project(org, name, by);
    t.create_project(&p, &ev(org, "project.created"))
        .await
        .expect("create_project");
    p
}

pub(crate) async fn found(t: &TestDb, hash: &TokenHash) -> latchkey_store::AuthRecord {
    match t.authenticate(hash).await.expect("authenticate") {
        TokenLookup::Found(record) => record,
        other => panic!("expected Found, got {other:?}"),
    }
}

/// Every audit event of `org`, newest first, walking all pages.
pub(crate) async fn all_events(t: &TestDb, org: OrgId) -> Vec<StoredAuditEvent> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = t
            .audit_events(
                org,
                &AuditFilter::default(),
                &PageRequest { limit: 100, cursor },
            )
            .await
            .expect("audit_events");
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}

/// Follows one organization's audit log: each mutation must add exactly one
/// event, each refused mutation none.
pub(crate) struct AuditLog {
    pub(crate) org: OrgId,
    pub(crate) seen: usize,
}

impl AuditLog {
    pub(crate) async fn start(t: &TestDb, org: OrgId) -> AuditLog {
        AuditLog {
            org,
            seen: all_events(t, org).await.len(),
        }
    }

    #[track_caller]
    pub(crate) fn expect(
        &mut self,
        t: &TestDb,
        action: &str,
    ) -> impl Future<Output = StoredAuditEvent> + '_ {
        let caller = std::panic::Location::caller();
        let t = t.clone();
        let action = action.to_string();
        async move {
            let events = all_events(&t, self.org).await;
            assert_eq!(
                events.len(),
                self.seen + 1,
                "{caller}: expected exactly one new audit event `{action}`; newest: {:?}",
                events.iter().take(3).map(|e| &e.action).collect::<Vec<_>>()
            );
            assert_eq!(events[0].action, action, "{caller}: newest audit event");
            self.seen += 1;
            events.into_iter().next().unwrap()
        }
    }

    /// Exactly these new events, oldest first.
    #[track_caller]
    pub(crate) fn expect_all<'a>(
        &'a mut self,
        t: &TestDb,
        actions: &'a [&'a str],
    ) -> impl Future<Output = ()> + 'a {
        let caller = std::panic::Location::caller();
        let t = t.clone();
        async move {
            let events = all_events(&t, self.org).await;
            let newest: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
            assert_eq!(
                events.len(),
                self.seen + actions.len(),
                "{caller}: expected the new audit events {actions:?}; newest: {:?}",
                &newest[..newest.len().min(actions.len() + 2)]
            );
            let mut got: Vec<&str> = newest[..actions.len()].to_vec();
            got.reverse();
            assert_eq!(got, actions, "{caller}: the new audit events, oldest first");
            self.seen += actions.len();
        }
    }

    #[track_caller]
    pub(crate) fn expect_none(&self, t: &TestDb) -> impl Future<Output = ()> + '_ {
        let caller = std::panic::Location::caller();
        let t = t.clone();
        async move {
            let events = all_events(&t, self.org).await;
            assert_eq!(
                events.len(),
                self.seen,
                "{caller}: expected no new audit event; newest: {:?}",
                events.first().map(|e| &e.action)
            );
        }
    }
}

pub(crate) fn custom_role_value(org: OrgId, name: &str, scopes: &[&str], by: &User) -> CustomRole {
    CustomRole {
        uuid: Uuid::new_v4().into(),
        org_uuid: org,
        name: name.to_string(),
        description: Some(format!("about {name}")),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        created_at: now(),
        created_by: actor(by),
        updated_at: now(),
    }
}

pub(crate) async fn create_custom_role(
    t: &TestDb,
    org: OrgId,
    name: &str,
    scopes: &[&str],
    by: &User,
) -> CustomRole {
    let role = custom_role_value(org, name, scopes, by);
    t.create_custom_role(&role, &ev(org, "role.created"))
        .await
        .expect("create_custom_role");
    role
}

pub(crate) fn service_account_value(org: OrgId, by: &User) -> Credential {
    Credential {
        name: "bot".into(),
        display_prefix: "lksvc_abcd".into(),
        ..org_credential(CredentialKind::ServiceAccount, org, by, Role::Viewer)
    }
}

pub(crate) async fn insert_account(t: &TestDb, a: &ServiceAccount) -> TokenHash {
    let hash = new_hash();
    t.insert_service_account(
        a,
        &hash,
        &ev(a.credential.org_uuid, "service_account.created"),
    )
    .await
    .expect("insert_service_account");
    hash
}

/// Whether the pending link `code` may set its account's password.
pub(crate) async fn link_sets_password(t: &TestDb, code: &TokenHash) -> bool {
    t.pending_invite(code, now())
        .await
        .unwrap()
        .expect("a pending invitation")
        .sets_password
}

pub(crate) async fn password_of(t: &TestDb, email: &str) -> Option<String> {
    t.user_by_email(email)
        .await
        .unwrap()
        .expect("the user")
        .password_hash
        .map(|h| h.expose_secret().to_string())
}

/// A session of `user` pointing at `org`, valid for a day.
pub(crate) async fn new_session(t: &TestDb, user: UserId, org: OrgId) -> TokenHash {
    let s = NewSession {
        id_hash: new_hash(),
        uuid: SessionId::random(),
        user_uuid: user,
        org_uuid: org,
        created_at: now(),
        expires_at: now() + Duration::days(1),
        ip: None,
        user_agent: None,
    };
    t.create_session(&s).await.expect("create_session");
    s.id_hash
}

/// `user`'s project roles in `org`, as stored: a custom role's row shows
/// its system column, `member`.
pub(crate) async fn project_roles_of(
    t: &TestDb,
    org: OrgId,
    user: UserId,
) -> Vec<(ProjectId, Role)> {
    t.member_project_roles(org, user)
        .await
        .expect("member_project_roles")
        .into_iter()
        .map(|r| (r.project_uuid, r.role.system().unwrap_or(Role::Member)))
        .collect()
}

/// `user`'s role on `project`, as stored (see [`project_roles_of`]).
pub(crate) async fn project_role(t: &TestDb, project: ProjectId, user: UserId) -> Option<Role> {
    t.project_access(project)
        .await
        .expect("project_access")
        .into_iter()
        .find(|g| g.user.uuid == user)
        .map(|g| g.role.base_role())
}
