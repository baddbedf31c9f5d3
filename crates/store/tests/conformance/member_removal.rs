//! Removing members, and members changed concurrently.

use crate::fixtures::*;

on_both_backends! {
    members_remove_cleans_up => members_remove_cleans_up_sqlite, members_remove_cleans_up_postgres;
    members_concurrent_admin_changes => members_concurrent_admin_changes_sqlite, members_concurrent_admin_changes_postgres;
    members_concurrent_invite_accept => members_concurrent_invite_accept_sqlite, members_concurrent_invite_accept_postgres;
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
        uuid: SessionId::random(),
        user_uuid: user.into(),
        org_uuid: org.into(),
        created_at: t0,
        expires_at: t0 + Duration::days(1),
        ip: None,
        user_agent: None,
    };
    let (s_bob_a, s_bob_b, s_alice_a) = (
        session(bob.uuid.into(), a.uuid.into()),
        session(bob.uuid.into(), b.uuid.into()),
        session(alice.uuid.into(), a.uuid.into()),
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
    assert!(project_roles_of(&t, a.uuid, bob.uuid).await.is_empty());
    assert_eq!(project_role(&t, pa.uuid, bob.uuid).await, None);
    let access = t.project_access(pa.uuid).await.unwrap();
    assert_eq!(access.len(), 1);
    assert_eq!(
        (access[0].user.uuid, access[0].role),
        (alice.uuid, RoleRef::System(Role::Viewer))
    );
    assert_eq!(
        project_roles_of(&t, b.uuid, bob.uuid).await,
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
    assert_eq!(password_of(&t, "bob@example.com").await, None);

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
    assert!(project_role(&t, pa.uuid, bob.uuid).await.is_none());
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
        password_of(&t, "bob@example.com").await,
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
