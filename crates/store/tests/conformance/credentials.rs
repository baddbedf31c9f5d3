//! Credentials: lookup by hash, listing, edits.

use crate::fixtures::*;

on_both_backends! {
    credentials_authenticate => credentials_authenticate_sqlite, credentials_authenticate_postgres;
    credentials_org_pats_paging => credentials_org_pats_paging_sqlite, credentials_org_pats_paging_postgres;
    credentials_update_credential => credentials_update_credential_sqlite, credentials_update_credential_postgres;
}

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
        target: Some(target("pat", bob_pat.uuid.into(), "bob laptop")),
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
        (roles[0].project_uuid, &roles[0].role),
        (project.uuid, &HeldRole::System(Role::Admin))
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
    assert_eq!(
        t.credential(a.uuid, Uuid::new_v4().into()).await.unwrap(),
        None
    );
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
    assert!(t
        .pats_of(a.uuid, Uuid::new_v4().into())
        .await
        .unwrap()
        .is_empty());
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
    let got: Vec<CredentialId> = seen.iter().map(|(c, _)| c.uuid).collect();
    let unique: BTreeSet<CredentialId> = got.iter().copied().collect();
    assert_eq!(unique.len(), 5, "every PAT exactly once: {got:?}");
    let want: BTreeSet<CredentialId> = live.iter().map(|(c, _)| c.uuid).collect();
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
    let ids: Vec<CredentialId> = all.items.iter().map(|(c, _)| c.uuid).collect();
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
            Uuid::new_v4().into(),
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
            Uuid::new_v4().into(),
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
