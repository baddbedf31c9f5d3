//! Organizations and their audit events.

use crate::fixtures::*;

on_both_backends! {
    orgs_lifecycle => orgs_lifecycle_sqlite, orgs_lifecycle_postgres;
    audit_event_round_trip => audit_event_round_trip_sqlite, audit_event_round_trip_postgres;
}

async fn orgs_lifecycle(t: TestDb) {
    assert!(t.is_empty().await.unwrap(), "a fresh database is empty");
    t.ping().await.unwrap();

    let org = new_org_value("acme");
    let alice = new_user("alice@example.com");
    let created = AuditEvent {
        actor: Some(actor(&alice)),
        target: Some(target("org", org.uuid.into(), "acme")),
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
    assert_eq!(t.org(Uuid::new_v4().into()).await.unwrap(), None);
    let login = t.user_by_email("alice@example.com").await.unwrap().unwrap();
    assert_eq!(login.user, alice);
    assert_eq!(
        login.password_hash.as_ref().map(|h| h.expose_secret()),
        Some("$argon2id$alice")
    );
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
    let orgs: Vec<OrgId> = t
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
        t.set_plan(
            ghost.into(),
            Plan::Enterprise,
            &ev(ghost.into(), "org.plan_changed")
        )
        .await,
        StoreError::NotFound
    );
    assert!(all_events(&t, ghost.into()).await.is_empty());
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
