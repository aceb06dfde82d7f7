//! Aggregated records of refused sign-ins that carry no verified identity: one counter per
//! minute, reason, IdP and client address (table `refused_sign_ins`). Unlike the audit chain
//! this takes no global lock, and it stays bounded: at most `clients_per_minute` distinct
//! clients per minute keep their own row, later ones are folded into the client `other`, and
//! minutes older than the retention are pruned.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use sqlx::{PgPool, Row};

/// The client label that absorbs addresses beyond the per-minute cap.
pub const OTHER_CLIENT: &str = "other";

/// One refusal to count.
pub struct Refused<'a> {
    pub reason: &'a str,
    pub idp: &'a str,
    pub client: &'a str,
    pub reference: &'a str,
}

fn minute_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::minutes(1)).unwrap_or(at)
}

/// Counts one refusal. Concurrent first writers of a minute may each see room under the cap,
/// so it can be exceeded by the number of requests in flight, never more.
pub async fn record(
    pool: &PgPool,
    refused: &Refused<'_>,
    at: DateTime<Utc>,
    clients_per_minute: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO refused_sign_ins (minute, reason, idp, client, count, last_reference, last_at)
         SELECT $1, $2, $3,
                CASE WHEN EXISTS (SELECT 1 FROM refused_sign_ins
                                   WHERE minute = $1 AND reason = $2 AND idp = $3 AND client = $4)
                       OR (SELECT count(*) FROM refused_sign_ins WHERE minute = $1) < $7
                     THEN $4 ELSE $8 END,
                1, $5, $6
         ON CONFLICT (minute, reason, idp, client) DO UPDATE
            SET count = refused_sign_ins.count + 1,
                last_reference = EXCLUDED.last_reference,
                last_at = EXCLUDED.last_at",
    )
    .bind(minute_of(at))
    .bind(clip(refused.reason))
    .bind(clip(refused.idp))
    .bind(clip(refused.client))
    .bind(refused.reference)
    .bind(at)
    .bind(clients_per_minute)
    .bind(OTHER_CLIENT)
    .execute(pool)
    .await?;
    Ok(())
}

/// Labels come from a fixed set of codes and configured IdP ids; clipping only guards the row
/// size and strips what Postgres text cannot hold.
fn clip(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .take(200)
        .collect()
}

pub async fn prune(pool: &PgPool, older_than: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM refused_sign_ins WHERE minute < $1")
            .bind(older_than)
            .execute(pool)
            .await?
            .rows_affected(),
    )
}

/// One counter row, for the CLI and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub minute: DateTime<Utc>,
    pub reason: String,
    pub idp: String,
    pub client: String,
    pub count: i64,
    pub last_reference: String,
}

fn bucket(r: sqlx::postgres::PgRow) -> Result<Bucket, sqlx::Error> {
    Ok(Bucket {
        minute: r.try_get("minute")?,
        reason: r.try_get("reason")?,
        idp: r.try_get("idp")?,
        client: r.try_get("client")?,
        count: r.try_get("count")?,
        last_reference: r.try_get("last_reference")?,
    })
}

/// Counters from `since` on, newest minute first, largest count first.
pub async fn since(pool: &PgPool, since: DateTime<Utc>) -> Result<Vec<Bucket>, sqlx::Error> {
    sqlx::query(
        "SELECT minute, reason, idp, client, count, last_reference FROM refused_sign_ins
         WHERE minute >= $1 ORDER BY minute DESC, count DESC, reason, idp, client",
    )
    .bind(minute_of(since))
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(bucket)
    .collect()
}

/// The counter whose latest refusal carried `reference`: how a support look-up finds the
/// precise reason for a reference a user reports (the log line has it too).
pub async fn by_reference(pool: &PgPool, reference: &str) -> Result<Option<Bucket>, sqlx::Error> {
    sqlx::query(
        "SELECT minute, reason, idp, client, count, last_reference FROM refused_sign_ins
         WHERE last_reference = $1",
    )
    .bind(reference)
    .fetch_optional(pool)
    .await?
    .map(bucket)
    .transpose()
}
