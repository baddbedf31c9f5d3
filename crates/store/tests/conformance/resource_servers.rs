//! Resource servers and the instance audit log.

use crate::fixtures::*;
use latchkey_core::{InstanceAction, InstanceAuditEvent};
use latchkey_store::{ResourceServer, INSTANCE_CHANGES};

on_both_backends! {
    resource_servers_live_by_hash_until_revoked => resource_servers_live_by_hash_until_revoked_sqlite, resource_servers_live_by_hash_until_revoked_postgres;
    resource_server_names_are_unique_among_live_ones => resource_server_names_are_unique_among_live_ones_sqlite, resource_server_names_are_unique_among_live_ones_postgres;
    instance_audit_log_is_append_only_and_apart => instance_audit_log_is_append_only_and_apart_sqlite, instance_audit_log_is_append_only_and_apart_postgres;
    resource_servers_keep_their_last_use => resource_servers_keep_their_last_use_sqlite, resource_servers_keep_their_last_use_postgres;
}

pub(crate) fn new_resource_server(name: &str, at: OffsetDateTime) -> (ResourceServer, TokenHash) {
    let server = ResourceServer {
        uuid: Uuid::new_v4().into(),
        name: name.to_string(),
        display_prefix: "lkrs_abcde".into(),
        created_at: at,
        revoked_at: None,
        last_used_at: None,
    };
    (
        server,
        hasher().hash(&format!("lkrs_{}", Uuid::new_v4().simple())),
    )
}

pub(crate) fn instance_event(
    action: InstanceAction,
    server: &ResourceServer,
    at: OffsetDateTime,
) -> InstanceAuditEvent {
    InstanceAuditEvent {
        at,
        action,
        actor: "operator".into(),
        target_uuid: server.uuid.into(),
        target_name: server.name.clone(),
        details: serde_json::json!({ "displayPrefix": server.display_prefix }),
    }
}

/// Found by its hash (with the stored hash, for the constant-time check),
/// listed newest first, revoked once; a revoked one is still found (so the
/// caller can tell) but carries `revoked_at`.
async fn resource_servers_live_by_hash_until_revoked(t: TestDb) {
    let t0 = now();
    let (a, a_hash) = new_resource_server("gateway", t0);
    let (b, b_hash) = new_resource_server("reports", t0 + secs(1));
    t.create_resource_server(
        &a,
        &a_hash,
        &instance_event(InstanceAction::ResourceServerCreated, &a, t0),
    )
    .await
    .unwrap();
    t.create_resource_server(
        &b,
        &b_hash,
        &instance_event(InstanceAction::ResourceServerCreated, &b, t0),
    )
    .await
    .unwrap();
    let (found, stored) = t.resource_server_by_hash(&a_hash).await.unwrap().unwrap();
    assert_eq!(found, a);
    assert!(stored.ct_eq(&a_hash));
    assert!(t
        .resource_server_by_hash(&new_hash())
        .await
        .unwrap()
        .is_none());
    let listed = t.resource_servers().await.unwrap();
    assert_eq!(listed, vec![b.clone(), a.clone()], "newest first");

    let at = t0 + secs(5);
    t.revoke_resource_server(
        a.uuid,
        at,
        &instance_event(InstanceAction::ResourceServerRevoked, &a, at),
    )
    .await
    .unwrap();
    let (found, _) = t.resource_server_by_hash(&a_hash).await.unwrap().unwrap();
    assert_eq!(found.revoked_at, Some(at));
    assert_err!(
        t.revoke_resource_server(
            a.uuid,
            at,
            &instance_event(InstanceAction::ResourceServerRevoked, &a, at)
        )
        .await,
        StoreError::NotFound
    );
    assert_err!(
        t.revoke_resource_server(
            Uuid::new_v4().into(),
            at,
            &instance_event(InstanceAction::ResourceServerRevoked, &a, at)
        )
        .await,
        StoreError::NotFound
    );
    assert_eq!(
        t.resource_servers().await.unwrap().len(),
        2,
        "revoked ones are listed"
    );
    // Only the hash is stored, never a secret.
    assert_eq!(
        t.count(
            "SELECT COUNT(*) FROM resource_servers WHERE token_hash = $1",
            a_hash.to_hex()
        )
        .await,
        1
    );
}

