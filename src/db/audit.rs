//! The audit table. Writers only insert (no lock, an identity column numbers them); the sealer
//! (`crate::audit::sealer`) links committed rows into the keyed chain; `crate::audit::verify`
//! checks it. This module holds their SQL.

use crate::audit::AuditEvent;
use chrono::{DateTime, SubsecRound, Utc};
use sqlx::{PgConnection, PgExecutor, PgPool, Row};

/// The advisory lock that makes one sealer at a time link rows, cluster-wide. Writers never take it.
const SEAL_LOCK: i64 = 0x526f_6c65_706f_7274; // "Roleport"

/// Appends one event and returns its insert number once the row is committed. The row is sealed
/// into the chain shortly after by whichever process's sealer runs next.
pub async fn append(
    pool: &PgPool,
    ref_id: &str,
    at: DateTime<Utc>,
    event: AuditEvent,
) -> Result<i64, sqlx::Error> {
    let event = serde_json::to_value(event.sanitized())
        .map_err(|e| sqlx::Error::Protocol(format!("audit event: {e}")))?;
    sqlx::query_scalar(
        "INSERT INTO audit_events (ref_id, at, event) VALUES ($1, $2, $3) RETURNING seq",
    )
    .bind(ref_id)
    .bind(at.trunc_subsecs(6))
    .bind(&event)
    .fetch_one(pool)
    .await
}

/// Rows with a given reference id, for tests and support look-ups.
pub async fn by_reference(pool: &PgPool, ref_id: &str) -> Result<Vec<AuditEvent>, sqlx::Error> {
    let rows = sqlx::query("SELECT event FROM audit_events WHERE ref_id = $1 ORDER BY seq")
        .bind(ref_id)
        .fetch_all(pool)
        .await?;
    rows.into_iter()
        .map(|r| {
            let v: serde_json::Value = r.try_get("event")?;
            serde_json::from_value(v).map_err(|e| sqlx::Error::Decode(Box::new(e)))
        })
        .collect()
}

/// A row as stored. `pos`, `key_id`, `sealed_at` and `mac` are set once, by the sealer;
/// `prev_hash`/`hash` only on rows written before the keyed chain.
#[derive(Debug, Clone)]
pub struct StoredRow {
    pub seq: i64,
    pub pos: Option<i64>,
    pub ref_id: String,
    pub at: DateTime<Utc>,
    /// The JSONB as Postgres prints it; canonicalised before it is MACed.
    pub event: String,
    pub prev_hash: Option<Vec<u8>>,
    pub hash: Option<Vec<u8>>,
    pub key_id: Option<String>,
    pub sealed_at: Option<DateTime<Utc>>,
    pub mac: Option<Vec<u8>>,
}

const ROW_COLUMNS: &str =
    "seq, pos, ref_id, at, event::text AS event, prev_hash, hash, key_id, sealed_at, mac";

fn stored_row(row: &sqlx::postgres::PgRow) -> Result<StoredRow, sqlx::Error> {
    Ok(StoredRow {
        seq: row.try_get("seq")?,
        pos: row.try_get("pos")?,
        ref_id: row.try_get("ref_id")?,
        at: row.try_get("at")?,
        event: row.try_get("event")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
        key_id: row.try_get("key_id")?,
        sealed_at: row.try_get("sealed_at")?,
        mac: row.try_get("mac")?,
    })
}

/// Takes the sealer lock for this transaction: `wait` blocks until it is free, otherwise
/// `false` means another process is sealing right now.
pub async fn lock_sealer(conn: &mut PgConnection, wait: bool) -> Result<bool, sqlx::Error> {
    if wait {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(SEAL_LOCK)
            .execute(conn)
            .await?;
        Ok(true)
    } else {
        sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
            .bind(SEAL_LOCK)
            .fetch_one(conn)
            .await
    }
}

/// Committed rows not yet in the chain, oldest insert number first.
pub async fn unsealed(conn: &mut PgConnection, limit: i64) -> Result<Vec<StoredRow>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {ROW_COLUMNS} FROM audit_events WHERE pos IS NULL ORDER BY seq LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(stored_row).collect()
}

pub async fn unsealed_count<'c>(db: impl PgExecutor<'c>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE pos IS NULL")
        .fetch_one(db)
        .await
}

