//! Change notices between processes (PostgreSQL).

use crate::fixtures::*;

/// A process hears the changes other processes commit, and not its own: its
/// own reach its caches through the change hook, at commit, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_notices_skip_their_own_replica_postgres() {
    use latchkey_store::ReplicaChange;
    use std::sync::Mutex;
    let pg = PgDatabase::create().await;
    let url = pg.url.clone();
    let outcome = tokio::spawn(async move {
        let hooked = Arc::new(Mutex::new(Vec::new()));
        let heard = Arc::new(Mutex::new(Vec::new()));
        let mut this = SqlStore::open_postgres(&url, &PoolSettings::default())
            .await
            .expect("open");
        let into_hook = hooked.clone();
        this.set_change_hook(Arc::new(move |org| into_hook.lock().unwrap().push(org)));
        let into_watcher = heard.clone();
        let watcher = this
            .watch_other_replicas(move |c| into_watcher.lock().unwrap().push(c))
            .expect("PostgreSQL has a watcher");
        let other = SqlStore::open_postgres(&url, &PoolSettings::default())
            .await
            .expect("open");
        let wait_for = |what: ReplicaChange| {
            let heard = heard.clone();
            async move {
                for _ in 0..200 {
                    if heard.lock().unwrap().contains(&what) {
                        return;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(25)).await;
                }
                panic!("never heard {what:?}: {:?}", heard.lock().unwrap());
            }
        };
        wait_for(ReplicaChange::Resumed).await;
        let this_db = TestDb {
            store: this.clone(),
            raw_url: url.clone(),
        };
        let other_db = TestDb {
            store: other.clone(),
            raw_url: url.clone(),
        };
        let (mine, _) = new_org(&this_db, "mine").await;
        let (theirs, _) = new_org(&other_db, "theirs").await;
        // Notices arrive in commit order: once the later one is heard, the
        // earlier one would have been too.
        wait_for(ReplicaChange::Org(theirs.uuid)).await;
        assert!(
            !heard
                .lock()
                .unwrap()
                .contains(&ReplicaChange::Org(mine.uuid)),
            "this process's own change came back as a notice"
        );
        assert_eq!(
            *hooked.lock().unwrap(),
            vec![mine.uuid],
            "its own change reached the hook"
        );
        watcher.abort();
        this.close().await;
        other.close().await;
    })
    .await;
    drop(pg);
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}
