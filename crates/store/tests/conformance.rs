//! Storage conformance: every test body runs once against a fresh SQLite file
//! and once against a fresh PostgreSQL database, through the `Store` trait.
//!
//! PostgreSQL is found at `LATCHKEY_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); each test creates its own
//! database there and drops it afterwards. When PostgreSQL is unreachable the
//! `_postgres` tests fail: they never skip.

use latchkey_core::{
    Actor, ActorKind, AuditAction, AuditEvent, CredentialKind, CredentialRef, Plan, Role, Target,
    TargetKind, TokenHash, TokenHasher,
};
use latchkey_store::testing::PgDatabase;
use latchkey_store::MemberProjectRole;
use latchkey_store::{Acceptance, AccountScope, MemberStatus, PendingInvite, ServiceAccountChange};
use latchkey_store::{
    AuditFilter, Backend, Credential, CredentialChange, MemberChange, MemberUser, NewAdmin,
    NewInvite, NewMember, NewSession, Org, PageRequest, PoolSettings, Project, Rotation, SqlStore,
    Store, StoreError, StoredAuditEvent, TokenLookup, User,
};
use latchkey_store::{
    CustomRole, CustomRoleChange, ProjectAccessRecord, RoleRef, ServiceAccount, ServiceAccountGrant,
};
use sqlx::{AnyConnection, Connection, PgConnection, Row, SqliteConnection};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::{Arc, OnceLock};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

// ---- harness ----------------------------------------------------------------

/// One migrated database, fresh for one test.
#[derive(Clone)]
struct TestDb {
    store: SqlStore,
    /// URL for a raw connection to the same database, bypassing the store.
    raw_url: String,
}

impl std::ops::Deref for TestDb {
    type Target = SqlStore;
    fn deref(&self) -> &SqlStore {
        &self.store
    }
}

impl TestDb {
    /// A connection of its own, outside the store's pools.
    async fn raw(&self) -> AnyConnection {
        sqlx::any::install_default_drivers();
        AnyConnection::connect(&self.raw_url)
            .await
            .expect("raw connection to the test database")
    }

    /// `SELECT COUNT(*) ...` with one text parameter, on a raw connection.
    async fn count(&self, sql: &str, arg: impl ToString) -> i64 {
        let mut conn = self.raw().await;
        let row = sqlx::query(sql)
            .bind(arg.to_string())
            .fetch_one(&mut conn)
            .await
            .expect(sql);
        row.try_get::<i64, _>(0).expect("count")
    }
}

/// Runs `body` in its own task so that a failing assertion is caught, the
/// database is cleaned up, and the panic then resumes.
async fn run_body<F, Fut>(db: TestDb, body: F) -> Result<(), Box<dyn std::any::Any + Send>>
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let store = db.store.clone();
    let outcome = tokio::spawn(body(db)).await;
    store.close().await;
    match outcome {
        Ok(()) => Ok(()),
        Err(e) if e.is_panic() => Err(e.into_panic()),
        Err(e) => Err(Box::new(format!("test task failed: {e}"))),
    }
}

