//! Pending SP-initiated logins: AuthnRequest id and post-login target, bound to one browser.

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row};
use subtle::ConstantTimeEq;

#[derive(Debug, Clone)]
pub struct PendingLogin {
    pub relay_handle: String,
    pub request_id: String,
    pub idp: String,
    pub browser_hash: Vec<u8>,
    pub return_to: String,
}

/// Where a pending login comes from and how many one client address may hold at once.
pub struct PendingBound<'a> {
    pub client: &'a str,
    pub per_client: i64,
    pub now: DateTime<Utc>,
}

/// SQL condition: the client of `$client` holds fewer than `$cap` unexpired pending logins,
/// SAML and OIDC together. Shared with `oidc_logins`.
pub(super) fn under_cap(client: &str, now: &str, cap: &str) -> String {
    format!(
        "((SELECT count(*) FROM pending_logins WHERE client = {client} AND expires_at > {now})
          + (SELECT count(*) FROM oidc_pending_logins WHERE client = {client} AND expires_at > {now})) < {cap}"
    )
}

/// Stores a pending login unless its client address already holds `per_client` unexpired
/// ones; `Ok(false)` then. Concurrent starts from one address can pass the cap by the number in
/// flight (the rate limit bounds those), never grow it without bound.
pub async fn insert(
    pool: &PgPool,
    login: &PendingLogin,
    bound: &PendingBound<'_>,
    expires_at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(&format!(
        "INSERT INTO pending_logins (relay_handle, request_id, idp, browser_hash, return_to, expires_at, client)
         SELECT $1, $2, $3, $4, $5, $6, $7 WHERE {}",
        under_cap("$7", "$8", "$9")
    ))
    .bind(&login.relay_handle)
    .bind(&login.request_id)
    .bind(&login.idp)
    .bind(&login.browser_hash)
    .bind(&login.return_to)
    .bind(expires_at)
    .bind(bound.client)
    .bind(bound.now)
    .bind(bound.per_client)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// When the oldest unexpired pending login of `client` expires: how long a capped client waits.
pub async fn next_expiry(
    pool: &PgPool,
    client: &str,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT min(e) FROM (
            SELECT min(expires_at) AS e FROM pending_logins WHERE client = $1 AND expires_at > $2
            UNION ALL
            SELECT min(expires_at) FROM oidc_pending_logins WHERE client = $1 AND expires_at > $2
         ) AS t",
    )
    .bind(client)
    .bind(now)
    .fetch_one(pool)
    .await
}

pub enum Found {
    Login(PendingLogin),
    /// The request id exists but was started by another browser (at IdP `idp`); it stays
    /// usable by its owner.
    OtherBrowser {
        idp: String,
    },
    /// Unknown, already used, or expired.
    Unknown,
}

/// The unexpired pending login for this AuthnRequest id, if this browser started it. Only read:
/// it is taken (deleted, single-use) by the statement that records the accepted sign-in
/// ([`super::sign_in::record`]), in the same transaction as the session, so a response that fails
/// verification, or a sign-in that cannot be recorded, leaves it to its owner.
pub async fn find(
    pool: &PgPool,
    request_id: &str,
    browser_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Found, sqlx::Error> {
    let row = sqlx::query(
        "SELECT relay_handle, request_id, idp, browser_hash, return_to
         FROM pending_logins WHERE request_id = $1 AND expires_at > $2",
    )
    .bind(request_id)
    .bind(now)
    .fetch_optional(pool)
    .await?;
    let Some(r) = row else {
        return Ok(Found::Unknown);
    };
    let login = PendingLogin {
        relay_handle: r.try_get("relay_handle")?,
        request_id: r.try_get("request_id")?,
        idp: r.try_get("idp")?,
        browser_hash: r.try_get("browser_hash")?,
        return_to: r.try_get("return_to")?,
    };
    // Both are SHA-256 digests; compared in constant time all the same.
    let same_browser: bool = login.browser_hash.as_slice().ct_eq(browser_hash).into();
    Ok(if same_browser {
        Found::Login(login)
    } else {
        Found::OtherBrowser { idp: login.idp }
    })
}

pub async fn purge_expired(pool: &PgPool, now: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM pending_logins WHERE expires_at <= $1")
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected(),
    )
}
