//! Storage of the CLI's authorization codes, device authorizations and tokens. Only SHA-256
//! hashes of codes and tokens are stored; every row hangs off a browser session, so ending the
//! session ends them (`ON DELETE CASCADE`).

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row};
use uuid::Uuid;

/// A token to store: its hash and expiry.
pub struct NewToken<'a> {
    pub hash: &'a [u8],
    pub expires_at: DateTime<Utc>,
}

pub async fn insert_code(
    pool: &PgPool,
    code_hash: &[u8],
    session_hash: &[u8],
    redirect_uri: &str,
    code_challenge: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO cli_authorization_codes
             (code_hash, session_hash, redirect_uri, code_challenge, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(code_hash)
    .bind(session_hash)
    .bind(redirect_uri)
    .bind(code_challenge)
    .bind(now)
    .bind(expires_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// What presenting a code found. The code is marked used in every case where it existed.
pub enum CodeRedemption {
    Unknown,
    /// Used before: the family it produced (if any) is to be revoked.
    Reused {
        family_id: Option<Uuid>,
    },
    Expired,
    Fresh {
        session_hash: Vec<u8>,
        redirect_uri: String,
        code_challenge: String,
    },
}

pub async fn redeem_code(
    pool: &PgPool,
    code_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<CodeRedemption, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let row = sqlx::query(
        "SELECT session_hash, redirect_uri, code_challenge, expires_at, used_at, family_id
         FROM cli_authorization_codes WHERE code_hash = $1 FOR UPDATE",
    )
    .bind(code_hash)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(CodeRedemption::Unknown);
    };
    let used_at: Option<DateTime<Utc>> = row.try_get("used_at")?;
    if used_at.is_some() {
        return Ok(CodeRedemption::Reused {
            family_id: row.try_get("family_id")?,
        });
    }
    sqlx::query("UPDATE cli_authorization_codes SET used_at = $2 WHERE code_hash = $1")
        .bind(code_hash)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let expires_at: DateTime<Utc> = row.try_get("expires_at")?;
    if now >= expires_at {
        return Ok(CodeRedemption::Expired);
    }
    Ok(CodeRedemption::Fresh {
        session_hash: row.try_get("session_hash")?,
        redirect_uri: row.try_get("redirect_uri")?,
        code_challenge: row.try_get("code_challenge")?,
    })
}

/// Starts a token family with its first access and refresh token; links the code that produced
/// it, if any, so a second redemption of that code revokes it.
pub async fn create_family(
    pool: &PgPool,
    session_hash: &[u8],
    grant_type: &str,
    code_hash: Option<&[u8]>,
    access: NewToken<'_>,
    refresh: NewToken<'_>,
    now: DateTime<Utc>,
) -> Result<Uuid, sqlx::Error> {
    let family_id = Uuid::new_v4();
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO cli_token_families (id, session_hash, created_at, grant_type)
         VALUES ($1, $2, $3, $4)",
    )
    .bind(family_id)
    .bind(session_hash)
    .bind(now)
    .bind(grant_type)
    .execute(&mut *tx)
    .await?;
    insert_tokens(&mut tx, family_id, access, refresh, now).await?;
    if let Some(code_hash) = code_hash {
        sqlx::query("UPDATE cli_authorization_codes SET family_id = $2 WHERE code_hash = $1")
            .bind(code_hash)
            .bind(family_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(family_id)
}

async fn insert_tokens(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    family_id: Uuid,
    access: NewToken<'_>,
    refresh: NewToken<'_>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    for (kind, token) in [("access", access), ("refresh", refresh)] {
        sqlx::query(
            "INSERT INTO cli_tokens (token_hash, family_id, kind, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token.hash)
        .bind(family_id)
        .bind(kind)
        .bind(now)
        .bind(token.expires_at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// A token as stored, with its family and session.
pub struct TokenRow {
    pub family_id: Uuid,
    pub kind: String,
    pub expires_at: DateTime<Utc>,
    pub rotated: bool,
    pub session_hash: Vec<u8>,
    pub session_expires_at: DateTime<Utc>,
}

pub async fn find_token(pool: &PgPool, token_hash: &[u8]) -> Result<Option<TokenRow>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT t.family_id, t.kind, t.expires_at, t.rotated_at IS NOT NULL AS rotated,
                f.session_hash, s.expires_at AS session_expires_at
         FROM cli_tokens t
         JOIN cli_token_families f ON f.id = t.family_id
         JOIN sessions s ON s.id_hash = f.session_hash
         WHERE t.token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        Ok(TokenRow {
            family_id: r.try_get("family_id")?,
            kind: r.try_get("kind")?,
            expires_at: r.try_get("expires_at")?,
            rotated: r.try_get("rotated")?,
            session_hash: r.try_get("session_hash")?,
            session_expires_at: r.try_get("session_expires_at")?,
        })
    })
    .transpose()
}

/// Marks `old_refresh` rotated and stores its successors. `false` if it was rotated meanwhile
/// (a concurrent use of the same token: treated as reuse by the caller).
pub async fn rotate(
    pool: &PgPool,
    family_id: Uuid,
    old_refresh: &[u8],
    access: NewToken<'_>,
    refresh: NewToken<'_>,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let marked = sqlx::query(
        "UPDATE cli_tokens SET rotated_at = $2
         WHERE token_hash = $1 AND kind = 'refresh' AND rotated_at IS NULL",
    )
    .bind(old_refresh)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if marked != 1 {
        return Ok(false);
    }
    insert_tokens(&mut tx, family_id, access, refresh, now).await?;
    tx.commit().await?;
    Ok(true)
}

/// Ends a family and every token in it.
pub async fn revoke_family(pool: &PgPool, family_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM cli_token_families WHERE id = $1")
        .bind(family_id)
        .execute(pool)
        .await?;
    Ok(())
}

/// The session an unexpired access token speaks for (both unexpired), and its family.
pub async fn access_token_session(
    pool: &PgPool,
    token_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<(Vec<u8>, Uuid)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT f.session_hash, f.id
         FROM cli_tokens t
         JOIN cli_token_families f ON f.id = t.family_id
         JOIN sessions s ON s.id_hash = f.session_hash
         WHERE t.token_hash = $1 AND t.kind = 'access' AND t.expires_at > $2 AND s.expires_at > $2",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(pool)
    .await?;
    row.map(|r| Ok((r.try_get("session_hash")?, r.try_get("id")?)))
        .transpose()
}

pub struct NewDevice<'a> {
    pub device_code_hash: &'a [u8],
    pub user_code: &'a str,
    pub expires_at: DateTime<Utc>,
    pub interval_seconds: i32,
    pub source_ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

/// `false` if the user code is already taken (the caller draws another).
pub async fn insert_device(
    pool: &PgPool,
    device: NewDevice<'_>,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO cli_device_codes
             (device_code_hash, user_code, created_at, expires_at, interval_seconds, source_ip, user_agent)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (user_code) DO NOTHING",
    )
    .bind(device.device_code_hash)
    .bind(device.user_code)
    .bind(now)
    .bind(device.expires_at)
    .bind(device.interval_seconds)
    .bind(device.source_ip)
    .bind(device.user_agent)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// A pending device authorization as the approval page shows it.
pub struct PendingDevice {
    pub user_code: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
}

/// The unexpired, undecided device authorization with this user code.
pub async fn pending_device(
    pool: &PgPool,
    user_code: &str,
    now: DateTime<Utc>,
) -> Result<Option<PendingDevice>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT user_code, created_at, expires_at, source_ip, user_agent FROM cli_device_codes
         WHERE user_code = $1 AND expires_at > $2 AND approved_at IS NULL AND denied_at IS NULL",
    )
    .bind(user_code)
    .bind(now)
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        Ok(PendingDevice {
            user_code: r.try_get("user_code")?,
            created_at: r.try_get("created_at")?,
            expires_at: r.try_get("expires_at")?,
            source_ip: r.try_get("source_ip")?,
            user_agent: r.try_get("user_agent")?,
        })
    })
    .transpose()
}

