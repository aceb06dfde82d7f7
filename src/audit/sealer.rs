//! The sealer links committed audit rows into the keyed chain and writes checkpoints.
//!
//! Writers (`db::audit::append`) only insert: an identity column numbers each row (`seq`), no lock
//! is taken, and a row is committed before any credential it records leaves Roleport. Every process
//! runs this sealer every `seal_interval_seconds`; a transaction-scoped advisory lock
//! (`pg_try_advisory_xact_lock`) lets one of them at a time take every committed, unsealed row in
//! `seq` order and give it the next chain position (`pos`) and
//! `mac = HMAC(key, pos ‖ previous mac ‖ key id ‖ seq ‖ ref ‖ time ‖ seal time ‖ RFC 8785 event)`.
//!
//! Ordering: the chain is in seal order, recorded by `pos`. `seq` numbers are taken when a row is
//! inserted but become visible only at commit, so a row may commit after rows with higher numbers;
//! it is then sealed by a later run, after them, never skipped. What holds: if one `append`
//! returned before another began, the first row's position is lower. (Its commit is visible to every
//! snapshot that sees the second row, and its `seq` is lower, so no run can seal the second without
//! the first, and within a run rows go in `seq` order.) Appends that overlap in time have no order
//! of their own; the chain fixes one. Event times (`at`) come from the writers' clocks and are
//! kept, not used for ordering.
//!
//! Checkpoints: when the chain has grown and the newest checkpoint is `checkpoint_interval_seconds`
//! old, the sealer writes one (chain position, head MAC, time, key id, MACed together with the
//! previous checkpoint) in the same transaction, and logs it as a structured line an operator can
//! ship elsewhere. Before writing one it checks that the newest checkpoint and the head this process
//! last saw still match the chain; if the chain went backwards (a deleted tail) it stops writing
//! checkpoints and logs an error, so the gap stays visible to `roleport audit verify`.

