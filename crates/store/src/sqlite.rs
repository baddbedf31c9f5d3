//! The embedded SQLite backend: a file in the data directory, WAL, one writer.

use crate::pool::PoolSettings;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};
use std::path::Path;

pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Runs the migrations with foreign keys off (they cannot be turned off
/// inside the transaction of a migration), as SQLite's own recipe for
/// rebuilding a table asks: dropping the old table must not cascade. Every
/// foreign key is checked before the connection goes back to the pool.
pub(crate) async fn migrate(write: &AnyPool) -> Result<(), crate::StoreError> {
    let mut conn = write.acquire().await?;
    conn.execute("PRAGMA foreign_keys = OFF;").await?;
    let migrated = MIGRATOR.run(&mut *conn).await;
    let broken = sqlx::query("PRAGMA foreign_key_check;")
        .fetch_all(&mut *conn)
        .await;
    conn.execute("PRAGMA foreign_keys = ON;").await?;
    migrated?;
    if !broken?.is_empty() {
        return Err(crate::StoreError::Corrupt(
            "a migration left rows whose foreign keys point nowhere".into(),
        ));
    }
    Ok(())
}

/// The database holds every hash: only its owner may read it. SQLite gives
/// its `-wal` and `-shm` files the mode of the database file, so the file is
/// made (or set) 0600 before SQLite opens it.
pub(crate) fn make_private(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        for suffix in ["", "-wal", "-shm"] {
            let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
            match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
    }
    Ok(())
}

pub(crate) fn url_for_file(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

/// SQLite takes one writer at a time: writes go through a pool of one
/// connection (so they queue in-process instead of failing busy) and reads
/// through their own pool, which WAL lets run beside the writer.
pub(crate) async fn connect(
    url: &str,
    settings: &PoolSettings,
) -> Result<(AnyPool, AnyPool), sqlx::Error> {
    let options = || {
        AnyPoolOptions::new()
            .acquire_timeout(settings.acquire_timeout)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL;")
                        .await
                        .map(|_| ())
                })
            })
    };
    let write = options().max_connections(1).connect(url).await?;
    write.execute("PRAGMA journal_mode = WAL;").await?;
    let read = options()
        .max_connections(settings.max_connections.max(2))
        .connect(url)
        .await?;
    Ok((read, write))
}
