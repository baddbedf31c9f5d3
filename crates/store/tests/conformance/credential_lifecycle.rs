//! Credentials: revocation, rotation, last use, kinds.

use crate::fixtures::*;

on_both_backends! {
    credentials_revoke => credentials_revoke_sqlite, credentials_revoke_postgres;
    credentials_rotate => credentials_rotate_sqlite, credentials_rotate_postgres;
    credentials_concurrent_rotation => credentials_concurrent_rotation_sqlite, credentials_concurrent_rotation_postgres;
    credentials_record_last_used => credentials_record_last_used_sqlite, credentials_record_last_used_postgres;
    credentials_org_credentials_by_kind => credentials_org_credentials_by_kind_sqlite, credentials_org_credentials_by_kind_postgres;
}

async fn credentials_revoke(t: TestDb) {
    let (a, alice) = new_org(&t, "acme").await;
    let c = pat(a.uuid, &alice, "laptop", now());
    let hash = insert(&t, &c).await;
    let key = org_credential(CredentialKind::ApiKey, a.uuid, &alice, Role::Editor);
    let key_hash = insert(&t, &key).await;
    let mut log = AuditLog::start(&t, a.uuid).await;

    let at = now() + secs(1);
    t.revoke_credential(c.uuid, at, &ev(a.uuid, "pat.revoked"))
        .await
        .unwrap();
    log.expect(&t, "pat.revoked").await;
    // Still found by hash (so the request path can say "revoked"), but gone
    // from every listing.
    assert_eq!(found(&t, &hash).await.credential.revoked_at, Some(at));
    assert_eq!(t.credential(a.uuid, c.uuid).await.unwrap(), None);
    assert!(t.pats_of(a.uuid, alice.uuid).await.unwrap().is_empty());
    assert_err!(
        t.revoke_credential(c.uuid, at + secs(5), &ev(a.uuid, "pat.revoked"))
            .await,
        StoreError::NotFound
    );
    assert_err!(
        t.revoke_credential(Uuid::new_v4().into(), at, &ev(a.uuid, "pat.revoked"))
            .await,
        StoreError::NotFound
    );
    log.expect_none(&t).await;
    assert_eq!(
        found(&t, &hash).await.credential.revoked_at,
        Some(at),
        "a second revoke does not move the time"
    );

    t.revoke_credential(key.uuid, at, &ev(a.uuid, "api_key.revoked"))
        .await
        .unwrap();
    log.expect(&t, "api_key.revoked").await;
    assert_eq!(found(&t, &key_hash).await.credential.revoked_at, Some(at));
    assert_eq!(t.credential(a.uuid, key.uuid).await.unwrap(), None);
}

