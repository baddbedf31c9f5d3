//! The two schemas agree, and the SQLite file is private.

use crate::fixtures::*;

/// table -> [(column, not null)] in declaration order.
type Schema = BTreeMap<String, Vec<(String, bool)>>;

pub(crate) async fn sqlite_schema(path: &std::path::Path) -> (Schema, BTreeSet<String>) {
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut schema = Schema::new();
    for table in tables {
        let rows = sqlx::query(&format!("PRAGMA table_info(\"{table}\")"))
            .fetch_all(&mut conn)
            .await
            .unwrap();
        let columns = rows
            .iter()
            .map(|r| {
                let name: String = r.get("name");
                let notnull: i64 = r.get("notnull");
                let pk: i64 = r.get("pk");
                // SQLite's table_info reports primary-key columns as nullable
                // unless declared NOT NULL; PostgreSQL makes them NOT NULL.
                (name, notnull != 0 || pk != 0)
            })
            .collect();
        schema.insert(table, columns);
    }
    let indexes = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .collect();
    conn.close().await.ok();
    (schema, indexes)
}

pub(crate) async fn postgres_schema(url: &str) -> (Schema, BTreeSet<String>) {
    let mut conn = PgConnection::connect(url).await.unwrap();
    let rows = sqlx::query(
        "SELECT table_name::text AS t, column_name::text AS c, is_nullable::text AS n \
         FROM information_schema.columns WHERE table_schema = current_schema() \
         AND table_name <> '_sqlx_migrations' ORDER BY table_name, ordinal_position",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut schema = Schema::new();
    for r in rows {
        let (t, c, n): (String, String, String) = (r.get("t"), r.get("c"), r.get("n"));
        schema.entry(t).or_default().push((c, n == "NO"));
    }
    // Indexes created on their own, not those behind PRIMARY KEY / UNIQUE.
    let indexes = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_index i \
         JOIN pg_class c ON c.oid = i.indexrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema() \
         AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .collect();
    conn.close().await.ok();
    (schema, indexes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_parity_sqlite_postgres() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("latchkey.db");
    let sqlite = SqlStore::open_sqlite(&path, &PoolSettings::default())
        .await
        .expect("migrate SQLite");
    sqlite.close().await;
    let (sqlite_tables, sqlite_indexes) = sqlite_schema(&path).await;

    let pg = PgDatabase::create().await;
    let url = pg.url.clone();
    let outcome = tokio::spawn(async move {
        let pg = SqlStore::open_postgres(&url, &PoolSettings::default())
            .await
            .expect("migrate PostgreSQL");
        pg.close().await;
        postgres_schema(&url).await
    })
    .await;
    drop(pg);
    let (pg_tables, pg_indexes) = match outcome {
        Ok(schema) => schema,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    };

    assert!(
        sqlite_tables.contains_key("credentials") && sqlite_tables.len() >= 10,
        "the SQLite schema was read: {:?}",
        sqlite_tables.keys()
    );
    assert_eq!(
        sqlite_tables.keys().collect::<Vec<_>>(),
        pg_tables.keys().collect::<Vec<_>>(),
        "the same tables"
    );
    for (table, columns) in &sqlite_tables {
        assert_eq!(
            columns, &pg_tables[table],
            "table {table}: the same columns, in the same order, with the same NOT NULL"
        );
    }
    assert_eq!(sqlite_indexes, pg_indexes, "the same secondary indexes");
    drop(dir);
}

/// The SQLite file holds every hash: only its owner may read it, whether
/// the store creates it or finds it readable by others.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::TempDir::new().expect("temp dir");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let path = dir.path().join("latchkey.db");
    let store = SqlStore::open_sqlite(&path, &PoolSettings::default())
        .await
        .expect("open");
    new_org(
        &TestDb {
            store: store.clone(),
            raw_url: String::new(),
        },
        "acme",
    )
    .await;
    assert_eq!(mode(&path), 0o600, "a new database file");
    for suffix in ["-wal", "-shm"] {
        let side = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
        if side.exists() {
            assert_eq!(mode(&side), 0o600, "{}", side.display());
        }
    }
    store.close().await;

    let shared = dir.path().join("shared.db");
    std::fs::write(&shared, b"").unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o644)).unwrap();
    SqlStore::open_sqlite(&shared, &PoolSettings::default())
        .await
        .expect("open")
        .close()
        .await;
    assert_eq!(mode(&shared), 0o600, "an existing file readable by others");
    drop(dir);
}
