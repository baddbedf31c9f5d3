//! Throttle windows.

use crate::fixtures::*;

on_both_backends! {
    throttles_count_every_attempt_once => throttles_count_every_attempt_once_sqlite, throttles_count_every_attempt_once_postgres;
}

/// Sign-in throttle windows: concurrent attempts are each counted once
/// (none slips past the limit), an attempt can be given back, a full window
/// makes the next one longer, and old windows are purged.
async fn throttles_count_every_attempt_once(t: TestDb) {
    use latchkey_core::throttle::{Decision, Rule};
    let rule = Rule {
        limit: 5,
        window: Duration::minutes(15),
        max_doublings: 3,
    };
    let t0 = now();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let store = t.store.clone();
        tasks.push(tokio::spawn(async move {
            store.throttle_take("pair:a", &rule, t0).await.unwrap()
        }));
    }
    let mut decisions = Vec::new();
    for task in tasks {
        decisions.push(task.await.unwrap());
    }
    let allowed = Decision::Allowed { window_start: t0 };
    assert_eq!(decisions.iter().filter(|d| **d == allowed).count(), 5);
    assert_eq!(
        decisions
            .iter()
            .filter(|d| **d == Decision::Refused { retry_after: 900 })
            .count(),
        15,
        "{decisions:?}"
    );
    assert_eq!(
        t.throttle_take("pair:b", &rule, t0).await.unwrap(),
        allowed,
        "keys are counted apart"
    );

    // An attempt given back can be made again, once.
    t.throttle_give_back("pair:a", t0).await.unwrap();
    assert_eq!(t.throttle_take("pair:a", &rule, t0).await.unwrap(), allowed);
    assert!(matches!(
        t.throttle_take("pair:a", &rule, t0).await.unwrap(),
        Decision::Refused { .. }
    ));
    // Not into another window.
    t.throttle_give_back("pair:a", t0 - secs(1)).await.unwrap();
    assert!(matches!(
        t.throttle_take("pair:a", &rule, t0 + secs(60))
            .await
            .unwrap(),
        Decision::Refused { retry_after: 840 }
    ));

    // After a full window the next one is twice as long.
    let t1 = t0 + Duration::minutes(15);
    for _ in 0..5 {
        assert_eq!(
            t.throttle_take("pair:a", &rule, t1).await.unwrap(),
            Decision::Allowed { window_start: t1 }
        );
    }
    assert_eq!(
        t.throttle_take("pair:a", &rule, t1).await.unwrap(),
        Decision::Refused { retry_after: 1800 }
    );

    // Cleared: a fresh start.
    t.throttle_clear("pair:a").await.unwrap();
    assert_eq!(
        t.throttle_take("pair:a", &rule, t1).await.unwrap(),
        Decision::Allowed { window_start: t1 }
    );

    // Purged once they may be forgotten, and not before.
    assert_eq!(t.throttle_purge(t0).await.unwrap(), 0);
    assert_eq!(t.throttle_purge(t1 + Duration::hours(2)).await.unwrap(), 2);
    assert_eq!(
        t.count(
            "SELECT COUNT(*) FROM throttles WHERE throttle_key <> $1",
            ""
        )
        .await,
        0
    );
}