/// Sealed rows after `after_pos`, in chain order.
pub async fn sealed_page<'c>(
    db: impl PgExecutor<'c>,
    after_pos: i64,
    limit: i64,
) -> Result<Vec<StoredRow>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {ROW_COLUMNS} FROM audit_events WHERE pos > $1 ORDER BY pos LIMIT $2"
    ))
    .bind(after_pos)
    .bind(limit)
    .fetch_all(db)
    .await?;
    rows.iter().map(stored_row).collect()
}

/// The last link of the chain: its position and MAC.
pub async fn head<'c>(db: impl PgExecutor<'c>) -> Result<Option<(i64, Vec<u8>)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT pos, mac FROM audit_events WHERE pos IS NOT NULL ORDER BY pos DESC LIMIT 1",
    )
    .fetch_optional(db)
    .await?;
    row.map(|r| {
        let mac: Option<Vec<u8>> = r.try_get("mac")?;
        Ok((r.try_get("pos")?, mac.unwrap_or_default()))
    })
    .transpose()
}

/// The MAC of the row at `pos`, if there is such a row.
pub async fn mac_at<'c>(db: impl PgExecutor<'c>, pos: i64) -> Result<Option<Vec<u8>>, sqlx::Error> {
    sqlx::query_scalar("SELECT mac FROM audit_events WHERE pos = $1")
        .bind(pos)
        .fetch_optional(db)
        .await
        .map(Option::flatten)
}

/// Links rows into the chain: `(seq, pos, mac)` each, all with one key and seal time.
pub async fn mark_sealed(
    conn: &mut PgConnection,
    links: &[(i64, i64, Vec<u8>)],
    key_id: &str,
    sealed_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let seqs: Vec<i64> = links.iter().map(|l| l.0).collect();
    let positions: Vec<i64> = links.iter().map(|l| l.1).collect();
    let macs: Vec<Vec<u8>> = links.iter().map(|l| l.2.clone()).collect();
    sqlx::query(
        "UPDATE audit_events e SET pos = u.pos, mac = u.mac, key_id = $4, sealed_at = $5
         FROM UNNEST($1::bigint[], $2::bigint[], $3::bytea[]) AS u(seq, pos, mac)
         WHERE e.seq = u.seq",
    )
    .bind(&seqs)
    .bind(&positions)
    .bind(&macs)
    .bind(key_id)
    .bind(sealed_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// A checkpoint row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub n: i64,
    pub pos: i64,
    pub head_mac: Vec<u8>,
    pub at: DateTime<Utc>,
    pub key_id: String,
    pub prev_mac: Vec<u8>,
    pub mac: Vec<u8>,
}

fn checkpoint(row: &sqlx::postgres::PgRow) -> Result<Checkpoint, sqlx::Error> {
    Ok(Checkpoint {
        n: row.try_get("n")?,
        pos: row.try_get("pos")?,
        head_mac: row.try_get("head_mac")?,
        at: row.try_get("at")?,
        key_id: row.try_get("key_id")?,
        prev_mac: row.try_get("prev_mac")?,
        mac: row.try_get("mac")?,
    })
}

pub async fn checkpoints<'c>(db: impl PgExecutor<'c>) -> Result<Vec<Checkpoint>, sqlx::Error> {
    let rows = sqlx::query("SELECT * FROM audit_checkpoints ORDER BY n")
        .fetch_all(db)
        .await?;
    rows.iter().map(checkpoint).collect()
}

pub async fn newest_checkpoint<'c>(
    db: impl PgExecutor<'c>,
) -> Result<Option<Checkpoint>, sqlx::Error> {
    let row = sqlx::query("SELECT * FROM audit_checkpoints ORDER BY n DESC LIMIT 1")
        .fetch_optional(db)
        .await?;
    row.as_ref().map(checkpoint).transpose()
}

pub async fn insert_checkpoint(
    conn: &mut PgConnection,
    cp: &Checkpoint,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_checkpoints (n, pos, head_mac, at, key_id, prev_mac, mac)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(cp.n)
    .bind(cp.pos)
    .bind(&cp.head_mac)
    .bind(cp.at)
    .bind(&cp.key_id)
    .bind(&cp.prev_mac)
    .bind(&cp.mac)
    .execute(conn)
    .await?;
    Ok(())
}
