//! All SQL lives below this module.

pub mod admin_audit;
pub mod admin_drafts;
pub mod audit;
pub mod aws_keys;
pub mod cli_oauth;
pub mod favourites;
pub mod idps;
pub mod logins;
pub mod oidc_logins;
pub mod own_activity;
pub mod refusals;
pub mod replay;
pub mod rules;
pub mod sessions;
pub mod shown_once;
pub mod sign_in;

use secrecy::{ExposeSecret, SecretString};
use sqlx::Connection as _;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use std::time::Duration;

/// A pool for the command-line tools (migrate, rules import, audit verify, …).
pub async fn connect(url: &SecretString, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    connect_bounded(url, max_connections, Duration::from_secs(5)).await
}

/// The server's pool: a request that cannot get a connection within `acquire_timeout` fails
/// with `PoolTimedOut` (answered 503) instead of queueing behind a starved pool.
pub async fn connect_bounded(
    url: &SecretString,
    max_connections: u32,
    acquire_timeout: Duration,
) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(acquire_timeout)
        // sqlx pings every connection it hands out by default: a round trip on every request,
        // as many as the sign-in's own statement. A connection used within the last second is
        // taken as alive; if it died since, its statement fails and the request is answered
        // 503 like any database failure, and the pool replaces it.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_AFTER_IDLE {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .connect(url.expose_secret())
        .await
}

/// How long a pooled connection may sit unused before it is pinged when next handed out.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    sqlx::migrate!("./migrations").run(pool).await
}

pub fn sha256(data: &[u8]) -> Vec<u8> {
    openssl::sha::sha256(data).to_vec()
}
