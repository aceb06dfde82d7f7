//! Server-side sessions. The browser holds a random token; only its hash is stored, so a read of
//! the table does not yield usable cookies. The upstream ID token is stored only sealed, bound to
//! the session (see [`crate::sealing::id_token`]).

use crate::admin::session_page::SessionCursor;
use crate::domain::{FederatedIdentity, KeptIdToken, UpstreamIdToken};
use crate::sealing::id_token;
use crate::sealing::keys::SealingKeys;
use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row};

#[derive(Debug, Clone)]
pub struct Session {
    pub csrf_token: String,
    /// The reference id of the sign-in audit row.
    pub sign_in_reference: String,
    pub identity: FederatedIdentity,
    pub expires_at: DateTime<Utc>,
    /// When the sign-in that created this session happened (admin pages want it recent).
    pub signed_in_at: DateTime<Utc>,
    /// The upstream ID token, for OIDC pass-through.
    pub upstream_id_token: KeptIdToken,
}

/// What a sign-in keeps from upstream for OIDC pass-through. Nothing from a SAML sign-in is
/// kept: SAML pass-through is retired.
#[derive(Debug, Clone, Copy, Default)]
pub struct Upstream<'a> {
    pub id_token: Option<&'a UpstreamIdToken>,
    /// The client address the sign-in came from (shown on the admin sessions page).
    pub source_ip: Option<&'a str>,
}

/// The unexpired session of the browser holding `session_token`. A kept ID token that cannot
/// be opened is returned as [`KeptIdToken::Unreadable`], not as an error.
pub async fn find(
    pool: &PgPool,
    session_token: &str,
    sealing: &SealingKeys,
    now: DateTime<Utc>,
) -> Result<Option<Session>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT csrf_token, sign_in_reference, identity, expires_at, created_at, upstream_id_token_sealed,
                upstream_id_token_key_id, upstream_id_token_expires_at
         FROM sessions WHERE id_hash = $1 AND expires_at > $2",
    )
    .bind(super::sha256(session_token.as_bytes()))
    .bind(now)
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        let identity: serde_json::Value = r.try_get("identity")?;
        Ok(Session {
            csrf_token: r.try_get("csrf_token")?,
            sign_in_reference: r.try_get("sign_in_reference")?,
            identity: serde_json::from_value(identity)
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
            expires_at: r.try_get("expires_at")?,
            signed_in_at: r.try_get("created_at")?,
            upstream_id_token: id_token::open(
                sealing,
                session_token,
                r.try_get("upstream_id_token_sealed")?,
                r.try_get("upstream_id_token_key_id")?,
                r.try_get("upstream_id_token_expires_at")?,
            ),
        })
    })
    .transpose()
}

pub async fn delete(pool: &PgPool, token_hash: &[u8]) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(token_hash)
        .execute(pool)
        .await?;
    Ok(())
}

/// A live session as the admin sessions page lists it. `handle` is the hex of the stored hash
/// (never the cookie, which the database does not have).
#[derive(Debug, Clone)]
pub struct ActiveSession {
    pub handle: String,
    pub id_hash: Vec<u8>,
    pub identity: FederatedIdentity,
    pub sign_in_reference: String,
    pub since: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub source_ip: Option<String>,
}

impl ActiveSession {
    /// Where the page after this row starts.
    pub fn cursor(&self) -> SessionCursor {
        SessionCursor {
            since: self.since,
            hash: self.id_hash.clone(),
        }
    }
}

/// Unexpired sessions, newest sign-in first, at most `limit`, starting after `after` (a row of
/// the page before), and how many unexpired sessions there are in all.
pub async fn active(
    pool: &PgPool,
    now: DateTime<Utc>,
    after: Option<&SessionCursor>,
    limit: i64,
) -> Result<(Vec<ActiveSession>, i64), sqlx::Error> {
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions WHERE expires_at > $1")
        .bind(now)
        .fetch_one(pool)
        .await?;
    let rows = sqlx::query(
        "SELECT id_hash, identity, sign_in_reference, created_at, expires_at, source_ip
         FROM sessions
         WHERE expires_at > $1 AND ($2::timestamptz IS NULL OR (created_at, id_hash) < ($2, $3))
         ORDER BY created_at DESC, id_hash DESC LIMIT $4",
    )
    .bind(now)
    .bind(after.map(|c| c.since))
    .bind(after.map(|c| c.hash.as_slice()))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let sessions = rows
        .iter()
        .map(|r| {
            let identity: serde_json::Value = r.try_get("identity")?;
            let hash: Vec<u8> = r.try_get("id_hash")?;
            Ok(ActiveSession {
                handle: hex::encode(&hash),
                id_hash: hash,
                identity: serde_json::from_value(identity)
                    .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                sign_in_reference: r.try_get("sign_in_reference")?,
                since: r.try_get("created_at")?,
                expires_at: r.try_get("expires_at")?,
                source_ip: r.try_get("source_ip")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok((sessions, total))
}

/// Ends the session with this stored hash and everything bound to it (its shown-once
/// credentials go with it: `ON DELETE CASCADE`; the kept ID token lives in the row). Returns
/// the identity it belonged to, or `None` when there was no such session.
pub async fn end(
    pool: &PgPool,
    token_hash: &[u8],
) -> Result<Option<FederatedIdentity>, sqlx::Error> {
    let row = sqlx::query("DELETE FROM sessions WHERE id_hash = $1 RETURNING identity")
        .bind(token_hash)
        .fetch_optional(pool)
        .await?;
    row.map(|r| {
        let identity: serde_json::Value = r.try_get("identity")?;
        serde_json::from_value(identity).map_err(|e| sqlx::Error::Decode(Box::new(e)))
    })
    .transpose()
}

pub async fn purge_expired(pool: &PgPool, now: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(now)
        .execute(pool)
        .await?
        .rows_affected())
}

/// The unexpired session with this hash, for a caller that holds a CLI token rather than the
/// browser's cookie. The kept upstream ID token is sealed to the cookie, so it cannot be opened
/// here: the session is returned without it.
pub async fn find_by_hash(
    pool: &PgPool,
    id_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<Session>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT csrf_token, sign_in_reference, identity, expires_at, created_at
         FROM sessions WHERE id_hash = $1 AND expires_at > $2",
    )
    .bind(id_hash)
    .bind(now)
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        let identity: serde_json::Value = r.try_get("identity")?;
        Ok(Session {
            csrf_token: r.try_get("csrf_token")?,
            sign_in_reference: r.try_get("sign_in_reference")?,
            identity: serde_json::from_value(identity)
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
            expires_at: r.try_get("expires_at")?,
            signed_in_at: r.try_get("created_at")?,
            upstream_id_token: KeptIdToken::None,
        })
    })
    .transpose()
}
