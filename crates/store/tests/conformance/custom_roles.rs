//! Custom roles.

use crate::fixtures::*;

on_both_backends! {
    custom_roles_lifecycle => custom_roles_lifecycle_sqlite, custom_roles_lifecycle_postgres;
    custom_role_of_a_member => custom_role_of_a_member_sqlite, custom_role_of_a_member_postgres;
    custom_role_delete_while_assigned => custom_role_delete_while_assigned_sqlite, custom_role_delete_while_assigned_postgres;
    custom_role_on_a_project => custom_role_on_a_project_sqlite, custom_role_on_a_project_postgres;
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
        Some(CustomRoleGrant {
            uuid: role.uuid,
            name: "Readers".into(),
            scopes: vec!["projects:read".to_string(), "audit:read".to_string()]
        })
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
        found(&t, &hash).await.custom_role.map(|c| c.uuid),
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
        credential,
        reach: AccountReach::Organization(RoleRef::Custom(role.uuid)),
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
        credential,
        reach: AccountReach::Projects(vec![ServiceAccountGrant {
            project_uuid: project.uuid,
            role: RoleRef::Custom(role.uuid),
        }]),
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
        [ProjectRoleRecord {
            project_uuid: web.uuid,
            role: HeldRole::Custom(CustomRoleGrant {
                uuid: role.uuid,
                name: "Shipper".into(),
                scopes: vec!["deploy:write".into()]
            }),
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
        [ProjectRoleRecord {
            project_uuid: web.uuid,
            role: HeldRole::System(Role::Editor),
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