/// Names are one name after case folding (like projects'), among live
/// servers: a revoked one's name may be given again.
async fn resource_server_names_are_unique_among_live_ones(t: TestDb) {
    let t0 = now();
    let (a, a_hash) = new_resource_server("Gateway", t0);
    t.create_resource_server(
        &a,
        &a_hash,
        &instance_event(InstanceAction::ResourceServerCreated, &a, t0),
    )
    .await
    .unwrap();
    for name in ["gateway", "GATEWAY", "Ｇａｔｅｗａｙ"] {
        let (b, b_hash) = new_resource_server(name, t0);
        assert_err!(
            t.create_resource_server(
                &b,
                &b_hash,
                &instance_event(InstanceAction::ResourceServerCreated, &b, t0)
            )
            .await,
            StoreError::Conflict(latchkey_store::Conflict::ResourceServerName)
        );
    }
    assert_eq!(
        t.instance_audit_events(10).await.unwrap().len(),
        1,
        "a refused change writes no event"
    );
    t.revoke_resource_server(
        a.uuid,
        t0,
        &instance_event(InstanceAction::ResourceServerRevoked, &a, t0),
    )
    .await
    .unwrap();
    let (c, c_hash) = new_resource_server("gateway", t0);
    t.create_resource_server(
        &c,
        &c_hash,
        &instance_event(InstanceAction::ResourceServerCreated, &c, t0),
    )
    .await
    .unwrap();
}

/// Each change writes its event to the instance log (newest first), none to
/// any organization's, the log refuses changes, and the change hook hears
/// `INSTANCE_CHANGES`.
async fn instance_audit_log_is_append_only_and_apart(t: TestDb) {
    use std::sync::Mutex;
    let mut store = t.store.clone();
    let heard = Arc::new(Mutex::new(Vec::new()));
    let into = heard.clone();
    store.set_change_hook(Arc::new(move |org| into.lock().unwrap().push(org)));
    let (org, _) = new_org(&t, "acme").await;
    let before = t
        .audit_events(
            org.uuid,
            &AuditFilter::default(),
            &PageRequest {
                limit: 100,
                cursor: None,
            },
        )
        .await
        .unwrap()
        .items
        .len();
    let t0 = now();
    let (a, a_hash) = new_resource_server("gateway", t0);
    store
        .create_resource_server(
            &a,
            &a_hash,
            &instance_event(InstanceAction::ResourceServerCreated, &a, t0),
        )
        .await
        .unwrap();
    store
        .revoke_resource_server(
            a.uuid,
            t0 + secs(1),
            &instance_event(InstanceAction::ResourceServerRevoked, &a, t0 + secs(1)),
        )
        .await
        .unwrap();
    assert_eq!(
        *heard.lock().unwrap(),
        vec![INSTANCE_CHANGES, INSTANCE_CHANGES]
    );
    let events = t.instance_audit_events(10).await.unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["resource_server.revoked", "resource_server.created"]
    );
    assert_eq!(events[1].target_uuid, a.uuid.uuid());
    assert_eq!(events[1].target_name, "gateway");
    assert_eq!(events[1].actor, "operator");
    assert_eq!(events[1].at, t0);
    assert_eq!(events[1].details["displayPrefix"], "lkrs_abcde");
    assert_eq!(t.instance_audit_events(1).await.unwrap().len(), 1, "limit");
    assert_eq!(
        t.audit_events(
            org.uuid,
            &AuditFilter::default(),
            &PageRequest {
                limit: 100,
                cursor: None
            }
        )
        .await
        .unwrap()
        .items
        .len(),
        before,
        "no organization's log"
    );
    let mut raw = t.raw().await;
    assert!(sqlx::query("UPDATE instance_audit_events SET action = 'x'")
        .execute(&mut raw)
        .await
        .is_err());
    assert!(sqlx::query("DELETE FROM instance_audit_events")
        .execute(&mut raw)
        .await
        .is_err());
}

/// A recorded use shows in the list; an older one (a late batch) does not
/// move it back; a use of an unknown id writes nothing; no audit event.
async fn resource_servers_keep_their_last_use(t: TestDb) {
    let t0 = now();
    let (a, a_hash) = new_resource_server("gateway", t0);
    t.create_resource_server(
        &a,
        &a_hash,
        &instance_event(InstanceAction::ResourceServerCreated, &a, t0),
    )
    .await
    .unwrap();
    let listed = |t: TestDb| async move { t.resource_servers().await.unwrap()[0].last_used_at };
    assert_eq!(listed(t.clone()).await, None);
    let used = t0 + secs(90);
    t.record_resource_server_use(&[(a.uuid, used), (CredentialId::random(), used)])
        .await
        .unwrap();
    assert_eq!(listed(t.clone()).await, Some(used));
    t.record_resource_server_use(&[(a.uuid, t0 + secs(30))])
        .await
        .unwrap();
    assert_eq!(listed(t.clone()).await, Some(used));
    let (found, _) = t.resource_server_by_hash(&a_hash).await.unwrap().unwrap();
    assert_eq!(found.last_used_at, Some(used));
    t.record_resource_server_use(&[]).await.unwrap();
    assert_eq!(t.instance_audit_events(10).await.unwrap().len(), 1);
}
