//! One migrated database per test, on each backend.

use crate::fixtures::*;

/// One migrated database, fresh for one test.
#[derive(Clone)]
pub(crate) struct TestDb {
    pub(crate) store: SqlStore,
    /// URL for a raw connection to the same database, bypassing the store.
    pub(crate) raw_url: String,
}

impl std::ops::Deref for TestDb {
    type Target = SqlStore;
    fn deref(&self) -> &SqlStore {
        &self.store
    }
}

impl TestDb {
    /// A connection of its own, outside the store's pools.
    pub(crate) async fn raw(&self) -> AnyConnection {
        sqlx::any::install_default_drivers();
        AnyConnection::connect(&self.raw_url)
            .await
            .expect("raw connection to the test database")
    }

    /// `SELECT COUNT(*) ...` with one text parameter, on a raw connection.
    pub(crate) async fn count(&self, sql: &str, arg: impl ToString) -> i64 {
        let mut conn = self.raw().await;
        let row = sqlx::query(sql)
            .bind(arg.to_string())
            .fetch_one(&mut conn)
            .await
            .expect(sql);
        row.try_get::<i64, _>(0).expect("count")
    }
}

/// Runs `body` in its own task so that a failing assertion is caught, the
/// database is cleaned up, and the panic then resumes.
pub(crate) async fn run_body<F, Fut>(
    db: TestDb,
    body: F,
) -> Result<(), Box<dyn std::any::Any + Send>>
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let store = db.store.clone();
    let outcome = tokio::spawn(body(db)).await;
    store.close().await;
    match outcome {
        Ok(()) => Ok(()),
        Err(e) if e.is_panic() => Err(e.into_panic()),
        Err(e) => Err(Box::new(format!("test task failed: {e}"))),
    }
}

pub(crate) async fn run_sqlite<F, Fut>(body: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::TempDir::new().expect("temp dir");
    let path = dir.path().join("latchkey.db");
    let store = SqlStore::open_sqlite(&path, &PoolSettings::default())
        .await
        .expect("open SQLite store");
    assert_eq!(store.backend(), Backend::Sqlite);
    let db = TestDb {
        store,
        raw_url: format!("sqlite://{}", path.display()),
    };
    let outcome = run_body(db, body).await;
    drop(dir);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

pub(crate) async fn run_postgres<F, Fut>(body: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    // Dropped (and the database with it) when this function returns or unwinds.
    let pg = PgDatabase::create().await;
    let store = SqlStore::open_postgres(&pg.url, &PoolSettings::default())
        .await
        .unwrap_or_else(|e| panic!("open PostgreSQL store on {}: {e}", pg.name));
    assert_eq!(store.backend(), Backend::Postgres);
    let db = TestDb {
        store,
        raw_url: pg.url.clone(),
    };
    let outcome = run_body(db, body).await;
    drop(pg);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
