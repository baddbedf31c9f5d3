//! Members: invitations, changes, the last admin.

use crate::fixtures::*;

on_both_backends! {
    members_add_and_invites => members_add_and_invites_sqlite, members_add_and_invites_postgres;
    members_update => members_update_sqlite, members_update_postgres;
    members_last_admin_is_kept => members_last_admin_is_kept_sqlite, members_last_admin_is_kept_postgres;
}

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
        password_of(&t, "bob@example.com").await,
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
    assert_eq!(
        login.password_hash.as_ref().map(|h| h.expose_secret()),
        Some("$argon2id$bob")
    );
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
        password_of(&t, "bob@example.com").await.as_deref(),
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
    assert_eq!(password_of(&t, "dave@example.com").await, None);
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
        password_of(&t, &zed.email).await.as_deref(),
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
            Uuid::new_v4().into(),
            &role(Role::Viewer),
            &ev(org.uuid, "member.updated")
        )
        .await,
        StoreError::NotFound
    );
    assert_err!(
        t.update_member(
            org.uuid,
            Uuid::new_v4().into(),
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
            ghost.into(),
            bob.uuid,
            &role(Role::Viewer),
            &ev(ghost.into(), "member.updated")
        )
        .await,
        StoreError::NotFound
    );
    log.expect_none(&t).await;
    assert!(all_events(&t, ghost.into()).await.is_empty());
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
        uuid: SessionId::random(),
        user_uuid: alice.uuid,
        org_uuid: org.uuid,
        created_at: now(),
        expires_at: now() + Duration::days(1),
        ip: None,
        user_agent: None,
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

    async fn unchanged(t: &TestDb, org: OrgId, before: &latchkey_store::Member) {
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
        project_role(&t, project.uuid, alice.uuid).await,
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