/// Approves (binding the person's session) or denies a pending authorization; `false` if it is
/// no longer pending.
pub async fn decide_device(
    pool: &PgPool,
    user_code: &str,
    session_hash: &[u8],
    approve: bool,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let column = if approve { "approved_at" } else { "denied_at" };
    let done = sqlx::query(&format!(
        "UPDATE cli_device_codes SET {column} = $3, session_hash = $2
         WHERE user_code = $1 AND expires_at > $3 AND approved_at IS NULL AND denied_at IS NULL"
    ))
    .bind(user_code)
    .bind(session_hash)
    .bind(now)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(done == 1)
}

/// A device authorization as a poll sees it.
pub struct PolledDevice {
    pub state: crate::protocol::cli_oauth::DeviceState,
    pub session_hash: Option<Vec<u8>>,
}

pub async fn device_for_poll(
    pool: &PgPool,
    device_code_hash: &[u8],
) -> Result<Option<PolledDevice>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT expires_at, interval_seconds, last_poll_at, approved_at IS NOT NULL AS approved,
                denied_at IS NOT NULL AS denied, redeemed_at IS NOT NULL AS redeemed, session_hash
         FROM cli_device_codes WHERE device_code_hash = $1",
    )
    .bind(device_code_hash)
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        Ok(PolledDevice {
            state: crate::protocol::cli_oauth::DeviceState {
                expires_at: r.try_get("expires_at")?,
                interval_seconds: r.try_get("interval_seconds")?,
                last_poll_at: r.try_get("last_poll_at")?,
                approved: r.try_get("approved")?,
                denied: r.try_get("denied")?,
                redeemed: r.try_get("redeemed")?,
            },
            session_hash: r.try_get("session_hash")?,
        })
    })
    .transpose()
}

/// Records a poll; with `redeem`, marks the authorization redeemed. `false` if another poll
/// redeemed it first.
pub async fn record_poll(
    pool: &PgPool,
    device_code_hash: &[u8],
    interval_seconds: i32,
    redeem: bool,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE cli_device_codes
         SET last_poll_at = $2, interval_seconds = $3,
             redeemed_at = CASE WHEN $4 THEN $2 ELSE redeemed_at END
         WHERE device_code_hash = $1 AND (NOT $4 OR redeemed_at IS NULL)",
    )
    .bind(device_code_hash)
    .bind(now)
    .bind(interval_seconds)
    .bind(redeem)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(done == 1)
}

pub async fn purge_expired(pool: &PgPool, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM cli_authorization_codes WHERE expires_at <= $1")
        .bind(now)
        .execute(pool)
        .await?;
    sqlx::query("DELETE FROM cli_device_codes WHERE expires_at <= $1")
        .bind(now)
        .execute(pool)
        .await?;
    // Rotated refresh tokens are kept while their family lives, as evidence for reuse.
    sqlx::query("DELETE FROM cli_tokens WHERE kind = 'access' AND expires_at <= $1")
        .bind(now)
        .execute(pool)
        .await?;
    Ok(())
}
