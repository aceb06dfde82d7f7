//! One person's own audit rows (identity = IdP + subject, exactly as signed): the picker's
//! "recently used" and the "My access" page. Nothing here can name another person's rows.

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row};

/// The kinds that hand something to the person (what "recently used" means).
const USE_KINDS: [&str; 3] = ["credentials_issued", "console_link", "console_saml_post"];
/// How far back "recently used" looks, in rows of the person's own.
const RECENT_SCAN: i64 = 200;

/// The grant ids this person last used successfully, newest first, at most `limit`.
pub async fn recent_grants(
    pool: &PgPool,
    idp: &str,
    subject: &str,
    limit: i64,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT grant_id FROM (
             SELECT event->'details'->>'grant' AS grant_id, max(seq) AS last
             FROM (SELECT seq, event FROM audit_events
                   WHERE event->>'idp' = $1 AND event->>'subject' = $2
                   ORDER BY seq DESC LIMIT $4) mine
             WHERE event->>'kind' = ANY($3) AND event->>'outcome' = 'accepted'
               AND event->'details'->>'grant' IS NOT NULL
             GROUP BY 1) used
         ORDER BY last DESC LIMIT $5",
    )
    .bind(idp)
    .bind(subject)
    .bind(&USE_KINDS[..])
    .bind(RECENT_SCAN)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// One row of "My access".
#[derive(Debug, Clone)]
pub struct ActivityRow {
    pub seq: i64,
    pub reference: String,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub outcome: String,
    pub source_ip: Option<String>,
    pub grant: Option<String>,
    pub role_arn: Option<String>,
    pub access_key_id: Option<String>,
    pub duration_seconds: Option<i64>,
    pub reason: Option<String>,
}

/// A page of this person's rows, newest first: those with `seq < before` (keyset pagination:
/// a page never shifts when new rows arrive), at most `limit`, plus whether older rows exist.
pub async fn page(
    pool: &PgPool,
    idp: &str,
    subject: &str,
    before: Option<i64>,
    limit: i64,
) -> Result<(Vec<ActivityRow>, bool), sqlx::Error> {
    let rows = sqlx::query(
        "SELECT seq, ref_id, at, event->>'kind' AS kind, event->>'outcome' AS outcome,
                event->>'source_ip' AS source_ip, event->>'reason' AS reason,
                event->'details'->>'grant' AS grant_id,
                event->'details'->>'role_arn' AS role_arn,
                event->'details'->>'access_key_id' AS access_key_id,
                (event->'details'->>'duration_seconds')::bigint AS duration_seconds
         FROM audit_events
         WHERE event->>'idp' = $1 AND event->>'subject' = $2 AND seq < $3
         ORDER BY seq DESC LIMIT $4",
    )
    .bind(idp)
    .bind(subject)
    .bind(before.unwrap_or(i64::MAX))
    .bind(limit + 1)
    .fetch_all(pool)
    .await?;
    let more = rows.len() as i64 > limit;
    let rows = rows
        .into_iter()
        .take(usize::try_from(limit).unwrap_or(0))
        .map(|r| {
            Ok(ActivityRow {
                seq: r.try_get("seq")?,
                reference: r.try_get("ref_id")?,
                at: r.try_get("at")?,
                kind: r.try_get::<Option<String>, _>("kind")?.unwrap_or_default(),
                outcome: r
                    .try_get::<Option<String>, _>("outcome")?
                    .unwrap_or_default(),
                source_ip: r.try_get("source_ip")?,
                grant: r.try_get("grant_id")?,
                role_arn: r.try_get("role_arn")?,
                access_key_id: r.try_get("access_key_id")?,
                duration_seconds: r.try_get("duration_seconds")?,
                reason: r.try_get("reason")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok((rows, more))
}
