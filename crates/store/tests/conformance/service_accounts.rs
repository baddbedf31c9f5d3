//! Service accounts.

use crate::fixtures::*;

on_both_backends! {
    service_accounts_lifecycle => service_accounts_lifecycle_sqlite, service_accounts_lifecycle_postgres;
    service_accounts_project_rows => service_accounts_project_rows_sqlite, service_accounts_project_rows_postgres;
}

async fn service_accounts_lifecycle(t: TestDb) {
    let (org, admin) = new_org(&t, "acme").await;
    let (other, _) = new_org(&t, "globex").await;
    let role = create_custom_role(&t, org.uuid, "Deployer", &["deploy:write"], &admin).await;
    let mut log = AuditLog::start(&t, org.uuid).await;

    // Legacy scopes are a reach of their own (stored in the credential's
    // scopes, which the request path reads).
    let mut legacy = service_account_value(org.uuid, &admin);
    legacy.role = None;
    let legacy = ServiceAccount {
        credential: legacy,
        reach: AccountReach::Legacy(vec!["org:edit".into()]),
    };
    let legacy_hash = insert_account(&t, &legacy).await;
    log.expect(&t, "service_account.created").await;
    let read = t
        .service_account(org.uuid, legacy.credential.uuid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read, legacy);
    assert_eq!(read.reach.scope(), AccountScope::Organization);
    assert!(!read.is_project_scoped());
    let record = found(&t, &legacy_hash).await;
    assert_eq!(record.credential.scopes, Some(vec!["org:edit".to_string()]));
    assert_eq!(record.custom_role, None);
    assert_eq!(record.account_scope, Some(AccountScope::Organization));

    // A custom role reaches the request path with its scopes.
    let mut custom = service_account_value(org.uuid, &admin);
    custom.role = None;
    let custom = ServiceAccount {
        credential: custom,
        reach: AccountReach::Organization(RoleRef::Custom(role.uuid)),
    };
    let custom_hash = insert_account(&t, &custom).await;
    log.expect(&t, "service_account.created").await;
    assert_eq!(
        found(&t, &custom_hash).await.custom_role,
        Some(CustomRoleGrant {
            uuid: role.uuid,
            name: "Deployer".into(),
            scopes: vec!["deploy:write".to_string()]
        })
    );

    // Listed newest first; not another organization's; not an API key.
    let listed: Vec<CredentialId> = t
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
    assert_eq!(
        read.reach,
        AccountReach::Legacy(vec!["org:edit".to_string()])
    );
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
        read.reach,
        AccountReach::Organization(RoleRef::System(Role::Developer))
    );
    assert_eq!((read.credential.role, read.credential.scopes), (None, None));
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
        read.reach,
        AccountReach::Organization(RoleRef::Custom(role.uuid))
    );
    assert_eq!(
        found(&t, &legacy_hash).await.custom_role.map(|c| c.uuid),
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
            read.reach
        ),
        (
            "renamed",
            Some(exp),
            AccountReach::Organization(RoleRef::Custom(role.uuid))
        )
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
            record.custom_role.map(|c| c.uuid)
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
    let rows = vec![
        ServiceAccountGrant {
            project_uuid: web.uuid,
            role: RoleRef::System(Role::Editor),
        },
        ServiceAccountGrant {
            project_uuid: api.uuid,
            role: RoleRef::Custom(role.uuid),
        },
    ];
    let account = ServiceAccount {
        credential,
        reach: AccountReach::Projects(rows.clone()),
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
        read.reach,
        AccountReach::Projects(vec![rows[1].clone(), rows[0].clone()])
    );
    // The request path gets each row with its custom role's scopes.
    let mut rows = found(&t, &hash).await.projects;
    rows.sort_by_key(|r| r.project_uuid == web.uuid);
    assert_eq!(
        rows,
        [
            ProjectRoleRecord {
                project_uuid: api.uuid,
                role: HeldRole::Custom(CustomRoleGrant {
                    uuid: role.uuid,
                    name: "Previewer".into(),
                    scopes: vec!["previews:write".into()]
                }),
            },
            ProjectRoleRecord {
                project_uuid: web.uuid,
                role: HeldRole::System(Role::Editor),
            },
        ]
    );

    // A project listed twice is refused, and nothing is written.
    let mut credential = service_account_value(org.uuid, &admin);
    credential.role = None;
    let twice = ServiceAccount {
        credential,
        reach: AccountReach::Projects(vec![
            ServiceAccountGrant {
                project_uuid: web.uuid,
                role: RoleRef::System(Role::Viewer),
            },
            ServiceAccountGrant {
                project_uuid: web.uuid,
                role: RoleRef::System(Role::Editor),
            },
        ]),
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
    assert!(matches!(&read.reach, AccountReach::Projects(rows) if rows.len() == 1));
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
    assert_eq!(read.reach, AccountReach::Projects(Vec::new()));
    assert!(read.is_project_scoped());
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
            .reach,
        AccountReach::Projects(Vec::new())
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
            read.reach.scope()
        ),
        ("previews", Some(exp), AccountScope::Project)
    );
}
