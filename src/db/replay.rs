//! The assertion-id replay cache, shared by every replica through one primary key.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// Records the assertion id; `false` means it was already used (a replay).
pub async fn first_use(
    pool: &PgPool,
    idp: &str,
    assertion_id: &str,
    expires_at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO used_assertions (idp, assertion_id, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(idp)
    .bind(assertion_id)
    .bind(expires_at)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn purge_expired(pool: &PgPool, now: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM used_assertions WHERE expires_at <= $1")
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected(),
    )
}

/// Whether the id is in the replay cache already (a read: recording it is the sign-in's own
/// statement, `super::sign_in::record`).
pub async fn used(pool: &PgPool, idp: &str, assertion_id: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM used_assertions WHERE idp = $1 AND assertion_id = $2)",
    )
    .bind(idp)
    .bind(assertion_id)
    .fetch_one(pool)
    .await
}
