//! Credential sets waiting for the one page view that shows them (sealed, see
//! [`crate::sealing::shown_once`]).

use crate::sealing::shown_once::SealedSet;
use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row};

/// Stores a sealed set for the session whose cookie hashes to `session_hash`, dropping every
/// expired one on the way (they can no longer be shown).
pub async fn insert(
    pool: &PgPool,
    id: &str,
    session_hash: &[u8],
    set: &SealedSet,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM shown_once_credentials WHERE expires_at <= $1")
        .bind(now)
        .execute(pool)
        .await?;
    sqlx::query(
        "INSERT INTO shown_once_credentials (id, session_id_hash, key_id, sealed, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(session_hash)
    .bind(&set.key_id)
    .bind(&set.sealed)
    .bind(expires_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// Removes and returns this session's set `id` with its expiry. Another session's set is
/// neither returned nor removed.
pub async fn take(
    pool: &PgPool,
    id: &str,
    session_hash: &[u8],
) -> Result<Option<(SealedSet, DateTime<Utc>)>, sqlx::Error> {
    let row = sqlx::query(
        "DELETE FROM shown_once_credentials WHERE id = $1 AND session_id_hash = $2
         RETURNING key_id, sealed, expires_at",
    )
    .bind(id)
    .bind(session_hash)
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        Ok((
            SealedSet {
                key_id: r.try_get("key_id")?,
                sealed: r.try_get("sealed")?,
            },
            r.try_get("expires_at")?,
        ))
    })
    .transpose()
}
