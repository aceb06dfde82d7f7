//! The audit chain: every row carries SHA-256(prev_hash ‖ seq ‖ ref ‖ time ‖ event JSON), written
//! under an advisory lock so replicas sharing the database extend one chain.

use crate::audit::AuditEvent;
use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use sqlx::{PgPool, Row};

const CHAIN_LOCK: i64 = 0x526f_6c65_706f_7274; // "Roleport"
const GENESIS: [u8; 32] = [0u8; 32];

fn chain_hash(
    prev: &[u8],
    seq: i64,
    ref_id: &str,
    at: DateTime<Utc>,
    event: &serde_json::Value,
) -> Vec<u8> {
    let mut material = Vec::with_capacity(256);
    material.extend_from_slice(prev);
    material.extend_from_slice(&seq.to_be_bytes());
    material.extend_from_slice(ref_id.as_bytes());
    material.push(0);
    material.extend_from_slice(at.to_rfc3339_opts(SecondsFormat::Micros, true).as_bytes());
    material.push(0);
    material.extend_from_slice(event.to_string().as_bytes());
    super::sha256(&material)
}

/// Appends one event and returns once it is committed.
pub async fn append(
    pool: &PgPool,
    ref_id: &str,
    at: DateTime<Utc>,
    event: AuditEvent,
) -> Result<i64, sqlx::Error> {
    let event = serde_json::to_value(event.sanitized())
        .map_err(|e| sqlx::Error::Protocol(format!("audit event: {e}")))?;
    let at = at.trunc_subsecs(6);
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(CHAIN_LOCK)
        .execute(&mut *tx)
        .await?;
    let last = sqlx::query("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut *tx)
        .await?;
    let (seq, prev) = match last {
        Some(row) => (
            row.try_get::<i64, _>("seq")? + 1,
            row.try_get::<Vec<u8>, _>("hash")?,
        ),
        None => (1, GENESIS.to_vec()),
    };
    let hash = chain_hash(&prev, seq, ref_id, at, &event);
    sqlx::query(
        "INSERT INTO audit_events (seq, ref_id, at, event, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(seq)
    .bind(ref_id)
    .bind(at)
    .bind(&event)
    .bind(&prev)
    .bind(&hash)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(seq)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainStatus {
    Intact { rows: i64 },
    Broken { seq: i64, why: String },
}

pub async fn verify(pool: &PgPool) -> Result<ChainStatus, sqlx::Error> {
    const PAGE: i64 = 1000;
    let mut prev = GENESIS.to_vec();
    let mut expected_seq = 1i64;
    loop {
        let rows = sqlx::query(
            "SELECT seq, ref_id, at, event, prev_hash, hash FROM audit_events WHERE seq >= $1 ORDER BY seq LIMIT $2",
        )
        .bind(expected_seq)
        .bind(PAGE)
        .fetch_all(pool)
        .await?;
        let page_len = rows.len();
        for row in rows {
            let seq: i64 = row.try_get("seq")?;
            let ref_id: String = row.try_get("ref_id")?;
            let at: DateTime<Utc> = row.try_get("at")?;
            let event: serde_json::Value = row.try_get("event")?;
            let prev_hash: Vec<u8> = row.try_get("prev_hash")?;
            let hash: Vec<u8> = row.try_get("hash")?;
            if seq != expected_seq {
                return Ok(ChainStatus::Broken {
                    seq,
                    why: format!("row {expected_seq} is missing"),
                });
            }
            if prev_hash != prev {
                return Ok(ChainStatus::Broken {
                    seq,
                    why: "previous-hash link differs".into(),
                });
            }
            if chain_hash(&prev, seq, &ref_id, at, &event) != hash {
                return Ok(ChainStatus::Broken {
                    seq,
                    why: "row content does not match its hash".into(),
                });
            }
            prev = hash;
            expected_seq += 1;
        }
        if i64::try_from(page_len).unwrap_or(0) < PAGE {
            break;
        }
    }
    // A deleted tail is invisible to the chain alone; rows after a gap are caught above.
    Ok(ChainStatus::Intact {
        rows: expected_seq - 1,
    })
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
