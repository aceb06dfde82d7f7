//! Admin drafts waiting for their person to come back from a fresh sign-in (sealed, see
//! [`crate::sealing::admin_draft`]).

use crate::sealing::shown_once::SealedSet;
use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row};

/// A draft as its row keeps it.
pub struct StoredDraft {
    pub form: String,
    pub set: SealedSet,
    pub expires_at: DateTime<Utc>,
}

/// Keeps `set` as the person's one draft (a newer one replaces it), dropping every expired
/// draft on the way.
#[allow(clippy::too_many_arguments)]
pub async fn put(
    pool: &PgPool,
    idp: &str,
    subject: &str,
    holder_hash: &[u8],
    form: &str,
    set: &SealedSet,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM admin_drafts WHERE expires_at <= $1")
        .bind(now)
        .execute(pool)
        .await?;
    sqlx::query(
        "INSERT INTO admin_drafts (idp, subject, holder_hash, form, key_id, sealed, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (idp, subject) DO UPDATE SET holder_hash = EXCLUDED.holder_hash,
             form = EXCLUDED.form, key_id = EXCLUDED.key_id, sealed = EXCLUDED.sealed,
             expires_at = EXCLUDED.expires_at",
    )
    .bind(idp)
    .bind(subject)
    .bind(holder_hash)
    .bind(form)
    .bind(&set.key_id)
    .bind(&set.sealed)
    .bind(expires_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// Removes and returns this person's unexpired draft, if the browser holding `holder_hash`'s
/// cookie left it. A draft of another person or browser is neither returned nor removed.
pub async fn take(
    pool: &PgPool,
    idp: &str,
    subject: &str,
    holder_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<StoredDraft>, sqlx::Error> {
    let row = sqlx::query(
        "DELETE FROM admin_drafts WHERE idp = $1 AND subject = $2 AND holder_hash = $3
         RETURNING form, key_id, sealed, expires_at",
    )
    .bind(idp)
    .bind(subject)
    .bind(holder_hash)
    .fetch_optional(pool)
    .await?;
    let Some(r) = row else {
        return Ok(None);
    };
    let expires_at: DateTime<Utc> = r.try_get("expires_at")?;
    if expires_at <= now {
        return Ok(None);
    }
    Ok(Some(StoredDraft {
        form: r.try_get("form")?,
        set: SealedSet {
            key_id: r.try_get("key_id")?,
            sealed: r.try_get("sealed")?,
        },
        expires_at,
    }))
}
