//! Sessions.

use crate::fixtures::*;

on_both_backends! {
    sessions_lifecycle => sessions_lifecycle_sqlite, sessions_lifecycle_postgres;
    sessions_carry_what_the_member_holds => sessions_carry_what_the_member_holds_sqlite, sessions_carry_what_the_member_holds_postgres;
    session_changes_tell_the_caches => session_changes_tell_the_caches_sqlite, session_changes_tell_the_caches_postgres;
    a_password_change_ends_the_other_sessions => a_password_change_ends_the_other_sessions_sqlite, a_password_change_ends_the_other_sessions_postgres;
    an_account_lists_and_ends_its_sessions => an_account_lists_and_ends_its_sessions_sqlite, an_account_lists_and_ends_its_sessions_postgres;
}

/// The list holds the account's live sessions in every organization, newest
/// first, with where they came from and their last use; one ends by its id
/// (another account's id is `NotFound`), or all but the asking one.
async fn an_account_lists_and_ends_its_sessions(t: TestDb) {
    let (a, alice) = new_org(&t, "acme").await;
    let b = org_founded_by(&t, "bravo", alice.uuid).await;
    let (c, carol) = new_org(&t, "charlie").await;
    let t0 = now();
    let session = |org: OrgId, at: OffsetDateTime, ip: &str| NewSession {
        id_hash: new_hash(),
        uuid: SessionId::random(),
        user_uuid: alice.uuid,
        org_uuid: org,
        created_at: at,
        expires_at: at + Duration::days(7),
        ip: Some(ip.into()),
        user_agent: Some("curl/8".into()),
    };
    let (first, second, third) = (
        session(a.uuid, t0 - secs(30), "192.0.2.1"),
        session(b.uuid, t0 - secs(20), "192.0.2.2"),
        session(a.uuid, t0 - secs(10), "2001:db8::1"),
    );
    for s in [&first, &second, &third] {
        t.create_session(s).await.unwrap();
    }
    let mut expired = session(a.uuid, t0 - Duration::days(8), "192.0.2.9");
    expired.expires_at = t0 - Duration::days(1);
    t.create_session(&expired).await.unwrap();
    let carols = new_session(&t, carol.uuid, c.uuid).await;
    t.record_sessions_seen(&[(second.id_hash, t0)])
        .await
        .unwrap();
    let listed = t.sessions_of(alice.uuid, t0).await.unwrap();
    assert_eq!(
        listed.iter().map(|s| s.uuid).collect::<Vec<_>>(),
        [third.uuid, second.uuid, first.uuid]
    );
    assert_eq!(
        listed[1],
        SessionInfo {
            uuid: second.uuid,
            id_hash: second.id_hash,
            org_uuid: b.uuid,
            created_at: second.created_at,
            last_seen_at: Some(t0),
            expires_at: second.expires_at,
            ip: Some("192.0.2.2".into()),
            user_agent: Some("curl/8".into()),
        }
    );
    // An earlier use (a late batch) does not move it back.
    t.record_sessions_seen(&[(second.id_hash, t0 - secs(5))])
        .await
        .unwrap();
    assert_eq!(
        t.sessions_of(alice.uuid, t0).await.unwrap()[1].last_seen_at,
        Some(t0)
    );

    assert_err!(
        t.end_session(carol.uuid, first.uuid, t0).await,
        StoreError::NotFound
    );
    t.end_session(alice.uuid, first.uuid, t0).await.unwrap();
    assert_err!(
        t.end_session(alice.uuid, first.uuid, t0).await,
        StoreError::NotFound
    );
    assert!(t
        .session(&first.id_hash)
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_some());
    t.end_other_sessions(alice.uuid, &third.id_hash, t0)
        .await
        .unwrap();
    assert_eq!(
        t.sessions_of(alice.uuid, t0)
            .await
            .unwrap()
            .iter()
            .map(|s| s.uuid)
            .collect::<Vec<_>>(),
        [third.uuid]
    );
    assert!(t
        .session(&carols)
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_none());
}

/// The session that changes the password stays; the account's others end,
/// in every organization (whose caches hear of it); another account's do
/// not; one audit event; an account without a password has none to change.
async fn a_password_change_ends_the_other_sessions(t: TestDb) {
    use std::sync::Mutex;
    let (a, alice) = new_org(&t, "acme").await;
    let b = org_founded_by(&t, "bravo", alice.uuid).await;
    let (c, carol) = new_org(&t, "charlie").await;
    let hooked = Arc::new(Mutex::new(Vec::new()));
    let mut store = t.store.clone();
    let into_hook = hooked.clone();
    store.set_change_hook(Arc::new(move |org| into_hook.lock().unwrap().push(org)));
    let asking = new_session(&t, alice.uuid, a.uuid).await;
    let elsewhere = new_session(&t, alice.uuid, b.uuid).await;
    let here = new_session(&t, alice.uuid, a.uuid).await;
    let carols = new_session(&t, carol.uuid, c.uuid).await;
    let mut log = AuditLog::start(&t, a.uuid).await;
    hooked.lock().unwrap().clear();
    store
        .change_password(
            alice.uuid,
            "$argon2id$new",
            &asking,
            now(),
            &ev(a.uuid, "user.password_changed"),
        )
        .await
        .unwrap();
    log.expect(&t, "user.password_changed").await;
    let mut heard = std::mem::take(&mut *hooked.lock().unwrap());
    heard.sort();
    let mut want = vec![a.uuid, b.uuid];
    want.sort();
    assert_eq!(heard, want);
    let revoked = |id| {
        let t = t.clone();
        async move { t.session(&id).await.unwrap().unwrap().revoked_at.is_some() }
    };
    assert!(!revoked(asking).await);
    assert!(revoked(elsewhere).await && revoked(here).await);
    assert!(!revoked(carols).await);
    let stored = t
        .user_by_email(&alice.email)
        .await
        .unwrap()
        .unwrap()
        .password_hash
        .unwrap();
    assert_eq!(stored.expose_secret(), "$argon2id$new");

    let (x, _) = invite_new_member(&t, a.uuid, "x@example.com", Role::Viewer).await;
    log.expect(&t, "member.invited").await;
    let xs = new_session(&t, x.uuid, a.uuid).await;
    assert_err!(
        t.change_password(
            x.uuid,
            "$argon2id$x",
            &xs,
            now(),
            &ev(a.uuid, "user.password_changed")
        )
        .await,
        StoreError::NotFound
    );
    log.expect_none(&t).await;
}

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
        Some(CustomRoleGrant {
            uuid: role.uuid,
            name: "Auditor".into(),
            scopes: vec!["audit:read".to_string()]
        })
    );
    assert_eq!(
        s.project_roles,
        vec![ProjectRoleRecord {
            project_uuid: project.uuid,
            role: HeldRole::System(Role::Developer),
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
        Vec::<OrgId>::new(),
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
        uuid: SessionId::random(),
        user_uuid: alice.uuid,
        org_uuid: a.uuid,
        created_at: t0,
        expires_at: t0 + Duration::hours(12),
        ip: None,
        user_agent: None,
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
        uuid: SessionId::random(),
        user_uuid: bob.uuid,
        org_uuid: a.uuid,
        created_at: t0,
        expires_at: t0 + Duration::hours(1),
        ip: None,
        user_agent: None,
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
        uuid: SessionId::random(),
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