async fn run_sqlite<F, Fut>(body: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::TempDir::new().expect("temp dir");
    let path = dir.path().join("latchkey.db");
    let store = SqlStore::open_sqlite(&path, &PoolSettings::default())
        .await
        .expect("open SQLite store");
    assert_eq!(store.backend(), Backend::Sqlite);
    let db = TestDb {
        store,
        raw_url: format!("sqlite://{}", path.display()),
    };
    let outcome = run_body(db, body).await;
    drop(dir);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

async fn run_postgres<F, Fut>(body: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    // Dropped (and the database with it) when this function returns or unwinds.
    let pg = PgDatabase::create().await;
    let store = SqlStore::open_postgres(&pg.url, &PoolSettings::default())
        .await
        .unwrap_or_else(|e| panic!("open PostgreSQL store on {}: {e}", pg.name));
    assert_eq!(store.backend(), Backend::Postgres);
    let db = TestDb {
        store,
        raw_url: pg.url.clone(),
    };
    let outcome = run_body(db, body).await;
    drop(pg);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// `body => name_sqlite, name_postgres;` makes two tests of one body.
macro_rules! on_both_backends {
    ($($body:ident => $sqlite:ident, $postgres:ident;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $sqlite() {
            run_sqlite($body).await
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $postgres() {
            run_postgres($body).await
        }
    )*};
}

on_both_backends! {
    names_are_unique_after_folding => names_are_unique_after_folding_sqlite, names_are_unique_after_folding_postgres;
    orgs_lifecycle => orgs_lifecycle_sqlite, orgs_lifecycle_postgres;
    audit_event_round_trip => audit_event_round_trip_sqlite, audit_event_round_trip_postgres;
    members_add_and_invites => members_add_and_invites_sqlite, members_add_and_invites_postgres;
    members_update => members_update_sqlite, members_update_postgres;
    members_last_admin_is_kept => members_last_admin_is_kept_sqlite, members_last_admin_is_kept_postgres;
    members_remove_cleans_up => members_remove_cleans_up_sqlite, members_remove_cleans_up_postgres;
    members_concurrent_admin_changes => members_concurrent_admin_changes_sqlite, members_concurrent_admin_changes_postgres;
    members_concurrent_invite_accept => members_concurrent_invite_accept_sqlite, members_concurrent_invite_accept_postgres;
    sessions_lifecycle => sessions_lifecycle_sqlite, sessions_lifecycle_postgres;
    sessions_carry_what_the_member_holds => sessions_carry_what_the_member_holds_sqlite, sessions_carry_what_the_member_holds_postgres;
    session_changes_tell_the_caches => session_changes_tell_the_caches_sqlite, session_changes_tell_the_caches_postgres;
    projects_lifecycle => projects_lifecycle_sqlite, projects_lifecycle_postgres;
    project_roles => project_roles_sqlite, project_roles_postgres;
    credentials_authenticate => credentials_authenticate_sqlite, credentials_authenticate_postgres;
    credentials_org_pats_paging => credentials_org_pats_paging_sqlite, credentials_org_pats_paging_postgres;
    credentials_update_credential => credentials_update_credential_sqlite, credentials_update_credential_postgres;
    credentials_revoke => credentials_revoke_sqlite, credentials_revoke_postgres;
    credentials_rotate => credentials_rotate_sqlite, credentials_rotate_postgres;
    credentials_concurrent_rotation => credentials_concurrent_rotation_sqlite, credentials_concurrent_rotation_postgres;
    credentials_record_last_used => credentials_record_last_used_sqlite, credentials_record_last_used_postgres;
    credentials_org_credentials_by_kind => credentials_org_credentials_by_kind_sqlite, credentials_org_credentials_by_kind_postgres;
    audit_filters_and_paging => audit_filters_and_paging_sqlite, audit_filters_and_paging_postgres;
    audit_is_append_only => audit_is_append_only_sqlite, audit_is_append_only_postgres;
    custom_roles_lifecycle => custom_roles_lifecycle_sqlite, custom_roles_lifecycle_postgres;
    custom_role_of_a_member => custom_role_of_a_member_sqlite, custom_role_of_a_member_postgres;
    custom_role_delete_while_assigned => custom_role_delete_while_assigned_sqlite, custom_role_delete_while_assigned_postgres;
    service_accounts_lifecycle => service_accounts_lifecycle_sqlite, service_accounts_lifecycle_postgres;
    service_accounts_project_rows => service_accounts_project_rows_sqlite, service_accounts_project_rows_postgres;
    custom_role_on_a_project => custom_role_on_a_project_sqlite, custom_role_on_a_project_postgres;
    invites_sets_password_rule => invites_sets_password_rule_sqlite, invites_sets_password_rule_postgres;
    invites_concurrent_first_invitations => invites_concurrent_first_invitations_sqlite, invites_concurrent_first_invitations_postgres;
    invites_accept_by_session => invites_accept_by_session_sqlite, invites_accept_by_session_postgres;
    invites_acceptance_ends_sessions => invites_acceptance_ends_sessions_sqlite, invites_acceptance_ends_sessions_postgres;
    invites_reissue_and_withdraw => invites_reissue_and_withdraw_sqlite, invites_reissue_and_withdraw_postgres;
    invites_give_nothing_until_accepted => invites_give_nothing_until_accepted_sqlite, invites_give_nothing_until_accepted_postgres;
}

// ---- fixtures -----------------------------------------------------------------

/// Now, in whole seconds (what the store keeps).
fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc().replace_nanosecond(0).unwrap()
}

fn secs(n: i64) -> Duration {
    Duration::seconds(n)
}

fn hasher() -> &'static TokenHasher {
    static HASHER: OnceLock<TokenHasher> = OnceLock::new();
    HASHER.get_or_init(|| TokenHasher::new(&[7u8; 32]).expect("test key"))
}

/// The hash of a fresh random secret.
fn new_hash() -> TokenHash {
    hasher().hash(&format!("lkpat_{}", Uuid::new_v4().simple()))
}

fn new_user(email: &str) -> User {
    User {
        uuid: Uuid::new_v4(),
        email: email.to_string(),
        name: Some(format!("Name of {email}")),
        created_at: now(),
    }
}

fn actor(user: &User) -> Actor {
    Actor {
        kind: ActorKind::User,
        uuid: user.uuid,
        name: user.display_name().to_string(),
    }
}

fn target(kind: &str, uuid: Uuid, name: &str) -> Target {
    Target {
        kind: TargetKind::parse(kind).expect("a target kind"),
        uuid,
        name: name.to_string(),
    }
}

/// A minimal audit event for `org`, named as stored.
fn ev(org: Uuid, action: &str) -> AuditEvent {
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

fn new_org_value(name: &str) -> Org {
    Org {
        uuid: Uuid::new_v4(),
        name: name.to_string(),
        plan: Plan::Free,
        created_at: now(),
    }
}

/// An organization with a new admin user `admin@<name>.test`.
/// A second organization founded by an existing user (its admin).
async fn org_founded_by(t: &TestDb, name: &str, founder: Uuid) -> Org {
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

async fn new_org(t: &TestDb, name: &str) -> (Org, User) {
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
fn invite_at(at: OffsetDateTime) -> NewInvite {
    NewInvite {
        code_hash: new_hash(),
        created_at: at,
        expires_at: at + Duration::days(7),
    }
}

/// Acceptance through a link that may set the password, keeping the name.
fn set_password(password_hash: &str) -> Acceptance<'_> {
    Acceptance::SetPassword {
        password_hash,
        name: None,
    }
}

fn by_session(user_uuid: Uuid) -> Acceptance<'static> {
    Acceptance::BySession { user_uuid }
}

/// Invites a new user (no password yet) to `org` with `role`: a pending
/// membership. Returns the user and the link's code. One event,
/// `member.invited`.
async fn invite_new_member(t: &TestDb, org: Uuid, email: &str, role: Role) -> (User, TokenHash) {
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
async fn invite_existing_member(t: &TestDb, org: Uuid, user: Uuid, role: Role) -> TokenHash {
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
async fn accept(t: &TestDb, code: &TokenHash, acceptance: &Acceptance<'_>) -> (User, Uuid) {
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
async fn add_new_member(t: &TestDb, org: Uuid, email: &str, role: Role) -> User {
    let (user, code) = invite_new_member(t, org, email, role).await;
    let hash = format!("$argon2id${email}");
    accept(t, &code, &set_password(&hash)).await;
    user
}

/// An existing user invited to `org` who accepted from a signed-in session:
/// an active member. Two events, `member.invited` and `member.joined`.
async fn add_existing_member(t: &TestDb, org: Uuid, user: Uuid, role: Role) {
    let code = invite_existing_member(t, org, user, role).await;
    accept(t, &code, &by_session(user)).await;
}

fn pat(org: Uuid, owner: &User, name: &str, created_at: OffsetDateTime) -> Credential {
    Credential {
        uuid: Uuid::new_v4(),
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

fn org_credential(kind: CredentialKind, org: Uuid, creator: &User, role: Role) -> Credential {
    Credential {
        uuid: Uuid::new_v4(),
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
async fn insert(t: &TestDb, c: &Credential) -> TokenHash {
    let hash = new_hash();
    t.insert_credential(c, &hash, &ev(c.org_uuid, "pat.created"))
        .await
        .expect("insert_credential");
    hash
}

fn new_project(org: Uuid, name: &str, by: &User) -> Project {
    let at = now();
    Project {
        uuid: Uuid::new_v4(),
        org_uuid: org,
        name: name.to_string(),
        created_at: at,
        created_by: actor(by),
        updated_at: at,
        updated_by: actor(by),
    }
}

async fn create_project(t: &TestDb, org: Uuid, name: &str, by: &User) -> Project {
    let p = new_project(org, name, by);
    t.create_project(&p, &ev(org, "project.created"))
        .await
        .expect("create_project");
    p
}

async fn found(t: &TestDb, hash: &TokenHash) -> latchkey_store::AuthRecord {
    match t.authenticate(hash).await.expect("authenticate") {
        TokenLookup::Found(record) => record,
        other => panic!("expected Found, got {other:?}"),
    }
}

/// Every audit event of `org`, newest first, walking all pages.
async fn all_events(t: &TestDb, org: Uuid) -> Vec<StoredAuditEvent> {
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
struct AuditLog {
    org: Uuid,
    seen: usize,
}

impl AuditLog {
    async fn start(t: &TestDb, org: Uuid) -> AuditLog {
        AuditLog {
            org,
            seen: all_events(t, org).await.len(),
        }
    }

    #[track_caller]
    fn expect(&mut self, t: &TestDb, action: &str) -> impl Future<Output = StoredAuditEvent> + '_ {
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
    fn expect_all<'a>(
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
    fn expect_none(&self, t: &TestDb) -> impl Future<Output = ()> + '_ {
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

macro_rules! assert_err {
    ($result:expr, $pattern:pat) => {
        match $result {
            Err($pattern) => {}
            other => panic!(
                "expected Err({}), got {:?}",
                stringify!($pattern),
                other.map(|_| "Ok(..)")
            ),
        }
    };
}

// ---- organizations --------------------------------------------------------------

async fn orgs_lifecycle(t: TestDb) {
    assert!(t.is_empty().await.unwrap(), "a fresh database is empty");
    t.ping().await.unwrap();

    let org = new_org_value("acme");
    let alice = new_user("alice@example.com");
    let created = AuditEvent {
        actor: Some(actor(&alice)),
        target: Some(target("org", org.uuid, "acme")),
        ..ev(org.uuid, "org.created")
    };
    t.create_org(
        &org,
        &NewAdmin::New {
            user: alice.clone(),
            password_hash: "$argon2id$alice".to_string(),
        },
        &created,
    )
    .await
    .unwrap();
    assert!(!t.is_empty().await.unwrap());

    // The org, the user, the admin membership and the event are all there.
    assert_eq!(t.org(org.uuid).await.unwrap(), Some(org.clone()));
    assert_eq!(t.orgs_by_name("acme").await.unwrap(), vec![org.clone()]);
    assert!(t.orgs_by_name("ACME-nope").await.unwrap().is_empty());
    assert!(t.orgs_by_name("ACME").await.unwrap().is_empty());
    assert_eq!(t.org(Uuid::new_v4()).await.unwrap(), None);
    let login = t.user_by_email("alice@example.com").await.unwrap().unwrap();
    assert_eq!(login.user, alice);
    assert_eq!(login.password_hash.as_deref(), Some("$argon2id$alice"));
    let member = t.member(org.uuid, alice.uuid).await.unwrap().unwrap();
    assert_eq!(member.user, alice);
    assert_eq!(member.membership.role, RoleRef::System(Role::Admin));
    assert_eq!(member.membership.suspended_at, None);
    assert_eq!(member.membership.created_at, org.created_at);
    assert_eq!(
        member.membership.accepted_at,
        Some(org.created_at),
        "the founding admin is a member at once"
    );
    assert_eq!(member.membership.status(), MemberStatus::Active);
    assert_eq!(t.members(org.uuid).await.unwrap(), vec![member.clone()]);
    assert_eq!(
        t.memberships_of(alice.uuid).await.unwrap(),
        vec![(org.clone(), member.membership.clone())]
    );
    let events = all_events(&t, org.uuid).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].action, "org.created");
    assert_eq!(events[0].actor, Some(actor(&alice)));
    assert_eq!(events[0].target, created.target);
    assert_eq!(events[0].at, created.at);

    // An organization's id is unique: a second one with the same id is a
    // conflict, and nothing of it is kept (not even its new admin).
    let dup = Org {
        name: "acme-again".to_string(),
        ..org.clone()
    };
    let mut log = AuditLog::start(&t, org.uuid).await;
    assert_err!(
        t.create_org(
            &dup,
            &NewAdmin::New {
                user: new_user("dup@example.com"),
                password_hash: "x".to_string(),
            },
            &ev(dup.uuid, "org.created")
        )
        .await,
        StoreError::Conflict(_)
    );
    log.expect_none(&t).await;
    assert_eq!(t.org(org.uuid).await.unwrap(), Some(org.clone()));
    assert!(t.user_by_email("dup@example.com").await.unwrap().is_none());
    assert!(t.orgs_by_name("acme-again").await.unwrap().is_empty());
    assert_eq!(t.memberships_of(alice.uuid).await.unwrap().len(), 1);

    // Names are not unique: a second "acme" (by another founder) is a
    // different organization, and both are found by the name, oldest first.
    let twin = Org {
        created_at: org.created_at + secs(1),
        ..new_org_value("acme")
    };
    let twin_admin = new_user("admin@twin.test");
    t.create_org(
        &twin,
        &NewAdmin::New {
            user: twin_admin.clone(),
            password_hash: "$argon2id$twin".to_string(),
        },
        &ev(twin.uuid, "org.created"),
    )
    .await
    .unwrap();
    log.expect_none(&t).await;
    assert_eq!(
        t.orgs_by_name("acme").await.unwrap(),
        vec![org.clone(), twin.clone()]
    );
    assert_eq!(t.members(twin.uuid).await.unwrap().len(), 1);
    assert_eq!(t.members(org.uuid).await.unwrap().len(), 1);
    assert!(t.member(twin.uuid, alice.uuid).await.unwrap().is_none());
    assert_eq!(
        t.memberships_of(twin_admin.uuid).await.unwrap(),
        vec![(
            twin.clone(),
            t.member(twin.uuid, twin_admin.uuid)
                .await
                .unwrap()
                .unwrap()
                .membership
        )]
    );

    // A new admin whose email is taken: conflict, and the org is rolled back.
    let taken = new_org_value("taken-email");
    assert_err!(
        t.create_org(
            &taken,
            &NewAdmin::New {
                user: new_user("alice@example.com"),
                password_hash: "x".to_string(),
            },
            &ev(taken.uuid, "org.created"),
        )
        .await,
        StoreError::Conflict(_)
    );
    assert_eq!(t.org(taken.uuid).await.unwrap(), None);
    assert!(t.orgs_by_name("taken-email").await.unwrap().is_empty());
    assert!(all_events(&t, taken.uuid).await.is_empty());

    // An existing user may found a second organization.
    let second = org_founded_by(&t, "second", alice.uuid).await;
    assert_eq!(AuditLog::start(&t, second.uuid).await.seen, 1);
    let orgs: Vec<Uuid> = t
        .memberships_of(alice.uuid)
        .await
        .unwrap()
        .into_iter()
        .map(|(o, m)| {
            assert_eq!(m.role, RoleRef::System(Role::Admin));
            o.uuid
        })
        .collect();
    assert_eq!(orgs.len(), 2);
    assert!(orgs.contains(&org.uuid) && orgs.contains(&second.uuid));

    // Plans.
    t.set_plan(
        org.uuid,
        Plan::Enterprise,
        &ev(org.uuid, "org.plan_changed"),
    )
    .await
    .unwrap();
    log.expect(&t, "org.plan_changed").await;
    assert_eq!(
        t.org(org.uuid).await.unwrap().unwrap().plan,
        Plan::Enterprise
    );
    assert_eq!(t.orgs_by_name("second").await.unwrap()[0].plan, Plan::Free);
    assert_eq!(
        t.org(twin.uuid).await.unwrap().unwrap().plan,
        Plan::Free,
        "a plan is the organization's, not its name's"
    );
    t.set_plan(org.uuid, Plan::Free, &ev(org.uuid, "org.plan_changed"))
        .await
        .unwrap();
    log.expect(&t, "org.plan_changed").await;
    assert_eq!(t.org(org.uuid).await.unwrap().unwrap().plan, Plan::Free);
    let ghost = Uuid::new_v4();
    assert_err!(
        t.set_plan(ghost, Plan::Enterprise, &ev(ghost, "org.plan_changed"))
            .await,
        StoreError::NotFound
    );
    assert!(all_events(&t, ghost).await.is_empty());
}

async fn audit_event_round_trip(t: TestDb) {
    let (org, alice) = new_org(&t, "acme").await;
    let mut log = AuditLog::start(&t, org.uuid).await;
    let full = AuditEvent {
        org_uuid: org.uuid,
        at: now() - secs(5),
        action: AuditAction::PatCreated,
        actor: Some(Actor {
            kind: ActorKind::ServiceAccount,
            uuid: Uuid::new_v4(),
            name: "deploy bot".to_string(),
        }),
        credential: Some(CredentialRef {
            kind: CredentialKind::ServiceAccount,
            uuid: Some(Uuid::new_v4()),
            name: Some("deploy".to_string()),
            display_prefix: Some("lksvc_ab12".to_string()),
        }),
        target: Some(target("pat", Uuid::new_v4(), "laptop ✓ 'quoted'")),
        ip: Some("2001:db8::1".to_string()),
        user_agent: Some("latchkey-cli/0.1".to_string()),
        details: serde_json::json!({"scopes": ["projects:read"], "n": 3, "nested": {"ok": true}}),
    };
    t.append_audit(&full).await.unwrap();
    let got = log.expect(&t, "pat.created").await;
    assert_eq!(got.at, full.at);
    assert_eq!(got.actor, full.actor);
    assert_eq!(got.credential, full.credential);
    assert_eq!(got.target, full.target);
    assert_eq!(got.ip, full.ip);
    assert_eq!(got.user_agent, full.user_agent);
    assert_eq!(got.details, full.details);

    // A credential reference with only a kind (a session) and no uuid.
    let sparse = AuditEvent {
        actor: Some(actor(&alice)),
        credential: Some(CredentialRef {
            kind: CredentialKind::Session,
            uuid: None,
            name: None,
            display_prefix: None,
        }),
        ..ev(org.uuid, "member.updated")
    };
    t.append_audit(&sparse).await.unwrap();
    let got = log.expect(&t, "member.updated").await;
    assert_eq!(got.actor, sparse.actor);
    assert_eq!(got.credential, sparse.credential);
    assert_eq!(got.target, None);
    assert_eq!(got.ip, None);
    assert_eq!(got.user_agent, None);
    assert_eq!(got.details, serde_json::json!({}));

    let bare = ev(org.uuid, "project.created");
    t.append_audit(&bare).await.unwrap();
    let got = log.expect(&t, "project.created").await;
    assert_eq!(got.actor, None);
    assert_eq!(got.credential, None);
    assert_eq!(got.target, None);
}

// ---- members ----------------------------------------------------------------------

async fn members_add_and_invites(t: TestDb) {
    let (org, alice) = new_org(&t, "acme").await;
    let mut log = AuditLog::start(&t, org.uuid).await;
    let t0 = now();

    // A new user with an invite: invited, not yet a member.
    let bob = User {
        name: None,
        ..new_user("bob@example.com")
    };
    let code = new_hash();
    t.add_member(
        &NewMember {
            org_uuid: org.uuid,
            user: MemberUser::New(bob.clone()),
            role: RoleRef::System(Role::Editor),
            now: t0,
        },
        &NewInvite {
            code_hash: code,
            created_at: t0,
            expires_at: t0 + Duration::days(7),
        },
        &ev(org.uuid, "member.invited"),
    )
    .await
    .unwrap();
    log.expect(&t, "member.invited").await;
    let m = t.member(org.uuid, bob.uuid).await.unwrap().unwrap();
    assert_eq!(m.user, bob);
    assert_eq!(m.membership.role, RoleRef::System(Role::Editor));
    assert_eq!(m.membership.created_at, t0);
    assert_eq!(m.membership.suspended_at, None);
    assert_eq!(m.membership.accepted_at, None);
    assert_eq!(m.membership.status(), MemberStatus::Invited);
    assert_eq!(
        t.user_by_email("bob@example.com")
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        None,
        "an invited user has no password yet"
    );
    assert_eq!(
        t.members(org.uuid).await.unwrap().len(),
        2,
        "invited ones are listed"
    );
    assert!(
        t.memberships_of(bob.uuid).await.unwrap().is_empty(),
        "an invitation is not a membership"
    );
    assert_eq!(
        t.pending_invite(&code, t0).await.unwrap(),
        Some(PendingInvite {
            org_uuid: org.uuid,
            user_uuid: bob.uuid,
            sets_password: true,
            expires_at: t0 + Duration::days(7),
        }),
        "the first invitation of a new account may set its password"
    );
    assert_eq!(t.pending_invite(&new_hash(), t0).await.unwrap(), None);

    // The invite works once.
    let accepted_at = t0 + secs(60);
    let (user, org_uuid) = t
        .accept_invite(
            &code,
            &Acceptance::SetPassword {
                password_hash: "$argon2id$bob",
                name: Some("Bob B"),
            },
            accepted_at,
            &ev(org.uuid, "member.joined"),
        )
        .await
        .unwrap();
    log.expect(&t, "member.joined").await;
    assert_eq!(org_uuid, org.uuid);
    assert_eq!(user.uuid, bob.uuid);
    assert_eq!(user.name.as_deref(), Some("Bob B"));
    let login = t.user_by_email("bob@example.com").await.unwrap().unwrap();
    assert_eq!(login.password_hash.as_deref(), Some("$argon2id$bob"));
    assert_eq!(login.user.name.as_deref(), Some("Bob B"));
    let m = t.member(org.uuid, bob.uuid).await.unwrap().unwrap();
    assert_eq!(m.membership.accepted_at, Some(accepted_at));
    assert_eq!(
        m.membership.created_at, t0,
        "acceptance keeps the creation time"
    );
    assert_eq!(m.membership.status(), MemberStatus::Active);
    assert_eq!(
        t.memberships_of(bob.uuid).await.unwrap(),
        vec![(org.clone(), m.membership.clone())]
    );
    assert_eq!(t.pending_invite(&code, t0 + secs(61)).await.unwrap(), None);
    for again in [set_password("$argon2id$again"), by_session(bob.uuid)] {
        assert_err!(
            t.accept_invite(&code, &again, t0 + secs(61), &ev(org.uuid, "member.joined"))
                .await,
            StoreError::NotFound
        );
    }
    log.expect_none(&t).await;
    assert_eq!(
        t.user_by_email("bob@example.com")
            .await
            .unwrap()
            .unwrap()
            .password_hash
            .as_deref(),
        Some("$argon2id$bob"),
        "a used invite changes nothing"
    );
    assert_err!(
        t.accept_invite(
            &new_hash(),
            &set_password("x"),
            t0,
            &ev(org.uuid, "member.joined")
        )
        .await,
        StoreError::NotFound
    );
    log.expect_none(&t).await;

    // Accepting without a name keeps the name given at invitation.
    let carol = new_user("carol@example.com");
    let carol_code = new_hash();
    t.add_member(
        &NewMember {
            org_uuid: org.uuid,
            user: MemberUser::New(carol.clone()),
            role: RoleRef::System(Role::Viewer),
            now: t0,
        },
        &NewInvite {
            code_hash: carol_code,
            created_at: t0,
            expires_at: t0 + secs(3600),
        },
        &ev(org.uuid, "member.invited"),
    )
    .await
    .unwrap();
    log.expect(&t, "member.invited").await;
    let (user, _) = t
        .accept_invite(
            &carol_code,
            &set_password("$argon2id$carol"),
            t0 + secs(10),
            &ev(org.uuid, "member.joined"),
        )
        .await
        .unwrap();
    log.expect(&t, "member.joined").await;
    assert_eq!(user.name, carol.name);

    // Expired invites (including one expiring this very second) do not work.
    let dave = new_user("dave@example.com");
    let dave_code = new_hash();
    t.add_member(
        &NewMember {
            org_uuid: org.uuid,
            user: MemberUser::New(dave.clone()),
            role: RoleRef::System(Role::Viewer),
            now: t0,
        },
        &NewInvite {
            code_hash: dave_code,
            created_at: t0 - secs(100),
            expires_at: t0 - secs(1),
        },
        &ev(org.uuid, "member.invited"),
    )
    .await
    .unwrap();
    log.expect(&t, "member.invited").await;
    for at in [t0, t0 - secs(1)] {
        assert_eq!(t.pending_invite(&dave_code, at).await.unwrap(), None);
        assert_err!(
            t.accept_invite(
                &dave_code,
                &set_password("x"),
                at,
                &ev(org.uuid, "member.joined")
            )
            .await,
            StoreError::NotFound
        );
    }
    log.expect_none(&t).await;
    assert_eq!(
        t.user_by_email("dave@example.com")
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        None
    );
    assert_eq!(
        t.member(org.uuid, dave.uuid)
            .await
            .unwrap()
            .unwrap()
            .membership
            .status(),
        MemberStatus::Invited
    );
    // ... while one second earlier it would have.
    assert!(t
        .pending_invite(&dave_code, t0 - secs(2))
        .await
        .unwrap()
        .is_some());
    let (user, _) = t
        .accept_invite(
            &dave_code,
            &set_password("$argon2id$dave"),
            t0 - secs(2),
            &ev(org.uuid, "member.joined"),
        )
        .await
        .unwrap();
    log.expect(&t, "member.joined").await;
    assert_eq!(user.uuid, dave.uuid);

    // Adding someone who is a member already, or invited already: conflict,
    // no event, and the link given is not kept.
    let (erin, erin_code) = invite_new_member(&t, org.uuid, "erin@example.com", Role::Viewer).await;
    log.expect(&t, "member.invited").await;
    for (who, role) in [(bob.uuid, Role::Admin), (erin.uuid, Role::Admin)] {
        let again = invite_at(t0);
        assert_err!(
            t.add_member(
                &NewMember {
                    org_uuid: org.uuid,
                    user: MemberUser::Existing(who),
                    role: RoleRef::System(role),
                    now: t0,
                },
                &again,
                &ev(org.uuid, "member.invited"),
            )
            .await,
            StoreError::Conflict(_)
        );
        assert_eq!(t.pending_invite(&again.code_hash, t0).await.unwrap(), None);
    }
    log.expect_none(&t).await;
    assert_eq!(
        t.member(org.uuid, bob.uuid)
            .await
            .unwrap()
            .unwrap()
            .membership
            .role,
        RoleRef::System(Role::Editor)
    );
    let erin_m = t.member(org.uuid, erin.uuid).await.unwrap().unwrap();
    assert_eq!(
        (erin_m.membership.role, erin_m.membership.status()),
        (RoleRef::System(Role::Viewer), MemberStatus::Invited)
    );
    assert!(t.pending_invite(&erin_code, now()).await.unwrap().is_some());
    // A new user with an email that is taken: conflict, no event, no invite.
    let imposter_code = new_hash();
    assert_err!(
        t.add_member(
            &NewMember {
                org_uuid: org.uuid,
                user: MemberUser::New(new_user("bob@example.com")),
                role: RoleRef::System(Role::Viewer),
                now: t0,
            },
            &NewInvite {
                code_hash: imposter_code,
                created_at: t0,
                expires_at: t0 + secs(3600),
            },
            &ev(org.uuid, "member.invited"),
        )
        .await,
        StoreError::Conflict(_)
    );
    log.expect_none(&t).await;
    assert_eq!(t.pending_invite(&imposter_code, t0).await.unwrap(), None);
    assert_err!(
        t.accept_invite(
            &imposter_code,
            &set_password("x"),
            t0,
            &ev(org.uuid, "member.joined")
        )
        .await,
        StoreError::NotFound
    );

    // An existing user of another organization is invited to this one: the
    // invitation is pending until they accept it from their own session
    // (the link may not set a password: they have one).
    let (other, zed) = new_org(&t, "other").await;
    let zed_code = new_hash();
    t.add_member(
        &NewMember {
            org_uuid: org.uuid,
            user: MemberUser::Existing(zed.uuid),
            role: RoleRef::System(Role::Developer),
            now: t0 + secs(5),
        },
        &NewInvite {
            code_hash: zed_code,
            created_at: t0 + secs(5),
            expires_at: t0 + Duration::days(1),
        },
        &ev(org.uuid, "member.invited"),
    )
    .await
    .unwrap();
    log.expect(&t, "member.invited").await;
    let m = t.member(org.uuid, zed.uuid).await.unwrap().unwrap();
    assert_eq!(m.user, zed);
    assert_eq!(m.membership.role, RoleRef::System(Role::Developer));
    assert_eq!(m.membership.status(), MemberStatus::Invited);
    let of_zed = t.memberships_of(zed.uuid).await.unwrap();
    assert_eq!(of_zed.len(), 1, "only the accepted membership: {of_zed:?}");
    assert_eq!(of_zed[0].0.uuid, other.uuid);
    assert_eq!(
        t.pending_invite(&zed_code, t0 + secs(6))
            .await
            .unwrap()
            .map(|p| (p.user_uuid, p.sets_password)),
        Some((zed.uuid, false))
    );
    // Not by a password, not by another account's session.
    for wrong in [set_password("$argon2id$hijack"), by_session(alice.uuid)] {
        assert_err!(
            t.accept_invite(
                &zed_code,
                &wrong,
                t0 + secs(6),
                &ev(org.uuid, "member.joined")
            )
            .await,
            StoreError::NotFound
        );
    }
    log.expect_none(&t).await;
    assert_eq!(
        t.user_by_email(&zed.email)
            .await
            .unwrap()
            .unwrap()
            .password_hash
            .as_deref(),
        Some("$argon2id$test")
    );
    let (user, o) = t
        .accept_invite(
            &zed_code,
            &by_session(zed.uuid),
            t0 + secs(7),
            &ev(org.uuid, "member.joined"),
        )
        .await
        .unwrap();
    log.expect(&t, "member.joined").await;
    assert_eq!((user, o), (zed.clone(), org.uuid));
    let of_zed = t.memberships_of(zed.uuid).await.unwrap();
    assert_eq!(of_zed.len(), 2);
    assert!(of_zed
        .iter()
        .any(|(o, m)| o.uuid == other.uuid && m.role == RoleRef::System(Role::Admin)));
    assert!(of_zed.iter().any(|(o, m)| o.uuid == org.uuid
        && m.role == RoleRef::System(Role::Developer)
        && m.accepted_at == Some(t0 + secs(7))));
    assert!(t.member(other.uuid, bob.uuid).await.unwrap().is_none());
    assert_eq!(t.members(org.uuid).await.unwrap().len(), 6);
}

async fn members_update(t: TestDb) {
    let (org, _alice) = new_org(&t, "acme").await;
    let bob = add_new_member(&t, org.uuid, "bob@example.com", Role::Editor).await;
    let mut log = AuditLog::start(&t, org.uuid).await;
    let role = |r| MemberChange {
        role: Some(RoleRef::System(r)),
        suspended_at: None,
    };

    t.update_member(
        org.uuid,
        bob.uuid,
        &role(Role::Developer),
        &ev(org.uuid, "member.updated"),
    )
    .await
    .unwrap();
    log.expect(&t, "member.updated").await;
    let m = t.member(org.uuid, bob.uuid).await.unwrap().unwrap();
    assert_eq!(m.membership.role, RoleRef::System(Role::Developer));
    assert_eq!(m.membership.suspended_at, None);

    let at = now() - secs(30);
    t.update_member(
        org.uuid,
        bob.uuid,
        &MemberChange {
            role: None,
            suspended_at: Some(Some(at)),
        },
        &ev(org.uuid, "member.suspended"),
    )
    .await
    .unwrap();
    log.expect(&t, "member.suspended").await;
    let m = t.member(org.uuid, bob.uuid).await.unwrap().unwrap();
    assert_eq!(m.membership.suspended_at, Some(at));
    assert_eq!(
        m.membership.role,
        RoleRef::System(Role::Developer),
        "suspending keeps the role"
    );

    t.update_member(
        org.uuid,
        bob.uuid,
        &MemberChange {
            role: None,
            suspended_at: Some(None),
        },
        &ev(org.uuid, "member.unsuspended"),
    )
    .await
    .unwrap();
    log.expect(&t, "member.unsuspended").await;
    let m = t.member(org.uuid, bob.uuid).await.unwrap().unwrap();
    assert_eq!(m.membership.suspended_at, None);

    // Both at once.
    t.update_member(
        org.uuid,
        bob.uuid,
        &MemberChange {
            role: Some(RoleRef::System(Role::Viewer)),
            suspended_at: Some(Some(at)),
        },
        &ev(org.uuid, "member.updated"),
    )
    .await
    .unwrap();
    log.expect(&t, "member.updated").await;
    let m = t.member(org.uuid, bob.uuid).await.unwrap().unwrap();
    assert_eq!(
        (m.membership.role, m.membership.suspended_at),
        (RoleRef::System(Role::Viewer), Some(at))
    );

    // Unknown member, unknown org.
    assert_err!(
        t.update_member(
            org.uuid,
            Uuid::new_v4(),
            &role(Role::Viewer),
            &ev(org.uuid, "member.updated")
        )
        .await,
        StoreError::NotFound
    );
    assert_err!(
        t.update_member(
            org.uuid,
            Uuid::new_v4(),
            &MemberChange {
                role: None,
                suspended_at: Some(None)
            },
            &ev(org.uuid, "member.updated")
        )
        .await,
        StoreError::NotFound
    );
    let ghost = Uuid::new_v4();
    assert_err!(
        t.update_member(
            ghost,
            bob.uuid,
            &role(Role::Viewer),
            &ev(ghost, "member.updated")
        )
        .await,
        StoreError::NotFound
    );
    log.expect_none(&t).await;
    assert!(all_events(&t, ghost).await.is_empty());
}

async fn members_last_admin_is_kept(t: TestDb) {
    let (org, alice) = new_org(&t, "acme").await;
    let bob = add_new_member(&t, org.uuid, "bob@example.com", Role::Editor).await;
    // Invited as an admin, not accepted yet: not an admin that counts.
    let (carol, carol_code) =
        invite_new_member(&t, org.uuid, "carol@example.com", Role::Admin).await;
    let alice_pat = pat(org.uuid, &alice, "alice laptop", now());
    let alice_hash = insert(&t, &alice_pat).await;
    let session = new_hash();
    t.create_session(&NewSession {
        id_hash: session,
        user_uuid: alice.uuid,
        org_uuid: org.uuid,
        created_at: now(),
        expires_at: now() + Duration::days(1),
    })
    .await
    .unwrap();
    let project = create_project(&t, org.uuid, "web", &alice).await;
    t.set_project_role(
        org.uuid,
        project.uuid,
        alice.uuid,
        Role::Viewer,
        now(),
        &ev(org.uuid, "project_access.granted"),
    )
    .await
    .unwrap();
    let mut log = AuditLog::start(&t, org.uuid).await;
    let before = t.member(org.uuid, alice.uuid).await.unwrap().unwrap();

    async fn unchanged(t: &TestDb, org: Uuid, before: &latchkey_store::Member) {
        assert_eq!(
            t.member(org, before.user.uuid).await.unwrap().as_ref(),
            Some(before),
            "a refused change leaves the membership as it was"
        );
    }

    // Demoting the only (accepted) admin.
    assert_err!(
        t.update_member(
            org.uuid,
            alice.uuid,
            &MemberChange {
                role: Some(RoleRef::System(Role::Editor)),
                suspended_at: None
            },
            &ev(org.uuid, "member.updated"),
        )
        .await,
        StoreError::Conflict(_)
    );
    log.expect_none(&t).await;
    unchanged(&t, org.uuid, &before).await;

    // Suspending the only admin.
    assert_err!(
        t.update_member(
            org.uuid,
            alice.uuid,
            &MemberChange {
                role: None,
                suspended_at: Some(Some(now()))
            },
            &ev(org.uuid, "member.suspended"),
        )
        .await,
        StoreError::Conflict(_)
    );
    log.expect_none(&t).await;
    unchanged(&t, org.uuid, &before).await;

    // Removing the only admin: nothing at all happens (no revoked token, no
    // deleted session or project role).
    assert_err!(
        t.remove_member(org.uuid, alice.uuid, now(), &ev(org.uuid, "member.removed"))
            .await,
        StoreError::Conflict(_)
    );
    log.expect_none(&t).await;
    unchanged(&t, org.uuid, &before).await;
    let record = found(&t, &alice_hash).await;
    assert_eq!(record.credential.revoked_at, None);
    assert!(t
        .credential(org.uuid, alice_pat.uuid)
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        t.session(&session)
            .await
            .unwrap()
            .map(|s| (s.revoked_at, s.membership.is_some())),
        Some((None, true))
    );
    assert_eq!(
        t.project_role(project.uuid, alice.uuid).await.unwrap(),
        Some(Role::Viewer)
    );

    // With a second active admin, the first may step down ...
    t.update_member(
        org.uuid,
        bob.uuid,
        &MemberChange {
            role: Some(RoleRef::System(Role::Admin)),
            suspended_at: None,
        },
        &ev(org.uuid, "member.updated"),
    )
    .await
    .unwrap();
    log.expect(&t, "member.updated").await;
    t.update_member(
        org.uuid,
        alice.uuid,
        &MemberChange {
            role: Some(RoleRef::System(Role::Developer)),
            suspended_at: None,
        },
        &ev(org.uuid, "member.updated"),
    )
    .await
    .unwrap();
    log.expect(&t, "member.updated").await;
    // ... and then the second is the last one.
    assert_err!(
        t.update_member(
            org.uuid,
            bob.uuid,
            &MemberChange {
                role: None,
                suspended_at: Some(Some(now()))
            },
            &ev(org.uuid, "member.suspended"),
        )
        .await,
        StoreError::Conflict(_)
    );
    log.expect_none(&t).await;

    // A suspended admin does not count as an active one.
    t.update_member(
        org.uuid,
        alice.uuid,
        &MemberChange {
            role: Some(RoleRef::System(Role::Admin)),
            suspended_at: None,
        },
        &ev(org.uuid, "member.updated"),
    )
    .await
    .unwrap();
    log.expect(&t, "member.updated").await;
    t.update_member(
        org.uuid,
        bob.uuid,
        &MemberChange {
            role: None,
            suspended_at: Some(Some(now())),
        },
        &ev(org.uuid, "member.suspended"),
    )
    .await
    .unwrap();
    log.expect(&t, "member.suspended").await;
    assert_err!(
        t.update_member(
            org.uuid,
            alice.uuid,
            &MemberChange {
                role: Some(RoleRef::System(Role::Viewer)),
                suspended_at: None
            },
            &ev(org.uuid, "member.updated"),
        )
        .await,
        StoreError::Conflict(_)
    );
    assert_err!(
        t.remove_member(org.uuid, alice.uuid, now(), &ev(org.uuid, "member.removed"))
            .await,
        StoreError::Conflict(_)
    );
    log.expect_none(&t).await;
    assert_eq!(
        t.member(org.uuid, alice.uuid)
            .await
            .unwrap()
            .unwrap()
            .membership
            .role,
        RoleRef::System(Role::Admin)
    );

    // Removing the suspended admin is fine: alice remains.
    t.remove_member(org.uuid, bob.uuid, now(), &ev(org.uuid, "member.removed"))
        .await
        .unwrap();
    log.expect(&t, "member.removed").await;
    assert_eq!(t.members(org.uuid).await.unwrap().len(), 2);

    // Once the invited admin accepts, alice may step down.
    accept(&t, &carol_code, &set_password("$argon2id$carol")).await;
    log.expect(&t, "member.joined").await;
    t.update_member(
        org.uuid,
        alice.uuid,
        &MemberChange {
            role: Some(RoleRef::System(Role::Viewer)),
            suspended_at: None,
        },
        &ev(org.uuid, "member.updated"),
    )
    .await
    .unwrap();
    log.expect(&t, "member.updated").await;
    let carol = t.member(org.uuid, carol.uuid).await.unwrap().unwrap();
    assert_eq!(
        (carol.membership.role, carol.membership.status()),
        (RoleRef::System(Role::Admin), MemberStatus::Active)
    );
}

async fn members_remove_cleans_up(t: TestDb) {
    let (a, alice) = new_org(&t, "acme").await;
    let (b, zed) = new_org(&t, "bravo").await;
    let t0 = now();

    // bob: invited to A (not yet accepted), member of B too.
    let bob = new_user("bob@example.com");
    let bob_code = new_hash();
    t.add_member(
        &NewMember {
            org_uuid: a.uuid,
            user: MemberUser::New(bob.clone()),
            role: RoleRef::System(Role::Developer),
            now: t0,
        },
        &NewInvite {
            code_hash: bob_code,
            created_at: t0,
            expires_at: t0 + Duration::days(7),
        },
        &ev(a.uuid, "member.invited"),
    )
    .await
    .unwrap();
    add_existing_member(&t, b.uuid, bob.uuid, Role::Viewer).await;
    assert!(t.pending_invite(&bob_code, t0).await.unwrap().is_some());

    let a1 = pat(a.uuid, &bob, "a1", t0);
    let a2 = pat(a.uuid, &bob, "a2", t0 - secs(1));
    let b1 = pat(b.uuid, &bob, "b1", t0);
    let alice_pat = pat(a.uuid, &alice, "alice", t0);
    let key = org_credential(CredentialKind::ApiKey, a.uuid, &bob, Role::Viewer);
    let (h_a1, h_a2, h_b1, h_alice, h_key) = (
        insert(&t, &a1).await,
        insert(&t, &a2).await,
        insert(&t, &b1).await,
        insert(&t, &alice_pat).await,
        insert(&t, &key).await,
    );

    let pa = create_project(&t, a.uuid, "web", &alice).await;
    let pb = create_project(&t, b.uuid, "web", &zed).await;
    for (org, project, user, role) in [
        (a.uuid, pa.uuid, bob.uuid, Role::Editor),
        (a.uuid, pa.uuid, alice.uuid, Role::Viewer),
        (b.uuid, pb.uuid, bob.uuid, Role::Admin),
    ] {
        t.set_project_role(
            org,
            project,
            user,
            role,
            t0,
            &ev(org, "project_access.granted"),
        )
        .await
        .unwrap();
    }

    let session = |user: Uuid, org: Uuid| NewSession {
        id_hash: new_hash(),
        user_uuid: user,
        org_uuid: org,
        created_at: t0,
        expires_at: t0 + Duration::days(1),
    };
    let (s_bob_a, s_bob_b, s_alice_a) = (
        session(bob.uuid, a.uuid),
        session(bob.uuid, b.uuid),
        session(alice.uuid, a.uuid),
    );
    for s in [&s_bob_a, &s_bob_b, &s_alice_a] {
        t.create_session(s).await.unwrap();
    }
    // Invited to A only: nothing there gives him a membership yet.
    assert!(found(&t, &h_a1).await.membership.is_none());
    assert!(t
        .session(&s_bob_a.id_hash)
        .await
        .unwrap()
        .unwrap()
        .membership
        .is_none());
    assert!(t
        .session(&s_bob_b.id_hash)
        .await
        .unwrap()
        .unwrap()
        .membership
        .is_some());

    let mut log_a = AuditLog::start(&t, a.uuid).await;
    let log_b = AuditLog::start(&t, b.uuid).await;
    let removed_at = t0 + secs(10);
    t.remove_member(a.uuid, bob.uuid, removed_at, &ev(a.uuid, "member.removed"))
        .await
        .unwrap();
    log_a.expect(&t, "member.removed").await;
    log_b.expect_none(&t).await;

    // The membership is gone; the user and their other membership remain.
    assert!(t.member(a.uuid, bob.uuid).await.unwrap().is_none());
    assert_eq!(
        t.member(b.uuid, bob.uuid)
            .await
            .unwrap()
            .unwrap()
            .membership
            .role,
        RoleRef::System(Role::Viewer)
    );
    assert!(t.user_by_email("bob@example.com").await.unwrap().is_some());
    assert_eq!(t.members(a.uuid).await.unwrap().len(), 1);

    // Bob's PATs in A are revoked at the removal time; the one in B is not.
    for (c, h) in [(&a1, &h_a1), (&a2, &h_a2)] {
        let r = found(&t, h).await;
        assert_eq!(r.credential.revoked_at, Some(removed_at), "{}", c.name);
        assert_eq!(r.membership, None);
        assert!(t.credential(a.uuid, c.uuid).await.unwrap().is_none());
    }
    assert!(t.pats_of(a.uuid, bob.uuid).await.unwrap().is_empty());
    let r = found(&t, &h_b1).await;
    assert_eq!(r.credential.revoked_at, None);
    assert_eq!(
        r.membership.map(|m| m.role),
        Some(RoleRef::System(Role::Viewer))
    );
    assert_eq!(t.pats_of(b.uuid, bob.uuid).await.unwrap(), vec![b1.clone()]);
    // Others' tokens, and organization keys bob created, stay.
    assert_eq!(found(&t, &h_alice).await.credential.revoked_at, None);
    assert_eq!(found(&t, &h_key).await.credential.revoked_at, None);
    assert!(t.credential(a.uuid, key.uuid).await.unwrap().is_some());

    // Project roles in A are gone, in B kept.
    assert!(t
        .project_roles_of(a.uuid, bob.uuid)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(t.project_role(pa.uuid, bob.uuid).await.unwrap(), None);
    let access = t.project_access(pa.uuid).await.unwrap();
    assert_eq!(access.len(), 1);
    assert_eq!(
        (access[0].user.uuid, access[0].role),
        (alice.uuid, RoleRef::System(Role::Viewer))
    );
    assert_eq!(
        t.project_roles_of(b.uuid, bob.uuid).await.unwrap(),
        vec![(pb.uuid, Role::Admin)]
    );
    assert_eq!(
        t.count(
            "SELECT COUNT(*) FROM project_roles WHERE user_uuid = $1",
            bob.uuid
        )
        .await,
        1
    );

    // Sessions in A are ended (kept, revoked at the removal time), in B
    // not; other users' sessions untouched.
    let ended = t.session(&s_bob_a.id_hash).await.unwrap().unwrap();
    assert_eq!(ended.revoked_at, Some(removed_at));
    assert_eq!(ended.membership, None);
    let kept = t.session(&s_bob_b.id_hash).await.unwrap().unwrap();
    assert_eq!((kept.revoked_at, kept.membership.is_some()), (None, true));
    assert_eq!(
        t.session(&s_alice_a.id_hash)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        None
    );
    assert_eq!(
        t.count(
            "SELECT COUNT(*) FROM sessions WHERE user_uuid = $1",
            bob.uuid
        )
        .await,
        2,
        "a removal deletes no session row"
    );

    // The pending invite to A no longer works.
    assert_eq!(t.pending_invite(&bob_code, t0).await.unwrap(), None);
    assert_err!(
        t.accept_invite(
            &bob_code,
            &set_password("x"),
            t0 + secs(20),
            &ev(a.uuid, "member.joined")
        )
        .await,
        StoreError::NotFound
    );
    log_a.expect_none(&t).await;
    assert_eq!(
        t.user_by_email("bob@example.com")
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        None
    );

    // Removing again: not found, no event.
    assert_err!(
        t.remove_member(a.uuid, bob.uuid, now(), &ev(a.uuid, "member.removed"))
            .await,
        StoreError::NotFound
    );
    log_a.expect_none(&t).await;

    // Invited again and accepted: a new membership, which brings back
    // neither the ended session nor the revoked tokens.
    add_existing_member(&t, a.uuid, bob.uuid, Role::Viewer).await;
    log_a
        .expect_all(&t, &["member.invited", "member.joined"])
        .await;
    let again = t.session(&s_bob_a.id_hash).await.unwrap().unwrap();
    assert_eq!(again.revoked_at, Some(removed_at), "still ended");
    assert_eq!(
        again.membership.map(|m| m.role),
        Some(RoleRef::System(Role::Viewer))
    );
    for h in [&h_a1, &h_a2] {
        assert_eq!(found(&t, h).await.credential.revoked_at, Some(removed_at));
    }
    assert!(t.project_role(pa.uuid, bob.uuid).await.unwrap().is_none());
}

/// Two admins demoting (or removing) each other at once: the organization
/// must still have an active admin afterwards, whatever the interleaving.
async fn members_concurrent_admin_changes(t: TestDb) {
    for round in 0..6 {
        let (org, alice) = new_org(&t, &format!("race-{round}")).await;
        let bob = add_new_member(
            &t,
            org.uuid,
            &format!("bob{round}@example.com"),
            Role::Admin,
        )
        .await;
        let mut log = AuditLog::start(&t, org.uuid).await;
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let tasks: Vec<_> = [alice.uuid, bob.uuid]
            .into_iter()
            .enumerate()
            .map(|(i, user)| {
                let store = t.store.clone();
                let barrier = barrier.clone();
                let org = org.uuid;
                tokio::spawn(async move {
                    barrier.wait().await;
                    match (round + i) % 3 {
                        0 => {
                            store
                                .update_member(
                                    org,
                                    user,
                                    &MemberChange {
                                        role: Some(RoleRef::System(Role::Viewer)),
                                        suspended_at: None,
                                    },
                                    &ev(org, "member.updated"),
                                )
                                .await
                        }
                        1 => {
                            store
                                .update_member(
                                    org,
                                    user,
                                    &MemberChange {
                                        role: None,
                                        suspended_at: Some(Some(now())),
                                    },
                                    &ev(org, "member.updated"),
                                )
                                .await
                        }
                        _ => {
                            store
                                .remove_member(org, user, now(), &ev(org, "member.updated"))
                                .await
                        }
                    }
                })
            })
            .collect();
        let mut ok = 0;
        for task in tasks {
            match task.await.expect("task") {
                Ok(()) => ok += 1,
                Err(StoreError::Conflict(_)) => {}
                Err(e) => panic!("round {round}: unexpected error {e:?}"),
            }
        }
        assert_eq!(ok, 1, "round {round}: exactly one of the two changes wins");
        log.expect(&t, "member.updated").await;
        let active_admins = t
            .members(org.uuid)
            .await
            .unwrap()
            .into_iter()
            .filter(|m| {
                m.membership.role == RoleRef::System(Role::Admin)
                    && m.membership.status() == MemberStatus::Active
            })
            .count();
        assert_eq!(active_admins, 1, "round {round}");
    }
}

/// An invite code raced by several requests is used exactly once.
async fn members_concurrent_invite_accept(t: TestDb) {
    const TASKS: usize = 8;
    let (org, _) = new_org(&t, "acme").await;
    let t0 = now();
    let code = new_hash();
    let bob = new_user("bob@example.com");
    t.add_member(
        &NewMember {
            org_uuid: org.uuid,
            user: MemberUser::New(bob.clone()),
            role: RoleRef::System(Role::Viewer),
            now: t0,
        },
        &NewInvite {
            code_hash: code,
            created_at: t0,
            expires_at: t0 + Duration::days(1),
        },
        &ev(org.uuid, "member.invited"),
    )
    .await
    .unwrap();
    let mut log = AuditLog::start(&t, org.uuid).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let store = t.store.clone();
            let barrier = barrier.clone();
            let audit = ev(org.uuid, "member.joined");
            tokio::spawn(async move {
                barrier.wait().await;
                let password = format!("$argon2id${i}");
                let result = store
                    .accept_invite(&code, &set_password(&password), t0, &audit)
                    .await;
                (password, result)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.expect("task") {
            (password, Ok((user, o))) => {
                assert_eq!((user.uuid, o), (bob.uuid, org.uuid));
                winners.push(password);
            }
            (_, Err(StoreError::NotFound)) => {}
            (_, Err(e)) => panic!("a racing accept failed instead of losing: {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one accept wins");
    assert_eq!(
        t.user_by_email("bob@example.com")
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        Some(winners.remove(0)),
        "the winner's password is the one kept"
    );
    log.expect(&t, "member.joined").await;
    assert_eq!(
        t.member(org.uuid, bob.uuid)
            .await
            .unwrap()
            .unwrap()
            .membership
            .accepted_at,
        Some(t0)
    );
}

// ---- sessions ----------------------------------------------------------------------

/// A session is cached like a token, so it comes with everything a token's
/// owner does: the custom role's scopes and the project roles.
async fn sessions_carry_what_the_member_holds(t: TestDb) {
    let (a, alice) = new_org(&t, "acme").await;
    let bob = add_new_member(&t, a.uuid, "bob@example.com", Role::Member).await;
    let id = new_session(&t, bob.uuid, a.uuid).await;
    let s = t.session(&id).await.unwrap().unwrap();
    assert_eq!((s.custom_role, s.project_roles), (None, vec![]));

    let role = create_custom_role(&t, a.uuid, "Auditor", &["audit:read"], &alice).await;
    t.update_member(
        a.uuid,
        bob.uuid,
        &MemberChange {
            role: Some(RoleRef::Custom(role.uuid)),
            suspended_at: None,
        },
        &ev(a.uuid, "member.role_changed"),
    )
    .await
    .unwrap();
    let project = create_project(&t, a.uuid, "website", &alice).await;
    t.set_project_role(
        a.uuid,
        project.uuid,
        bob.uuid,
        Role::Developer,
        now(),
        &ev(a.uuid, "project_access.granted"),
    )
    .await
    .unwrap();
    let s = t.session(&id).await.unwrap().unwrap();
    assert_eq!(
        s.custom_role,
        Some((
            role.uuid,
            "Auditor".to_string(),
            vec!["audit:read".to_string()]
        ))
    );
    assert_eq!(
        s.project_roles,
        vec![MemberProjectRole {
            project_uuid: project.uuid,
            role: Role::Developer,
            custom_role: None,
        }]
    );
}

/// Every change to a session reaches the change hook with the organizations
/// whose caches may hold it: ended, moved, or ended by a new password in
/// another organization. (Other replicas hear the same, checked end to end
/// in the replica tests.)
async fn session_changes_tell_the_caches(t: TestDb) {
    use std::sync::Mutex;
    let (a, alice) = new_org(&t, "acme").await;
    let b = org_founded_by(&t, "bravo", alice.uuid).await;
    let hooked = Arc::new(Mutex::new(Vec::new()));
    let mut store = t.store.clone();
    let into_hook = hooked.clone();
    store.set_change_hook(Arc::new(move |org| into_hook.lock().unwrap().push(org)));
    let heard = || std::mem::take(&mut *hooked.lock().unwrap());

    let id = new_session(&t, alice.uuid, a.uuid).await;
    store.set_session_org(&id, b.uuid).await.unwrap();
    assert_eq!(heard(), vec![a.uuid, b.uuid], "moved: both organizations");
    store.delete_session(&id).await.unwrap();
    assert_eq!(heard(), vec![b.uuid], "ended: its organization");
    store.delete_session(&id).await.unwrap();
    assert_eq!(
        heard(),
        Vec::<Uuid>::new(),
        "nothing to end, nothing to tell"
    );

    // A new password ends the account's sessions in every organization.
    let (x, code) = invite_new_member(&t, a.uuid, "x@example.com", Role::Viewer).await;
    // (A session names its organization; the store does not ask why.)
    new_session(&t, x.uuid, b.uuid).await;
    heard();
    store
        .accept_invite(
            &code,
            &Acceptance::SetPassword {
                password_hash: "$argon2id$x",
                name: None,
            },
            now(),
            &ev(a.uuid, "member.joined"),
        )
        .await
        .unwrap();
    assert_eq!(heard(), vec![a.uuid, b.uuid]);
}

async fn sessions_lifecycle(t: TestDb) {
    let (a, alice) = new_org(&t, "acme").await;
    let b = org_founded_by(&t, "bravo", alice.uuid).await;
    let (c, _) = new_org(&t, "charlie").await;
    let t0 = now();
    let log = AuditLog::start(&t, a.uuid).await;

    let id = new_hash();
    t.create_session(&NewSession {
        id_hash: id,
        user_uuid: alice.uuid,
        org_uuid: a.uuid,
        created_at: t0,
        expires_at: t0 + Duration::hours(12),
    })
    .await
    .unwrap();
    let s = t.session(&id).await.unwrap().unwrap();
    assert_eq!(s.id_hash, id);
    assert_eq!(s.user, alice);
    assert_eq!(s.org, a);
    assert_eq!(s.expires_at, t0 + Duration::hours(12));
    let m = s.membership.expect("alice is a member of A");
    assert_eq!(
        (m.org_uuid, m.user_uuid, m.role),
        (a.uuid, alice.uuid, RoleRef::System(Role::Admin))
    );
    assert!(t.session(&new_hash()).await.unwrap().is_none());

    // Switching organization.
    t.set_session_org(&id, b.uuid).await.unwrap();
    let s = t.session(&id).await.unwrap().unwrap();
    assert_eq!(s.org, b);
    assert_eq!(s.membership.map(|m| m.org_uuid), Some(b.uuid));
    assert_err!(
        t.set_session_org(&new_hash(), a.uuid).await,
        StoreError::NotFound
    );

    // A session pointing at an organization the user does not belong to
    // resolves with no membership.
    t.set_session_org(&id, c.uuid).await.unwrap();
    let s = t.session(&id).await.unwrap().unwrap();
    assert_eq!(s.org, c);
    assert!(s.membership.is_none());

    t.delete_session(&id).await.unwrap();
    assert!(t.session(&id).await.unwrap().is_none());
    t.delete_session(&id).await.unwrap();

    // After a user is removed from an organization, their session there is
    // ended (kept, with the removal time), and one that still names it
    // (created concurrently with the removal) carries no membership.
    let bob = add_new_member(&t, a.uuid, "bob@example.com", Role::Editor).await;
    let bob_session = NewSession {
        id_hash: new_hash(),
        user_uuid: bob.uuid,
        org_uuid: a.uuid,
        created_at: t0,
        expires_at: t0 + Duration::hours(1),
    };
    t.create_session(&bob_session).await.unwrap();
    assert_eq!(
        t.session(&bob_session.id_hash)
            .await
            .unwrap()
            .unwrap()
            .membership
            .map(|m| m.role),
        Some(RoleRef::System(Role::Editor))
    );
    assert_eq!(
        t.session(&bob_session.id_hash)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        None
    );
    let removed_at = now();
    t.remove_member(a.uuid, bob.uuid, removed_at, &ev(a.uuid, "member.removed"))
        .await
        .unwrap();
    let ended = t.session(&bob_session.id_hash).await.unwrap().unwrap();
    assert_eq!(ended.revoked_at, Some(removed_at));
    assert!(ended.membership.is_none());
    assert_eq!(ended.user.uuid, bob.uuid);
    let late = NewSession {
        id_hash: new_hash(),
        ..bob_session
    };
    t.create_session(&late).await.unwrap();
    let s = t.session(&late.id_hash).await.unwrap().unwrap();
    assert_eq!(s.user.uuid, bob.uuid);
    assert!(s.membership.is_none());
    assert_eq!(s.revoked_at, None);
    // Deleting an ended session deletes it.
    t.delete_session(&bob_session.id_hash).await.unwrap();
    assert!(t.session(&bob_session.id_hash).await.unwrap().is_none());

    // Sessions are not audited: only the three member events above
    // (invited, joined, removed).
    let events = all_events(&t, a.uuid).await;
    assert_eq!(events.len(), log.seen + 3);
}

// ---- projects ------------------------------------------------------------------------

async fn projects_lifecycle(t: TestDb) {
    let (a, alice) = new_org(&t, "acme").await;
    let (b, zed) = new_org(&t, "bravo").await;
    let mut log = AuditLog::start(&t, a.uuid).await;

    let web = new_project(a.uuid, "web", &alice);
    t.create_project(&web, &ev(a.uuid, "project.created"))
        .await
        .unwrap();
    log.expect(&t, "project.created").await;
    assert_eq!(
        t.project(a.uuid, web.uuid).await.unwrap(),
        Some(web.clone())
    );

    // Names are unique within an organization only.
    assert_err!(
        t.create_project(
            &new_project(a.uuid, "web", &alice),
            &ev(a.uuid, "project.created")
        )
        .await,
        StoreError::Conflict(_)
    );
    log.expect_none(&t).await;
    let b_web = new_project(b.uuid, "web", &zed);
    t.create_project(&b_web, &ev(b.uuid, "project.created"))
        .await
        .unwrap();

    // Scoped by organization.
    assert_eq!(t.project(b.uuid, web.uuid).await.unwrap(), None);
    assert_eq!(t.project(a.uuid, b_web.uuid).await.unwrap(), None);
    assert_eq!(t.project(a.uuid, Uuid::new_v4()).await.unwrap(), None);

    let api = create_project(&t, a.uuid, "api", &alice).await;
    log.expect(&t, "project.created").await;
    assert_eq!(
        t.projects(a.uuid).await.unwrap(),
        vec![api.clone(), web.clone()],
        "projects are listed by name"
    );
    assert_eq!(t.projects(b.uuid).await.unwrap(), vec![b_web.clone()]);

    // Rename.
    let bob = add_new_member(&t, a.uuid, "bob@example.com", Role::Admin).await;
    log.expect_all(&t, &["member.invited", "member.joined"])
        .await;
    let later = now() + secs(90);
    let bob_actor = Actor {
        kind: ActorKind::ApiKey,
        uuid: Uuid::new_v4(),
        name: "ci key".to_string(),
    };
    t.rename_project(
        a.uuid,
        web.uuid,
        "site",
        &bob_actor,
        later,
        &ev(a.uuid, "project.updated"),
    )
    .await
    .unwrap();
    log.expect(&t, "project.updated").await;
    let renamed = t.project(a.uuid, web.uuid).await.unwrap().unwrap();
    assert_eq!(
        renamed,
        Project {
            name: "site".to_string(),
            updated_at: later,
            updated_by: bob_actor.clone(),
            ..web.clone()
        },
        "rename keeps created_* and sets updated_*"
    );
    assert_eq!(renamed.created_by, actor(&alice));
    // To a taken name; unknown project; another organization's project.
    assert_err!(
        t.rename_project(
            a.uuid,
            web.uuid,
            "api",
            &actor(&bob),
            later,
            &ev(a.uuid, "project.updated")
        )
        .await,
        StoreError::Conflict(_)
    );
    assert_err!(
        t.rename_project(
            a.uuid,
            Uuid::new_v4(),
            "x",
            &actor(&bob),
            later,
            &ev(a.uuid, "project.updated")
        )
        .await,
        StoreError::NotFound
    );
    assert_err!(
        t.rename_project(
            a.uuid,
            b_web.uuid,
            "stolen",
            &actor(&bob),
            later,
            &ev(a.uuid, "project.updated")
        )
        .await,
        StoreError::NotFound
    );
    log.expect_none(&t).await;
    assert_eq!(
        t.project(b.uuid, b_web.uuid).await.unwrap(),
        Some(b_web.clone())
    );
    // The old name is free again.
    create_project(&t, a.uuid, "web", &alice).await;
    log.expect(&t, "project.created").await;

    // Delete cascades to project roles.
    t.set_project_role(
        a.uuid,
        web.uuid,
        bob.uuid,
        Role::Editor,
        now(),
        &ev(a.uuid, "project_access.granted"),
    )
    .await
    .unwrap();
    t.set_project_role(
        a.uuid,
        api.uuid,
        bob.uuid,
        Role::Viewer,
        now(),
        &ev(a.uuid, "project_access.granted"),
    )
    .await
    .unwrap();
    log.seen += 1;
    log.expect(&t, "project_access.granted").await;
    assert_err!(
        t.delete_project(b.uuid, web.uuid, &ev(b.uuid, "project.deleted"))
            .await,
        StoreError::NotFound
    );
    t.delete_project(a.uuid, web.uuid, &ev(a.uuid, "project.deleted"))
        .await
        .unwrap();
    log.expect(&t, "project.deleted").await;
    assert_eq!(t.project(a.uuid, web.uuid).await.unwrap(), None);
    assert_eq!(t.project_role(web.uuid, bob.uuid).await.unwrap(), None);
    assert!(t.project_access(web.uuid).await.unwrap().is_empty());
    assert_eq!(
        t.project_roles_of(a.uuid, bob.uuid).await.unwrap(),
        vec![(api.uuid, Role::Viewer)]
    );
    assert_eq!(
        t.count(
            "SELECT COUNT(*) FROM project_roles WHERE project_uuid = $1",
            web.uuid
        )
        .await,
        0
    );
    assert_err!(
        t.delete_project(a.uuid, web.uuid, &ev(a.uuid, "project.deleted"))
            .await,
        StoreError::NotFound
    );
    log.expect_none(&t).await;
}

async fn project_roles(t: TestDb) {
    let (a, alice) = new_org(&t, "acme").await;
    let bob = add_new_member(&t, a.uuid, "bob@example.com", Role::Member).await;
    let carol = add_new_member(&t, a.uuid, "carol@example.com", Role::Member).await;
    let web = create_project(&t, a.uuid, "web", &alice).await;
    let api = create_project(&t, a.uuid, "api", &alice).await;
    let mut log = AuditLog::start(&t, a.uuid).await;

    assert_eq!(t.project_role(web.uuid, bob.uuid).await.unwrap(), None);
    assert!(t
        .project_roles_of(a.uuid, bob.uuid)
        .await
        .unwrap()
        .is_empty());

    t.set_project_role(
        a.uuid,
        web.uuid,
        bob.uuid,
        Role::Viewer,
        now(),
        &ev(a.uuid, "project_access.granted"),
    )
    .await
    .unwrap();
    log.expect(&t, "project_access.granted").await;
    assert_eq!(
        t.project_role(web.uuid, bob.uuid).await.unwrap(),
        Some(Role::Viewer)
    );
    // Upsert: setting again replaces the role, still one grant.
    t.set_project_role(
        a.uuid,
        web.uuid,
        bob.uuid,
        Role::Developer,
        now(),
        &ev(a.uuid, "project_access.granted"),
    )
    .await
    .unwrap();
    log.expect(&t, "project_access.granted").await;
    assert_eq!(
        t.project_role(web.uuid, bob.uuid).await.unwrap(),
        Some(Role::Developer)
    );
    t.set_project_role(
        a.uuid,
        web.uuid,
        carol.uuid,
        Role::Editor,
        now(),
        &ev(a.uuid, "project_access.granted"),
    )
    .await
    .unwrap();
    log.expect(&t, "project_access.granted").await;
    t.set_project_role(
        a.uuid,
        api.uuid,
        bob.uuid,
        Role::Admin,
        now(),
        &ev(a.uuid, "project_access.granted"),
    )
    .await
    .unwrap();
    log.expect(&t, "project_access.granted").await;

    let access = t.project_access(web.uuid).await.unwrap();
    let grants: Vec<(String, Role)> = access
        .iter()
        .map(|g| (g.user.email.clone(), g.role.base_role()))
        .collect();
    assert_eq!(
        grants,
        vec![
            ("bob@example.com".to_string(), Role::Developer),
            ("carol@example.com".to_string(), Role::Editor),
        ],
        "one grant per user, by email"
    );
    assert_eq!(access[0].user, bob);
    let mut of_bob = t.project_roles_of(a.uuid, bob.uuid).await.unwrap();
    of_bob.sort_by_key(|(p, _)| *p);
    let mut want = vec![(web.uuid, Role::Developer), (api.uuid, Role::Admin)];
    want.sort_by_key(|(p, _)| *p);
    assert_eq!(of_bob, want);

    // Remove.
    t.remove_project_role(web.uuid, bob.uuid, &ev(a.uuid, "project_access.revoked"))
        .await
        .unwrap();
    log.expect(&t, "project_access.revoked").await;
    assert_eq!(t.project_role(web.uuid, bob.uuid).await.unwrap(), None);
    assert_eq!(
        t.project_role(api.uuid, bob.uuid).await.unwrap(),
        Some(Role::Admin)
    );
    assert_err!(
        t.remove_project_role(web.uuid, bob.uuid, &ev(a.uuid, "project_access.revoked"))
            .await,
        StoreError::NotFound
    );
    assert_err!(
        t.remove_project_role(
            Uuid::new_v4(),
            carol.uuid,
            &ev(a.uuid, "project_access.revoked")
        )
        .await,
        StoreError::NotFound
    );
    log.expect_none(&t).await;
    assert_eq!(t.project_access(web.uuid).await.unwrap().len(), 1);
}

// ---- credentials ---------------------------------------------------------------------

async fn credentials_authenticate(t: TestDb) {
    let (a, alice) = new_org(&t, "acme").await;
    let (b, _zed) = new_org(&t, "bravo").await;
    let bob = add_new_member(&t, a.uuid, "bob@example.com", Role::Editor).await;
    let mut log = AuditLog::start(&t, a.uuid).await;
    let t0 = now();

    let bob_pat = Credential {
        scopes: Some(vec![
            "projects:read".to_string(),
            "content:write".to_string(),
        ]),
        ..pat(a.uuid, &bob, "bob laptop", t0)
    };
    let hash = new_hash();
    let created = AuditEvent {
        actor: Some(actor(&bob)),
        target: Some(target("pat", bob_pat.uuid, "bob laptop")),
        ..ev(a.uuid, "pat.created")
    };
    t.insert_credential(&bob_pat, &hash, &created)
        .await
        .unwrap();
    let e = log.expect(&t, "pat.created").await;
    assert_eq!(e.target, created.target);

    let r = found(&t, &hash).await;
    assert_eq!(r.credential, bob_pat);
    assert_eq!(r.token_hash, hash);
    assert_eq!(r.org, a);
    assert_eq!(r.owner, Some(bob.clone()));
    let m = r.membership.expect("bob's membership");
    assert_eq!(
        (m.org_uuid, m.user_uuid, m.role),
        (a.uuid, bob.uuid, RoleRef::System(Role::Editor))
    );
    assert_eq!(m.suspended_at, None);
    assert_eq!(r.owner_projects, vec![], "no project role yet");

    // The owner's project roles come with the token, as of the lookup.
    let project = create_project(&t, a.uuid, "website", &alice).await;
    log.expect(&t, "project.created").await;
    t.set_project_role(
        a.uuid,
        project.uuid,
        bob.uuid,
        Role::Admin,
        t0,
        &ev(a.uuid, "project_access.granted"),
    )
    .await
    .unwrap();
    log.expect(&t, "project_access.granted").await;
    let roles = found(&t, &hash).await.owner_projects;
    assert_eq!(roles.len(), 1);
    assert_eq!(
        (roles[0].project_uuid, roles[0].role, &roles[0].custom_role),
        (project.uuid, Role::Admin, &None)
    );

    // The membership is read live: suspension shows on the next lookup.
    let at = now();
    t.update_member(
        a.uuid,
        bob.uuid,
        &MemberChange {
            role: None,
            suspended_at: Some(Some(at)),
        },
        &ev(a.uuid, "member.suspended"),
    )
    .await
    .unwrap();
    log.expect(&t, "member.suspended").await;
    assert_eq!(
        found(&t, &hash).await.membership.unwrap().suspended_at,
        Some(at)
    );

    // Organization-owned kinds have no owner and no membership.
    let key = org_credential(CredentialKind::ApiKey, a.uuid, &alice, Role::Viewer);
    let key_hash = insert(&t, &key).await;
    log.expect(&t, "pat.created").await;
    let svc = Credential {
        display_prefix: "lksvc_xyz789".to_string(),
        expires_at: Some(t0 + Duration::days(90)),
        ..org_credential(
            CredentialKind::ServiceAccount,
            a.uuid,
            &alice,
            Role::Developer,
        )
    };
    let svc_hash = insert(&t, &svc).await;
    log.expect(&t, "pat.created").await;
    for (c, h) in [(&key, &key_hash), (&svc, &svc_hash)] {
        let r = found(&t, h).await;
        assert_eq!(&r.credential, c);
        assert_eq!(r.org, a);
        assert_eq!(r.owner, None);
        assert_eq!(r.membership, None);
    }

    // Unknown secrets.
    assert!(matches!(
        t.authenticate(&new_hash()).await.unwrap(),
        TokenLookup::Unknown
    ));

    // The same secret twice: conflict, no event.
    assert_err!(
        t.insert_credential(
            &pat(a.uuid, &alice, "dup", t0),
            &hash,
            &ev(a.uuid, "pat.created")
        )
        .await,
        StoreError::Conflict(_)
    );
    log.expect_none(&t).await;

    // credential() is scoped by organization.
    assert_eq!(
        t.credential(a.uuid, bob_pat.uuid).await.unwrap(),
        Some(bob_pat.clone())
    );
    assert_eq!(t.credential(b.uuid, bob_pat.uuid).await.unwrap(), None);
    assert_eq!(t.credential(a.uuid, Uuid::new_v4()).await.unwrap(), None);
    assert_eq!(
        t.credential(a.uuid, key.uuid).await.unwrap(),
        Some(key.clone())
    );

    // pats_of: only this owner's PATs in this org, newest first.
    let older = pat(a.uuid, &bob, "older", t0 - secs(100));
    insert(&t, &older).await;
    let other_org = pat(b.uuid, &bob, "elsewhere", t0);
    insert(&t, &other_org).await;
    insert(&t, &pat(a.uuid, &alice, "alice's", t0)).await;
    let names: Vec<String> = t
        .pats_of(a.uuid, bob.uuid)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, vec!["bob laptop", "older"]);
    assert_eq!(t.pats_of(b.uuid, bob.uuid).await.unwrap(), vec![other_org]);
    assert!(t.pats_of(a.uuid, Uuid::new_v4()).await.unwrap().is_empty());
}

async fn credentials_org_pats_paging(t: TestDb) {
    let (a, alice) = new_org(&t, "acme").await;
    let (b, zed) = new_org(&t, "bravo").await;
    let bob = add_new_member(&t, a.uuid, "bob@example.com", Role::Viewer).await;
    let t0 = now();

    // Five live PATs, two pairs sharing a creation second.
    let mut live = Vec::new();
    for (i, (owner, dt)) in [(&alice, 0), (&bob, 0), (&alice, -1), (&bob, -1), (&bob, -2)]
        .into_iter()
        .enumerate()
    {
        let c = pat(a.uuid, owner, &format!("pat {i}"), t0 + secs(dt));
        insert(&t, &c).await;
        live.push((c, owner.clone()));
    }
    // Not listed: revoked, not a PAT, another organization.
    let revoked = pat(a.uuid, &alice, "revoked", t0 - secs(5));
    insert(&t, &revoked).await;
    t.revoke_credential(revoked.uuid, t0, &ev(a.uuid, "pat.revoked"))
        .await
        .unwrap();
    insert(
        &t,
        &org_credential(CredentialKind::ApiKey, a.uuid, &alice, Role::Admin),
    )
    .await;
    insert(&t, &pat(b.uuid, &zed, "bravo's", t0)).await;

    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = Vec::new();
    loop {
        let page = t
            .org_pats(a.uuid, &PageRequest { limit: 2, cursor })
            .await
            .unwrap();
        assert!(page.items.len() <= 2);
        pages.push(page.items.len());
        seen.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
        assert!(pages.len() < 10, "paging does not terminate");
    }
    assert_eq!(pages, vec![2, 2, 1]);
    let got: Vec<Uuid> = seen.iter().map(|(c, _)| c.uuid).collect();
    let unique: BTreeSet<Uuid> = got.iter().copied().collect();
    assert_eq!(unique.len(), 5, "every PAT exactly once: {got:?}");
    let want: BTreeSet<Uuid> = live.iter().map(|(c, _)| c.uuid).collect();
    assert_eq!(unique, want);
    assert!(
        seen.windows(2)
            .all(|w| w[0].0.created_at >= w[1].0.created_at),
        "newest first"
    );
    for (c, owner) in &seen {
        let (want_c, want_owner) = live.iter().find(|(l, _)| l.uuid == c.uuid).unwrap();
        assert_eq!(c, want_c);
        assert_eq!(owner, want_owner);
    }

    // One page holding everything has no next cursor.
    let all = t
        .org_pats(
            a.uuid,
            &PageRequest {
                limit: 5,
                cursor: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(all.items.len(), 5);
    assert!(all.next_cursor.is_none());
    let ids: Vec<Uuid> = all.items.iter().map(|(c, _)| c.uuid).collect();
    assert_eq!(ids, got, "paged order is the unpaged order");

    assert_err!(
        t.org_pats(
            a.uuid,
            &PageRequest {
                limit: 2,
                cursor: Some("not a cursor".to_string())
            }
        )
        .await,
        StoreError::InvalidCursor
    );
    assert!(t
        .org_pats(
            Uuid::new_v4(),
            &PageRequest {
                limit: 2,
                cursor: None
            }
        )
        .await
        .unwrap()
        .items
        .is_empty());
}

async fn credentials_update_credential(t: TestDb) {
    let (a, alice) = new_org(&t, "acme").await;
    let c = pat(a.uuid, &alice, "laptop", now());
    assert_eq!(c.scopes, None);
    let hash = insert(&t, &c).await;
    let mut log = AuditLog::start(&t, a.uuid).await;
    let get = |t: TestDb| async move { found(&t, &hash).await.credential };

    t.update_credential(
        c.uuid,
        &CredentialChange {
            name: Some("desktop".to_string()),
            ..CredentialChange::default()
        },
        &ev(a.uuid, "pat.updated"),
    )
    .await
    .unwrap();
    log.expect(&t, "pat.updated").await;
    let got = get(t.clone()).await;
    assert_eq!(
        got,
        Credential {
            name: "desktop".to_string(),
            ..c.clone()
        },
        "only the name changed; scopes None is the full role"
    );

    // An empty scope list is not the full role.
    t.update_credential(
        c.uuid,
        &CredentialChange {
            scopes: Some(Some(vec![])),
            ..CredentialChange::default()
        },
        &ev(a.uuid, "pat.updated"),
    )
    .await
    .unwrap();
    log.expect(&t, "pat.updated").await;
    assert_eq!(get(t.clone()).await.scopes, Some(vec![]));

    t.update_credential(
        c.uuid,
        &CredentialChange {
            scopes: Some(Some(vec![
                "projects:read".to_string(),
                "content:read".to_string(),
            ])),
            ..CredentialChange::default()
        },
        &ev(a.uuid, "pat.updated"),
    )
    .await
    .unwrap();
    log.expect(&t, "pat.updated").await;
    assert_eq!(
        get(t.clone()).await.scopes,
        Some(vec![
            "projects:read".to_string(),
            "content:read".to_string()
        ])
    );

    // expires_at alone leaves name and scopes.
    let exp = now() + Duration::days(3);
    t.update_credential(
        c.uuid,
        &CredentialChange {
            expires_at: Some(exp),
            ..CredentialChange::default()
        },
        &ev(a.uuid, "pat.updated"),
    )
    .await
    .unwrap();
    log.expect(&t, "pat.updated").await;
    let got = get(t.clone()).await;
    assert_eq!(got.expires_at, Some(exp));
    assert_eq!(got.name, "desktop");
    assert_eq!(
        got.scopes,
        Some(vec![
            "projects:read".to_string(),
            "content:read".to_string()
        ])
    );
    assert_eq!(t.credential(a.uuid, c.uuid).await.unwrap(), Some(got));

    // Some(None): back to the full role, the rest kept.
    t.update_credential(
        c.uuid,
        &CredentialChange {
            scopes: Some(None),
            ..CredentialChange::default()
        },
        &ev(a.uuid, "pat.updated"),
    )
    .await
    .unwrap();
    log.expect(&t, "pat.updated").await;
    let got = get(t.clone()).await;
    assert_eq!(got.scopes, None, "scopes None is the full role");
    assert_eq!((got.name.as_str(), got.expires_at), ("desktop", Some(exp)));
    assert_eq!(t.credential(a.uuid, c.uuid).await.unwrap(), Some(got));

    // An API key: its name and expiry.
    let key = org_credential(CredentialKind::ApiKey, a.uuid, &alice, Role::Editor);
    let key_hash = insert(&t, &key).await;
    log.seen += 1;
    let key_exp = now() + Duration::days(9);
    t.update_credential(
        key.uuid,
        &CredentialChange {
            name: Some("ci".to_string()),
            expires_at: Some(key_exp),
            ..CredentialChange::default()
        },
        &ev(a.uuid, "api_key.updated"),
    )
    .await
    .unwrap();
    log.expect(&t, "api_key.updated").await;
    assert_eq!(
        found(&t, &key_hash).await.credential,
        Credential {
            name: "ci".to_string(),
            expires_at: Some(key_exp),
            ..key.clone()
        }
    );

    // A PAT inserted with an empty list keeps it; one with None keeps None.
    let empty = Credential {
        scopes: Some(vec![]),
        ..pat(a.uuid, &alice, "empty", now())
    };
    insert(&t, &empty).await;
    log.seen += 1;
    assert_eq!(
        t.credential(a.uuid, empty.uuid)
            .await
            .unwrap()
            .unwrap()
            .scopes,
        Some(vec![])
    );

    // Unknown and revoked: not found, no event.
    assert_err!(
        t.update_credential(
            Uuid::new_v4(),
            &CredentialChange {
                name: Some("x".to_string()),
                ..CredentialChange::default()
            },
            &ev(a.uuid, "pat.updated")
        )
        .await,
        StoreError::NotFound
    );
    t.revoke_credential(c.uuid, now(), &ev(a.uuid, "pat.revoked"))
        .await
        .unwrap();
    log.expect(&t, "pat.revoked").await;
    assert_err!(
        t.update_credential(
            c.uuid,
            &CredentialChange {
                name: Some("x".to_string()),
                ..CredentialChange::default()
            },
            &ev(a.uuid, "pat.updated")
        )
        .await,
        StoreError::NotFound
    );
    log.expect_none(&t).await;
    assert_eq!(get(t.clone()).await.name, "desktop");
}

async fn credentials_revoke(t: TestDb) {
    let (a, alice) = new_org(&t, "acme").await;
    let c = pat(a.uuid, &alice, "laptop", now());
    let hash = insert(&t, &c).await;
    let key = org_credential(CredentialKind::ApiKey, a.uuid, &alice, Role::Editor);
    let key_hash = insert(&t, &key).await;
    let mut log = AuditLog::start(&t, a.uuid).await;

    let at = now() + secs(1);
    t.revoke_credential(c.uuid, at, &ev(a.uuid, "pat.revoked"))
        .await
        .unwrap();
    log.expect(&t, "pat.revoked").await;
    // Still found by hash (so the request path can say "revoked"), but gone
    // from every listing.
    assert_eq!(found(&t, &hash).await.credential.revoked_at, Some(at));
    assert_eq!(t.credential(a.uuid, c.uuid).await.unwrap(), None);
    assert!(t.pats_of(a.uuid, alice.uuid).await.unwrap().is_empty());
    assert_err!(
        t.revoke_credential(c.uuid, at + secs(5), &ev(a.uuid, "pat.revoked"))
            .await,
        StoreError::NotFound
    );
    assert_err!(
        t.revoke_credential(Uuid::new_v4(), at, &ev(a.uuid, "pat.revoked"))
            .await,
        StoreError::NotFound
    );
    log.expect_none(&t).await;
    assert_eq!(
        found(&t, &hash).await.credential.revoked_at,
        Some(at),
        "a second revoke does not move the time"
    );

    t.revoke_credential(key.uuid, at, &ev(a.uuid, "api_key.revoked"))
        .await
        .unwrap();
    log.expect(&t, "api_key.revoked").await;
    assert_eq!(found(&t, &key_hash).await.credential.revoked_at, Some(at));
    assert_eq!(t.credential(a.uuid, key.uuid).await.unwrap(), None);
}

async fn credentials_rotate(t: TestDb) {
    let (a, alice) = new_org(&t, "acme").await;
    let t0 = now();
    let c = pat(a.uuid, &alice, "laptop", t0 - secs(100));
    let old = insert(&t, &c).await;
    let mut log = AuditLog::start(&t, a.uuid).await;

    let first_at = t0 - secs(50);
    let first = Rotation {
        token_hash: new_hash(),
        display_prefix: "lkpat_r1r1r1".to_string(),
        expires_at: t0 + Duration::days(10),
        now: first_at,
        last_rotated_before: c.created_at,
    };
    assert!(t
        .rotate_credential(c.uuid, &first, &ev(a.uuid, "pat.rotated"))
        .await
        .unwrap());
    log.expect(&t, "pat.rotated").await;

    let r = found(&t, &first.token_hash).await;
    assert_eq!(
        r.credential,
        Credential {
            display_prefix: "lkpat_r1r1r1".to_string(),
            expires_at: Some(first.expires_at),
            rotated_at: Some(first_at),
            ..c.clone()
        }
    );
    assert_eq!(r.token_hash, first.token_hash);
    match t.authenticate(&old).await.unwrap() {
        TokenLookup::Retired { credential } => {
            assert_eq!(credential.uuid, c.uuid);
            assert_eq!(credential.rotated_at, Some(first_at));
        }
        other => panic!("the old secret should be Retired, got {other:?}"),
    }

    // A rotation that read the credential before the first one: loses.
    let stale = Rotation {
        token_hash: new_hash(),
        display_prefix: "lkpat_stale0".to_string(),
        expires_at: t0 + Duration::days(20),
        now: t0,
        last_rotated_before: first_at - secs(1),
    };
    assert!(!t
        .rotate_credential(c.uuid, &stale, &ev(a.uuid, "pat.rotated"))
        .await
        .unwrap());
    log.expect_none(&t).await;
    assert!(matches!(
        t.authenticate(&stale.token_hash).await.unwrap(),
        TokenLookup::Unknown
    ));
    assert_eq!(
        found(&t, &first.token_hash).await.credential.display_prefix,
        "lkpat_r1r1r1"
    );

    // One that saw the first rotation wins.
    let second = Rotation {
        token_hash: new_hash(),
        display_prefix: "lkpat_r2r2r2".to_string(),
        expires_at: t0 + Duration::days(30),
        now: t0,
        last_rotated_before: first_at,
    };
    assert!(t
        .rotate_credential(c.uuid, &second, &ev(a.uuid, "pat.rotated"))
        .await
        .unwrap());
    log.expect(&t, "pat.rotated").await;
    assert_eq!(
        found(&t, &second.token_hash).await.credential.rotated_at,
        Some(t0)
    );
    for retired in [&old, &first.token_hash] {
        assert!(matches!(
            t.authenticate(retired).await.unwrap(),
            TokenLookup::Retired { .. }
        ));
    }
    assert_eq!(t.pats_of(a.uuid, alice.uuid).await.unwrap().len(), 1);

    // Rotating onto another credential's secret: conflict.
    let other = pat(a.uuid, &alice, "other", t0);
    let other_hash = insert(&t, &other).await;
    log.seen += 1;
    assert_err!(
        t.rotate_credential(
            c.uuid,
            &Rotation {
                token_hash: other_hash,
                now: t0 + secs(1),
                last_rotated_before: t0,
                ..second
            },
            &ev(a.uuid, "pat.rotated"),
        )
        .await,
        StoreError::Conflict(_)
    );
    log.expect_none(&t).await;

    // Unknown and revoked credentials.
    let fresh = |now| Rotation {
        token_hash: new_hash(),
        display_prefix: "lkpat_nnnnnn".to_string(),
        expires_at: t0 + Duration::days(1),
        now,
        last_rotated_before: t0 + secs(100),
    };
    assert_err!(
        t.rotate_credential(Uuid::new_v4(), &fresh(t0), &ev(a.uuid, "pat.rotated"))
            .await,
        StoreError::NotFound
    );
    t.revoke_credential(c.uuid, t0 + secs(2), &ev(a.uuid, "pat.revoked"))
        .await
        .unwrap();
    log.expect(&t, "pat.revoked").await;
    assert_err!(
        t.rotate_credential(c.uuid, &fresh(t0 + secs(3)), &ev(a.uuid, "pat.rotated"))
            .await,
        StoreError::NotFound
    );
    log.expect_none(&t).await;
}

async fn credentials_concurrent_rotation(t: TestDb) {
    const TASKS: usize = 8;
    let (a, alice) = new_org(&t, "acme").await;
    let t0 = now();
    let c = pat(a.uuid, &alice, "laptop", t0 - secs(100));
    let old = insert(&t, &c).await;
    let mut log = AuditLog::start(&t, a.uuid).await;

    let id = c.uuid;
    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
    let mut tasks = Vec::new();
    for i in 0..TASKS {
        let store = t.store.clone();
        let barrier = barrier.clone();
        let rotation = Rotation {
            token_hash: new_hash(),
            display_prefix: format!("lkpat_task{i:02}"),
            expires_at: t0 + Duration::days(30),
            now: t0,
            // Every task read the credential before any rotation.
            last_rotated_before: c.created_at,
        };
        let audit = ev(a.uuid, "pat.rotated");
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let won = store.rotate_credential(id, &rotation, &audit).await;
            (rotation.token_hash, won)
        }));
    }
    let mut winners = Vec::new();
    let mut losers = Vec::new();
    for task in tasks {
        let (hash, won) = task.await.expect("rotation task");
        match won {
            Ok(true) => winners.push(hash),
            Ok(false) => losers.push(hash),
            Err(e) => panic!("a racing rotation failed instead of losing: {e:?}"),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one of {TASKS} racing rotations wins"
    );
    assert_eq!(losers.len(), TASKS - 1);
    log.expect(&t, "pat.rotated").await;

    let r = found(&t, &winners[0]).await;
    assert_eq!(r.credential.rotated_at, Some(t0));
    for hash in &losers {
        assert!(matches!(
            t.authenticate(hash).await.unwrap(),
            TokenLookup::Unknown
        ));
    }
    assert!(matches!(
        t.authenticate(&old).await.unwrap(),
        TokenLookup::Retired { .. }
    ));
    assert_eq!(
        t.count(
            "SELECT COUNT(*) FROM retired_token_hashes WHERE credential_uuid = $1",
            c.uuid
        )
        .await,
        1
    );
}

async fn credentials_record_last_used(t: TestDb) {
    let (a, alice) = new_org(&t, "acme").await;
    let t0 = now();
    let c1 = pat(a.uuid, &alice, "one", t0 - secs(100));
    let c2 = org_credential(CredentialKind::ApiKey, a.uuid, &alice, Role::Viewer);
    let (h1, h2) = (insert(&t, &c1).await, insert(&t, &c2).await);
    let log = AuditLog::start(&t, a.uuid).await;
    let last_used = |h: TokenHash| {
        let t = t.clone();
        async move { found(&t, &h).await.credential.last_used_at }
    };

    t.record_last_used(&[]).await.unwrap();
    assert_eq!(last_used(h1).await, None);

    t.record_last_used(&[(c1.uuid, t0)]).await.unwrap();
    assert_eq!(last_used(h1).await, Some(t0));
    assert_eq!(last_used(h2).await, None);

    // Never backwards; forwards in a batch with several credentials, and an
    // unknown uuid is ignored.
    t.record_last_used(&[(c1.uuid, t0 - secs(10))])
        .await
        .unwrap();
    assert_eq!(last_used(h1).await, Some(t0));
    t.record_last_used(&[
        (c1.uuid, t0 + secs(5)),
        (c2.uuid, t0 - secs(3)),
        (Uuid::new_v4(), t0),
        (c1.uuid, t0 + secs(2)),
    ])
    .await
    .unwrap();
    assert_eq!(last_used(h1).await, Some(t0 + secs(5)));
    assert_eq!(last_used(h2).await, Some(t0 - secs(3)));
    assert_eq!(
        t.credential(a.uuid, c1.uuid)
            .await
            .unwrap()
            .unwrap()
            .last_used_at,
        Some(t0 + secs(5))
    );

    // Usage is not an audited change.
    log.expect_none(&t).await;
}

async fn credentials_org_credentials_by_kind(t: TestDb) {
    let (a, alice) = new_org(&t, "acme").await;
    let (b, zed) = new_org(&t, "bravo").await;
    let bob = add_new_member(&t, a.uuid, "bob@example.com", Role::Admin).await;
    let t0 = now();
    let key = |creator: &User, role: Role, name: &str, created_at: OffsetDateTime| Credential {
        name: name.to_string(),
        created_at,
        expires_at: Some(created_at + Duration::days(30)),
        ..org_credential(CredentialKind::ApiKey, a.uuid, creator, role)
    };

    // Four live keys, two sharing a creation second; by two creators.
    let keys = [
        key(&alice, Role::Editor, "ci", t0 - secs(30)),
        key(&bob, Role::Admin, "deploy", t0 - secs(10)),
        key(&alice, Role::Viewer, "reports", t0),
        key(&bob, Role::Developer, "previews", t0),
    ];
    for k in &keys {
        insert(&t, k).await;
    }
    // Not listed as API keys: revoked, other kinds, another organization.
    let revoked = key(&alice, Role::Viewer, "revoked", t0 - secs(5));
    insert(&t, &revoked).await;
    t.revoke_credential(revoked.uuid, t0, &ev(a.uuid, "api_key.revoked"))
        .await
        .unwrap();
    let alice_pat = pat(a.uuid, &alice, "laptop", t0 + secs(1));
    insert(&t, &alice_pat).await;
    let service = org_credential(CredentialKind::ServiceAccount, a.uuid, &alice, Role::Admin);
    insert(&t, &service).await;
    let bravo_key = org_credential(CredentialKind::ApiKey, b.uuid, &zed, Role::Admin);
    insert(&t, &bravo_key).await;

    let listed = t
        .org_credentials(a.uuid, CredentialKind::ApiKey)
        .await
        .unwrap();
    let names: Vec<&str> = listed.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert_eq!(&names[2..], ["deploy", "ci"], "newest first");
    let mut same_second: Vec<Uuid> = [&keys[2], &keys[3]].iter().map(|k| k.uuid).collect();
    same_second.sort();
    same_second.reverse();
    assert_eq!(
        listed[..2].iter().map(|c| c.uuid).collect::<Vec<_>>(),
        same_second,
        "a tie in time is broken by id, the same way every time"
    );
    for c in &listed {
        let want = keys.iter().find(|k| k.uuid == c.uuid).unwrap();
        assert_eq!(c, want, "every field round-trips");
    }
    assert_eq!(listed[2].role, Some(Role::Admin));
    assert_eq!(listed[2].created_by, actor(&bob));
    assert_eq!(listed[2].owner_uuid, None);

    // Each kind lists only itself.
    let services = t
        .org_credentials(a.uuid, CredentialKind::ServiceAccount)
        .await
        .unwrap();
    assert_eq!(services, vec![service.clone()]);
    let pats = t
        .org_credentials(a.uuid, CredentialKind::Pat)
        .await
        .unwrap();
    assert_eq!(pats, vec![alice_pat.clone()]);
    assert!(t
        .org_credentials(a.uuid, CredentialKind::Session)
        .await
        .unwrap()
        .is_empty());
    let bravo = t
        .org_credentials(b.uuid, CredentialKind::ApiKey)
        .await
        .unwrap();
    assert_eq!(bravo, vec![bravo_key]);
    assert!(t
        .org_credentials(Uuid::new_v4(), CredentialKind::ApiKey)
        .await
        .unwrap()
        .is_empty());

    // A key outlives its creator's membership; a rotated key is listed with
    // its new display prefix and rotation time.
    t.remove_member(a.uuid, bob.uuid, t0, &ev(a.uuid, "member.removed"))
        .await
        .unwrap();
    let rotated_at = t0 + secs(2);
    let rotated = t
        .rotate_credential(
            keys[0].uuid,
            &Rotation {
                token_hash: new_hash(),
                display_prefix: "lkkey_rot8".to_string(),
                expires_at: t0 + Duration::days(60),
                now: rotated_at,
                last_rotated_before: rotated_at - Duration::hours(1),
            },
            &ev(a.uuid, "api_key.rotated"),
        )
        .await
        .unwrap();
    assert!(rotated);
    let listed = t
        .org_credentials(a.uuid, CredentialKind::ApiKey)
        .await
        .unwrap();
    assert_eq!(listed.len(), 4, "the creator's removal revokes no key");
    let ci = listed.iter().find(|c| c.uuid == keys[0].uuid).unwrap();
    assert_eq!(ci.display_prefix, "lkkey_rot8");
    assert_eq!(ci.rotated_at, Some(rotated_at));
    assert_eq!(ci.expires_at, Some(t0 + Duration::days(60)));
    assert_eq!(listed.last().unwrap().uuid, keys[0].uuid);
}

// ---- audit log -------------------------------------------------------------------------

async fn audit_filters_and_paging(t: TestDb) {
    let (a, alice) = new_org(&t, "acme").await;
    let (b, _) = new_org(&t, "bravo").await;
    let bob = new_user("bob@example.com");
    let (p1, p2) = (Uuid::new_v4(), Uuid::new_v4());
    let t0 = now() - secs(1000);

    // The organization's own "org.created" is event 0; then nine more.
    let mut appended = Vec::new();
    for i in 0..9i64 {
        let who = if i % 3 == 0 { &bob } else { &alice };
        let action = if i % 2 == 0 {
            "pat.updated"
        } else {
            "pat.rotated"
        };
        let on = if i < 5 { p1 } else { p2 };
        let e = AuditEvent {
            at: t0 + secs(i * 10),
            actor: Some(actor(who)),
            target: Some(target("project", on, "p")),
            details: serde_json::json!({ "i": i }),
            ..ev(a.uuid, action)
        };
        t.append_audit(&e).await.unwrap();
        appended.push(e);
    }
    t.append_audit(&ev(b.uuid, "pat.updated")).await.unwrap();

    let org = a.uuid;
    let query = |filter: AuditFilter, limit: u32| {
        let t = t.clone();
        async move {
            let mut out = Vec::new();
            let mut cursor = None;
            let mut pages = 0;
            loop {
                let page = t
                    .audit_events(org, &filter, &PageRequest { limit, cursor })
                    .await
                    .unwrap();
                assert!(page.items.len() <= limit as usize);
                pages += 1;
                out.extend(
                    page.items
                        .into_iter()
                        .map(|e| e.details.get("i").and_then(|i| i.as_i64()).unwrap_or(-1)),
                );
                match page.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => return (out, pages),
                }
            }
        }
    };

    // Everything, newest first; only this organization's events.
    let (all, _) = query(AuditFilter::default(), 100).await;
    assert_eq!(all, vec![8, 7, 6, 5, 4, 3, 2, 1, 0, -1]);

    // Paging walks the same list exactly once.
    let (paged, pages) = query(AuditFilter::default(), 3).await;
    assert_eq!(paged, all);
    assert_eq!(pages, 4);
    let (paged, pages) = query(AuditFilter::default(), 5).await;
    assert_eq!(paged, all);
    assert_eq!(pages, 2, "an exactly full last page has no next cursor");

    let action = |s: &str| AuditFilter {
        action: Some(s.to_string()),
        ..AuditFilter::default()
    };
    assert_eq!(
        query(action("pat.updated"), 100).await.0,
        vec![8, 6, 4, 2, 0]
    );
    assert_eq!(query(action("pat.rotated"), 2).await.0, vec![7, 5, 3, 1]);
    assert_eq!(query(action("org.created"), 100).await.0, vec![-1]);
    assert!(query(action("nothing"), 100).await.0.is_empty());

    let by = |u: Uuid| AuditFilter {
        actor_uuid: Some(u),
        ..AuditFilter::default()
    };
    assert_eq!(query(by(bob.uuid), 100).await.0, vec![6, 3, 0]);
    assert_eq!(query(by(alice.uuid), 4).await.0, vec![8, 7, 5, 4, 2, 1]);

    let on = |u: Uuid| AuditFilter {
        target_uuid: Some(u),
        ..AuditFilter::default()
    };
    assert_eq!(query(on(p1), 100).await.0, vec![4, 3, 2, 1, 0]);
    assert_eq!(query(on(p2), 100).await.0, vec![8, 7, 6, 5]);

    // since/until are inclusive.
    let window = AuditFilter {
        since: Some(t0 + secs(20)),
        until: Some(t0 + secs(50)),
        ..AuditFilter::default()
    };
    assert_eq!(query(window.clone(), 100).await.0, vec![5, 4, 3, 2]);
    assert_eq!(query(window.clone(), 1).await.0, vec![5, 4, 3, 2]);
    let since = AuditFilter {
        since: Some(t0 + secs(70)),
        ..AuditFilter::default()
    };
    assert_eq!(
        query(since, 100).await.0,
        vec![8, 7, -1],
        "org.created happened now, after t0"
    );
    let until = AuditFilter {
        until: Some(t0 + secs(10)),
        ..AuditFilter::default()
    };
    assert_eq!(query(until, 100).await.0, vec![1, 0]);

    // Combined.
    let combined = AuditFilter {
        action: Some("pat.updated".to_string()),
        actor_uuid: Some(alice.uuid),
        target_uuid: Some(p1),
        since: Some(t0),
        until: Some(t0 + secs(80)),
    };
    assert_eq!(query(combined, 1).await.0, vec![4, 2]);

    // Round trip of the stored fields.
    let newest = &t
        .audit_events(
            a.uuid,
            &AuditFilter::default(),
            &PageRequest {
                limit: 1,
                cursor: None,
            },
        )
        .await
        .unwrap()
        .items[0];
    let last = appended.last().unwrap();
    assert_eq!(newest.at, last.at);
    assert_eq!(newest.actor, last.actor);
    assert_eq!(newest.target, last.target);

    assert_err!(
        t.audit_events(
            a.uuid,
            &AuditFilter::default(),
            &PageRequest {
                limit: 2,
                cursor: Some("garbage".to_string())
            }
        )
        .await,
        StoreError::InvalidCursor
    );
    assert_eq!(all_events(&t, b.uuid).await.len(), 2);
}

async fn audit_is_append_only(t: TestDb) {
    let (a, _alice) = new_org(&t, "acme").await;
    t.append_audit(&ev(a.uuid, "role.created")).await.unwrap();
    let before = all_events(&t, a.uuid).await;
    assert_eq!(before.len(), 2);

    let mut raw = t.raw().await;
    let update = sqlx::query("UPDATE audit_events SET action = 'tampered'")
        .execute(&mut raw)
        .await;
    assert!(
        update.is_err(),
        "UPDATE on audit_events must fail: {update:?}"
    );
    let one = sqlx::query("UPDATE audit_events SET ip = '1.2.3.4' WHERE action = $1")
        .bind("role.created")
        .execute(&mut raw)
        .await;
    assert!(one.is_err(), "UPDATE of one audit event must fail: {one:?}");
    let delete = sqlx::query("DELETE FROM audit_events")
        .execute(&mut raw)
        .await;
    assert!(
        delete.is_err(),
        "DELETE on audit_events must fail: {delete:?}"
    );
    let one = sqlx::query("DELETE FROM audit_events WHERE action = $1")
        .bind("role.created")
        .execute(&mut raw)
        .await;
    assert!(one.is_err(), "DELETE of one audit event must fail: {one:?}");
    raw.close().await.ok();

    let after = all_events(&t, a.uuid).await;
    let key = |e: &StoredAuditEvent| (e.uuid, e.action.clone(), e.ip.clone());
    assert_eq!(
        after.iter().map(key).collect::<Vec<_>>(),
        before.iter().map(key).collect::<Vec<_>>()
    );
    // Appending still works.
    t.append_audit(&ev(a.uuid, "role.updated")).await.unwrap();
    assert_eq!(all_events(&t, a.uuid).await.len(), 3);
}

// ---- schema parity ---------------------------------------------------------------------

/// table -> [(column, not null)] in declaration order.
type Schema = BTreeMap<String, Vec<(String, bool)>>;

async fn sqlite_schema(path: &std::path::Path) -> (Schema, BTreeSet<String>) {
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut schema = Schema::new();
    for table in tables {
        let rows = sqlx::query(&format!("PRAGMA table_info(\"{table}\")"))
            .fetch_all(&mut conn)
            .await
            .unwrap();
        let columns = rows
            .iter()
            .map(|r| {
                let name: String = r.get("name");
                let notnull: i64 = r.get("notnull");
                let pk: i64 = r.get("pk");
                // SQLite's table_info reports primary-key columns as nullable
                // unless declared NOT NULL; PostgreSQL makes them NOT NULL.
                (name, notnull != 0 || pk != 0)
            })
            .collect();
        schema.insert(table, columns);
    }
    let indexes = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .collect();
    conn.close().await.ok();
    (schema, indexes)
}

async fn postgres_schema(url: &str) -> (Schema, BTreeSet<String>) {
    let mut conn = PgConnection::connect(url).await.unwrap();
    let rows = sqlx::query(
        "SELECT table_name::text AS t, column_name::text AS c, is_nullable::text AS n \
         FROM information_schema.columns WHERE table_schema = current_schema() \
         AND table_name <> '_sqlx_migrations' ORDER BY table_name, ordinal_position",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut schema = Schema::new();
    for r in rows {
        let (t, c, n): (String, String, String) = (r.get("t"), r.get("c"), r.get("n"));
        schema.entry(t).or_default().push((c, n == "NO"));
    }
    // Indexes created on their own, not those behind PRIMARY KEY / UNIQUE.
    let indexes = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_index i \
         JOIN pg_class c ON c.oid = i.indexrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema() \
         AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .collect();
    conn.close().await.ok();
    (schema, indexes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_parity_sqlite_postgres() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("latchkey.db");
    let sqlite = SqlStore::open_sqlite(&path, &PoolSettings::default())
        .await
        .expect("migrate SQLite");
    sqlite.close().await;
    let (sqlite_tables, sqlite_indexes) = sqlite_schema(&path).await;

    let pg = PgDatabase::create().await;
    let url = pg.url.clone();
    let outcome = tokio::spawn(async move {
        let pg = SqlStore::open_postgres(&url, &PoolSettings::default())
            .await
            .expect("migrate PostgreSQL");
        pg.close().await;
        postgres_schema(&url).await
    })
    .await;
    drop(pg);
    let (pg_tables, pg_indexes) = match outcome {
        Ok(schema) => schema,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    };

    assert!(
        sqlite_tables.contains_key("credentials") && sqlite_tables.len() >= 10,
        "the SQLite schema was read: {:?}",
        sqlite_tables.keys()
    );
    assert_eq!(
        sqlite_tables.keys().collect::<Vec<_>>(),
        pg_tables.keys().collect::<Vec<_>>(),
        "the same tables"
    );
    for (table, columns) in &sqlite_tables {
        assert_eq!(
            columns, &pg_tables[table],
            "table {table}: the same columns, in the same order, with the same NOT NULL"
        );
    }
    assert_eq!(sqlite_indexes, pg_indexes, "the same secondary indexes");
    drop(dir);
}

// ---- upgrade from the previous schema ----------------------------------------------

/// The migrations of `full` before `first_new`: the schema as it was.
fn migrations_before(full: sqlx::migrate::Migrator, first_new: i64) -> sqlx::migrate::Migrator {
    let old: Vec<_> = full
        .migrations
        .iter()
        .filter(|m| m.version < first_new)
        .cloned()
        .collect();
    assert!(!old.is_empty() && old.len() < full.migrations.len());
    sqlx::migrate::Migrator {
        migrations: old.into(),
        ..full
    }
}

/// What the old-schema database holds, written the old way.
struct OldRows {
    t0: OffsetDateTime,
    a: Uuid,
    b: Uuid,
    alice: Uuid,
    zed: Uuid,
    bob: Uuid,
    carol: Uuid,
    bob_code: TokenHash,
    carol_a_code: TokenHash,
    carol_b_code: TokenHash,
    zed_used_code: TokenHash,
    alice_pat: TokenHash,
    zed_pat: TokenHash,
    b_key: TokenHash,
    /// Project-scoped; its only project was deleted.
    sa_gone: (Uuid, TokenHash),
    /// Project-scoped, one project row left.
    sa_kept: (Uuid, TokenHash),
    /// Organization-scoped with a system role, custom role, legacy scopes.
    sa_role: (Uuid, TokenHash),
    sa_custom: (Uuid, TokenHash),
    sa_legacy: (Uuid, TokenHash),
    custom_role: Uuid,
    web_a: Uuid,
    web_b: Uuid,
    alice_session: TokenHash,
    zed_session: TokenHash,
}

/// Runs one statement whose `$n` are text (`Ok`) or integers (`Err`).
async fn exec(conn: &mut AnyConnection, sql: &str, args: &[Result<String, i64>]) {
    let mut q = sqlx::query(sql);
    for a in args {
        q = match a {
            Ok(s) => q.bind(s.clone()),
            Err(i) => q.bind(*i),
        };
    }
    q.execute(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn s(v: impl ToString) -> Result<String, i64> {
    Ok(v.to_string())
}

fn i(t: OffsetDateTime) -> Result<String, i64> {
    Err(t.unix_timestamp())
}

/// A credential row of the old schema: uuid, kind, org, owner, hash, scopes,
/// role, custom role.
type OldCredential = (
    Uuid,
    &'static str,
    Uuid,
    Option<Uuid>,
    TokenHash,
    Option<&'static str>,
    Option<&'static str>,
    Option<Uuid>,
);

/// Two organizations' worth of rows, in the old schema's columns.
async fn seed_old_schema(conn: &mut AnyConnection) -> OldRows {
    let t0 = now() - secs(1000);
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let (alice, zed, bob, carol) = (
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
    );
    let rows = OldRows {
        t0,
        a,
        b,
        alice,
        zed,
        bob,
        carol,
        bob_code: new_hash(),
        carol_a_code: new_hash(),
        carol_b_code: new_hash(),
        zed_used_code: new_hash(),
        alice_pat: new_hash(),
        zed_pat: new_hash(),
        b_key: new_hash(),
        sa_gone: (Uuid::new_v4(), new_hash()),
        sa_kept: (Uuid::new_v4(), new_hash()),
        sa_role: (Uuid::new_v4(), new_hash()),
        sa_custom: (Uuid::new_v4(), new_hash()),
        sa_legacy: (Uuid::new_v4(), new_hash()),
        custom_role: Uuid::new_v4(),
        web_a: Uuid::new_v4(),
        web_b: Uuid::new_v4(),
        alice_session: new_hash(),
        zed_session: new_hash(),
    };
    let at = |n: i64| t0 + secs(n);
    let later = at(0) + Duration::days(7);

    for (uuid, name, plan, n) in [(a, "acme", "free", 0), (b, "bravo", "enterprise", 1)] {
        exec(
            conn,
            "INSERT INTO orgs (uuid, name, plan, created_at) VALUES ($1, $2, $3, $4)",
            &[s(uuid), s(name), s(plan), i(at(n))],
        )
        .await;
        exec(
            conn,
            "INSERT INTO audit_events (uuid, org_uuid, at, action, details) VALUES ($1, $2, $3, 'org.created', '{}')",
            &[s(Uuid::new_v4()), s(uuid), i(at(n))],
        )
        .await;
    }
    for (uuid, email, password) in [
        (alice, "alice@example.com", Some("$argon2id$alice")),
        (zed, "zed@example.com", Some("$argon2id$zed")),
        (bob, "bob@example.com", None),
        (carol, "carol@example.com", None),
    ] {
        match password {
            Some(p) => exec(
                conn,
                "INSERT INTO users (uuid, email, name, password_hash, created_at) VALUES ($1, $2, $2, $3, $4)",
                &[s(uuid), s(email), s(p), i(at(0))],
            )
            .await,
            None => exec(
                conn,
                "INSERT INTO users (uuid, email, name, password_hash, created_at) VALUES ($1, $2, $2, NULL, $3)",
                &[s(uuid), s(email), i(at(0))],
            )
            .await,
        }
    }
    for (org, user, role, n) in [
        (a, alice, "admin", 0),
        (b, zed, "admin", 1),
        (a, zed, "viewer", 2),
        (a, bob, "editor", 3),
        // carol: first invited to B, then to A.
        (b, carol, "viewer", 4),
        (a, carol, "developer", 5),
    ] {
        exec(
            conn,
            "INSERT INTO memberships (org_uuid, user_uuid, role, created_at) VALUES ($1, $2, $3, $4)",
            &[s(org), s(user), s(role), i(at(n))],
        )
        .await;
    }
    for (code, org, user, n) in [
        (rows.bob_code, a, bob, 3),
        (rows.carol_b_code, b, carol, 4),
        (rows.carol_a_code, a, carol, 5),
    ] {
        exec(
            conn,
            "INSERT INTO invites (code_hash, org_uuid, user_uuid, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
            &[s(code.to_hex()), s(org), s(user), i(at(n)), i(later)],
        )
        .await;
    }
    exec(
        conn,
        "INSERT INTO invites (code_hash, org_uuid, user_uuid, created_at, expires_at, used_at) VALUES ($1, $2, $3, $4, $5, $4)",
        &[s(rows.zed_used_code.to_hex()), s(a), s(zed), i(at(2)), i(later)],
    )
    .await;
    let api_a = Uuid::new_v4();
    for (uuid, org, name) in [
        (rows.web_a, a, "web"),
        (api_a, a, "api"),
        (rows.web_b, b, "web"),
    ] {
        exec(
            conn,
            "INSERT INTO projects (uuid, org_uuid, name, created_at, created_by_type, created_by_uuid, created_by_name, \
             updated_at, updated_by_type, updated_by_uuid, updated_by_name) \
             VALUES ($1, $2, $3, $4, 'user', $5, 'someone', $4, 'user', $5, 'someone')",
            &[s(uuid), s(org), s(name), i(at(6)), s(alice)],
        )
        .await;
    }
    exec(
        conn,
        "INSERT INTO project_roles (project_uuid, org_uuid, user_uuid, role, created_at) VALUES ($1, $2, $3, 'editor', $4)",
        &[s(rows.web_a), s(a), s(zed), i(at(7))],
    )
    .await;
    for (id, user, org) in [(rows.alice_session, alice, a), (rows.zed_session, zed, b)] {
        exec(
            conn,
            "INSERT INTO sessions (id_hash, user_uuid, org_uuid, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
            &[s(id.to_hex()), s(user), s(org), i(at(8)), i(later)],
        )
        .await;
    }
    exec(
        conn,
        "INSERT INTO custom_roles (uuid, org_uuid, name, description, scopes, created_at, created_by_type, \
         created_by_uuid, created_by_name, updated_at) VALUES ($1, $2, 'Deployer', NULL, 'deploy:write', $3, 'user', $4, 'zed', $3)",
        &[s(rows.custom_role), s(b), i(at(9)), s(zed)],
    )
    .await;
    let creds: [OldCredential; 8] = [
        (
            Uuid::new_v4(),
            "pat",
            a,
            Some(alice),
            rows.alice_pat,
            None,
            None,
            None,
        ),
        (
            Uuid::new_v4(),
            "pat",
            b,
            Some(zed),
            rows.zed_pat,
            Some("projects:read"),
            None,
            None,
        ),
        (
            Uuid::new_v4(),
            "api_key",
            b,
            None,
            rows.b_key,
            None,
            Some("viewer"),
            None,
        ),
        (
            rows.sa_gone.0,
            "service_account",
            a,
            None,
            rows.sa_gone.1,
            None,
            None,
            None,
        ),
        (
            rows.sa_kept.0,
            "service_account",
            a,
            None,
            rows.sa_kept.1,
            None,
            None,
            None,
        ),
        (
            rows.sa_role.0,
            "service_account",
            b,
            None,
            rows.sa_role.1,
            None,
            Some("developer"),
            None,
        ),
        (
            rows.sa_custom.0,
            "service_account",
            b,
            None,
            rows.sa_custom.1,
            None,
            None,
            Some(rows.custom_role),
        ),
        (
            rows.sa_legacy.0,
            "service_account",
            b,
            None,
            rows.sa_legacy.1,
            Some("org:edit"),
            None,
            None,
        ),
    ];
    for (uuid, kind, org, owner, hash, scopes, role, custom) in creds {
        let text = |v: Option<String>| v.map(|v| format!("'{v}'")).unwrap_or("NULL".into());
        exec(
            conn,
            &format!(
                "INSERT INTO credentials (uuid, kind, org_uuid, owner_uuid, name, token_hash, display_prefix, scopes, role, \
                 custom_role_uuid, created_at, created_by_type, created_by_uuid, created_by_name) \
                 VALUES ($1, $2, $3, {}, $4, $5, 'lk_old', {}, {}, {}, $6, 'user', $7, 'someone')",
                text(owner.map(|u| u.to_string())),
                text(scopes.map(str::to_string)),
                text(role.map(str::to_string)),
                text(custom.map(|u| u.to_string())),
            ),
            &[s(uuid), s(kind), s(org), s(format!("{kind} {uuid}")), s(hash.to_hex()), i(at(10)), s(alice)],
        )
        .await;
    }
    for (credential, project, role) in [
        (rows.sa_gone.0, api_a, "viewer"),
        (rows.sa_kept.0, rows.web_a, "editor"),
    ] {
        exec(
            conn,
            "INSERT INTO service_account_projects (credential_uuid, project_uuid, org_uuid, role, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
            &[s(credential), s(project), s(a), s(role), i(at(11))],
        )
        .await;
    }
    // The project of sa_gone is deleted (its row with it, as the old
    // store's delete_project did through the cascade).
    exec(
        conn,
        "DELETE FROM service_account_projects WHERE project_uuid = $1",
        &[s(api_a)],
    )
    .await;
    exec(conn, "DELETE FROM projects WHERE uuid = $1", &[s(api_a)]).await;
    rows
}

/// Builds the old schema at `url`, writes `OldRows` into it, and closes.
async fn build_old_database(url: &str, old: sqlx::migrate::Migrator) -> OldRows {
    sqlx::any::install_default_drivers();
    let mut conn = AnyConnection::connect(url).await.expect("connect");
    old.run(&mut conn).await.expect("the old migrations");
    let rows = seed_old_schema(&mut conn).await;
    conn.close().await.ok();
    rows
}

/// What the upgrade must have kept and made of the old rows.
async fn upgraded_rows_are_right(t: TestDb, old: OldRows) {
    let count = |sql: &'static str, arg: Uuid| {
        let t = t.clone();
        async move { t.count(sql, arg).await }
    };
    // Nothing lost through the rebuild of `orgs`: both organizations and
    // everything pointing at them.
    let a = t.org(old.a).await.unwrap().expect("A");
    let b = t.org(old.b).await.unwrap().expect("B");
    assert_eq!(
        (a.name.as_str(), a.plan, a.created_at),
        ("acme", Plan::Free, old.t0)
    );
    assert_eq!((b.name.as_str(), b.plan), ("bravo", Plan::Enterprise));
    assert_eq!(t.members(old.a).await.unwrap().len(), 4);
    assert_eq!(t.members(old.b).await.unwrap().len(), 2);
    assert_eq!(
        t.projects(old.a)
            .await
            .unwrap()
            .iter()
            .map(|p| p.uuid)
            .collect::<Vec<_>>(),
        vec![old.web_a]
    );
    assert_eq!(t.projects(old.b).await.unwrap()[0].uuid, old.web_b);
    for (org, n) in [(old.a, 3), (old.b, 5)] {
        assert_eq!(
            count("SELECT COUNT(*) FROM credentials WHERE org_uuid = $1", org).await,
            n
        );
        assert_eq!(
            count("SELECT COUNT(*) FROM sessions WHERE org_uuid = $1", org).await,
            1
        );
        assert_eq!(all_events(&t, org).await.len(), 1);
    }
    assert_eq!(
        count("SELECT COUNT(*) FROM invites WHERE org_uuid = $1", old.a).await,
        3
    );
    assert_eq!(
        t.project_role(old.web_a, old.zed).await.unwrap(),
        Some(Role::Editor)
    );
    assert!(t
        .custom_role(old.b, old.custom_role)
        .await
        .unwrap()
        .is_some());

    // Members with a password are accepted members; the others are invited.
    for (org, user, role) in [
        (old.a, old.alice, Role::Admin),
        (old.b, old.zed, Role::Admin),
        (old.a, old.zed, Role::Viewer),
    ] {
        let m = t.member(org, user).await.unwrap().unwrap().membership;
        assert_eq!(m.role, RoleRef::System(role));
        assert_eq!(m.status(), MemberStatus::Active);
        assert_eq!(m.accepted_at, Some(m.created_at));
    }
    for (org, user) in [(old.a, old.bob), (old.a, old.carol), (old.b, old.carol)] {
        let m = t.member(org, user).await.unwrap().unwrap().membership;
        assert_eq!(m.status(), MemberStatus::Invited, "{user}");
    }
    assert_eq!(t.memberships_of(old.zed).await.unwrap().len(), 2);
    assert!(t.memberships_of(old.bob).await.unwrap().is_empty());
    let alice = t.session(&old.alice_session).await.unwrap().unwrap();
    assert_eq!(alice.revoked_at, None);
    assert_eq!(
        alice.membership.map(|m| m.role),
        Some(RoleRef::System(Role::Admin))
    );
    let record = found(&t, &old.alice_pat).await;
    assert_eq!(
        record.membership.map(|m| m.role),
        Some(RoleRef::System(Role::Admin))
    );
    assert_eq!(
        found(&t, &old.zed_pat).await.credential.scopes,
        Some(vec!["projects:read".to_string()])
    );

    // Unused invitations: the first one of an account without a password
    // may set it, a later one from elsewhere may not; a used one is gone.
    let at = now();
    for (code, org, user, sets) in [
        (old.bob_code, old.a, old.bob, true),
        (old.carol_b_code, old.b, old.carol, true),
        (old.carol_a_code, old.a, old.carol, false),
    ] {
        assert_eq!(
            t.pending_invite(&code, at).await.unwrap(),
            Some(PendingInvite {
                org_uuid: org,
                user_uuid: user,
                sets_password: sets,
                expires_at: old.t0 + Duration::days(7),
            })
        );
    }
    assert_eq!(
        t.pending_invite(&old.zed_used_code, at).await.unwrap(),
        None
    );
    let (bob, _) = accept(&t, &old.bob_code, &set_password("$argon2id$bob")).await;
    assert_eq!(bob.uuid, old.bob);
    assert_eq!(
        t.member(old.a, old.bob)
            .await
            .unwrap()
            .unwrap()
            .membership
            .status(),
        MemberStatus::Active
    );
    assert_err!(
        t.accept_invite(
            &old.carol_a_code,
            &set_password("$argon2id$carol"),
            now(),
            &ev(old.a, "member.joined")
        )
        .await,
        StoreError::NotFound
    );
    accept(&t, &old.carol_a_code, &by_session(old.carol)).await;

    // Service accounts: their scope as they were made.
    for ((uuid, hash), org, scope, grants) in [
        (old.sa_gone, old.a, AccountScope::Project, 0),
        (old.sa_kept, old.a, AccountScope::Project, 1),
        (old.sa_role, old.b, AccountScope::Organization, 0),
        (old.sa_custom, old.b, AccountScope::Organization, 0),
        (old.sa_legacy, old.b, AccountScope::Organization, 0),
    ] {
        let account = t
            .service_account(org, uuid)
            .await
            .unwrap()
            .expect("account");
        assert_eq!(account.scope, scope, "{}", account.credential.name);
        assert_eq!(account.grants.len(), grants, "{}", account.credential.name);
        assert_eq!(found(&t, &hash).await.account_scope, Some(scope));
    }
    let role = t
        .service_account(old.b, old.sa_role.0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(role.credential.role, Some(Role::Developer));
    let custom = t
        .service_account(old.b, old.sa_custom.0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(custom.custom_role_uuid, Some(old.custom_role));
    assert_eq!(
        found(&t, &old.b_key).await.account_scope,
        None,
        "an API key has no account scope"
    );
    // The project-scoped account left with no project keeps its scope: its
    // role cannot be set.
    assert_err!(
        t.update_service_account(
            old.sa_gone.0,
            &ServiceAccountChange {
                role: Some(RoleRef::System(Role::Admin)),
                ..ServiceAccountChange::default()
            },
            &ev(old.a, "service_account.updated")
        )
        .await,
        StoreError::NotFound
    );
    t.update_service_account(
        old.sa_role.0,
        &ServiceAccountChange {
            role: Some(RoleRef::System(Role::Viewer)),
            ..ServiceAccountChange::default()
        },
        &ev(old.b, "service_account.updated"),
    )
    .await
    .unwrap();

    // Organization names may now repeat.
    let twin = Org {
        created_at: old.t0 + secs(100),
        ..new_org_value("acme")
    };
    t.create_org(
        &twin,
        &NewAdmin::Existing(old.alice),
        &ev(twin.uuid, "org.created"),
    )
    .await
    .unwrap();
    assert_eq!(
        t.orgs_by_name("acme")
            .await
            .unwrap()
            .iter()
            .map(|o| o.uuid)
            .collect::<Vec<_>>(),
        vec![old.a, twin.uuid]
    );

    // Foreign keys are enforced again, and point at the rebuilt table.
    assert!(
        t.create_session(&NewSession {
            id_hash: new_hash(),
            user_uuid: old.alice,
            org_uuid: Uuid::new_v4(),
            created_at: now(),
            expires_at: now() + Duration::days(1),
        })
        .await
        .is_err(),
        "a session of no organization"
    );
    let mut raw = t.raw().await;
    sqlx::query("DELETE FROM orgs WHERE uuid = $1")
        .bind(old.b.to_string())
        .execute(&mut raw)
        .await
        .expect("delete B");
    raw.close().await.ok();
    for sql in [
        "SELECT COUNT(*) FROM memberships WHERE org_uuid = $1",
        "SELECT COUNT(*) FROM projects WHERE org_uuid = $1",
        "SELECT COUNT(*) FROM credentials WHERE org_uuid = $1",
        "SELECT COUNT(*) FROM sessions WHERE org_uuid = $1",
        "SELECT COUNT(*) FROM invites WHERE org_uuid = $1",
        "SELECT COUNT(*) FROM custom_roles WHERE org_uuid = $1",
    ] {
        assert_eq!(count(sql, old.b).await, 0, "deleting B cascades: {sql}");
    }
    assert_eq!(t.members(old.a).await.unwrap().len(), 4, "A untouched");
    assert_eq!(
        count(
            "SELECT COUNT(*) FROM credentials WHERE org_uuid = $1",
            old.a
        )
        .await,
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_from_previous_schema_sqlite() {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let path = dir.path().join("latchkey.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let old = build_old_database(
        &url,
        migrations_before(sqlx::migrate!("./migrations/sqlite"), 4),
    )
    .await;
    let store = SqlStore::open_sqlite(&path, &PoolSettings::default())
        .await
        .expect("upgrade SQLite");
    let db = TestDb {
        store,
        raw_url: format!("sqlite://{}", path.display()),
    };
    let outcome = run_body(db, |t| upgraded_rows_are_right(t, old)).await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
    // The upgraded schema is the one a fresh database gets.
    let fresh_path = dir.path().join("fresh.db");
    SqlStore::open_sqlite(&fresh_path, &PoolSettings::default())
        .await
        .expect("fresh SQLite")
        .close()
        .await;
    assert_eq!(sqlite_schema(&path).await, sqlite_schema(&fresh_path).await);
    drop(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_from_previous_schema_postgres() {
    let pg = PgDatabase::create().await;
    let fresh = PgDatabase::create().await;
    let (url, fresh_url) = (pg.url.clone(), fresh.url.clone());
    // (Not in the task: the migrator's future is not `Send`.)
    let old = build_old_database(
        &url,
        migrations_before(sqlx::migrate!("./migrations/postgres"), 5),
    )
    .await;
    let outcome = tokio::spawn(async move {
        let store = SqlStore::open_postgres(&url, &PoolSettings::default())
            .await
            .expect("upgrade PostgreSQL");
        let db = TestDb {
            store,
            raw_url: url.clone(),
        };
        if let Err(panic) = run_body(db, |t| upgraded_rows_are_right(t, old)).await {
            std::panic::resume_unwind(panic);
        }
        SqlStore::open_postgres(&fresh_url, &PoolSettings::default())
            .await
            .expect("fresh PostgreSQL")
            .close()
            .await;
        assert_eq!(
            postgres_schema(&url).await,
            postgres_schema(&fresh_url).await
        );
    })
    .await;
    drop((pg, fresh));
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// The SQLite file holds every hash: only its owner may read it, whether
/// the store creates it or finds it readable by others.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::TempDir::new().expect("temp dir");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let path = dir.path().join("latchkey.db");
    let store = SqlStore::open_sqlite(&path, &PoolSettings::default())
        .await
        .expect("open");
    new_org(
        &TestDb {
            store: store.clone(),
            raw_url: String::new(),
        },
        "acme",
    )
    .await;
    assert_eq!(mode(&path), 0o600, "a new database file");
    for suffix in ["-wal", "-shm"] {
        let side = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
        if side.exists() {
            assert_eq!(mode(&side), 0o600, "{}", side.display());
        }
    }
    store.close().await;

    let shared = dir.path().join("shared.db");
    std::fs::write(&shared, b"").unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o644)).unwrap();
    SqlStore::open_sqlite(&shared, &PoolSettings::default())
        .await
        .expect("open")
        .close()
        .await;
    assert_eq!(mode(&shared), 0o600, "an existing file readable by others");
    drop(dir);
}

// ---- custom roles ---------------------------------------------------------------

fn custom_role_value(org: Uuid, name: &str, scopes: &[&str], by: &User) -> CustomRole {
    CustomRole {
        uuid: Uuid::new_v4(),
        org_uuid: org,
        name: name.to_string(),
        description: Some(format!("about {name}")),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        created_at: now(),
        created_by: actor(by),
        updated_at: now(),
    }
}

async fn create_custom_role(
    t: &TestDb,
    org: Uuid,
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

async fn custom_roles_lifecycle(t: TestDb) {
    let (org, admin) = new_org(&t, "acme").await;
    let (other, other_admin) = new_org(&t, "globex").await;
    let mut log = AuditLog::start(&t, org.uuid).await;
    let role = custom_role_value(
        org.uuid,
        "Auditor",
        &["audit:read", "projects:read"],
        &admin,
    );
    t.create_custom_role(&role, &ev(org.uuid, "role.created"))
        .await
        .unwrap();
    log.expect(&t, "role.created").await;
    assert_eq!(
        t.custom_role(org.uuid, role.uuid).await.unwrap(),
        Some(role.clone())
    );
    // Not another organization's.
    assert_eq!(t.custom_role(other.uuid, role.uuid).await.unwrap(), None);
    // Unique per organization; the same name elsewhere is fine.
    let dup = custom_role_value(org.uuid, "Auditor", &["content:read"], &admin);
    assert_err!(
        t.create_custom_role(&dup, &ev(org.uuid, "role.created"))
            .await,
        StoreError::Conflict(_)
    );
    log.expect_none(&t).await;
    create_custom_role(&t, other.uuid, "Auditor", &["content:read"], &other_admin).await;
    let b = create_custom_role(&t, org.uuid, "Billing", &["content:read"], &admin).await;
    log.expect(&t, "role.created").await;
    let names: Vec<String> = t
        .custom_roles(org.uuid)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["Auditor", "Billing"]);

    // Update: name, description cleared, scopes.
    let later = now() + secs(5);
    t.update_custom_role(
        org.uuid,
        role.uuid,
        &CustomRoleChange {
            name: Some("Auditors".into()),
            description: Some(None),
            scopes: Some(vec!["audit:read".into()]),
        },
        later,
        &ev(org.uuid, "role.updated"),
    )
    .await
    .unwrap();
    log.expect(&t, "role.updated").await;
    let updated = t.custom_role(org.uuid, role.uuid).await.unwrap().unwrap();
    assert_eq!(updated.name, "Auditors");
    assert_eq!(updated.description, None);
    assert_eq!(updated.scopes, ["audit:read"]);
    assert_eq!(updated.updated_at, later);
    assert_eq!(updated.created_at, role.created_at);
    // A partial change keeps the rest.
    t.update_custom_role(
        org.uuid,
        role.uuid,
        &CustomRoleChange {
            description: Some(Some("d".into())),
            ..CustomRoleChange::default()
        },
        later,
        &ev(org.uuid, "role.updated"),
    )
    .await
    .unwrap();
    log.expect(&t, "role.updated").await;
    let updated = t.custom_role(org.uuid, role.uuid).await.unwrap().unwrap();
    assert_eq!(
        (updated.name.as_str(), updated.description.as_deref()),
        ("Auditors", Some("d"))
    );
    // Renaming onto another role's name conflicts; another org's role is not found.
    assert_err!(
        t.update_custom_role(
            org.uuid,
            b.uuid,
            &CustomRoleChange {
                name: Some("Auditors".into()),
                ..CustomRoleChange::default()
            },
            later,
            &ev(org.uuid, "role.updated"),
        )
        .await,
        StoreError::Conflict(_)
    );
    assert_err!(
        t.update_custom_role(
            other.uuid,
            role.uuid,
            &CustomRoleChange::default(),
            later,
            &ev(other.uuid, "role.updated")
        )
        .await,
        StoreError::NotFound
    );
    log.expect_none(&t).await;

    t.delete_custom_role(org.uuid, role.uuid, &ev(org.uuid, "role.deleted"))
        .await
        .unwrap();
    log.expect(&t, "role.deleted").await;
    assert_eq!(t.custom_role(org.uuid, role.uuid).await.unwrap(), None);
    assert_err!(
        t.delete_custom_role(org.uuid, role.uuid, &ev(org.uuid, "role.deleted"))
            .await,
        StoreError::NotFound
    );
    log.expect_none(&t).await;
}

async fn custom_role_of_a_member(t: TestDb) {
    let (org, admin) = new_org(&t, "acme").await;
    let role = create_custom_role(
        &t,
        org.uuid,
        "Readers",
        &["projects:read", "audit:read"],
        &admin,
    )
    .await;
    let user = new_user("reader@acme.test");
    let invite = invite_at(now());
    t.add_member(
        &NewMember {
            org_uuid: org.uuid,
            user: MemberUser::New(user.clone()),
            role: RoleRef::Custom(role.uuid),
            now: now(),
        },
        &invite,
        &ev(org.uuid, "member.invited"),
    )
    .await
    .unwrap();
    let member = t.member(org.uuid, user.uuid).await.unwrap().unwrap();
    assert_eq!(member.membership.role, RoleRef::Custom(role.uuid));
    // While only invited, a PAT of theirs carries no membership and so no
    // custom role.
    let token = pat(org.uuid, &user, "reader", now());
    let hash = insert(&t, &token).await;
    let record = found(&t, &hash).await;
    assert_eq!((record.membership, record.custom_role), (None, None));
    // Accepted: the PAT carries the custom role's scopes to the request path.
    accept(&t, &invite.code_hash, &set_password("$argon2id$reader")).await;
    let record = found(&t, &hash).await;
    assert_eq!(
        record.custom_role,
        Some((
            role.uuid,
            "Readers".to_string(),
            vec!["projects:read".to_string(), "audit:read".to_string()]
        ))
    );
    assert!(record.projects.is_empty());
    // A system role replaces it.
    t.update_member(
        org.uuid,
        user.uuid,
        &MemberChange {
            role: Some(RoleRef::System(Role::Editor)),
            suspended_at: None,
        },
        &ev(org.uuid, "member.role_changed"),
    )
    .await
    .unwrap();
    let member = t.member(org.uuid, user.uuid).await.unwrap().unwrap();
    assert_eq!(member.membership.role, RoleRef::System(Role::Editor));
    assert_eq!(found(&t, &hash).await.custom_role, None);
    // And back.
    t.update_member(
        org.uuid,
        user.uuid,
        &MemberChange {
            role: Some(RoleRef::Custom(role.uuid)),
            suspended_at: None,
        },
        &ev(org.uuid, "member.role_changed"),
    )
    .await
    .unwrap();
    assert_eq!(
        found(&t, &hash).await.custom_role.map(|c| c.0),
        Some(role.uuid)
    );
    // A suspension alone leaves the role as it is.
    t.update_member(
        org.uuid,
        user.uuid,
        &MemberChange {
            role: None,
            suspended_at: Some(Some(now())),
        },
        &ev(org.uuid, "member.suspended"),
    )
    .await
    .unwrap();
    let member = t.member(org.uuid, user.uuid).await.unwrap().unwrap();
    assert_eq!(member.membership.role, RoleRef::Custom(role.uuid));
}

fn service_account_value(org: Uuid, by: &User) -> Credential {
    Credential {
        name: "bot".into(),
        display_prefix: "lksvc_abcd".into(),
        ..org_credential(CredentialKind::ServiceAccount, org, by, Role::Viewer)
    }
}

async fn insert_account(t: &TestDb, a: &ServiceAccount) -> TokenHash {
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

async fn custom_role_delete_while_assigned(t: TestDb) {
    let (org, admin) = new_org(&t, "acme").await;
    let role = create_custom_role(&t, org.uuid, "Held", &["projects:read"], &admin).await;
    let mut log = AuditLog::start(&t, org.uuid).await;
    let project = create_project(&t, org.uuid, "web", &admin).await;
    log.expect(&t, "project.created").await;

    // Held by an organization-scoped service account.
    let mut credential = service_account_value(org.uuid, &admin);
    credential.role = None;
    let account = ServiceAccount {
        scope: AccountScope::Organization,
        credential,
        custom_role_uuid: Some(role.uuid),
        grants: Vec::new(),
    };
    insert_account(&t, &account).await;
    log.expect(&t, "service_account.created").await;
    assert_err!(
        t.delete_custom_role(org.uuid, role.uuid, &ev(org.uuid, "role.deleted"))
            .await,
        StoreError::Conflict(_)
    );
    log.expect_none(&t).await;
    t.revoke_credential(
        account.credential.uuid,
        now(),
        &ev(org.uuid, "service_account.deleted"),
    )
    .await
    .unwrap();
    log.expect(&t, "service_account.deleted").await;

    // Held by a project row.
    let mut credential = service_account_value(org.uuid, &admin);
    credential.role = None;
    let rows = ServiceAccount {
        scope: AccountScope::Project,
        credential,
        custom_role_uuid: None,
        grants: vec![ServiceAccountGrant {
            project_uuid: project.uuid,
            role: RoleRef::Custom(role.uuid),
        }],
    };
    insert_account(&t, &rows).await;
    log.expect(&t, "service_account.created").await;
    assert_err!(
        t.delete_custom_role(org.uuid, role.uuid, &ev(org.uuid, "role.deleted"))
            .await,
        StoreError::Conflict(_)
    );
    t.revoke_credential(
        rows.credential.uuid,
        now(),
        &ev(org.uuid, "service_account.deleted"),
    )
    .await
    .unwrap();
    log.expect(&t, "service_account.deleted").await;

    // Held by a member.
    let user = add_new_member(&t, org.uuid, "m@acme.test", Role::Viewer).await;
    log.expect_all(&t, &["member.invited", "member.joined"])
        .await;
    t.update_member(
        org.uuid,
        user.uuid,
        &MemberChange {
            role: Some(RoleRef::Custom(role.uuid)),
            suspended_at: None,
        },
        &ev(org.uuid, "member.role_changed"),
    )
    .await
    .unwrap();
    log.expect(&t, "member.role_changed").await;
    assert_err!(
        t.delete_custom_role(org.uuid, role.uuid, &ev(org.uuid, "role.deleted"))
            .await,
        StoreError::Conflict(_)
    );
    log.expect_none(&t).await;
    t.remove_member(org.uuid, user.uuid, now(), &ev(org.uuid, "member.removed"))
        .await
        .unwrap();
    log.expect(&t, "member.removed").await;

    // Held by nothing now.
    t.delete_custom_role(org.uuid, role.uuid, &ev(org.uuid, "role.deleted"))
        .await
        .unwrap();
    log.expect(&t, "role.deleted").await;
}

async fn service_accounts_lifecycle(t: TestDb) {
    let (org, admin) = new_org(&t, "acme").await;
    let (other, _) = new_org(&t, "globex").await;
    let role = create_custom_role(&t, org.uuid, "Deployer", &["deploy:write"], &admin).await;
    let mut log = AuditLog::start(&t, org.uuid).await;

    // Legacy scopes are kept in the credential's scopes.
    let mut legacy = service_account_value(org.uuid, &admin);
    legacy.role = None;
    legacy.scopes = Some(vec!["org:edit".into()]);
    let legacy = ServiceAccount {
        scope: AccountScope::Organization,
        credential: legacy,
        custom_role_uuid: None,
        grants: Vec::new(),
    };
    let legacy_hash = insert_account(&t, &legacy).await;
    log.expect(&t, "service_account.created").await;
    let read = t
        .service_account(org.uuid, legacy.credential.uuid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read, legacy);
    assert_eq!(read.scope, AccountScope::Organization);
    assert!(!read.is_project_scoped());
    let record = found(&t, &legacy_hash).await;
    assert_eq!(record.credential.scopes, Some(vec!["org:edit".to_string()]));
    assert_eq!(record.custom_role, None);
    assert_eq!(record.account_scope, Some(AccountScope::Organization));

    // A custom role reaches the request path with its scopes.
    let mut custom = service_account_value(org.uuid, &admin);
    custom.role = None;
    let custom = ServiceAccount {
        scope: AccountScope::Organization,
        credential: custom,
        custom_role_uuid: Some(role.uuid),
        grants: Vec::new(),
    };
    let custom_hash = insert_account(&t, &custom).await;
    log.expect(&t, "service_account.created").await;
    assert_eq!(
        found(&t, &custom_hash).await.custom_role,
        Some((
            role.uuid,
            "Deployer".to_string(),
            vec!["deploy:write".to_string()]
        ))
    );

    // Listed newest first; not another organization's; not an API key.
    let listed: Vec<Uuid> = t
        .service_accounts(org.uuid)
        .await
        .unwrap()
        .iter()
        .map(|a| a.credential.uuid)
        .collect();
    assert_eq!(listed.len(), 2);
    assert!(t.service_accounts(other.uuid).await.unwrap().is_empty());
    assert_eq!(
        t.service_account(other.uuid, custom.credential.uuid)
            .await
            .unwrap(),
        None
    );
    let key = org_credential(CredentialKind::ApiKey, org.uuid, &admin, Role::Viewer);
    insert(&t, &key).await;
    log.expect(&t, "pat.created").await;
    assert_eq!(t.service_account(org.uuid, key.uuid).await.unwrap(), None);
    assert_err!(
        t.update_service_account(
            key.uuid,
            &ServiceAccountChange {
                name: Some("x".into()),
                ..ServiceAccountChange::default()
            },
            &ev(org.uuid, "service_account.updated")
        )
        .await,
        StoreError::NotFound
    );
    log.expect_none(&t).await;

    // Update: the description alone, then a system role in place of the
    // legacy scopes, then a custom role in place of the system role.
    t.update_service_account(
        legacy.credential.uuid,
        &ServiceAccountChange {
            name: Some("renamed".into()),
            ..ServiceAccountChange::default()
        },
        &ev(org.uuid, "service_account.updated"),
    )
    .await
    .unwrap();
    log.expect(&t, "service_account.updated").await;
    let read = t
        .service_account(org.uuid, legacy.credential.uuid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.credential.name, "renamed");
    assert_eq!(read.credential.scopes, Some(vec!["org:edit".to_string()]));
    t.update_service_account(
        legacy.credential.uuid,
        &ServiceAccountChange {
            role: Some(RoleRef::System(Role::Developer)),
            ..ServiceAccountChange::default()
        },
        &ev(org.uuid, "service_account.updated"),
    )
    .await
    .unwrap();
    log.expect(&t, "service_account.updated").await;
    let read = t
        .service_account(org.uuid, legacy.credential.uuid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            read.credential.role,
            read.credential.scopes.clone(),
            read.custom_role_uuid
        ),
        (Some(Role::Developer), None, None)
    );
    t.update_service_account(
        legacy.credential.uuid,
        &ServiceAccountChange {
            role: Some(RoleRef::Custom(role.uuid)),
            ..ServiceAccountChange::default()
        },
        &ev(org.uuid, "service_account.updated"),
    )
    .await
    .unwrap();
    log.expect(&t, "service_account.updated").await;
    let read = t
        .service_account(org.uuid, legacy.credential.uuid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (read.credential.role, read.custom_role_uuid),
        (None, Some(role.uuid))
    );
    assert_eq!(
        found(&t, &legacy_hash).await.custom_role.map(|c| c.0),
        Some(role.uuid)
    );

    // The expiry alone, then name and expiry together; the role stays.
    let exp = now() + Duration::days(30);
    t.update_service_account(
        legacy.credential.uuid,
        &ServiceAccountChange {
            expires_at: Some(exp),
            ..ServiceAccountChange::default()
        },
        &ev(org.uuid, "service_account.updated"),
    )
    .await
    .unwrap();
    log.expect(&t, "service_account.updated").await;
    let read = t
        .service_account(org.uuid, legacy.credential.uuid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            read.credential.name.as_str(),
            read.credential.expires_at,
            read.custom_role_uuid
        ),
        ("renamed", Some(exp), Some(role.uuid))
    );
    t.update_service_account(
        legacy.credential.uuid,
        &ServiceAccountChange {
            name: Some("deployer".into()),
            expires_at: Some(exp + Duration::days(1)),
            role: None,
        },
        &ev(org.uuid, "service_account.updated"),
    )
    .await
    .unwrap();
    log.expect(&t, "service_account.updated").await;
    let record = found(&t, &legacy_hash).await;
    assert_eq!(
        (
            record.credential.name.as_str(),
            record.credential.expires_at,
            record.custom_role.map(|c| c.0)
        ),
        ("deployer", Some(exp + Duration::days(1)), Some(role.uuid))
    );

    // Revoked: gone from reads.
    t.revoke_credential(
        custom.credential.uuid,
        now(),
        &ev(org.uuid, "service_account.deleted"),
    )
    .await
    .unwrap();
    log.expect(&t, "service_account.deleted").await;
    assert_eq!(
        t.service_account(org.uuid, custom.credential.uuid)
            .await
            .unwrap(),
        None
    );
    assert_eq!(t.service_accounts(org.uuid).await.unwrap().len(), 1);
    assert_err!(
        t.update_service_account(
            custom.credential.uuid,
            &ServiceAccountChange {
                name: Some("x".into()),
                ..ServiceAccountChange::default()
            },
            &ev(org.uuid, "service_account.updated")
        )
        .await,
        StoreError::NotFound
    );
    log.expect_none(&t).await;
}

async fn service_accounts_project_rows(t: TestDb) {
    let (org, admin) = new_org(&t, "acme").await;
    let role = create_custom_role(&t, org.uuid, "Previewer", &["previews:write"], &admin).await;
    let web = create_project(&t, org.uuid, "web", &admin).await;
    let api = create_project(&t, org.uuid, "api", &admin).await;
    let mut log = AuditLog::start(&t, org.uuid).await;
    let mut credential = service_account_value(org.uuid, &admin);
    credential.role = None;
    let account = ServiceAccount {
        scope: AccountScope::Project,
        credential,
        custom_role_uuid: None,
        grants: vec![
            ServiceAccountGrant {
                project_uuid: web.uuid,
                role: RoleRef::System(Role::Editor),
            },
            ServiceAccountGrant {
                project_uuid: api.uuid,
                role: RoleRef::Custom(role.uuid),
            },
        ],
    };
    let hash = insert_account(&t, &account).await;
    log.expect(&t, "service_account.created").await;
    // Rows come back by project name.
    let read = t
        .service_account(org.uuid, account.credential.uuid)
        .await
        .unwrap()
        .unwrap();
    assert!(read.is_project_scoped());
    assert_eq!(
        read.grants,
        [account.grants[1].clone(), account.grants[0].clone()]
    );
    // The request path gets each row with its custom role's scopes.
    let mut rows = found(&t, &hash).await.projects;
    rows.sort_by_key(|r| r.project_uuid == web.uuid);
    assert_eq!(
        rows,
        [
            ProjectAccessRecord {
                project_uuid: api.uuid,
                role: None,
                custom_role: Some((role.uuid, "Previewer".into(), vec!["previews:write".into()])),
            },
            ProjectAccessRecord {
                project_uuid: web.uuid,
                role: Some(Role::Editor),
                custom_role: None
            },
        ]
    );

    // A project listed twice is refused, and nothing is written.
    let mut credential = service_account_value(org.uuid, &admin);
    credential.role = None;
    let twice = ServiceAccount {
        scope: AccountScope::Project,
        credential,
        custom_role_uuid: None,
        grants: vec![
            ServiceAccountGrant {
                project_uuid: web.uuid,
                role: RoleRef::System(Role::Viewer),
            },
            ServiceAccountGrant {
                project_uuid: web.uuid,
                role: RoleRef::System(Role::Editor),
            },
        ],
    };
    assert_err!(
        t.insert_service_account(
            &twice,
            &new_hash(),
            &ev(org.uuid, "service_account.created")
        )
        .await,
        StoreError::Conflict(_)
    );
    log.expect_none(&t).await;
    assert_eq!(
        t.service_account(org.uuid, twice.credential.uuid)
            .await
            .unwrap(),
        None
    );

    // A deleted project drops out of the rows.
    t.delete_project(org.uuid, api.uuid, &ev(org.uuid, "project.deleted"))
        .await
        .unwrap();
    log.expect(&t, "project.deleted").await;
    let read = t
        .service_account(org.uuid, account.credential.uuid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.grants.len(), 1);
    assert_eq!(found(&t, &hash).await.projects.len(), 1);

    // With every project deleted the account reaches nothing, and is still
    // project-scoped: the scope is what it was created with.
    t.delete_project(org.uuid, web.uuid, &ev(org.uuid, "project.deleted"))
        .await
        .unwrap();
    log.expect(&t, "project.deleted").await;
    let read = t
        .service_account(org.uuid, account.credential.uuid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.scope, AccountScope::Project);
    assert!(read.is_project_scoped());
    assert!(read.grants.is_empty());
    let listed = t.service_accounts(org.uuid).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].is_project_scoped());
    let record = found(&t, &hash).await;
    assert_eq!(record.account_scope, Some(AccountScope::Project));
    assert!(record.projects.is_empty());
    assert_eq!((record.credential.role, record.custom_role), (None, None));

    // Its role cannot be changed (to a system or a custom role), even
    // together with a name; nothing is written.
    for role in [RoleRef::System(Role::Admin), RoleRef::Custom(role.uuid)] {
        assert_err!(
            t.update_service_account(
                account.credential.uuid,
                &ServiceAccountChange {
                    name: Some("promoted".into()),
                    role: Some(role),
                    expires_at: None,
                },
                &ev(org.uuid, "service_account.updated")
            )
            .await,
            StoreError::NotFound
        );
    }
    log.expect_none(&t).await;
    let record = found(&t, &hash).await;
    assert_eq!(record.credential, account.credential);
    assert_eq!(record.custom_role, None);
    assert_eq!(
        t.service_account(org.uuid, account.credential.uuid)
            .await
            .unwrap()
            .unwrap()
            .custom_role_uuid,
        None
    );
    // Its name and expiry can.
    let exp = now() + Duration::days(5);
    t.update_service_account(
        account.credential.uuid,
        &ServiceAccountChange {
            name: Some("previews".into()),
            role: None,
            expires_at: Some(exp),
        },
        &ev(org.uuid, "service_account.updated"),
    )
    .await
    .unwrap();
    log.expect(&t, "service_account.updated").await;
    let read = t
        .service_account(org.uuid, account.credential.uuid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            read.credential.name.as_str(),
            read.credential.expires_at,
            read.scope
        ),
        ("previews", Some(exp), AccountScope::Project)
    );
}

async fn custom_role_on_a_project(t: TestDb) {
    let (org, admin) = new_org(&t, "acme").await;
    let role = create_custom_role(&t, org.uuid, "Shipper", &["deploy:write"], &admin).await;
    let web = create_project(&t, org.uuid, "web", &admin).await;
    let bob = add_new_member(&t, org.uuid, "bob@acme.test", Role::Member).await;
    let mut log = AuditLog::start(&t, org.uuid).await;
    t.set_project_custom_role(
        org.uuid,
        web.uuid,
        bob.uuid,
        role.uuid,
        now(),
        &ev(org.uuid, "project_access.granted"),
    )
    .await
    .unwrap();
    log.expect(&t, "project_access.granted").await;
    assert_eq!(
        t.member_project_roles(org.uuid, bob.uuid).await.unwrap(),
        [MemberProjectRole {
            project_uuid: web.uuid,
            role: Role::Member,
            custom_role: Some((role.uuid, "Shipper".into(), vec!["deploy:write".into()])),
        }]
    );
    let grants = t.project_access(web.uuid).await.unwrap();
    assert_eq!(grants[0].role.custom(), Some(role.uuid));
    assert_err!(
        t.delete_custom_role(org.uuid, role.uuid, &ev(org.uuid, "role.deleted"))
            .await,
        StoreError::Conflict(_)
    );
    log.expect_none(&t).await;
    // A system role replaces the custom one, and back.
    t.set_project_role(
        org.uuid,
        web.uuid,
        bob.uuid,
        Role::Editor,
        now(),
        &ev(org.uuid, "project_access.granted"),
    )
    .await
    .unwrap();
    log.expect(&t, "project_access.granted").await;
    assert_eq!(
        t.member_project_roles(org.uuid, bob.uuid).await.unwrap(),
        [MemberProjectRole {
            project_uuid: web.uuid,
            role: Role::Editor,
            custom_role: None
        }]
    );
    assert_eq!(
        t.project_access(web.uuid).await.unwrap()[0].role.custom(),
        None
    );
    t.set_project_custom_role(
        org.uuid,
        web.uuid,
        bob.uuid,
        role.uuid,
        now(),
        &ev(org.uuid, "project_access.granted"),
    )
    .await
    .unwrap();
    log.expect(&t, "project_access.granted").await;
    t.remove_project_role(web.uuid, bob.uuid, &ev(org.uuid, "project_access.revoked"))
        .await
        .unwrap();
    log.expect(&t, "project_access.revoked").await;
    assert!(t
        .member_project_roles(org.uuid, bob.uuid)
        .await
        .unwrap()
        .is_empty());
    t.delete_custom_role(org.uuid, role.uuid, &ev(org.uuid, "role.deleted"))
        .await
        .unwrap();
    log.expect(&t, "role.deleted").await;
}

// ---- invitations -----------------------------------------------------------------

/// Whether the pending link `code` may set its account's password.
async fn link_sets_password(t: &TestDb, code: &TokenHash) -> bool {
    t.pending_invite(code, now())
        .await
        .unwrap()
        .expect("a pending invitation")
        .sets_password
}

async fn password_of(t: &TestDb, email: &str) -> Option<String> {
    t.user_by_email(email)
        .await
        .unwrap()
        .expect("the user")
        .password_hash
}

/// A session of `user` pointing at `org`, valid for a day.
async fn new_session(t: &TestDb, user: Uuid, org: Uuid) -> TokenHash {
    let s = NewSession {
        id_hash: new_hash(),
        user_uuid: user,
        org_uuid: org,
        created_at: now(),
        expires_at: now() + Duration::days(1),
    };
    t.create_session(&s).await.expect("create_session");
    s.id_hash
}

async fn invites_sets_password_rule(t: TestDb) {
    let (a, _) = new_org(&t, "acme").await;
    let (b, zed) = new_org(&t, "bravo").await;
    let (c, _) = new_org(&t, "charlie").await;

    // The first invitation of a new account may set its password ...
    let (x, xa) = invite_new_member(&t, a.uuid, "x@example.com", Role::Viewer).await;
    assert!(link_sets_password(&t, &xa).await);
    // ... one from another organization while the first is pending may not,
    let xb = invite_existing_member(&t, b.uuid, x.uuid, Role::Viewer).await;
    assert!(!link_sets_password(&t, &xb).await);
    let mut log_b = AuditLog::start(&t, b.uuid).await;
    assert_err!(
        t.accept_invite(
            &xb,
            &set_password("$argon2id$from-b"),
            now(),
            &ev(b.uuid, "member.joined")
        )
        .await,
        StoreError::NotFound
    );
    log_b.expect_none(&t).await;
    assert_eq!(password_of(&t, "x@example.com").await, None);
    assert!(
        t.pending_invite(&xb, now()).await.unwrap().is_some(),
        "unused"
    );

    // ... and a reissue keeps the right where it was: with A's invitation.
    let xa2 = invite_at(now());
    t.reissue_invite(a.uuid, x.uuid, &xa2, &ev(a.uuid, "member.invite_reissued"))
        .await
        .unwrap();
    assert!(link_sets_password(&t, &xa2.code_hash).await);
    let xb2 = invite_at(now());
    t.reissue_invite(b.uuid, x.uuid, &xb2, &ev(b.uuid, "member.invite_reissued"))
        .await
        .unwrap();
    log_b.expect(&t, "member.invite_reissued").await;
    assert!(!link_sets_password(&t, &xb2.code_hash).await);
    let xc = invite_existing_member(&t, c.uuid, x.uuid, Role::Viewer).await;
    assert!(!link_sets_password(&t, &xc).await);
    assert!(
        t.memberships_of(x.uuid).await.unwrap().is_empty(),
        "three invitations, no membership"
    );

    // A's link sets the password; the others are then accepted by session.
    accept(&t, &xa2.code_hash, &set_password("$argon2id$x")).await;
    assert_eq!(
        password_of(&t, "x@example.com").await.as_deref(),
        Some("$argon2id$x")
    );
    assert_err!(
        t.accept_invite(
            &xb2.code_hash,
            &set_password("$argon2id$again"),
            now(),
            &ev(b.uuid, "member.joined")
        )
        .await,
        StoreError::NotFound
    );
    log_b.expect_none(&t).await;
    accept(&t, &xb2.code_hash, &by_session(x.uuid)).await;
    log_b.expect(&t, "member.joined").await;
    let xc2 = invite_at(now());
    t.reissue_invite(c.uuid, x.uuid, &xc2, &ev(c.uuid, "member.invite_reissued"))
        .await
        .unwrap();
    assert!(
        !link_sets_password(&t, &xc2.code_hash).await,
        "an account with a password"
    );
    let orgs: BTreeSet<Uuid> = t
        .memberships_of(x.uuid)
        .await
        .unwrap()
        .into_iter()
        .map(|(o, _)| o.uuid)
        .collect();
    assert_eq!(orgs, BTreeSet::from([a.uuid, b.uuid]), "C is still pending");

    // An account with a password never gets one set: one that is a member
    // elsewhere, or one that is a member nowhere (any longer).
    let p = add_new_member(&t, a.uuid, "p@example.com", Role::Viewer).await;
    t.remove_member(a.uuid, p.uuid, now(), &ev(a.uuid, "member.removed"))
        .await
        .unwrap();
    assert!(t.memberships_of(p.uuid).await.unwrap().is_empty());
    for (user, email, password) in [
        (zed.uuid, zed.email.as_str(), "$argon2id$test"),
        (p.uuid, "p@example.com", "$argon2id$p@example.com"),
    ] {
        let code = invite_existing_member(&t, c.uuid, user, Role::Editor).await;
        assert!(!link_sets_password(&t, &code).await, "{email}");
        assert_err!(
            t.accept_invite(
                &code,
                &set_password("$argon2id$hijack"),
                now(),
                &ev(c.uuid, "member.joined")
            )
            .await,
            StoreError::NotFound
        );
        assert_eq!(password_of(&t, email).await.as_deref(), Some(password));
        accept(&t, &code, &by_session(user)).await;
    }

    // Withdrawn before anything else: a new invitation from elsewhere is
    // then the first, and gets the right.
    let (y, ya) = invite_new_member(&t, a.uuid, "y@example.com", Role::Viewer).await;
    assert!(link_sets_password(&t, &ya).await);
    t.withdraw_invite(a.uuid, y.uuid, &ev(a.uuid, "member.invite_withdrawn"))
        .await
        .unwrap();
    let yb = invite_existing_member(&t, b.uuid, y.uuid, Role::Viewer).await;
    assert!(link_sets_password(&t, &yb).await);
    accept(&t, &yb, &set_password("$argon2id$y")).await;
    assert_eq!(
        password_of(&t, "y@example.com").await.as_deref(),
        Some("$argon2id$y")
    );

    // A link that had no right does not gain it when the one that had it is
    // withdrawn: the right is decided when an invitation is issued.
    let (w, wa) = invite_new_member(&t, a.uuid, "w@example.com", Role::Viewer).await;
    let wc = invite_existing_member(&t, c.uuid, w.uuid, Role::Viewer).await;
    assert!(link_sets_password(&t, &wa).await);
    assert!(!link_sets_password(&t, &wc).await);
    t.withdraw_invite(a.uuid, w.uuid, &ev(a.uuid, "member.invite_withdrawn"))
        .await
        .unwrap();
    assert!(!link_sets_password(&t, &wc).await);
}

/// Two organizations invite the same account (no password, nothing
/// anywhere) at the same moment: at most one of the links may set its
/// password.
async fn invites_concurrent_first_invitations(t: TestDb) {
    let (a, _) = new_org(&t, "acme").await;
    let (b, _) = new_org(&t, "bravo").await;
    let (c, _) = new_org(&t, "charlie").await;
    for round in 0..8 {
        // An account with nothing anywhere: invited, then withdrawn.
        let (x, _) =
            invite_new_member(&t, a.uuid, &format!("x{round}@example.com"), Role::Viewer).await;
        t.withdraw_invite(a.uuid, x.uuid, &ev(a.uuid, "member.invite_withdrawn"))
            .await
            .unwrap();
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let tasks: Vec<_> = [b.uuid, c.uuid]
            .into_iter()
            .map(|org| {
                let store = t.store.clone();
                let barrier = barrier.clone();
                let invite = invite_at(now());
                tokio::spawn(async move {
                    barrier.wait().await;
                    store
                        .add_member(
                            &NewMember {
                                org_uuid: org,
                                user: MemberUser::Existing(x.uuid),
                                role: RoleRef::System(Role::Viewer),
                                now: now(),
                            },
                            &invite,
                            &ev(org, "member.invited"),
                        )
                        .await
                        .expect("add_member");
                    invite.code_hash
                })
            })
            .collect();
        let mut setting = 0;
        for task in tasks {
            let code = task.await.expect("task");
            if link_sets_password(&t, &code).await {
                setting += 1;
            }
        }
        assert!(
            setting <= 1,
            "round {round}: {setting} links may set the password of one account"
        );
    }
}

async fn invites_accept_by_session(t: TestDb) {
    let (a, alice) = new_org(&t, "acme").await;
    let (_, zed) = new_org(&t, "bravo").await;
    let mut log = AuditLog::start(&t, a.uuid).await;

    // A link that may not set a password: only zed's own session.
    let code = invite_existing_member(&t, a.uuid, zed.uuid, Role::Editor).await;
    log.expect(&t, "member.invited").await;
    for wrong in [
        by_session(alice.uuid),
        by_session(Uuid::new_v4()),
        set_password("$argon2id$x"),
    ] {
        assert_err!(
            t.accept_invite(&code, &wrong, now(), &ev(a.uuid, "member.joined"))
                .await,
            StoreError::NotFound
        );
    }
    log.expect_none(&t).await;
    assert_eq!(
        t.member(a.uuid, zed.uuid)
            .await
            .unwrap()
            .unwrap()
            .membership
            .status(),
        MemberStatus::Invited
    );
    assert!(t.pending_invite(&code, now()).await.unwrap().is_some());
    let at = now();
    let (user, org) = t
        .accept_invite(
            &code,
            &by_session(zed.uuid),
            at,
            &ev(a.uuid, "member.joined"),
        )
        .await
        .unwrap();
    log.expect(&t, "member.joined").await;
    assert_eq!((user, org), (zed.clone(), a.uuid));
    let m = t.member(a.uuid, zed.uuid).await.unwrap().unwrap();
    assert_eq!(
        (m.membership.accepted_at, m.membership.role),
        (Some(at), RoleRef::System(Role::Editor))
    );
    // The code works once, whichever way.
    for again in [by_session(zed.uuid), set_password("$argon2id$x")] {
        assert_err!(
            t.accept_invite(&code, &again, now(), &ev(a.uuid, "member.joined"))
                .await,
            StoreError::NotFound
        );
    }
    log.expect_none(&t).await;

    // A link that may set the password can also be accepted by the
    // account's own session: that sets no password and ends no session.
    let (x, xa) = invite_new_member(&t, a.uuid, "x@example.com", Role::Viewer).await;
    log.expect(&t, "member.invited").await;
    let session = new_session(&t, x.uuid, a.uuid).await;
    assert_err!(
        t.accept_invite(
            &xa,
            &by_session(alice.uuid),
            now(),
            &ev(a.uuid, "member.joined")
        )
        .await,
        StoreError::NotFound
    );
    accept(&t, &xa, &by_session(x.uuid)).await;
    log.expect(&t, "member.joined").await;
    assert_eq!(password_of(&t, "x@example.com").await, None);
    let s = t.session(&session).await.unwrap().unwrap();
    assert_eq!(s.revoked_at, None);
    assert_eq!(
        s.membership.map(|m| m.role),
        Some(RoleRef::System(Role::Viewer))
    );
}

async fn invites_acceptance_ends_sessions(t: TestDb) {
    let (a, alice) = new_org(&t, "acme").await;
    let (b, _) = new_org(&t, "bravo").await;
    let (x, code) = invite_new_member(&t, a.uuid, "x@example.com", Role::Viewer).await;
    let (x_a, x_b) = (
        new_session(&t, x.uuid, a.uuid).await,
        new_session(&t, x.uuid, b.uuid).await,
    );
    let alice_a = new_session(&t, alice.uuid, a.uuid).await;
    assert_eq!(t.session(&x_a).await.unwrap().unwrap().revoked_at, None);

    let at = now();
    t.accept_invite(
        &code,
        &Acceptance::SetPassword {
            password_hash: "$argon2id$x",
            name: Some("Ex"),
        },
        at,
        &ev(a.uuid, "member.joined"),
    )
    .await
    .unwrap();
    // Every session of the account ends (kept, revoked), in every
    // organization; nobody else's.
    for s in [&x_a, &x_b] {
        assert_eq!(t.session(s).await.unwrap().unwrap().revoked_at, Some(at));
    }
    assert_eq!(t.session(&alice_a).await.unwrap().unwrap().revoked_at, None);
    // A session opened after setting the password is live, and a member's.
    let fresh = new_session(&t, x.uuid, a.uuid).await;
    let s = t.session(&fresh).await.unwrap().unwrap();
    assert_eq!(s.revoked_at, None);
    assert_eq!(s.user.name.as_deref(), Some("Ex"));
    assert_eq!(s.membership.map(|m| m.status()), Some(MemberStatus::Active));
}

async fn invites_reissue_and_withdraw(t: TestDb) {
    let (a, alice) = new_org(&t, "acme").await;
    let (b, _) = new_org(&t, "bravo").await;
    let mut log = AuditLog::start(&t, a.uuid).await;
    let log_b = AuditLog::start(&t, b.uuid).await;
    let (x, first) = invite_new_member(&t, a.uuid, "x@example.com", Role::Developer).await;
    log.expect(&t, "member.invited").await;
    let before = t.member(a.uuid, x.uuid).await.unwrap().unwrap();

    // Reissued: the old link dies, the new one works, nothing else changes.
    let t0 = now();
    let second = NewInvite {
        code_hash: new_hash(),
        created_at: t0,
        expires_at: t0 + Duration::days(2),
    };
    t.reissue_invite(
        a.uuid,
        x.uuid,
        &second,
        &ev(a.uuid, "member.invite_reissued"),
    )
    .await
    .unwrap();
    log.expect(&t, "member.invite_reissued").await;
    assert_eq!(t.pending_invite(&first, t0).await.unwrap(), None);
    assert_err!(
        t.accept_invite(&first, &set_password("x"), t0, &ev(a.uuid, "member.joined"))
            .await,
        StoreError::NotFound
    );
    log.expect_none(&t).await;
    assert_eq!(
        t.pending_invite(&second.code_hash, t0).await.unwrap(),
        Some(PendingInvite {
            org_uuid: a.uuid,
            user_uuid: x.uuid,
            sets_password: true,
            expires_at: t0 + Duration::days(2),
        })
    );
    assert_eq!(
        t.member(a.uuid, x.uuid).await.unwrap().as_ref(),
        Some(&before)
    );

    // Not found: nobody, or someone not invited to that organization.
    for (org, user) in [(a.uuid, Uuid::new_v4()), (b.uuid, x.uuid)] {
        let link = invite_at(now());
        assert_err!(
            t.reissue_invite(org, user, &link, &ev(org, "member.invite_reissued"))
                .await,
            StoreError::NotFound
        );
        assert_eq!(
            t.pending_invite(&link.code_hash, now()).await.unwrap(),
            None
        );
        assert_err!(
            t.withdraw_invite(org, user, &ev(org, "member.invite_withdrawn"))
                .await,
            StoreError::NotFound
        );
    }
    log.expect_none(&t).await;
    log_b.expect_none(&t).await;

    // Withdrawn: the membership and its links go, the account stays.
    t.withdraw_invite(a.uuid, x.uuid, &ev(a.uuid, "member.invite_withdrawn"))
        .await
        .unwrap();
    log.expect(&t, "member.invite_withdrawn").await;
    assert!(t.member(a.uuid, x.uuid).await.unwrap().is_none());
    assert_eq!(t.members(a.uuid).await.unwrap().len(), 1);
    assert_eq!(
        t.pending_invite(&second.code_hash, now()).await.unwrap(),
        None
    );
    assert_err!(
        t.accept_invite(
            &second.code_hash,
            &set_password("x"),
            now(),
            &ev(a.uuid, "member.joined")
        )
        .await,
        StoreError::NotFound
    );
    assert!(t.user_by_email("x@example.com").await.unwrap().is_some());
    assert_err!(
        t.withdraw_invite(a.uuid, x.uuid, &ev(a.uuid, "member.invite_withdrawn"))
            .await,
        StoreError::NotFound
    );
    assert_err!(
        t.reissue_invite(
            a.uuid,
            x.uuid,
            &invite_at(now()),
            &ev(a.uuid, "member.invite_reissued")
        )
        .await,
        StoreError::NotFound
    );
    log.expect_none(&t).await;
    // Invited again afterwards: a fresh invitation.
    let again = invite_existing_member(&t, a.uuid, x.uuid, Role::Viewer).await;
    log.expect(&t, "member.invited").await;
    assert!(link_sets_password(&t, &again).await);

    // An accepted member (and the founder) is no longer invited: neither
    // can be reissued nor withdrawn, and nothing changes.
    let bob = add_new_member(&t, a.uuid, "bob@example.com", Role::Editor).await;
    log.expect_all(&t, &["member.invited", "member.joined"])
        .await;
    for user in [bob.uuid, alice.uuid] {
        let before = t.member(a.uuid, user).await.unwrap().unwrap();
        let link = invite_at(now());
        assert_err!(
            t.reissue_invite(a.uuid, user, &link, &ev(a.uuid, "member.invite_reissued"))
                .await,
            StoreError::NotFound
        );
        assert_eq!(
            t.pending_invite(&link.code_hash, now()).await.unwrap(),
            None
        );
        assert_err!(
            t.withdraw_invite(a.uuid, user, &ev(a.uuid, "member.invite_withdrawn"))
                .await,
            StoreError::NotFound
        );
        assert_eq!(t.member(a.uuid, user).await.unwrap(), Some(before));
    }
    log.expect_none(&t).await;
}

/// An invitation not yet accepted gives nothing: no membership listed, no
/// membership behind a session or a token of that person.
async fn invites_give_nothing_until_accepted(t: TestDb) {
    let (a, _alice) = new_org(&t, "acme").await;
    let (x, code) = invite_new_member(&t, a.uuid, "x@example.com", Role::Admin).await;
    let session = new_session(&t, x.uuid, a.uuid).await;
    let token = pat(a.uuid, &x, "laptop", now());
    let hash = insert(&t, &token).await;

    assert!(t.memberships_of(x.uuid).await.unwrap().is_empty());
    assert_eq!(t.session(&session).await.unwrap().unwrap().membership, None);
    assert_eq!(found(&t, &hash).await.membership, None);
    // ... though the organization lists the invited person.
    let listed = t.members(a.uuid).await.unwrap();
    assert!(listed
        .iter()
        .any(|m| m.user.uuid == x.uuid && m.membership.status() == MemberStatus::Invited));

    accept(&t, &code, &by_session(x.uuid)).await;
    let m = t.member(a.uuid, x.uuid).await.unwrap().unwrap().membership;
    assert_eq!(
        t.memberships_of(x.uuid).await.unwrap(),
        vec![(a.clone(), m.clone())]
    );
    assert_eq!(
        t.session(&session).await.unwrap().unwrap().membership,
        Some(m.clone())
    );
    assert_eq!(found(&t, &hash).await.membership, Some(m));
}

// ---- change notices (PostgreSQL) -------------------------------------------------------

/// A process hears the changes other processes commit, and not its own: its
/// own reach its caches through the change hook, at commit, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_notices_skip_their_own_replica_postgres() {
    use latchkey_store::ReplicaChange;
    use std::sync::Mutex;
    let pg = PgDatabase::create().await;
    let url = pg.url.clone();
    let outcome = tokio::spawn(async move {
        let hooked = Arc::new(Mutex::new(Vec::new()));
        let heard = Arc::new(Mutex::new(Vec::new()));
        let mut this = SqlStore::open_postgres(&url, &PoolSettings::default())
            .await
            .expect("open");
        let into_hook = hooked.clone();
        this.set_change_hook(Arc::new(move |org| into_hook.lock().unwrap().push(org)));
        let into_watcher = heard.clone();
        let watcher = this
            .watch_other_replicas(move |c| into_watcher.lock().unwrap().push(c))
            .expect("PostgreSQL has a watcher");
        let other = SqlStore::open_postgres(&url, &PoolSettings::default())
            .await
            .expect("open");
        let wait_for = |what: ReplicaChange| {
            let heard = heard.clone();
            async move {
                for _ in 0..200 {
                    if heard.lock().unwrap().contains(&what) {
                        return;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(25)).await;
                }
                panic!("never heard {what:?}: {:?}", heard.lock().unwrap());
            }
        };
        wait_for(ReplicaChange::Resumed).await;
        let this_db = TestDb {
            store: this.clone(),
            raw_url: url.clone(),
        };
        let other_db = TestDb {
            store: other.clone(),
            raw_url: url.clone(),
        };
        let (mine, _) = new_org(&this_db, "mine").await;
        let (theirs, _) = new_org(&other_db, "theirs").await;
        // Notices arrive in commit order: once the later one is heard, the
        // earlier one would have been too.
        wait_for(ReplicaChange::Org(theirs.uuid)).await;
        assert!(
            !heard
                .lock()
                .unwrap()
                .contains(&ReplicaChange::Org(mine.uuid)),
            "this process's own change came back as a notice"
        );
        assert_eq!(
            *hooked.lock().unwrap(),
            vec![mine.uuid],
            "its own change reached the hook"
        );
        watcher.abort();
        this.close().await;
        other.close().await;
    })
    .await;
    drop(pg);
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

// ---- throttles ---------------------------------------------------------------------------

on_both_backends! {
    throttles_count_every_attempt_once => throttles_count_every_attempt_once_sqlite, throttles_count_every_attempt_once_postgres;
}

/// Sign-in throttle windows: concurrent attempts are each counted once
/// (none slips past the limit), an attempt can be given back, a full window
/// makes the next one longer, and old windows are purged.
async fn throttles_count_every_attempt_once(t: TestDb) {
    use latchkey_core::throttle::{Decision, Rule};
    let rule = Rule {
        limit: 5,
        window: Duration::minutes(15),
        max_doublings: 3,
    };
    let t0 = now();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let store = t.store.clone();
        tasks.push(tokio::spawn(async move {
            store.throttle_take("pair:a", &rule, t0).await.unwrap()
        }));
    }
    let mut decisions = Vec::new();
    for task in tasks {
        decisions.push(task.await.unwrap());
    }
    let allowed = Decision::Allowed { window_start: t0 };
    assert_eq!(decisions.iter().filter(|d| **d == allowed).count(), 5);
    assert_eq!(
        decisions
            .iter()
            .filter(|d| **d == Decision::Refused { retry_after: 900 })
            .count(),
        15,
        "{decisions:?}"
    );
    assert_eq!(
        t.throttle_take("pair:b", &rule, t0).await.unwrap(),
        allowed,
        "keys are counted apart"
    );

    // An attempt given back can be made again, once.
    t.throttle_give_back("pair:a", t0).await.unwrap();
    assert_eq!(t.throttle_take("pair:a", &rule, t0).await.unwrap(), allowed);
    assert!(matches!(
        t.throttle_take("pair:a", &rule, t0).await.unwrap(),
        Decision::Refused { .. }
    ));
    // Not into another window.
    t.throttle_give_back("pair:a", t0 - secs(1)).await.unwrap();
    assert!(matches!(
        t.throttle_take("pair:a", &rule, t0 + secs(60))
            .await
            .unwrap(),
        Decision::Refused { retry_after: 840 }
    ));

    // After a full window the next one is twice as long.
    let t1 = t0 + Duration::minutes(15);
    for _ in 0..5 {
        assert_eq!(
            t.throttle_take("pair:a", &rule, t1).await.unwrap(),
            Decision::Allowed { window_start: t1 }
        );
    }
    assert_eq!(
        t.throttle_take("pair:a", &rule, t1).await.unwrap(),
        Decision::Refused { retry_after: 1800 }
    );

    // Cleared: a fresh start.
    t.throttle_clear("pair:a").await.unwrap();
    assert_eq!(
        t.throttle_take("pair:a", &rule, t1).await.unwrap(),
        Decision::Allowed { window_start: t1 }
    );

    // Purged once they may be forgotten, and not before.
    assert_eq!(t.throttle_purge(t0).await.unwrap(), 0);
    assert_eq!(t.throttle_purge(t1 + Duration::hours(2)).await.unwrap(), 2);
    assert_eq!(
        t.count(
            "SELECT COUNT(*) FROM throttles WHERE throttle_key <> $1",
            ""
        )
        .await,
        0
    );
}

// ---- name keys ----------------------------------------------------------------------

/// Project and custom-role names are unique after NFKC case folding; rows
/// stored before names had keys get theirs when the store opens, and two old
/// look-alikes both survive.
async fn names_are_unique_after_folding(t: TestDb) {
    let (org, alice) = new_org(&t, "keys").await;
    create_project(&t, org.uuid, "Website", &alice).await;
    for look_alike in ["ＷＥＢＳＩＴＥ", "website"] {
        assert_err!(
            t.create_project(
                &new_project(org.uuid, look_alike, &alice),
                &ev(org.uuid, "project.created")
            )
            .await,
            StoreError::Conflict(_)
        );
    }
}

/// Rows stored before names had keys get theirs when the store opens; two old
/// look-alikes both survive, and a new look-alike of either is refused. (Not
/// in a task: opening a store is not `Send`.)
async fn name_keys_are_filled_on_open(
    open: impl Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = SqlStore>>>,
    raw_url: &str,
) {
    let store = open().await;
    let org = new_org_value("legacy");
    let alice = new_user("alice@legacy.test");
    store
        .create_org(
            &org,
            &NewAdmin::New {
                user: alice.clone(),
                password_hash: "$argon2id$x".into(),
            },
            &ev(org.uuid, "org.created"),
        )
        .await
        .unwrap();
    store.close().await;
    sqlx::any::install_default_drivers();
    let mut raw = AnyConnection::connect(raw_url).await.expect("raw");
    // As an older latchkey wrote them: look-alike names, no keys.
    for name in ["Legacy", "LEGACY"] {
        exec(
            &mut raw,
            "INSERT INTO projects (uuid, org_uuid, name, created_at, created_by_type, created_by_uuid, created_by_name, \
             updated_at, updated_by_type, updated_by_uuid, updated_by_name) \
             VALUES ($1, $2, $3, $4, 'user', $5, 'someone', $4, 'user', $5, 'someone')",
            &[s(Uuid::new_v4()), s(org.uuid), s(name), i(now()), s(alice.uuid)],
        )
        .await;
    }
    let store = open().await;
    let mut names: Vec<String> = store
        .projects(org.uuid)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    names.sort();
    assert_eq!(names, ["LEGACY", "Legacy"]);
    let unkeyed: i64 = sqlx::query("SELECT COUNT(*) AS n FROM projects WHERE name_key IS NULL")
        .fetch_one(&mut raw)
        .await
        .unwrap()
        .get("n");
    assert_eq!(unkeyed, 0);
    assert_err!(
        store
            .create_project(
                &new_project(org.uuid, "ｌｅｇａｃｙ", &alice),
                &ev(org.uuid, "project.created")
            )
            .await,
        StoreError::Conflict(_)
    );
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn name_keys_are_filled_on_open_sqlite() {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let path = dir.path().join("latchkey.db");
    let url = format!("sqlite://{}", path.display());
    let open = || -> std::pin::Pin<Box<dyn std::future::Future<Output = SqlStore>>> {
        let path = path.clone();
        Box::pin(async move {
            SqlStore::open_sqlite(&path, &PoolSettings::default())
                .await
                .expect("open")
        })
    };
    name_keys_are_filled_on_open(open, &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn name_keys_are_filled_on_open_postgres() {
    let pg = PgDatabase::create().await;
    let url = pg.url.clone();
    let open = || -> std::pin::Pin<Box<dyn std::future::Future<Output = SqlStore>>> {
        let url = url.clone();
        Box::pin(async move {
            SqlStore::open_postgres(&url, &PoolSettings::default())
                .await
                .expect("open")
        })
    };
    name_keys_are_filled_on_open(open, &pg.url.clone()).await;
    drop(pg);
}