use super::keys::{AuditKeys, KeyError};
use super::mac::{CheckpointLink, GENESIS, RowLink, canonical_event};
use super::settings::AuditSettings;
use crate::clock::Clock;
use crate::db::audit::{self as store, Checkpoint};
use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use sqlx::{PgConnection, PgPool};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Rows linked per transaction; a backlog is sealed in several.
const BATCH: i64 = 1000;

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Key(#[from] KeyError),
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SealReport {
    /// Rows linked by this call.
    pub sealed: usize,
    /// Another process held the sealer lock (only when not waiting for it).
    pub busy: bool,
    /// The chain's length after this call.
    pub head: i64,
    /// The checkpoint written, if one was due.
    pub checkpoint: Option<Checkpoint>,
}

pub struct Sealer {
    keys: AuditKeys,
    checkpoint_every: chrono::Duration,
    /// The last head (position, MAC) this process saw: the chain must never go back behind it.
    seen: Mutex<Option<(i64, Vec<u8>)>>,
    /// Set once the chain was found cut or rewritten: no further checkpoint from this process.
    refused: AtomicBool,
}

impl Sealer {
    pub fn new(keys: AuditKeys, settings: &AuditSettings) -> Self {
        let secs = i64::try_from(settings.checkpoint_interval_seconds).unwrap_or(i64::MAX);
        Self {
            keys,
            checkpoint_every: chrono::Duration::try_seconds(secs).unwrap_or(chrono::Duration::MAX),
            seen: Mutex::new(None),
            refused: AtomicBool::new(false),
        }
    }

    pub fn keys(&self) -> &AuditKeys {
        &self.keys
    }

    /// Seals every committed row not yet in the chain. `wait` waits for another sealer to finish
    /// instead of leaving the work to it; `checkpoint` allows a checkpoint when one is due.
    pub async fn seal(
        &self,
        pool: &PgPool,
        clock: &Clock,
        wait: bool,
        checkpoint: bool,
    ) -> Result<SealReport, SealError> {
        let mut report = SealReport::default();
        loop {
            let mut tx = pool.begin().await?;
            if !store::lock_sealer(&mut tx, wait).await? {
                report.busy = true;
                return Ok(report);
            }
            let now = clock.now().trunc_subsecs(6);
            let rows = store::unsealed(&mut tx, BATCH).await?;
            let head = store::head(&mut *tx).await?;
            self.check_not_rolled_back(&mut tx).await?;
            let (mut pos, mut prev) = head.unwrap_or((0, GENESIS.to_vec()));
            let key = self.keys.signing();
            let mut links = Vec::with_capacity(rows.len());
            for row in &rows {
                pos += 1;
                let event = canonical_event(&row.event);
                let mac = key.mac(
                    &RowLink {
                        pos,
                        prev: &prev,
                        key_id: key.id(),
                        seq: row.seq,
                        ref_id: &row.ref_id,
                        at: row.at,
                        sealed_at: now,
                        event: &event,
                    }
                    .material(),
                )?;
                links.push((row.seq, pos, mac.clone()));
                prev = mac;
            }
            if !links.is_empty() {
                store::mark_sealed(&mut tx, &links, key.id(), now).await?;
            }
            let written = if checkpoint {
                self.checkpoint_if_due(&mut tx, pos, &prev, now).await?
            } else {
                None
            };
            tx.commit().await?;
            if pos > 0
                && let Ok(mut seen) = self.seen.lock()
            {
                *seen = Some((pos, prev));
            }
            if let Some(cp) = &written {
                log_checkpoint(cp);
                report.checkpoint = written;
            }
            report.sealed += links.len();
            report.head = pos;
            if i64::try_from(rows.len()).unwrap_or(0) < BATCH {
                return Ok(report);
            }
        }
    }

    /// The row this process last saw as the head must still be there with the same MAC.
    async fn check_not_rolled_back(&self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        let seen = self.seen.lock().ok().and_then(|s| s.clone());
        let Some((pos, mac)) = seen else {
            return Ok(());
        };
        if store::mac_at(&mut *conn, pos).await?.as_deref() != Some(mac.as_slice()) {
            self.refuse(&format!(
                "row {pos}, which this process saw as the chain's head, is gone or changed"
            ));
        }
        Ok(())
    }

    async fn checkpoint_if_due(
        &self,
        conn: &mut PgConnection,
        head_pos: i64,
        head_mac: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<Checkpoint>, SealError> {
        if head_pos == 0 || self.refused.load(Ordering::SeqCst) {
            return Ok(None);
        }
        let newest = store::newest_checkpoint(&mut *conn).await?;
        if let Some(cp) = &newest {
            if cp.pos > head_pos {
                self.refuse(&format!(
                    "checkpoint #{} names row {} but the chain ends at row {head_pos}",
                    cp.n, cp.pos
                ));
                return Ok(None);
            }
            if cp.pos == head_pos || now - cp.at < self.checkpoint_every {
                return Ok(None);
            }
            if store::mac_at(&mut *conn, cp.pos).await?.as_deref() != Some(cp.head_mac.as_slice()) {
                self.refuse(&format!(
                    "checkpoint #{} names a MAC that row {} does not have",
                    cp.n, cp.pos
                ));
                return Ok(None);
            }
        }
        let key = self.keys.signing();
        let n = newest.as_ref().map_or(1, |cp| cp.n + 1);
        let prev_mac = newest.map_or_else(|| GENESIS.to_vec(), |cp| cp.mac);
        let mac = key.mac(
            &CheckpointLink {
                n,
                pos: head_pos,
                head_mac,
                at: now,
                key_id: key.id(),
                prev_mac: &prev_mac,
            }
            .material(),
        )?;
        let cp = Checkpoint {
            n,
            pos: head_pos,
            head_mac: head_mac.to_vec(),
            at: now,
            key_id: key.id().to_string(),
            prev_mac,
            mac,
        };
        store::insert_checkpoint(conn, &cp).await?;
        Ok(Some(cp))
    }

    fn refuse(&self, why: &str) {
        if !self.refused.swap(true, Ordering::SeqCst) {
            tracing::error!(
                security_event = true,
                why,
                "audit chain was cut or rewritten behind this process: no more checkpoints from it; run `roleport audit verify`"
            );
        }
    }
}

/// The line an operator ships off-box; `pos:head_mac` is what `audit verify --expect` takes.
fn log_checkpoint(cp: &Checkpoint) {
    let head_mac = hex::encode(&cp.head_mac);
    tracing::info!(
        target: "roleport::audit::checkpoint",
        checkpoint = cp.n,
        pos = cp.pos,
        head_mac = %head_mac,
        at = %cp.at.to_rfc3339_opts(SecondsFormat::Micros, true),
        key_id = %cp.key_id,
        mac = %hex::encode(&cp.mac),
        expect = %format!("{}:{head_mac}", cp.pos),
        "audit checkpoint"
    );
}

/// Every process seals on its own timer; whichever gets the lock does the work.
pub async fn run(
    sealer: std::sync::Arc<Sealer>,
    pool: PgPool,
    clock: Clock,
    every: std::time::Duration,
) {
    loop {
        tokio::time::sleep(every).await;
        if let Err(e) = sealer.seal(&pool, &clock, false, true).await {
            tracing::error!(error = %e, "audit sealing failed; the rows stay committed and a later run seals them");
        }
    }
}
