//! The audit log.

use crate::fixtures::*;

on_both_backends! {
    audit_filters_and_paging => audit_filters_and_paging_sqlite, audit_filters_and_paging_postgres;
    audit_is_append_only => audit_is_append_only_sqlite, audit_is_append_only_postgres;
}

async fn audit_filters_and_paging(t: TestDb) {
    let (a, alice) = new_org(&t, "acme").await;
    let (b, _) = new_org(&t, "bravo").await;
    let bob = new_user("bob@example.com");
    let (p1, p2) = (Uuid::new_v4(), Uuid::new_v4());
    let t0 = now() - secs(1000);

    // The organization's own "org.created" is event 0; then nine more.
    let mut appended = Vec::new();
    for i in 0..9i64 {
        let who = if i % 3 == 0 { &bob } else { &alice };
        let action = if i % 2 == 0 {
            "pat.updated"
        } else {
            "pat.rotated"
        };
        let on = if i < 5 { p1 } else { p2 };
        let e = AuditEvent {
            at: t0 + secs(i * 10),
            actor: Some(actor(who)),
            target: Some(target("project", on, "p")),
            details: serde_json::json!({ "i": i }),
            ..ev(a.uuid, action)
        };
        t.append_audit(&e).await.unwrap();
        appended.push(e);
    }
    t.append_audit(&ev(b.uuid, "pat.updated")).await.unwrap();

    let org = a.uuid;
    let query = |filter: AuditFilter, limit: u32| {
        let t = t.clone();
        async move {
            let mut out = Vec::new();
            let mut cursor = None;
            let mut pages = 0;
            loop {
                let page = t
                    .audit_events(org, &filter, &PageRequest { limit, cursor })
                    .await
                    .unwrap();
                assert!(page.items.len() <= limit as usize);
                pages += 1;
                out.extend(
                    page.items
                        .into_iter()
                        .map(|e| e.details.get("i").and_then(|i| i.as_i64()).unwrap_or(-1)),
                );
                match page.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => return (out, pages),
                }
            }
        }
    };

    // Everything, newest first; only this organization's events.
    let (all, _) = query(AuditFilter::default(), 100).await;
    assert_eq!(all, vec![8, 7, 6, 5, 4, 3, 2, 1, 0, -1]);

    // Paging walks the same list exactly once.
    let (paged, pages) = query(AuditFilter::default(), 3).await;
    assert_eq!(paged, all);
    assert_eq!(pages, 4);
    let (paged, pages) = query(AuditFilter::default(), 5).await;
    assert_eq!(paged, all);
    assert_eq!(pages, 2, "an exactly full last page has no next cursor");

    let action = |s: &str| AuditFilter {
        action: Some(s.to_string()),
        ..AuditFilter::default()
    };
    assert_eq!(
        query(action("pat.updated"), 100).await.0,
        vec![8, 6, 4, 2, 0]
    );
    assert_eq!(query(action("pat.rotated"), 2).await.0, vec![7, 5, 3, 1]);
    assert_eq!(query(action("org.created"), 100).await.0, vec![-1]);
    assert!(query(action("nothing"), 100).await.0.is_empty());

    let by = |u: Uuid| AuditFilter {
        actor_uuid: Some(u),
        ..AuditFilter::default()
    };
    assert_eq!(query(by(bob.uuid.into()), 100).await.0, vec![6, 3, 0]);
    assert_eq!(
        query(by(alice.uuid.into()), 4).await.0,
        vec![8, 7, 5, 4, 2, 1]
    );

    let on = |u: Uuid| AuditFilter {
        target_uuid: Some(u),
        ..AuditFilter::default()
    };
    assert_eq!(query(on(p1), 100).await.0, vec![4, 3, 2, 1, 0]);
    assert_eq!(query(on(p2), 100).await.0, vec![8, 7, 6, 5]);

    // since/until are inclusive.
    let window = AuditFilter {
        since: Some(t0 + secs(20)),
        until: Some(t0 + secs(50)),
        ..AuditFilter::default()
    };
    assert_eq!(query(window.clone(), 100).await.0, vec![5, 4, 3, 2]);
    assert_eq!(query(window.clone(), 1).await.0, vec![5, 4, 3, 2]);
    let since = AuditFilter {
        since: Some(t0 + secs(70)),
        ..AuditFilter::default()
    };
    assert_eq!(
        query(since, 100).await.0,
        vec![8, 7, -1],
        "org.created happened now, after t0"
    );
    let until = AuditFilter {
        until: Some(t0 + secs(10)),
        ..AuditFilter::default()
    };
    assert_eq!(query(until, 100).await.0, vec![1, 0]);

    // Combined.
    let combined = AuditFilter {
        action: Some("pat.updated".to_string()),
        actor_uuid: Some(alice.uuid.into()),
        target_uuid: Some(p1),
        since: Some(t0),
        until: Some(t0 + secs(80)),
    };
    assert_eq!(query(combined, 1).await.0, vec![4, 2]);

    // Round trip of the stored fields.
    let newest = &t
        .audit_events(
            a.uuid,
            &AuditFilter::default(),
            &PageRequest {
                limit: 1,
                cursor: None,
            },
        )
        .await
        .unwrap()
        .items[0];
    let last = appended.last().unwrap();
    assert_eq!(newest.at, last.at);
    assert_eq!(newest.actor, last.actor);
    assert_eq!(newest.target, last.target);

    assert_err!(
        t.audit_events(
            a.uuid,
            &AuditFilter::default(),
            &PageRequest {
                limit: 2,
                cursor: Some("garbage".to_string())
            }
        )
        .await,
        StoreError::InvalidCursor
    );
    assert_eq!(all_events(&t, b.uuid).await.len(), 2);
}

async fn audit_is_append_only(t: TestDb) {
    let (a, _alice) = new_org(&t, "acme").await;
    t.append_audit(&ev(a.uuid, "role.created")).await.unwrap();
    let before = all_events(&t, a.uuid).await;
    assert_eq!(before.len(), 2);

    let mut raw = t.raw().await;
    let update = sqlx::query("UPDATE audit_events SET action = 'tampered'")
        .execute(&mut raw)
        .await;
    assert!(
        update.is_err(),
        "UPDATE on audit_events must fail: {update:?}"
    );
    let one = sqlx::query("UPDATE audit_events SET ip = '1.2.3.4' WHERE action = $1")
        .bind("role.created")
        .execute(&mut raw)
        .await;
    assert!(one.is_err(), "UPDATE of one audit event must fail: {one:?}");
    let delete = sqlx::query("DELETE FROM audit_events")
        .execute(&mut raw)
        .await;
    assert!(
        delete.is_err(),
        "DELETE on audit_events must fail: {delete:?}"
    );
    let one = sqlx::query("DELETE FROM audit_events WHERE action = $1")
        .bind("role.created")
        .execute(&mut raw)
        .await;
    assert!(one.is_err(), "DELETE of one audit event must fail: {one:?}");
    raw.close().await.ok();

    let after = all_events(&t, a.uuid).await;
    let key = |e: &StoredAuditEvent| (e.uuid, e.action.clone(), e.ip.clone());
    assert_eq!(
        after.iter().map(key).collect::<Vec<_>>(),
        before.iter().map(key).collect::<Vec<_>>()
    );
    // Appending still works.
    t.append_audit(&ev(a.uuid, "role.updated")).await.unwrap();
    assert_eq!(all_events(&t, a.uuid).await.len(), 3);
}