async fn credentials_rotate(t: TestDb) {
    let (a, alice) = new_org(&t, "acme").await;
    let t0 = now();
    let c = pat(a.uuid, &alice, "laptop", t0 - secs(100));
    let old = insert(&t, &c).await;
    let mut log = AuditLog::start(&t, a.uuid).await;

    let first_at = t0 - secs(50);
    let first = Rotation {
        token_hash: new_hash(),
        display_prefix: "lkpat_r1r1r1".to_string(),
        expires_at: t0 + Duration::days(10),
        now: first_at,
        last_rotated_before: c.created_at,
    };
    assert!(t
        .rotate_credential(c.uuid, &first, &ev(a.uuid, "pat.rotated"))
        .await
        .unwrap());
    log.expect(&t, "pat.rotated").await;

    let r = found(&t, &first.token_hash).await;
    assert_eq!(
        r.credential,
        Credential {
            display_prefix: "lkpat_r1r1r1".to_string(),
            expires_at: Some(first.expires_at),
            rotated_at: Some(first_at),
            ..c.clone()
        }
    );
    assert_eq!(r.token_hash, first.token_hash);
    match t.authenticate(&old).await.unwrap() {
        TokenLookup::Retired { credential } => {
            assert_eq!(credential.uuid, c.uuid);
            assert_eq!(credential.rotated_at, Some(first_at));
        }
        other => panic!("the old secret should be Retired, got {other:?}"),
    }

    // A rotation that read the credential before the first one: loses.
    let stale = Rotation {
        token_hash: new_hash(),
        display_prefix: "lkpat_stale0".to_string(),
        expires_at: t0 + Duration::days(20),
        now: t0,
        last_rotated_before: first_at - secs(1),
    };
    assert!(!t
        .rotate_credential(c.uuid, &stale, &ev(a.uuid, "pat.rotated"))
        .await
        .unwrap());
    log.expect_none(&t).await;
    assert!(matches!(
        t.authenticate(&stale.token_hash).await.unwrap(),
        TokenLookup::Unknown
    ));
    assert_eq!(
        found(&t, &first.token_hash).await.credential.display_prefix,
        "lkpat_r1r1r1"
    );

    // One that saw the first rotation wins.
    let second = Rotation {
        token_hash: new_hash(),
        display_prefix: "lkpat_r2r2r2".to_string(),
        expires_at: t0 + Duration::days(30),
        now: t0,
        last_rotated_before: first_at,
    };
    assert!(t
        .rotate_credential(c.uuid, &second, &ev(a.uuid, "pat.rotated"))
        .await
        .unwrap());
    log.expect(&t, "pat.rotated").await;
    assert_eq!(
        found(&t, &second.token_hash).await.credential.rotated_at,
        Some(t0)
    );
    for retired in [&old, &first.token_hash] {
        assert!(matches!(
            t.authenticate(retired).await.unwrap(),
            TokenLookup::Retired { .. }
        ));
    }
    assert_eq!(t.pats_of(a.uuid, alice.uuid).await.unwrap().len(), 1);

    // Rotating onto another credential's secret: conflict.
    let other = pat(a.uuid, &alice, "other", t0);
    let other_hash = insert(&t, &other).await;
    log.seen += 1;
    assert_err!(
        t.rotate_credential(
            c.uuid,
            &Rotation {
                token_hash: other_hash,
                now: t0 + secs(1),
                last_rotated_before: t0,
                ..second
            },
            &ev(a.uuid, "pat.rotated"),
        )
        .await,
        StoreError::Conflict(_)
    );
    log.expect_none(&t).await;

    // Unknown and revoked credentials.
    let fresh = |now| Rotation {
        token_hash: new_hash(),
        display_prefix: "lkpat_nnnnnn".to_string(),
        expires_at: t0 + Duration::days(1),
        now,
        last_rotated_before: t0 + secs(100),
    };
    assert_err!(
        t.rotate_credential(
            Uuid::new_v4().into(),
            &fresh(t0),
            &ev(a.uuid, "pat.rotated")
        )
        .await,
        StoreError::NotFound
    );
    t.revoke_credential(c.uuid, t0 + secs(2), &ev(a.uuid, "pat.revoked"))
        .await
        .unwrap();
    log.expect(&t, "pat.revoked").await;
    assert_err!(
        t.rotate_credential(c.uuid, &fresh(t0 + secs(3)), &ev(a.uuid, "pat.rotated"))
            .await,
        StoreError::NotFound
    );
    log.expect_none(&t).await;
}

