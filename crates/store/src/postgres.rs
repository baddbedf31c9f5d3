//! The PostgreSQL backend: one shared database for any number of replicas.

use crate::sql::PoolSettings;
use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;

pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

pub(crate) async fn connect(url: &str, settings: &PoolSettings) -> Result<AnyPool, sqlx::Error> {
    AnyPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(settings.acquire_timeout)
        .connect(url)
        .await
}
