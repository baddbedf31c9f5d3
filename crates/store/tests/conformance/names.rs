//! Name keys.

use crate::fixtures::*;
use crate::upgrade::{exec, i, s};

on_both_backends! {
    names_are_unique_after_folding => names_are_unique_after_folding_sqlite, names_are_unique_after_folding_postgres;
}

/// Project and custom-role names are unique after NFKC case folding; rows
/// stored before names had keys get theirs when the store opens, and two old
/// look-alikes both survive.
async fn names_are_unique_after_folding(t: TestDb) {
    let (org, alice) = new_org(&t, "keys").await;
    create_project(&t, org.uuid, "Website", &alice).await;
    for look_alike in ["ＷＥＢＳＩＴＥ", "website"] {
        assert_err!(
            t.create_project(
                &new_project(org.uuid, look_alike, &alice),
                &ev(org.uuid, "project.created")
            )
            .await,
            StoreError::Conflict(_)
        );
    }
}

/// Rows stored before names had keys get theirs when the store opens; two old
/// look-alikes both survive, and a new look-alike of either is refused. (Not
/// in a task: opening a store is not `Send`.)
async fn name_keys_are_filled_on_open(
    open: impl Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = SqlStore>>>,
    raw_url: &str,
) {
    let store = open().await;
    let org = new_org_value("legacy");
    let alice = new_user("alice@legacy.test");
    store
        .create_org(
            &org,
            &NewAdmin::New {
                user: alice.clone(),
                password_hash: "$argon2id$x".into(),
            },
            &ev(org.uuid, "org.created"),
        )
        .await
        .unwrap();
    store.close().await;
    sqlx::any::install_default_drivers();
    let mut raw = AnyConnection::connect(raw_url).await.expect("raw");
    // As an older latchkey wrote them: look-alike names, no keys.
    for name in ["Legacy", "LEGACY"] {
        exec(
            &mut raw,
            "INSERT INTO projects (uuid, org_uuid, name, created_at, created_by_type, created_by_uuid, created_by_name, \
             updated_at, updated_by_type, updated_by_uuid, updated_by_name) \
             VALUES ($1, $2, $3, $4, 'user', $5, 'someone', $4, 'user', $5, 'someone')",
            &[s(Uuid::new_v4()), s(org.uuid), s(name), i(now()), s(alice.uuid)],
        )
        .await;
    }
    let store = open().await;
    let mut names: Vec<String> = store
        .projects(org.uuid)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    names.sort();
    assert_eq!(names, ["LEGACY", "Legacy"]);
    let unkeyed: i64 = sqlx::query("SELECT COUNT(*) AS n FROM projects WHERE name_key IS NULL")
        .fetch_one(&mut raw)
        .await
        .unwrap()
        .get("n");
    assert_eq!(unkeyed, 0);
    assert_err!(
        store
            .create_project(
                &new_project(org.uuid, "ｌｅｇａｃｙ", &alice),
                &ev(org.uuid, "project.created")
            )
            .await,
        StoreError::Conflict(_)
    );
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn name_keys_are_filled_on_open_sqlite() {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let path = dir.path().join("latchkey.db");
    let url = format!("sqlite://{}", path.display());
    let open = || -> std::pin::Pin<Box<dyn std::future::Future<Output = SqlStore>>> {
        let path = path.clone();
        Box::pin(async move {
            SqlStore::open_sqlite(&path, &PoolSettings::default())
                .await
                .expect("open")
        })
    };
    name_keys_are_filled_on_open(open, &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn name_keys_are_filled_on_open_postgres() {
    let pg = PgDatabase::create().await;
    let url = pg.url.clone();
    let open = || -> std::pin::Pin<Box<dyn std::future::Future<Output = SqlStore>>> {
        let url = url.clone();
        Box::pin(async move {
            SqlStore::open_postgres(&url, &PoolSettings::default())
                .await
                .expect("open")
        })
    };
    name_keys_are_filled_on_open(open, &pg.url.clone()).await;
    drop(pg);
}
