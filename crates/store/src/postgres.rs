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

/// The channel the `audit_events` trigger notifies (migration 0002).
const CHANGES_CHANNEL: &str = "latchkey_changes";

/// What another replica's change (or the loss of the means to hear of one)
/// means for this process's caches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicaChange {
    /// Something in this organization changed.
    Org(uuid::Uuid),
    /// Notices can no longer be heard: nothing cached can be trusted until
    /// `Resumed`.
    Lost,
    /// Listening again; anything may have changed while deaf.
    Resumed,
}

/// Listens for changes committed by any replica until the task is aborted,
/// reconnecting by itself.
pub(crate) async fn watch_changes(url: String, on_change: impl Fn(ReplicaChange) + Send + 'static) {
    let mut backoff = std::time::Duration::from_millis(100);
    let mut announced_lost = false;
    loop {
        // A pool of its own with a short timeout, so an outage is reported
        // at once rather than after a long reconnect attempt.
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(std::time::Duration::from_secs(2))
            .connect_lazy(&url);
        let listening = match pool {
            Ok(pool) => match sqlx::postgres::PgListener::connect_with(&pool).await {
                Ok(mut listener) => {
                    listener.eager_reconnect(false);
                    listener.listen(CHANGES_CHANNEL).await.map(|()| listener)
                }
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        match listening {
            Ok(mut listener) => {
                on_change(ReplicaChange::Resumed);
                announced_lost = false;
                backoff = std::time::Duration::from_millis(100);
                loop {
                    match listener.try_recv().await {
                        Ok(Some(notice)) => {
                            if let Ok(org) = uuid::Uuid::parse_str(notice.payload()) {
                                on_change(ReplicaChange::Org(org));
                            }
                        }
                        Ok(None) => {
                            tracing::warn!("change listener lost its connection");
                            break;
                        }
                        Err(error) => {
                            tracing::warn!(%error, "change listener lost PostgreSQL");
                            break;
                        }
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "change listener cannot listen"),
        }
        if !announced_lost {
            on_change(ReplicaChange::Lost);
            announced_lost = true;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(std::time::Duration::from_secs(2));
    }
}
