//! The embedded SQLite backend: a file in the data directory, WAL, one writer.

use crate::sql::PoolSettings;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};
use std::path::Path;

pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

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
