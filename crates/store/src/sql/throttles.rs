//! Throttles: sign-in attempts counted in the database, so that every
//! replica and the next start see the same counts.

use super::rows::*;
use super::SqlStore;
use crate::Result;
use latchkey_core::throttle;
use sqlx::Row;
use time::OffsetDateTime;

pub(super) async fn throttle_take(
    db: &SqlStore,
    key: &str,
    rule: &throttle::Rule,
    now: OffsetDateTime,
) -> Result<throttle::Decision> {
    let mut tx = db.write.begin().await?;
    // Creates the window or locks it until commit (PostgreSQL: the row
    // lock of the upsert; SQLite: the one writer), so that concurrent
    // attempts on any replica are counted one after the other.
    let row = sqlx::query(
        "INSERT INTO throttles (throttle_key, window_start, attempts, strikes, forget_at) \
         VALUES ($1, $2, 0, 0, $2) \
         ON CONFLICT (throttle_key) DO UPDATE SET throttle_key = excluded.throttle_key \
         RETURNING window_start, attempts, strikes",
    )
    .bind(key)
    .bind(ts(now))
    .fetch_one(&mut *tx)
    .await?;
    let count = |col: &str| -> Result<u32> {
        let n: i64 = row.try_get(col)?;
        u32::try_from(n).map_err(|_| corrupt(col))
    };
    let stored = throttle::Window {
        start: time_at(&row, "window_start")?,
        attempts: count("attempts")?,
        strikes: count("strikes")?,
    };
    let (window, decision) = rule.take(Some(stored), now);
    sqlx::query(
        "UPDATE throttles SET window_start = $1, attempts = $2, strikes = $3, forget_at = $4 \
         WHERE throttle_key = $5",
    )
    .bind(ts(window.start))
    .bind(i64::from(window.attempts))
    .bind(i64::from(window.strikes))
    .bind(ts(rule.forget_at(&window)))
    .bind(key)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(decision)
}

pub(super) async fn throttle_give_back(
    db: &SqlStore,
    key: &str,
    window_start: OffsetDateTime,
) -> Result<()> {
    sqlx::query(
        "UPDATE throttles SET attempts = attempts - 1 \
         WHERE throttle_key = $1 AND window_start = $2 AND attempts > 0",
    )
    .bind(key)
    .bind(ts(window_start))
    .execute(&db.write)
    .await?;
    Ok(())
}

pub(super) async fn throttle_clear(db: &SqlStore, key: &str) -> Result<()> {
    sqlx::query("DELETE FROM throttles WHERE throttle_key = $1")
        .bind(key)
        .execute(&db.write)
        .await?;
    Ok(())
}

pub(super) async fn throttle_purge(db: &SqlStore, now: OffsetDateTime) -> Result<u64> {
    let done = sqlx::query("DELETE FROM throttles WHERE forget_at <= $1")
        .bind(ts(now))
        .execute(&db.write)
        .await?;
    Ok(done.rows_affected())
}
