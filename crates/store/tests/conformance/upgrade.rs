//! Upgrade from the previous schema.

use crate::fixtures::*;
use crate::schema::{postgres_schema, sqlite_schema};

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
pub(crate) async fn exec(conn: &mut AnyConnection, sql: &str, args: &[Result<String, i64>]) {
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

pub(crate) fn s(v: impl ToString) -> Result<String, i64> {
    Ok(v.to_string())
}

pub(crate) fn i(t: OffsetDateTime) -> Result<String, i64> {
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
    let a = t.org(old.a.into()).await.unwrap().expect("A");
    let b = t.org(old.b.into()).await.unwrap().expect("B");
    assert_eq!(
        (a.name.as_str(), a.plan, a.created_at),
        ("acme", Plan::Free, old.t0)
    );
    assert_eq!((b.name.as_str(), b.plan), ("bravo", Plan::Enterprise));
    assert_eq!(t.members(old.a.into()).await.unwrap().len(), 4);
    assert_eq!(t.members(old.b.into()).await.unwrap().len(), 2);
    assert_eq!(
        t.projects(old.a.into())
            .await
            .unwrap()
            .iter()
            .map(|p| p.uuid.uuid())
            .collect::<Vec<_>>(),
        vec![old.web_a]
    );
    assert_eq!(
        t.projects(old.b.into()).await.unwrap()[0].uuid,
        old.web_b.into()
    );
    for (org, n) in [(old.a, 3), (old.b, 5)] {
        assert_eq!(
            count("SELECT COUNT(*) FROM credentials WHERE org_uuid = $1", org).await,
            n
        );
        assert_eq!(
            count("SELECT COUNT(*) FROM sessions WHERE org_uuid = $1", org).await,
            1
        );
        assert_eq!(all_events(&t, org.into()).await.len(), 1);
    }
    assert_eq!(
        count("SELECT COUNT(*) FROM invites WHERE org_uuid = $1", old.a).await,
        3
    );
    assert_eq!(
        project_role(&t, old.web_a.into(), old.zed.into()).await,
        Some(Role::Editor)
    );
    assert!(t
        .custom_role(old.b.into(), old.custom_role.into())
        .await
        .unwrap()
        .is_some());

    // Members with a password are accepted members; the others are invited.
    for (org, user, role) in [
        (old.a, old.alice, Role::Admin),
        (old.b, old.zed, Role::Admin),
        (old.a, old.zed, Role::Viewer),
    ] {
        let m = t
            .member(org.into(), user.into())
            .await
            .unwrap()
            .unwrap()
            .membership;
        assert_eq!(m.role, RoleRef::System(role));
        assert_eq!(m.status(), MemberStatus::Active);
        assert_eq!(m.accepted_at, Some(m.created_at));
    }
    for (org, user) in [(old.a, old.bob), (old.a, old.carol), (old.b, old.carol)] {
        let m = t
            .member(org.into(), user.into())
            .await
            .unwrap()
            .unwrap()
            .membership;
        assert_eq!(m.status(), MemberStatus::Invited, "{user}");
    }
    assert_eq!(t.memberships_of(old.zed.into()).await.unwrap().len(), 2);
    assert!(t.memberships_of(old.bob.into()).await.unwrap().is_empty());
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
                org_uuid: org.into(),
                user_uuid: user.into(),
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
    assert_eq!(bob.uuid, old.bob.into());
    assert_eq!(
        t.member(old.a.into(), old.bob.into())
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
            &ev(old.a.into(), "member.joined")
        )
        .await,
        StoreError::NotFound
    );
    accept(&t, &old.carol_a_code, &by_session(old.carol.into())).await;

    // Service accounts: their scope as they were made.
    for ((uuid, hash), org, scope, grants) in [
        (old.sa_gone, old.a, AccountScope::Project, 0),
        (old.sa_kept, old.a, AccountScope::Project, 1),
        (old.sa_role, old.b, AccountScope::Organization, 0),
        (old.sa_custom, old.b, AccountScope::Organization, 0),
        (old.sa_legacy, old.b, AccountScope::Organization, 0),
    ] {
        let account = t
            .service_account(org.into(), uuid.into())
            .await
            .unwrap()
            .expect("account");
        let rows = match &account.reach {
            AccountReach::Projects(rows) => rows.len(),
            _ => 0,
        };
        assert_eq!(account.reach.scope(), scope, "{}", account.credential.name);
        assert_eq!(rows, grants, "{}", account.credential.name);
        assert_eq!(found(&t, &hash).await.account_scope, Some(scope));
    }
    let role = t
        .service_account(old.b.into(), old.sa_role.0.into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        role.reach,
        AccountReach::Organization(RoleRef::System(Role::Developer))
    );
    let custom = t
        .service_account(old.b.into(), old.sa_custom.0.into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        custom.reach,
        AccountReach::Organization(RoleRef::Custom(old.custom_role.into()))
    );
    assert_eq!(
        found(&t, &old.b_key).await.account_scope,
        None,
        "an API key has no account scope"
    );
    // The project-scoped account left with no project keeps its scope: its
    // role cannot be set.
    assert_err!(
        t.update_service_account(
            old.sa_gone.0.into(),
            &ServiceAccountChange {
                role: Some(RoleRef::System(Role::Admin)),
                ..ServiceAccountChange::default()
            },
            &ev(old.a.into(), "service_account.updated")
        )
        .await,
        StoreError::NotFound
    );
    t.update_service_account(
        old.sa_role.0.into(),
        &ServiceAccountChange {
            role: Some(RoleRef::System(Role::Viewer)),
            ..ServiceAccountChange::default()
        },
        &ev(old.b.into(), "service_account.updated"),
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
        &NewAdmin::Existing(old.alice.into()),
        &ev(twin.uuid, "org.created"),
    )
    .await
    .unwrap();
    assert_eq!(
        t.orgs_by_name("acme")
            .await
            .unwrap()
            .iter()
            .map(|o| o.uuid.uuid())
            .collect::<Vec<_>>(),
        vec![old.a, twin.uuid.uuid()]
    );

    // Foreign keys are enforced again, and point at the rebuilt table.
    assert!(
        t.create_session(&NewSession {
            id_hash: new_hash(),
            uuid: SessionId::random(),
            user_uuid: old.alice.into(),
            org_uuid: Uuid::new_v4().into(),
            created_at: now(),
            expires_at: now() + Duration::days(1),
            ip: None,
            user_agent: None,
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
    assert_eq!(
        t.members(old.a.into()).await.unwrap().len(),
        4,
        "A untouched"
    );
    assert_eq!(
        count(
            "SELECT COUNT(*) FROM credentials WHERE org_uuid = $1",
            old.a
        )
        .await,
        3
    );

    // The upgraded schema has the resource servers and the instance log,
    // empty, and they work alongside the old rows.
    assert!(t.resource_servers().await.unwrap().is_empty());
    assert!(t.instance_audit_events(10).await.unwrap().is_empty());
    let at = now();
    let (server, hash) = crate::resource_servers::new_resource_server("gateway", at);
    let event = crate::resource_servers::instance_event(
        latchkey_core::InstanceAction::ResourceServerCreated,
        &server,
        at,
    );
    t.create_resource_server(&server, &hash, &event)
        .await
        .unwrap();
    assert!(t.resource_server_by_hash(&hash).await.unwrap().is_some());
    assert!(
        matches!(t.authenticate(&hash).await.unwrap(), TokenLookup::Unknown),
        "a resource server is no organization's credential"
    );

    // Teams arrive empty, and old members and projects take part in them.
    assert!(t.teams(old.a.into()).await.unwrap().is_empty());
    assert!(t.teams(old.b.into()).await.unwrap().is_empty());
    let record = found(&t, &old.alice_pat).await;
    assert!(record.membership.is_some());
    assert_eq!(record.owner_teams, latchkey_store::TeamRoles::default());
    let team = crate::teams::create_team(
        &t,
        old.a.into(),
        "Old hands",
        Some(RoleRef::System(Role::Developer)),
    )
    .await;
    t.add_team_member(
        old.a.into(),
        team.uuid,
        old.alice.into(),
        now(),
        &ev(old.a.into(), "team.member_added"),
    )
    .await
    .unwrap();
    t.set_team_project_role(
        old.a.into(),
        team.uuid,
        old.web_a.into(),
        RoleRef::System(Role::Admin),
        now(),
        &ev(old.a.into(), "team.project_access_granted"),
    )
    .await
    .unwrap();
    let teams = found(&t, &old.alice_pat).await.owner_teams;
    assert_eq!(teams.org, [HeldRole::System(Role::Developer)]);
    assert_eq!(teams.projects[0].project_uuid, old.web_a.into());
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
