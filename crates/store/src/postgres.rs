//! The PostgreSQL backend: one shared database for any number of replicas.

use crate::pool::PoolSettings;
use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;

pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Every connection of the pool names this process (`replica`) to the
/// change trigger, which puts the name in its notices (migration 0004).
pub(crate) async fn connect(
    url: &str,
    settings: &PoolSettings,
    replica: uuid::Uuid,
) -> Result<AnyPool, sqlx::Error> {
    let replica = replica.to_string();
    AnyPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(settings.acquire_timeout)
        .after_connect(move |conn, _| {
            let replica = replica.clone();
            Box::pin(async move {
                sqlx::query("SELECT set_config('latchkey.replica', $1, false)")
                    .bind(replica)
                    .execute(conn)
                    .await
                    .map(|_| ())
            })
        })
        .connect(url)
        .await
}

/// The channel on which the `audit_events` trigger sends `<org> <replica>`
/// (migration 0004).
const CHANGES_CHANNEL: &str = "latchkey_changes_by";

/// Sends, inside `tx`, the notices the audit trigger sends for an audited
/// change (both channels, as migration 0004): for a change no event records.
/// Delivered at commit, like the trigger's.
pub(crate) async fn notify_change(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    org: crate::OrgId,
    replica: uuid::Uuid,
) -> crate::Result<()> {
    // `pg_notify` returns `void`, which the Any driver cannot decode.
    sqlx::query(
        "SELECT 1 AS sent FROM (SELECT pg_notify('latchkey_changes', $1::text), \
         pg_notify($2::text, $1::text || ' ' || $3::text)) AS notices",
    )
    .bind(org.to_string())
    .bind(CHANGES_CHANNEL)
    .bind(replica.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// What another replica's change (or the loss of the means to hear of one)
/// means for this process's caches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicaChange {
    /// Something in this organization changed.
    Org(crate::OrgId),
    /// Notices can no longer be heard: nothing cached can be trusted until
    /// `Resumed`.
    Lost,
    /// Listening again; anything may have changed while deaf.
    Resumed,
}

/// Listens for changes committed by any replica until the task is aborted,
/// reconnecting by itself. Notices from `skip` (this process, whose own
/// commits have already been handled) are passed over.
pub(crate) async fn watch_changes(
    url: String,
    skip: Option<uuid::Uuid>,
    on_change: impl Fn(ReplicaChange) + Send + 'static,
) {
    let skip = skip.map(|id| id.to_string());
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
                            let (org, by) = notice
                                .payload()
                                .split_once(' ')
                                .unwrap_or((notice.payload(), ""));
                            if skip.as_deref() == Some(by) {
                                continue;
                            }
                            if let Ok(org) = org.parse::<crate::OrgId>() {
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
