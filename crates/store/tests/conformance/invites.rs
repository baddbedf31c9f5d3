//! Invitations.

use crate::fixtures::*;

on_both_backends! {
    invites_sets_password_rule => invites_sets_password_rule_sqlite, invites_sets_password_rule_postgres;
    invites_concurrent_first_invitations => invites_concurrent_first_invitations_sqlite, invites_concurrent_first_invitations_postgres;
    invites_accept_by_session => invites_accept_by_session_sqlite, invites_accept_by_session_postgres;
    invites_acceptance_ends_sessions => invites_acceptance_ends_sessions_sqlite, invites_acceptance_ends_sessions_postgres;
    invites_reissue_and_withdraw => invites_reissue_and_withdraw_sqlite, invites_reissue_and_withdraw_postgres;
    invites_give_nothing_until_accepted => invites_give_nothing_until_accepted_sqlite, invites_give_nothing_until_accepted_postgres;
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
    let orgs: BTreeSet<OrgId> = t
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
        by_session(UserId::random()),
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
    for (org, user) in [(a.uuid, Uuid::new_v4()), (b.uuid, x.uuid.into())] {
        let link = invite_at(now());
        assert_err!(
            t.reissue_invite(org, user.into(), &link, &ev(org, "member.invite_reissued"))
                .await,
            StoreError::NotFound
        );
        assert_eq!(
            t.pending_invite(&link.code_hash, now()).await.unwrap(),
            None
        );
        assert_err!(
            t.withdraw_invite(org, user.into(), &ev(org, "member.invite_withdrawn"))
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