async fn credentials_concurrent_rotation(t: TestDb) {
    const TASKS: usize = 8;
    let (a, alice) = new_org(&t, "acme").await;
    let t0 = now();
    let c = pat(a.uuid, &alice, "laptop", t0 - secs(100));
    let old = insert(&t, &c).await;
    let mut log = AuditLog::start(&t, a.uuid).await;

    let id = c.uuid;
    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
    let mut tasks = Vec::new();
    for i in 0..TASKS {
        let store = t.store.clone();
        let barrier = barrier.clone();
        let rotation = Rotation {
            token_hash: new_hash(),
            display_prefix: format!("lkpat_task{i:02}"),
            expires_at: t0 + Duration::days(30),
            now: t0,
            // Every task read the credential before any rotation.
            last_rotated_before: c.created_at,
        };
        let audit = ev(a.uuid, "pat.rotated");
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let won = store.rotate_credential(id, &rotation, &audit).await;
            (rotation.token_hash, won)
        }));
    }
    let mut winners = Vec::new();
    let mut losers = Vec::new();
    for task in tasks {
        let (hash, won) = task.await.expect("rotation task");
        match won {
            Ok(true) => winners.push(hash),
            Ok(false) => losers.push(hash),
            Err(e) => panic!("a racing rotation failed instead of losing: {e:?}"),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one of {TASKS} racing rotations wins"
    );
    assert_eq!(losers.len(), TASKS - 1);
    log.expect(&t, "pat.rotated").await;

    let r = found(&t, &winners[0]).await;
    assert_eq!(r.credential.rotated_at, Some(t0));
    for hash in &losers {
        assert!(matches!(
            t.authenticate(hash).await.unwrap(),
            TokenLookup::Unknown
        ));
    }
    assert!(matches!(
        t.authenticate(&old).await.unwrap(),
        TokenLookup::Retired { .. }
    ));
    assert_eq!(
        t.count(
            "SELECT COUNT(*) FROM retired_token_hashes WHERE credential_uuid = $1",
            c.uuid
        )
        .await,
        1
    );
}

async fn credentials_record_last_used(t: TestDb) {
    let (a, alice) = new_org(&t, "acme").await;
    let t0 = now();
    let c1 = pat(a.uuid, &alice, "one", t0 - secs(100));
    let c2 = org_credential(CredentialKind::ApiKey, a.uuid, &alice, Role::Viewer);
    let (h1, h2) = (insert(&t, &c1).await, insert(&t, &c2).await);
    let log = AuditLog::start(&t, a.uuid).await;
    let last_used = |h: TokenHash| {
        let t = t.clone();
        async move { found(&t, &h).await.credential.last_used_at }
    };

    t.record_last_used(&[]).await.unwrap();
    assert_eq!(last_used(h1).await, None);

    t.record_last_used(&[(c1.uuid, t0)]).await.unwrap();
    assert_eq!(last_used(h1).await, Some(t0));
    assert_eq!(last_used(h2).await, None);

    // Never backwards; forwards in a batch with several credentials, and an
    // unknown uuid is ignored.
    t.record_last_used(&[(c1.uuid, t0 - secs(10))])
        .await
        .unwrap();
    assert_eq!(last_used(h1).await, Some(t0));
    t.record_last_used(&[
        (c1.uuid, t0 + secs(5)),
        (c2.uuid, t0 - secs(3)),
        (Uuid::new_v4().into(), t0),
        (c1.uuid, t0 + secs(2)),
    ])
    .await
    .unwrap();
    assert_eq!(last_used(h1).await, Some(t0 + secs(5)));
    assert_eq!(last_used(h2).await, Some(t0 - secs(3)));
    assert_eq!(
        t.credential(a.uuid, c1.uuid)
            .await
            .unwrap()
            .unwrap()
            .last_used_at,
        Some(t0 + secs(5))
    );

    // Usage is not an audited change.
    log.expect_none(&t).await;
}

