//! Projects and project roles.

use crate::fixtures::*;

on_both_backends! {
    projects_lifecycle => projects_lifecycle_sqlite, projects_lifecycle_postgres;
    project_roles => project_roles_sqlite, project_roles_postgres;
}

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
    assert_eq!(
        t.project(a.uuid, Uuid::new_v4().into()).await.unwrap(),
        None
    );

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
            Uuid::new_v4().into(),
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
    assert_eq!(project_role(&t, web.uuid, bob.uuid).await, None);
    assert!(t.project_access(web.uuid).await.unwrap().is_empty());
    assert_eq!(
        project_roles_of(&t, a.uuid, bob.uuid).await,
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

    assert_eq!(project_role(&t, web.uuid, bob.uuid).await, None);
    assert!(project_roles_of(&t, a.uuid, bob.uuid).await.is_empty());

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
        project_role(&t, web.uuid, bob.uuid).await,
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
        project_role(&t, web.uuid, bob.uuid).await,
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
    let mut of_bob = project_roles_of(&t, a.uuid, bob.uuid).await;
    of_bob.sort_by_key(|(p, _)| *p);
    let mut want = vec![(web.uuid, Role::Developer), (api.uuid, Role::Admin)];
    want.sort_by_key(|(p, _)| *p);
    assert_eq!(of_bob, want);

    // Remove.
    t.remove_project_role(web.uuid, bob.uuid, &ev(a.uuid, "project_access.revoked"))
        .await
        .unwrap();
    log.expect(&t, "project_access.revoked").await;
    assert_eq!(project_role(&t, web.uuid, bob.uuid).await, None);
    assert_eq!(
        project_role(&t, api.uuid, bob.uuid).await,
        Some(Role::Admin)
    );
    assert_err!(
        t.remove_project_role(web.uuid, bob.uuid, &ev(a.uuid, "project_access.revoked"))
            .await,
        StoreError::NotFound
    );
    assert_err!(
        t.remove_project_role(
            Uuid::new_v4().into(),
            carol.uuid,
            &ev(a.uuid, "project_access.revoked")
        )
        .await,
        StoreError::NotFound
    );
    log.expect_none(&t).await;
    assert_eq!(t.project_access(web.uuid).await.unwrap().len(), 1);
}
