//! Pending OpenID Connect sign-ins (state, nonce, PKCE verifier, post-login target), bound to one
//! browser. The nonce and verifier are sealed under a key derived from the browser cookie.

use crate::sealing::aead;
use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row};

#[derive(Debug, Clone)]
pub struct PendingOidcLogin {
    pub idp: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub return_to: String,
}

pub enum Taken {
    Login(PendingOidcLogin),
    /// The state exists but was started by another browser; it stays usable by its owner.
    OtherBrowser,
    /// Unknown, already used, or expired.
    Unknown,
}

#[derive(Debug, thiserror::Error)]
pub enum PendingError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("sealing: {0}")]
    Seal(String),
}

fn key(browser_token: &str, state: &str) -> [u8; 32] {
    let mut input = b"roleport oidc pending v1\0".to_vec();
    input.extend_from_slice(browser_token.as_bytes());
    input.push(0);
    input.extend_from_slice(state.as_bytes());
    openssl::sha::sha256(&input)
}

fn seal(key: &[u8; 32], plain: &[u8]) -> Result<Vec<u8>, PendingError> {
    aead::seal(key, b"", plain).map_err(|e| PendingError::Seal(e.to_string()))
}

fn open(key: &[u8; 32], sealed: &[u8]) -> Result<Vec<u8>, PendingError> {
    aead::open(key, b"", sealed).map_err(|e| PendingError::Seal(e.to_string()))
}

/// Stores a pending login unless its client already holds its cap (see `logins::insert`);
/// `Ok(false)` then.
pub async fn insert(
    pool: &PgPool,
    state: &str,
    browser_token: &str,
    login: &PendingOidcLogin,
    bound: &super::logins::PendingBound<'_>,
    expires_at: DateTime<Utc>,
) -> Result<bool, PendingError> {
    let plain = serde_json::json!({ "nonce": login.nonce, "verifier": login.pkce_verifier });
    let sealed = seal(&key(browser_token, state), plain.to_string().as_bytes())?;
    let inserted = sqlx::query(&format!(
        "INSERT INTO oidc_pending_logins (state_hash, idp, browser_hash, sealed, return_to, created_at, expires_at, client)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE {}",
        super::logins::under_cap("$8", "$6", "$9")
    ))
    .bind(super::sha256(state.as_bytes()))
    .bind(&login.idp)
    .bind(super::sha256(browser_token.as_bytes()))
    .bind(sealed)
    .bind(&login.return_to)
    .bind(bound.now)
    .bind(expires_at)
    .bind(bound.client)
    .bind(bound.per_client)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Removes and returns the pending login for this `state` if this browser started it and it has
/// not expired: single-use, so the nonce and verifier can serve one callback only.
pub async fn take(
    pool: &PgPool,
    state: &str,
    browser_token: &str,
    now: DateTime<Utc>,
) -> Result<Taken, PendingError> {
    let state_hash = super::sha256(state.as_bytes());
    let row = sqlx::query(
        "DELETE FROM oidc_pending_logins WHERE state_hash = $1 AND browser_hash = $2 AND expires_at > $3
         RETURNING idp, sealed, return_to",
    )
    .bind(&state_hash)
    .bind(super::sha256(browser_token.as_bytes()))
    .bind(now)
    .fetch_optional(pool)
    .await?;
    if let Some(r) = row {
        let sealed: Vec<u8> = r.try_get("sealed")?;
        let plain = open(&key(browser_token, state), &sealed)?;
        let value: serde_json::Value =
            serde_json::from_slice(&plain).map_err(|e| PendingError::Seal(e.to_string()))?;
        let field = |name: &str| {
            value
                .get(name)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| PendingError::Seal(format!("no {name}")))
        };
        return Ok(Taken::Login(PendingOidcLogin {
            idp: r.try_get("idp")?,
            nonce: field("nonce")?,
            pkce_verifier: field("verifier")?,
            return_to: r.try_get("return_to")?,
        }));
    }
    let exists: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM oidc_pending_logins WHERE state_hash = $1 AND expires_at > $2",
    )
    .bind(&state_hash)
    .bind(now)
    .fetch_optional(pool)
    .await?;
    Ok(if exists.is_some() {
        Taken::OtherBrowser
    } else {
        Taken::Unknown
    })
}

pub async fn purge_expired(pool: &PgPool, now: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM oidc_pending_logins WHERE expires_at <= $1")
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected(),
    )
}