async fn credentials_org_credentials_by_kind(t: TestDb) {
    let (a, alice) = new_org(&t, "acme").await;
    let (b, zed) = new_org(&t, "bravo").await;
    let bob = add_new_member(&t, a.uuid, "bob@example.com", Role::Admin).await;
    let t0 = now();
    let key = |creator: &User, role: Role, name: &str, created_at: OffsetDateTime| Credential {
        name: name.to_string(),
        created_at,
        expires_at: Some(created_at + Duration::days(30)),
        ..org_credential(CredentialKind::ApiKey, a.uuid, creator, role)
    };

    // Four live keys, two sharing a creation second; by two creators.
    let keys = [
        key(&alice, Role::Editor, "ci", t0 - secs(30)),
        key(&bob, Role::Admin, "deploy", t0 - secs(10)),
        key(&alice, Role::Viewer, "reports", t0),
        key(&bob, Role::Developer, "previews", t0),
    ];
    for k in &keys {
        insert(&t, k).await;
    }
    // Not listed as API keys: revoked, other kinds, another organization.
    let revoked = key(&alice, Role::Viewer, "revoked", t0 - secs(5));
    insert(&t, &revoked).await;
    t.revoke_credential(revoked.uuid, t0, &ev(a.uuid, "api_key.revoked"))
        .await
        .unwrap();
    let alice_pat = pat(a.uuid, &alice, "laptop", t0 + secs(1));
    insert(&t, &alice_pat).await;
    let service = org_credential(CredentialKind::ServiceAccount, a.uuid, &alice, Role::Admin);
    insert(&t, &service).await;
    let bravo_key = org_credential(CredentialKind::ApiKey, b.uuid, &zed, Role::Admin);
    insert(&t, &bravo_key).await;

    let listed = t
        .org_credentials(a.uuid, CredentialKind::ApiKey)
        .await
        .unwrap();
    let names: Vec<&str> = listed.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert_eq!(&names[2..], ["deploy", "ci"], "newest first");
    let mut same_second: Vec<CredentialId> = [&keys[2], &keys[3]].iter().map(|k| k.uuid).collect();
    same_second.sort();
    same_second.reverse();
    assert_eq!(
        listed[..2].iter().map(|c| c.uuid).collect::<Vec<_>>(),
        same_second,
        "a tie in time is broken by id, the same way every time"
    );
    for c in &listed {
        let want = keys.iter().find(|k| k.uuid == c.uuid).unwrap();
        assert_eq!(c, want, "every field round-trips");
    }
    assert_eq!(listed[2].role, Some(Role::Admin));
    assert_eq!(listed[2].created_by, actor(&bob));
    assert_eq!(listed[2].owner_uuid, None);

    // Each kind lists only itself.
    let services = t
        .org_credentials(a.uuid, CredentialKind::ServiceAccount)
        .await
        .unwrap();
    assert_eq!(services, vec![service.clone()]);
    let pats = t
        .org_credentials(a.uuid, CredentialKind::Pat)
        .await
        .unwrap();
    assert_eq!(pats, vec![alice_pat.clone()]);
    assert!(t
        .org_credentials(a.uuid, CredentialKind::Session)
        .await
        .unwrap()
        .is_empty());
    let bravo = t
        .org_credentials(b.uuid, CredentialKind::ApiKey)
        .await
        .unwrap();
    assert_eq!(bravo, vec![bravo_key]);
    assert!(t
        .org_credentials(Uuid::new_v4().into(), CredentialKind::ApiKey)
        .await
        .unwrap()
        .is_empty());

    // A key outlives its creator's membership; a rotated key is listed with
    // its new display prefix and rotation time.
    t.remove_member(a.uuid, bob.uuid, t0, &ev(a.uuid, "member.removed"))
        .await
        .unwrap();
    let rotated_at = t0 + secs(2);
    let rotated = t
        .rotate_credential(
            keys[0].uuid,
            &Rotation {
                token_hash: new_hash(),
                display_prefix: "lkkey_rot8".to_string(),
                expires_at: t0 + Duration::days(60),
                now: rotated_at,
                last_rotated_before: rotated_at - Duration::hours(1),
            },
            &ev(a.uuid, "api_key.rotated"),
        )
        .await
        .unwrap();
    assert!(rotated);
    let listed = t
        .org_credentials(a.uuid, CredentialKind::ApiKey)
        .await
        .unwrap();
    assert_eq!(listed.len(), 4, "the creator's removal revokes no key");
    let ci = listed.iter().find(|c| c.uuid == keys[0].uuid).unwrap();
    assert_eq!(ci.display_prefix, "lkkey_rot8");
    assert_eq!(ci.rotated_at, Some(rotated_at));
    assert_eq!(ci.expires_at, Some(t0 + Duration::days(60)));
    assert_eq!(listed.last().unwrap().uuid, keys[0].uuid);
}
